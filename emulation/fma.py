"""An exact float32 fused multiply-add in NumPy, which has none.

``fma(a, b, c)`` returns ``a*b + c`` rounded *once* to float32 (round-to-nearest-even), as the
``vfmadd`` instructions in torch's AVX2/AVX512 kernels and ``fmaf`` compute it.

Why not ``float32(float64(a)*b + c)``: that rounds twice (to float64, then to float32) and is
wrong whenever the first rounding lands exactly on a float32 tie.

The construction (round-to-odd, Boldo & Melquiond 2008):

1. ``p = a*b`` in float64 is exact: two 24-bit significands give at most 48 bits, and every
   product of float32 values (even subnormal ones, >= 2^-298) is a normal float64.
2. ``s = p + c`` in float64 and its exact error ``e`` by TwoSum (Knuth), so ``p + c = s + e``.
3. Round-to-odd: if ``e != 0`` and the last bit of ``s`` is 0, step ``s`` one ulp toward ``e``.
   Now ``s`` is ``p + c`` rounded to odd at 53 bits.
4. Theorem: rounding a round-to-odd value with p >= q + 2 bits to q bits by RNE equals rounding
   the exact value by RNE.  53 >= 24 + 2, so ``float32(s)`` is the correctly rounded FMA,
   subnormal and overflowing results included.

Non-finite inputs follow IEEE through float64 arithmetic (``inf*0 + c`` is NaN, etc.).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


def _f64(x: F32 | np.float32) -> npt.NDArray[np.float64]:
    x = np.asarray(x)
    if x.dtype != np.float32:
        raise TypeError(f"fma operands must be float32, got {x.dtype}")
    return x.astype(np.float64)


def fma(a: F32 | np.float32, b: F32 | np.float32, c: F32 | np.float32) -> F32:
    """``a*b + c`` with a single rounding to float32 (RNE)."""
    with np.errstate(invalid="ignore"):  # inf*0, inf-inf: NaN, as IEEE fma gives
        p = _f64(a) * _f64(b)  # exact
        c64 = _f64(c)
        s = p + c64
        # TwoSum: err = (p + c) - s exactly (valid for any ordering of magnitudes).
        bv = s - p
        err = (p - (s - bv)) + (c64 - bv)
        inexact_even = (err != 0) & np.isfinite(s) & ((s.view(np.int64) & 1) == 0)
    if np.any(inexact_even):
        # Step one ulp toward the exact value: away from zero when err has s's sign.
        toward = np.where(np.signbit(err) == np.signbit(s), 1, -1).astype(np.int64)
        s = np.where(inexact_even, (s.view(np.int64) + toward).view(np.float64), s)
    with np.errstate(over="ignore"):  # overflow to +-Inf is the correct RNE result
        return np.asarray(s, dtype=np.float64).astype(np.float32)
