"""bfloat16 at the bit level: widening, torch's rounding, ulp distances, exact printing.

A bf16 value is the top half of a float32::

    float32  s|eeeeeeee|mmmmmmm mmmmmmmmmmmmmmmm
    bf16     s|eeeeeeee|mmmmmmm                    (the low 16 bits dropped)

so widening bf16 -> float32 is a 16-bit shift and is exact, and every bf16 value is a float32
value.  Narrowing float32 -> bf16 is torch's round-to-nearest-even *bias trick*::

    lsb  = (u >> 16) & 1
    bf16 = (u + 0x7FFF + lsb) >> 16

Theorem (why the trick is RNE): adding 0x7FFF carries into bit 16 exactly when the low half is
> 0x8000, or == 0x8000 and lsb == 1 (ties go to the even neighbour).  A carry out of the
mantissa bumps the exponent, which is again the correctly rounded result, up to +Inf at the top.

NaN is the one input the trick would mangle, and torch replaces it with a fixed pattern that
depends on which code ran (c10 scalar code vs ATen's AVX2/AVX512 vector code):

* ``NAN_SCALAR = 0x7FC0``: torch/headeronly/util/BFloat16.h ``round_to_nearest_even`` (2.13)
* ``NAN_VECTOR = 0xFFFF``: ATen/cpu/vec/vec512/vec512_bfloat16.h ``cvtfp32_bf16`` (2.13),
  same constant in vec256_bfloat16.h
* ``NAN_CUDA = 0x7FFF``: ``__float2bfloat16`` (``cvt.rn.bf16.f32``) on sm_80+, as torch's CUDA
  kernels store bf16 (torch/headeronly/util/BFloat16.h @2.13); inferred, not yet run on a GPU

Subnormals are rounded like any other value (no flush to zero).
"""

from __future__ import annotations

from fractions import Fraction

import ml_dtypes
import numpy as np
import numpy.typing as npt

BF16 = np.dtype(ml_dtypes.bfloat16)
NAN_SCALAR = np.uint16(0x7FC0)
NAN_VECTOR = np.uint16(0xFFFF)
NAN_CUDA = np.uint16(0x7FFF)  # cvt.rn.bf16.f32 on sm_80+ (inferred from cuda_bf16.hpp's fallback; not run)

U16 = npt.NDArray[np.uint16]
F32 = npt.NDArray[np.float32]


def widen(bits: U16) -> F32:
    """bf16 bit patterns -> float32 values (exact: the bits become the high half)."""
    bits = np.asarray(bits)
    if bits.dtype != np.uint16:
        raise TypeError(f"expected uint16 bf16 bit patterns, got {bits.dtype}")
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def narrow(x: F32, nan_bits: int | U16 | None = NAN_SCALAR) -> U16:
    """float32 -> bf16 bit patterns by torch's bias trick (RNE); NaN -> ``nan_bits``.

    ``nan_bits`` may be an array (per-element: vector body vs scalar tail), or None to keep a
    NaN's own top 16 bits (exact for a NaN that came from a bf16 unchanged).

    Computed as ml_dtypes' float32 -> bfloat16 cast, which is the bias trick's result for every
    non-NaN float32 (all 2^32 patterns compared, 0 differ; tests/test_bits.py compares every tie
    neighbourhood of every bf16 value) in one C loop instead of seven NumPy passes; NaN, which
    the cast keeps as its own quiet NaN, is then replaced as torch replaces it.
    """
    x = np.asarray(x)
    if x.dtype != np.float32:
        raise TypeError(f"expected float32, got {x.dtype}")
    with np.errstate(invalid="ignore"):  # (casting a NaN: its pattern is replaced below)
        rounded = x.astype(BF16).view(np.uint16)
    nan = np.isnan(x)
    if not nan.any():
        return rounded
    if nan_bits is None:
        return np.where(nan, (x.view(np.uint32) >> np.uint32(16)).astype(np.uint16), rounded)
    return np.where(nan, np.asarray(nan_bits, dtype=np.uint16), rounded)


def round_to_bf16(x: F32, nan_bits: int | U16 = NAN_SCALAR) -> F32:
    """float32 -> nearest bf16 value, kept in a float32 array (``widen(narrow(x))``)."""
    return widen(narrow(x, nan_bits))


def f32(s: float) -> np.float32:
    """A host double as the kernel sees it after ``static_cast<float>``: RNE to float32 (a
    magnitude past FLT_MAX becomes ±Inf, as the x86 conversion does, silently)."""
    with np.errstate(over="ignore"):
        return np.float32(s)


def bf16_from_double(s: float) -> np.float32:
    """A host double as a bf16 kernel operand: torch (like ml_dtypes) goes double -> float
    -> bf16, two roundings (``c10::BFloat16(float)`` constructed from ``static_cast<float>``).
    Returned as the float32 value of that bf16."""
    with np.errstate(over="ignore"):
        return round_to_bf16(np.array([s], dtype=np.float32))[0]


def ordered(bits: U16) -> npt.NDArray[np.int32]:
    """Map bf16 bits to integers whose order is the numeric order (+0 and -0 both -> 0).

    Adjacent finite bf16 values map to adjacent integers, so a difference of two images is a
    signed distance in ulps.  (NaNs map somewhere beyond +/-Inf; callers mask them.)
    """
    b = np.asarray(bits).astype(np.int32)
    magnitude = b & 0x7FFF
    return np.where(b & 0x8000, -magnitude, magnitude)


def ordered_value(k: npt.NDArray[np.integer]) -> npt.NDArray[np.float64]:
    """The value (float64) of each :func:`ordered` integer (0 -> +0); NaN past +/-Inf."""
    mag = np.abs(k)
    u = (np.where(mag > 0x7F80, 0x7FC0, mag) | np.where(k < 0, 0x8000, 0)).astype(np.uint16)  # (a quiet NaN)
    return np.where(mag > 0x7F80, np.nan, widen(u).astype(np.float64))


def ulp_distance(a: U16, b: U16) -> npt.NDArray[np.int32]:
    """Signed ulp distance a - b between bf16 bit patterns (0 for +0 vs -0)."""
    return ordered(a) - ordered(b)


def bits_str(bits: int) -> str:
    """``s|eeeeeeee|mmmmmmm`` for one bf16 pattern."""
    b = int(bits) & 0xFFFF
    s = f"{b:016b}"
    return f"{s[0]}|{s[1:9]}|{s[9:]}"


def f32_bits_str(x: float) -> str:
    """``s|eeeeeeee|mmmmmmm mmmmmmmmmmmmmmmm`` for one float32 value (bf16 part first)."""
    u = int(np.array([x], dtype=np.float32).view(np.uint32)[0])
    s = f"{u:032b}"
    return f"{s[0]}|{s[1:9]}|{s[9:16]} {s[16:]}"


def exact_str(x: float) -> str:
    """Exact value of a binary float as ``m/2^k*2^e`` in lowest terms, e.g. ``127/64*2^6``.

    The significand is printed as a fraction in [1, 2) (or (0, 1) for subnormals' natural form
    is avoided: every finite nonzero value is written as odd/2^k * 2^e with the fraction in [1, 2)).
    """
    xf = float(x)
    if xf != xf:
        return "NaN"
    if xf in (float("inf"), float("-inf")):
        return "+Inf" if xf > 0 else "-Inf"
    if xf == 0.0:
        return "-0" if np.signbit(xf) else "0"
    sign = "-" if xf < 0 else ""
    fr = Fraction(abs(xf))
    e = fr.numerator.bit_length() - fr.denominator.bit_length()
    sig = fr / (Fraction(2) ** e)
    if sig < 1:
        e -= 1
        sig *= 2
    # sig in [1, 2) with a power-of-two denominator
    body = str(sig.numerator) if sig.denominator == 1 else f"{sig.numerator}/{sig.denominator}"
    return f"{sign}{body}*2^{e}"


def all_bf16_bits() -> U16:
    """Every one of the 65,536 bf16 bit patterns, in bit order."""
    return np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
