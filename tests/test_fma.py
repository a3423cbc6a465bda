"""The exact float32 FMA against an exact rational reference."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from emulation.fma import fma

F32_MAX = Fraction(2) ** 127 * (2 - Fraction(1, 2**23))


def round_to_f32(x: Fraction) -> float:
    """Correct RNE rounding of an exact rational to float32, subnormals and overflow included."""
    if x == 0:
        return 0.0
    sign = -1 if x < 0 else 1
    a = abs(x)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    e = max(e, -126)  # subnormal spacing below 2^-126
    q = a / Fraction(2) ** (e - 23)
    n, r = divmod(q.numerator, q.denominator)
    rem = Fraction(r, q.denominator)
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2):
        n += 1
    v = n * Fraction(2) ** (e - 23)
    # overflow: values at or beyond max + half ulp round to infinity
    if v > F32_MAX:
        return sign * float("inf")
    return sign * float(v)


def exact_fma(a: np.float32, b: np.float32, c: np.float32) -> np.float32:
    return np.float32(round_to_f32(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))))


def same_bits(x, y) -> bool:
    return np.asarray(x, np.float32).view(np.uint32) == np.asarray(y, np.float32).view(np.uint32)


finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=3000)
@given(finite_f32, finite_f32, finite_f32)
def test_fma_is_correctly_rounded(a, b, c):
    a, b, c = np.float32(a), np.float32(b), np.float32(c)
    want = exact_fma(a, b, c)
    got = fma(a, b, c)
    if want == 0 and got == 0:
        return  # sign of an exact zero: checked separately
    assert same_bits(got, want), (a, b, c, got, want)


@settings(max_examples=2000)
@given(finite_f32, finite_f32)
def test_fma_near_cancellation(a, b):
    """c = -round(a*b): the result is the product's rounding error, where double rounding bites."""
    a, b = np.float32(a), np.float32(b)
    with np.errstate(over="ignore"):
        c = np.float32(-(np.float64(a) * np.float64(b)))
    if not np.isfinite(c):
        return
    want = exact_fma(a, b, c)
    got = fma(a, b, c)
    if want == 0 and got == 0:
        return
    assert same_bits(got, want)


def test_double_rounding_case_is_fixed():
    """a*b + c = 1 + 2^-23 + 2^-24 - 2^-70: just below a float32 tie.  Rounding to double first
    drops the -2^-70 and lands on the tie, which then goes to the even neighbour (wrong)."""
    a = np.float32(2**-12 * (1 + 2**-23))
    b = np.float32(2**-12 * (1 - 2**-23))
    c = np.float32(1 + 2**-23)
    naive = np.float32(np.float64(a) * np.float64(b) + np.float64(c))
    want = exact_fma(a, b, c)
    assert want == np.float32(1 + 2**-23)
    assert not same_bits(naive, want)  # the trap is real
    assert same_bits(fma(a, b, c), want)


def test_special_values():
    inf, nan = np.float32(np.inf), np.float32(np.nan)
    assert np.isnan(fma(inf, np.float32(0), np.float32(1)))
    assert fma(inf, np.float32(2), np.float32(1)) == inf
    assert np.isnan(fma(inf, np.float32(1), -inf))
    assert np.isnan(fma(nan, np.float32(1), np.float32(1)))
    big = np.float32(3e38)
    assert fma(big, np.float32(2), -big) == np.float32(3e38)  # no intermediate overflow
    tiny = np.float32(2**-149)
    assert fma(tiny, np.float32(0.5), np.float32(0)) == 0  # tie to even at the subnormal bottom
    assert fma(tiny, np.float32(0.75), np.float32(0)) == tiny


def test_fma_rejects_other_dtypes():
    import pytest

    with pytest.raises(TypeError):
        fma(np.float64(1), np.float32(1), np.float32(1))
