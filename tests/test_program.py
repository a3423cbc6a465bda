"""The evaluator: float32 only, given-overrides, recorded intermediates, readable programs."""

from __future__ import annotations

import numpy as np
import pytest

from emulation import bits
from emulation.program import COMPUTED, Assign, Bf16, Program, S, T, add, evaluate, fold, mul, scalar_labels, substitute
from emulation.recipes import CATALOG, recipe
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


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_a_folded_program_gives_the_bits_of_the_whole_one(name):
    """``fold`` (identify's searches: what does not read the varied scalars is evaluated once) keeps
    every output bit for bit, on every recipe, with every pair of opened scalars varied, over all
    65,536 bf16 patterns (NaN, Inf, +-0, subnormals) and a scalar tail in W, a shuffled copy in each other input,
    folded twice on different arrays (the second from the cached plan)."""
    rcp = CATALOG[name]
    capability = "cuda" if rcp.device == "cuda" else "avx512"
    prog = rcp.build(Hyper(weight_decay=0.1, amsgrad=True), 3.0, capability)
    labels = sorted(scalar_labels(prog))
    opened = substitute(prog, {label: T(f"__{label}") for label in labels})
    rng = np.random.default_rng(0)
    every = np.concatenate([np.arange(1 << 16), rng.integers(0, 1 << 16, 37)]).astype(np.uint16)  # + a tail
    inputs = {k: bits.widen(every if k == "param" else rng.permutation(every)) for k in prog.inputs}
    where = rcp.positions(capability, every.size, 1)
    scalars = {f"__{label}": scalar_labels(prog)[label].kernel_value for label in labels}
    for pair in [labels[i : i + 2] for i in range(0, len(labels), 2)]:
        vary = [f"__{label}" for label in pair]
        fixed = {k: np.full(every.size, v, np.float32) for k, v in scalars.items() if k not in vary}
        first = None
        for trial in range(2):  # the kernel's values, then others, on other arrays (a cached plan)
            arrays = {k: np.roll(v, 5 * trial) for k, v in inputs.items()}
            folded, consts = fold(opened, {**arrays, **fixed}, where, vary, list(prog.outputs))
            assert len(folded.assigns) < len(opened.assigns) or len(prog.assigns) <= 3  # something was folded
            assert first is None or folded is first  # the same folded program (compiled once)
            first = folded
            x = {k: np.full(every.size, scalars[k] * np.float32(1 + 0.37 * trial), np.float32) for k in vary}
            whole = evaluate(opened, {**arrays, **fixed, **x}, where)
            part = evaluate(folded, {**consts, **x}, where)
            for out in prog.outputs.values():
                assert np.array_equal(whole[out].view(np.uint32), part[out].view(np.uint32)), (pair, out)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_a_cached_run_gives_the_bits_of_a_recorded_one(name):
    """``evaluate`` compiles a program once and caches it (no node names); ``record=True``
    compiles it apart, naming every node.  Both give every assignment bit for bit, on every
    recipe, over all 65,536 bf16 patterns and a scalar tail, run twice (the second from the cache)."""
    rcp = CATALOG[name]
    capability = "cuda" if rcp.device == "cuda" else "avx512"
    prog = rcp.build(Hyper(weight_decay=0.1, amsgrad=True), 3.0, capability)
    rng = np.random.default_rng(1)
    every = np.concatenate([np.arange(1 << 16), rng.integers(0, 1 << 16, 37)]).astype(np.uint16)
    inputs = {k: bits.widen(every if k == "param" else rng.permutation(every)) for k in prog.inputs}
    where = rcp.positions(capability, every.size, 1)
    recorded = evaluate(prog, inputs, where, record=True)
    for _ in range(2):
        cached = evaluate(prog, inputs, where)
        assert set(cached) == {a.target for a in prog.assigns} | set(prog.inputs)
        for a in prog.assigns:
            assert np.array_equal(cached[a.target].view(np.uint32), recorded[a.target].view(np.uint32)), a.target


def test_fold_keeps_an_output_that_is_an_input_and_reads_no_varied_name():
    """An output that is an input tensor itself (no assignment) comes back as a constant of the
    folded program, from the arrays of this call (a cached plan reads it again each time)."""
    assigns = (Assign("y", Bf16(mul(T("b"), T("__x"))), ""),)
    program = Program("t", "test", ("a", "b", "__x"), assigns, {"param": "y", "exp_avg": "a"})
    for value in (1.0, 2.0):
        arrays = {"a": np.full(3, value, np.float32), "b": np.ones(3, np.float32)}
        folded, consts = fold(program, arrays, None, ["__x"], ["param", "exp_avg"])
        assert folded.inputs == ("__fold0", "a", "__x") and (consts["a"] == value).all()
