"""bf16 bit-level helpers: rounding, NaN patterns, ulp distances, exact printing."""

from __future__ import annotations

import ml_dtypes
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from emulation import bits


def _f32_patterns() -> np.ndarray:
    """Every bf16 pattern with each interesting low half: exact, just below/at/above a tie."""
    high = bits.all_bf16_bits().astype(np.uint32) << 16
    lows = np.array([0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x4000, 0xC000], dtype=np.uint32)
    return (high[:, None] | lows[None, :]).reshape(-1).view(np.float32)


def test_widen_is_exact_and_matches_ml_dtypes():
    b = bits.all_bf16_bits()
    ours = bits.widen(b)
    ref = b.view(ml_dtypes.bfloat16).astype(np.float32)
    assert np.array_equal(ours.view(np.uint32), ref.view(np.uint32))


def test_narrow_is_torch_s_bias_trick_on_every_tie_neighbourhood():
    """torch's rounding, written out as c10 does (``(u + 0x7FFF + lsb) >> 16``), against
    ``narrow`` (ml_dtypes' cast underneath) on every bf16 value's exact, tie and near-tie low
    halves; NaN gets torch's fixed pattern, not the cast's."""
    x = _f32_patterns()
    u = x.view(np.uint32)
    torch_rne = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
    ours = bits.narrow(x)
    finite = ~np.isnan(x)
    assert np.array_equal(ours[finite], torch_rne[finite])
    assert (ours[~finite] == bits.NAN_SCALAR).all() and (~finite).sum() > 0
    assert np.array_equal(bits.narrow(x[finite]), torch_rne[finite])  # (no NaN: the cast alone)


def test_ties_go_to_even():
    # 1 + 2^-8 is halfway between 1 and 1 + 2^-7: even neighbour is 1.0 (0x3F80)
    assert bits.narrow(np.array([1 + 2**-8], np.float32))[0] == 0x3F80
    # 1 + 3*2^-8 is halfway between 1+2^-7 (odd, 0x3F81) and 1+2^-6 (even, 0x3F82)
    assert bits.narrow(np.array([1 + 3 * 2**-8], np.float32))[0] == 0x3F82


def test_nan_patterns_and_overflow():
    x = np.array([np.nan, -np.nan, np.inf, np.float32(3.4e38)], np.float32)
    assert list(bits.narrow(x)) == [0x7FC0, 0x7FC0, 0x7F80, 0x7F80]
    assert list(bits.narrow(x, bits.NAN_VECTOR)[:2]) == [0xFFFF, 0xFFFF]
    per_element = np.array([0x7FC0, 0xFFFF], np.uint16)
    assert list(bits.narrow(np.array([np.nan, np.nan], np.float32), per_element)) == [0x7FC0, 0xFFFF]


def test_subnormals_are_rounded_not_flushed():
    tiny = np.array([2.0**-133, 2.0**-134 * 3], np.float32)  # bf16 subnormal range
    out = bits.narrow(tiny)
    assert out[0] == 0x0001 and out[1] != 0


def test_double_to_bf16_goes_through_float32_as_torch_does():
    """A host double reaches a bf16 operand through float32 in torch (two roundings).  Doubles
    just either side of every positive finite bf16 tie, within float32's half-ulp of it: direct
    rounding would leave the tie, double rounding lands on it and goes to even.  The emulator's
    bits equal live torch's on each.  ml_dtypes 0.7 rounds a double directly (0.5.4 and 0.6.0 go
    through float32, checked): the emulator never lets ml_dtypes convert a double."""
    import torch

    finite = bits.all_bf16_bits()[:0x7F7F].astype(np.uint32)  # +0 .. the largest finite below max
    ties = ((finite << 16) | 0x8000).view(np.float32).astype(np.float64)
    doubles = np.concatenate([ties * (1 + 2.0**-30), ties * (1 - 2.0**-30)])
    emulated = np.array([bits.narrow(bits.bf16_from_double(float(s))[None])[0] for s in doubles])
    live = torch.tensor(doubles.tolist(), dtype=torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(emulated, live)
    s = 1 + 2**-8 + 2**-30
    assert bits.bf16_from_double(s) == np.float32(1.0)
    direct = ml_dtypes.bfloat16(s) == ml_dtypes.bfloat16(1 + 2**-7)
    assert direct == (tuple(int(x) for x in ml_dtypes.__version__.split(".")[:2]) >= (0, 7))


def test_ulp_distance_is_signed_and_zero_for_signed_zeros():
    assert bits.ulp_distance(np.uint16(0x3F81), np.uint16(0x3F80)) == 1
    assert bits.ulp_distance(np.uint16(0x0000), np.uint16(0x8000)) == 0
    assert bits.ulp_distance(np.uint16(0x0001), np.uint16(0x8001)) == 2
    assert bits.ulp_distance(np.uint16(0xBF80), np.uint16(0x3F80)) == -2 * 0x3F80


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))
def test_ulp_distance_agrees_with_order(a, b):
    fa, fb = bits.widen(np.array([a, b], np.uint16))
    if np.isnan(fa) or np.isnan(fb):
        return
    d = int(bits.ulp_distance(np.uint16(a), np.uint16(b)))
    assert (d > 0) == (fa > fb) and (d < 0) == (fa < fb)


def test_exact_printing():
    assert bits.exact_str(254.0) == "127/64*2^7"
    assert bits.exact_str(1.0) == "1*2^0"
    assert bits.exact_str(-0.75) == "-3/2*2^-1"
    assert bits.exact_str(2.0**-133) == "1*2^-133"
    assert bits.exact_str(float("nan")) == "NaN" and bits.exact_str(-0.0) == "-0"
    assert bits.bits_str(0x3F80) == "0|01111111|0000000"


def test_ordered_value_inverts_ordered_on_every_bf16_pattern():
    """Every non-NaN bf16 pattern back to its value through its ordered integer (-0 -> +0)."""
    b = bits.all_bf16_bits()
    with np.errstate(invalid="ignore"):  # (signalling NaN patterns)
        x = bits.widen(b).astype(np.float64)
    back = bits.ordered_value(bits.ordered(b).astype(np.int64))
    keep = ~np.isnan(x)
    assert np.array_equal(back[keep], x[keep] + 0.0) and np.isnan(back[~keep]).all()
