"""Textbook AdamW in float64 (Loshchilov & Hutter; torch's docs), for comparison only.

    p_t = p_{t-1} * (1 - lr*wd)
    m_t = b1 m_{t-1} + (1 - b1) g_t          v_t = b2 v_{t-1} + (1 - b2) g_t^2
    p_t = p_t - lr * (m_t / (1 - b1^t)) / (sqrt(v_t / (1 - b2^t)) + eps)

No rounding anywhere but float64's: this is what the bf16 paths approximate, not what they do.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from emulation.recipes.common import Hyper

F64 = npt.NDArray[np.float64]


def adamw_step(p: F64, g: F64, m: F64, v: F64, h: Hyper, step: float) -> tuple[F64, F64, F64]:
    """One AdamW step at step count ``step`` (>= 1); returns new (p, m, v)."""
    p, g, m, v = (np.asarray(x, dtype=np.float64) for x in (p, g, m, v))
    p = p * (1.0 - h.lr * h.weight_decay)
    m = h.beta1 * m + (1.0 - h.beta1) * g
    v = h.beta2 * v + (1.0 - h.beta2) * g * g
    m_hat = m / (1.0 - h.beta1**step)
    v_hat = v / (1.0 - h.beta2**step)
    with np.errstate(all="ignore"):
        p = p - h.lr * m_hat / (np.sqrt(v_hat) + h.eps)
    return p, m, v
