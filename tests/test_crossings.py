"""identify's per-element search (``element_intervals``): the secant-guided search against plain
bisection, on a program with no float32 flicker and on the recipes' own W update."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import emulation.program
from adamw_audit import identify as I
from emulation import bits
from emulation.program import Assign, Bf16, Program, T, evaluate, mul, sub, substitute
from emulation.recipes import recipe
from emulation.recipes.common import Hyper
from emulation.replay import to_bits

LO, HI = 1e-30, 1e2


def bisection(program, inputs, where, output, target, bind, lo, hi):
    """The reference: each end of each element's interval by plain bisection over float32 bit
    patterns, the first x (in [a0, b0), else b0) where ``s * (out - r) >= 0`` (low end) or
    ``> 0`` (one past the high end); flat and unreachable elements as element_intervals gives."""
    n = target.size
    r = bits.ordered(target).astype(np.int64)
    name = program.outputs[output]

    def out(x: np.ndarray) -> np.ndarray:
        env = evaluate(program, {**inputs, **bind(I._int_f32(x))}, where)
        return bits.ordered(to_bits(env[name])).astype(np.int64)

    a0, b0 = np.full(n, I._f32_int(lo), np.int64), np.full(n, I._f32_int(hi), np.int64)
    o_lo, o_hi = out(a0), out(b0)
    flat = o_lo == o_hi
    s = np.where(flat, 1, np.sign(o_hi - o_lo))
    above, below = np.minimum(o_lo, o_hi) > r, np.maximum(o_lo, o_hi) < r
    side = np.where(above, 1, np.where(below, -1, 0)) + np.where(flat & ~above & ~below & (o_lo != r), 1, 0)
    ends = []
    for strict in (False, True):
        a, b = a0.copy(), b0.copy()
        while np.any(a < b):
            mid = (a + b) // 2
            d = s * (out(mid) - r)
            cond = d > 0 if strict else d >= 0
            a, b = np.where(cond, a, mid + 1), np.where(cond, mid, b)
        ends.append(a)
    lows, highs = ends[0], ends[1] - 1
    highs = np.where(s * (o_hi - r) <= 0, b0, highs)
    lows, highs = np.where(flat, a0, lows), np.where(flat, b0, highs)
    return np.where(side != 0, b0 + 1, lows), np.where(side != 0, a0 - 1, highs), side


def adversarial_state(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """bf16 W and m (as float32) of every magnitude, with +-0, subnormals, +-Inf and NaN."""
    w = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 4, n)
    m = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 2, n)
    special = np.array([0.0, -0.0, 1e-40, -1e-40, np.inf, -np.inf, np.nan, 3e38])
    w[: special.size], m[special.size : 2 * special.size] = special, special
    return {k: bits.round_to_bf16(v.astype(np.float32)) for k, v in (("param", w), ("exp_avg", m))}


def test_on_a_flicker_free_program_every_end_is_bisection_s_at_a_fraction_of_its_work(monkeypatch):
    """``p_new = bf16(param - c*exp_avg)``: each op is monotone in c (one rounding each), so each
    element's test has one crossing and any search must land on it: the secant-guided search
    gives bisection's ends bit for bit on every element (targets reached by some c, unreachable
    ones, flat ones, NaN/Inf/0/subnormal inputs), evaluating under 40% of the elements bisection
    does (31 evaluations of every element per end; measured: 24%)."""
    rng = np.random.default_rng(5)
    n = 4096
    state = adversarial_state(rng, n)
    program = Program("affine", "test", ("param", "exp_avg", "__c"),
                      (Assign("p_new", Bf16(sub(T("param"), mul(T("__c"), T("exp_avg")))), ""),),
                      {"param": "p_new"})  # fmt: skip
    c_true = (10.0 ** rng.uniform(-6, -1, n)).astype(np.float32)
    target = to_bits(evaluate(program, {**state, "__c": c_true})["p_new"])
    moved = rng.random(n) < 0.1  # a tenth of the targets one ulp off: some unreachable
    target = np.where(moved, target + np.uint16(1), target).astype(np.uint16)
    bind = lambda x: {"__c": x}  # noqa: E731

    def counted(program, inputs, *rest):
        evaluated.append(max(np.size(v) for v in inputs.values()))
        return emulation.program.evaluate(program, inputs, *rest)

    evaluated: list[int] = []
    monkeypatch.setattr(sys.modules[__name__], "evaluate", counted)
    want = bisection(program, state, {}, "param", target, bind, LO, HI)
    by_bisection, evaluated = sum(evaluated), []
    monkeypatch.setattr(I, "evaluate", counted)
    got = I.element_intervals(program, state, {}, "param", target, bind, LO, HI)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)
    assert (got[2] == 0).sum() > n // 2 and (got[2] != 0).any()  # both kinds were searched
    assert sum(evaluated) < 0.4 * by_bisection


def recipe_state(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    grads = bits.round_to_bf16((rng.standard_normal(n) * 1e-2).astype(np.float32))
    v = grads.astype(np.float64) ** 2 * rng.uniform(0.5, 3, n)
    return {**adversarial_state(rng, n), "grad": grads, "exp_avg_sq": bits.round_to_bf16(v.astype(np.float32))}


@pytest.mark.parametrize("impl", ["forloop", "foreach", "fused"])
def test_on_a_recipe_s_w_update_every_end_is_bisection_s(impl):
    """The step size opened in torch 2.13's W update (``_open_step``, eps 1e-8, no decay), the
    targets a step at a random step size per element: W's update is monotone in the step size
    op by op (a product, a quotient by a positive denominator, a sum, each rounded once), so
    the secant-guided ends are bisection's on every element."""
    rng = np.random.default_rng(7)
    n = 2048
    rcp = recipe(f"torch-2.7-2.14-cpu-{impl}")
    _, opened, conv_eps, conv_decay = I._open_step(rcp, Hyper(), 5.0, "avx512")
    state = recipe_state(rng, n)
    fixed = {"__e": conv_eps(np.full(n, 1e-8, np.float32)), "__d": conv_decay(np.full(n, 1.0, np.float32))}
    bind = lambda x: {**fixed, "__c": x}  # noqa: E731
    where = rcp.positions("avx512", n, 1)
    c_true = (10.0 ** rng.uniform(-5, -1, n)).astype(np.float32)
    target = to_bits(evaluate(opened, {**state, **bind(c_true)}, where)[opened.outputs["param"]])
    want = bisection(opened, state, where, "param", target, bind, LO, HI)
    got = I.element_intervals(opened, state, where, "param", target, bind, LO, HI)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)
    assert (got[2] == 0).sum() > n // 2


def test_where_float32_rounding_flickers_each_end_is_a_crossing():
    """CUDA fused's momentum ``fma(b, m, fma(-b, g, g))`` is not monotone in b pattern by
    pattern (two roundings that move opposite ways): near a crossing the output flickers, and the
    search may land on another flicker than bisection.  What every end must be still holds: the
    output is the target at low and at high, short of it at low - 1, past it at high + 1."""
    rng = np.random.default_rng(3)
    n = 4096
    opened = substitute(recipe("fused", "cuda").build(Hyper(), 1.0, "cuda"), {"beta1": T("__b")})
    state = recipe_state(rng, n)
    bind = lambda x: {"__b": x}  # noqa: E731
    hi = 0.99999994
    name = opened.outputs["exp_avg"]
    out = lambda x: bits.ordered(to_bits(evaluate(opened, {**state, "__b": x})[name])).astype(np.int64)  # noqa: E731
    target = to_bits(evaluate(opened, {**state, "__b": rng.uniform(0.5, 0.99, n).astype(np.float32)})[name])
    lows, highs, side = I.element_intervals(opened, state, {}, "exp_avg", target, bind, LO, hi)
    r = bits.ordered(target).astype(np.int64)
    s = np.sign(out(np.full(n, np.float32(hi))) - out(np.full(n, np.float32(LO))))
    inner = (side == 0) & (s != 0) & (lows <= highs)
    assert inner.sum() > n // 2
    x = I._int_f32
    np.testing.assert_array_equal(out(x(lows))[inner], r[inner])
    np.testing.assert_array_equal(out(x(highs))[inner], r[inner])
    low_in, high_in = inner & (lows > I._f32_int(LO)), inner & (highs < I._f32_int(hi))
    assert (s * (out(x(lows - 1)) - r) < 0)[low_in].all()
    assert (s * (out(x(highs + 1)) - r) > 0)[high_in].all()


def test_a_search_variable_read_through_a_rounding_still_settles():
    """An output that is not one bf16 rounding of something smooth in x (here eps, read as bf16
    and added to a bf16 denominator: steps) gives the secant nothing to trust; the search falls
    back to bisection and its ends are bisection's."""
    rng = np.random.default_rng(11)
    n = 512
    rcp = recipe("torch-2.7-2.14-cpu-forloop")
    _, opened, conv_eps, conv_decay = I._open_step(rcp, Hyper(), 3.0, "avx512")
    state = recipe_state(rng, n)
    fixed = {"__c": np.full(n, 1e-3, np.float32), "__d": conv_decay(np.full(n, 1.0, np.float32))}
    bind = lambda x: {**fixed, "__e": conv_eps(x)}  # noqa: E731
    where = rcp.positions("avx512", n, 1)
    target = to_bits(evaluate(opened, {**state, **bind(np.full(n, 3e-4, np.float32))}, where)[opened.outputs["param"]])
    want = bisection(opened, state, where, "param", target, bind, LO, 1.0)
    got = I.element_intervals(opened, state, where, "param", target, bind, LO, 1.0)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(g, w)
