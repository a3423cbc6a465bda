"""CUDA's device ``powf`` (libdevice ``__nv_powf``, no flush-to-zero), step by step in NumPy.

torch's fused CUDA Adam/AdamW computes its bias corrections on the GPU:
``1 - at::native::pow_(beta, step)`` with float arguments (fused_adam_utils.cuh, 2.11+), i.e.
``powf`` from libdevice.  That ``powf`` is not the C library's: on an H100 it differs from glibc's
``powf`` at 0.6% of the step counts 1..2^20 for beta2 = 0.999 (scripts/cuda_powf_probe.py,
tests/fixtures/cuda/powf-probe-torch-2.11.0-sm_90.json).  A 1-ulp difference in a bias
correction moves a bf16 output only now and then, so a recipe built on the host's ``powf`` is
wrong rarely - but not never.

The algorithm below is read from libdevice.10.bc (CUDA 13, the ``nvidia-nvvm`` wheel), the
non-FTZ branches, op for op; every ``fma`` is one rounding (emulation/fma.py), every other op is
an IEEE float32 op.  Two steps are hardware-defined rather than IEEE:

* ``rcp.approx.ftz.f32`` (the reciprocal of ``s = m + 1``, m the reduced mantissa): on an H100
  (sm_90) it is the correctly rounded ``1/s`` on 87% of float32 inputs in [1, 4) and one ulp off
  on the rest.  The result depends on it in rare cases only (0 of 13.6M step counts of common
  betas, 62 of 52M of random ones), but the port is exact only with the hardware's values, so
  they are tabulated: emulation/data/rcp_approx_sm90.npz holds, for every float32 ``s`` in
  [1.6875, 2.4375) (all that ``m + 1`` can be), the offset -1/0/+1 ulp from ``1/s`` in 2 bits
  (measured by scripts/cuda_powf_probe.py --make-rcp-table on the GPU; other architectures may
  differ);
* ``cvt.rni`` (``llvm.nvvm.round.f``) - round half to even.

The claim that this reproduces the device is measured, not read: scripts/cuda_powf_probe.py
compares it with ``torch.pow`` on float32 CUDA tensors (the same ``pow_`` overload) on every
step count 1..2^20 for common betas and on random (a, b) pairs.

    log2|a| as a double-float:  |a| = m * 2^e, m in [sqrt(1/2), sqrt(2)),
        u = 2(m-1)/(m+1),  log2 m = (u + u^3/12 + ...) / ln 2  (odd series in u, u^2 <= 0.03)
    b * log2|a| as a double-float (fast two-product), then
    2^(k + f) = 2^k * (1 + f ln2 + ...),  k = rint(b log2|a|), |f| <= 1/2, scaled in two steps
    (so 2^k may be subnormal or 2^127 without overflowing the scale factor).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .fma import fma

F32 = npt.NDArray[np.float32]
f32 = np.float32

RCP_TABLE = Path(__file__).parent / "data" / "rcp_approx_sm90.npz"
RCP_RANGE = (1.6875, 2.4375)
"""float32 inputs of rcp.approx that the table covers: ``m + 1`` for m in [sqrt(1/2), sqrt(2))."""


@cache
def _rcp_codes() -> npt.NDArray[np.uint8]:
    """The tabulated offsets, 4 per byte (2 bits each: 0, 1, 2 = -1, 0, +1 ulp from ``1/s``)."""
    with np.load(RCP_TABLE) as z:
        if int(z["first_bits"]) != int(np.float32(RCP_RANGE[0]).view(np.uint32)):
            raise ValueError(f"{RCP_TABLE}: table starts elsewhere than {RCP_RANGE[0]}")
        return np.asarray(z["codes"], dtype=np.uint8)


def rcp_approx(s: F32) -> F32:
    """``rcp.approx.ftz.f32`` of sm_90 for ``s`` in RCP_RANGE: ``1/s`` rounded to nearest, then
    the measured offset of -1, 0 or +1 ulp (``1/s`` is positive and normal here, so an ulp step
    is an integer step of its bit pattern)."""
    s = np.asarray(s, dtype=np.float32)
    if np.any((s < f32(RCP_RANGE[0])) | (s >= f32(RCP_RANGE[1]))):
        raise ValueError("rcp_approx: input outside the tabulated range")
    index = s.view(np.uint32) - np.float32(RCP_RANGE[0]).view(np.uint32)
    codes = _rcp_codes()
    offset = ((codes[index >> 2] >> ((index & 3) * 2).astype(np.uint8)) & 3).astype(np.int32) - 1
    return ((f32(1) / s).view(np.int32) + offset).view(np.float32)


def _bits(x: F32) -> npt.NDArray[np.int32]:
    return np.asarray(x, dtype=np.float32).view(np.int32)


def _float(i: npt.NDArray[np.int32]) -> F32:
    return np.asarray(i, dtype=np.int32).view(np.float32)


def _log2_double_float(x: F32) -> tuple[F32, F32]:
    """``log2(x)`` for finite ``x > 0`` as ``hi + lo`` (libdevice ``__internal_log2_ep``)."""
    subnormal = x < f32(2.0**-126)
    x = np.where(subnormal, x * f32(2.0**24), x).astype(np.float32)
    expo = np.where(subnormal, f32(-24.0), f32(0.0)).astype(np.float32)
    # e: the exponent field, re-centred so that the mantissa m lands in [0.7071, 1.4142)
    e = (_bits(x) - np.int32(0x3F3504F3)) & np.int32(-8388608)  # 0xFF800000: sign and exponent
    m = _float(_bits(x) - e)
    t = fma(e.astype(np.float32), f32(2.0**-23), expo)  # the exponent as a float
    d = m - f32(1)  # exact (Sterbenz)
    rcp = rcp_approx(m + f32(1))  # the one hardware-approximate step (module docstring)
    two_d = f32(2) * d
    u = two_d * rcp  # u ~ 2(m-1)/(m+1)
    u2 = u * u
    # u_lo: the error of u, from the residual 2(m-1) - u(m+1) = 2(d-u) - u*d
    u_lo = rcp * fma(-u, d, f32(2) * (d - u))
    p = fma(f32(6.568862590938807e-4), u2, f32(3.2181653659790754e-3))
    p = fma(p, u2, f32(1.8033718690276146e-2))
    p = fma(p, u2, f32(1.2022458761930466e-1))
    p3 = p * u2  # the series beyond its first term, in units of u
    log2e_hi, log2e_lo = f32(1.4426950216293335), f32(1.925136672298322e-8)
    hi = fma(u, log2e_hi, t)  # fast two-sum of t + u*log2(e)
    lo = fma(u, log2e_hi, t - hi)
    r = fma(u_lo, log2e_hi, lo)
    r = fma(u, log2e_lo, r)
    r = fma(f32(3) * p3, u_lo, r)
    r = fma(p3, u, r)
    s_hi = hi + r
    s_lo = r - (s_hi - hi)
    return s_hi.astype(np.float32), s_lo.astype(np.float32)


def _exp2(ph: F32, pl: F32) -> F32:
    """``2^(ph + pl)`` (libdevice ``__internal_powf_exp2``), 0 or +Inf past |ph| > 152."""
    k = np.rint(ph).astype(np.float32)  # cvt.rni: half to even
    f = (ph - k) + pl
    q = fma(f32(1.5239251661114395e-4), f, f32(1.3391353422775865e-3))
    q = fma(q, f, f32(9.618839249014854e-3))
    q = fma(q, f, f32(5.5503588169813156e-2))
    q = fma(q, f, f32(2.4022644758224487e-1))
    q = fma(q, f, f32(6.931471824645996e-1))
    q = fma(q, f, f32(1.0))
    with np.errstate(invalid="ignore", over="ignore"):
        ki = np.where(np.isfinite(k), k, 0).astype(np.int64).astype(np.int32)  # f2i.rz
    # 2^k in two factors: 2^127 * 2^(k-127) when k > 0, else 2^-123 * 2^(k+123)
    positive = k > 0
    shift = np.where(positive, np.int32(0), np.int32(-2097152000))  # 0x83000000
    first = _float(np.int32(0x7F000000) + shift)
    second = _float((ki.astype(np.int64) << 23).astype(np.int64).astype(np.int32) - shift)
    with np.errstate(over="ignore", under="ignore"):
        out = (q * first).astype(np.float32) * second
    big = np.abs(ph) > f32(152)
    return np.where(big, np.where(ph < 0, f32(0), f32(np.inf)), out).astype(np.float32)


def powf(a: F32 | float, b: F32 | float) -> F32:
    """libdevice ``powf(a, b)`` elementwise (float32 in, float32 out), special cases included."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    a, b = np.broadcast_arrays(a, b)
    with np.errstate(all="ignore"):
        b_odd_int = np.abs(b - f32(2) * np.trunc(f32(0.5) * b)) == f32(1)
        absa = np.abs(a)
        safe = np.where(np.isfinite(absa) & (absa > 0), absa, f32(1)).astype(np.float32)
        s_hi, s_lo = _log2_double_float(safe)
        ph = s_hi * b  # fast two-product: ph + pl = (s_hi + s_lo) * b
        pl = fma(s_lo, b, fma(s_hi, b, -ph))
        t = _exp2(np.where(np.isfinite(ph), ph, np.where(ph > 0, f32(1e4), f32(-1e4))).astype(np.float32), pl)
        t = np.where(np.isnan(ph), f32(np.nan), t).astype(np.float32)
        # a == 0 or |a| == Inf: the sign and Inf/0 come from bit arithmetic on a + a
        zi = _bits(a + a)
        zi = np.where(b < 0, zi ^ np.int32(0x7F800000), zi)
        zi = np.where(b_odd_int, zi, zi & np.int32(0x7FFFFFFF))
        negative = np.where(b_odd_int, -t, t).astype(np.float32)
        negative = np.where(b != np.floor(b), _float(np.full_like(zi, 0x7FFFFFFF)), negative)
        out = np.where(a < 0, negative, t)
        out = np.where((a == -1) & np.isinf(b), f32(1), out)
        out = np.where((a == 0) | np.isinf(a), _float(zi), out)
        out = np.where(np.isnan(a) | np.isnan(b), a + b, out)
        out = np.where((a == 1) | (b == 0), f32(1), out)
    # the GPU's float arithmetic makes every NaN the canonical 0x7FFFFFFF (measured: all 3,237
    # NaN results of the golden sample), where x86's keeps an operand's payload
    canonical = _float(np.full(out.shape, 0x7FFFFFFF, dtype=np.int32))
    return np.where(np.isnan(out), canonical, out).astype(np.float32)
