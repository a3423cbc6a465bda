"""The seed notebook's reconstruction (../shared/seed, notebook 1.31j, cell In[3]), as a program.

    m_hat  = m[t] / (1 - BETA1**t)
    v_hat  = v[t] / (1 - BETA2**t)
    update = -LEARNING_RATE * m_hat / (torch.sqrt(v_hat) + EPS)
    W_pred = W[t-1] + update

Seven torch ops on bf16 tensors, each rounding to bf16 (kernels: cpu_ops.py).  ``t`` is the
*array index*, used as the bias-correction exponent; in the seed's recording order index t holds
the state after step t+1, so the notebook is one step behind.  Python evaluates
``-LEARNING_RATE * m_hat / (...)`` left to right: ``(-lr * m_hat)`` first, then the division.

Inputs: ``param`` = W[t-1], ``exp_avg`` = m[t], ``exp_avg_sq`` = v[t] (recorded, not replayed).
"""

from __future__ import annotations

from ..program import Assign, Program, S, T
from . import cpu_ops as op
from .common import Hyper, cpu_kernel

SOURCE = "../shared/seed/000_eb5c714ca162e9b7.txt (notebook 1.31j, In[3]); torch 2.13.0 CPU kernels (cpu_ops.py)"


def program(h: Hyper, step: float, capability: str = "avx512") -> Program:
    """The notebook's prediction of W[t]; ``step`` is the exponent it uses (its index t)."""
    k = cpu_kernel(capability)
    t = step
    assigns = (
        Assign("m_hat", op.div_scalar(k, T("exp_avg"), S("1-BETA1**t", 1 - h.beta1**t)), "m[t] / (1 - BETA1**t)"),
        Assign("v_hat", op.div_scalar(k, T("exp_avg_sq"), S("1-BETA2**t", 1 - h.beta2**t)), "v[t] / (1 - BETA2**t)"),
        Assign("v_hat_sqrt", op.sqrt_(k, T("v_hat")), "torch.sqrt(v_hat)"),
        Assign("denom", op.add_scalar(k, T("v_hat_sqrt"), S("EPS", h.eps, "bf16")), "torch.sqrt(v_hat) + EPS"),
        Assign("numer", op.mul_scalar(k, T("m_hat"), S("-LEARNING_RATE", -h.lr)), "-LEARNING_RATE * m_hat"),
        Assign("update", op.div_tensor(k, T("numer"), T("denom")), "(...) / (torch.sqrt(v_hat) + EPS)"),
        Assign("p_new", op.add_tensor(k, T("param"), T("update")), "W[t-1] + update"),
    )
    return Program(
        name="seed-notebook",
        source=SOURCE,
        inputs=("param", "exp_avg", "exp_avg_sq"),
        assigns=assigns,
        outputs={"param": "p_new"},
    )
