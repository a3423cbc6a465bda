"""The evaluator: float32 only, given-overrides, recorded intermediates, readable programs."""

from __future__ import annotations

import numpy as np
import pytest

from emulation import bits
from emulation.program import COMPUTED, Assign, Bf16, Program, S, T, add, evaluate, mul
from emulation.recipes import recipe
from emulation.recipes.common import Hyper


def _prog() -> Program:
    return Program(
        "toy",
        "test",
        ("x",),
        (Assign("y", Bf16(mul(T("x"), S("s", 0.1))), "x*s"), Assign("z", Bf16(add(T("y"), T("x"))), "y+x")),
        {"out": "z"},
    )


def test_rejects_silent_promotion():
    with pytest.raises(TypeError):
        evaluate(_prog(), {"x": np.ones(3, np.float64)})


def test_given_overrides_downstream_and_keeps_computed():
    x = np.array([1.0, 2.0], np.float32)
    env = evaluate(_prog(), {"x": x}, given={"y": np.array([5.0, 5.0], np.float32)})
    assert list(env["z"]) == [6.0, 7.0]
    assert env[COMPUTED + "y"].tolist() == bits.round_to_bf16(x * np.float32(0.1)).tolist()


def test_record_keeps_every_intermediate():
    env = evaluate(_prog(), {"x": np.array([3.0], np.float32)}, record=True)
    assert "y.0" in env and "y.0.1" in env  # the unrounded product and the scalar


def test_scalar_conveyance():
    assert S("eps", 1e-8, "bf16").kernel_value == bits.bf16_from_double(1e-8)
    assert S("eps", 1e-8).kernel_value == np.float32(1e-8)
    assert S("eps", 1e-8, "bf16").kernel_value != np.float32(1e-8)


def test_forloop_program_reads_like_torch():
    text = str(recipe("forloop").build(Hyper(weight_decay=0.1), 3.0, "avx512"))
    for call in ("param.mul_", "exp_avg.lerp_", "exp_avg_sq.mul_", ".addcmul_", "sqrt", ".add_(eps)", "addcdiv_"):
        assert call in text
    assert "fma(" in text and "bf16(eps)" in text
    assert "fma(" not in str(recipe("forloop").build(Hyper(), 3.0, "default"))
    assert "param.mul_" not in str(recipe("forloop").build(Hyper(), 3.0, "avx512"))  # wd == 0: no call
