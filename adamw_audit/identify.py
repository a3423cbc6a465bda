"""Identify where a recording came from, from its bits alone.

Every hyper-parameter reaches a kernel as a float32 (or bf16) scalar, and each element's stored
result is a monotone function of that scalar (a lerp weight, a decay factor, a step size...).  So
for one scalar the values consistent with one element form an interval, found by a search over
the float32 bit patterns (secant-guided, then bisection: :class:`_Crossings`), and the values
consistent with a whole recording are the intersection.
The search runs the recipes themselves with one scalar opened up (:func:`emulation.program.
substitute`): no second implementation of any path.

Order (each stage uses what the one before fixed):

1. beta1 from m:  ``m[t] = lerp(m[t-1], g[t], f32(1 - beta1))``  (every path but CUDA fused,
   whose ``m = fma(b1, m, fma(-b1, g, g))`` reads one float32 beta1: searched alone, with its
   beta2 likewise, when no lerp reproduces m; :func:`infer_beta_fused_cuda`)
2. beta2 from v:  the path's ``v`` program, parametrised by ``c = f32(1 - beta2)``; a path whose
   interval is empty is ruled out (this separates foreach's bf16 ``beta2`` and fused's contraction).
   CUDA's for-loop and foreach store the CPU's m and v: their search runs beside the CPU one,
   stage by stage, where the CPU's probes find no lead (:func:`_first_search`)
3. per step and per step-count offset: the step size ``f32(lr / (1 - beta1^step))`` from W, then
   eps and the weight-decay factor; lr's interval is the step size's times ``1 - beta1^step``
   (:func:`bias_correction1`: a double on the host, CUDA fused's float32 on the device).
   Offsets 1..5 first; when none fits, a window recorded late in a run: every count up to
   SCAN_LIMIT at once (:func:`scan_step_counts`; eps bisected per count too when no guess is
   eps), or the counts where the per-step fits agree on one lr, or on one weight decay
   (:func:`_counts_from_fits`).  The searches run cheapest first (PHASES):
   eps one of EPS_GUESSES; eps anywhere (solved with lr); a visible decay (solved with lr); both
   (eps bisected around that); an lr per step.  Values solved together trade off: their
   intervals are widened along the ridge of values that replay (:func:`_along_ridges`)
4. a full replay of every file element with the values found, for every remaining path and CPU
   capability: ties (identical bits) are reported as equivalent.  Where it is not exact, the
   search runs again on larger samples, each also sampling the elements replayed wrong
   (:func:`identify`, SAMPLE_FACTORS).

A scalar the bits cannot see (a weight decay below bf16's resolution, an eps never reached) comes
out as the whole interval that stays consistent, not as a guess.
"""

from __future__ import annotations

import contextlib
import decimal
import functools
import itertools
import math
import re
import time
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, NoReturn

import numpy as np

from emulation import bits, layout
from emulation.cuda_powf import powf as device_powf
from emulation.program import (
    Assign,
    Bf16,
    Expr,
    Program,
    S,
    T,
    by_identity,
    evaluate,
    fold,
    mul,
    neg,
    scalar_labels,
    substitute,
)
from emulation.program import sub as subtract
from emulation.recipes import Recipe, recipe
from emulation.recipes.common import Hyper
from emulation.replay import to_bits
from refimpl.conventions import Schedule
from refimpl.errors import AuditError
from refimpl.recording import INITIAL_W, Recording

TENSORS = {"param": "W", "exp_avg": "momentum_W", "exp_avg_sq": "variance_W"}
CPU_PATHS = ("forloop", "foreach", "fused")
CUDA_PATHS = ("forloop", "foreach")
"""CUDA paths that share the CPU paths' momentum (lerp); CUDA fused has its own (searched alone)."""
SAMPLE = 4096


def _f32_int(x: float) -> int:
    return int(np.array([x], np.float32).view(np.int32)[0])


def _int_f32(i: np.ndarray) -> np.ndarray:
    return np.asarray(i, dtype=np.int64).astype(np.int32).view(np.float32)


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    def mid(self) -> float:
        """The float32 nearest the middle (a kernel scalar searched as float32)."""
        return float(np.float32((self.lo + self.hi) / 2)) if self.lo != self.hi else self.lo

    def real_mid(self) -> float:
        """The double in the middle (an lr: a Python double, never cast to float32 itself)."""
        return (self.lo + self.hi) / 2


def step_size(lr: np.ndarray, bc1: np.ndarray) -> np.ndarray:
    """What torch's kernels read for an lr: ``lr / (1 - beta1^step)`` in double (Python), then
    cast to float32 (one rounding each; torch/optim/adamw.py, ``step_size = lr / bias_correction1``).

    A float32 ``bc1`` (:func:`bias_correction1` of CUDA fused) is a device's: the kernel divides
    ``f32(lr)`` by it in float32 (fused_adam_utils.cuh, ``lr / bias_correction1``, two roundings)."""
    if np.asarray(bc1).dtype == np.float32:
        return np.asarray(lr, np.float64).astype(np.float32) / bc1
    return (np.asarray(lr, np.float64) / bc1).astype(np.float32)


def _fused_cuda(rcp: Recipe) -> bool:
    """Whether ``rcp`` is CUDA fused (2.11+), float32 throughout on the device: its bias
    corrections are ``1 - powf(beta, step)`` in float32 (the others': doubles on the host), and
    it reads lr and wd apart, ``k = f32(f32(lr)*f32(wd))`` (the others: one ``1 - lr*wd``)."""
    return rcp.device == "cuda" and rcp.impl == "fused"


def _read_apart(rcp: Recipe) -> dict[str, T] | None:
    """What :func:`_open_step` opens instead of the decay where ``rcp`` reads lr and wd apart
    (CUDA fused: lr and wd themselves, the kernel forming k); None where it reads one decay."""
    return {"lr": T("__l"), "wd": T("__w")} if _fused_cuda(rcp) else None


def bias_correction1(rcp: Recipe, beta1: float, counts: np.ndarray | float) -> np.ndarray:
    """``1 - beta1^count`` as ``rcp`` divides lr by it: a double (host) or, on CUDA fused, the
    float32 ``1 - powf(f32(beta1), f32(count))`` of the device (emulation/cuda_powf.py), which
    :func:`step_size` then reads as a float32 division."""
    counts = np.asarray(counts, np.float64)
    if _fused_cuda(rcp):
        with np.errstate(all="ignore"):
            return np.float32(1) - device_powf(np.float32(beta1), counts.astype(np.float32))
    return 1 - beta1**counts


def _lr_edges(lows: np.ndarray, highs: np.ndarray, bc1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per element, the doubles lr whose :func:`step_size` lies in [low, high] (float32 bit
    patterns of a positive step size; low > high: none), as float64 bit patterns (ordered like
    the values: every one is positive); an empty interval stays empty (+inf, 0).

    lr -> f32(lr/bc1) is monotone, so the lrs of one step size form an interval whose ends lie
    about half a float32 ulp (times bc1) beyond it: start from that estimate and move each end
    double by double until it is the last one in (a few moves: the estimate's rounding)."""
    empty = lows > highs
    lows = np.where(empty, highs, lows)  # (any value: replaced below)
    c_lo, c_hi = _int_f32(lows), _int_f32(highs)
    if bc1.dtype == np.float32:
        return _lr_edges_f32(c_lo, c_hi, bc1, empty)
    lo = (_int_f32(lows - 1).astype(np.float64) + c_lo) / 2 * bc1
    hi = (c_hi.astype(np.float64) + _int_f32(highs + 1)) / 2 * bc1
    down, up = np.float64(-np.inf), np.float64(np.inf)
    for _ in range(64):
        lo_in = step_size(lo, bc1) >= c_lo
        lo_next = np.where(~lo_in, np.nextafter(lo, up), np.where(step_size(np.nextafter(lo, down), bc1) >= c_lo,
                                                                   np.nextafter(lo, down), lo))  # fmt: skip
        hi_in = step_size(hi, bc1) <= c_hi
        hi_next = np.where(~hi_in, np.nextafter(hi, down), np.where(step_size(np.nextafter(hi, up), bc1) <= c_hi,
                                                                    np.nextafter(hi, up), hi))  # fmt: skip
        if np.array_equal(lo_next, lo) and np.array_equal(hi_next, hi):
            break
        lo, hi = lo_next, hi_next
    else:
        raise AssertionError("lr edges did not settle")  # a few moves suffice: an estimate's rounding
    return np.where(empty, np.inf, lo).view(np.int64), np.where(empty, 0.0, hi).view(np.int64)


def _lr_edges_f32(
    c_lo: np.ndarray, c_hi: np.ndarray, bc1: np.ndarray, empty: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_lr_edges` for a device that divides ``f32(lr)`` by a float32 ``bc1``: the float32
    lrs L whose ``f32(L / bc1)`` lies in [c_lo, c_hi] (L -> f32(L/bc1) is monotone: start at
    ``c*bc1`` and move float by float), then the doubles that round to them (half the gap to
    each neighbour further out, the midpoint kept only where it rounds inside)."""
    up, down = np.float32(np.inf), np.float32(-np.inf)
    lo, hi = (c_lo * bc1).astype(np.float32), (c_hi * bc1).astype(np.float32)
    for _ in range(64):
        lo_next = np.where(lo / bc1 < c_lo, np.nextafter(lo, up),
                           np.where(np.nextafter(lo, down) / bc1 >= c_lo, np.nextafter(lo, down), lo))  # fmt: skip
        hi_next = np.where(hi / bc1 > c_hi, np.nextafter(hi, down),
                           np.where(np.nextafter(hi, up) / bc1 <= c_hi, np.nextafter(hi, up), hi))  # fmt: skip
        if np.array_equal(lo_next, lo) and np.array_equal(hi_next, hi):
            break
        lo, hi = lo_next, hi_next
    else:
        raise AssertionError("lr edges did not settle")
    lo64 = (lo.astype(np.float64) + np.nextafter(lo, down)) / 2
    lo64 = np.where(lo64.astype(np.float32) < lo, np.nextafter(lo64, np.inf), lo64)
    hi64 = (hi.astype(np.float64) + np.nextafter(hi, up)) / 2
    hi64 = np.where(hi64.astype(np.float32) > hi, np.nextafter(hi64, -np.inf), hi64)
    return np.where(empty, np.inf, lo64).view(np.int64), np.where(empty, 0.0, hi64).view(np.int64)


def element_intervals(
    program: Program,
    inputs: dict[str, np.ndarray],
    where: dict,
    output: str,
    target: np.ndarray,
    bind: Callable[[np.ndarray], dict[str, np.ndarray]],
    lo: float,
    hi: float,
    bc1: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per element, the [low, high] float32 bit patterns of a positive search variable ``x`` in
    [lo, hi] that reproduce ``target`` (low > high: none does), and ``side``: +1 where every x
    gives a result above the target, -1 where every x gives one below, 0 elsewhere.

    ``bind(x)`` maps per-element candidate values of ``x`` to the arrays that replace the opened
    scalars.  Assumes each element's result is monotone in ``x`` (true of every scalar searched
    alone here).

    ``bc1`` (per element): the variable is an lr, a double that each element reads as its step's
    float32 :func:`step_size` ``f32(lr / bc1)``.  The search runs over that step size (``bind``
    gets it), and low/high are float64 bit patterns of the lrs that give it (:func:`_lr_edges`).
    A float32 lr grid cannot stand in: no float32 lr may give every step's step size (seen: lr
    0.005, betas (0.5, 0.9999): f32(0.005/0.75) lies between the step sizes of the two float32
    lrs nearest 0.005).

    Each end is the first x (in float32 bit order) where a monotone test turns true: low, the
    first whose result reaches the target; high + 1, the first past it.  :class:`_Crossings`
    finds both, every element at once; any probe inside the bracket keeps the answer exact, so
    where the result before its last bf16 rounding is smooth in x the probes go where a secant
    puts the crossing."""
    n = target.size
    r = bits.ordered(target).astype(np.int64)
    name = program.outputs[output]
    a0, b0 = np.full(n, _f32_int(lo), np.int64), np.full(n, _f32_int(hi), np.int64)
    # what ``bind`` returns as the same object at both ends is held fixed: evaluated once with
    # everything that does not read the rest (emulation.program.fold; same bits, ~3x faster)
    at_lo, at_hi = bind(_int_f32(a0)), bind(_int_f32(b0))
    vary = [k for k, v in at_lo.items() if at_hi.get(k) is not v]
    held = {k: v for k, v in at_lo.items() if k not in vary}
    folded, consts = fold(program, {**inputs, **held}, where, vary, [output])
    folded, pre = _pre_rounding(folded, name)
    probing = _Probing(folded, consts, where, bind, vary, n, name, pre, _f32_int(lo))

    o, p = probing.on([np.arange(n), np.arange(n)])([a0, b0])
    o_lo, o_hi = o[:n], o[n:]
    direction = np.sign(o_hi - o_lo)
    flat = direction == 0
    s = np.where(flat, 1, direction)
    above = np.minimum(o_lo, o_hi) > r
    below = np.maximum(o_lo, o_hi) < r
    side = np.where(above, 1, np.where(below, -1, 0)) + np.where(flat & ~above & ~below & (o_lo != r), 1, 0)

    # lanes 0..n-1: the first x with s * (out(x) - r) >= 0 (the low end); lanes n..2n-1: the
    # first with > 0 (one past the high end)
    crossings = _Crossings(
        r, s, a0, b0, o_lo, o_hi, None if p is None else (p[:n], p[n:]), searched=~flat & (side == 0)
    )
    crossings.settle(probing)
    lows, highs = crossings.first[:n], crossings.first[n:] - 1
    highs = np.where(s * (o_hi - r) <= 0, b0, highs)  # never past the target within range
    lows, highs = np.where(flat, a0, lows), np.where(flat, b0, highs)
    lows = np.where(side != 0, b0 + 1, lows)  # unreachable: an empty interval
    highs = np.where(side != 0, a0 - 1, highs)
    if bc1 is not None:
        lows, highs = _lr_edges(lows, highs, bc1)
    return lows, highs, side


PRE = "__pre"


def _pre_rounding(program: Program, name: str) -> tuple[Program, str | None]:
    """``program`` with its assignment ``name = bf16(e)`` split into ``__pre = e`` and
    ``name = bf16(__pre)`` (the same ops on the same operands: the same bits), and the name of
    the float32 value before that rounding; None where ``name`` is not one bf16 rounding.
    Cached by the program's identity (fold hands back the same folded program for the same
    opened one: compiled once)."""
    return by_identity(_PRE_CACHE, program, (name,), lambda: _split_rounding(program, name))


_PRE_CACHE: dict[tuple, tuple[Program, tuple[Program, str | None]]] = {}


def _split_rounding(program: Program, name: str) -> tuple[Program, str | None]:
    """:func:`_pre_rounding`, uncached (an operand already a tensor is its own pre-rounding value)."""
    at = [i for i, a in enumerate(program.assigns) if a.target == name]
    if not at or not isinstance(program.assigns[at[0]].expr, Bf16):
        return program, None
    a = program.assigns[at[0]]
    e = a.expr
    if isinstance(e.x, T):
        return program, e.x.name
    split = (Assign(PRE, e.x, a.torch), Assign(name, Bf16(T(PRE), e.nan, e.where), a.torch))
    assigns = program.assigns[: at[0]] + split + program.assigns[at[0] + 1 :]
    return Program(program.name, program.source, program.inputs, assigns, program.outputs, program.notes), PRE


class _Probing:
    """Evaluations of ``folded`` (its output ``name`` rounded once from ``pre``, if not None) on
    chosen elements, each at its own x: the search's one way to run the program.  Every op is
    elementwise, so each element's result is bit-for-bit what it gives alone."""

    def __init__(self, folded: Program, consts: dict, where: dict, bind: Callable, vary: list[str], n: int,
                 name: str, pre: str | None, filler: int) -> None:  # fmt: skip
        self.folded, self.consts, self.where, self.bind, self.vary = folded, consts, where, bind, vary
        self.n, self.name, self.pre, self.filler = n, name, pre, filler

    def on(
        self, sets: list[np.ndarray], with_pre: bool = True
    ) -> Callable[[list[np.ndarray]], tuple[np.ndarray, np.ndarray | None]]:
        """``run(xs)`` for the element sets ``sets`` (each element at most once per set): x per
        element of each set (float32 bit patterns); returns the outputs (ordered bf16 integers,
        :func:`bits.ordered`) and the values before their last rounding (float64; None without
        ``pre`` or ``with_pre``), set after set."""
        pre = self.pre if with_pre else None
        n = self.n
        idx = np.concatenate(sets)
        chosen = lambda v: v[idx] if np.ndim(v) == 1 and len(v) == n else v  # noqa: E731
        consts = {k: chosen(v) for k, v in self.consts.items()}
        where = {k: chosen(v) for k, v in self.where.items()}

        def run(xs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
            bound: dict[str, list[np.ndarray]] = {k: [] for k in self.vary}
            full = np.full(n, self.filler, np.int32)
            for e, x in zip(sets, xs, strict=True):
                full[e] = x  # (elements outside ``e`` hold any x: their values are not read)
                values = self.bind(full.view(np.float32))
                for k in self.vary:
                    v = values[k]
                    bound[k].append(v[e] if np.shape(v) == (n,) else np.broadcast_to(v, (n,))[e])
            env = evaluate(self.folded, {**consts, **{k: np.concatenate(v) for k, v in bound.items()}}, where)
            out = bits.ordered(to_bits(env[self.name])).astype(np.int64)
            return out, None if pre is None else env[pre].astype(np.float64)

        return run


SECANT_MIN = 1 << 12
"""Brackets (float32 bit patterns) narrower than this are bisected: there the value before the
rounding moves by a few of its own ulps across the bracket, too coarse for a secant to place the
crossing closer than bisection does."""
SECANT_ROUNDS = 2
"""Rounds of secant probes a search starts with, before it bisects."""


class _Crossings:
    """For 2n monotone tests at once (lane j < n: element j's ``s * (out - r) >= 0``; lane
    n + j: its ``> 0``), the first float32 bit pattern x in [a0, b0) where each turns true
    (b0 where none does): the ends of :func:`element_intervals`.

    Invariant per lane: the answer lies in [a, b], the test is false at a - 1 (pattern x_f,
    value p_f before the last rounding) and true at b (x_t, p_t).  Any probe in [a, b) keeps
    it, so for a monotone test the answer is bisection's whatever the probes.  (Near a crossing
    float32 rounding can make the test flicker for a few patterns; there any probe order finds
    one of its flickers, bisection's another.)  A bisection probe halves the bracket.  A secant
    round probes twice, delta either side of where the line through (x_f, p_f) and (x_t, p_t)
    meets the rounding midpoint t (where the rounded output turns), delta the patterns that the
    values' own rounding (2^-24 relative) moves that point: where the result is affine in x (an
    lr, a decay factor: ``p = W*d - c*u``) the first round leaves ~2^(9..11) patterns for an
    element that moves by an ulp or two (~15 evaluations in all, not ~31)."""

    def __init__(self, r, s, a0, b0, o_lo, o_hi, p_ends, searched) -> None:
        n = r.size
        self.n = n
        twice = lambda v: np.concatenate([v, v])  # noqa: E731
        self.r, self.s, self.high = twice(r), twice(s), np.arange(2 * n) >= n
        at_a0, at_b0 = (
            self._test(twice(o_lo), self.s, self.r, self.high),
            self._test(twice(o_hi), self.s, self.r, self.high),
        )
        # known at the ends: true at a0 -> a0; false at b0 -> none in range, b0
        self.first = np.where(at_a0, twice(a0), twice(b0))
        self.active = twice(searched) & ~at_a0 & at_b0
        self.a0, self.b0 = twice(a0), twice(b0)
        self.p_ends = None if p_ends is None else (twice(p_ends[0]), twice(p_ends[1]))

    @staticmethod
    def _test(out: np.ndarray, s: np.ndarray, r: np.ndarray, high: np.ndarray) -> np.ndarray:
        return s * (out - r) >= high  # (integers: > 0 where high, >= 0 elsewhere)

    def settle(self, probing: _Probing) -> None:
        lane = np.nonzero(self.active)[0]  # (sorted: the low ends' lanes first)
        a, b = self.a0[lane] + 1, self.b0[lane]
        s, r, high = self.s[lane], self.r[lane], self.high[lane]
        secant = self.p_ends is not None
        if secant:
            x_f, x_t, p_f, p_t = self.a0[lane], b, self.p_ends[0][lane], self.p_ends[1][lane]
            nb = r + np.where(high, s, -s)  # r's neighbour the output leaves: below it, or above
            t = (bits.ordered_value(r) + bits.ordered_value(nb)) / 2
        # every lane's test is true at its b, on any evaluation (the same bits): a settled lane
        # (a == b) probed again at mid = b stays as it is, with no mask
        # (and keeps its answer: settled lanes are written out only when dropped)
        rounds, runs, n_low = 0, {}, int(np.searchsorted(lane, self.n))
        while True:
            live = a < b
            n_live = int(np.count_nonzero(live))
            if n_live * 2 <= live.size:  # compact: drop the settled lanes
                self.first[lane[~live]] = a[~live]
                if n_live == 0:
                    break
                lane, a, b, s, r, high = (v[live] for v in (lane, a, b, s, r, high))
                if secant:
                    x_f, x_t, p_f, p_t, t = (v[live] for v in (x_f, x_t, p_f, p_t, t))
                runs, n_low = {}, int(np.searchsorted(lane, self.n))
            mid = (a + b) // 2
            secant = secant and rounds < SECANT_ROUNDS
            pair = secant
            if pair:
                u, v, use = self._secant(a, b, mid, x_f, x_t, p_f, p_t, t)
                pair = bool(use.any())
            rounds += 1
            if pair not in runs:
                sets = [lane[:n_low], lane[n_low:] - self.n]  # each element once per set
                runs[pair] = probing.on(sets * 2 if pair else sets, with_pre=pair)
            if not pair:
                out, _ = runs[False]([mid[:n_low], mid[n_low:]])
                ok = self._test(out, s, r, high)
                b = np.where(ok, mid, b)
                a = np.where(ok, a, mid + 1)
                continue
            out, p = runs[True]([u[:n_low], u[n_low:], v[:n_low], v[n_low:]])
            m = lane.size
            ok_u, ok_v = self._test(out[:m], s, r, high), self._test(out[m:], s, r, high)
            # true at u -> [a, u]; at v only -> [u + 1, v]; at neither -> [v + 1, b]
            caught, past = ~ok_u & ok_v, ~ok_u & ~ok_v
            x_t = np.where(ok_u, u, np.where(caught, v, x_t))
            p_t = np.where(ok_u, p[:m], np.where(caught, p[m:], p_t))
            x_f = np.where(caught, u, np.where(past, v, x_f))
            p_f = np.where(caught, p[:m], np.where(past, p[m:], p_f))
            b = np.where(ok_u, u, np.where(caught, v, b))
            a = np.where(caught, u + 1, np.where(past, v + 1, a))

    @staticmethod
    def _secant(a, b, mid, x_f, x_t, p_f, p_t, t):
        """Per lane: the two probes of a secant round (u <= v), or mid twice where no secant is
        trusted, and whether it is."""
        with np.errstate(all="ignore"):
            xf, xt = _int_f32(x_f).astype(np.float64), _int_f32(x_t).astype(np.float64)
            g = xf + (t - p_f) * (xt - xf) / (p_t - p_f)
            slope = np.abs(p_t - p_f) / (xt - xf)
            # g's error from each value's rounding (2^-24 relative), in float32 patterns at g
            delta = 4 * (np.abs(p_f) / (slope * g) + np.abs(p_t) / np.abs(p_t - p_f)) + 2
            use = (b - a > SECANT_MIN) & np.isfinite(g) & np.isfinite(delta) & (g > xf) & (g < xt)
            use &= delta < (b - a) / 8
            at = np.where(use, g, xf).astype(np.float32).view(np.int32).astype(np.int64)
            step = np.where(use, delta, 0).astype(np.int64)
        return np.where(use, np.clip(at - step, a, b - 1), mid), np.where(use, np.clip(at + step, a, b - 1), mid), use


def _value_of(i: int, lr: bool) -> float:
    """The float an element_intervals bit pattern stands for (float64 for an lr, else float32)."""
    return float(np.array([i], np.int64).view(np.float64)[0]) if lr else float(_int_f32(np.array([i]))[0])


def scalar_interval(
    program: Program,
    inputs: dict[str, np.ndarray],
    where: dict,
    output: str,
    target: np.ndarray,
    bind: Callable[[np.ndarray], dict[str, np.ndarray]],
    lo: float,
    hi: float,
    bc1: np.ndarray | None = None,
) -> Interval | None:
    """The interval of ``x`` for which *every* element reproduces ``target``: the intersection of
    :func:`element_intervals`, its two ends re-checked on every element.  ``bc1``: ``x`` is an lr
    (:func:`element_intervals`), the interval one of doubles."""
    lows, highs, side = element_intervals(program, inputs, where, output, target, bind, lo, hi, bc1)
    return _common_interval(program, inputs, where, output, target, bind, lows, highs, side, bc1)


def _common_interval(program, inputs, where, output, target, bind, lows, highs, side, bc1) -> Interval | None:
    """:func:`scalar_interval` from :func:`element_intervals`' arrays."""
    if np.any(side != 0):
        return None
    lo_i, hi_i = int(lows.max()), int(highs.min())
    if lo_i > hi_i:
        return None
    name = program.outputs[output]
    ends = [_value_of(lo_i, bc1 is not None), _value_of(hi_i, bc1 is not None)]
    for end in ends:
        x = step_size(np.full(target.size, end), bc1) if bc1 is not None else np.full(target.size, end, np.float32)
        env = evaluate(program, {**inputs, **bind(x)}, where)
        if not np.array_equal(to_bits(env[name]), target):
            return None
    return Interval(*ends)


def _interval_on(
    program: Program,
    inputs: dict[str, np.ndarray],
    where: dict,
    output: str,
    target: np.ndarray,
    var: str,
    fixed: dict[str, np.ndarray],
    lo: float,
    hi: float,
    value: Callable[[np.ndarray, np.ndarray | slice], np.ndarray] | None = None,
    rows: np.ndarray | None = None,
    bc1: np.ndarray | None = None,
) -> Interval | None:
    """:func:`scalar_interval` of the opened scalar ``var``, the other opened scalars held at the
    per-element arrays ``fixed``, on the elements ``rows`` (None: all).  ``value(x, rows)`` maps
    candidates to what the kernel reads (default: ``x`` itself).  A subset with no interval rules
    the whole set out: fewer elements, fewer constraints.  ``bc1``: ``var`` is an lr
    (:func:`element_intervals`)."""
    sel = slice(None) if rows is None else rows
    held = {k: v[sel] for k, v in fixed.items()}

    def bind(x: np.ndarray) -> dict[str, np.ndarray]:
        return {**held, var: value(x, sel) if value else x}

    sub_in = {k: v[sel] for k, v in inputs.items()}
    sub_where = {k: v[sel] for k, v in where.items()}
    return scalar_interval(
        program, sub_in, sub_where, output, target[sel], bind, lo, hi, None if bc1 is None else bc1[sel]
    )


def _conveyed(program: Program, label: str) -> Callable[[np.ndarray], np.ndarray]:
    """How ``label``'s double reaches the kernel in ``program`` (float32 or bf16), on arrays."""
    via = scalar_labels(program)[label].via
    if via == "bf16":
        return lambda x: bits.round_to_bf16(np.asarray(x, np.float32))
    return lambda x: np.asarray(x, np.float32)


def _rounds_to_bf16(conv: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Whether a :func:`_conveyed` function rounds (to bf16) rather than passing float32 through."""
    x = np.array([0.7], np.float32)  # not a bf16 value
    return bool(conv(x)[0] != x[0])


@dataclass
class StepData:
    index: int
    state: dict[str, np.ndarray]  # bf16 bits of the sampled elements, the step's inputs
    want: dict[str, np.ndarray]  # recorded outputs at index
    flat: np.ndarray  # sampled flat element indices
    memo: dict = field(default_factory=dict, compare=False, repr=False)  # values derived from this data alone


def _sample_steps(rec: Recording, sample: int, rng: np.random.Generator, extra: Collection[int] = ()) -> list[StepData]:
    """``sample`` elements drawn at random, and the flat indices ``extra``, at every step."""
    n = rec.numel
    flat = np.union1d(rng.choice(n, size=min(sample, n), replace=False), np.asarray(list(extra), np.int64))
    out = []
    first = 0 if rec.has_initial else 1
    for t in range(first, rec.steps):
        if t == 0:
            z = np.zeros(flat.size, np.uint16)
            state = {"param": rec.read(INITIAL_W, 0)[flat], "exp_avg": z, "exp_avg_sq": z}
        else:
            state = {k: rec.read(ds, t - 1)[flat] for k, ds in TENSORS.items()}
        state["grad"] = rec.read(rec.grad_name, t)[flat]
        want = {k: rec.read(ds, t)[flat] for k, ds in TENSORS.items()}
        out.append(StepData(t, state, want, flat))
    return out


def _with_elements(rec: Recording, steps: list[StepData], extra: Collection[int]) -> list[StepData]:
    """``steps`` (the same rows) on their elements and at most WRONG_PER_ROUND of ``extra`` (drawn
    at random, seed 0), NaN/Inf left out as the sample leaves them out."""
    extra = sorted(extra)
    if len(extra) > WRONG_PER_ROUND:
        extra = np.random.default_rng(0).choice(extra, WRONG_PER_ROUND, replace=False).tolist()
    flat = np.union1d(np.concatenate([sd.flat for sd in steps]), np.asarray(extra, np.int64))
    indices = {sd.index for sd in steps}
    return [sd for sd in _finite_rows(_sample_steps(rec, 0, np.random.default_rng(0), flat)) if sd.index in indices]


def _rows(sd: StepData, keep: np.ndarray) -> StepData:
    """``sd`` on the elements ``keep`` selects (a mask or positions)."""
    return StepData(sd.index, {k: v[keep] for k, v in sd.state.items()}, {k: v[keep] for k, v in sd.want.items()},
                    sd.flat[keep])  # fmt: skip


def _evenly(size: int, most: int) -> np.ndarray:
    """At most ``most`` positions of ``size``, evenly spaced."""
    return np.linspace(0, size - 1, min(size, most)).astype(np.int64)


def _fewer_rows(sd: StepData, size: int) -> StepData:
    """``sd`` on at most ``size`` of its elements, evenly spaced."""
    return sd if sd.flat.size <= size else _rows(sd, _evenly(sd.flat.size, size))


def _widen(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: bits.widen(v) for k, v in state.items()}


def _finite_rows(steps: list[StepData]) -> list[StepData]:
    """Drop sampled elements with NaN/Inf anywhere: their NaN bit patterns depend on the thread
    layout, which the bits alone do not pin down; the final replay still covers them."""
    out = []
    for sd in steps:
        ok = np.ones(sd.flat.size, bool)
        for arr in (*sd.state.values(), *sd.want.values()):
            ok &= np.isfinite(bits.widen(arr))
        out.append(_rows(sd, ok))
    return out


def _stack(steps: list[StepData], which: str) -> dict[str, np.ndarray]:
    src = [sd.state if which == "state" else sd.want for sd in steps]
    return {k: np.concatenate([d[k] for d in src]) for k in src[0]}


def simplest_in(lo: float, hi: float) -> float:
    """The decimal with the fewest significant digits in [lo, hi] (what a person typed); among
    those found with as many digits, a power of ten first, then the one nearest the middle (seen:
    weight decay 0.1 in [0.076, 0.103] reported as 0.09)."""
    if lo > hi:
        lo, hi = hi, lo
    if lo <= 0 <= hi:
        return 0.0
    middle = (lo + hi) / 2
    for digits in range(1, 18):
        found = set()
        for cand in {float(f"{x:.{digits}g}") for x in (middle, lo, hi)}:
            found |= {c for c in (cand, float(f"{math.nextafter(cand, hi):.{digits}g}")) if lo <= c <= hi}
        if found:
            return min(found, key=lambda c: (float(f"1e{round(math.log10(abs(c)))}") != abs(c), abs(c - middle)))
    return middle


BETA2_TRIES = 4
"""beta2 values a file's searches run at, at most, where v leaves several typed ones (:func:`_typed_betas`)."""
TYPED_DIGITS = 5
"""Significant digits a typed beta has at most (0.99995); an interval whose simplest value has more
is a reading's few float32 ulps (seen: [0.98000005, 0.98000045], CPU fused's reading of CUDA
fused's 0.98), not a choice between typed values."""


def _typed_betas(lo: float, hi: float, most: int = BETA2_TRIES) -> list[float]:
    """The decimals in [lo, hi] with as few significant digits as :func:`simplest_in`'s (what a
    person typed), the simplest first, the others nearest the middle next; at most ``most``.  One
    value where the simplest is the only one of its length or has more than TYPED_DIGITS.  (On a
    small file v can leave beta2 an interval holding several: 196 elements, beta2 0.9602, v's
    interval [0.960051, 0.960201], simplest 0.9601; W reads beta2 through ``bc2_sqrt =
    sqrt(1 - beta2^t)``, at the unknown count t, and no count replayed it at 0.9601.)"""
    first = simplest_in(lo, hi)
    if first == 0.0 or lo <= 0.0:
        return [first]
    digits = len(decimal.Decimal(repr(first)).normalize().as_tuple().digits)  # (repr: the shortest decimal)
    if digits > TYPED_DIGITS:
        return [first]
    middle = (lo + hi) / 2
    others = sorted((x for x in _decimals_in(lo, hi, digits) if x != first), key=lambda x: abs(x - middle))
    return [first, *others][:most]


def _one_minus(iv: Interval) -> tuple[float, float]:
    """Doubles b with f32(1 - b) in [iv.lo, iv.hi] (to half an ulp of float32)."""
    half = lambda x: float(np.spacing(np.float32(x))) / 2  # noqa: E731
    return 1 - iv.hi - half(iv.hi), 1 - iv.lo + half(iv.lo)


def infer_beta1(steps: list[StepData], capability: str) -> Interval | None:
    """f32(1 - beta1) from every m[t] = lerp(m[t-1], g[t], w); both branches of lerp searched,
    their intervals joined (they meet at w = 0.5: seen, beta1 0.5 reported as [0.50000001,
    0.50000004] from the w < 0.5 branch alone, whose bits at w = 0.49999997 match w = 0.5's)."""
    inputs, want = _widen(_stack(steps, "state")), _stack(steps, "want")
    found = []
    for b1_build, lo, hi in ((0.9, 1e-30, 0.49999997), (0.3, 0.5, 1.0)):
        prog = substitute(recipe("forloop").build(Hyper(beta1=b1_build), 1.0, capability), {"1-beta1": T("__w")})
        iv = scalar_interval(prog, inputs, {}, "exp_avg", want["exp_avg"], lambda x: {"__w": x}, lo, hi)
        if iv is not None:
            found.append(iv)
    if len(found) == 2 and found[0].hi == np.float32(0.49999997) and found[1].lo == 0.5:
        return Interval(found[0].lo, found[1].hi)  # one interval across the branch point
    return found[0] if found else None


def _beta1_with_gradient_anomalies(steps: list[StepData], capability: str):
    """beta1 from the steps whose m[t] the recorded gradient explains, and for the others the
    factor k such that the optimizer saw bf16(g * k) (``clip_grad_norm_`` scales the gradient in
    place with a float scalar after the seed layout recorded it).  ``capability`` "cuda": m read
    through CUDA's fused kernel, the interval f32(beta1)'s; else through the CPU lerp, the
    interval f32(1 - beta1)'s."""
    if capability == "cuda":
        infer = lambda on: infer_beta_fused_cuda(on, "exp_avg")  # noqa: E731
        build = lambda b: recipe("fused", "cuda").build(Hyper(beta1=b), 1.0, "cuda")  # noqa: E731
    else:
        infer = lambda on: infer_beta1(on, capability)  # noqa: E731
        build = lambda w: recipe("forloop").build(Hyper(beta1=1 - w), 1.0, capability)  # noqa: E731
    per_step = [(sd, infer([sd])) for sd in steps]
    good = [iv for _, iv in per_step if iv is not None]
    if not good:
        return None, []
    mids = sorted(iv.mid() for iv in good)
    w_mid = mids[len(mids) // 2]
    agreeing = [iv for iv in good if iv.lo <= w_mid <= iv.hi]
    w_iv = Interval(max(iv.lo for iv in agreeing), min(iv.hi for iv in agreeing))
    opened = substitute(build(w_mid), {}, {"grad": Bf16(mul(T("grad"), T("__k")), "scalar")})
    scaled = []
    for sd, iv in per_step:
        if iv is not None and iv.lo <= w_mid <= iv.hi:
            continue
        k = scalar_interval(
            opened, _widen(sd.state), {}, "exp_avg", sd.want["exp_avg"], lambda x: {"__k": x}, 1e-12, 1e6
        )
        scaled.append((sd.index, k.mid() if k is not None else None))
    return w_iv, scaled


def infer_beta2(steps: list[StepData], rcp: Recipe, capability: str, h: Hyper, numel: int) -> Interval | None:
    """c = f32(1 - beta2) from every v[t].

    v[t] reads beta2 twice: ``k`` = beta2 as the path conveys it (float32, or bf16 on foreach) in
    ``bf16(v*k)``, and ``c`` = f32(1 - beta2) in ``fma(c*g, g, .)``.  The result is monotone in
    each separately but not in beta2 (``bf16(v*k)`` falls in steps while ``c*g*g`` rises), so
    the two are searched in turn from a least-squares start, and c's interval is narrowed to
    the c whose ``1 - c`` conveys to a k inside k's interval."""
    return _infer_pair(steps, rcp, capability, h, numel, "beta2", "1-beta2", "exp_avg_sq", squared=True)


def _moment_replays(steps: list[StepData], rcp: Recipe, capability: str, h: Hyper, numel: int, output: str) -> bool:
    """Whether ``rcp``'s program with ``h`` reproduces the moment ``output`` on every element of
    ``steps`` (m and v read no step count, so any count serves)."""
    return _sample_replays(rcp, steps, Schedule(h, None), capability, numel, outputs=(output,))


def _confirmed(
    steps: list[StepData], probe: list[StepData], infer: Callable[[list[StepData]], Interval | None],
    replays: Callable[[list[StepData], Interval], bool],
) -> Interval | None:  # fmt: skip
    """A beta's interval inferred on the ``probe`` steps, or on every sampled step where the value
    it gives fails a later step: the probe's steps can leave a ridge of pairs (beta2's two
    readings) whose point found holds on them alone (seen: fused 1-D 526, beta2 0.99, eps 3e-5,
    10 steps: the first 8 gave f32(1 - beta2) two float32 values low, v replayed 0.99962).
    None where no value fits every sampled step: its path does not reproduce that moment (a
    later step whose gradient the optimizer saw scaled is found by the caller: seen, index 15 of
    18 clipped x0.25, fused cosine, beta1 0.5, the W search failing for 3 minutes).  The pair
    search can end on a value of c whose reading k misses, on the probe (seen: foreach, beta2
    0.99, a 4-row file: the for-loop program, which reads beta2 as float32 in v*beta2, was given
    f32(1 - beta2) 0.01 and v replayed 0.53; its W searches ran 60 s to a wrong count before
    foreach was tried) or on every step (seen: live torch foreach, default build, beta2 0.9417,
    3424 elements: the for-loop's v missed 93 elements of a step, its W search answered with an
    lr the foreach W misses on one element, W 0.99998)."""
    # the probe grown by the steps its value fails (a few rounds), before every step: a value
    # that fits every step fits these, so where none fits them none fits all (a 1000-step cosine
    # file had every step searched on each path whose v failed: 260 of 627 s profiled).  One
    # pass over the steps, each alone, both checks a value and finds the steps it fails.
    found, on = infer(probe), list(probe)
    for grown in range(CONFIRM_ROUNDS + 1):
        if found is None:
            return None
        failing = list(itertools.islice((sd for sd in steps if not replays([sd], found)), len(probe)))
        if not failing:
            return found
        new = [sd for sd in failing if all(sd is not o for o in on)]
        if grown == CONFIRM_ROUNDS or not new or len(on) + len(new) >= len(steps):
            break
        on = sorted([*on, *new], key=lambda sd: sd.index)
        found = infer(on)
    if len(steps) <= len(probe):  # (the steps are the probe's: the value fails its own)
        return None
    again = infer(steps)
    return again if again is not None and replays(steps, again) else None


CONFIRM_ROUNDS = 3
"""Rounds in which :func:`_confirmed` grows its probe by the steps the value found fails."""


def infer_beta1_pre_lerp(steps: list[StepData], capability: str, numel: int) -> Interval | None:
    """c = bf16(1 - beta1) from every m[t] under torch <= 2.0's ``exp_avg.mul_(beta1).add_(grad,
    alpha=1 - beta1)``: like beta2, two readings of one parameter (both as bf16 there)."""
    rcp = recipe("forloop", "cpu", PRE_LERP_RELEASE)
    return _infer_pair(steps, rcp, capability, Hyper(), numel, "beta1", "1-beta1", "exp_avg", squared=False)


PRE_LERP_K_TRIES = 16
"""At most this many bf16 readings of beta1 :func:`_pre_lerp_beta1_bounds` tries (beta1 0.1: ~8)."""


def _pre_lerp_beta1_bounds(steps: list[StepData], capability: str, numel: int, c: Interval) -> tuple[float, float]:
    """beta1's interval under torch <= 2.0's ``m = bf16(m*k) + c*g`` from c's interval (c =
    bf16(1 - beta1), :func:`infer_beta1_pre_lerp`): the betas whose 1 - beta1 rounds into it, cut
    to those whose own reading k = bf16(beta1) replays m too.

    Both readings are bf16, so c's betas can span two k or more (each bf16 value of k holds a
    run of betas, up to half a bf16 gap either side: seen, beta1 0.712, c = 0.287109375 for
    [0.71191, 0.71387], k = 0.7109375 below 0.712890625 and 0.71484375 above it, where m
    replays 0.29 of the file; 0.713 was reported and no W search fitted)."""
    c_lo, c_hi = _rounding_edges(c.lo, c.hi, bf16=True)
    lo, hi = max(0.0, 1 - c_hi), 1 - c_lo
    rcp = recipe("forloop", "cpu", PRE_LERP_RELEASE)
    first, last = (int(bits.narrow(np.array([x], np.float32))[0]) for x in (lo, hi))
    if last - first > PRE_LERP_K_TRIES:  # (beta1 near 0: bf16 packs its readings densely there)
        return lo, hi
    kept = []
    for k in bits.widen(np.arange(max(first - 1, 0), last + 2, dtype=np.uint16)):  # (bf16 of beta1 >= 0)
        part = _within((lo, hi), _rounding_edges(float(k), float(k), bf16=True))
        if part is not None and _moment_replays(steps, rcp, capability, Hyper(beta1=sum(part) / 2), numel, "exp_avg"):
            kept.append(part)
    return (min(p[0] for p in kept), max(p[1] for p in kept)) if kept else (lo, hi)


def _infer_pair(
    steps: list[StepData], rcp: Recipe, capability: str, h: Hyper, numel: int,
    k_label: str, c_label: str, output: str, squared: bool,
) -> Interval | None:  # fmt: skip
    """The interval of ``c`` (how ``1 - beta`` reaches the kernel) for a moment that reads a beta
    twice: ``k*state + c*g`` (``g*g`` when ``squared``), searched jointly, then narrowed to the
    c whose ``1 - c`` conveys into k's interval."""
    prog = rcp.build(h, 1.0, capability)
    conv = _conveyed(prog, k_label)
    opened = substitute(prog, {k_label: T("__k"), c_label: T("__c")})
    inputs, want = _widen(_stack(steps, "state")), _stack(steps, "want")
    flat = np.concatenate([sd.flat for sd in steps])
    where = {k: v[flat] for k, v in rcp.positions(capability, numel, 1).items()}
    target = want[output]
    n = target.size

    def search(var, other, lo, hi, conv_fn=None) -> Interval | None:
        value = (lambda x, _: conv_fn(x)) if conv_fn else None
        return _interval_on(opened, inputs, where, output, target, var, other, lo, hi, value)

    state = inputs[output].astype(np.float64)
    g = inputs["grad"].astype(np.float64)
    drive = g**2 if squared else g
    # new ~ k*state + c*drive: the c an element allows moves with k at -state/drive
    with np.errstate(all="ignore"):
        slope = np.where(drive != 0, -state / drive, 0.0)
    conv_c = _conveyed(prog, c_label)

    def replays_at(beta: float) -> bool:
        """Whether one beta, through both its readings, reproduces every element."""
        env = evaluate(opened, {**inputs, "__k": conv(np.full(n, beta, np.float32)),
                                "__c": conv_c(np.full(n, 1 - beta, np.float32))}, where)  # fmt: skip
        return bool(np.array_equal(to_bits(env[prog.outputs[output]]), target))

    def first_replaying(betas) -> tuple[Interval | None, np.ndarray] | None:
        """The first of ``betas`` that replays every element: c's interval at its k, and that k."""
        for beta in dict.fromkeys(betas):
            if replays_at(beta):
                k_all = conv(np.full(n, beta, np.float32))
                return search("__c", {"__k": k_all}, 1e-30, 1.0), k_all
        return None

    def joint(sel: slice) -> tuple[Interval, np.ndarray] | None:
        return joint_interval(opened, {k: v[sel] for k, v in inputs.items()}, {k: v[sel] for k, v in where.items()},
                              output, target[sel], {}, "__c", (1e-30, 1.0), "__k", (0.0, 1.0), conv, slope[sel],
                              np.sign(state[sel]), measure=False)  # fmt: skip  # (the model steers the betas)

    found = joint(slice(None))
    betas: list[float] = []  # (tried on every element where the pooled search found nothing)
    if found is None and len(steps) > 1:
        # The bisection steers by conflicting elements and can lose its way on the pooled steps
        # while each step alone fits (seen: fused, beta2 0.999, a window recorded late).  Fit
        # each step alone (a path that fails one step is out: no pooled answer either), then try
        # the betas inside every step's c interval with both readings tied, on every element.
        ends = np.cumsum([0, *(sd.flat.size for sd in steps)])
        per_step = []
        for lo, hi in itertools.pairwise(ends):
            one = joint(slice(lo, hi))
            if one is None:  # (no step after it is tried: a joint search each, on a path that fails)
                break
            per_step.append(one[0])
        if len(per_step) == len(steps):
            c_lo, c_hi = max(iv.lo for iv in per_step), min(iv.hi for iv in per_step)
            if c_lo > c_hi:  # each interval is a slice at its own k: their hull
                c_lo, c_hi = min(iv.lo for iv in per_step), max(iv.hi for iv in per_step)
            b_lo, b_hi = 1 - c_hi, 1 - c_lo
            betas = [*(x for x in COMMON_BETAS if b_lo <= x <= b_hi), simplest_in(b_lo, b_hi)]
    if found is None:
        # then the usual betas, each one evaluation: the bisection can lose its way on a step alone
        # too, where bf16(state*k) jumps between k's float32 values (seen: for-loop, beta2 0.95,
        # 52 elements, 3 steps: steps 1 and 2 sent k from 0.9501 down past the truth)
        hit = first_replaying([*betas, *COMMON_BETAS])
        found = (hit[0], hit[1]) if hit is not None and hit[0] is not None else None
    if found is None:
        return None
    c_iv, _ = found
    k_iv = search("__k", {"__c": conv_c(np.full(n, c_iv.mid(), np.float32))}, 0.0, 1.0, conv)
    if k_iv is None:
        return c_iv
    # the beta = 1 - c must convey into k's interval too: k holds conveyed values (float32 or
    # bf16), so the beta may lie anywhere that rounds into it
    k_lo, k_hi = _rounding_edges(k_iv.lo, k_iv.hi, bf16=scalar_labels(prog)[k_label].via == "bf16")
    lo_c = max(c_iv.lo, float(np.float32(1 - k_hi)) if k_hi < 1 else c_iv.lo)
    hi_c = min(c_iv.hi, float(np.float32(1 - k_lo)))
    narrow = Interval(lo_c, hi_c) if lo_c <= hi_c else c_iv
    # c_iv and k_iv are slices through one point of a ridge (c and k trade off): the true pair may
    # lie beside them.  Walk k along the ridge on a subsample (an outer bound), take the hull of
    # the c slices, and keep it if its simplest beta replays every element.
    rows = np.sort(np.random.default_rng(0).choice(n, size=min(n, PROBE), replace=False))
    sub = {k: v[rows] for k, v in inputs.items()}
    sub_where = {k: v[rows] for k, v in where.items()}

    def c_slice(k: float) -> tuple[float, float] | None:
        k_arr = conv(np.full(rows.size, k, np.float32))
        return _slice_on(opened, sub, sub_where, output, target[rows], lambda x: {"__k": k_arr, "__c": x}, 1e-30, 1.0)

    k0 = float(conv(np.float32(k_iv.mid())))
    (k_far_lo, s_lo), (k_far_hi, s_hi) = _farthest(k0, 0.0, c_slice), _farthest(k0, 1.0, c_slice)
    got = [x for x in (s_lo, s_hi) if x is not None]
    c_lo_w = min([c_iv.lo, *(x[0] for x in got)])
    c_hi_w = max([c_iv.hi, *(x[1] for x in got)])
    k_lo_w, k_hi_w = _rounding_edges(k_far_lo, k_far_hi, bf16=scalar_labels(prog)[k_label].via == "bf16")
    wide = Interval(max(c_lo_w, 1 - k_hi_w), min(c_hi_w, 1 - k_lo_w))

    if wide.lo <= wide.hi and replays_at(simplest_in(1 - wide.hi, 1 - wide.lo)):
        return wide
    if replays_at(simplest_in(1 - narrow.hi, 1 - narrow.lo)):
        return narrow
    # the joint search's pair (c, k) can lie where no one beta conveys both, and the slices
    # through it miss the pairs that one beta gives (seen: CPU fused, 2 steps of 1475, beta2
    # 0.999: c two float32 above f32(0.001), v 0.99932): the usual betas near it, c searched at
    # each one's k
    ulp_c = float(np.spacing(np.float32(c_iv.mid())))
    hit = first_replaying(b for b in COMMON_BETAS if abs((1 - b) - c_iv.mid()) <= NEAR_BETA_ULPS * ulp_c)
    return (hit[0] or narrow) if hit is not None else narrow


COMMON_BETA2 = (0.999, 0.99, 0.95, 0.98, 0.9999, 0.995, 0.9)
COMMON_BETAS = (*COMMON_BETA2, 0.8, 0.5)
"""Values people set beta1 or beta2 to, tried first where the bits allow several."""
NEAR_BETA_ULPS = 64
"""How far (float32 ulps of ``1 - beta``) :func:`_infer_pair` looks for a usual beta that replays
where the pair found conveys from no one beta."""
PROBE = 2048  # elements a joint bisection probes
ENDGAME = 256  # bit patterns left in a joint bisection from which every move is measured
STEPPED_SPAN = 1 << 17  # the same for a d whose product is rounded to bf16 (joint_interval's ``stepped``)
OCTAVE_F32 = 1 << 23  # float32 bit patterns in an octave: how far the count scan's eps bisection measures
EPS_GUESSES = (1e-8, 1e-6, 1e-12, 1e-10, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


@dataclass
class StepFit:
    index: int
    coef: Interval  # |f32(lr / (1 - beta1^step))|
    eps: Interval  # eps as the kernel sees it
    decay: Interval  # f32 or bf16 of 1 - lr*wd


def _eps_hints(iv: Interval) -> tuple[float, ...]:
    """eps values to try first at the next step, from the interval this step allows: the usual or
    simplest one, the middle (the next step's interval need not hold the simplest), and the
    other guesses inside it (seen: eps 1e-12 inside [0, 8.8e-8], the next step's fit at 1e-8
    and the middle failed, and the search with all three unknown lost its way)."""
    return tuple(dict.fromkeys((_prefer_eps(iv), iv.mid(), *(g for g in EPS_GUESSES if iv.lo <= g <= iv.hi))))


def _prefer_eps(iv: Interval) -> float:
    """An eps inside ``iv``: the first of EPS_GUESSES there (the default 1e-8 first: what a
    person typed), else the simplest decimal (not the search's floor 1e-38: seen as the value
    of a fused schedule whose steps allowed [1e-38, 3e-12], truth 1e-12)."""
    return next((g for g in EPS_GUESSES if iv.lo <= g <= iv.hi), None) or simplest_in(iv.lo, iv.hi)


def joint_interval(
    opened: Program,
    inputs: dict[str, np.ndarray],
    where: dict,
    output: str,
    target: np.ndarray,
    fixed: dict[str, np.ndarray],
    c_var: str,
    c_range: tuple[float, float],
    d_var: str,
    d_range: tuple[float, float],
    conv_d: Callable[[np.ndarray], np.ndarray],
    slope: np.ndarray,
    d_effect: np.ndarray,
    bc1: np.ndarray | None = None,
    third: tuple[np.ndarray, np.ndarray, list[int]] | None = None,
    measure: bool | None = None,
    ended: list[float] | None = None,
    stepped: bool = False,
) -> tuple[Interval, np.ndarray] | None:
    """Two scalars that trade off: a value of ``d`` and the interval of ``c`` that go with it.

    Each element's output is monotone in c for fixed d, and the c it allows moves with d at about
    ``slope`` (per element, from a first-order model).  Bisection on d: at a d where no single c
    fits every element, the element with the highest lower bound (i) and the one with the lowest
    upper bound (j) conflict, and d moves the way that widens the gap: up when
    slope[j] > slope[i].  An element no c reproduces at this d says itself which way d must go:
    its result is above (below) the target, and ``d_effect`` is the sign of its result's change
    with d.  Each probe is one per-element interval search for c.

    ``third`` = (slope, effect, vote) for a third scalar held fixed in ``fixed``: when no d fits,
    the last probe's conflict (or stuck elements) says, by the same rules, which way that scalar
    must move; +1 (up) or -1 is appended to ``vote``, and the subsample is not retried whole.
    ``bc1``: c is an lr (:func:`element_intervals`).  ``measure`` (default: whether ``conv_d``
    rounds to bf16): at a conflict, the pair's intervals are measured a few bisection widths
    either side of d and d moves the way that brings them together; the slope model only where
    that cannot tell (for a d that reaches the kernel as bf16, next to bf16 denominators, where
    the intervals move in steps and the model misleads: seen, foreach, eps 2e-4 steered to
    3.6e-4).  ``ended``: where no d is found, the last d probed is appended (where the bisection
    lost its way: the caller may try the simple values near it).  ``stepped``: d scales a value
    the program rounds to bf16 before the rest reads it (the for-loop's and foreach's
    ``param.mul_(1 - lr*wd)``), so bf16(p*d) moves in steps of 2^-8..2^-7 of p: within
    STEPPED_SPAN bit patterns of d (2^-7 relative) each element's c interval jumps rather than
    slides, and every move is measured there (seen: for-loop, wd 0.3, eps 2e-4, the model sent
    d up from 0.99707 with the answer [0.997024, 0.997041] below)."""
    n = target.size
    measure = _rounds_to_bf16(conv_d) if measure is None else measure
    # the bisection probes a fixed subsample; the answer is checked on every element
    rows = np.sort(np.random.default_rng(0).choice(n, size=min(n, PROBE), replace=False))
    sub_in = {k: v[rows] for k, v in inputs.items()}
    sub_where = {k: v[rows] for k, v in where.items()}
    sub_fixed = {k: v[rows] for k, v in fixed.items()}

    def bind_for(d: np.ndarray, fx: dict[str, np.ndarray]):
        return lambda x: {**fx, d_var: d, c_var: x}

    def bc1_of(sel: np.ndarray | slice) -> np.ndarray | None:
        return None if bc1 is None else bc1[sel]

    def majority(votes: np.ndarray) -> bool:
        return int(np.sum(votes > 0)) >= int(np.sum(votes < 0))

    def pair_gap(at: int, pair: np.ndarray) -> float:
        """How far apart (bit patterns) the c intervals of two elements are at d's bit pattern ``at``:
        lower bound of the first minus upper bound of the second (inf: one has none at all)."""
        d_pair = conv_d(np.full(2, _int_f32(np.array([at]))[0], np.float32))
        lows2, highs2, side2 = element_intervals(
            opened, {k: v[pair] for k, v in inputs.items()}, {k: v[pair] for k, v in where.items()}, output,
            target[pair], bind_for(d_pair, {k: v[pair] for k, v in fixed.items()}), *c_range, bc1_of(pair),
        )  # fmt: skip
        return math.inf if np.any(side2 != 0) else float(lows2[0] - highs2[1])

    def rows_gap(at: int) -> float:
        """How far apart the subsample's c intervals are at d's bit pattern ``at`` (<= 0: one c fits all)."""
        d_rows = conv_d(np.full(rows.size, _int_f32(np.array([at]))[0], np.float32))
        lows2, highs2, side2 = element_intervals(
            opened, sub_in, sub_where, output, target[rows], bind_for(d_rows, sub_fixed), *c_range, bc1_of(rows)
        )
        return math.inf if np.any(side2 != 0) else float(lows2.max() - highs2.min())

    a, b = _f32_int(d_range[0]), _f32_int(d_range[1])
    up3 = True
    d_value = None  # (the last d probed)
    grown = 0  # times the subsample grew by the elements that disagreed with it
    while a <= b:
        mid = (a + b) // 2
        d_value = _int_f32(np.array([mid]))[0]
        d = conv_d(np.full(rows.size, d_value, np.float32))
        lows, highs, side = element_intervals(
            opened, sub_in, sub_where, output, target[rows], bind_for(d, sub_fixed), *c_range, bc1_of(rows)
        )
        stuck = np.nonzero(side != 0)[0]
        if stuck.size:
            up = majority(-side[stuck] * d_effect[rows][stuck])  # +1: raise d
            up3 = majority(-side[stuck] * third[1][rows][stuck]) if third else up3
        else:
            i, j = int(np.argmax(lows)), int(np.argmin(highs))
            up3 = third[0][rows][j] > third[0][rows][i] if third else up3
            if lows[i] <= highs[j]:
                d_all = conv_d(np.full(n, d_value, np.float32))
                bind_all = bind_for(d_all, fixed)
                every = element_intervals(opened, inputs, where, output, target, bind_all, *c_range, bc1)
                c = _common_interval(opened, inputs, where, output, target, bind_all, *every, bc1)
                if c is not None:
                    return c, d_all
                if rows.size == n:
                    return None
                # the subsample agreed, the whole set did not: start over with the elements that
                # disagree added (the most first; bisecting every element costs minutes on a
                # large sample), and with every element once that has not settled it
                lows_all, highs_all, side_all = every
                miss = np.maximum(lows_all - highs[j], lows[i] - highs_all)
                miss = np.where(side_all != 0, np.iinfo(np.int64).max, miss)
                worst = np.argsort(-miss, kind="stable")[:PROBE]
                worst = worst[miss[worst] > 0]
                grown += 1
                rows = np.union1d(rows, worst) if worst.size and grown <= 3 else np.arange(n)
                sub_in = {k: v[rows] for k, v in inputs.items()}
                sub_where = {k: v[rows] for k, v in where.items()}
                sub_fixed = {k: v[rows] for k, v in fixed.items()}
                a, b = _f32_int(d_range[0]), _f32_int(d_range[1])
                continue
            up = slope[rows][j] - slope[rows][i] > 0
            # on the pair alone (two elements: cheap), a few bisection widths either side; for any
            # scalar in the last ENDGAME values (the model's slopes differ by less than the
            # rounding there: seen, fused decay 0.99985, sent from a gap of 14 ulps the wrong way)
            if measure or b - a < ENDGAME or (stepped and b - a < STEPPED_SPAN):
                step = max(1, (b - a) // 8)
                pair = rows[[i, j]]
                at_up, at_down = min(mid + step, b), max(mid - step, a)
                g_up, g_down = pair_gap(at_up, pair), pair_gap(at_down, pair)
                if g_up <= 0 and g_down <= 0:  # the pair agrees either side: the subsample says which
                    g_up, g_down = rows_gap(at_up), rows_gap(at_down)
                up = g_up < g_down if g_up != g_down else up
        if up:
            a = mid + 1
        else:
            b = mid - 1
        if a > b and rows.size == min(n, PROBE) and n > PROBE and third is None:
            # the subsample led nowhere: once more on a larger one (more conflicts to steer by;
            # not every element: on a file no d fits, that would cost minutes per call)
            rows = np.sort(np.random.default_rng(1).choice(n, size=min(n, 8 * PROBE), replace=False))
            sub_in = {k: v[rows] for k, v in inputs.items()}
            sub_where = {k: v[rows] for k, v in where.items()}
            sub_fixed = {k: v[rows] for k, v in fixed.items()}
            a, b = _f32_int(d_range[0]), _f32_int(d_range[1])
    if third is not None:
        third[2].append(1 if up3 else -1)
    if ended is not None and d_value is not None:
        ended.append(float(d_value))
    return None


DECAY_RANGE = (0.5, 1.0)
"""Where a decay factor ``1 - lr*wd`` is searched (lr*wd up to 0.5)."""


@dataclass(frozen=True)
class DecayAxis:
    """What a pooled search varies as ``__d``: the decay factor d = ``1 - lr*wd`` the kernel
    receives (DECAY_AXIS), or, on CUDA fused, k = ``lr*wd`` itself (K_AXIS), which its
    ``fma(p, -k, p)`` reads.  Float32's values near 1 are 2^-24 apart, k's near 5e-5 ~4e-12: the
    bits can pin k between two of d's grid values, where no d replays them (seen: CUDA fused, lr
    1e-3, wd 0.05, from step 6, 805x5: no pooled search found count 6).  Searches run in the
    axis's own float32 values; what they return is read back as d (:meth:`as_d`, exact: 1 - k
    is a double for every float32 k above 2^-29)."""

    lo: float
    hi: float
    none: float  # the value that is no decay
    sign: float  # +1: the variable is d; -1: it is 1 - d
    opening: tuple[tuple[str, Expr], ...] = ()  # scalars opened for it besides _decay_opening's

    def of_d(self, d: float) -> float:
        return d if self.sign > 0 else 1.0 - d

    def as_d(self, iv: Interval) -> Interval:
        return iv if self.sign > 0 else Interval(1.0 - iv.hi, 1.0 - iv.lo)

    def visible(self, iv: Interval) -> bool:
        """Whether ``iv`` (of this axis) leaves out no decay."""
        return iv.hi < 1.0 if self.sign > 0 else iv.lo > 0.0


DECAY_AXIS = DecayAxis(*DECAY_RANGE, 1.0, 1.0)
K_AXIS = DecayAxis(0.0, 0.5, 0.0, -1.0, (("lr", T("__d")), ("wd", S("1", 1.0))))


def _decay_axis(rcp: Recipe) -> DecayAxis:
    return K_AXIS if _fused_cuda(rcp) else DECAY_AXIS


def _joint_step_and_decay(
    sd, opened, inputs, where, target, e, conv_decay, h: Hyper, step: float, stepped: bool = False
):  # fmt: skip
    """Step size c and decay d of W[t] ~ p*d - c*q (q = m/denom at the eps ``e`` held): c moves
    with d at p/q.  ``stepped``: p*d is rounded to bf16 (:func:`joint_interval`)."""
    p, q, _c_est = _ls_terms(sd, h, step, e.astype(np.float64))
    with np.errstate(all="ignore"):
        slope = np.where(q != 0, p / q, 0.0)
    found = joint_interval(
        opened, inputs, where, "param", target, {"__e": e}, "__c", (1e-30, 1e3),
        "__d", DECAY_RANGE, conv_decay, slope, np.sign(p), stepped=stepped,
    )  # fmt: skip
    return found if found is not None else (None, None)


def _decay_and_eps(
    opened: Program, inputs: dict[str, np.ndarray], where: dict, target: np.ndarray,
    conv_eps: Callable, conv_decay: Callable, d_order: tuple[np.ndarray, np.ndarray],
    e_order: tuple[np.ndarray, np.ndarray], c_range: tuple[float, float], bc1: np.ndarray | None = None,
    d_range: tuple[float, float] = DECAY_RANGE,
) -> tuple[Interval, np.ndarray, np.ndarray] | None:  # fmt: skip
    """Step size (or lr, given ``bc1``), decay factor and eps all unknown: a bisection on eps
    over EPS_RANGE, each probe a joint (step size, decay) search whose failure votes which way
    eps must move (``joint_interval(third=...)``).  ``d_order``/``e_order``: (slope, effect) of
    the decay and of eps (:func:`joint_interval`).  Returns (step size, decay, eps) or None."""
    n = target.size
    lo_i, hi_i = _f32_int(EPS_RANGE[0]), _f32_int(EPS_RANGE[1])
    while lo_i <= hi_i:
        mid = (lo_i + hi_i) // 2
        e = conv_eps(np.full(n, _int_f32(np.array([mid]))[0], np.float32))
        vote: list[int] = []
        found = joint_interval(
            opened, inputs, where, "param", target, {"__e": e}, "__c", c_range, "__d", d_range,
            conv_decay, *d_order, bc1=bc1, third=(*e_order, vote),
        )  # fmt: skip
        if found is not None:
            return found[0], found[1], e
        if vote and vote[0] > 0:
            lo_i = mid + 1
        else:
            hi_i = mid - 1
    return None


def _eps_slope(want: dict[str, np.ndarray], bc2: np.ndarray, reciprocal: bool) -> tuple[np.ndarray, np.ndarray]:
    """For the joint search of step size c and eps e: per element, how fast the c it allows rises
    with e, and the sign of its result's change with e.

    W moves by about c*m/(s + e), s = sqrt(v)/bc2_sqrt, so the c an element allows is
    proportional to s + e and rises at c/(s + e): at a conflict the two elements allow about the
    same c, so 1/(s + e) orders them, and for every e it orders them as 1/s does.  A larger e
    shrinks the update, moving W[t] the way m points."""
    v = bits.widen(want["exp_avg_sq"]).astype(np.float64)
    m = bits.widen(want["exp_avg"]).astype(np.float64)
    root = np.sqrt(np.maximum(v, 0))
    scale = bc2.astype(np.float64)
    s = root * scale if reciprocal else root / np.where(scale != 0, scale, 1.0)
    with np.errstate(all="ignore"):
        slope = np.where(s > 0, 1.0 / s, np.finfo(np.float64).max)
    return np.nan_to_num(slope, nan=0.0), np.sign(np.nan_to_num(m))


BF16_DECAYS = 8
"""bf16 decay factors below 1 a step fit with all three unknown tries (1 - k*2^-8: lr*wd up to 0.03)."""


def _bf16_decays_near(estimate: float) -> list[float]:
    """The decay factors a bf16 decay (foreach) takes near 1, 1 - k*2^-8 for k <= BF16_DECAYS,
    nearest ``estimate`` first; none when the estimate lies below them all."""
    near_one = [1 - k * 2.0**-8 for k in range(1, BF16_DECAYS + 1)]
    return sorted(near_one, key=lambda x: abs(x - estimate)) if estimate >= near_one[-1] else []


EPS_RANGE = (1e-38, 1.0)
"""Where eps is searched when no guess fits (EPS_GUESSES): any normal float32 up to 1."""
WD_FLOOR = 1e-30
"""The smallest weight decay searched: an interval that reaches it has no lower bound the bits
show (the decay may be absent)."""


def _ls_columns(sd: StepData, h: Hyper, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The least-squares model's columns from the recorded bf16 values, in float64: W[t-1] (p),
    dW = W[t] - W[t-1], m[t] and sqrt(v[t]/bc2) (inf/NaN where beta2 = 1: foreach's bf16(0.999))."""
    p = bits.widen(sd.state["param"]).astype(np.float64)
    dw = bits.widen(sd.want["param"]).astype(np.float64) - p
    m = bits.widen(sd.want["exp_avg"]).astype(np.float64)
    v = bits.widen(sd.want["exp_avg_sq"]).astype(np.float64)
    with np.errstate(all="ignore"):
        return p, dw, m, np.sqrt(np.maximum(v, 0) / (1 - h.beta2**step))


def _ls_terms(
    sd: StepData, h: Hyper, step: float, eps: float | np.ndarray = 1e-8
) -> tuple[np.ndarray, np.ndarray, float]:
    """p, q = m/(sqrt(v/bc2) + eps) from the recorded bf16 values, and the least-squares step size."""
    p, dw, m, s = _ls_columns(sd, h, step)
    with np.errstate(all="ignore"):
        q = m / (s + eps)
    a = np.stack([p, q], axis=1)
    ok = np.all(np.isfinite(a), axis=1) & np.isfinite(dw)
    if ok.sum() < 2:
        return p, q, 1e-3
    (_delta, c), *_ = np.linalg.lstsq(a[ok], -dw[ok], rcond=None)
    return p, q, float(abs(c))


ESTIMATE_EPS = tuple(10.0 ** (k / 2) for k in range(-24, -1))
"""eps values the decay estimate tries (half decades, 1e-12 .. 10^-1.5): the one whose model fits best."""


def _decay_estimate(sd: StepData, h: Hyper, step: float, rounded: bool = False) -> float:
    """Least-squares estimate of the decay factor d in W[t] - W[t-1] = -p(1-d) - c*q, q = m/(sqrt(v/bc2) + eps),
    at the eps of ESTIMATE_EPS with the smallest residual.  eps matters: where eps dominates
    sqrt(v/bc2) the update follows m, not m/sqrt(v), and a fit with a tiny eps gives the misfit
    to p (seen: for-loop, eps 2e-4, sqrt(v) ~ 1e-6..2e-5, lr 0.01, wd 0.05: 0.990 at eps 1e-8,
    1.0001 at 2e-4, truth 0.9995).  ``rounded``: refined for a path that rounds the decayed W to
    bf16 before the update (:func:`_rounded_decay_estimate`)."""
    p, dw, m, s = _ls_columns(sd, h, step)
    ok = np.isfinite(p) & np.isfinite(s) & np.isfinite(m) & np.isfinite(dw)
    if ok.sum() < 3:
        return 1.0
    best = (math.inf, 0.0, ESTIMATE_EPS[0])
    for eps in ESTIMATE_EPS:
        a = np.stack([p[ok], m[ok] / (s[ok] + eps)], axis=1)
        (delta, _c), residual, rank, _ = np.linalg.lstsq(a, -dw[ok], rcond=None)
        if rank == 2 and residual.size and residual[0] < best[0]:
            best = (float(residual[0]), float(delta), eps)
    estimate = float(min(1.0, max(0.5, 1 - best[1])))
    if not rounded:
        return estimate
    return _rounded_decay_estimate(p[ok], p[ok] + dw[ok], m[ok] / (s[ok] + best[2]), estimate)


ROUNDED_DECAY_REACH = 2.0**-6
"""How far from the least-squares estimate :func:`_rounded_decay_estimate` looks (measured: 1.4e-3
off on a for-loop cosine schedule, wd 0.3)."""
ROUNDED_DECAY_GRID = 2.0**-14
"""Its grid of decay factors (a quarter of the count scan's half-window, 2^-10 = DECAY_WINDOW/2)."""


def _rounded_decay_estimate(p: np.ndarray, w_next: np.ndarray, q: np.ndarray, estimate: float) -> float:
    """The decay factor near ``estimate`` whose bf16-rounded decayed W, ``W1 = bf16(p*d)``, lets
    one step size c explain the rest of the move best: the least residual of ``W[t] - W1 = -c*q``,
    the middle of the grid values that reach it.

    Why not the least-squares d alone: on for-loop and foreach ``param.mul_(1 - lr*wd)`` rounds to
    bf16 before the update, so a decay smaller than half an ulp of W moves W by a whole ulp or by
    nothing, and W[t] - W[t-1] carries a staircase of d, not d: the fit of the sum reads the
    staircase (seen: for-loop cosine, wd 0.3, lr 0.0123, from step 5: 0.99475 for a true 0.99631,
    outside the count scan's window; this gives 0.99634).  Each d on the grid is evaluated on
    every element (float32 product, then bf16: the decay op up to its scalar's conveyance)."""
    lo, hi = max(DECAY_RANGE[0], estimate - ROUNDED_DECAY_REACH), min(1.0, estimate + ROUNDED_DECAY_REACH)
    grid = np.arange(hi, lo - ROUNDED_DECAY_GRID / 2, -ROUNDED_DECAY_GRID)
    qq = float(q @ q)
    if not grid.size or qq == 0.0 or not np.isfinite(qq):
        return estimate
    decayed = bits.round_to_bf16(p.astype(np.float32)[None, :] * grid.astype(np.float32)[:, None])
    rest = w_next[None, :] - decayed.astype(np.float64)  # (grid, elements): the move the update made
    c = -(rest @ q) / qq
    residual = np.sum((rest + c[:, None] * q[None, :]) ** 2, axis=1)
    best = grid[residual <= residual.min() * (1 + 1e-12)]
    return float(np.median(best))


def _bc2_label(scalars: dict[str, S]) -> str:
    """How the program reads the second bias correction: ``bc2_sqrt`` (divides by it) or
    ``1/bc2_sqrt`` (CUDA's single-tensor ``tensor / s`` multiplies by a double reciprocal).
    Either rises monotonically to 1.0 with the step count."""
    return "bc2_sqrt" if "bc2_sqrt" in scalars else "1/bc2_sqrt"


def _step_label(prog: Program) -> str:
    labels = scalar_labels(prog)
    return "-step_size" if "-step_size" in labels else "step_size"


def _step_opening(prog: Program) -> dict[str, Expr]:
    """The step size opened as ``__c``, positive: the scalar torch adds (``-step_size``, CUDA
    foreach's negative ``step_size``) becomes ``-__c``, one it subtracts (CUDA fused's positive
    ``step_size``: ``param - step_size*m/denom``) ``__c``; the two give the same bits (negation
    is exact)."""
    label = _step_label(prog)
    return {label: neg(T("__c")) if scalar_labels(prog)[label].value < 0 else T("__c")}


def _decay_opening(prog: Program) -> tuple[dict[str, Expr], str]:
    """The decay opened as ``__d``, the factor ``d = 1 - lr*wd`` in [0.5, 1], and the label that
    says how it reaches the kernel.  CUDA fused reads lr and wd apart (``fma(p, -(lr*wd), p)``,
    k = f32(f32(lr)*f32(wd))): there ``lr`` becomes ``1 - __d`` (exact in float32 for d in
    [0.5, 1]) and ``wd`` one, so d stands for k on the grid of 2^-24 float32 d has near 1.
    That grid is coarser than k's own float32 values: a k interval narrower than 2^-24 holds
    no d (see README, Not yet done)."""
    labels = scalar_labels(prog)
    if "1-lr*wd" in labels:
        return {"1-lr*wd": T("__d")}, "1-lr*wd"
    return {"lr": subtract(S("1", 1.0), T("__d")), "wd": S("1", 1.0)}, "lr"


def _open_step(rcp: Recipe, h: Hyper, step: float, capability: str, extra: dict | None = None):
    """The path's program at ``step`` with the W scalars opened: ``__c`` the (positive) step size,
    ``__e`` eps, ``__d`` the decay factor ``1-lr*wd`` (built with a decay so the op exists), plus
    ``extra``.  Returns (program, opened, how eps reaches the kernel, how the decay does)."""
    prog = rcp.build(replace(h, weight_decay=1.0, lr=1.0), step, capability)
    decay, decay_label = _decay_opening(prog)
    opened = substitute(prog, {**_step_opening(prog), "eps": T("__e"), **decay, **(extra or {})})
    return prog, opened, _conveyed(prog, "eps"), _conveyed(prog, decay_label)


def fit_step(
    sd: StepData,
    rcp: Recipe,
    capability: str,
    h: Hyper,
    step: float,
    numel: int,
    d_hint: float | None = None,
    fixed: tuple[float, float] | None = None,
    plain_only: bool = False,
    e_hint: tuple[float, ...] = (),
    all_three: bool = True,
    eps_held: bool = False,
    eps_searched: bool = False,
) -> StepFit | None:
    """Step size, eps and decay factor intervals that reproduce W[t] at this step.

    Cheapest first: eps one of the guesses (``e_hint``, what an earlier step found, first) with
    no decay or a guessed one; then step size and decay solved together for each eps guess; then
    (no guess is eps) step size and eps together; then (``all_three``) all three unknown.
    ``eps_held``: eps is one of ``e_hint``, never searched (a failing fit costs a fraction).
    ``eps_searched`` (with ``fixed``): the eps interval at the step size found, not the point."""
    prog, opened, conv_eps, conv_decay = _open_step(rcp, h, step, capability)
    inputs = _widen(sd.state)
    where = {k: v[sd.flat] for k, v in rcp.positions(capability, numel, 1).items()}
    target = sd.want["param"]
    n = target.size

    def full(x: float) -> np.ndarray:
        return np.full(n, x, np.float32)

    def search(var: str, fixed: dict[str, np.ndarray], lo: float, hi: float, conv=None) -> Interval | None:
        value = (lambda x, _: conv(x)) if conv else None
        return _interval_on(opened, inputs, where, "param", target, var, fixed, lo, hi, value)

    one = full(1.0)
    if fixed is not None:  # eps and decay settled across steps: only the step size is left
        e_val, d_val = fixed
        c = search("__c", {"__e": conv_eps(full(e_val)), "__d": conv_decay(full(d_val))}, 1e-30, 1e3)
        if c is None:
            return None
        e_iv = Interval(e_val, e_val)
        if eps_searched:
            e_iv = search("__e", {"__c": full(c.mid()), "__d": conv_decay(full(d_val))}, 1e-38, 1.0, conv_eps) or e_iv
        return StepFit(sd.index, c, e_iv, Interval(d_val, d_val))
    # A starting point by least squares (then everything is re-derived exactly by bisection):
    # W[t] - W[t-1] ~ -p*(1-d) - c*m/(sqrt(v/bc2) + eps), from the recorded bf16 m[t], v[t].
    d0 = conv_decay(full(_decay_estimate(sd, h, step)))
    hint = conv_decay(full(d_hint)) if d_hint is not None else d0
    c = None
    guesses = tuple(dict.fromkeys((*e_hint, *(() if eps_held else EPS_GUESSES))))
    for e_guess in guesses:
        e = conv_eps(full(e_guess))
        for d in (one, hint, d0):  # no decay first: the common case, and a decay the bits cannot see
            c = search("__c", {"__e": e, "__d": d}, 1e-30, 1e3)
            if c is not None:
                break
        if c is not None:
            break
    if c is None and plain_only:
        return None
    bc2_label = _bc2_label(scalar_labels(prog))
    bc2 = np.full(n, float(scalar_labels(prog)[bc2_label].kernel_value))
    slope, e_effect = _eps_slope(sd.want, bc2, bc2_label == "1/bc2_sqrt")

    def step_and_eps(d: np.ndarray) -> tuple[Interval, np.ndarray] | None:
        ended: list[float] = []
        found = joint_interval(
            opened, inputs, where, "param", target, {"__d": d}, "__c", (1e-30, 1e3), "__e", EPS_RANGE,
            conv_eps, slope, e_effect, ended=ended,
        )  # fmt: skip
        # The bisection can lose its way on a plateau of the closest pair's gap and stop beside
        # eps (seen: CUDA for-loop, eps 3e-5, 3649 elements: eps in [2.99960e-5, 3.00035e-5],
        # the bisection ended at 3.016e-5, every later count too): the simplest values near
        # where it ended, each with the step size searched alone (what a person typed)
        for width in (0.05, 0.01) if found is None and ended else ():
            e_near = conv_eps(full(simplest_in(ended[-1] * (1 - width), ended[-1] * (1 + width))))
            c_near = search("__c", {"__e": e_near, "__d": d}, 1e-30, 1e3)
            if c_near is not None:
                return c_near, e_near
        return found

    # no guess is eps: step size and eps together (a joint search each), at a decay an earlier step
    # found (the decay factor of a constant lr is one for every step), then at none
    for d_try in ((hint,) if d_hint is not None and d_hint < 1.0 else ()) + (one,):
        found = step_and_eps(d_try) if c is None and not eps_held else None
        if found is not None:
            (c, e), d = found, d_try
    if c is None:
        # the decay is visible and the guesses miss it: solve step size and decay together (an
        # earlier step's decay and eps missed: only at its eps, then all three unknown)
        for guess in e_hint if d_hint is not None and e_hint else guesses:
            e = conv_eps(full(guess))
            c, d = _joint_step_and_decay(
                sd, opened, inputs, where, target, e, conv_decay, h, step, stepped=rcp.impl != "fused"
            )
            if c is not None:
                break
    if c is None and d_hint is None and not eps_held:  # no guess is eps, and a decay: step size and eps at the estimate
        found = step_and_eps(hint)
        if found is not None:
            (c, e), d = found, hint
    # all three unknown, a decay factor that reaches the kernel as bf16 (foreach): it takes few
    # values near 1 (1 - k*2^-8), so step size and eps at each, nearest the estimate first (seen:
    # foreach, eps 2e-4, wd 0.3: the bisection on eps lost its way, 16 s; at 1 - 2^-8, 0.07 s)
    bf16_tries = _bf16_decays_near(float(d0[0])) if _rounds_to_bf16(conv_decay) else []
    enumerated = bool(bf16_tries)
    if c is None and all_three and not eps_held and enumerated:
        for d_try in bf16_tries:
            found = step_and_eps(full(d_try))
            if found is not None:
                (c, e), d = found, full(d_try)
                break
    # all three unknown (seen: eps 1e-3 fitted at another count than the true one)
    if c is None and all_three and not eps_held and not enumerated:
        p, q, _ = _ls_terms(sd, h, step)
        with np.errstate(all="ignore"):
            d_slope = np.where(q != 0, p / q, 0.0)
        found3 = _decay_and_eps(
            opened, inputs, where, target, conv_eps, conv_decay, (d_slope, np.sign(p)), (slope, e_effect), (1e-30, 1e3)
        )
        if found3 is not None:
            c, d, e = found3
    if c is None:
        return None
    cm = full(c.mid())
    eps = search("__e", {"__c": cm, "__d": d}, 1e-38, 1.0, conv_eps) or Interval(float(e[0]), float(e[0]))
    em = conv_eps(full(_prefer_eps(eps)))
    decay = search("__d", {"__c": cm, "__e": em}, *DECAY_RANGE, conv_decay) or Interval(1.0, 1.0)
    dm = conv_decay(full(decay.mid() if decay.hi < 1.0 else 1.0))
    c = search("__c", {"__e": em, "__d": dm}, 1e-30, 1e3) or c
    return StepFit(sd.index, c, eps, decay)


def fit_pooled(
    steps: list[StepData],
    rcp: Recipe,
    capability: str,
    h: Hyper,
    offset: int,
    numel: int,
    unknowns: str = "plain",
    eps_first: tuple[float, ...] = (),
    held_decay: float = 1.0,
) -> tuple[Interval, Interval, Interval, tuple[Interval, Interval, Interval] | None] | None:
    """One lr, eps and decay factor for every step at once (constant lr: the common case).

    The per-step scalars (the step size ``f32(lr / (1 - beta1^step))`` and ``sqrt(1 - beta2^step)``)
    are opened up per element, so one program replays every sampled element of every step and
    lr is a single search variable.  Step size and decay trade off (W ~ p*d - c*q): they are
    solved together (:func:`joint_interval`), then eps, then each again with the others fixed.
    ``unknowns`` says what is solved with lr, cheapest first: "plain" (no visible decay, eps one
    of EPS_GUESSES: a few searches), "eps" (no visible decay, eps anywhere: a joint search),
    "decay" (a visible decay, eps one of the guesses: a joint search per guess), "decay+eps"
    (both: a bisection on eps, each probe a joint search whose failure says which way eps goes),
    "lr" (lr alone, at eps ``eps_first[0]`` and decay factor ``held_decay``: another count's lr).
    ``eps_first``: eps values "plain" and "decay" try before EPS_GUESSES (a smaller sample's
    answer), and "eps" before its joint search (a count scan's: seen, for-loop, eps 2e-4, from
    step 11, the joint search failing at the count the scan kept).  Returns (lr, eps, decay)
    intervals, lr's of doubles, each holding the others at one point; and, where lr was solved
    with eps or the decay, the same three widened along the ridges of values that replay the
    elements (:func:`_along_ridges`), else None."""
    bc2 = _bc2_label(scalar_labels(rcp.build(h, 1.0 + offset, capability)))
    axis = _decay_axis(rcp)  # (``__d`` below is this axis's variable: d, or CUDA fused's k)
    extra = {bc2: T("__b"), **dict(axis.opening)}
    _, opened, conv_eps, conv_decay = _open_step(rcp, h, 1.0 + offset, capability, extra)
    inputs = _widen(_stack(steps, "state"))
    target = _stack(steps, "want")["param"]
    flat = np.concatenate([sd.flat for sd in steps])
    where = {k: v[flat] for k, v in rcp.positions(capability, numel, 1).items()}
    counts = np.concatenate([np.full(sd.flat.size, float(sd.index + offset)) for sd in steps])
    bc1 = bias_correction1(rcp, h.beta1, counts)
    b2s = np.array(
        [scalar_labels(rcp.build(h, float(sd.index + offset), capability))[bc2].kernel_value for sd in steps]
    )
    inputs["__b"] = np.concatenate([np.full(sd.flat.size, b, np.float32) for sd, b in zip(steps, b2s, strict=True)])
    n = target.size

    def full(x: float) -> np.ndarray:
        return np.full(n, x, np.float32)

    def c_at(lr: Interval) -> np.ndarray:  # every element's step size at the lr in the middle
        return step_size(np.full(n, lr.real_mid()), bc1)

    def search(var: str, fixed: dict[str, np.ndarray], lo: float, hi: float, conv=None, rows=None) -> Interval | None:
        value = (lambda x, _: conv(x)) if conv else None
        return _interval_on(
            opened, inputs, where, "param", target, var, fixed, lo, hi, value, rows, bc1 if var == "__c" else None
        )

    one = full(axis.none)  # (no decay)
    lr = d = e = None
    # a subset with no lr rules the whole set out (fewer constraints): a cheap "no" first
    probe = np.sort(np.random.default_rng(0).choice(n, size=min(n, PROBE), replace=False))
    guesses = tuple(dict.fromkeys((*eps_first, *EPS_GUESSES)))
    if unknowns == "lr":
        e, d = conv_eps(full(eps_first[0])), conv_decay(full(axis.of_d(held_decay)))
        if search("__c", {"__e": e, "__d": d}, 1e-30, 1e2, rows=probe) is not None:
            lr = search("__c", {"__e": e, "__d": d}, 1e-30, 1e2)
    for guess in guesses if unknowns == "plain" else ():  # no visible decay: a search per eps guess
        e = conv_eps(full(guess))
        if search("__c", {"__e": e, "__d": one}, 1e-30, 1e2, rows=probe) is None:
            continue
        lr, d = search("__c", {"__e": e, "__d": one}, 1e-30, 1e2), one
        if lr is not None:
            break
    if unknowns not in ("plain", "lr"):  # the eps search's and the ridge walk's per-element order
        e_slope, e_effect = _eps_slope(_stack(steps, "want"), inputs["__b"], bc2 == "1/bc2_sqrt")
    if unknowns in ("decay", "decay+eps"):  # W ~ p*d - c*q: the c an element allows moves with d at p/q
        p, q, _ = _ls_terms(StepData(-1, _stack(steps, "state"), _stack(steps, "want"), flat), h, 1.0 + offset)
        with np.errstate(all="ignore"):
            slope = np.where(q != 0, p / q * bc1, 0.0) * axis.sign  # in lr: c = lr/bc1
        effect = np.sign(p) * axis.sign

    # a scan's eps: lr alone at it first, then at the one-digit values near it (what a person
    # typed; the scan's few elements leave it loose: seen, foreach, eps 2e-4, from step 3, the
    # for-loop scan's 2.86e-4, and the joint search, within 16x of it or over the whole range,
    # lost its way: no answer in 180 s)
    def lr_alone(eps_values: Iterable[float]) -> tuple[Interval | None, np.ndarray | None]:
        """lr alone at each eps (no decay), the probe's cheap "no" first: the first that fits."""
        for guess in eps_values:
            e_try = conv_eps(full(guess))
            if search("__c", {"__e": e_try, "__d": one}, 1e-30, 1e2, rows=probe) is not None:
                found = search("__c", {"__e": e_try, "__d": one}, 1e-30, 1e2)
                if found is not None:
                    return found, e_try
        return None, None

    if unknowns == "eps":
        lr, e = lr_alone(_typed_near(eps_first))
        d = one if lr is not None else d
    # no guess is eps: lr and eps together (the c an element allows moves with e); first within
    # 16x of a scan's eps (the scan's few elements can leave it off: seen, for-loop, eps 2e-4,
    # from step 11, the scan's 1.45e-4; over the whole range the search, steered by bf16 steps
    # of the pair's gap, lost its way), then over the whole range
    near = [(max(x / 16, EPS_RANGE[0]), min(x * 16, EPS_RANGE[1])) for x in eps_first]
    for eps_range in (*near, EPS_RANGE) if unknowns == "eps" and lr is None else ():
        found = joint_interval(
            opened, inputs, where, "param", target, {"__d": one}, "__c", (1e-30, 1e2), "__e", eps_range,
            conv_eps, e_slope, e_effect, bc1=bc1,
        )  # fmt: skip
        if found is not None:
            (lr, e), d = found, one
            break
    if unknowns == "eps" and lr is None:
        # the pooled joint search can lose its way where one step's alone does not (its own lr:
        # fewer conflicts to steer by; seen: `--draw cuda-lerp` seed 206, CUDA foreach, lr 3e-4,
        # eps 3e-5, wd 0.3 unseen, from step 2, 275x27: no pooled joint search found count 2,
        # the first step alone gave eps in [2.998e-5, 3.004e-5], and the schedule phase found the
        # one lr after 215 s): the first step's eps, then the typed values near it, lr alone at each
        # (or where its bisection ended: fit_step's own way back, as there)
        first, ended = np.arange(steps[0].flat.size), []
        part = lambda v: v[first] if np.ndim(v) == 1 and len(v) == n else v  # noqa: E731
        alone = joint_interval(
            opened, {k: part(v) for k, v in inputs.items()}, {k: part(v) for k, v in where.items()}, "param",
            target[first], {"__d": one[first]}, "__c", (1e-30, 1e2), "__e", EPS_RANGE, conv_eps, e_slope[first],
            e_effect[first], bc1=bc1[first], ended=ended,
        )  # fmt: skip
        lr, e = lr_alone(_typed_near((float(alone[1][0]),) if alone is not None else tuple(ended[-1:])))
        d = one if lr is not None else d

    # a decay factor that reaches the kernel as bf16 (foreach) takes few values near 1 (1 - k*2^-8):
    # each is tried, nearest the steps' least-squares estimate first, as fit_step does
    def decay_estimated() -> float:  # the steps' median least-squares decay (a few lstsq each)
        return float(np.median([_decay_estimate(sd, h, float(sd.index + offset)) for sd in steps]))

    estimate, bf16_tries = 1.0, []
    if unknowns in ("decay", "decay+eps") and _rounds_to_bf16(conv_decay):
        estimate = decay_estimated()
        bf16_tries = _bf16_decays_near(estimate)
    for guess, d_try in itertools.product(guesses, bf16_tries) if unknowns == "decay" else ():
        # lr alone at each eps guess and decay value (the subset's "no" first: ~0.01 s each;
        # the joint lr-decay searches took ~5 s per count, seen: foreach, lr 0.03, wd 0.3)
        fixed = {"__e": conv_eps(full(guess)), "__d": full(d_try)}
        if search("__c", fixed, 1e-30, 1e2, rows=probe) is not None:
            lr = search("__c", fixed, 1e-30, 1e2)
            if lr is not None:
                e, d = fixed["__e"], fixed["__d"]
                break
    # the joint lr-decay search, unless every bf16 value near a well-inside estimate has failed
    # (a factor further from 1 than 1 - 8*2^-8 would put the estimate below 1 - 4*2^-8)
    exhausted = bool(bf16_tries) and estimate >= 1 - 4 * 2.0**-8
    if unknowns == "decay" and lr is None and not exhausted:  # decay visible: lr and decay together
        for guess in guesses:
            e = conv_eps(full(guess))
            found = joint_interval(
                opened, inputs, where, "param", target, {"__e": e}, "__c", (1e-30, 1e2), "__d", (axis.lo, axis.hi),
                conv_decay, slope, effect, bc1=bc1,
            )  # fmt: skip
            if found is not None:
                lr, d = found
                break
    if unknowns == "decay" and lr is None and not bf16_tries:
        # the joint bisection can lose its way where its subsample's conflicts mislead it (seen:
        # CPU fused, lr 0.01, wd 0.3, eps 3e-5, 93368 elements: none on every element, the truth
        # replays them): lr alone at the decays 1 - k of typed products k = lr*wd near the
        # least-squares estimate, at the eps tried first (~0.1 s each on the subsample)
        for guess, k in itertools.product(guesses[:1], _typed_products_near(1 - decay_estimated())):
            fixed = {"__e": conv_eps(full(guess)), "__d": conv_decay(full(axis.of_d(1 - k)))}
            if search("__c", fixed, 1e-30, 1e2, rows=probe) is not None:
                lr = search("__c", fixed, 1e-30, 1e2)
                if lr is not None:
                    e, d = fixed["__e"], fixed["__d"]
                    break
    for d_try in bf16_tries if unknowns == "decay+eps" else ():
        # lr and eps together at each bf16 decay value (seen: foreach, lr 0.03, wd 0.3, eps
        # 3e-5, from step 3: the bisection on eps lost its way at the true count)
        found = joint_interval(
            opened, inputs, where, "param", target, {"__d": full(d_try)}, "__c", (1e-30, 1e2), "__e", EPS_RANGE,
            conv_eps, e_slope, e_effect, bc1=bc1,
        )  # fmt: skip
        if found is not None:
            (lr, e), d = found, full(d_try)
            break
    if unknowns == "decay+eps" and lr is None:  # decay visible and no guess is eps
        found3 = _decay_and_eps(opened, inputs, where, target, conv_eps, conv_decay, (slope, effect),
                                (e_slope, e_effect), (1e-30, 1e2), bc1, (axis.lo, axis.hi))  # fmt: skip
        if found3 is not None:
            lr, d, e = found3
    if lr is None:
        return None
    if unknowns in ("eps", "decay+eps"):
        # eps solved with lr lies on a ridge of values that replay every element (a larger eps
        # with a larger lr); a user's eps is a round number: move along the ridge to the eps
        # with fewest digits near the one found that still replays, so the intervals, which hold
        # the other values fixed, are taken through it
        found_e = float(e[0])
        for digits in (1, 2, 3):
            e_try = conv_eps(full(float(f"{found_e:.{digits - 1}e}")))
            if e_try[0] == e[0]:
                break
            if unknowns == "eps":
                alt = search("__c", {"__e": e_try, "__d": one}, 1e-30, 1e2)
                alt_found = (alt, one) if alt is not None else None
            else:
                alt_found = joint_interval(
                    opened, inputs, where, "param", target, {"__e": e_try}, "__c", (1e-30, 1e2), "__d",
                    (axis.lo, axis.hi), conv_decay, slope, effect, bc1=bc1,
                )  # fmt: skip
            if alt_found is not None:
                (lr, d), e = alt_found, e_try
                break
    eps = search("__e", {"__c": c_at(lr), "__d": d}, 1e-38, 1.0, conv_eps)
    eps = eps or Interval(float(e[0]), float(e[0]))
    e = conv_eps(full(_prefer_eps(eps)))
    decay = search("__d", {"__c": c_at(lr), "__e": e}, axis.lo, axis.hi, conv_decay) or Interval(axis.none, axis.none)
    d = conv_decay(full(decay.mid() if axis.visible(decay) else axis.none))
    lr = search("__c", {"__e": e, "__d": d}, 1e-30, 1e2) or lr
    wide = None
    if unknowns == "plain" and eps.lo < eps.hi:
        # an eps guess that replays is a point of eps's interval: the lr interval at it a slice,
        # and the truth's eps can lie elsewhere in it with an lr beside the slice (seen: foreach,
        # eps 1e-12 in [1e-38, 2.2e-8], lr 2e-6 outside the slice [2.0084e-6, 2.0114e-6] at the
        # guess 1e-8): walked along eps like the searches that solve it
        e_slope, _ = _eps_slope(_stack(steps, "want"), inputs["__b"], bc2 == "1/bc2_sqrt")
    if unknowns != "lr" and (unknowns != "plain" or eps.lo < eps.hi):
        # the walk's elements: those that bind lr at the point (narrowest intervals) and those eps
        # moves most (smallest sqrt(v)/bc2_sqrt): a random subsample misses them and walks too far
        lows, highs, _side = element_intervals(
            opened, inputs, where, "param", target, lambda x: {"__e": e, "__d": d, "__c": x}, 1e-30, 1e2, bc1
        )
        rows = np.union1d(np.argsort(highs - lows, kind="stable")[:PROBE], np.argsort(-e_slope, kind="stable")[:PROBE])
        lr_wide, eps_wide, decay_wide = _along_ridges(opened, inputs, where, target, rows, bc1, conv_eps,
                                                      conv_decay, lr, eps, decay, e, d, (axis.lo, axis.hi))  # fmt: skip
        wide = lr_wide, eps_wide, axis.as_d(decay_wide)
    return lr, eps, axis.as_d(decay), wide


TYPED_PRODUCT_SPAN = 1.2
"""How far (a factor) from the least-squares estimate :func:`_typed_products_near` looks (measured:
1 - d estimated 0.00293 for 0.003, CPU fused, lr 0.01, wd 0.3)."""


def _typed_products_near(k: float) -> list[float]:
    """The decimals of one or two significant digits (an lr times a weight decay a person typed:
    0.01 * 0.3, 2.5e-4 * 0.1) within TYPED_PRODUCT_SPAN of ``k`` > 0, nearest (in ratio) first."""
    if not 0 < k < 1:
        return []
    return sorted(_decimals_in(k / TYPED_PRODUCT_SPAN, k * TYPED_PRODUCT_SPAN, 2), key=lambda v: abs(math.log(v / k)))


def _typed_near(values: tuple[float, ...], factor: float = 2.0, most: int = 6) -> tuple[float, ...]:
    """Each of ``values``, then the one-digit decimals (1e-4, 2e-4, ...) within ``factor`` of it,
    nearest (in ratio) first, at most ``most`` of them per value."""
    out: list[float] = []
    for x in values:
        out.append(x)
        if x > 0:
            out += sorted(_one_digit_in(x / factor, x * factor), key=lambda v: abs(math.log(v / x)))[:most]
    return tuple(dict.fromkeys(out))


def _decimals_in(lo: float, hi: float, digits: int) -> list[float]:
    """The decimals ``k * 10^e`` of at most ``digits`` significant digits (what a person types:
    2e-4, 0.9602) in [lo, hi], 0 < lo, ascending."""
    out: set[float] = set()
    for decade in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):  # values in [10^d, 10^(d+1))
        place = decade - digits + 1  # the last digit's place value 10^place
        first, last = 10 ** (digits - 1), 10**digits - 1
        for k in range(max(first, math.floor(lo / 10.0**place)), min(last, math.ceil(hi / 10.0**place)) + 1):
            if lo <= (v := float(f"{k}e{place}")) <= hi:
                out.add(v)
    return sorted(out)


def _one_digit_in(lo: float, hi: float) -> list[float]:
    """The one-digit decimals ``m * 10^k`` (what a person types: 2e-4, 3e-5) in [lo, hi], 0 < lo,
    ascending."""
    return _decimals_in(lo, hi, 1)


def _one_digit_near_middle(lo: float, hi: float) -> list[float]:
    """:func:`_one_digit_in` [lo, hi], nearest its middle first (what a person types, for an
    interval the bits barely bound), from hi/1000 up: no lower value ranks among the first
    dozens (the decades above hold 27 nearer the middle)."""
    middle = (lo + hi) / 2
    return sorted(_one_digit_in(max(lo, hi * 1e-3), hi), key=lambda x: abs(x - middle))


def _convex_floor(xs: list[float], ys: list[float]) -> float:
    """A lower bound of min f on [xs[0], xs[-1]] for a convex f sampled at increasing ``xs``.

    The minimum lies in the brackets beside the lowest sample x_j.  On a bracket [x_a, x_b] f lies
    above the chord (x_{a-1}, x_a) extended right and the chord (x_b, x_{b+1}) extended left (a
    convex function lies above every chord extended past its ends), so above their upper
    envelope there, whose lowest point is where they meet or at a bracket end::

          f(x)  .                     .
                  L .             . R
                      .   ___   .          min f >= max(L, R) at its lowest point
                        .  v  .
                   x_{a-1}  x_a    x_b  x_{b+1}

    A bracket with one chord: that chord's lower end there; with none (three samples or fewer
    beside it): no bound beyond the samples'."""
    n = len(xs)
    j = min(range(n), key=ys.__getitem__)

    def line(a: int, b: int) -> Callable[[float], float]:
        return lambda x: ys[a] + (ys[b] - ys[a]) * (x - xs[a]) / (xs[b] - xs[a])

    floor = ys[j]
    for a, b in ((j - 1, j), (j, j + 1)):
        if a < 0 or b >= n:
            continue
        chords = [line(a - 1, a)] if a >= 1 else []
        chords += [line(b, b + 1)] if b + 1 < n else []
        if not chords:
            continue
        points = [xs[a], xs[b]]
        if len(chords) == 2:  # where they meet, if inside the bracket
            (la, lb), (ra, rb) = (a - 1, a), (b, b + 1)
            sl, sr = (ys[lb] - ys[la]) / (xs[lb] - xs[la]), (ys[rb] - ys[ra]) / (xs[rb] - xs[ra])
            if sl != sr:
                meet = (ys[ra] - ys[la] + sl * xs[la] - sr * xs[ra]) / (sl - sr)
                points += [meet] if xs[a] < meet < xs[b] else []
        floor = min(floor, min(max(c(x) for c in chords) for x in points))
    return floor


RIDGE_SAMPLES = 5
"""Values across a schedule's eps or wd interval (ends included) at which each step's lrs are
found, to bound the lowest and highest lr some value inside allows (:func:`_coupled_schedule`)."""


def _spanned_lrs(
    ends: tuple[float, float], point: float, point_lrs: list[tuple[float, float]],
    lrs_at: Callable[[float], list[tuple[float, float]] | None], samples: int = RIDGE_SAMPLES,
    reach: tuple[float, float] | None = None,
) -> list[tuple[float, float]]:  # fmt: skip
    """Per step of a schedule, the lowest and highest lr some value of a partner (eps, or wd with
    eps held) inside ``ends`` allows, from the lrs at ``point`` (``point_lrs``) and ``lrs_at``
    ``samples`` values across them (None: none there).  Each element bounds the step size c by
    a line in eps (c*m/(s + e) in W's rounding interval) and in k = lr*wd (p*(1 - k) - c*u), so a
    step's lowest lr is convex in either (its highest concave) and can be lowest inside: bounded
    between the samples by :func:`_convex_floor` (seen: CUDA fused warmup, wd 0.01 in [0.00983,
    0.01009]: the lrs at its ends and at the slice 0.00994 all above the truth's 0.0066666667,
    the lowest near 0.01001).  ``reach``: outer ends of the partner's interval past ``ends``
    (:func:`_reach`), bounded beyond the samples by :func:`_convex_reach`."""
    xs = np.linspace(*ends, samples).tolist() if ends[0] < ends[1] else []
    sampled = sorted([(point, point_lrs), *((x, lrs_at(x)) for x in xs if x != point)])
    sampled = [(x, at_x) for x, at_x in sampled if at_x is not None]
    xs = [x for x, _ in sampled]
    lo, hi = reach if reach is not None else (xs[0], xs[-1])

    def floor(ys: list[float]) -> float:
        return min(_convex_floor(xs, ys), _convex_reach(xs, ys, lo, hi))

    # (an lr is positive: a chord extended below 0 bounds nothing)
    return [
        (max(0.0, floor([at_x[i][0] for _, at_x in sampled])), -floor([-at_x[i][1] for _, at_x in sampled]))
        for i in range(len(point_lrs))
    ]


def _convex_reach(xs: list[float], ys: list[float], lo: float, hi: float) -> float:
    """A lower bound of min f on [lo, xs[0]] and [xs[-1], hi] for a convex f sampled at
    increasing ``xs`` (lo <= xs[0], xs[-1] <= hi): there f lies above the chord through the two
    samples nearest, extended (a convex function lies above every chord extended past its ends),
    a line, lowest at an end::

          f(x)  .  .               <- f, above the chord's extension
                   o---o
              lo  x0   x1  ...

    With one sample, that sample (no bound beyond it)."""
    floor = min(ys)
    if len(xs) >= 2:
        for x, (a, b) in ((lo, (0, 1)), (hi, (-2, -1))):
            floor = min(floor, ys[a] + (ys[b] - ys[a]) * (x - xs[a]) / (xs[b] - xs[a]))
    return floor


def _farthest(
    start: float, limit: float, at: Callable[[float], tuple[float, float] | None], within: int = 1
) -> tuple[float, tuple[float, float] | None]:
    """The float32 value between ``start`` (allowed) and ``limit`` farthest from start that is
    allowed (``at(x)`` not None; the allowed values along a line form one interval), with its
    ``at``; to ``within`` float32 values of it (on its inner side)."""
    end, got, _ = _reach(start, limit, at, within)
    return end, got


def _reach(
    start: float, limit: float, at: Callable[[float], tuple[float, float] | None], within: int = 1
) -> tuple[float, tuple[float, float] | None, float]:
    """:func:`_farthest`, and past it the nearest value found not allowed (``limit`` where that is
    allowed), at most ``within`` float32 values out: every allowed value between start and limit
    lies between start and that outer end.  (``at`` of the inner end: None where that is
    ``start``, which is not probed.)  Each probe halves the bracket, so ``within`` 2^k saves the
    last k probes, the costliest: near the end ``at`` passes every step before it fails."""
    good, bad = _f32_int(start), _f32_int(limit)
    best = at(limit)
    if best is not None:
        return limit, best, limit
    while abs(bad - good) > within:
        mid = (good + bad) // 2
        got = at(float(_int_f32(np.array([mid]))[0]))
        if got is not None:
            good, best = mid, got
        else:
            bad = mid
    return float(_int_f32(np.array([good]))[0]), best, float(_int_f32(np.array([bad]))[0])


EPS_REACH = 1 << 13
"""The float32 values (2^-10 relative) to which a schedule's eps walk brackets each end
(:func:`_coupled_schedule`): to one value, ~30 probes a side, 52 of 132 s in the three slowest
identify tests; to these, half as many probes."""


def _slice_on(
    opened: Program, inputs: dict[str, np.ndarray], where: dict, output: str, target: np.ndarray,
    bind: Callable[[np.ndarray], dict[str, np.ndarray]], lo: float, hi: float, bc1: np.ndarray | None = None,
) -> tuple[float, float] | None:  # fmt: skip
    """The values of a search variable every element allows (the intersection of
    :func:`element_intervals`; ``bc1``: an lr), as floats, or None; not re-checked at the ends."""
    lows, highs, side = element_intervals(opened, inputs, where, output, target, bind, lo, hi, bc1)
    if np.any(side != 0) or lows.max() > highs.min():
        return None
    return _value_of(int(lows.max()), bc1 is not None), _value_of(int(highs.min()), bc1 is not None)


def _along_ridges(
    opened: Program,
    inputs: dict[str, np.ndarray],
    where: dict,
    target: np.ndarray,
    rows: np.ndarray,
    bc1: np.ndarray,
    conv_eps: Callable[[np.ndarray], np.ndarray],
    conv_decay: Callable[[np.ndarray], np.ndarray],
    lr: Interval,
    eps: Interval,
    decay: Interval,
    e: np.ndarray,
    d: np.ndarray,
    d_range: tuple[float, float] = DECAY_RANGE,
) -> tuple[Interval, Interval, Interval]:
    """Widen slices toward projections where lr trades off with the decay factor or eps.

    The intervals found hold the other values fixed (slices through one point).  When two values
    were solved together, the set that replays every element is a thin slanted region and the
    true values can lie beside the slice.  From the point, walk along the decay (eps held) and
    along eps (decay held) to the farthest values for which some lr still reproduces the elements
    ``rows`` (bisection, the set being convex along a line), and take the hull of the lr slices
    there.  On a subsample this is an outer bound: every value the whole set allows is inside."""
    sub = {k: v[rows] for k, v in inputs.items()}
    sub_where = {k: v[rows] for k, v in where.items()}
    goal = target[rows]
    e_sub, d_sub = e[rows], d[rows]

    def lr_slice(e_val: np.ndarray, d_val: np.ndarray) -> tuple[float, float] | None:
        def bind(x: np.ndarray) -> dict[str, np.ndarray]:
            return {"__e": e_val, "__d": d_val, "__c": x}

        return _slice_on(opened, sub, sub_where, "param", goal, bind, 1e-30, 1e2, bc1[rows])

    lows, highs = [lr.lo], [lr.hi]
    full = lambda x: np.full(rows.size, x, np.float32)  # noqa: E731

    def at_decay(e_val: np.ndarray) -> Callable[[float], tuple[float, float] | None]:
        """The lr slice at each decay, eps held at ``e_val``."""
        return lambda x: lr_slice(e_val, conv_decay(full(x)))

    def at_eps(d_val: np.ndarray) -> Callable[[float], tuple[float, float] | None]:
        """The lr slice at each eps, the decay held at ``d_val``."""
        return lambda x: lr_slice(conv_eps(full(x)), d_val)

    def walk(at: Callable[[float], tuple[float, float] | None], start: float, limits) -> list[float]:
        """The farthest values either side of ``start`` (toward each of ``limits``) at which
        some lr still fits, each one's lr slice kept."""
        ends = []
        for limit in limits:
            end, got = _farthest(start, limit, at)
            ends.append(end)
            if got is not None:
                lows.append(got[0])
                highs.append(got[1])
        return ends

    d0, e0 = float(d[0]), float(e[0])
    # the decay walked even from 1.0 (not visible at the point): lr absorbs a small decay, and a
    # slice at 1.0 leaves out a truth beside it (seen: fused, lr 2e-5, eps 3e-5, wd 0.05, from
    # step 3: eps 1e-8 replayed, wd [0, 0.0253] from the slice; [0, 0.18] along the ridge)
    d_ends = walk(at_decay(e_sub), d0, d_range)
    e_ends = walk(at_eps(d_sub), e0, EPS_RANGE)
    # With lr, eps and the decay all free, the values that replay form a slanted slab, and a walk
    # along each axis from one point crosses only its middle: the decay is walked again from
    # eps's two ends and eps from the decay's (points of the slab by construction).  Seen: CUDA
    # fused, lr 1e-3, eps 3e-5, wd 0.01, 1319 elements: from (eps 1e-8, decay 1 - 1.2e-5) eps
    # walked to 4.3e-5 and the decay to 1 - 1.05e-5, but 1 - 1e-5 fits only beside eps 3e-5.
    e_news = sorted({*e_ends} - {e0}) if d_ends else []  # (no visible decay: no decay walked)
    d_more = [x for end in e_news for x in walk(at_decay(conv_eps(full(end))), d0, d_range)]
    e_more = [x for end in sorted({*d_ends} - {d0}) for x in walk(at_eps(conv_decay(full(end))), e0, EPS_RANGE)]
    decay = Interval(min([decay.lo, *d_ends, *d_more]), max([decay.hi, *d_ends, *d_more]))
    eps = Interval(min([eps.lo, *e_ends, *e_more]), max([eps.hi, *e_ends, *e_more]))
    return Interval(min(lows), max(highs)), eps, decay


LATE_COUNT = 10**6
"""A step count where ``1 - beta1**count`` is 1.0 for any beta1 searched."""
SCAN_LIMIT = 100_000
"""Step counts of index 0 that the late-window scan considers."""
SCAN_CHUNK = 4096
"""Counts scanned at once: the smallest consistent count is found without scanning the rest."""
SCAN_STEPS = 8
SCAN_STAGES = (8, 64, 512, 4096)
"""Elements per scanned step in the scan's filters (most candidates fail on the first)."""
SCAN_KEEP = 512
"""Counts left after a scan stage past which the scan stops and returns them all."""
SCAN_TRIES = 12
"""Surviving counts tried with a full pooled fit, in increasing order."""


_BC2_CACHE: dict[tuple, tuple[Recipe, dict[int, float]]] = {}
BC2_TABLES = 16
"""bc2_sqrt tables kept (recipe, capability, beta2), the oldest dropped first."""


def _bc2_sqrt_by_count(rcp: Recipe, capability: str, h: Hyper, counts: range) -> dict[int, float]:
    """The kernel value of ``bc2_sqrt`` at each step count in ``counts`` (read from the recipe's
    own programs), stopping after the first count where it is 1.0 in float32: from there on every
    count builds the same program.

    Each value is built once per recipe, capability and beta2 (a program per count: the count
    scans ask for the same thousands of counts at every eps guess and path, 90 of 214 s of one
    late-window search).  bc2_sqrt = sqrt(1 - beta2^count) reads beta2 and the count alone, so
    lr, eps, beta1 and the decay are left out of the key (test_identify checks every recipe)."""
    plain = replace(h, lr=1.0, weight_decay=0.0, eps=1e-8, beta1=0.9)
    # (few tables kept: a deep scan's holds up to SCAN_LIMIT counts)
    known = by_identity(_BC2_CACHE, rcp, (capability, plain), dict, size=BC2_TABLES)
    out: dict[int, float] = {}
    for count in counts:
        if count not in known:
            scalars = scalar_labels(rcp.build(plain, float(count), capability))
            known[count] = float(scalars[_bc2_label(scalars)].kernel_value)
        out[count] = known[count]
        if out[count] == 1.0:
            break
    return out


def _scan_picks(steps: list[StepData]) -> tuple[list[StepData], list[np.ndarray]]:
    """The SCAN_STEPS steps a count scan reads, spread over the window, and each one's elements
    by how far W moved, most first (the narrowest lr intervals; moves of 2^12 ulps or more,
    NaN/Inf among them, last)."""
    spread = {round(j * (len(steps) - 1) / max(1, SCAN_STEPS - 1)) for j in range(SCAN_STEPS)}
    picked = [steps[i] for i in sorted(spread)]
    ranked = []
    for sd in picked:
        moved = np.abs(bits.ulp_distance(sd.want["param"], sd.state["param"]))
        ranked.append(np.argsort(-np.where(moved < 1 << 12, moved, 0), kind="stable"))
    return picked, ranked


def scan_step_counts(
    steps: list[StepData],
    rcp: Recipe,
    capability: str,
    h: Hyper,
    numel: int,
    eps: float | None,
    offsets: range,
    lr_per_step: bool = False,
    decayed: bool = False,
    eps_found: dict[int, float] | None = None,
) -> tuple[list[int], bool]:
    """Step counts of index 0 among ``offsets`` under which the sampled steps replay exactly with
    one lr, this eps and no visible weight decay: the candidates for a window recorded late in a
    run.  Also returns whether ``bc2_sqrt`` reached 1.0 within ``offsets`` (every later count
    replays like the last one: nothing further to scan).

    The step count reaches W only through the step size ``f32(lr / (1 - beta1^t))`` and
    ``bc2_sqrt = f32(sqrt(1 - beta2^t))``, so every count t0 of index 0 fixes both at every step
    (index i runs at count t0 + i) up to lr.  For each candidate t0 the lr interval that
    reproduces each element is searched, all candidates at once as one batch of elements (a copy
    of the same elements per candidate, with that candidate's bc2_sqrt and bias correction), and
    a candidate survives when one lr fits all of its elements.  Near the true count a bf16
    ``denom = sqrt(v) / bc2_sqrt`` (for-loop, foreach) rounds differently on some elements, so
    one lr no longer fits them all; fused (float32 throughout) separates counts more weakly, and
    counts the bits cannot tell apart all survive.  The elements are those W moved most (the
    narrowest lr intervals) on SCAN_STEPS steps spread over the window: SCAN_STAGES[0] per step
    for every candidate, then more per step for the survivors.  ``lr_per_step``: an lr schedule, one
    lr per step (the count is then seen through bc2_sqrt alone).  ``eps`` None: eps unknown too,
    bisected per candidate (:func:`_scan_eps`; ~30 times the cost), on the first two stages.
    ``decayed`` (for-loop and foreach, whose decay is its own bf16 rounding before the update):
    a visible decay, each step's factor unknown (:func:`_decay_cuts`); with eps searched too, its
    bisection steered by each part's best cut (:func:`_scan_stage`'s ``cut_steer``).
    ``eps_found`` (eps searched): filled with the eps each kept count replayed with."""
    prog = rcp.build(replace(h, lr=1.0, weight_decay=0.0), float(steps[0].index + 1), capability)
    conv_eps = _conveyed(prog, "eps")
    bc2_label = _bc2_label(scalar_labels(prog))
    opened = substitute(prog, {**_step_opening(prog), "eps": T("__e"), bc2_label: T("__b")})
    picked, ranked = _scan_picks(steps)
    first = min(sd.index for sd in picked)
    last = max(sd.index for sd in picked)
    b_of = _bc2_sqrt_by_count(rcp, capability, h, range(first + offsets.start, last + offsets.stop))
    top = max(b_of)
    saturated = b_of[top] == 1.0
    # past a saturated table every count runs with bc2_sqrt 1.0, like its last entry
    cands = np.array([o for o in offsets if first + o in b_of and (last + o in b_of or saturated)], np.int64)
    base = min(b_of)
    b_table = np.array([b_of[c] for c in range(base, top + 1)], np.float32)
    e_pat = np.full(cands.size, _f32_int(eps) if eps is not None else -1, np.int64)  # eps per candidate
    where_all = rcp.positions(capability, numel, 1)
    bf16_eps = _rounds_to_bf16(conv_eps)
    cuts = None
    if decayed:
        cuts = _decay_cuts(rcp, capability, h, picked, ranked, where_all, _decay_windows(picked, h, lr_per_step))
    # eps searched: the first two stages only (each bisects eps again for the survivors it cannot
    # keep at their last eps; fused keeps bands of counts: 651 s on a 400x10 file with all four)
    grid_open = True  # the first stage's eps grid: until a chunk of counts keeps one
    for stage, per_step in enumerate(SCAN_STAGES if eps is not None else SCAN_STAGES[:2]):
        rows = [r[:per_step] for r in ranked]
        intervals, replays, steer = _scan_stage(
            opened,
            picked,
            rows,
            where_all,
            b_table,
            base,
            lambda t: bias_correction1(rcp, h.beta1, t),
            conv_eps,
            lr_per_step,
            cuts,
        )
        span = _eps_span(picked, rows, float(b_table.min()))
        alive, alive_e = [], []
        batch = max(1, (1 << 16) // sum(r.size for r in rows))
        for start in range(0, cands.size, batch):
            cand, e_cand = cands[start : start + batch], e_pat[start : start + batch]
            known = e_cand >= 0
            last_e = e_cand.copy()
            ok = np.zeros(cand.size, bool)
            if known.any():
                ok[known] = replays(*intervals(cand[known], e_cand[known]))
            if eps is None and not ok.all():  # eps unknown: searched where the last stage's misses
                near = ~ok & known  # first the values next to the last stage's eps
                ok[near], e_cand[near] = _near_eps(intervals, replays, cand[near], e_cand[near], bf16_eps)
                retry = ~ok
                ok[retry], e_cand[retry] = _scan_eps(intervals, replays, cand[retry], steer(cand[retry]), bf16_eps)
            if eps is None and bf16_eps and not ok.all() and (stage > 0 or grid_open):
                # the bisection's moves are a heuristic: where it ends without a fit, a grid
                retry = np.nonzero(~ok)[0]
                if stage == 0:  # counts past GRID_COUNTS, and past a count kept, are not gridded
                    retry = retry[cand[retry] <= GRID_COUNTS]
                    bisected = ok.any()  # (seen: every wrong count 1..512 gridded, 10.8 s -> 28 s)
                    if bisected:
                        retry = retry[cand[retry] < cand[ok].min()]
                    for chunk in np.array_split(retry, max(1, -(-retry.size // GRID_CHUNK))):
                        if chunk.size and grid_open:
                            ok[chunk], e_cand[chunk] = _grid_eps(intervals, replays, cand[chunk], *span)
                            grid_open = not ok[chunk].any()
                    grid_open = grid_open and not bisected
                else:  # around the eps the last stage kept
                    retry = retry[last_e[retry] >= 0]
                    ok[retry], e_cand[retry] = _grid_eps(intervals, replays, cand[retry], *_eps_around(last_e[retry]))
            alive.append(cand[ok])
            alive_e.append(e_cand[ok])
        cands = np.concatenate(alive) if alive else cands[:0]
        e_pat = np.concatenate(alive_e) if alive_e else e_pat[:0]
        if cands.size == 0 or cands.size > SCAN_KEEP:
            # more than SCAN_KEEP left: these bits barely tell the counts apart (fused, beta2
            # 0.9999: every count of the chunk, 78 s through all four stages); the fits that
            # follow, smallest count first, decide
            break
    if eps_found is not None:
        eps_found.update(zip(cands.tolist(), _int_f32(e_pat).tolist(), strict=True))
    return cands.tolist(), saturated


EPS_GRID = 16
"""bf16 values of eps between two points of the count scan's eps grid (an eighth of an octave).
Measured: the eps that replay a for-loop late window (47x11, eps 2e-4, 8 elements per step)
span 24 bf16 values, behind a rise of the stage's worst gap the bisection does not cross."""
GRID_COUNTS = 512
"""Counts of index 0 up to which the first scan stage grids eps (~0.1 s per point for 512)."""
GRID_CHUNK = 64
"""Counts gridded together, smallest first: the grid stops after the first chunk that keeps one."""
GRID_NEAR = 64
"""bf16 values either side of the last stage's eps that a later stage's grid tries (one apart)."""


def _eps_span(picked: list[StepData], rows: list[np.ndarray], bc2_min: float) -> tuple[np.ndarray, np.ndarray]:
    """The first stage's eps grid for :func:`_grid_eps`: per candidate a start (bf16 bit patterns)
    and the offsets from it, EPS_GRID apart, over the eps that can change a bf16 denominator
    ``d = bf16(s + eps)``, ``s = bf16(sqrt(v) / bc2_sqrt)``, of a scanned element.

    Theorem (eps visible only in [2^-10 s_min, 2^10 s_max]): for bf16 s in [2^e, 2^(e+1)),
    half an ulp is 2^(e-8) > s*2^-9, so eps < s*2^-10 leaves s + eps below the midpoint, even
    after the float32 add rounds it (24 bits): d = s for every element; eps >= s*2^10 makes s
    less than half an ulp of eps, and d = eps for every element (lr and eps then trade off: one
    point of that range stands for all).  s_min and s_max are bounded with every bc2_sqrt of the
    table (in [bc2_min, 1]); an element with v = 0 (d = eps always) bounds nothing."""
    v = np.concatenate([bits.widen(sd.want["exp_avg_sq"][r]).astype(np.float64) for sd, r in zip(picked, rows,
                        strict=True)])  # fmt: skip
    v = v[np.isfinite(v) & (v > 0)]
    lo_e, hi_e = EPS_RANGE
    if v.size:
        lo_e = max(lo_e, math.sqrt(v.min()) * 2.0**-10)
        hi_e = min(hi_e, math.sqrt(v.max()) / max(bc2_min, 2.0**-60) * 2.0**10)
    lo, hi = (int(bits.narrow(np.array([x], np.float32))[0]) for x in (lo_e, max(lo_e, hi_e)))
    return np.array([lo], np.int64), np.arange(0, hi - lo + 1, EPS_GRID, dtype=np.int64)


def _eps_around(e_bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A later stage's grid for :func:`_grid_eps`: the GRID_NEAR bf16 values either side of each
    candidate's last eps (float32 bit patterns), nearest first."""
    centre = bits.narrow(_int_f32(e_bits)).astype(np.int64)
    near = np.arange(1, GRID_NEAR + 1, dtype=np.int64)
    return centre, np.stack([near, -near], axis=1).reshape(-1)


def _grid_eps(
    intervals: Callable, replays: Callable, cand: np.ndarray, start: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For :func:`scan_step_counts` with eps unknown on a bf16-eps path, where the bisection
    (:func:`_scan_eps`) ended without a fit: per candidate, whether some eps of the grid
    ``start + offsets`` (bf16 bit patterns; ``start`` one per candidate or one for all) lets
    one lr (per part) replay its elements, and the first such (float32 bit pattern; -1: none).
    A grid finds every window of eps at least as wide as its spacing, whatever the stage's gaps
    do between its points."""
    found = np.zeros(cand.size, bool)
    out = np.full(cand.size, -1, np.int64)
    start = np.broadcast_to(start, cand.shape)
    for k in offsets:
        todo = np.nonzero(~found)[0]
        if todo.size == 0:
            break
        at = bits.widen(np.clip(start[todo] + k, 1, 0x7F7F).astype(np.uint16)).view(np.int32).astype(np.int64)
        ok = replays(*intervals(cand[todo], at))
        found[todo[ok]] = True
        out[todo[ok]] = at[ok]
    return found, out


def _scan_stage(
    opened: Program, picked: list[StepData], rows: list[np.ndarray], where_all: dict, b_table: np.ndarray, base: int,
    bc1_of: Callable[[np.ndarray], np.ndarray], conv_eps: Callable, lr_per_step: bool,
    cuts: tuple[list, list, list] | None = None,
) -> tuple[Callable, Callable, Callable[[np.ndarray], Steer]]:  # fmt: skip
    """One stage of :func:`scan_step_counts`: the elements ``rows`` of each step in ``picked``.
    Returns ``intervals(cand, e_bits, sel=None)``: (lows, highs, side) of the lr, each shaped
    (candidates, elements), at each candidate count of index 0 with its eps (float32 bit
    patterns), on the elements ``sel`` (per candidate, or shared; default all); ``replays(lows,
    highs, side)``: per candidate, whether one lr (one per step: ``lr_per_step``) fits them all;
    and ``steer(cand)``, the moves of :func:`_scan_eps` for those candidates (eps's slope and
    effect per element: :func:`_eps_slope`).  ``cuts`` (:func:`_decay_cuts`): each element also
    as decayed by one ulp (columns n..2n-1), and ``replays`` asks whether some decay factor per
    step lets one lr fit its elements."""
    index = np.concatenate([np.full(r.size, sd.index) for sd, r in zip(picked, rows, strict=True)])
    n = index.size
    state = {k: np.concatenate([bits.widen(sd.state[k][r]) for sd, r in zip(picked, rows, strict=True)])
             for k in picked[0].state}  # fmt: skip
    target = np.concatenate([sd.want["param"][r] for sd, r in zip(picked, rows, strict=True)])
    flat = np.concatenate([sd.flat[r] for sd, r in zip(picked, rows, strict=True)])
    where_one = {k: v[flat] for k, v in where_all.items()}
    parts = np.cumsum([0, *(r.size for r in rows)]) if lr_per_step else np.array([0, n])
    # eps's per-element order at bc2_sqrt 1 (the order is the same at any)
    wanted = {k: np.concatenate([sd.want[k][r] for sd, r in zip(picked, rows, strict=True)]) for k in TENSORS}
    e_slope, e_effect = _eps_slope(wanted, np.ones(n), False)
    top = base + b_table.size - 1  # past it every count reads the last bc2_sqrt (1.0 once saturated)

    def intervals_at(state: dict[str, np.ndarray]) -> Callable:
        def intervals(cand: np.ndarray, e_bits: np.ndarray, sel: np.ndarray | None = None):
            sel = np.arange(n) if sel is None else sel
            k, m = cand.size, sel.shape[-1]
            pick = np.broadcast_to(sel, (k, m)).reshape(-1)
            counts = index[pick] + np.repeat(cand, m)
            fixed = {"__b": b_table[np.minimum(counts, top) - base], "__e": conv_eps(_int_f32(np.repeat(e_bits, m)))}
            inputs = {name: arr[pick] for name, arr in state.items()}
            where = {name: mask[pick] for name, mask in where_one.items()}
            bc1 = bc1_of(counts)
            lows, highs, side = element_intervals(
                opened, inputs, where, "param", target[pick], lambda x: {**fixed, "__c": x}, 1e-30, 1e2, bc1
            )
            return lows.reshape(k, m), highs.reshape(k, m), side.reshape(k, m)

        return intervals

    def replays(lows: np.ndarray, highs: np.ndarray, side: np.ndarray) -> np.ndarray:
        ok = (side == 0).all(axis=1)
        for lo, hi in itertools.pairwise(parts):
            ok &= lows[:, lo:hi].max(axis=1) <= highs[:, lo:hi].min(axis=1)
        return ok

    if cuts is not None:
        base_w, decayed_w, threshold = (np.concatenate([c[: r.size] for c, r in zip(part, rows, strict=True)])
                                        for part in cuts)  # fmt: skip
        plain_intervals = intervals_at({**state, "param": bits.widen(base_w)})
        decayed_intervals = intervals_at({**state, "param": bits.widen(decayed_w)})
        # per part, its elements by decreasing threshold: a decay factor d decays (by one ulp)
        # exactly those whose threshold is >= d, a leading run of this order
        order = [lo + np.argsort(-threshold[lo:hi], kind="stable") for lo, hi in itertools.pairwise(parts)]

        def both(cand: np.ndarray, e_bits: np.ndarray, sel: np.ndarray | None = None):
            """Columns 0..n-1 the elements as recorded, n..2n-1 the same decayed (``sel`` in them)."""
            if sel is None:
                return tuple(np.concatenate(pair, axis=1) for pair in zip(plain_intervals(cand, e_bits),
                             decayed_intervals(cand, e_bits), strict=True))  # fmt: skip
            as_recorded, as_decayed = plain_intervals(cand, e_bits, sel % n), decayed_intervals(cand, e_bits, sel % n)
            return tuple(np.where(sel >= n, d, p) for p, d in zip(as_recorded, as_decayed, strict=True))

        def best_cuts(lows: np.ndarray, highs: np.ndarray, side: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
            """Per part (its elements in ``order``), per candidate: the cut (how many lead decayed)
            whose lr intervals come closest, and that gap (-1: some cut lets one lr fit them all;
            else > 0, huge where every cut keeps an element in a state no lr reproduces)."""
            big = np.iinfo(np.int64).max
            lo_p, hi_p = np.where(side[:, :n] == 0, lows[:, :n], big), np.where(side[:, :n] == 0, highs[:, :n], -big)
            lo_d, hi_d = np.where(side[:, n:] == 0, lows[:, n:], big), np.where(side[:, n:] == 0, highs[:, n:], -big)
            out = []
            for o in order:
                k = lows.shape[0]
                pre_lo = np.concatenate([np.full((k, 1), -big), np.maximum.accumulate(lo_d[:, o], axis=1)], axis=1)
                pre_hi = np.concatenate([np.full((k, 1), big), np.minimum.accumulate(hi_d[:, o], axis=1)], axis=1)
                suf_lo = np.concatenate([np.maximum.accumulate(lo_p[:, o[::-1]], axis=1)[:, ::-1],
                                         np.full((k, 1), -big)], axis=1)  # fmt: skip
                suf_hi = np.concatenate([np.minimum.accumulate(hi_p[:, o[::-1]], axis=1)[:, ::-1],
                                         np.full((k, 1), big)], axis=1)  # fmt: skip
                top, bottom = np.maximum(pre_lo, suf_lo), np.minimum(pre_hi, suf_hi)
                fits = (top <= bottom).any(axis=1)  # (exact: bit patterns compared as integers)
                gap = top.astype(np.float64) - bottom.astype(np.float64)  # (to steer by: rounded)
                cut = np.argmin(gap, axis=1)
                out.append((cut, np.where(fits, -1.0, np.maximum(gap[np.arange(k), cut], 1.0))))
            return out

        def replays_cut(lows: np.ndarray, highs: np.ndarray, side: np.ndarray) -> np.ndarray:
            """Per candidate: at each step some cut (the first k elements of ``order`` decayed,
            the rest not) where one lr fits every element in its state.  A relaxation (a cut
            between equal thresholds no d makes; one d per step even where the lr is shared)."""
            return np.logical_and.reduce([gap <= 0 for _, gap in best_cuts(lows, highs, side)])

        def cut_steer(cand: np.ndarray) -> Steer:
            """:func:`_pair_steer` with each element in either state: an element no lr reproduces
            in both (on the same side) votes; else the worst part's best cut gives the pair."""

            pair_gap = _pair_gap(both, cand)

            def steer(which, above, below, lows, highs, side) -> np.ndarray:
                stuck = (side[:, :n] != 0) & (side[:, :n] == side[:, n:])
                votes = np.where(stuck, -side[:, :n] * e_effect[None, :], 0)
                up = (votes > 0).sum(axis=1) >= (votes < 0).sum(axis=1)
                cuts_gaps = best_cuts(lows, highs, side)
                gaps = np.stack([gap for _, gap in cuts_gaps], axis=1)
                worst = np.argmax(gaps, axis=1)
                free = np.nonzero(~stuck.any(axis=1) & (gaps[np.arange(gaps.shape[0]), worst] < 2.0**62))[0]
                if free.size == 0:
                    return up
                i, j = np.zeros(free.size, np.int64), np.zeros(free.size, np.int64)
                for p, (o, (cut, _)) in enumerate(zip(order, cuts_gaps, strict=True)):
                    here = np.nonzero(worst[free] == p)[0]
                    if here.size == 0:
                        continue
                    rows = free[here]
                    decayed = np.arange(o.size)[None, :] < cut[rows][:, None]  # leading run of the order
                    column = np.where(decayed, n + o[None, :], o[None, :])
                    lo_at = np.take_along_axis(np.where(side == 0, lows, np.iinfo(np.int64).min)[rows], column, 1)
                    hi_at = np.take_along_axis(np.where(side == 0, highs, np.iinfo(np.int64).max)[rows], column, 1)
                    i[here] = np.take_along_axis(column, np.argmax(lo_at, axis=1)[:, None], 1)[:, 0]
                    j[here] = np.take_along_axis(column, np.argmin(hi_at, axis=1)[:, None], 1)[:, 0]
                model = e_slope[j % n] > e_slope[i % n]
                up[free] = _measured_move(pair_gap, which[free], above[free], below[free], i, j, model)
                return up

            return steer

        return both, replays_cut, cut_steer

    intervals = intervals_at(state)
    return intervals, replays, lambda cand: _pair_steer(intervals, cand, parts, e_slope, e_effect)


DECAY_WINDOW = 2.0**-9
"""Width of the decay factors one count scan covers below 1 - 2^-8 (a window [a, a + 2^-9] with
a >= 1/2: every element takes at most two values in it, see :func:`_decay_cuts`)."""


def _decay_window(estimate: float) -> tuple[float, float]:
    """The decay factors a count scan allows near a least-squares ``estimate`` (:func:`_decay_estimate`,
    which a wrong count barely moves): [1 - 2^-8, 1] when a DECAY_WINDOW centred on the estimate
    lies inside it (there W moves by at most one ulp), else DECAY_WINDOW centred on the estimate.
    Measured: estimates within 4e-4 of the true factor on 150x5 files (lr 0.02, wd 0.3, counts
    one to five off), the window's half-width is 2^-10 = 9.8e-4; a decay below an ulp needs the
    estimate that reads its bf16 rounding (:func:`_rounded_decay_estimate`: 1.4e-3 off without)."""
    if estimate - DECAY_WINDOW / 2 >= 1 - 2.0**-8:
        return 1 - 2.0**-8, 1.0
    centre = max(estimate, 0.5 + DECAY_WINDOW / 2)
    return centre - DECAY_WINDOW / 2, centre + DECAY_WINDOW / 2


def _decay_windows(picked: list[StepData], h: Hyper, per_step: bool) -> list[tuple[float, float]]:
    """Per picked step, the decay window its scan allows: each step's own (``per_step``: an lr
    schedule moves ``1 - lr*wd``), else one for all, at the median estimate (one lr, one wd)."""
    estimates = []
    for sd in picked:  # (~15 ms a step on 4096 elements; every decayed scan of a search reads them)
        key = ("rounded decay estimate", h.beta2)
        if key not in sd.memo:
            sd.memo[key] = _decay_estimate(sd, h, float(sd.index + 1), rounded=True)
        estimates.append(sd.memo[key])
    if not per_step:
        estimates = [float(np.median(estimates))] * len(picked)
    return [_decay_window(e) for e in estimates]


def _decay_cuts(
    rcp: Recipe, capability: str, h: Hyper, picked: list[StepData], ranked: list[np.ndarray], where_all: dict,
    windows: list[tuple[float, float]],
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:  # fmt: skip
    """For a scan with a visible decay (for-loop, foreach: ``param.mul_(1 - lr*wd)`` rounds to
    bf16 before the update): per picked step, in ``ranked`` order, each element's W decayed by the
    top of its step's window [a, b] of decay factors (the path's own decay op), the same one ulp
    nearer 0, and the largest factor in the window (float32 bit pattern; -1: none) at which the
    decay op gives the latter.  The update after it is the same program as without a decay: the
    count reaches only the update.

    Theorem (at most two values per window): with 2^e <= |W|*a < 2^(e+1) the bf16 values near
    |W|*d, d in [a, b], lie at least ulp = 2^(e-7) apart, and the window's image |W|*(b - a) <
    2^(e+1)/a * (b - a) <= 2^(e-7) when b - a <= a*2^-8 (DECAY_WINDOW = 2^-9, a >= 1/2): it holds
    at most one rounding midpoint.  The top window [1 - 2^-8, 1] also: |W|*2^-8 < ulp(W), so
    |W|*d lies in (|W| - ulp(W), |W|], and rounds to W or the bf16 value below it."""
    base_w, decayed_w, threshold = [], [], []
    for sd, r, (a, b) in zip(picked, ranked, windows, strict=True):
        prog, opened, conv_eps, conv_decay = _open_step(rcp, h, float(sd.index + 1), capability)
        w = sd.state["param"][r]
        inputs = {k: bits.widen(v[r]) for k, v in sd.state.items()}
        where = {k: v[sd.flat[r]] for k, v in where_all.items()}
        zero = np.zeros(r.size, np.float32)
        e = conv_eps(np.full(r.size, 1e-8, np.float32))

        def bind(x: np.ndarray, e=e, zero=zero, conv_decay=conv_decay) -> dict[str, np.ndarray]:
            return {"__c": zero, "__e": e, "__d": conv_decay(x)}  # (step size 0: W' is the decayed W)

        top = w
        if b < 1.0:
            env = evaluate(opened, {**inputs, **bind(np.full(r.size, b, np.float32))}, where)
            top = np.where(np.isfinite(bits.widen(w)), to_bits(env[prog.outputs["param"]]), w).astype(np.uint16)
        magnitude = top & 0x7FFF
        moves = (magnitude > 0) & (magnitude < 0x7F80)  # (0 and NaN/Inf do not decay by an ulp)
        down = np.where(moves, top - 1, top).astype(np.uint16)  # sign-magnitude: one ulp towards 0
        lows, highs, side = element_intervals(opened, inputs, where, "param", down, bind, a, b)
        found = moves & (side == 0) & (lows <= highs)
        base_w.append(top)
        decayed_w.append(down)
        threshold.append(np.where(found, highs, -1))
    return base_w, decayed_w, threshold


FUSED_DECAY_ROWS = (64, 512)
"""Elements per scanned step in :func:`_fused_decay_counts`'s two filters."""


def _fused_decay_counts(
    steps: list[StepData], rcp: Recipe, capability: str, h: Hyper, numel: int, eps: float, offsets: range
) -> tuple[list[int], dict[int, dict[int, float]]]:
    """Step counts of index 0 among ``offsets`` at which fused's update with this eps, a decay
    factor and a step size of each step's own replays the steps the count scan reads: a window
    recorded late with a visible decay (fused decays inside its float32 update: the count scan's
    decay cuts do not apply, and a step fitted at a wrong count needs an eps off the guesses,
    which the search with all three unknown can miss: seen, fused warmup, eps 1e-5, wd 0.01,
    index 0 = step 6, no answer in 180 s).  Returns the counts, smallest first, and per count
    each scanned step's decay factor (a hint for the exact fits that must follow); none where a
    stage keeps more than SCAN_KEEP (the count does not show at this eps).

    A linear model with a proven margin, not the exact program: fused stores
    ``P = f32(f32(p*d) + f32(f32(-c*M) / D))`` with M, D the program's own float32 values (D
    holds the count, through bc2_sqrt), so P is within four float32 roundings of the real
    ``p*d - c*u`` (u = M/D): ``|P - (p*d - c*u)| <= 3 * 2^-24 * (|p| + |P|) + 2^-148 * (1 +
    1/|D|)`` (|c*u| <= |p*d| + |P|; the absolute part: roundings below the normal range, one
    divided by D).  With the reals that round to the recorded bf16 W widened by that, every
    element allows c in a band of slope p/u in d:  ``c in [A*d + B, A*d + C]``, and a count is
    kept when some d in [0.5, 1] leaves one c >= 0 in every band: the minimum over d of
    ``max(A*d + B, 0) - min(A*d + C)``, a convex function, found by bisection on its slope, is
    <= 0.  A count the exact program replays is never dropped."""
    picked, ranked = _scan_picks(steps)
    b_of = _bc2_sqrt_by_count(
        rcp, capability, h, range(picked[0].index + offsets.start, picked[-1].index + offsets.stop)
    )
    top = max(b_of)
    where_all = rcp.positions(capability, numel, 1)
    prog = rcp.build(replace(h, lr=1.0, weight_decay=0.0), float(picked[0].index + 1), capability)
    _, opened, conv_eps, _ = _open_step(rcp, h, float(picked[0].index + 1), capability,
                                        {_bc2_label(scalar_labels(prog)): T("__b")})  # fmt: skip
    cands = np.array([o for o in offsets if picked[-1].index + o in b_of or b_of[top] == 1.0], np.int64)
    decay_at: dict[int, dict[int, float]] = {}
    for rows_per_step in FUSED_DECAY_ROWS:
        for sd, order in zip(picked, ranked, strict=True):
            if cands.size == 0:
                return [], {}
            r = order[:rows_per_step]
            b_vals = np.array([b_of[min(int(c) + sd.index, top)] for c in cands], np.float32)
            ok, d = _fused_decay_feasible(opened, sd, r, where_all, conv_eps, eps, b_vals)
            for c, dv in zip(cands[ok].tolist(), d[ok].tolist(), strict=True):
                decay_at.setdefault(c, {})[sd.index] = dv
            cands = cands[ok]
        if cands.size > SCAN_KEEP:
            # these bits do not tell the counts apart at this eps (one the bits barely see: seen,
            # every count of the chunk kept, 6 s a stage); the count comes from elsewhere
            return [], {}
    return cands.tolist(), {int(c): decay_at[int(c)] for c in cands}


def _fused_decay_feasible(
    opened: Program, sd: StepData, r: np.ndarray, where_all: dict, conv_eps: Callable, eps: float, b_vals: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For :func:`_fused_decay_counts`: per candidate count (its bc2_sqrt in ``b_vals``), whether
    some decay factor and step size fit the elements ``r`` of step ``sd`` in the linear model,
    and the decay factor where the bands come closest."""
    k, n = b_vals.size, r.size
    inputs = {name: np.tile(bits.widen(v[r]), k) for name, v in sd.state.items()}
    where = {name: np.tile(mask[sd.flat[r]], k) for name, mask in where_all.items()}
    one = np.ones(k * n, np.float32)
    env = evaluate(opened, {**inputs, "__c": one, "__d": one, "__e": conv_eps(np.full(k * n, eps, np.float32)),
                            "__b": np.repeat(b_vals, n)}, where)  # fmt: skip
    p = bits.widen(sd.state["param"][r]).astype(np.float64)
    w = bits.widen(sd.want["param"][r]).astype(np.float64)
    half = np.maximum(np.spacing(np.abs(w).astype(np.float32)).astype(np.float64) * 2.0**16, 2.0**-133) / 2
    denom = env["D"].astype(np.float64).reshape(k, n)
    with np.errstate(all="ignore"):
        # the theorem's bound, more than twice over (|P| <= |W| + half); the absolute part is the
        # roundings below float32's normal range, one of them divided by D (an underflowed c*M)
        margin = (np.abs(p) + np.abs(w) + half) * 2.0**-21 + 2.0**-147 * (1 + 1 / np.abs(denom))
        lo, hi = w - half - margin, w + half + margin
        u = env["M"].astype(np.float64).reshape(k, n) / denom
        slope = p / u
        band_lo = np.where(u > 0, -hi / u, -lo / u)
        band_hi = np.where(u > 0, -lo / u, -hi / u)
        # an element with u = 0 (or not finite) bounds d alone: lo <= p*d <= hi
        alone = ~(np.isfinite(slope) & np.isfinite(band_lo) & np.isfinite(band_hi) & (u != 0))
        d_lo = np.where(p > 0, lo / p, np.where(p < 0, hi / p, np.where((lo <= 0) & (hi >= 0), -np.inf, np.inf)))
        d_hi = np.where(p > 0, hi / p, np.where(p < 0, lo / p, np.where((lo <= 0) & (hi >= 0), np.inf, -np.inf)))
    finite = np.isfinite(p) & np.isfinite(w)
    bounded = alone & finite[None, :]
    a = np.maximum(0.5, np.where(bounded, np.nan_to_num(d_lo, nan=-np.inf), -np.inf).max(axis=1))
    b = np.minimum(1.0, np.where(bounded, np.nan_to_num(d_hi, nan=np.inf), np.inf).min(axis=1))
    slope = np.where(alone, 0.0, slope)
    band_lo, band_hi = np.where(alone, -np.inf, band_lo), np.where(alone, np.inf, band_hi)
    every = np.arange(k)

    def gap(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """max(c's lower bounds, 0) - min(c's upper bounds) at d, and its slope in d."""
        low = slope * d[:, None] + band_lo
        up = slope * d[:, None] + band_hi
        i, j = low.argmax(axis=1), up.argmin(axis=1)
        low_i = low[every, i]
        return np.maximum(low_i, 0.0) - up[every, j], np.where(low_i > 0, slope[every, i], 0.0) - slope[every, j]

    empty = a > b  # the elements that bound d alone leave none
    ok = np.zeros(k, bool)
    d = (a + b) / 2
    for _ in range(48):  # [0.5, 1] to 2^-49: far below a float32 ulp of d
        d = (a + b) / 2
        g, s = gap(d)
        ok |= g <= 0
        a = np.where(ok, d, np.where(s < 0, d, a))
        b = np.where(ok, d, np.where(s < 0, b, d))
    return ok & ~empty, d


def _fused_decayed_probe(
    steps: list[StepData], impl: str, capability: str, h: Hyper, numel: int, eps: float
) -> Probe | None:
    """A fused window recorded late with a visible decay, at one eps guess: the counts
    :func:`_fused_decay_counts` keeps, each confirmed by exact fits of the scanned steps (eps
    held, its decay factors the hints), as a :class:`Probe`: the first PROBE_COUNTS confirmed,
    and whether the lrs they imply differ between steps (a schedule; the probe's own rule)."""
    rcp = recipe(impl)
    counts, decay_at = _fused_decay_counts(steps, rcp, capability, h, numel, eps, range(1, SCAN_CHUNK + 1))
    by_index = {sd.index: sd for sd in steps}
    confirmed: list[tuple[int, list[StepFit]]] = []
    for count in counts[:PROBE_COUNTS]:
        fits = []
        for index, d in decay_at[count].items():
            fit = fit_step(by_index[index], rcp, capability, h, float(index + count), numel, d, e_hint=(eps,),
                           all_three=False, eps_held=True)  # fmt: skip
            if fit is None:
                break
            fits.append(fit)
        else:
            confirmed.append((count, fits))
        if len(confirmed) == PROBE_COUNTS:
            break
    if not confirmed:
        return None
    count, fits = confirmed[0]
    bc1 = [float(bias_correction1(rcp, h.beta1, f.index + count)) for f in fits]
    lrs = [(f.coef.lo * c, f.coef.hi * c) for f, c in zip(fits, bc1, strict=True)]
    scheduled = any(max(a[0], b[0]) > min(a[1], b[1]) * (1 + 1e-3) for i, a in enumerate(lrs) for b in lrs[i + 1 :])
    return Probe(scheduled, True, impl, [c for c, _ in confirmed], (eps,))


NEAR_EPS = 8
"""Values of eps either side of the last scan stage's (in the format it reaches the kernel in)
tried before a new bisection."""


def _near_eps(
    intervals: Callable, replays: Callable, cand: np.ndarray, e_bits: np.ndarray, bf16: bool
) -> tuple[np.ndarray, np.ndarray]:
    """For :func:`scan_step_counts` with eps unknown, at a stage whose elements reject the eps the
    last stage found: the NEAR_EPS values either side of it, nearest first (bf16 values where eps
    reaches the kernel as bf16, else float32 ones).  A larger stage moves the answer a few values
    at most, and a new bisection can step past it (seen: for-loop, eps 1e-6, one bf16 value
    from the last stage's, the pair measurement sent eps the wrong way).  Returns (found, eps
    bit patterns), as :func:`_scan_eps`."""
    found = np.zeros(cand.size, bool)
    out = e_bits.copy()
    base16 = bits.narrow(_int_f32(e_bits)).astype(np.int64)
    for k in (x for m in range(1, NEAR_EPS + 1) for x in (m, -m)):
        todo = np.nonzero(~found)[0]
        if todo.size == 0:
            break
        if bf16:
            moved = bits.widen(np.clip(base16[todo] + k, 1, 0x7F7F).astype(np.uint16))
            at = moved.view(np.int32).astype(np.int64)
        else:
            at = np.maximum(e_bits[todo] + k, 1)
        ok = replays(*intervals(cand[todo], at))
        found[todo[ok]] = True
        out[todo[ok]] = at[ok]
    return found, np.where(found, out, -1)


Steer = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""``steer(which, above, below, lows, highs, side)``: per candidate ``which`` (the intervals at
its bisection's eps; ``above``, ``below``: eps a little either side, float32 bit patterns),
whether eps moves up."""


def _scan_eps(
    intervals: Callable, replays: Callable, cand: np.ndarray, steer: Steer, bf16: bool
) -> tuple[np.ndarray, np.ndarray]:
    """For :func:`scan_step_counts` with eps unknown: per candidate count, whether some eps lets
    one lr (per part) replay its elements, and that eps (float32 bit pattern; -1: none found).
    A bisection on eps per candidate, all candidates at once, each move the stage's ``steer``
    (:func:`_pair_steer`; :func:`_scan_stage`'s with decay cuts) measuring an eighth of the
    bisection's width (at most an octave) either side.  ``bf16`` (eps reaches the kernel as
    bf16): the bisection runs on bf16 values (between two of them every float32 reads as one or
    the other), and where it ends without a fit the NEAR_EPS values either side of its end are
    tried (:func:`_near_eps`): a pair measured one value either side of the answer can send it
    the wrong way (seen: foreach, eps 2e-4, wd 0.3, from step 3: ended 3 bf16 values above
    2.0027e-4)."""
    k = cand.size
    lo_f32, hi_f32 = (np.int64(_f32_int(x)) for x in EPS_RANGE)
    if bf16:
        lo, hi = (int(bits.narrow(_int_f32(np.array([x])))[0]) for x in (lo_f32, hi_f32))

        def as_f32(at: np.ndarray) -> np.ndarray:
            return bits.widen(at.astype(np.uint16)).view(np.int32).astype(np.int64)
    else:
        lo, hi = lo_f32, hi_f32

        def as_f32(at: np.ndarray) -> np.ndarray:
            return at

    # the pair is measured at most an octave either side: a wide bisection's eighth spans
    # octaves, past the valley of the pair's gap (seen: for-loop, eps 2e-4, from step 11: eps
    # measured at 1.2e-6 and 2.9e-4 moved down from 1.9e-5, and no count was kept)
    octave = OCTAVE_F32 >> 16 if bf16 else OCTAVE_F32
    a, b = np.full(k, lo, np.int64), np.full(k, hi, np.int64)
    e_found = np.full(k, -1, np.int64)
    last = np.full(k, -1, np.int64)
    active = np.ones(k, bool)
    while active.any():
        idx = np.nonzero(active)[0]
        mid = (a[idx] + b[idx]) // 2
        at = as_f32(mid)
        lows, highs, side = intervals(cand[idx], at)
        ok = replays(lows, highs, side)
        e_found[idx[ok]], last[idx] = at[ok], at
        step = np.maximum(1, np.minimum((b[idx] - a[idx]) // 8, octave))
        above, below = as_f32(np.minimum(mid + step, b[idx])), as_f32(np.maximum(mid - step, a[idx]))
        up = steer(idx, above, below, lows, highs, side)
        a[idx] = np.where(up, mid + 1, a[idx])
        b[idx] = np.where(up, b[idx], mid - 1)
        active[idx[ok]] = False
        active &= a <= b
    miss = np.nonzero((e_found < 0) & (last >= 0))[0]
    if bf16 and miss.size:
        found, near = _near_eps(intervals, replays, cand[miss], last[miss], True)
        e_found[miss[found]] = near[found]
    return e_found >= 0, e_found


def _pair_steer(
    intervals: Callable, cand: np.ndarray, parts: np.ndarray, slope: np.ndarray, effect: np.ndarray
) -> Steer:
    """:func:`_scan_eps`'s moves as :func:`joint_interval` steers: elements no lr reproduces vote
    (their side times the sign of their result's change with eps, ``effect``); else the
    conflicting pair of the worst part (highest lower bound, lowest upper bound) is measured a
    few bisection widths either side and eps moves the way that brings its intervals together
    (``slope`` breaks ties).  eps reaches for-loop and foreach as bf16, next to bf16
    denominators: the slope model alone misleads there."""

    pair_gap = _pair_gap(intervals, cand)

    def whole_gap(which: np.ndarray, at: np.ndarray) -> np.ndarray:
        return _worst_gap(*intervals(cand[which], at), parts)

    def steer(which, above, below, lows, highs, side) -> np.ndarray:
        stuck = side != 0
        votes = np.where(stuck, -side * effect[None, :], 0)
        up = (votes > 0).sum(axis=1) >= (votes < 0).sum(axis=1)
        free = np.nonzero(~stuck.any(axis=1))[0]
        if free.size:
            spans = list(itertools.pairwise(parts))
            gaps = np.stack([lows[free, lo:hi].max(axis=1) - highs[free, lo:hi].min(axis=1) for lo, hi in spans], 1)
            worst = np.argmax(gaps, axis=1)
            column = np.arange(lows.shape[1])
            inside = (column >= parts[worst][:, None]) & (column < parts[worst + 1][:, None])
            i = np.argmax(np.where(inside, lows[free], np.iinfo(np.int64).min), axis=1)
            j = np.argmin(np.where(inside, highs[free], np.iinfo(np.int64).max), axis=1)
            up[free] = _measured_move(
                pair_gap, which[free], above[free], below[free], i, j, slope[j] > slope[i], whole_gap
            )
        return up

    return steer


def _pair_gap(intervals: Callable, cand: np.ndarray) -> Callable:
    """``pair_gap(which, at, pair)``: per candidate ``cand[which]`` at eps ``at``, how far apart
    the lr intervals of its ``pair`` of elements are (inf where one has none)."""

    def pair_gap(which: np.ndarray, at: np.ndarray, pair: np.ndarray) -> np.ndarray:
        lows, highs, side = intervals(cand[which], at, pair)
        gap = (lows[:, 0] - highs[:, 1]).astype(np.float64)
        return np.where((side != 0).any(axis=1), np.inf, gap)

    return pair_gap


def _measured_move(
    pair_gap: Callable, which, above, below, i, j, model: np.ndarray, whole_gap: Callable | None = None
) -> np.ndarray:
    """Whether eps moves up: the pair (``i``, ``j``) measured at eps ``above`` and ``below``,
    towards the side where its gap is smaller; where the pair conflicts on neither side (both
    gaps <= 0: bf16 denominators make an element's lr interval jump with eps, and the pair
    that conflicts at the midpoint alone says nothing about the way) or measures alike,
    ``whole_gap(which, at)`` (the stage's worst gap) measured likewise; ``model`` where that
    too measures alike (seen: for-loop step schedule, eps 2e-4, from step 3: the pair agreed
    at 1.03e-4 and 5.2e-5 about a midpoint of 7.3e-5, eps moved down and no count was kept)."""
    pair = np.stack([i, j], axis=1)
    g_up, g_down = pair_gap(which, above, pair), pair_gap(which, below, pair)
    up = np.where(g_up != g_down, g_up < g_down, model)
    blind = (g_up == g_down) | ((g_up <= 0) & (g_down <= 0))
    if whole_gap is not None and blind.any():
        k = np.nonzero(blind)[0]
        w_up, w_down = whole_gap(which[k], above[k]), whole_gap(which[k], below[k])
        up[k] = np.where(w_up != w_down, w_up < w_down, model[k])
    return up


def _worst_gap(lows: np.ndarray, highs: np.ndarray, side: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Per candidate, the widest conflict among its parts (highest lower bound less lowest upper
    bound, as float32 bit patterns: <= 0 where one lr fits the part); inf where an element has
    no lr interval."""
    gaps = [lows[:, lo:hi].max(axis=1) - highs[:, lo:hi].min(axis=1) for lo, hi in itertools.pairwise(parts)]
    worst = np.max(np.stack(gaps, axis=1), axis=1).astype(np.float64)
    return np.where((side != 0).any(axis=1), np.inf, worst)


def _late_window(
    steps, candidates, b1: float, capability: str, numel: int, offsets, deep: bool,
    eps_tried: tuple[float, ...] = EPS_GUESSES[:1],
) -> tuple[tuple | None, list[int]]:  # fmt: skip
    """No count of index 0 among ``offsets`` replays the file with one lr: scan the counts
    (:func:`scan_step_counts`) in chunks of SCAN_CHUNK, smallest first, for each eps guess, path
    and beta2 in turn, and fit the survivors with one lr.  Not ``deep``: only the first chunk,
    the eps values ``eps_tried`` and each path's likeliest beta2 (about a second per
    guess and path: it runs before the decay and schedule searches, which take minutes to fail
    on a late window); ``deep``: everything (the last resort).  Returns the fit (as the phase
    loop's ``best``) or None, and the surviving counts of the chunk it came from."""
    survivors: list[int] = []
    # every path with its likeliest beta2 first (rank 0), then the next ones
    ranked = [(rank, impl, bounds, beta2) for impl, b2, bounds in candidates
              for rank, beta2 in enumerate(_beta2_tries(b2, bounds))]  # fmt: skip
    tries = sorted((t for t in ranked if deep or t[0] == 0), key=lambda t: t[0])
    for eps in EPS_GUESSES[:4] if deep else eps_tried:
        for _rank, impl, b2_bounds, beta2 in tries:
            rcp, h = recipe(impl), Hyper(beta1=b1, beta2=beta2)
            for start in range(1, SCAN_LIMIT + 1 if deep else 2, SCAN_CHUNK):
                chunk = range(start, min(start + SCAN_CHUNK, SCAN_LIMIT + 1))
                found, saturated = scan_step_counts(steps, rcp, capability, h, numel, eps, chunk)
                found = [o for o in found if o not in offsets]
                survivors = survivors or found
                for offset in found[:SCAN_TRIES]:
                    pooled = fit_pooled(steps, rcp, capability, h, offset, numel)
                    if pooled is not None:
                        lr_iv, eps_iv, d_iv, _ = pooled
                        lr_bounds = [(lr_iv.lo, lr_iv.hi)]  # (lr is searched as a double)
                        return (impl, offset, beta2, b2_bounds, lr_bounds, eps_iv, d_iv, None), found
                if saturated:
                    break
        if survivors:
            break
    return None, survivors


def _late_counts_any_eps(
    steps: list[StepData], candidates, b1: float, capability: str, numel: int,
    per_step_counts: Callable[[str, float, float | None], list[int]],
) -> tuple[list[int], str | None, bool, tuple[float, ...]]:  # fmt: skip
    """Counts of index 0 up to SCAN_CHUNK where some eps lets one lr replay the steps
    (:func:`scan_step_counts` with eps unknown), each path at its likeliest beta2; else where one
    lr per step does (``per_step_counts(path, beta2, None)``, the same path next: ~10 s a scan).
    Returns (counts, the path, whether one lr per step, the eps the first count replayed with,
    if one lr), or ([], None, False, ())."""
    for impl, b2, _ in candidates:
        h, eps_of = Hyper(beta1=b1, beta2=b2), {}
        counts, _ = scan_step_counts(steps, recipe(impl), capability, h, numel, None, range(1, SCAN_CHUNK + 1),
                                     eps_found=eps_of)  # fmt: skip
        if counts:
            return counts, impl, False, (eps_of[counts[0]],)
        counts = per_step_counts(impl, b2, None)
        if counts:
            return counts, impl, True, ()
    return [], None, False, ()


def _beta2_tries(b2: float, bounds: tuple[float, float]) -> list[float]:
    """beta2 values to scan a late window with.  Late in a run v's bf16 values often stop moving
    (each update is below half an ulp), so v bounds beta2 only loosely (up to 1.0); W sees beta2
    only through ``bc2_sqrt = sqrt(1 - beta2^t)``, together with the unknown count t.  The
    common values inside v's interval go first, then the simplest one; 1.0 is no candidate
    (``bc2_sqrt`` would be 0)."""
    lo, hi = bounds
    tries = [x for x in COMMON_BETA2 if lo <= x <= hi]
    return [x for x in dict.fromkeys([*tries, b2]) if x < 1.0]


@dataclass
class Identification:
    impl: str
    equivalent_impls: list[str]
    device: str
    capability: str
    equivalent_capabilities: list[str]
    first_index_step_count: int
    other_step_counts: list[int]
    lr: float | list[float]
    lr_interval: list[float] | list[list[float]]
    betas: list[float]
    betas_interval: list[list[float]]
    eps: float
    eps_interval: list[float]
    weight_decay: float
    weight_decay_interval: list[float]
    exact: dict[str, float]
    findings: list[str]
    equivalent_releases: list[str] = None  # type: ignore[assignment]
    """torch release ranges whose program for this path replays the file exactly"""
    skipped_indices: list[int] = None  # type: ignore[assignment]
    """array indices where the optimizer did not step (W, m, v unchanged; not counted)"""
    scaled_gradient_indices: list[int] = None  # type: ignore[assignment]
    """array indices whose recorded gradient is not the one the optimizer saw (scaled or clipped
    after the recording): left out of the inference; ``lr`` per step is over the other rows"""
    exact_apart_from_scaled: dict[str, float] | None = None
    """``exact`` on the rows not in ``scaled_gradient_indices`` (None where there is none): 1.0
    where the answer replays every other row"""

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Probe:
    """What :func:`_probe_steps` learns from a few steps fitted alone."""

    scheduled: bool  # two steps need different lrs at every step count tried: no single lr replays the file
    decayed: bool  # every fit needs a decay: a pooled search without one cannot succeed
    impl: str | None  # the path whose steps fit (searched first)
    counts: list[int]  # step counts of index 0 where one lr (a schedule: one wd) fits every step fit, likeliest first
    eps_hints: tuple[float, ...] = ()  # eps values near the fits' slices, at counts[0] (pooled searches try them first)


PROBE_ROWS = 512
"""Elements per step the probe's steps are fitted on with all three free before a per-step lr
is taken for a schedule (:func:`_probe_steps`)."""
COUNT_GAP = 1e-2
"""How far apart (relative) the lrs implied by the probe's step fits may be at a count it keeps."""
COUPLED_COUNT_GAP = 0.1
"""The same for the weight decays a schedule's step fits imply (``(1 - d) / lr``): each fit's
decay is a slice through its ridge of step size against decay, and where ``lr*wd`` is small the
slice's relative error in ``1 - d`` is large (seen: CUDA fused step schedule 0.01 -> 0.001,
wd 0.05, eps 2e-4, from step 6: at the lr 0.001 steps the slices imply wd up to 0.049, the
steps at 0.01 from 0.0502, a 6.8% gap at the true count, the smallest of any count)."""
PROBE_COUNTS = 4
"""Step counts of index 0 from the probe's fits that the pooled searches try before 1..5."""


def _picked_steps(steps: list[StepData]) -> list[StepData]:
    """The steps a probe fits alone: the first two, one in the middle and the last (a step
    schedule that drops mid-window keeps its first steps alike)."""
    return [steps[i] for i in sorted({0, 1, len(steps) // 2, len(steps) - 1} & set(range(len(steps))))]


def _picked_fits(
    chosen: list[StepData], rcp: Recipe, capability: str, h: Hyper, numel: int, all_three: bool = False,
    built: int = 1,
) -> list[StepFit]:  # fmt: skip
    """The steps ``chosen`` fitted alone at count index + ``built`` (those that fit): eps a guess and
    no decay, else each with its own decay factor, eps and the decay found the next one's guesses
    (``all_three``: eps searched too)."""
    fits = [] if all_three else [fit_step(sd, rcp, capability, h, float(sd.index + 1), numel, plain_only=True)
                                 for sd in chosen]  # fmt: skip
    if all_three or any(f is None for f in fits):
        # A visible decay: fit each step with its own decay factor (cheap) instead of going
        # straight to the pooled joint search (expensive: minutes on an lr schedule).  A free
        # per-step decay can bias the lr interval by a few ulps (seen on fused).
        fits, e_hint, d_hint = [], (), None
        for sd in chosen:  # eps and decay are one for every step: the first found are the next one's guesses
            fits.append(fit_step(sd, rcp, capability, h, float(sd.index + built), numel, d_hint, e_hint=e_hint,
                                 all_three=all_three))  # fmt: skip
            if fits.count(None) > all_three:
                # (steps no fit explains: the pooled searches will say more.)  All three unknown,
                # one step's search may miss where the others fit (its eps bisection votes the
                # wrong way; seen: CUDA fused, eps 1e-7, wd 0.3, 400 elements): one miss passes
                break
            if fits[-1] is not None:
                e_hint = _eps_hints(fits[-1].eps)
                d_hint = fits[-1].decay.mid() if fits[-1].decay.hi < 1.0 else None
    return [f for f in fits if f is not None]


def _probe_steps(
    steps, candidates, b1: float, capability: str, numel: int, offsets: tuple[int, ...],
    schedule_counts: Callable[[str, float], list[int]], all_three: bool = False,
) -> Probe:  # fmt: skip
    """Cheap facts from a few steps each fitted alone, to skip pooled searches that would take
    minutes to fail, and to find the step count of a window recorded late (:class:`Probe`).

    The steps compared are the first two, one in the middle and the last: a step schedule that
    drops mid-window keeps its first steps alike.  A step fit gives the step size lr/bc1(count),
    so the lr it implies depends on the count: a constant lr at an unknown count must be ruled
    out at each count tried and at a late one (bc1 = 1).  ``schedule_counts(path, beta2)``: the
    counts where one lr per step fits (:func:`scan_step_counts`), asked when no path's steps fit.
    ``all_three``: each step's step size, eps and decay solved together (slow to fail: seconds
    per step; the caller asks for it only when cheaper searches found nothing)."""
    chosen = _picked_steps(steps)
    # how far apart two lr intervals must be to call it a schedule: the count correction below
    # ignores eps, so a margin; a schedule that changes lr by less takes the slower joint search
    gap = 1e-3

    def fits_of(impl: str, b2: float, all_three: bool, built: int = 1) -> list[StepFit]:
        return _picked_fits(chosen, recipe(impl), capability, Hyper(beta1=b1, beta2=b2), numel, all_three, built)

    kept: list[StepFit] = []
    impl = None
    built = 1  # the fits' count of index 0
    for impl, b2, _ in candidates:  # the first path whose steps fit (ties fit alike)
        kept = fits_of(impl, b2, all_three)
        if len(kept) >= 2:
            break
    if len(kept) == 1 and all_three:  # (none fitted: the path does not fit; a failing step costs seconds)
        # a fit with eps and the decay free at a wrong count is an equivalent point (eps and c
        # rescale with bc2_sqrt) only up to roundings, and at count index + 1, far from a late
        # truth, a step's search can miss it: the next count (seen: CUDA fused, constant lr 0.01,
        # wd 0.3, eps 1e-7, index 0 = step 11: a step failed at count 1, every step fitted at 2)
        built = 2
        for impl, b2, _ in candidates:
            kept = fits_of(impl, b2, all_three, built)
            if len(kept) >= 2:
                break
    for impl, b2, _ in candidates if len(kept) < 2 and not all_three else ():
        if schedule_counts(impl, b2):  # no single lr at any count (the scan phase), one per step does
            # one lr per step absorbs much: a constant lr with a decay at a later count fits too,
            # and its steps miss at count index + 1 with eps a guess (eps reads through bc2_sqrt);
            # the steps with all three free decide (seen: CUDA fused, lr 3e-4, wd 0.3, eps 1e-7,
            # from step 3, 40x10: a schedule at count 6 answered, the truth not listed)
            # (fused only: the for-loop's and foreach's bf16 denominators break at a wrong count;
            # on PROBE_ROWS elements a step: a failing search costs seconds per step on 4096)
            fused = [c for c in candidates if recipe(c[0]).impl == "fused"]  # (CPU and CUDA)
            deeper = None
            if fused:
                few = [_fewer_rows(sd, PROBE_ROWS) for sd in steps]
                deeper = _probe_steps(few, fused, b1, capability, numel, offsets, schedule_counts, True)
            if deeper is not None and deeper.counts:
                return _bf16_denominators_at(chosen, candidates, b1, capability, numel, deeper.counts) or deeper
            return Probe(True, False, impl, [])
    decayed = bool(kept) and all(f.decay.hi < 1.0 for f in kept)
    if len(kept) < 2:
        return Probe(False, decayed, None, [])
    b2 = next(b for i, b, _ in candidates if i == impl)

    def implied_lr(f: StepFit, count: int) -> tuple[float, float]:
        # the fit holds c * bc2_sqrt fixed (W moves by about c*m/(sqrt(v)/bc2_sqrt)), built at
        # count index + built: at another count, lr = c * bc1(count) * bc2_sqrt(built)/bc2_sqrt(count)
        at, wanted = 1 - b2 ** (f.index + built), 1 - b2**count
        scale = (1 - b1**count) * (math.sqrt(at / wanted) if at > 0 and wanted > 0 else 1.0)
        return f.coef.lo * scale, f.coef.hi * scale

    def parted(offset: int) -> bool:
        lrs = [implied_lr(f, f.index + offset) for f in kept]
        return any(max(a[0], b[0]) > min(a[1], b[1]) * (1 + gap) for i, a in enumerate(lrs) for b in lrs[i + 1 :])

    counts = _counts_from_fits(kept, b1, b2, built=built)
    scheduled = not counts and all(parted(offset) for offset in (*offsets, LATE_COUNT))
    if scheduled and sum(f.decay.hi < 1.0 for f in kept) >= 2:
        # where one wd couples each step's decay to its lr: the schedule phase's counts (a step
        # whose decay is 1.0 within float32 only bounds wd from above: seen, CUDA fused cosine
        # to 5.6e-5, wd 0.01, from step 6: the last step's decay interval reached 1.0)
        counts = _counts_from_fits(kept, b1, b2, coupled_decay=recipe(impl), built=built)
    # the fits hold e * bc2_sqrt fixed, like c * bc2_sqrt: their eps slices rescaled to the count
    # kept, and the one-digit values near them (seen: fused, eps 2e-4, wd 0.05, count 3: the
    # search with decay and eps unknown lost its way; at these eps the decay alone is solved)
    hints: tuple[float, ...] = ()
    if counts:
        rescaled = []
        for f in kept:
            with np.errstate(all="ignore"):
                r = math.sqrt((1 - b2 ** (f.index + built)) / (1 - b2 ** (f.index + counts[0])))
            rescaled.append(replace(f, eps=Interval(f.eps.lo * r, f.eps.hi * r)))
        hints = tuple(_eps_tries(rescaled))
    return Probe(scheduled, decayed, impl, counts, hints)


def _all_three_probe(
    steps, candidates, b1: float, capability: str, numel: int, offsets: tuple[int, ...],
    schedule_counts: Callable[[str, float], list[int]],
) -> Probe:  # fmt: skip
    """:func:`_probe_steps` with each step's step size, eps and decay unknown, first on PROBE_ROWS
    elements a step (a failing fit costs seconds a step on 4096: seen, for-loop, eps 2e-4, from
    step 2, 809x22: 37 of 97 s, the for-loop's and foreach's fits failing at count index + 1),
    then on all where those fits found a schedule but left its count open (fewer elements blur
    the decays' slices: seen, CUDA fused step schedule, wd 0.05, from step 6: count 6 lost)."""
    probed = _probe_steps([_fewer_rows(sd, PROBE_ROWS) for sd in steps], candidates, b1, capability, numel, offsets,
                          schedule_counts, all_three=True)  # fmt: skip
    if probed.impl is not None and probed.scheduled and not probed.counts:
        probed = _probe_steps(steps, candidates, b1, capability, numel, offsets, schedule_counts, all_three=True)
    return probed


def _bf16_denominators_at(
    chosen: list[StepData], candidates, b1: float, capability: str, numel: int, counts: list[int]
) -> Probe | None:
    """Where fused's fits imply ``counts`` (eps and the decay free, some steps only), the for-loop
    and foreach steps ``chosen`` again at count index + each: their bf16 denominators fit only
    near the true count, so every step fitting there is the count, with one lr or a schedule.
    Seen: CPU foreach, step schedule 3e-4 -> 3e-5 after index 1, eps 3e-5, from step 11: fused
    fitted 3 of 4 steps with one lr at counts 11..13 (9..12 on its first 16 steps), not index 1,
    the step before the drop; the pooled searches for one lr took 300 s to fail; at count
    index + 11 foreach fits all four, index 1 at ten times the others' lr.  (eps a guess, the
    decay none or estimated: a failing fit costs ~0.1 s; with eps and the decay searched ~15 s
    a count, and most counts fail.)"""
    for count in counts:
        for impl, b2, _ in candidates:
            if recipe(impl).impl == "fused":
                continue
            rcp, h, fits = recipe(impl), Hyper(beta1=b1, beta2=b2), []
            for sd in chosen:
                fits.append(fit_step(sd, rcp, capability, h, float(sd.index + count), numel, plain_only=True))
                if fits[-1] is None:
                    break
            if fits[-1] is not None:
                one_lr = _counts_from_fits(fits, b1, b2, built=count)
                return Probe(not one_lr, all(f.decay.hi < 1.0 for f in fits), impl, one_lr or [count])
    return None


def _counts_from_fits(
    fits: list[StepFit], b1: float, b2: float, coupled_decay: Recipe | None = None, built: int = 1
) -> list[int]:
    """Step counts t0 of index 0 (1..SCAN_LIMIT) at which one lr explains every step fit, the
    PROBE_COUNTS likeliest first: those whose implied lr intervals come closest to overlapping.

    A fit built at count index + ``built`` holds c * bc2_sqrt fixed, and eps and the decay are free in
    it, so it implies at count t the lr ``c * bc1(t) * bc2_sqrt(index + built) / bc2_sqrt(t)``
    (float64; eps rescales with bc2_sqrt and is absorbed by the fit).  At the true t0 the
    intervals of every step overlap; at a wrong one the bias corrections of the steps move them
    apart by their ratio.  Late in a run (both corrections 1.0 to float32) every count looks
    alike: the smallest goes first.  This finds windows recorded late with a visible decay or an
    eps the count scan (eps 1e-8, no decay) misses.

    ``coupled_decay``: the path of an lr schedule (one lr per step) with a visible decay: the
    quantity every step shares is the weight decay ``wd = (1 - d) / lr_t``, lr_t implied as above
    (seen: fused step schedule, wd 0.3, index 0 = step 6: the count scans, which assume no decay,
    keep none), d through the reals that round into its interval (:func:`_decay_edges`: a
    decay of 3e-5 is ~500 float32 ulps, so its rounding moves wd by 0.2%; seen: CUDA fused
    cosine, wd 0.01, from step 6: the fits' float32 decays left count 6 just out, 7..10 in).
    There eps orders the counts kept: a fit holds e * bc2_sqrt fixed as well, so the steps' eps
    slices rescaled to count t, ``e * bc2_sqrt(index + built) / bc2_sqrt(t)``, meet at the true
    t0 alone while bc2 still grows (their ratio between steps i < j moves by about
    1/(2(i+t)) - 1/(2(j+t)) a count; there 2e-4 apart at 6, 1% at 5 and 7); an eps the bits
    barely see spans every count and orders none.  Only there: it drops no count (a slice can
    sit far along its ridge), and one lr's overlap ranks at 1e-6 (seen: fused, one lr, eps
    2e-4 at count 11, two steps whose slices' eps met at 7 and 8: the lr's 12 and 11 went later)."""
    t0, gap, eps_gap = _count_gaps(fits, b1, b2, coupled_decay, built)
    # a step fit is a slice through a ridge (step size against eps or the decay): on a small file
    # its implied lr can sit 1e-3 off (seen: fused, 600 elements, eps 1e-3, wd 0.3); an lr that
    # changes by more than COUNT_GAP across the steps is a schedule.  Kept by the lr (wd) gap,
    # ordered by the larger of it and the eps gap (coupled only)
    most = COUPLED_COUNT_GAP if coupled_decay is not None else COUNT_GAP
    order = np.lexsort((t0, np.round(np.maximum(gap, eps_gap) / 1e-6)))
    return [int(t0[i]) for i in order if gap[i] < most][:PROBE_COUNTS]


def _count_gaps(
    fits: list[StepFit], b1: float, b2: float, coupled_decay: Recipe | None = None, built: int = 1,
    last: int = SCAN_LIMIT,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | float]:  # fmt: skip
    """For :func:`_counts_from_fits`: the counts 1..``last``, and at each the relative gap
    between the steps' implied lr (wd) intervals and (coupled only, else 0.0) their eps slices'
    (<= 0: they overlap; below 1e-6, a few float32 ulps, the fits' rounding)."""
    t0 = np.arange(1, last + 1, dtype=np.float64)
    lo = np.full(t0.size, -np.inf)
    hi = np.full(t0.size, np.inf)
    eps_lo, eps_hi = np.zeros(t0.size), np.full(t0.size, np.inf)
    for f in fits:
        count = t0 + f.index
        with np.errstate(all="ignore"):
            at = 1 - b2 ** (f.index + built)
            rescale = np.sqrt(at / (1 - b2**count))  # bc2_sqrt(index + built) / bc2_sqrt(count)
            eps_lo, eps_hi = np.maximum(eps_lo, f.eps.lo * rescale), np.minimum(eps_hi, f.eps.hi * rescale)
            scale = (1 - b1**count) * rescale
            lr_lo, lr_hi = f.coef.lo * scale, f.coef.hi * scale
            # the shared quantity's interval at this step and each count: lr, or wd = (1 - d) / lr
            if coupled_decay is not None:
                d_lo, d_hi = _decay_edges(coupled_decay, f.decay.lo, f.decay.hi)
                step_lo, step_hi = (1 - d_hi) / lr_hi, (1 - d_lo) / lr_lo
            else:
                step_lo, step_hi = lr_lo, lr_hi
        lo = np.maximum(lo, step_lo)
        hi = np.minimum(hi, step_hi)
    with np.errstate(all="ignore"):
        gap = np.nan_to_num(np.maximum(lo / hi - 1, 0.0), nan=np.inf)
        eps_gap = np.nan_to_num(np.maximum(eps_lo / eps_hi - 1, 0.0), nan=0.0) if coupled_decay is not None else 0.0
    return t0, gap, eps_gap


def _beta1_by_step_fits(
    steps: list[StepData], candidates: list, b1: float, b1_iv: tuple[float, float], capability: str, numel: int
) -> float:
    """beta1 for a search where m leaves it an interval (torch <= 2.0 reads 1 - beta1 as bf16): W
    reads it through bc1 = 1 - beta1^t in the step size, so where bc1 still grows across the
    steps one lr fits them at some beta1s of the interval only.  ``b1`` (the simplest) where one
    lr fits a few steps, fitted alone (:func:`_picked_fits`), at some count; else the simplest
    of the grid's betas where one does (:func:`_count_gaps`, the count whose steps come closest);
    ``b1`` where the steps fit no path alike or no beta helps (an eps off the guesses: the
    schedule phase's lrs are pinned after, :func:`_beta1_for_one_lr`).  ~0.1-1 s."""
    for impl, b2, _ in candidates:
        fits = _picked_fits(_picked_steps(steps), recipe(impl), capability, Hyper(beta1=b1, beta2=b2), numel)
        if len(fits) >= 2:
            break
    else:
        return b1
    # (beta1 moves the gaps only at counts where beta1^count still shows in a double's 1 - beta1^count)
    last = min(SCAN_LIMIT, math.ceil(math.log(2.0**-60) / math.log(b1_iv[1])))
    ranked = lambda b: np.round(_count_gaps(fits, b, b2, last=last)[1] / 1e-6)  # noqa: E731
    if np.round(_count_gaps(fits, b1, b2)[1] / 1e-6).min() == 0:
        return b1
    grid = np.linspace(*b1_iv, BETA1_GRID // 8 + 1)
    gaps = np.array([ranked(float(b)) for b in grid])  # (beta1, count)
    closest = int(np.argmin(gaps.min(axis=0)))  # (the smallest count among the closest)
    if gaps[:, closest].min() != 0:
        return b1
    return simplest_in(*_run_ends(lambda b: ranked(b)[closest] == 0, grid, np.flatnonzero(gaps[:, closest] == 0)))


def _run_ends(inside: Callable[[float], bool], grid: np.ndarray, run: np.ndarray) -> tuple[float, float]:
    """The ends of the values ``inside``, one run of them holding the ``grid`` points ``run``
    (indices): each end bisected towards the grid point beyond it (a grid end stays)."""
    first, last = int(run[0]), int(run[-1])
    lo = float(grid[first]) if first == 0 else _bisected_edge(inside, float(grid[first]), float(grid[first - 1]))
    hi = (
        float(grid[last]) if last == grid.size - 1 else _bisected_edge(inside, float(grid[last]), float(grid[last + 1]))
    )
    return lo, hi


def _bisected_edge(inside: Callable[[float], bool], at: float, outside: float) -> float:
    """The last value from ``at`` (inside) towards ``outside`` (not) that is inside, to a double's
    precision (the values inside between them one run)."""
    for _ in range(64):
        mid = (at + outside) / 2
        if mid in (at, outside):
            break
        at, outside = (mid, outside) if inside(mid) else (at, mid)
    return at


def _fit_steps(
    steps, rcp, capability, h, offset, numel, e_first: tuple[float, ...] = ()
) -> tuple[list[StepFit], float | None] | None:
    """Per-step fits (an lr schedule), eps and decay settled across steps, then each step's
    step size refitted with them fixed.  Returns the fits and the eps of the refit (None: no
    eps tried refits every step; each fit keeps its own, and no single replay need be exact:
    seen, fused, b1 0.5, eps 1e-6, at count 1 for 2).  ``e_first``: eps values every step tries
    first (the eps a count scan kept this count with: a step's joint search of step size and eps
    can miss a narrow window of eps that the scan's grid found; seen: for-loop, eps 2e-4, from
    step 3, index 1 fitted at the scan's 1.86e-4 only).  At a count a scan kept (``e_first``
    given) the first step, the one fitted without another's hints, may fail where the others
    fit: it is fitted again last, with their eps.  (Not at every count: a wrong count would
    cost a second failing fit, ~12 s on 11 steps of 16384 elements, before it is left.)"""
    fits = []
    d_hint, e_hint = None, e_first
    deferred = None
    for sd in steps:  # eps is the same at every step, the decay nearly: each step hints the next
        f = fit_step(sd, rcp, capability, h, float(sd.index + offset), numel, d_hint, e_hint=e_hint)
        if f is None and e_first and not fits and deferred is None and len(steps) > 1:
            deferred = sd  # the first step, with no other step's hint: fitted again after them
            continue
        if f is None:
            return None
        fits.append(f)
        d_hint, e_hint = f.decay.mid(), tuple(dict.fromkeys((*_eps_hints(f.eps), *e_first)))
    if deferred is not None:
        # hinted by the others: the eps they allow together, spread over it (seen: for-loop step
        # schedule, b1 0.8, eps 3e-5, wd 0.3, from step 2: index 1 allows eps in [2.66e-5, 3.05e-5]
        # alone, and its search with all three unknown missed it; the later steps share [1.53e-5, 3.05e-5])
        e_retry = (*_eps_tries(fits), *_eps_spread(_shared(fits)[0]), *e_first)
        f = fit_step(deferred, rcp, capability, h, float(deferred.index + offset), numel, fits[0].decay.mid(),
                     e_hint=tuple(dict.fromkeys(e_retry)))  # fmt: skip
        if f is None:
            return None
        fits.insert(0, f)
    for eps in _eps_tries(fits):
        refit = []
        for sd, f in zip(steps, fits, strict=True):
            refit.append(fit_step(sd, rcp, capability, h, float(sd.index + offset), numel,
                                  fixed=(eps, f.decay.mid() if f.decay.hi < 1 else 1.0)))  # fmt: skip
            if refit[-1] is None:
                break
        else:  # keep each step's searched eps and decay intervals
            return [replace(r, eps=f.eps, decay=f.decay) for r, f in zip(refit, fits, strict=True)], eps
    return fits, None


EPS_SPREAD = 8
"""Points of an eps interval a deferred step fit tries (:func:`_eps_spread`)."""


def _eps_spread(iv: Interval) -> tuple[float, ...]:
    """EPS_SPREAD float32 values spread evenly in log scale over ``iv`` (ends included) where it
    spans at most two decades (a wider one says little of eps), else none."""
    if not 0 < iv.lo <= iv.hi < 100 * iv.lo:
        return ()
    return tuple(float(np.float32(x)) for x in np.geomspace(iv.lo, iv.hi, EPS_SPREAD))


def _eps_tries(fits: list[StepFit]) -> list[float]:
    """eps values to hold every step's fit at: the usual value if the steps' intervals allow it,
    then the one-digit values near the steps that see eps, nearest their middle first.  Each
    step's eps interval is a slice at that step's own step size and decay: they need not
    overlap, nor hold the truth (seen: 1e-7 outside [1.06e-7, 2.9e-7] with 1e-8 coupling no
    step; eps 1e-6 outside one step's [4.2e-7, 7.9e-7] and the next's [8.8e-7, 1.3e-6])."""
    shared = _shared(fits)[0]
    # the usual value, then the guesses inside the steps' common interval (seen: eps 1e-12 in
    # [1e-38, 3e-10]; the simplest value there, 1e-10, coupled no step)
    eps_tries = [_prefer_eps(shared), *(g for g in EPS_GUESSES if shared.lo <= g <= shared.hi)]
    seen = [f.eps for f in fits if 0 < f.eps.lo and f.eps.hi < 4 * f.eps.lo]
    if seen:
        lo_seen, hi_seen = min(iv.lo for iv in seen), max(iv.hi for iv in seen)
        centre = math.sqrt(lo_seen * hi_seen)
        near = _one_digit_in(lo_seen / 4, hi_seen * 4)
        eps_tries += sorted(near, key=lambda x: abs(math.log(x / centre)))[:8]
    return list(dict.fromkeys(eps_tries))


def _decay_edges(rcp: Recipe, lo: float, hi: float) -> tuple[float, float]:
    """The reals ``1 - lr*wd`` a decay interval [lo, hi] found for ``rcp`` stands for: those that
    round into it (float32), or on CUDA fused, whose k = lr*wd is searched as ``1 - d`` on d's
    float32 grid (:func:`_decay_opening`), up to the next grid value out: k's own float32 values
    lie between grid values, and those next to an end may replay too."""
    if _fused_cuda(rcp):
        grid = 2.0**-24  # float32 spacing in [0.5, 1)
        return max(0.5, lo - grid), min(1.0, hi + grid)
    return _rounding_edges(lo, hi)


def _wd_floor(wd_lo: float, lr_top: float, rcp: Recipe) -> float:
    """The lower end of a weight decay interval, 0.0 where it gives the bits of no decay: where
    ``1 - lr*wd`` is 1.0 even as a double at every lr up to ``lr_top`` (lr*wd <= 2^-54), every
    reading of it (a double, float32, bf16, or float32 tensor arithmetic) is exactly 1, and a path
    that multiplies by it keeps every p (``p * 1 = p``: ±0, subnormals, Inf and NaN too).  Not
    CUDA fused: it forms ``fma(p, -k, p)``, k = f32(lr)*f32(wd) > 0, which turns -0 into +0 and
    Inf into NaN where no decay leaves them."""
    if _fused_cuda(rcp) or not (0.0 < wd_lo and 1.0 - lr_top * wd_lo == 1.0):
        return wd_lo
    return 0.0


def _no_decay_replays(rcp: Recipe, steps: list[StepData], schedule: Schedule, capability: str, numel: int) -> bool:
    """Whether the sampled steps replay with weight decay 0 (every path then skips the decay),
    asked where a wd interval reaches the search's floor: the bits see no decay, yet on CUDA
    fused any k = lr*wd > 0 turns a W of -0 into +0 (``fma(p, -k, p)``: -0*-k = +0, +0 + -0 = +0)
    and Inf into NaN, which none leaves; elsewhere 0 gives the floor's bits (:func:`_wd_floor`)."""
    no_decay = replace(schedule, hyper=replace(schedule.hyper, weight_decay=0.0))
    return _sample_replays(rcp, steps, no_decay, capability, numel)


def _wd_interval(fits: list[StepFit], lrs: list[tuple[float, float]], rcp: Recipe) -> tuple[float, float]:
    """Weight decay from each step's decay factor d = f32(1 - lr_t*wd), intersected over steps:
    1 - lr_t*wd lies anywhere that rounds into d's interval (a decay interval [1, 1] still
    allows 1 - lr_t*wd half an ulp below 1: not wd = 0 alone; :func:`_decay_edges`)."""
    lo, hi = 0.0, math.inf
    for f, (lr_lo, lr_hi) in zip(fits, lrs, strict=True):
        d_lo, d_hi = _decay_edges(rcp, f.decay.lo, f.decay.hi)
        if f.decay.hi < 1.0:
            lo = max(lo, (1 - d_hi) / lr_hi)
        hi = min(hi, (1 - d_lo) / lr_lo if lr_lo > 0 else math.inf)
    return (lo, hi) if lo <= hi else (min(lo, hi), max(lo, hi))


def _shared(fits: list[StepFit]) -> tuple[Interval, Interval]:
    """eps and decay intervals common to every step (the hull when they do not overlap)."""
    e_lo, e_hi = max(f.eps.lo for f in fits), min(f.eps.hi for f in fits)
    if e_lo > e_hi:
        e_lo, e_hi = min(f.eps.lo for f in fits), max(f.eps.hi for f in fits)
    d_lo, d_hi = max(f.decay.lo for f in fits), min(f.decay.hi for f in fits)
    if d_lo > d_hi:
        d_lo, d_hi = min(f.decay.lo for f in fits), max(f.decay.hi for f in fits)
    return Interval(e_lo, e_hi), Interval(d_lo, d_hi)


def _rounding_edges(lo: float, hi: float, bf16: bool = False) -> tuple[float, float]:
    """The reals that round (RNE) to a float32 (or bf16) value in [lo, hi], for lo, hi > 0:
    half the gap to each neighbour further out."""

    def step(x: float, up: bool) -> float:
        if x <= 0 and not up:
            return x
        if bf16:
            b = int(bits.narrow(np.array([x], np.float32))[0])
            return float(bits.widen(np.array([b + (1 if up else -1)], np.uint16))[0])
        return float(np.nextafter(np.float32(x), np.float32(np.inf if up else -np.inf)))

    return lo - (lo - step(lo, False)) / 2, hi + (step(hi, True) - hi) / 2


def _within(iv: tuple[float, float] | None, bound: tuple[float, float] | None) -> tuple[float, float] | None:
    """``iv`` cut to ``bound`` (None: no bound); None where nothing is left."""
    if iv is None or bound is None:
        return iv
    lo, hi = max(iv[0], bound[0]), min(iv[1], bound[1])
    return (lo, hi) if lo <= hi else None


def _hull(iv: tuple[float, float], other: tuple[float, float] | None) -> tuple[float, float]:
    """The smallest interval holding ``iv`` and ``other`` (``iv`` where ``other`` is None)."""
    return iv if other is None else (min(iv[0], other[0]), max(iv[1], other[1]))


def _lrs_of(c: Interval, bc1: float) -> tuple[float, float]:
    """The doubles lr whose :func:`step_size` lies in [c.lo, c.hi] (positive float32 values)."""
    lo, hi = _lr_edges(np.array([_f32_int(c.lo)]), np.array([_f32_int(c.hi)]), np.array([bc1]))
    return _value_of(int(lo[0]), True), _value_of(int(hi[0]), True)


def _lr_intervals(fits: list[StepFit], rcp: Recipe, b1: float, offset: int) -> list[tuple[float, float]]:
    """Each step's lr interval from its fitted step size."""
    return [_lrs_of(f.coef, bias_correction1(rcp, b1, f.index + offset)) for f in fits]


PINNING_STEPS = 8
"""At most this many steps' own lrs pin beta1 under one lr (:func:`_beta1_for_one_lr`)."""
BETA1_GRID = 2049
"""Points of beta1's interval :func:`_beta1_for_one_lr` tries before bisecting the ends it finds."""


def _one_lr_at(
    lr_ivs: list[tuple[float, float]], counts: list[float], rcp: Recipe, b1: float, beta1: float
) -> tuple[float, float]:
    """The one lr every step allows at ``beta1`` (lo > hi: none), from each step's lr interval at
    ``b1``.  W reads lr only as lr/bc1 (a double: the CPU programs), so step k's interval at beta1
    is the one at b1 times r_k = bc1(beta1, t_k) / bc1(b1, t_k)."""
    r = bias_correction1(rcp, beta1, np.asarray(counts)) / bias_correction1(rcp, b1, np.asarray(counts))
    return max(lo * k for (lo, _), k in zip(lr_ivs, r, strict=True)), min(
        hi * k for (_, hi), k in zip(lr_ivs, r, strict=True)
    )


def _one_lr_span(
    lr_ivs: list[tuple[float, float]], counts: list[float], rcp: Recipe, b1: float, betas: tuple[float, float]
) -> tuple[float, float]:
    """The lrs :func:`_one_lr_at` allows at some beta1 of ``betas`` (where one lr fits; 65 of
    them, ends included: the lr moves with bc1, smoothly, across the run)."""
    ends = [_one_lr_at(lr_ivs, counts, rcp, b1, float(b)) for b in np.linspace(*betas, 65)]
    return min(lo for lo, hi in ends if lo <= hi), max(hi for lo, hi in ends if lo <= hi)


def _beta1_pinned_by_w(at: tuple[float, float]) -> str:
    return (
        f"one lr fits every step only for beta1 in [{at[0]:.6g}, {at[1]:.6g}] (W reads lr/(1 - beta1^t)): "
        "beta1 is pinned by W there, within the interval m allows"
    )


def _beta1_for_one_lr(
    lr_ivs: list[tuple[float, float]], counts: list[float], rcp: Recipe, b1: float, b1_iv: tuple[float, float]
) -> tuple[float, float] | None:
    """The beta1 values in ``b1_iv`` at which one lr fits every step (:func:`_one_lr_at`); None:
    none on the grid.

    Theorem: they form an interval.  Steps k, j agree where lo_k r_k(b) <= hi_j r_j(b), i.e. where
    r_k/r_j = (1 - b^t_k)/(1 - b^t_j) (times a constant) is on one side of a bound; for t_k < t_j
    that ratio, 1/(1 + b^t_k (1 + ... + b^(t_j-t_k-1)) / (1 + ... + b^(t_k-1))), falls as b grows
    (integer counts).  Each pair's betas are a half-line, their intersection an interval: found on
    a grid of BETA1_GRID points, each end bisected to a double's precision."""

    def fits(b: float) -> bool:
        lo, hi = _one_lr_at(lr_ivs, counts, rcp, b1, b)
        return lo <= hi

    grid = np.linspace(*b1_iv, BETA1_GRID)
    ok = np.flatnonzero([fits(float(b)) for b in grid])
    return _run_ends(fits, grid, ok) if ok.size else None


def _decay_binding(conv_decay: Callable | None, lr: np.ndarray, wd: float | np.ndarray) -> dict[str, np.ndarray]:
    """The opened decay at these lrs (doubles) and wd: ``__d`` = how ``1 - lr*wd`` reaches the
    kernel (``conv_decay``), or, on a path reading them apart (``conv_decay`` None: CUDA fused,
    opened as ``__l``, ``__w``), f32(lr) and f32(wd) themselves (the kernel forms
    k = f32(f32(lr)*f32(wd)))."""
    if conv_decay is None:
        return {"__l": lr.astype(np.float32), "__w": np.broadcast_to(np.asarray(wd, np.float32), lr.shape).copy()}
    return {"__d": conv_decay(1 - lr * np.asarray(wd, np.float64))}


C_BRACKETS = ((1 - 1e-3, 1 + 1e-3), (1 - 1e-2, 1 + 1e-2), (0.9, 1.1), (0.5, 2.0), (1 / 8, 8.0), (2.0**-10, 2.0**10))
"""The brackets :func:`_unclipped` searches in turn, as factors of a fit's step-size interval."""
PROBE_BRACKETS = (C_BRACKETS[0], C_BRACKETS[3])
"""Those a walk's probe tries, the first that holds a step size standing (``widen`` False)."""
SCREEN_BRACKETS = C_BRACKETS[:2]
"""Those a screen tries (``narrow``), around guesses within 1% (:func:`_held_elsewhere`)."""


def _unclipped(
    search: Callable[[float, float], Interval | None], near: Interval, widen: bool = True, narrow: bool = False
) -> Interval | None:
    """The step-size interval ``search(lo, hi)`` finds in the narrowest bracket around ``near``
    that holds it.  An element's W is monotone in c only while bf16(p * d(c)) holds still: near
    the fit's c first (d barely moves), then wider brackets.  An interval that reaches an end of
    its bracket was cut there, not by the bits (seen: CUDA fused cosine, wd 0.3, eps 2e-4, a
    held hint's point c: lr [6.786e-7, 6.814e-7] reported, every lr in [6.72e-7, 6.89e-7]
    replays, the truth 6.7528e-7 among them): the next bracket is searched, and its answer kept
    where it holds the one before (else that one, the widest the monotone search can vouch
    for).  None: no bracket holds a c every element allows.  ``widen`` False: whether some c fits
    is all the caller reads (a ridge walk's probes): PROBE_BRACKETS, the first answer standing.
    ``narrow``: SCREEN_BRACKETS instead (a screen whose ``near`` is a guess within them)."""
    found: Interval | None = None
    for below, above in SCREEN_BRACKETS if narrow else C_BRACKETS if widen else PROBE_BRACKETS:
        lo, hi = near.lo * below, near.hi * above
        iv = search(lo, hi)
        if iv is None or (found is not None and not (iv.lo <= found.lo and found.hi <= iv.hi)):
            if found is not None:
                return found
            continue
        found = iv
        if not widen or (_value_of(_f32_int(lo), False) < iv.lo and iv.hi < _value_of(_f32_int(hi), False)):
            return iv
    return found


def _coupled_schedule(
    steps: list[StepData],
    fits: list[StepFit],
    rcp: Recipe,
    capability: str,
    h: Hyper,
    offset: int,
    numel: int,
    no_decay_at: float | None = None,
    ridges: bool = True,
    wd_first: tuple[float, ...] = (),
    screen: bool = False,
) -> tuple[list, tuple[float, float], list[tuple[float, float]], float, Interval, tuple[float, float]] | None:
    """A schedule with a visible decay: lr_t and one weight decay, coupled as torch couples them.

    Each step reads lr_t twice, in the step size ``f32(lr_t / bc1)`` and in the decay factor
    ``1 - lr_t*wd``; the per-step fits (:func:`fit_step`) leave the decay free, and a free decay
    shifts the step size by an ulp or two.  Here wd is held at a value inside the per-step fits'
    wd interval and each step's lr is searched with both scalars bound to it; then, with those
    lrs, the interval of wd that every element of every step allows.  Returns per-step lr
    intervals (as reals) at one eps, the wd interval, the lr intervals widened along eps's
    ridge, that eps, the eps interval of the ridge and the wd interval widened along the steps'
    ridges (``ridges``); or None when no coupled lr fits some step.

    ``no_decay_at``: a schedule without a visible decay whose steps all refit at this eps: wd is
    held at 0 and only the lrs are walked along eps's ridge (seen: eps 1e-7 outside the steps'
    [0, 8.9e-8], an lr outside its interval).  ``ridges``: when no wd tried couples the steps,
    walk each step's ridge for wd (seconds; :func:`_schedule_other_offsets` goes without, and
    tries ``wd_first``, the wd found at another count, before the fits' own).  ``screen``: the
    fits are guesses within 1% of each step's step size (:func:`_held_elsewhere`): at their eps
    alone (the screen tries each eps itself; the one-digit values near a held eps, 7 more, made
    every try eight), each step's lr searched in SCREEN_BRACKETS alone, no ridge walked, the
    first lrs and wd interval that couple returned as they are (lrs for the ridges, eps for its
    interval)."""
    eps_tries = [no_decay_at] if no_decay_at is not None else [fits[0].eps.lo] if screen else _eps_tries(fits)
    wd_lo, wd_hi = _wd_interval(fits, _lr_intervals(fits, rcp, h.beta1, offset), rcp)
    # each step's fit alone, on its sample, can allow no decay where every element of the steps
    # together sees one: a weight decay found so at another count (``wd_first``) is tried alone
    # (seen: `--draw release` seed 192, fused 2.5-2.6, lr 2e-5, wd 0.05, from step 11, 113240
    # elements: count 10 found with wd in [0.047, 0.102]; at the truth 11 the fits' decays reached
    # 1 and the count was dropped unchecked)
    held = tuple(w for w in wd_first if w > 0) if no_decay_at is None and wd_lo == 0.0 < wd_hi else ()
    if no_decay_at is None and not 0 < wd_lo <= wd_hi and not held:
        return None
    opened_steps = []
    for sd in steps:
        # lr and wd read apart (CUDA fused: k = f32(f32(lr)*f32(wd))): both opened, so the decay
        # is exactly the kernel's and not a value on d's grid (seen: cosine from 2e-5, wd 0.3:
        # k ~ 6e-6, the grid 1% of it, no wd coupled the steps); conv_decay None says so
        apart = _read_apart(rcp)
        _, opened, conv_eps, conv_decay = _open_step(rcp, h, float(sd.index + offset), capability, apart)
        conv_decay = None if apart else conv_decay
        where = {k: v[sd.flat] for k, v in rcp.positions(capability, numel, 1).items()}
        bc1 = bias_correction1(rcp, h.beta1, float(sd.index + offset))
        opened_steps.append((opened, _widen(sd.state), where, conv_eps, conv_decay, bc1, sd.want["param"]))

    def coupled_lrs(
        eps: float, wd: float, near: list[Interval], on: list | None = None, widen: bool = True, narrow: bool = False
    ) -> list[tuple[float, float]] | None:
        """Each step's lr interval with eps and wd held (None: some step has none); ``on``: per
        step (opened, inputs, where, conv_eps, conv_decay, bc1, target), default every element;
        ``widen`` False: a probe of a walk, whose intervals are not read (:func:`_unclipped`)."""
        lrs: list[tuple[float, float]] = []
        for c_near, (opened, inputs, where, conv_eps, conv_decay, bc1, target) in zip(
            near, on or opened_steps, strict=True
        ):
            e = conv_eps(np.full(target.size, eps, np.float32))

            # The search runs over the step size c = f32(lr/bc1) itself, with lr = c*bc1 in the
            # decay: the lr is a Python double, and a float32 lr grid misses the c of some
            # steps (f32(f32(lr)/bc1) != f32(lr/bc1) for ~3% of them; seen: lr 0.01, wd 0.3,
            # no lr coupled at the true count).  Every lr rounding to c gives the same decay
            # factor but within ulp(c)*bc1*wd of a float32 rounding edge of 1 - lr*wd.
            def bind(x: np.ndarray, e=e, bc1=bc1, conv_decay=conv_decay) -> dict[str, np.ndarray]:
                return {"__e": e, "__c": x, **_decay_binding(conv_decay, x.astype(np.float64) * float(bc1), wd)}

            iv = _unclipped(
                functools.partial(scalar_interval, opened, inputs, where, "param", target, bind), c_near, widen, narrow
            )
            if iv is None:
                return None
            lrs.append(_lrs_of(iv, bc1))
        return lrs

    def wd_allowed(lr_values: list[float], eps: float) -> tuple[float, float] | None:
        """The wd interval every element of every step allows with these lrs (and eps)."""
        lo_all, hi_all = 0.0, math.inf
        for sd, lr, (opened, inputs, where, conv_eps, conv_decay, bc1, _) in zip(
            steps, lr_values, opened_steps, strict=True
        ):
            c = step_size(np.full(sd.flat.size, lr), bc1)
            e = conv_eps(np.full(sd.flat.size, eps, np.float32))
            lr_all = np.full(sd.flat.size, lr)

            def bind_wd(x: np.ndarray, e=e, c=c, conv_decay=conv_decay, lr=lr_all) -> dict[str, np.ndarray]:
                return {"__e": e, "__c": c, **_decay_binding(conv_decay, lr, x)}

            iv = scalar_interval(opened, inputs, where, "param", sd.want["param"], bind_wd, WD_FLOOR, 0.5 / lr)
            if iv is None:
                return None
            lo_all, hi_all = max(lo_all, iv.lo), min(hi_all, iv.hi)
        return _rounding_edges(lo_all, hi_all) if lo_all <= hi_all else None

    def rows_of(step: tuple, sd: StepData, size: int = 256) -> tuple:
        """``step`` (an ``opened_steps`` entry) on the elements with the smallest v (eps moves
        them most) and those W moved most (the narrowest lr intervals)."""
        v = bits.widen(sd.want["exp_avg_sq"]).astype(np.float64)
        moved = np.abs(bits.ulp_distance(sd.want["param"], sd.state["param"]))
        rows = np.union1d(np.argsort(v, kind="stable")[:size], np.argsort(-moved, kind="stable")[:size])
        opened, inputs, where, conv_eps, conv_decay, bc1, target = step
        sub = {k: x[rows] for k, x in inputs.items()}
        return opened, sub, {k: x[rows] for k, x in where.items()}, conv_eps, conv_decay, bc1, target[rows]

    # the per-step decay intervals are slices (each at its step's own c): their wd interval can
    # miss the truth (seen: 0.3 outside [0.29991, 0.29997]; 0.01 outside [0.0101, 0.0137]); the
    # simplest values of wider intervals too, each checked below on every element of every step
    widened = [simplest_in(wd_lo * (1 - r), wd_hi * (1 + r)) for r in (0.0, 1e-3, 1e-2, 5e-2, 0.2)]
    wd_tries = (*wd_first, *widened, (wd_lo + wd_hi) / 2) if no_decay_at is None else (0.0,)
    wd_tries = held or wd_tries

    def along_ridges(eps: float) -> tuple[float, float] | None:
        """The wd interval where every step's ridge allows some coupled lr (an outer bound).  A
        step fit is a point on its ridge of step size against decay; with a decay the bits
        barely see, the ridge runs far in wd for a tiny change in the step size (seen: fused
        warmup, lr 2e-5, wd 0.3: the slices' wd interval [0.019, 0.24], a step's lr 3e-4 off).
        From each step's own point, walk wd to the farthest values at which one lr still
        replays that step (its rows eps and the lr bind most), and intersect the steps."""
        lo_all, hi_all = 0.0, math.inf
        lr_ivs = _lr_intervals(fits, rcp, h.beta1, offset)
        # the largest lrs first (their decay shows most: their ridges end nearest); a step whose
        # ridge still holds the bound found so far cannot move it (a ridge is one interval along
        # wd) and is not walked that way, one probe instead (a 1000-step cosine file, profiled:
        # 2000 walks, 154 s -> 2522 probes, 22 s)
        by_lr = sorted(zip(fits, opened_steps, steps, lr_ivs, strict=True), key=lambda z: -(z[3][0] + z[3][1]))
        for f, step, sd, (lr_lo, lr_hi) in by_lr:
            lr = (lr_lo + lr_hi) / 2
            start = (1 - f.decay.mid()) / lr
            on = [rows_of(step, sd)]

            def at(x: float, f=f, on=on) -> list[tuple[float, float]] | None:
                return coupled_lrs(eps, x, [f.coef], on, widen=False)

            if start <= 0 or at(start) is None:
                continue  # (no point of this step's ridge to walk from: no bound from it)
            # (to 2^-10 relative: wd values to try, each checked on every element below)
            if lo_all <= start and (lo_all == 0 or at(lo_all) is None):
                lo_all = max(lo_all, _farthest(start, max(WD_FLOOR, lo_all), at, within=1 << 13)[0])
            if hi_all >= start and (hi_all == math.inf or at(hi_all) is None):
                hi_all = min(hi_all, _farthest(start, min(0.5 / lr, hi_all), at, within=1 << 13)[0])
        return (lo_all, hi_all) if 0 < lo_all <= hi_all < math.inf else None

    # a path reading lr and wd apart (CUDA fused) has per-step decay slices on d's coarse grid,
    # their wd interval biased (seen: cosine from 2e-5, wd 0.3: [0.17, 0.28]): its ridges are
    # walked at the first three eps tried (the eps there 1e-12, the third)
    read_apart = _fused_cuda(rcp)
    ridge_eps = eps_tries[:3] if read_apart else eps_tries[:1]

    def tries() -> Iterator[tuple[float, float]]:
        yield from itertools.product(dict.fromkeys(eps_tries), dict.fromkeys(wd_tries))
        for eps in ridge_eps if no_decay_at is None and ridges and not screen else ():
            bounds = along_ridges(eps)
            if bounds is not None:
                # at the eps walked, then the other eps tried (the ridges in wd barely move with
                # eps; seen: fused step schedule 1e-3 -> 1e-4, eps 1e-6, wd 0.05, 177x23: the
                # ridges at 1e-8 bound wd to [0.0472, 0.0529], and 0.05 coupled at 1e-6 only)
                wds = dict.fromkeys((simplest_in(*bounds), (bounds[0] + bounds[1]) / 2))
                yield from ((e, wd) for e in dict.fromkeys((eps, *eps_tries)) for wd in wds)
            if bounds is not None and read_apart:
                # a decay the ridges barely bound (seen: [1e-30, 0.86] for wd 0.3): the one-digit
                # values inside, nearest the middle first (what people type)
                yield from ((eps, wd) for wd in _one_digit_near_middle(*bounds)[:9])

    for eps, wd in tries():
        lrs = coupled_lrs(eps, wd, [f.coef for f in fits], widen=not screen, narrow=screen)
        if lrs is None:
            continue
        wd_iv = wd_allowed([simplest_in(lo, hi) for lo, hi in lrs], eps) if wd > 0 else (wd_lo, wd_hi)
        if wd_iv is None:
            continue
        if screen:
            return lrs, wd_iv, lrs, eps, Interval(eps, eps), wd_iv
        # wd_allowed is a slice at one lr per step (the value reported replays with those lrs);
        # lr and wd trade off through 1 - lr*wd, and the truth can lie off the slice (seen: fused
        # cosine from 3e-4, wd 0.3 outside [0.30046, 0.30070]): the interval spans the ridges too
        # (with no decay held, too: the slices' upper end can sit below the truth; seen: CUDA
        # fused warmup to 3e-4, wd 0.01, eps 2e-4, 376x3: wd reported [0, 0.0036])
        bounds = along_ridges(eps) if ridges else None
        wd_wide = wd_iv if bounds is None else (min(wd_iv[0], bounds[0]), max(wd_iv[1], bounds[1]))
        # eps and the lrs trade off (eps the bits barely see still moves each step's lr by an ulp
        # or two: seen, lr 0.003 outside its step's interval at eps 1e-8, inside at the true
        # 1e-7; and the steps' eps intervals, slices at their own lrs, can miss the truth: seen,
        # 1e-12 outside [5.6e-9, 1.3e-8]).  Walk eps from the point to the farthest values at
        # which some lr per step still replays, on the elements eps moves most and those that
        # bind each lr (an outer bound), and widen each lr interval to the lrs across them.
        near = [Interval(lo / step[5], hi / step[5]) for step, (lo, hi) in zip(opened_steps, lrs, strict=True)]
        on = [rows_of(step, sd) for step, sd in zip(opened_steps, steps, strict=True)]

        def at(x: float, wd=wd, near=near, on=on) -> list[tuple[float, float]] | None:
            return coupled_lrs(x, wd, near, on, widen=False)

        (e_lo, _, e_out_lo), (e_hi, _, e_out_hi) = (_reach(eps, end, at, EPS_REACH) for end in EPS_RANGE)

        # (a tie check, ``ridges`` False, reads the ends alone: it runs at many counts, and its
        # lrs join intervals that span every count's; 9 values there took a test from 35 to 49 s)
        samples = RIDGE_SAMPLES if ridges else 2
        at_eps = functools.partial(coupled_lrs, wd=wd, near=near, on=on)
        e_reach = (min(e_out_lo, eps), max(e_out_hi, eps))
        more_lrs = [_spanned_lrs((min(e_lo, eps), max(e_hi, eps)), eps, lrs, at_eps, samples, e_reach)]
        if wd > 0:  # lr trades off with wd too (1 - lr*wd): along wd's interval, eps held
            at_wd = functools.partial(coupled_lrs, eps, near=near, on=on)
            more_lrs.append(_spanned_lrs(wd_wide, wd, lrs, at_wd, samples))
        ridge = [list(iv) for iv in lrs]
        for more in more_lrs:
            for r, (lo, hi) in zip(ridge, more, strict=True):
                r[0], r[1] = min(r[0], lo), max(r[1], hi)
        eps_ridge = Interval(*e_reach)
        return lrs, wd_iv, [(lo, hi) for lo, hi in ridge], eps, eps_ridge, wd_wide
    return None


SAMPLE_FACTORS = (4, 4, 16, 16)
"""The random sample of each search after the first, in SAMPLEs; each also samples the elements
the answers before it replayed wrong (a repeated size: those alone are new).  Measured on a
10000x64 x 60-step fused schedule: (4, 4, 16) exact in 108 s, (4, 16, 16) in 125 s."""
WRONG_PER_ROUND = 4 * SAMPLE
"""At most this many of those elements added per search (drawn at random)."""


class Hint(NamedTuple):
    """What one search found, for the search on a larger sample: the path, the step count of
    index 0, the phase that found it, eps, weight decay and (a schedule) the lr of each
    replayed step by array index, and the elements whose replay was wrong."""

    impl: str
    offset: int
    phase: str
    eps: float
    weight_decay: float = 0.0
    lrs: dict[int, float] | None = None
    mismatched: tuple[int, ...] = ()  # flat indices of the elements its replay got wrong (some)
    count_only: bool = False  # a tie's search: the hinted count alone, no other tried
    beta1: float | None = None  # torch <= 2.0: the beta1 of m's interval W's lrs were found at
    beta2: float | None = None  # the beta2 of v's interval W replayed at (one of several typed there)


def _held_schedule(
    steps: list[StepData], hint: Hint, rcp: Recipe, capability: str, h: Hyper, numel: int
) -> tuple[list, tuple[float, float], list[tuple[float, float]], float, Interval, tuple[float, float]] | None:
    """A scheduled hint with a visible decay, coupled on ``steps``: :func:`_coupled_schedule`
    from the points the hint's values make (each step's step size ``f32(lr_t/bc1)``, eps, and
    decay ``1 - lr_t*wd``), its weight decay tried first.  None: no hint to hold, or some step
    has no lr with them."""
    fits = _hint_fits(steps, hint, rcp, h)
    if fits is None:
        return None
    return _coupled_schedule(steps, fits, rcp, capability, h, hint.offset, numel, wd_first=(hint.weight_decay,))


def _hint_fits(steps: list[StepData], hint: Hint, rcp: Recipe, h: Hyper) -> list[StepFit] | None:
    """The points a scheduled hint's values make at each step (step size ``f32(lr_t/bc1)``, eps,
    decay ``1 - lr_t*wd``); None: no schedule with a visible decay, or a step it has no lr for."""
    if hint.lrs is None or hint.weight_decay <= 0.0 or any(sd.index not in hint.lrs for sd in steps):
        return None
    fits = []
    for sd in steps:
        lr = hint.lrs[sd.index]
        bc1 = bias_correction1(rcp, h.beta1, np.array([float(sd.index + hint.offset)]))
        c = float(step_size(np.array([lr]), bc1)[0])
        d = 1.0 - lr * hint.weight_decay
        fits.append(StepFit(sd.index, Interval(c, c), Interval(hint.eps, hint.eps), Interval(d, d)))
    return fits


SCREEN_ROWS = (256, SAMPLE)
"""Elements per step, besides those the hint replayed wrong, that :func:`_held_elsewhere` holds
each moved hint on, in turn: the first rejects most counts cheaply, the second most of the rest
(seen: fused cosine, eps 1e-6, wd 0.1, 3000x20 recorded from step 31, a hint at count 13: on
256 elements counts 18 and 21..33 held, each failing the held search after, ~4 s a count; on
2048 the same; on 4096, 31 alone)."""
SCREEN_COUNTS = 64
"""How far from the hint's count :func:`_held_elsewhere` carries it, either way."""
SCREEN_STEPS = 8
"""The steps :func:`_held_elsewhere` holds each moved hint on: those with the largest lrs."""


def _moved_hint(hint: Hint, h: Hyper, count: int, eps: float) -> Hint:
    """``hint``'s schedule carried to step count ``count`` of index 0, at ``eps``.  With eps unseen
    the update is about ``lr_t * bc2_sqrt(t) / bc1(t) * m / sqrt(v)``: each step's lr is scaled by
    ``bc1(t') / bc1(t) * bc2_sqrt(t) / bc2_sqrt(t')`` (t = index + hint.offset, t' = index +
    count; float64, a guess: within 1% of the step size there where the hint pinned it), and wd
    so that the decay ``1 - lr*wd`` of the step with the largest lr, the decay the bits see
    best, stays put."""
    assert hint.lrs is not None
    b1, b2, lrs = h.beta1, h.beta2, {}
    for index, lr in hint.lrs.items():
        t, moved = index + hint.offset, index + count
        lrs[index] = lr * (1 - b1**moved) / (1 - b1**t) * math.sqrt((1 - b2**t) / (1 - b2**moved))
    top = max(hint.lrs, key=lambda i: hint.lrs[i])
    wd = hint.weight_decay * hint.lrs[top] / lrs[top]
    return hint._replace(offset=count, eps=eps, weight_decay=wd, lrs=lrs)


def _held_elsewhere(
    steps: list[StepData], hint: Hint, rcp: Recipe, capability: str, h: Hyper, numel: int, deadline: float | None
) -> Iterator[Hint]:
    """A scheduled hint with a visible decay that its own count no longer couples, carried to
    other counts and eps (:func:`_moved_hint`): those whose values hold (:func:`_coupled_schedule`,
    a screen) on the elements the hint replayed wrong and SCREEN_ROWS others per step, the hint's
    eps first, then EPS_GUESSES; at each eps the counts within SCREEN_COUNTS of the hint's, the
    nearest first.  On the SCREEN_STEPS steps with the largest lrs: their decays pin the count,
    and the moved lrs of steps with small ones can sit far off, where an eps the hint's sample
    did not see set them (seen: the last step's 24% off the truth's; the held search after
    widens its bracket).  A try costs ~5 ms: a wrong count fails at its first steps.

    Late in a run the step count and an eps the sample does not see trade off with the lrs: the
    first sample can couple a wrong count at a wrong eps, and the searches of the counts near it
    fail on larger samples (seen: fused cosine from 1e-3 over 60 steps, eps 1e-6, wd 0.1, 6000x50
    recorded from step 31: count 13 at eps 1e-8 coupled 4096 elements per step, W 0.99985;
    counts 12..15 fitted on 16384 failed at ~30 s each, 31 was never queued, and no answer came
    in 15 minutes).  There the hint moved to 31 at eps 1e-6 holds, 2.4 s into the screen, and no
    other of its 770 tries (counts 1..77, ten eps; 3.8 s) does: the file is identified in 122 s."""
    if _hint_fits(steps, hint, rcp, h) is None:
        return
    wrong = np.asarray(hint.mismatched, np.int64)
    largest = set(sorted(hint.lrs, key=lambda i: -hint.lrs[i])[:SCREEN_STEPS])

    def screened(sd: StepData, rows: int) -> StepData:  # the hint's wrong elements and ``rows`` others
        keep = np.isin(sd.flat, wrong)
        keep[_evenly(sd.flat.size, rows)] = True
        return _rows(sd, keep)

    screens = [[screened(sd, rows) for sd in steps if sd.index in largest] for rows in SCREEN_ROWS]
    around = range(max(1, hint.offset - SCREEN_COUNTS), hint.offset + SCREEN_COUNTS + 1)
    counts = sorted(around, key=lambda c: (abs(c - hint.offset), c))
    for eps in dict.fromkeys((hint.eps, *EPS_GUESSES)):
        _check_time(deadline)
        for count in counts:
            if count == hint.offset and eps == hint.eps:
                continue  # (the hint itself: held already)
            moved = _moved_hint(hint, h, count, eps)
            if all(_screen_holds(on, moved, rcp, capability, h, numel) for on in screens):
                yield moved


def _screen_holds(steps: list[StepData], moved: Hint, rcp: Recipe, capability: str, h: Hyper, numel: int) -> bool:
    """Whether some lr per step near the moved hint's and one wd couple ``steps`` at its count and
    eps (:func:`_coupled_schedule`, a screen)."""
    fits = _hint_fits(steps, moved, rcp, h)
    wd_first = (moved.weight_decay,)
    return fits is not None and _coupled_schedule(steps, fits, rcp, capability, h, moved.offset, numel,
                                                  wd_first=wd_first, screen=True) is not None  # fmt: skip


def identify(
    rec: Recording,
    sample: int = SAMPLE,
    offsets: tuple[int, ...] = (1, 2, 3, 4, 5),
    seed: int = 0,
    max_seconds: float | None = None,
) -> Identification:
    """Find the programs and hyper-parameters that replay ``rec`` bit-exactly (module docstring).

    The intervals come from a sample of elements per step; when the replay of *every* element is
    not exact, the sample did not pin the values down, and the search runs again on larger samples
    (SAMPLE_FACTORS), each with the elements the answers before it replayed wrong - first only
    the search that found the answer (same path, step count and kind of search, its values held
    first), then, should that fail on the larger sample, all of them.

    ``max_seconds``: the searches after the first answer (larger samples, another path's tie)
    stop at their next phase or count once that many seconds have passed since the start, and
    the answer found so far is reported, with a finding that says so (None: no limit).  The
    first answer's search and the checks of an answer found run whole."""
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    stopped: list[str] = []  # the searches the deadline cut short
    skipped = _skipped_rows(rec)
    if skipped and len(skipped) == rec.steps - (0 if rec.has_initial else 1):
        raise AuditError(
            f"{rec.path}: W, momentum_W and variance_W never change from one row to the next (indices "
            f"{skipped[0]}..{skipped[-1]}): the optimizer did not step in this recording, nothing to identify"
        )
    view = _WithoutRows(rec, skipped) if skipped else rec

    def exact(found: Identification) -> bool:
        return all(v == 1.0 for v in found.exact.values())

    def settled(found: Identification) -> bool:
        """Exact; or, where rows are named as seeing a scaled gradient (no program replays those),
        exact on every other row: larger samples and other devices' searches cannot do better
        (seen: CUDA fused, beta1 0.5, row 4 of 12 clipped x0.5, 1098x22: each answer grown and
        searched again on the other programs, no answer in 300 s; 462 s in all).  Not each
        fraction at least the other rows' share, a bound a wrong answer meets too (seen: CUDA
        fused cosine from step 11, row 3 of 6 clipped: count 8 at W 0.964 >= 4/5, a few elements
        wrong on every row; the truth 11 replays the others exactly).  Not exact for ties:
        another path's answer with rows of its own left out is no tie."""
        apart = found.exact_apart_from_scaled
        return exact(found) or (apart is not None and all(v == 1.0 for v in apart.values()))

    def grown(
        found: Identification, hint: Hint, fused_cuda_only: bool, cuda_only: bool = False, anew: bool = True
    ) -> Identification:
        """``found`` (on SAMPLE elements per step), searched again on larger samples until settled;
        where the hinted search finds nothing there, the whole search (``anew``; else AuditError)."""
        size = min(sample, rec.numel)
        # the elements an answer replays wrong are those its sample did not bind: each later search
        # samples them too (seen: fused warmup + cosine, wd 0.1, 10000x64 x 60 steps: 4096, 16384
        # and 65536 random elements per step left W 0.9999935, a few hundred elements wrong)
        wrong: set[int] = set()
        for factor in SAMPLE_FACTORS:
            new = sorted(set(hint.mismatched) - wrong)
            if settled(found) or size >= rec.numel or (not new and size == min(sample * factor, rec.numel)):
                break  # (every element sampled, or nothing new to sample)
            if len(new) > WRONG_PER_ROUND:
                new = np.random.default_rng(seed).choice(new, WRONG_PER_ROUND, replace=False).tolist()
            wrong.update(new)
            size = min(sample * factor, rec.numel)
            searched = (view, size, offsets, seed)
            try:
                try:
                    found, hint = _identify_once(*searched, hint, fused_cuda_only, wrong, cuda_only, deadline=deadline)
                except AuditError:  # (the hinted search alone found nothing: all of them)
                    if not anew:
                        raise
                    found, hint = _identify_once(*searched, None, fused_cuda_only, wrong, cuda_only, deadline=deadline)
            except OutOfTime:
                stopped.append(f"the search on {size} elements per step")
                break
        return found

    # m may fit a lerp and CUDA fused's program alike (beta1 near 0.5), and v a CPU program on the
    # sampled elements only (seen: beta1 0.5, beta2 0.9999: CPU fused, v 0.99999; beta1 0.503,
    # from step 6: CPU fused at the true count, inexact, then minutes of larger CPU searches):
    # where the CPU answer is inexact or none, CUDA fused's search on the same sample next (an
    # AuditError at once where m does not follow its program), kept where it replays exactly
    lerp: tuple[Identification, Hint] | None = None  # the first search's answer (a lerp for m)
    cpu_error = AuditError(f"{rec.path}: no answer")
    lerp_on_cuda = False  # whether ``lerp`` holds CUDA's for-loop/foreach answer (:func:`_first_search`)
    pre_lerp_rest = None  # the rest of the 1.13-2.0 programs' search, left to run here (:func:`_first_search`)
    try:
        answer, its_hint, lerp_on_cuda, pre_lerp_rest = _first_search(view, min(sample, rec.numel), offsets, seed)
        lerp = (answer, its_hint)
    except AuditError as error:
        cpu_error = error
    fused: tuple[Identification, Hint] | None = None
    fused_searched = lerp is None or (not exact(lerp[0]) and lerp[0].device == "cpu")
    if fused_searched:
        with contextlib.suppress(AuditError):
            fused = _identify_once(view, min(sample, rec.numel), offsets, seed, None, True)

    def nearer(a: Identification, b: Identification) -> bool:
        """Whether ``a`` replays more of the file than ``b`` (its fractions summed)."""
        return sum(a.exact.values()) > sum(b.exact.values())

    def replays_alike(a: Identification, b: Identification) -> bool:
        """The same rows left out (scaled gradients) and the same fractions replayed: a tie where
        no exact answer can tell them apart."""
        return a.scaled_gradient_indices == b.scaled_gradient_indices and a.exact == b.exact

    def cuda_twin(found: Identification) -> bool:
        """Whether ``found`` is a CPU for-loop/foreach answer (2.1 on): CUDA's for-loop and
        foreach store the same m and v and may replay W too, at values of their own reading."""
        r = recipe(found.impl)
        return found.device == "cpu" and r.impl in CUDA_PATHS and r.torch != PRE_LERP_RANGE

    def count_search(path: str, fused_only: bool, cuda_only: bool) -> tuple[Identification, Hint] | None:
        """Path ``path``'s own search on the first sample at the first answer's count and kind of
        search only (a tie's search, not a new answer's: CUDA fused's whole search where none
        replays took a minute, betas (0, 0), 120x8); None where it finds nothing or runs out of
        time."""
        assert lerp is not None
        count_hint = lerp[1]._replace(impl=path, mismatched=(), count_only=True)
        try:
            return _identify_once(view, min(sample, rec.numel), offsets, seed, count_hint, fused_only, (), cuda_only,
                                  deadline=deadline)  # fmt: skip
        except AuditError:
            return None
        except OutOfTime:
            stopped.append(f"{path}'s own search at the first answer's count")
            return None

    cpu_first = None  # the CPU's first answer, where CUDA's nearer one replaced it
    if lerp is not None and not exact(lerp[0]) and cuda_twin(lerp[0]):
        # CUDA's for-loop and foreach store the CPU's m and v; where the CPU's answer on the first
        # sample is inexact, CUDA's own search at its count and kind on the same sample, and the
        # nearer replay grown (seen: `--draw cuda-lerp` seed 193, CUDA for-loop cosine, eps 3e-5,
        # wd 0.01, from step 1, 1331x26: the CPU for-loop at count 1, W 0.99952, found a lead, so
        # CUDA's search never started; the CPU's larger searches failed: "not reproducible" after
        # 157 s.  CUDA's here: W 0.99976 in 2.5 s)
        on_cuda = count_search(recipe(recipe(lerp[0].impl).impl, "cuda").name, False, True)
        if on_cuda is not None and nearer(on_cuda[0], lerp[0]):
            cpu_first, lerp, lerp_on_cuda = lerp, on_cuda, True
    if fused is not None and exact(fused[0]):
        found = fused[0]
    elif lerp is None:
        if fused is None:
            raise cpu_error
        found = grown(*fused, True)
    elif fused is not None and nearer(fused[0], lerp[0]):
        # both inexact on this sample: the nearer replay grown first (seen: CUDA fused, beta1 0.5,
        # eps 1e-12, wd 0.1, 629x25: CPU a schedule at W 0.9999, CUDA fused one lr at 0.99998;
        # the CPU's larger searches first ran past 10 minutes)
        found = grown(*fused, True)
        if not exact(found):
            with contextlib.suppress(AuditError):
                on_lerp = grown(*lerp, False, lerp_on_cuda)
                found = on_lerp if exact(on_lerp) else found
        if exact(found) and found.device == "cuda":
            # (the CPU answer is not grown: where it would tie at its own reading, it goes unlisted)
            near = ", ".join(f"{k} {v:.6g}" for k, v in lerp[0].exact.items())
            found.findings.append(
                f"{lerp[0].impl} came near on the first sample ({near} replayed at its values there) and was not "
                "searched further: a tie at its own reading of the scalars is not ruled out"
            )
    else:
        found = None
        if lerp[0].impl == recipe("fused", "cuda").name:
            # a first answer of CUDA fused (m its own): grown by the search of its kind, which the
            # CPU kind is not (it holds no CUDA fused program; seen: `--draw cuda-fused-scaled` seed
            # 209, CUDA fused cosine, beta1 0.5, a row scaled, 428x16: CUDA fused on 4096 elements a
            # step, grown into CPU fused, settled, CUDA fused unlisted); the CPU kind's answer there
            # kept as a tie where it replays the same fractions with the same rows left out
            with contextlib.suppress(AuditError):
                found = grown(*lerp, True)
            with contextlib.suppress(AuditError):
                on_cpu = grown(*lerp, False, lerp_on_cuda, anew=found is None or not settled(found))
                if found is None or (not settled(found) and nearer(on_cpu, found)):
                    found = on_cpu
                elif replays_alike(on_cpu, found) and on_cpu.impl not in found.equivalent_impls:
                    found = _with_tie(found, on_cpu)
        held = None  # the nearer answer of the two searches below, where neither settles
        if found is None and pre_lerp_rest is not None:
            # an inexact answer where the 1.13-2.0 programs' m fits too (beta1 0.5) and their
            # search's first stage found nothing: its own hinted search on larger samples first
            # (seen: `--draw release` seed 214, 2.5-2.6 for-loop cosine, beta1 0.5, 87684 elements:
            # exact in 16 s so, where the rest of the 1.13-2.0 search ran 429 s for nothing), then
            # the rest of theirs
            hinted_ended = False  # (then growing it with ``anew`` gives the same answer: not run again)
            with contextlib.suppress(AuditError):
                held, hinted_ended = grown(*lerp, False, lerp_on_cuda, anew=False), True
            if held is None or not settled(held):
                with contextlib.suppress(AuditError):
                    theirs = grown(*_to_end(pre_lerp_rest), False)
                    held = theirs if held is None or nearer(theirs, held) else held
            if held is not None and (settled(held) or hinted_ended):
                found = held
        try:
            found = found or grown(*lerp, False, lerp_on_cuda)
        except AuditError:
            # CUDA's answer (nearer than the CPU's, or the first search's own) can find no v of its
            # own on a larger sample: the CPU programs' search then (seen: `--draw random` seed
            # 210, live CPU foreach, betas (0.926, 0.9952), 1431x37: CUDA's for-loop v fitted 4096
            # elements a step, not 16384: "no CPU or CUDA path reproduces variance_W", no answer)
            if not lerp_on_cuda and held is None:
                raise
            found, cpu_first = held or grown(*(cpu_first or lerp), False), None
        found = held if held is not None and nearer(held, found) else found
        if not settled(found) and cpu_first is not None:  # (CUDA's nearer answer did not settle: the CPU's)
            with contextlib.suppress(AuditError):
                on_cpu = grown(*cpu_first, False)
                found = on_cpu if nearer(on_cpu, found) else found
        if not settled(found) and found.device == "cpu" and fused is not None:
            with contextlib.suppress(AuditError):
                on_device = grown(*fused, True)
                found = on_device if exact(on_device) else found
    if not exact(found) and settled(found) and fused is not None and fused[0].impl not in found.equivalent_impls:
        # rows left out alike and the same fractions replayed: CUDA fused's answer ties (seen: beta1
        # 0.5, a row clipped: m reads through the lerp and the fused kernel alike, v CPU fused's)
        if replays_alike(fused[0], found):
            found = _with_tie(found, fused[0])

    def tie(path: str, start: tuple[Identification, Hint] | None, cuda_only: bool) -> Identification | None:
        """Path ``path``'s own answer where it ties with the exact answer, grown on the larger
        samples; None where it does not replay every element.  ``start``: its first-sample answer
        where that search ran already, else :func:`count_search`'s."""
        fused_only = path == fused_cuda_name
        whole = start is not None  # (a whole search's answer, not a count search's)
        with contextlib.suppress(AuditError):
            if start is None and lerp is not None:
                start = count_search(path, fused_only, cuda_only)
            if start is not None:
                # (a tie is at the answer's count: where its hinted search finds nothing on a larger
                # sample, none; the whole search there (a new answer's) ran past 400 s on a 102432-
                # element file, `--draw release` seed 208: CUDA's for-loop W 0.999999 at count 11)
                on_device = grown(*start, fused_only, cuda_only, anew=whole)
                return on_device if exact(on_device) else None
        return None

    fused_cuda_name = recipe("fused", "cuda").name
    if exact(found) and found.device == "cpu" and fused_cuda_name not in found.equivalent_impls:
        # CUDA fused reads every scalar its own way (float32 betas, device powf, fma decay): where m
        # and v follow its program too, its own search may replay the file at values of its own
        # (seen: CUDA fused, beta1 0.5, beta2 0.9512: CPU fused exact at beta2 0.95119997 only)
        if fused is not None or not fused_searched:  # (where its first search failed, no tie)
            other = tie(fused_cuda_name, fused, False)
            found = _with_tie(found, other) if other is not None else found
    lerp_ties = [n for n in found.equivalent_impls if n.endswith(("-cuda-forloop", "-cuda-foreach"))]
    cpu_ties = [n for n in found.equivalent_impls if recipe(n).device == "cpu"]
    own_reading = None  # (the other device's path: its own search at the answer's count, for tie())
    if exact(found) and found.device == "cpu" and lerp_ties:
        own_reading = (lerp_ties[0], None, True)
    elif exact(found) and lerp_on_cuda and found.device == "cuda" and not cpu_ties:  # (and the other way round)
        own_reading = (recipe(recipe(found.impl).impl).name, None, False)
    elif exact(found) and cuda_twin(found) and lerp is not None and lerp[0].impl == found.impl:
        # a CPU for-loop/foreach answer no CUDA program replays at its values: CUDA's own search
        # at its count too (seen: `--draw cuda-lerp` seed 186, CUDA for-loop cosine, eps 1e-12,
        # wd 0.05, from step 11, 821x17: the CPU for-loop, exact once grown, CUDA's for-loop, the
        # truth, unlisted; seed 188, CUDA foreach, eps 1e-3, 145x35: the CPU for-loop exact on the
        # first sample, CUDA's own search ties, 23 s).  Where CUDA's v differs it fails at once.
        own_reading = (recipe(recipe(found.impl).impl, "cuda").name, None, True)
    if own_reading is not None:
        # CUDA's for-loop and foreach programs and the CPU's replay the same m and v, and may
        # replay W alike at one answer's values (found by a replay there), but read the scalars
        # each their own way (eps as float32 where the CPU for-loop rounds it to bf16; a
        # reciprocal for each division by a scalar): the other device's intervals may hold values
        # the answer's leave out (seen: CUDA for-loop, eps 1e-5, wd 0.05, 230 elements: the CPU
        # for-loop's eps interval [9.924e-6, 9.984e-6]).  The other device's search at the
        # answer's count and kind of search, and its intervals spanned.
        other = tie(*own_reading)
        if other is not None:
            # (the line that named them unsearched goes, where it named no other program)
            kept = [f for f in found.findings if not _names_only(f, UNSEARCHED, set(other.equivalent_impls))]
            found = _with_tie(replace(found, findings=kept), other)
    found.skipped_indices = skipped
    if stopped:
        found.findings.append(
            f"the search stopped at its time limit ({max_seconds:g} s, --max-seconds) before "
            + ", ".join(dict.fromkeys(stopped))
            + " ended: "
            + (
                "the answer replays the file exactly, but a tie it would have checked is not ruled out"
                if exact(found)
                else "the answer is the closest found ('exact' says how close); its step count and values may be wrong"
            )
        )
    if skipped:
        found.findings.insert(
            0,
            f"the optimizer did not step at indices {skipped} (W, m and v unchanged on every element: "
            "GradScaler skipped a step whose gradient had inf/NaN, or step() was not called): those rows are "
            "left out and the step count does not advance there (a later index i runs at step count "
            "first_index_step_count + i - the skips before i); lr, exact and the per-step values are over the "
            f"other rows; verify replays them with --skipped {','.join(map(str, skipped))}",
        )
    return found


UNSEARCHED = "(not searched: other programs)"
GPU_RECORDING = "a GPU recording"
"""How a CUDA answer's finding starts where no CPU program gave v (:func:`_search`)."""


def _names_only(finding: str, ending: str, names: Collection[str]) -> bool:
    """Whether ``finding`` ends with ``ending`` and every recipe it names is among ``names``."""
    return finding.endswith(ending) and all(n in names for n in re.findall(r"torch-[\w.]+-[\w.-]+", finding))


def _with_tie(found: Identification, other: Identification) -> Identification:
    """``found`` with ``other`` (another path's exact answer, read its own way) listed as a tie:
    its path, step counts, capabilities and release ranges added, and every interval spanning
    both answers' intervals.  Where ``other`` holds a CPU program, ``found``'s line calling the
    file a GPU recording goes (seen: `--draw release` seed 225, a torch 2.4 CPU for-loop file
    answered by CUDA's for-loop with the CPU's listed as a tie: "a GPU recording", capability
    "cuda" and release "2.11-2.13" alone)."""

    def span(a: list[float], b: list[float]) -> list[float]:
        return [min(a[0], b[0]), max(a[1], b[1])]

    per_index = next((x.lr for x in (found, other) if isinstance(x.lr, list)), None)  # a schedule's lrs

    def per_step(x: Identification) -> list[list[float]]:
        return x.lr_interval if isinstance(x.lr, list) else [x.lr_interval] * len(per_index)  # type: ignore

    if per_index is not None:
        lr = found.lr if isinstance(found.lr, list) else [found.lr] * len(per_index)
        lr_interval: list = [span(a, b) for a, b in zip(per_step(found), per_step(other), strict=True)]
    else:
        lr, lr_interval = found.lr, span(found.lr_interval, other.lr_interval)  # type: ignore[arg-type]
    counts = {other.first_index_step_count, *other.other_step_counts, *found.other_step_counts}
    on_cpu = other.device == "cpu" or any("-cpu-" in name for name in other.equivalent_impls)
    lr_text = other.lr if not isinstance(other.lr, list) else f"{other.lr[0]:g}..{other.lr[-1]:g} per step"
    return replace(
        found,
        equivalent_impls=sorted({*found.equivalent_impls, *other.equivalent_impls}),
        other_step_counts=sorted(counts - {found.first_index_step_count}),
        lr=lr,
        lr_interval=lr_interval,
        betas_interval=[span(a, b) for a, b in zip(found.betas_interval, other.betas_interval, strict=True)],
        eps_interval=span(found.eps_interval, other.eps_interval),
        weight_decay_interval=span(found.weight_decay_interval, other.weight_decay_interval),
        equivalent_capabilities=list(dict.fromkeys([*found.equivalent_capabilities, *other.equivalent_capabilities])),
        equivalent_releases=list(
            dict.fromkeys([*(found.equivalent_releases or []), *(other.equivalent_releases or [])])
        ),
        findings=[
            *(f for f in found.findings if not (f.startswith(GPU_RECORDING) and on_cpu)),
            f"the same bits come from {', '.join(other.equivalent_impls)} too, at values of their own reading (count "
            f"{other.first_index_step_count}, lr {lr_text}, betas {other.betas}, eps {other.eps:g}, weight decay "
            f"{other.weight_decay:g}): each interval spans both answers'; the values reported are {found.impl}'s",
        ],
    )


def _skipped_rows(rec: Recording) -> list[int]:
    """Array indices where W, m and v equal the row before (W_initial and zero moments before
    index 0) on every element: the optimizer did not step.  A cheap look at the first elements
    of each row, then the whole row for the candidates (streamed)."""

    def before(name: str, t: int, a: int, b: int) -> np.ndarray:
        if t > 0:
            return rec.read(name, t - 1, a, b)
        return rec.read(INITIAL_W, 0, a, b) if name == TENSORS["param"] else np.zeros(b - a, np.uint16)

    first = 0 if rec.has_initial else 1
    head = min(rec.numel, 4096)
    out = []
    for t in range(first, rec.steps):
        if not all(np.array_equal(rec.read(ds, t, 0, head), before(ds, t, 0, head)) for ds in TENSORS.values()):
            continue
        if all(
            np.array_equal(rec.read(ds, t, a, b), before(ds, t, a, b))
            for a, b in rec.chunks()
            for ds in TENSORS.values()
        ):
            out.append(t)
    return out


class _WithoutRows:
    """A recording with some rows left out (rows where the optimizer did not step): index i of
    the view is row ``kept[i]`` of the file; W_initial and everything else as the file's."""

    def __init__(self, rec: Recording, left_out: list[int]) -> None:
        self._rec = rec
        gone = set(left_out)
        self.kept = [t for t in range(rec.steps) if t not in gone]
        self.steps = len(self.kept)

    def read(self, name: str, index: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self._rec.read(name, index if name == INITIAL_W else self.kept[index], start, stop)

    def __getattr__(self, name: str):
        return getattr(self._rec, name)


class _ScaledRowsOut:
    """A recording whose rows ``scaled_rows`` saw a gradient other than the recorded one (scaled
    or clipped after the recording): the whole-file replays that check a candidate, a tie or a
    release leave them out (:func:`_left_out`; no program replays them).  Otherwise the file."""

    def __init__(self, rec: Recording, scaled_rows: Collection[int]) -> None:
        self._rec = rec
        self.scaled_rows = frozenset(scaled_rows)

    def __getattr__(self, name: str):
        return getattr(self._rec, name)


class _OnThreads:
    """A recording whose CPU kernels ran in the parallel chunks of ``threads`` threads (torch <= 2.0
    on AVX2/AVX512: each chunk's scalar tail rounds otherwise than the body): the whole-file
    replays use that layout (:func:`_threads_of`).  Otherwise the file."""

    def __init__(self, rec: Recording, threads: int) -> None:
        self._rec = rec
        self.layout_threads = threads

    def __getattr__(self, name: str):
        return getattr(self._rec, name)


def _threads_of(rec: Recording) -> int:
    """The thread count a whole-file replay of ``rec`` lays the kernels out for (:class:`_OnThreads`; 1 elsewhere)."""
    return getattr(rec, "layout_threads", 1)


LAYOUT_THREADS = 256
"""The most threads identify lays a CPU kernel out for (``at::parallel_for``'s chunks)."""


@functools.lru_cache(maxsize=4)
def _chunkings(numel: int) -> list[int]:
    """The thread counts 1..LAYOUT_THREADS that split ``numel`` elements into parallel chunks of
    their own (emulation/layout.py): the first count of each split (cached, not to be changed:
    every search of a file asks, its sample's trimming and its final replays again)."""
    seen: set[tuple] = set()
    out = []
    for threads in range(1, LAYOUT_THREADS + 1):
        split = tuple(layout.chunks(numel, threads))
        if split not in seen:
            seen.add(split)
            out.append(threads)
        if len(split) < threads:  # (more threads than chunks: the same split from here on)
            break
    return out


@functools.lru_cache(maxsize=4)
def _thread_dependent(numel: int) -> np.ndarray:
    """Flat positions that run a kernel's scalar tail under some split of :func:`_chunkings` and
    its vector body under another, for 32- and 64-element blocks (torch <= 2.0: AVX2, AVX512)::

        1 thread   [ body ......................................... | tail ]
        2 threads  [ body ................. | tail ][ body .......... | tail ]
                                             ^^^^ here: a tail or not, by the thread count
    """
    splits = _chunkings(numel)
    tails = [
        np.arange(e - (e - b) % block, e) for t in splits for block in (32, 64) for b, e in layout.chunks(numel, t)
    ]
    if not tails:
        return np.zeros(0, np.int64)
    where, times = np.unique(np.concatenate(tails), return_counts=True)
    moving = where[times < 2 * len(splits)]  # (a tail under every split and block: not moving)
    moving.flags.writeable = False  # (cached: shared by every caller)
    return moving


def _layout_threads(
    rec: Recording, r: Recipe, schedule: Schedule, capabilities: tuple[str, ...], steps
) -> tuple[str, int]:
    """The first capability and split of :func:`_chunkings` whose tails replay the elements that
    move with the thread count (:func:`_thread_dependent`, at most WRONG_PER_ROUND of them, on the
    first 4 sampled rows) under ``r`` and ``schedule``: the two are found together, since
    AVX2's and AVX512's programs differ only in their tails before 2.1 (32- and 64-element
    blocks).  The first capability and 1 where none does."""
    rows = _with_elements(rec, steps[:4], _thread_dependent(rec.numel))
    for capability in capabilities:
        for threads in _chunkings(rec.numel):
            if _sample_replays(r, rows, schedule, capability, rec.numel, threads=threads):
                return capability, threads
    return capabilities[0], 1


def _left_out(rec: Recording) -> frozenset[int]:
    """The rows a check's replay of ``rec`` leaves out (:class:`_ScaledRowsOut`; none elsewhere)."""
    return getattr(rec, "scaled_rows", frozenset())


PHASES = ("plain", "scan", "eps", "joint", "joint+eps", "schedule", "deep scan")
"""identify's searches, cheapest explanation first: one lr with eps one of the guesses and no
visible decay; a window late in a run; eps anywhere; a visible decay; both; an lr schedule (at
the counts a per-step scan keeps first, late ones included); every late count."""


class OutOfTime(Exception):
    """A search passed its deadline (identify's ``max_seconds``), between two phases or counts.
    Not an AuditError: the callers that pass a deadline catch it, and nothing suppresses it."""


def _check_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise OutOfTime


class Stage(NamedTuple):
    """Where a search stands after a stage of it found nothing (:func:`_search` yields one)."""

    name: str  # the stage that found nothing: a phase (PHASES) or a probe
    lead: bool  # a path's steps fit alone, or the late scan kept counts: the search has a lead
    lerp_on_cpu: bool  # CPU programs give m and v (CUDA's for-loop and foreach store the same)
    pre_lerp_too: bool = False  # m follows torch <= 2.0's mul_ + add_ at this beta1 too (beta1 0.5)
    other_beta2: tuple[float, ...] = ()  # typed beta2 values in v's interval besides those searched
    beta2: float = 0.0  # the beta2 searched (the first path's)


Stages = Generator[Stage, None, tuple[Identification, Hint]]
"""A search under way (:func:`_search`): it yields a Stage after each that found nothing and returns
the answer and its hint."""


def _identify_once(*arguments: Any, **options: Any) -> tuple[Identification, Hint]:
    """:func:`_search` (its arguments) run to its end."""
    return _to_end(_search(*arguments, **options))


def _to_end(stages: Stages) -> tuple[Identification, Hint]:
    """A search (:func:`_search`'s generator, started or not) run to its end."""
    while True:
        try:
            next(stages)
        except StopIteration as done:
            return done.value


def _first_search(
    rec: Recording, sample: int, offsets: tuple[int, ...], seed: int
) -> tuple[Identification, Hint, bool, Stages | None]:
    """The first search on ``sample`` elements per step: the CPU programs' (:func:`_search`),
    and, where those give m and v but the CPU search's probes found no lead (no path's steps fit
    alone, with eps a guess or a decay per step; no count kept by the late scan), CUDA's for-loop
    and foreach's beside it: CUDA's catches up with the stages the CPU's ran, then one stage of
    each in turn (the CPU's first) until one answers.  A search whose stage found a lead runs on
    alone; where it fails, the other goes on (CUDA's is started then, where it had not been).

    CUDA's for-loop and foreach store the same m and v as the CPU's programs where their W
    differs (eps and the decay read as float32, an fma for addcdiv, a reciprocal for the for-loop's
    division by bc2_sqrt): on such a file every stage of the CPU search fails, slowly (seen: CUDA
    foreach, eps 2e-4, wd 0.05, 2502 elements: the CPU search failed after 300 s; CUDA's alone
    was exact in 65 s, found by its steps fitted with all three unknown).  A CPU file whose
    probes find a lead pays nothing for it; at the same stage the CPU's answer comes first.  The
    first answer is kept (replayed exactly or not: :func:`identify` grows it on larger samples).

    Where v leaves several typed beta2 values (:func:`_typed_betas`), a search of the same kind at
    each of the others joins each search where CUDA's would (its decayed probe found no lead), or
    where it ends without an exact answer, and runs beside it alike; there an inexact answer
    waits for the others' (the first exact one is kept).

    Where the 1.13-2.0 programs' m fits too (beta1 0.5) their search joins where CUDA's would;
    where the CPU's answer is inexact, their first stage runs (a 1.13-2.0 file answers there), if
    it has not, and their rest is left to :func:`identify`, which grows the answer first (a 2.x
    file's inexact answer settles so in seconds; the rest of the 1.13-2.0 search on such a file
    runs minutes for nothing).  Returns the answer, its hint, whether it is CUDA's, and that
    rest (a generator to run to its end; None where nothing is so left)."""
    running = {"cpu": _search(rec, sample, offsets, seed)}
    ran = {"cpu": 0}  # stages each search started has run
    alone: str | None = None
    lerp_on_cpu = pre_lerp_too = False
    cpu_error = AuditError(f"{rec.path}: no answer")
    order = ("cpu", "cuda", "pre-lerp")  # (on equal stages run: the CPU's stage first, a beta2's last)
    inexact: tuple[Identification, Hint, bool] | None = None  # the first inexact answer, held while twins run

    def start_others() -> None:
        """CUDA's for-loop and foreach where CPU programs give m and v; the 1.13-2.0 programs where
        their m fits too (beta1 0.5: every product exact, mul_ + add_ and lerp_ store the same m;
        seen: a 1.13-2.0 foreach cosine file, 646 elements: every 2.13 search failed in 296 s)."""
        if lerp_on_cpu and "cuda" not in ran:
            running["cuda"], ran["cuda"] = _search(rec, sample, offsets, seed, cuda_only=True), 0
        start_pre_lerp()

    def start_pre_lerp() -> None:
        if pre_lerp_too and "pre-lerp" not in ran:
            running["pre-lerp"], ran["pre-lerp"] = _search(rec, sample, offsets, seed, pre_lerp_only=True), 0

    typed_b2: list[float] = []  # the typed beta2 values searched: the first search's, then the others
    # (not the 1.13-2.0 programs' side search at a beta1 both families' m reads alike: its own
    # file is the CPU search's, which finds that family; seen: 196 elements, beta1 0.5, twice the time)
    kinds = {"cpu": {}, "cuda": {"cuda_only": True}}
    last: dict[str, Stage] = {}  # each kind's last stage

    def start_beta2(name: str, at: Stage | None) -> None:
        """The searches of kind ``name`` at the other typed beta2 values of v's interval."""
        if at is not None and at.other_beta2:
            typed_b2.extend(b for b in (at.beta2, *at.other_beta2) if b not in typed_b2)
        for b2 in at.other_beta2 if at is not None and name in kinds else ():
            if f"{name}, beta2 {b2!r}" not in ran:
                searched = _search(rec, sample, offsets, seed, beta2=b2, **kinds[name])
                running[f"{name}, beta2 {b2!r}"], ran[f"{name}, beta2 {b2!r}"] = searched, 0

    pre_lerp_set_aside = False  # the 1.13-2.0 search: set aside after its first stage (the CPU's answer inexact)
    pre_lerp_rest = None  # its rest, so set aside

    while running:
        name = alone if alone in running else min(running, key=lambda k: (ran[k], order.index(k) if k in order else 3))
        try:
            at = next(running[name])
        except StopIteration as done:
            found = (*done.value, name.split(",")[0] == "cuda")  # (a beta2 search: "cuda, beta2 0.9602")
            if set(found[0].exact.values()) != {1.0}:
                start_beta2(name, last.get(name))
                if name == "cpu" and pre_lerp_too:
                    # an inexact answer where the 1.13-2.0 programs' m fits too: their search's first
                    # stage (seen: `--draw release` seed 208, 1.13-2.0 foreach, beta1 0.5, 187997
                    # elements: the 2.13 for-loop at W 0.99985, "not reproducible" on larger samples;
                    # theirs exact in its first stage, 5 s), the rest left to identify (seen: seed
                    # 214, a 2.5-2.6 for-loop warmup, beta1 0.5, 1006x15: the CPU's W 0.99998 waited
                    # 266 s for the rest of the 1.13-2.0 search, begun beside it, to fail)
                    if "pre-lerp" in running and ran["pre-lerp"] > 0:
                        pre_lerp_rest = running.pop("pre-lerp")
                    start_pre_lerp()
                    pre_lerp_set_aside = True
                # (the twins, or the 1.13-2.0 search, may replay it exactly; the nearest is kept)
                if typed_b2 or inexact is not None or (name != "pre-lerp" and "pre-lerp" in running):
                    replayed = sum(found[0].exact.values())
                    inexact = found if inexact is None or replayed > sum(inexact[0].exact.values()) else inexact
                    del running[name]
                    continue
            if typed_b2:
                found[0].findings.append(_typed_beta2_finding(found[0], typed_b2))
            return (*found, pre_lerp_rest)
        except AuditError as error:
            del running[name]
            if name == "cpu":
                cpu_error = error
                start_others()
            start_beta2(name, last.get(name))
            continue
        ran[name] += 1
        if name == "pre-lerp" and pre_lerp_set_aside:
            pre_lerp_rest = running.pop(name)
            continue
        if name == "cpu":
            lerp_on_cpu, pre_lerp_too = at.lerp_on_cpu, at.pre_lerp_too
            if at.name == "decayed probe" and not at.lead:
                start_others()
        last[name] = at
        if at.name == "decayed probe" and not at.lead:
            start_beta2(name, at)
        alone = name if at.lead else alone
    if inexact is not None:
        if typed_b2:
            inexact[0].findings.append(_typed_beta2_finding(inexact[0], typed_b2))
        return (*inexact, pre_lerp_rest)
    raise cpu_error


def _typed_beta2_finding(found: Identification, typed: list[float]) -> str:
    lo, hi = found.betas_interval[1]
    return (
        f"variance_W leaves beta2 [{lo:.9g}, {hi:.9g}], which holds several typed values: W was searched at "
        f"{', '.join(f'{b:g}' for b in typed)} side by side, and replayed first at {found.betas[1]:g} "
        "(the others are not ruled out)"
    )


def _search(
    rec: Recording,
    sample: int,
    offsets: tuple[int, ...],
    seed: int,
    hint: Hint | None = None,
    fused_cuda_only: bool = False,
    extra: Collection[int] = (),
    cuda_only: bool = False,
    pre_lerp_only: bool = False,
    deadline: float | None = None,
    beta2: float | None = None,
) -> Stages:
    """One search on ``sample`` elements per step, a generator: it yields a :class:`Stage` after
    each stage that found nothing (a phase, a probe) and returns the answer and its own hint.
    ``hint`` (a smaller sample's answer) runs only the search that found it, its eps tried first
    (a schedule with a decay: its values held first).  ``fused_cuda_only``: CUDA fused's program
    alone, where m fits it (else AuditError).  ``cuda_only``: the CUDA for-loop and foreach
    programs, not the CPU ones (a tie's own search, or where a CPU program gave m and v).
    ``pre_lerp_only`` (or a hint naming a 1.13-2.0 program): the 1.13-2.0 programs alone, m read
    as their mul_ + add_ whether or not a lerp reads it too.
    ``extra``: flat indices sampled besides (the elements an earlier answer replayed wrong).
    ``deadline`` (``time.monotonic()``): past it, :class:`OutOfTime` at the next phase or count.
    ``beta2``: the paths whose v interval holds it, searched at it (another typed value of the
    interval than the simplest: :func:`_first_search`); else a hint's beta2 where inside."""
    from .verify import replay

    findings: list[str] = []
    all_steps = _sample_steps(rec, sample, np.random.default_rng(seed), extra)
    skipped = [sd.index for sd in all_steps if all(np.array_equal(sd.state[k], sd.want[k]) for k in TENSORS)]
    if skipped:  # (rows unchanged on every element are left out before: these only on the sample)
        findings.append(f"W, m, v unchanged on the sampled elements at indices {skipped[:20]}: left out")
    steps = [sd for sd in _finite_rows(all_steps) if sd.index not in skipped]
    if not steps:
        raise AuditError(f"{rec.path}: no replayable step to identify from")
    probe = steps[: min(len(steps), 8)]

    def b1_replays(capability: str) -> Callable[[list[StepData], Interval], bool]:
        def replays(on: list[StepData], w: Interval) -> bool:
            h = Hyper(beta1=simplest_in(*_one_minus(w)))
            return _moment_replays(on, recipe("forloop"), capability, h, rec.numel, "exp_avg")

        return replays

    pre_lerp_only = pre_lerp_only or (hint is not None and recipe(hint.impl).torch == PRE_LERP_RANGE)
    w_iv = cap_family = None
    for capability in ("avx512", "default") if not (fused_cuda_only or pre_lerp_only) else ():
        w_iv = _confirmed(steps, probe, lambda on, c=capability: infer_beta1(on, c), b1_replays(capability))
        if w_iv is not None:
            cap_family = capability
            break
    fused_cuda = recipe("fused", "cuda")

    def fused_cuda_beta(moment: str, b1: float = 0.9) -> Interval | None:
        """f32(beta1) or f32(beta2) under CUDA fused's moment program, confirmed on every step."""

        def replays(on: list[StepData], b: Interval) -> bool:
            beta = simplest_in(*_rounding_edges(b.lo, b.hi))
            h = Hyper(beta1=beta) if moment == "exp_avg" else Hyper(beta1=b1, beta2=beta)
            return _moment_replays(on, fused_cuda, "cuda", h, rec.numel, moment)

        return _confirmed(steps, probe, lambda on: infer_beta_fused_cuda(on, moment), replays)

    b1_fused_cuda = fused_cuda_beta("exp_avg") if w_iv is None and not pre_lerp_only else None  # (no lerp reproduces m)
    scaled: list[tuple[int, float | None]] = []  # (index, factor): rows whose gradient the optimizer saw scaled
    if w_iv is None and b1_fused_cuda is None and not pre_lerp_only:
        # some steps may have seen another gradient than the recorded one: m read through the CPU
        # lerp and through CUDA's fused kernel, the reading that leaves fewer rows unexplained
        # (the CPU's on a tie; seen: CUDA fused 300x8, row 6 clipped x0.25: the lerp's reading left
        # rows 1-6 unexplained and the answer was CPU fused; the fused kernel's, row 6 alone)
        readings = [(c, *_beta1_with_gradient_anomalies(steps, c)) for c in ("avx512", "cuda")[fused_cuda_only:]]
        fitting = [(c, iv, rows) for c, iv, rows in readings if iv is not None]
        if fitting:
            reading, b_iv, scaled = min(fitting, key=lambda f: len(f[2]))
            if reading == "cuda":
                b1_fused_cuda = b_iv
            else:
                w_iv, cap_family = b_iv, reading
        if scaled:
            findings.append(
                "the optimizer saw a scaled gradient (clipping or loss scaling after the recording) at "
                + ", ".join(f"index {i} (x{k:.6g})" if k else f"index {i} (no single factor)" for i, k in scaled)
                + ": those steps are left out of the inference and cannot replay exactly"
            )
            steps = [sd for sd in steps if sd.index not in {i for i, _ in scaled}]
            probe = steps[: min(len(steps), 8)]
            # (ties, releases and other devices are then checked on the other rows: seen, CUDA
            # fused warmup from step 6, row 13 of 19 clipped: count 1 exact on every other row,
            # the truth 6 too, and no count checked, none replaying every row)
            rec = _ScaledRowsOut(rec, [i for i, _ in scaled])
    if fused_cuda_only and b1_fused_cuda is None:
        raise AuditError(f"{rec.path}: momentum_W does not follow CUDA's fused kernel")
    family = "2.13"  # the release whose CPU programs are searched
    if w_iv is None and b1_fused_cuda is None and len(_chunkings(rec.numel)) > 1:
        # torch <= 2.0's programs may come next, whose vector body and scalar tail round otherwise
        # (AVX2, AVX512), and each parallel chunk has its own tail: elements that are a tail under
        # some thread count and not under another are left out of the search (its final replays
        # find the count: :func:`_layout_threads`)
        moving = _thread_dependent(rec.numel)
        steps = [_rows(sd, ~np.isin(sd.flat, moving)) for sd in steps]
        probe = steps[: min(len(steps), 8)]
    pre_lerp_cap = _pre_lerp_capability(probe, rec.numel) if w_iv is None else None
    if pre_lerp_cap is not None or (w_iv is None and b1_fused_cuda is None):
        # torch <= 2.0: m = bf16(m*bf16(b1)) + bf16(1-b1)*g; search that family's programs instead,
        # on the capability whose layout reproduces m (before 2.1 AVX512 has its own tail): the
        # one that did at the default beta1 first, else each (beta1 searched: ~0.5-2 s each; seen,
        # beta1 0.95 or 0.531 written by the 1.13-2.0 programs: "no beta1 reproduces momentum_W")
        others = [c for c in ("avx512", "avx2", "default") if c != pre_lerp_cap]
        for capability in (pre_lerp_cap, *others) if pre_lerp_cap is not None else others:
            w_iv = infer_beta1_pre_lerp(probe, capability, rec.numel)
            if w_iv is not None:
                family, cap_family = "2.0", capability
                findings.append("m moves by mul_ + add_ (torch <= 2.0): the 1.13-2.0 programs are searched")
                break
        if w_iv is None and pre_lerp_cap is not None:
            raise AuditError(
                f"{rec.path}: momentum_W follows torch <= 2.0's exp_avg.mul_(0.9).add_(grad, alpha=0.1), not lerp_, "
                "but no beta1 fits it; replay it with 'adamw-audit verify FILE --torch 2.0'"
            )
    if w_iv is None and b1_fused_cuda is None:
        named = _gradient_transform(probe, cap_family or "avx512") or _moments_kept_wider(probe)
        if named is not None:
            raise AuditError(f"{rec.path}: {named}")
    if w_iv is None and b1_fused_cuda is None:
        raise AuditError(
            f"{rec.path}: no beta1 reproduces momentum_W from the recorded gradient: the gradient the "
            "optimizer saw differs from the recorded one (scaled, clipped, Adam's L2 term, maximize), "
            "or the moments are kept in another dtype"
        )

    def beta1_bounds(w: Interval, capability: str) -> tuple[float, float]:
        """The beta1 values whose reading on the CPU is ``w``: the lerp's f32(1 - beta1), torch <= 2.0's
        bf16(1 - beta1) (and bf16(beta1): :func:`_pre_lerp_beta1_bounds`)."""
        if family == "2.0":
            return _pre_lerp_beta1_bounds(probe, capability, rec.numel, w)
        return _one_minus(w)

    def beta1_at(capability: str) -> tuple[float, float] | None:
        """beta1's interval as ``capability``'s CPU programs read m (None: they do not)."""
        if family == "2.0":
            w = infer_beta1_pre_lerp(probe, capability, rec.numel)
        else:
            w = _confirmed(steps, probe, lambda on: infer_beta1(on, capability), b1_replays(capability))
        return None if w is None else beta1_bounds(w, capability)

    if b1_fused_cuda is not None:  # beta1 anywhere that rounds to its float32 interval
        b1_lo, b1_hi = _rounding_edges(b1_fused_cuda.lo, b1_fused_cuda.hi)
    else:
        b1_lo, b1_hi = beta1_bounds(w_iv, cap_family)
    b1 = simplest_in(b1_lo, b1_hi)
    # where a lerp reads m, torch <= 2.0's mul_ + add_ may store the same m at this beta1 (0.5:
    # every product exact): the 1.13-2.0 programs are then a search of their own (_first_search)
    pre_lerp_too = (
        family != "2.0"
        and b1_fused_cuda is None
        and not cuda_only
        and hint is None
        and _pre_lerp_capability(probe, rec.numel, b1) is not None
    )

    # candidate paths by recipe name, each with its beta2 bounds: the CPU ones, else (no CPU
    # program reproduces v) the CUDA ones; CUDA fused alone where m is its own
    device = "cpu"
    paths: dict[str, tuple[float, float]] = {}

    def beta2_of(rcp: Recipe, capability: str, beta1: float) -> Interval | None:
        def replays(on: list[StepData], c: Interval) -> bool:
            h = Hyper(beta1=beta1, beta2=simplest_in(*_one_minus(c)))
            return _moment_replays(on, rcp, capability, h, rec.numel, "exp_avg_sq")

        infer = lambda on: infer_beta2(on, rcp, capability, Hyper(beta1=beta1), rec.numel)  # noqa: E731
        return _confirmed(steps, probe, infer, replays)

    def refuse_v(message: str) -> NoReturn:
        """No path gives v: AuditError with ``message``, or naming float32 states where m moves
        like one, in a search of every path (unhinted): only there does no v found mean no bf16
        program gives one, a bf16 program being a special case of them (m can fit one by
        chance: seen, beta1 0.5, float32 states, 142x31, m fitted CUDA fused's update)."""
        every_program = hint is None and not (cuda_only or fused_cuda_only or pre_lerp_only)
        named = _moments_kept_wider(probe) if every_program else None
        raise AuditError(f"{rec.path}: {named or message}")

    cpu_paths = CPU_PATHS if family != "2.0" else ("forloop", "foreach")
    # the capability m was read on first, then the others whose m reading holds too: m's lerp can
    # read alike where v's addcmul does not (an FMA on AVX2/AVX512, the product rounded first on
    # the default build; seen: live torch 2.13 for-loop, ATEN_CPU_CAPABILITY=default, beta2 0.999,
    # 300x5: m fitted on AVX512, no v there, and the answer was CUDA's for-loop alone).  AVX2 and
    # AVX512 build the same programs from 2.1 on (before, AVX512 has its own 64-element blocks).
    others = ("avx512", "avx2", "default") if family == "2.0" else ("avx512", "default")
    cpu_caps = (cap_family, *(c for c in others if c != cap_family))
    for capability in cpu_caps if b1_fused_cuda is None and not cuda_only else ():
        bounds = (b1_lo, b1_hi) if capability == cap_family else beta1_at(capability)
        if bounds is None:
            continue
        for impl in cpu_paths:
            rcp = recipe(impl, "cpu", family)
            iv = beta2_of(rcp, capability, simplest_in(*bounds))
            if iv is not None:
                paths[rcp.name] = _one_minus(iv)
        if paths:
            cap_family, (b1_lo, b1_hi) = capability, bounds
            b1 = simplest_in(*bounds)
            break
    if not paths and family != "2.0" and b1_fused_cuda is None:
        for impl in CUDA_PATHS:
            rcp = recipe(impl, "cuda")
            iv = beta2_of(rcp, "cuda", b1)
            if iv is not None:
                paths[rcp.name] = _one_minus(iv)
        if paths:
            device = cap_family = "cuda"
            findings.append(f"{GPU_RECORDING}: the CUDA programs reproduce it")
        else:  # m may fit a lerp and CUDA fused's program alike (seen: beta1 0.5): v decides
            b1_fused_cuda = fused_cuda_beta("exp_avg")
            if b1_fused_cuda is not None:
                b1_lo, b1_hi = _rounding_edges(b1_fused_cuda.lo, b1_fused_cuda.hi)
                b1 = simplest_in(b1_lo, b1_hi)
    if not paths and b1_fused_cuda is not None:
        b2_iv = fused_cuda_beta("exp_avg_sq", b1)
        if b2_iv is None:
            refuse_v(
                f"momentum_W follows CUDA's fused kernel (m = fma(b1, m, fma(-b1, g, g)) in float32, beta1 {b1:g}), "
                "but no beta2 reproduces variance_W under it"
            )
        paths[fused_cuda.name] = _rounding_edges(b2_iv.lo, b2_iv.hi)
        device = cap_family = "cuda"
        findings.append(f"{GPU_RECORDING} with fused=True: m and v follow CUDA's fused kernel")
    if not paths:
        refuse_v("no CPU or CUDA path reproduces variance_W for any beta2 (states in another dtype?)")

    wrong_way = _w_not_a_state_function(steps, rec.numel, at_least=1)
    if wrong_way is not None and wrong_way[0] >= HIDDEN_STATE_PAIRS:  # (no W search can succeed: said before it runs)
        raise AuditError(f"{rec.path}: {wrong_way[1]}")

    # cheapest explanations first: one lr and no visible decay, then one lr with a decay, then a
    # schedule; each over every path and step-count offset before the next
    best = None
    candidates = []
    held_b2 = beta2 if beta2 is not None else (hint.beta2 if hint is not None else None)
    for impl, (b2_lo, b2_hi) in paths.items():
        if held_b2 is not None and b2_lo <= held_b2 <= b2_hi:
            candidates.append((impl, held_b2, (b2_lo, b2_hi)))
        elif beta2 is None:
            candidates.append((impl, simplest_in(b2_lo, b2_hi), (b2_lo, b2_hi)))
    if not candidates:
        raise AuditError(f"{rec.path}: beta2 {beta2:g} is outside every path's interval from variance_W")
    # where v leaves several typed beta2 values, the others are searches of their own, side by side
    # (:func:`_first_search`; W reads beta2 through bc2_sqrt at the unknown count)
    searched_b2 = {b2 for _, b2, _ in candidates}
    other_beta2 = () if held_b2 is not None else tuple(
        dict.fromkeys(b for *_, bounds in candidates for b in _typed_betas(*bounds) if b not in searched_b2)
    )[: BETA2_TRIES - 1]  # fmt: skip
    if family == "2.0" and b1_lo < b1_hi:
        # (seen: 1.13-2.0 for-loop, lr 1e-3, beta1 0.524, from step 1: m allows [0.5225, 0.5244],
        # at 0.523 no one lr fitted W; every pooled phase failed, 58 s of 60 on 1500 elements)
        if hint is not None and hint.beta1 is not None and b1_lo <= hint.beta1 <= b1_hi:
            b1 = hint.beta1  # (a larger sample: its fits can meet at a wrong count and beta1 together)
        else:
            b1 = _beta1_by_step_fits(steps, candidates, b1, (b1_lo, b1_hi), cap_family, rec.numel)
    scanned: list[int] = []  # step counts of index 0 found by the late-window scan
    probed: Probe | None = None
    phases, search_offsets = PHASES, offsets
    if hint is not None:
        hint_impl, hint_offset, hint_phase, hint_eps = hint.impl, hint.offset, hint.phase, hint.eps
        # the hinted path first; the others at the hinted count only (below)
        candidates.sort(key=lambda c: c[0] != hint_impl)
        # a scan ends in a plain fit; a plain fit whose eps guess the small sample allowed may need
        # eps anywhere on the larger one.  eps solved with a decay: first the decay alone at the
        # eps the smaller sample found (the bisection on eps can lose its way on the larger one:
        # seen, fused, eps 1e-7, wd 0.1, 485x30: found on 4096 elements per step, not on 16384)
        phases = ("plain", "eps") if hint_phase in ("plain", "scan", "deep scan") else (hint_phase,)
        phases = ("joint", "joint+eps") if hint_phase == "joint+eps" else phases
        search_offsets = (hint_offset,)
        probed = Probe(False, False, None, [])
    scanned_per_step: dict[tuple[str, float | None], list[int]] = {}
    # the step counts a hint's values are held at first, each once (the hint's own; then the
    # hint carried to others, :func:`_held_elsewhere`)
    held_at: dict[int, Hint] = {hint.offset: hint} if hint is not None else {}
    scanned_eps: dict[str, dict[int, float]] = {}  # per path, the eps its eps-searched per-step scan kept each count at

    def per_step_counts(impl: str, b2: float, eps: float | None = 1e-8) -> list[int]:
        """Counts of index 0 where one lr per step fits at ``eps``, no decay; eps None: searched
        per count, and on for-loop and foreach a decay per step allowed too (the last resort
        before the pooled searches: seen, foreach cosine, eps 2e-4, wd 0.3, from step 3, 428 s,
        the searches that cannot fit a decayed schedule ran first).  Once per path and eps (~1 s
        at an eps, ~10-15 s searched)."""
        if (impl, eps) not in scanned_per_step:
            h = Hyper(beta1=b1, beta2=b2)
            decayed = eps is None and "fused" not in impl  # (fused: its float32 decay has its own scan)
            eps_of = scanned_eps.setdefault(impl, {}) if eps is None else None
            scanned_per_step[impl, eps], _ = scan_step_counts(
                steps, recipe(impl), cap_family, h, rec.numel, eps, range(1, SCAN_CHUNK + 1), True, decayed, eps_of
            )
        return scanned_per_step[impl, eps]

    decayed_scans: dict[tuple[str, float, bool], list[int]] = {}

    def decayed_scan(impl: str, b2: float, eps: float, per_step: bool) -> list[int]:
        """Counts the scan with a visible decay keeps at this eps (one lr, or one per step), once
        per path, eps and kind: the decayed probe and the schedule phase's last batch share it."""
        if (impl, eps, per_step) not in decayed_scans:
            h = Hyper(beta1=b1, beta2=b2)
            decayed_scans[impl, eps, per_step], _ = scan_step_counts(
                steps, recipe(impl), cap_family, h, rec.numel, eps, range(1, SCAN_CHUNK + 1), per_step, True
            )
        return decayed_scans[impl, eps, per_step]

    def decayed_counts() -> Probe | None:
        """A window recorded late with a visible decay.  On a path that rounds the decay to bf16
        before the update (for-loop, foreach): the count scan with each step's decay unknown,
        at every eps guess, one lr then one lr per step (~0.1-1 s each; seen: foreach
        warmup, wd 0.3, index 0 = step 6: no answer in 180 s, every fit at a wrong count fails,
        the plain scans keep none; foreach cosine, eps 1e-6, wd 0.01, from step 6, likewise; at
        every eps guess: foreach cosine, eps 1e-3, wd 0.3, from step 6, no answer in 180 s).
        On fused: :func:`_fused_decayed_probe` at every eps guess (~0.2 s each)."""
        for eps, (impl, b2, _) in itertools.product(EPS_GUESSES, candidates):
            h = Hyper(beta1=b1, beta2=b2)
            if "fused" in impl:
                found = _fused_decayed_probe(steps, impl, cap_family, h, rec.numel, eps)
                if found is not None:
                    return found
                continue
            for per_step in (False, True):
                counts = decayed_scan(impl, b2, eps, per_step)
                if counts:
                    # the decays the scan allows include none: where its counts replay without one
                    # too, the searches without a decay go first (seen: foreach, eps 1e-6, wd 0.01
                    # the bits do not see, from step 11: every decayed pooled search at counts 1..5
                    # ran before the schedule phase found count 11, 110 s of 130 s)
                    kept = range(counts[0], counts[:PROBE_COUNTS][-1] + 1)
                    plain, _ = scan_step_counts(steps, recipe(impl), cap_family, h, rec.numel, eps, kept, per_step)
                    return Probe(per_step, not plain, impl, (plain or counts)[:PROBE_COUNTS], (eps,))
        return None

    def decayed_guess_counts(impl: str, b2: float) -> list[int]:
        """Counts where one lr per step and a decay per step fit at some eps guess (for-loop and
        foreach: ~0.1 s a guess; fused: none here).  The decayed probe's scan, for a schedule
        phase whose probe found a lead at a wrong count and so skipped it (seen: CUDA for-loop
        warmup, eps 1e-3, wd 0.3, from step 6, 1183 elements: counts 1 and 2 fitted step by step,
        no wd coupled them; the scan with eps searched and a decay per step kept no count, its
        eps bisection lost; at eps 1e-3 it keeps 6)."""
        if "fused" in impl:
            return []
        found = (c for eps in EPS_GUESSES for c in decayed_scan(impl, b2, eps, True)[:PROBE_COUNTS])
        return list(dict.fromkeys(found))

    def more_counts(phase: str, impl: str, b2: float) -> Iterator[list[int]]:
        """Counts for the schedule phase once those tried fail, batch by batch (each computed
        when the one before has failed): where one lr per step fits with eps searched per count
        (seen: fused cosine, eps 2e-4, index 0 = step 6, every count 1..5 fitted step by step
        with no one eps refitting them all), then where it fits with a decay per step at an eps
        guess (:func:`decayed_guess_counts`).  A search on a larger sample
        that the hint's count no longer settles: the counts the unhinted search would try next
        (seen: fused warmup, wd 0.3, eps 1e-12, index 0 = step 6: count 1 fitted 4096 and 16384
        elements per step, not all 26187)."""
        if phase != "schedule":
            return
        if hint is not None:
            if impl == hint_impl:
                # first the hint's values carried to other counts and eps, each held where it holds
                # on the elements the hint replayed wrong (:func:`_held_elsewhere`: ~5 ms a try)
                for moved in _held_elsewhere(steps, hint, recipe(impl), cap_family, Hyper(beta1=b1, beta2=b2),
                                             rec.numel, deadline):  # fmt: skip
                    held_at[moved.offset] = moved
                    yield [moved.offset]
            # then those with eps searched (seen: fused, eps 1e-3, wd 0.01, constant lr, index 0 =
            # step 6: count 4 fitted 4096 elements per step at eps 0.0011, not all 7980; the
            # eps-searched scan keeps 5, 6, ...: the last pass reported count 4, W 0.99977)
            # The hinted count's neighbours before 1..5: it coupled the smaller sample's steps, so
            # the truth's bias corrections are near (seen: CUDA fused step schedule, eps 1e-12, wd
            # 0.01, index 0 = step 6, 989x19: count 5 coupled 4096 elements per step; counts 1..4
            # were searched again before 6, ~17 s each: past 180 s -> 6 next)
            near = [c for c in (hint_offset + 1, hint_offset - 1) if c >= 1]
            cheap = [*per_step_counts(impl, b2)[:SCAN_TRIES], *near, *offsets]
            yield [*cheap, *per_step_counts(impl, b2, None)[:SCAN_TRIES]]
            return
        yield per_step_counts(impl, b2, None)[:SCAN_TRIES]
        yield decayed_guess_counts(impl, b2)

    found_phase = ""
    unsettled = None  # a schedule no single wd or eps replays (a last resort)

    def stage(name: str) -> Stage:
        lead = bool(scanned) or (probed is not None and probed.impl is not None)
        return Stage(name, lead, device == "cpu" and family != "2.0", pre_lerp_too, other_beta2, candidates[0][1])

    for k, phase in enumerate(phases):
        if k:
            yield stage(phases[k - 1])  # (the phase before found nothing)
        _check_time(deadline)
        found_phase = phase
        if phase in ("scan", "deep scan"):  # a window recorded late in a run
            best, scanned = _late_window(steps, candidates, b1, cap_family, rec.numel, offsets, phase == "deep scan")
            if best is not None:
                break
            continue
        if phase in ("eps", "joint", "joint+eps") and probed is None:
            probed = _probe_steps(steps, candidates, b1, cap_family, rec.numel, offsets, per_step_counts)
            yield stage("probe")
            if probed.impl is None and not scanned:
                probed = decayed_counts() or probed
                yield stage("decayed probe")
            if probed.impl is None and not scanned:
                # No path's steps fit alone (at count index + 1) with eps a guess or two unknowns, no
                # count kept by the late scan (eps 1e-8), no schedule: perhaps a window recorded late
                # on a bf16-denominator path (for-loop, foreach: a wrong bc2_sqrt breaks their fits).
                # The late scan at the other eps guesses (~1 s each; a visible decay barely moves the
                # elements the scan reads, eps does: seen foreach, eps 1e-6, index 0 = step 11);
                # then the steps fitted with all three unknown (fused at a wrong count: eps 1e-3)
                best, scanned = _late_window(
                    steps, candidates, b1, cap_family, rec.numel, offsets, False, EPS_GUESSES[1:]
                )
                if best is not None:
                    break
                yield stage("late scan, eps guesses")
                if not scanned:
                    probed = _all_three_probe(steps, candidates, b1, cap_family, rec.numel, offsets, per_step_counts)
                    yield stage("all-three probe")
                if not scanned and probed.impl is None:
                    # nothing fits at any guessed eps: the late scan with eps searched per count
                    # (~10 s per path; seen: for-loop, eps 2e-4, index 0 = step 6), one lr, then
                    # one lr per step (the schedule phase reads those counts)
                    scanned, impl_found, per_step, eps_hint = _late_counts_any_eps(
                        steps, candidates, b1, cap_family, rec.numel, per_step_counts
                    )
                    if per_step:  # the schedule phase tries probed.counts first
                        probed, scanned = Probe(True, False, impl_found, scanned), []
                    elif scanned:  # the pooled eps search tries the scan's eps at its first count first
                        probed = Probe(False, False, impl_found, scanned[:PROBE_COUNTS], eps_hint)
                    yield stage("late scan, eps searched")
            if not probed.scheduled and not probed.counts:
                # no single lr fitted at any count up to SCAN_CHUNK (the scan phase), yet one lr per
                # step does at some count (no decay, eps 1e-8; ~1 s): a schedule, perhaps late
                for impl, b2, _ in candidates:
                    if per_step_counts(impl, b2):
                        probed = Probe(True, probed.decayed, impl, [])
                        break
            candidates.sort(key=lambda c: c[0] != probed.impl)  # the path whose steps fit first
        if phase in ("eps", "joint", "joint+eps"):
            if probed.scheduled or (phase == "eps" and probed.decayed):
                continue  # a schedule: per-step fits; a visible decay: no search without one
        # (path, whether its counts extend past those queued, whether those were tried already).
        # Hinted: every path at the hinted count before the hinted path's other counts (seen:
        # foreach cosine, eps 1e-5, 840x37: the smaller sample chose for-loop; its counts 1..5 on
        # the larger one took ~12 s each before the unhinted search found foreach)
        attempts = [(c, hint is None, False) for c in candidates]
        if hint is not None and not hint.count_only:  # (the hinted path gone: every path's counts extend)
            attempts += [(c, True, True) for c in ([c for c in candidates if c[0] == hint_impl] or candidates)]
        for (impl, b2, b2_bounds), extend, again in attempts:
            rcp, h = recipe(impl), Hyper(beta1=b1, beta2=b2)
            counts = search_offsets
            if phase in ("eps", "joint", "joint+eps") and hint is None:
                # where one lr fits the probe's steps (a late window with a decay or an eps the
                # scan misses), then the counts the scan kept (eps 1e-8), then 1..5
                late = probed.counts if impl == probed.impl else []
                counts = tuple(dict.fromkeys([*late, *scanned[:PROBE_COUNTS], *search_offsets]))
            if phase == "schedule" and hint is None:
                # the counts where one lr per step fits (eps 1e-8, no decay: a cheap scan, ~1 s) first,
                # late ones included; then the rest of 1..5 (a failing per-step fit costs seconds)
                late = probed.counts if probed is not None and probed.scheduled and impl == probed.impl else []
                counts = tuple(dict.fromkeys([*late, *per_step_counts(impl, b2)[:SCAN_TRIES], *search_offsets]))
            queue, tried = list(counts), []
            more = more_counts(phase, impl, b2) if extend else iter(())  # (every ``again`` extends)
            if again:
                queue, tried = [], list(counts)
            while True:
                if not queue:  # every count failed: the schedule phase has more
                    batch = next(more, None)
                    if batch is None:
                        break
                    queue = [c for c in dict.fromkeys(batch) if c not in tried or c in held_at]
                    continue
                _check_time(deadline)
                offset = queue.pop(0)
                to_hold = held_at.pop(offset, None) if phase == "schedule" and held_at and impl == hint_impl else None
                if to_hold is not None:
                    # the smaller sample's lrs, eps and wd coupled its steps: held (or those carried
                    # to this count), each step's lr searched on every element of this sample
                    # (seconds; the per-step fits with eps and the decay free can fail on the larger
                    # sample where the held values replay: seen, fused step schedule, beta1 0.61,
                    # eps 2e-4, wd 0.1, 1496x37, count 1 coupled on 16384 elements per step, W
                    # 0.99997; its fits on all 55352 found none in 35 s, and the search went on to
                    # a wrong count)
                    held = _held_schedule(steps, to_hold, rcp, cap_family, h, rec.numel)
                    if held is not None:
                        lrs, wd_iv, lr_ridge, settled, hull, wd_wide = held
                        eps_hull = Interval(min(hull.lo, settled), max(hull.hi, settled))
                        best = (impl, offset, b2, b2_bounds, lrs, Interval(settled, settled), wd_iv,
                                (lr_ridge, eps_hull, wd_wide))  # fmt: skip
                        break
                    if to_hold is not hint:
                        continue  # (the hint moved to this count: held only; a later batch may fit it)
                tried.append(offset)
                if phase == "schedule":
                    e_scan = scanned_eps.get(impl, {}).get(offset)
                    e_first = (e_scan,) if e_scan is not None else ()
                    if probed is not None and probed.scheduled and impl == probed.impl and offset in probed.counts:
                        # the eps the probe's fits saw (seen: CUDA fused cosine, eps 1e-7, wd 0.3,
                        # from step 3: the all-three probe kept count 3 and eps ~1e-7, and the
                        # fits there at the guesses alone found none: "not reproducible" in 222 s)
                        e_first = (*e_first, *probed.eps_hints)
                    fitted = _fit_steps(steps, rcp, cap_family, h, offset, rec.numel, e_first)
                    fits, settled = fitted if fitted is not None else (None, None)
                    if fits is not None:
                        lrs = _lr_intervals(fits, rcp, b1, offset)
                        wd_iv = _wd_interval(fits, lrs, rcp)
                        coupled = _coupled_schedule(steps, fits, rcp, cap_family, h, offset, rec.numel)
                        hull = _shared(fits)[0]
                        ridge, eps_found, lr_ridge, wd_wide = None, hull, None, None
                        if coupled is None and settled is not None and all(f.decay.hi >= 1.0 for f in fits):
                            coupled = _coupled_schedule(steps, fits, rcp, cap_family, h, offset, rec.numel, settled)
                        if coupled is not None:  # the eps interval from its ridge walk
                            lrs, wd_iv, lr_ridge, settled, hull, wd_wide = coupled
                        if settled is not None:  # replayed at the eps every step fits with, reported with the hull
                            eps_found = Interval(settled, settled)
                            ridge = (lr_ridge, Interval(min(hull.lo, settled), max(hull.hi, settled)), wd_wide)
                        if coupled is None and (any(f.decay.hi < 1.0 for f in fits) or settled is None):
                            # a visible decay no single wd couples to the per-step lrs, or steps
                            # no single eps fits: fused's float32 steps fit alone at a wrong count
                            # too (seen: count 1 for 2, W 0.99); the next count first, this one if
                            # no count settles
                            unsettled = unsettled or (impl, offset, b2, b2_bounds, lrs, _shared(fits)[0], wd_iv, None)
                            continue
                        best = (impl, offset, b2, b2_bounds, lrs, eps_found, wd_iv, ridge)
                        break
                    continue
                unknowns = {"plain": "plain", "eps": "eps", "joint": "decay", "joint+eps": "decay+eps"}[phase]
                eps_first = (hint_eps,) if hint is not None else ()
                if hint is None and probed is not None and offset in probed.counts[:1]:
                    # (every path at the probe's count: eps is the same on any path, and one path's
                    # scan can keep the count another's replays; seen: foreach, eps 2e-4, from step
                    # 3, the for-loop scan kept 3 at eps 2.86e-4, foreach's joint search over all
                    # eps lost its way there: no answer in 180 s)
                    eps_first = probed.eps_hints
                pooled = fit_pooled(steps, rcp, cap_family, h, offset, rec.numel, unknowns, eps_first)
                if pooled is not None:  # one lr for every step
                    lr_iv, eps_iv, d_iv, wide = pooled
                    lr_bounds = [(lr_iv.lo, lr_iv.hi)]  # (lr is searched as a double)
                    best = (impl, offset, b2, b2_bounds, lr_bounds, eps_iv, d_iv, wide)
                    break
            if best is not None:
                break
        if best is not None:
            break
    if best is None and unsettled is not None:
        # (found by the schedule phase: a later phase's name would send the search on a larger
        # sample down that phase alone, which fits no schedule, and then the whole search over;
        # seen, fused cosine from step 31, eps 1e-6, wd 0.1, 3000x20: "deep scan", 400 s)
        best, found_phase = unsettled, "schedule"
    if best is None and family == "2.0":
        raise AuditError(
            f"{rec.path}: momentum_W follows torch <= 2.0's mul_ + add_ (beta1 {b1:g}), but no 1.13-2.0 program "
            "and step count tried reproduces W; try 'adamw-audit verify FILE --torch 2.0' with known settings"
        )
    if best is None:
        amsgrad = _amsgrad_signature(steps)
        raise AuditError(
            f"{rec.path}: W[t] is not reproducible from W[t-1] by any path and step count tried "
            + (f"({amsgrad})" if amsgrad else
               "(hidden fp32 master weights, amsgrad's maximum of v, or W changed outside the optimizer)")
            + (f"; {wrong_way[0]} sampled pair(s) of elements with the same W[t-1] end the wrong way round, which "
               f"no program on bf16 parameters does ({HIDDEN_STATE_PAIRS} name a hidden state before any search)"
               if wrong_way is not None else "")
        )  # fmt: skip
    impl, offset, b2, b2_bounds, lrs, eps_iv, decay_or_wd, wide = best
    # the values replayed are one point (slices through it give lrs, eps_iv, decay_or_wd); where
    # lr was solved with eps or the decay, the intervals reported are the wider ridges (wide)
    lr_iv_wide, eps_iv_wide, decay_wide = wide if wide is not None else (None, eps_iv, decay_or_wd)
    if wide is not None and wide[0] is not None:
        findings.append(
            "lr trades off with eps or the decay factor in these bits (solved together): the values reported "
            "replay the file together; each interval spans the ridge of values some partner value allows"
        )
    eps_lo, eps_hi = eps_iv_wide.lo, eps_iv_wide.hi
    eps = _prefer_eps(eps_iv)
    if len(lrs) == 1:
        lo, hi = lrs[0]
        lr_value: float | list[float] = simplest_in(lo, hi)
        if isinstance(lr_iv_wide, list):  # a schedule's ridges, of one replayed step
            lo, hi = min(lo, lr_iv_wide[0][0]), max(hi, lr_iv_wide[0][1])
        elif lr_iv_wide is not None:
            lo, hi = min(lo, lr_iv_wide.lo), max(hi, lr_iv_wide.hi)
        lr_interval: list = [lo, hi]
        lr_for_schedule = None
    else:
        lr_value = [simplest_in(lo, hi) for lo, hi in lrs]
        lr_interval = [[lo, hi] for lo, hi in (lr_iv_wide or lrs)]
        lr_for_schedule = [lr_value[0], *lr_value] if len(lr_value) == rec.steps - 1 else lr_value
        if len(lr_value) == len(steps) and len(lr_for_schedule) != rec.steps:
            # rows left out of the search (a gradient the optimizer saw scaled, a row with inf or
            # NaN) have no lr of their own: they replay at the row's before (seen: row 15 of 18
            # clipped, the schedule dropped for one lr, W 0.148)
            of_index = {sd.index: lr for sd, lr in zip(steps, lr_value, strict=True)}
            lr_for_schedule = list(itertools.accumulate(
                (of_index.get(i) for i in range(rec.steps)), lambda before, lr: before if lr is None else lr,
                initial=lr_value[0],
            ))[1:]  # fmt: skip
        findings.append("lr changes between steps (a schedule): reported per replayed step")

    lr_ref = lr_value if isinstance(lr_value, float) else lr_value[0]
    if isinstance(decay_or_wd, Interval):  # one decay factor (constant lr) -> weight decay
        # the decay factor is f32(1 - lr*wd): widen [d_lo, d_hi] to the reals that round into it;
        # the value from the slice at lr (it replays with lr), the interval from the ridge
        d_lo, d_hi = _decay_edges(recipe(impl), decay_or_wd.lo, decay_or_wd.hi)
        wd = 0.0 if decay_or_wd.hi >= 1.0 else simplest_in((1 - d_hi) / lr_ref, (1 - d_lo) / lr_ref)
        d_lo, d_hi = _decay_edges(recipe(impl), decay_wide.lo, decay_wide.hi)
        lr_lo, lr_hi = lr_interval
        wd_lo = max(0.0, (1 - d_hi) / lr_hi) if decay_wide.hi < 1.0 else 0.0
        wd_hi = (1 - d_lo) / lr_lo if lr_lo > 0 else math.inf
    else:  # a schedule's wd: the value from the slice at the lrs reported, the interval the ridges'
        wd_lo, wd_hi = decay_or_wd
        wd = 0.0 if wd_lo == 0.0 else simplest_in(wd_lo, wd_hi)
        if decay_wide is not None:
            wd_lo, wd_hi = min(wd_lo, decay_wide[0]), max(wd_hi, decay_wide[1])
        # (the ridges are walked down to wd 1e-30: seen, fused warmup to 2e-5, eps 2e-4, wd 0,
        # from step 6: count 3 found at wd 0.02, its interval [1e-30, 0.16])
        wd_lo = _wd_floor(wd_lo, float(np.max(lr_interval)), recipe(impl))
        if 0.0 < wd_lo <= WD_FLOOR and lr_for_schedule is not None and len(lr_for_schedule) == rec.steps:
            # the ridges reach the search's floor (a decay the bits do not see) on CUDA fused
            # (_wd_floor): 0 is in the interval, and reported, where the sample replays without
            # a decay (seen: CUDA fused cosine from 2e-5, wd 0, eps 3e-5, from step 3: wd 0.1
            # reported in [1e-30, 0.50], no finding)
            unseen = Schedule(Hyper(lr=lr_ref, beta1=b1, beta2=b2, eps=eps), tuple(lr_for_schedule), offset)
            if _no_decay_replays(recipe(impl), steps, unseen, cap_family, rec.numel):
                wd = wd_lo = 0.0
    if wd_lo == 0.0 and wd == 0.0:
        findings.append(
            f"weight decay not visible in these bits: 0 replays them, and so may values up to {wd_hi:.3g} (lr "
            "can absorb a small decay; none above was seen to)"
        )
    elif wd_lo == 0.0:
        findings.append(
            f"weight decay barely visible in these bits: {wd:.3g} replays them with the lrs reported, and along "
            f"the ridge of each lr against wd values from 0 to {wd_hi:.3g} fit (lr can absorb a small decay)"
        )

    hyper = Hyper(lr=lr_ref, beta1=b1, beta2=b2, eps=eps, weight_decay=wd)
    if lr_for_schedule is None and wd == wd_lo == 0.0 and 0.0 < wd_hi < math.inf:
        # a decay the bits do not see still trades off with the lr (W ~ p*(1 - lr*wd) - c*q): lr
        # and eps were found at none, so also at the interval's far end, halving where no lr fits
        # there (seen: fused, lr 2e-5, eps 1e-6, wd 0.05, from step 11, 195x18: lr [1.99979e-5,
        # 1.99985e-5] and eps [0, 2.5e-7] at no decay, the truth outside both; at wd 0.05 it replays)
        rcp = recipe(impl)
        for k in range(UNSEEN_HALVINGS):
            at_wd = Schedule(replace(hyper, weight_decay=wd_hi / 2**k), None, offset)
            d = _kernel_decay(rcp, at_wd, steps[0].index, cap_family)
            fit = fit_pooled(steps, rcp, cap_family, hyper, offset, rec.numel, "lr", (eps,), d)
            if fit is not None:
                lr_interval = [min(lr_interval[0], fit[0].lo), max(lr_interval[1], fit[0].hi)]
                eps_lo, eps_hi = min(eps_lo, fit[1].lo), max(eps_hi, fit[1].hi)
                break
    simplest_wd = simplest_in(wd_lo, wd_hi)
    if lr_for_schedule is None and wd > 0.0 and simplest_wd != wd:
        # wd comes from the decay's slice at lr; the ridge's interval may hold a simpler value
        # that replays too (seen: CUDA fused, lr 0.01, wd 0.3: 0.29994 from the slice, [0.29979,
        # 0.30008] along the ridge)
        simpler = Schedule(replace(hyper, weight_decay=simplest_wd), None, offset)
        if _sample_replays(recipe(impl), steps, simpler, cap_family, rec.numel):
            hyper, wd = simpler.hyper, simplest_wd
    if lr_for_schedule is None and wd > 0.0:
        one_lr = Schedule(hyper, None, offset)
        if not _sample_replays(recipe(impl), steps, one_lr, cap_family, rec.numel):
            # lr and the decay factor each come from a slice through one point of their ridge: the
            # simplest of each can miss it together (seen: fused 1-D 526, lr 2.0832e-4, wd 0.05,
            # eps 3e-5: lr 0.00020832 with wd 0.04 left W 0.99981); wd again at the lr reported
            at_lr = _wd_interval_of(recipe(impl), one_lr, cap_family, steps, rec.numel)
            if at_lr is not None:
                hyper = replace(hyper, weight_decay=simplest_in(*at_lr))
                wd, wd_lo, wd_hi = hyper.weight_decay, min(wd_lo, at_lr[0]), max(wd_hi, at_lr[1])
    schedule = Schedule(hyper, tuple(lr_for_schedule) if lr_for_schedule else None, offset)
    if lr_for_schedule and len(lr_for_schedule) != rec.steps:
        schedule = Schedule(hyper, None, offset)
    b1_pinned: tuple[float, float] | None = None  # beta1's interval as W's one lr pins it
    if lr_for_schedule is not None and max(lo for lo, _ in lrs) <= min(hi for _, hi in lrs):
        # every step's lr interval holds one value: one lr, if it replays the sampled steps (seen:
        # fused, constant lr 2e-5, wd 0.1, eps 1e-5, from step 2: the probe's fits at count 1
        # looked like a schedule, 18 equal lrs reported); its interval the steps' intersection
        one = simplest_in(max(lo for lo, _ in lrs), min(hi for _, hi in lrs))
        flat = Schedule(replace(hyper, lr=one), None, offset)
        if _sample_replays(recipe(impl), steps, flat, cap_family, rec.numel):
            hyper, schedule, lr_value = flat.hyper, flat, one
            lr_interval = [max(lo for lo, _ in lr_interval), min(hi for _, hi in lr_interval)]
            findings.remove("lr changes between steps (a schedule): reported per replayed step")
    elif lr_for_schedule is not None and b1_lo < b1_hi and len(lrs) == len(steps) == len(lr_interval):
        # m leaves beta1 an interval (torch <= 2.0 reads 1 - beta1 as bf16) and W reads it
        # through bc1 alone, which the lrs absorb: one lr may fit at another beta1 of m's interval,
        # which W then pins (seen: 1.13-2.0 for-loop, lr 1e-3, beta1 0.524, from step 1, 2000x5:
        # beta1 0.523 reported and five lrs 0.0010014..0.0010002 "a schedule")
        counts = [schedule.step_count(sd.index) for sd in steps]
        rcp = recipe(impl)
        at = _beta1_for_one_lr(lrs, counts, rcp, b1, (b1_lo, b1_hi))
        if at is not None:
            beta1 = simplest_in(*at)
            one = simplest_in(*_one_lr_at(lrs, counts, rcp, b1, beta1))
            # (the decay's intervals were read at each step's own lr: wd*lr_k is what the bits see)
            ratios = [simplest_in(lo, hi) / one for lo, hi in lrs]
            flat = Schedule(replace(hyper, lr=one, beta1=beta1), None, offset)
            if _sample_replays(rcp, steps, flat, cap_family, rec.numel):
                wide = _beta1_for_one_lr(lr_interval, counts, rcp, b1, (b1_lo, b1_hi)) or at
                lr_interval = list(_hull(_one_lr_span(lr_interval, counts, rcp, b1, wide), (one, one)))
                wd_lo, wd_hi = wd_lo * min(1.0, *ratios), wd_hi * max(1.0, *ratios)
                hyper, schedule, lr_value = flat.hyper, flat, one
                (b1_lo, b1_hi), b1, b1_pinned = wide, beta1, wide
                findings.remove("lr changes between steps (a schedule): reported per replayed step")
                findings.append(_beta1_pinned_by_w(wide))
    elif lr_for_schedule is None and family == "2.0" and b1_lo < b1_hi:
        # one lr: W pins beta1 the same way, each step's own lr (at the values found) moving with
        # bc1(beta1, t) (seen: the file above, searched at 0.524: m's [0.5225, 0.5244] reported)
        # (the first PINNING_STEPS where beta1^t still shows in bc1, and the last: a subset of the
        # steps bounds beta1 from outside; each step's fit costs ~0.1-0.5 s)
        rcp = recipe(impl)
        seen = [sd for sd in steps[:-1] if b1_hi ** schedule.step_count(sd.index) > 2.0**-40]
        seen = seen[: PINNING_STEPS - 1] + steps[-1:]
        counts = [schedule.step_count(sd.index) for sd in seen]
        d = _kernel_decay(rcp, schedule, steps[0].index, cap_family)
        step_fits = [fit_pooled([sd], rcp, cap_family, hyper, offset, rec.numel, "lr", (eps,), d) for sd in seen]
        step_lrs = [(f[0].lo, f[0].hi) for f in step_fits if f is not None]
        at = _beta1_for_one_lr(step_lrs, counts, rcp, b1, (b1_lo, b1_hi)) if len(step_lrs) == len(seen) > 1 else None
        if at is not None and at != (b1_lo, b1_hi):
            lr_interval = list(_hull(_one_lr_span(step_lrs, counts, rcp, b1, at), tuple(lr_interval)))
            (b1_lo, b1_hi), b1_pinned = at, at
            findings.append(_beta1_pinned_by_w(at))
    if family == "2.0" and len(_chunkings(rec.numel)) > 1:
        cpu_caps = (cap_family, *(c for c in ("avx512", "avx2", "default") if c != cap_family))
        cap_family, threads = _layout_threads(rec, recipe(impl), schedule, cpu_caps, steps)
        if threads > 1:
            rec = _OnThreads(rec, threads)
            findings.append(
                f"the kernels ran in {len(layout.chunks(rec.numel, threads))} parallel chunks (as with {threads} "
                "threads), each with its own scalar tail: the replays use that layout (verify: --threads "
                f"{threads})"
            )
    results: dict[tuple[str, str], dict[str, float] | None] = {}
    replayed: dict[tuple, dict[str, float] | None] = {}
    owners_of: dict[tuple, list[tuple[str, str]]] = {}  # each program's (path, capability) pairs

    mismatched: dict[tuple, set[int]] = {}  # per program replayed, the elements that differ

    apart_from_scaled: dict[tuple, dict[str, float]] = {}  # per program replayed, on the rows not left out
    left_out = _left_out(rec)  # (the rows named as seeing a scaled gradient)

    def whole_file(rcp: Recipe, capability: str, key: tuple) -> dict[str, float]:
        rep = replay(rec, rcp, schedule, capability, _threads_of(rec), progress=False,
                     mismatched=mismatched.setdefault(key, set()))  # fmt: skip
        if left_out:
            kept = replace(rep, steps=[s for s in rep.steps if s.index not in left_out])
            apart_from_scaled[key] = {k: v.fraction for k, v in kept.overall().items()}
        return {k: v.fraction for k, v in rep.overall().items()}

    for cand_impl in paths:
        for capability in ("cuda",) if device == "cuda" else ("avx512", "avx2", "default"):
            rcp = recipe(cand_impl)
            # the same program text and layout give the same bits: replay each distinct one once
            # (AVX2 and AVX512 build identical programs for every CPU path)
            key = (
                str(rcp.build(schedule.at(0), float(offset), capability)),
                str(rcp.build(schedule.at(rec.steps - 1), float(rec.steps - 1 + offset), capability)),
                rcp.layout.__name__,
                capability if getattr(rcp.layout, "by_capability", False) else "",  # pre-2.1 AVX512 blocks
            )
            if key not in replayed:
                # a whole-file replay costs seconds on a large file: only for programs that replay
                # the sampled elements (the others are replayed below only if none is exact)
                sampled_ok = _sample_replays(rcp, steps, schedule, capability, rec.numel)
                replayed[key] = whole_file(rcp, capability, key) if sampled_ok else None
            owners_of.setdefault(key, []).append((cand_impl, capability))
            results[(cand_impl, capability)] = replayed[key]

    def replays_all(key: tuple) -> bool:
        """Whether program ``key`` replays every row exactly (but the rows left out)."""
        fractions = apart_from_scaled.get(key) if left_out else replayed[key]
        return fractions is not None and all(x == 1.0 for x in fractions.values())

    if not any(replays_all(key) for key in replayed):
        for key, owners in owners_of.items():
            if replayed[key] is None:
                replayed[key] = whole_file(recipe(owners[0][0]), owners[0][1], key)
                results.update(dict.fromkeys(owners, replayed[key]))
    results = {k: v for k, v in results.items() if v is not None}
    program_of = {owner: key for key, owners in owners_of.items() for owner in owners}
    exact_keys = [k for k in results if replays_all(program_of[k])]
    chosen = (impl, cap_family if cap_family != "avx512" else "avx512")
    if exact_keys and chosen not in exact_keys:
        chosen = exact_keys[0]
    if not exact_keys:
        chosen = max(results, key=lambda k: sum(results[k].values()))
    if not exact_keys or left_out:
        findings.append("no candidate replays every element exactly: see 'exact'")
    eq_releases = _equivalent_releases(rec, recipe(chosen[0]), schedule, chosen[1], steps) if exact_keys else []
    eq_impls = sorted({recipe(k[0]).name for k in exact_keys if results[k] == results[chosen]})
    if not exact_keys:
        # the closest program's ties: the paths whose replay differs on the same elements (seen:
        # foreach, one row's gradient clipped after the recording: the for-loop named alone)
        same = [k for k in results if mismatched.get(program_of[k]) == mismatched.get(program_of[chosen])]
        eq_impls = sorted({recipe(k[0]).name for k in same if results[k] == results[chosen]})
    other_device = _other_device_ties(rec, paths, schedule, steps) if exact_keys else []
    if other_device:
        findings.append(f"the same bits come from {', '.join(other_device)} too {UNSEARCHED}")
        eq_impls = sorted({*eq_impls, *other_device})
    b2_lo, b2_hi = b2_bounds
    if fused_cuda.name in other_device and fused_cuda.name not in paths:
        # CUDA fused reads each beta as one float32, the lerp paths 1 - beta too: the betas
        # intervals span both readings (seen: 3x37, beta2 0.98 outside the CPU fused interval)
        for moment, (lo, hi) in (("exp_avg", (b1_lo, b1_hi)), ("exp_avg_sq", (b2_lo, b2_hi))):
            iv = infer_beta_fused_cuda(steps, moment)
            if iv is not None:
                wide = _rounding_edges(iv.lo, iv.hi)
                if moment == "exp_avg":
                    b1_lo, b1_hi = min(lo, wide[0]), max(hi, wide[1])
                else:
                    b2_lo, b2_hi = min(lo, wide[0]), max(hi, wide[1])
    if device == "cpu":
        # every CPU program that replays the file exactly may read the betas its own way: the
        # intervals span each one's (seen: torch 2.1-2.3 for-loop on the default capability,
        # beta2 0.999: AVX512's addcmul, an FMA, pins f32(1 - beta2) one float32 below
        # f32(0.001), the default build's separately rounded product allows both; the answer,
        # AVX512's, gave beta2 [0.99900000001, 0.99900000013], the truth outside).  A program
        # text met twice reads them alike: each distinct one is read once (~0.2 s).
        def beta2_of_tie(path: str, capability: str) -> tuple[float, float] | None:
            if capability == cap_family:
                return paths[path]
            iv = beta2_of(recipe(path), capability, b1)
            return None if iv is None else _one_minus(iv)

        read = {program_of[(impl, cap_family)]}
        for p, c in exact_keys:
            if program_of[(p, c)] not in read:
                read.add(program_of[(p, c)])
                b1_lo, b1_hi = _hull((b1_lo, b1_hi), _within(beta1_at(c), b1_pinned) if c != cap_family else None)
                b2_lo, b2_hi = _hull((b2_lo, b2_hi), beta2_of_tie(p, c))
    eq_caps = sorted({k[1] for k in exact_keys if k[0] == chosen[0]})
    tied_paths = sorted({k[0] for k in exact_keys if k[1] == chosen[1]})
    if wd_lo > 0.0 and len(tied_paths) > 1:
        # paths that tie may read wd differently (foreach rounds 1 - lr*wd to bf16, for-loop to
        # float32: seen, foreach wd 0.3 replayed by for-loop at 0.57 only): the interval spans each
        by_path = {p: _wd_interval_of(recipe(p), schedule, chosen[1], steps, rec.numel) for p in tied_paths}
        spans = {p: iv for p, iv in by_path.items() if iv is not None}
        lo_all = min([wd_lo, *(iv[0] for iv in spans.values())])
        hi_all = max([wd_hi, *(iv[1] for iv in spans.values())])
        if (lo_all, hi_all) != (wd_lo, wd_hi):
            wd_lo, wd_hi = lo_all, hi_all
            findings.append(
                "the paths that tie read weight decay differently (1 - lr*wd as float32 or bf16): "
                + "; ".join(f"{recipe(p).name} [{iv[0]:.4g}, {iv[1]:.4g}]" for p, iv in spans.items())
                + f"; weight decay {wd:g} is {recipe(chosen[0]).name}'s, the interval spans them all"
            )
    tried = sorted({*offsets, *scanned[:20]})
    other_offsets = _other_offsets(rec, recipe(chosen[0]), schedule, chosen[1], steps, tried) if exact_keys else []
    if exact_keys and schedule.lr_per_index is None:
        # counts that tie with an lr of their own (the probe's counts, those searched, the neighbours)
        late = probed.counts if probed is not None else []
        own = _pooled_other_offsets(
            rec, recipe(chosen[0]), schedule, chosen[1], steps, sorted({*tried, *late}), SCAN_TRIES, (eps_lo, eps_hi),
            ridge=lr_iv_wide is not None,
        )  # fmt: skip
        own = {o: ivs for o, ivs in own.items() if o not in other_offsets}
        if own:
            other_offsets = sorted({*other_offsets, *own})
            lr_interval = [min(lr_interval[0], *(iv[0] for iv, _, _ in own.values())),
                           max(lr_interval[1], *(iv[1] for iv, _, _ in own.values()))]  # fmt: skip
            if wd_lo > 0.0:
                wd_lo = min(wd_lo, *(iv[0] for _, iv, _ in own.values()))
                wd_hi = max(wd_hi, *(iv[1] for _, iv, _ in own.values()))
            eps_lo = min(eps_lo, *(e.lo for _, _, e in own.values()))
            eps_hi = max(eps_hi, *(e.hi for _, _, e in own.values()))
            findings.append(
                f"counts {sorted(own)} of index 0 also replay the file exactly, each with one lr of its own: the lr "
                f"interval (and weight decay's and eps's) spans every count listed; the values reported are count "
                f"{offset}'s"
            )
        if set(range(offset + 1, offset + SCAN_TRIES + 1)) <= set(other_offsets):
            findings.append(_count_not_pinned(offset))
    if exact_keys and schedule.lr_per_index is not None:
        # the counts checked: those searched, and the first the per-step scan kept
        kept = scanned_per_step.get((chosen[0], None)) or scanned_per_step.get((chosen[0], 1e-8), [])
        checked = sorted({*tried, *kept[:SCAN_TRIES]})
        # ties walked up to SCAN_TRIES past the count found (the per-step scan keeps none where a
        # decay is visible: seen, fused warmup, wd 0.3, beta2 0.9999, 8000 elements: count 5
        # found, 6 and 7 tie)
        # (a wd interval down to the search's floor: a decay the bits do not see)
        other_counts = functools.partial(
            _schedule_other_offsets, rec, recipe(chosen[0]), schedule, chosen[1], steps,
            wd_unseen=wd_hi if wd_lo <= WD_FLOOR else 0.0, eps_iv=(eps_lo, eps_hi),
        )  # fmt: skip
        refitted = other_counts(checked, walk_to=offset + SCAN_TRIES)
        walked_out = offset + SCAN_TRIES in refitted  # (the walk's last count ties: it ran out, gaps and all)
        stopped_at = max([offset, *refitted]) + 1  # where the walk of neighbouring ties failed
        if refitted and stopped_at <= offset + SCAN_TRIES and chosen[0] in paths:
            # ties need not be neighbours (W reads eps*bc2_sqrt, up to each count's own bf16
            # roundings of sqrt(v)/bc2_sqrt): where the per-step scan with eps searched per count
            # drops the count the walk failed at, the counts it keeps are checked, each at the eps
            # it kept it at (seen: foreach cosine, eps 1e-5, from step 9, 33 elements: count 4
            # found, 5 ties, 6 not; 7, 10, 11 ... replay too, and no interval held the truth 9's.
            # Where the scan keeps the failed count too it tells nothing: seen, fused, eps 1e-7
            # unseen by the scan, every count kept, 12 failing checks +32 s)
            searched = per_step_counts(chosen[0], simplest_in(*paths[chosen[0]]), None)
            if searched and stopped_at not in searched:
                kept = searched
                more = [c for c in kept if c not in (offset, stopped_at) and c not in checked][:SCAN_TRIES]
                refitted = {**refitted, **other_counts(more, eps_first=scanned_eps.get(chosen[0], {}))}
        below: dict = {}
        if offset > SCAN_TRIES:
            # a count found past the first ones (a late scan's) may tie with counts far below it
            # that no walk reaches: W reads the count only through bc2_sqrt and eps*bc2_sqrt, and
            # eps moves with the count (seen: `--draw late-decay` seed 185, foreach cosine, betas
            # (0.657, 0.9999), eps 1e-5, wd 0.1, from step 10, 156 elements: count 1235 found at
            # eps 1e-6, exact; the truth 10 replays at 1e-5, 64 at ~4.1e-6, unlisted).  The first
            # counts and the powers of two below are sampled, each lr interval spanning theirs
            low = sorted({*range(1, SCAN_TRIES + 1), *(2**k for k in range(4, offset.bit_length()))})
            # each at the usual eps values too, after those moved from the count found: an eps the
            # bits barely see there moves by more than bc2_sqrt's ratio to a count far below
            # (seen: `--draw late-decay` seed 197, foreach cosine, eps 1e-3, wd 0.1, from step 7,
            # 24x2: count 1400 found at 1e-8 with eps [0, 3.1e-5], moved to count 7 up to 3.2e-4;
            # 7 replays at eps [8.6e-4, 1.1e-3] alone)
            low = [c for c in low if c < offset and c not in checked and c not in refitted]
            below = other_counts(low, usual_eps=True)
            refitted = {**refitted, **below}
        far: dict = {}
        sampled = [c for c in FAR_COUNTS if c > offset + SCAN_TRIES]
        if walked_out:
            # the count is open: larger counts sampled too, each lr interval spanning theirs (a
            # late window at the end of a cosine, lr ~1e-5: counts 1..25 replayed, the truth 121
            # among the unchecked, its lrs outside the intervals of those listed)
            far = other_counts(sampled)
            refitted = {**refitted, **far}
        if walked_out and len(kept) <= 20:  # (more: the per-step scan's finding below)
            gaps = set(range(offset + 1, offset + SCAN_TRIES + 1)) - set(refitted)
            findings.append(_count_not_pinned(offset, sorted(far), len(sampled), gaps))
        elif below:
            findings.append(
                f"counts {sorted(below)} of index 0, sampled below the one found ({offset}), replay too: the step "
                "count is not pinned by these bits; each interval spans the counts that replay (those between the "
                "sampled unchecked)"
            )
        if refitted:
            other_offsets = sorted({*other_offsets, *refitted})
            findings.append(
                f"with one lr per step the step count shows only through bc2_sqrt here: counts {sorted(refitted)} of "
                "index 0 also replay the file exactly, each with its own lr per step"
                + (" and its own weight decay" if wd > 0.0 else "")
            )
            # the count is open, so is every lr (and wd) among the counts that replay: the intervals
            # span them all (seen: fused cosine, index 0 = step 11, counts 1..13 replay; the lrs
            # reported were count 1's, none held the truth's)
            at = {sd.index: k for k, sd in enumerate(steps)}
            if isinstance(lr_interval[0], list) and len(lr_interval) == len(steps):
                for lr_ivs, _, _ in refitted.values():
                    for index, (lo, hi) in lr_ivs.items():
                        k = at[index]
                        lr_interval[k] = [min(lr_interval[k][0], lo), max(lr_interval[k][1], hi)]
            if wd_lo > 0.0:
                wd_lo = min([wd_lo, *(iv[0] for _, iv, _ in refitted.values())])
                wd_hi = max([wd_hi, *(iv[1] for _, iv, _ in refitted.values())])
            eps_lo = min([eps_lo, *(e.lo for _, _, e in refitted.values())])
            eps_hi = max([eps_hi, *(e.hi for _, _, e in refitted.values())])
            findings.append(
                "each lr interval (and weight decay's and eps's) spans the values of every count listed as "
                f"replaying: the lrs, weight decay and eps reported are count {offset}'s"
            )
        if len(kept) > 20:  # the per-step scan could not tell most counts apart: say so, not just those checked
            findings.append(
                f"the per-step count scan kept {len(kept)} counts of index 0 between {kept[0]} and {kept[-1]} (all "
                "but the ones listed unchecked on the whole file): the step count is not pinned by these bits"
            )
    if isinstance(lr_value, list) and len(lr_interval) == len(steps) and b1_lo < b1_hi:
        # beta1 reaches W only through bc1, which a step's own lr absorbs: where m leaves beta1 an
        # interval each lr spans the bc1 of its ends (seen: torch 1.13-2.0, which reads 1 - beta1
        # as bf16: beta1 0.524 reported as 0.523 in [0.5225, 0.5244], each lr 6e-4..3e-5 relative
        # above the truth's, the first step's interval [0.00500310, 0.00500311] without 0.005)
        r = recipe(chosen[0])
        for k, sd in enumerate(steps):
            t = schedule.step_count(sd.index)
            at = float(bias_correction1(r, b1, t))
            ends = [float(bias_correction1(r, b, t)) / at for b in (b1_lo, b1_hi)]
            lo, hi = lr_interval[k]
            lr_interval[k] = [lo * min(1.0, *ends), hi * max(1.0, *ends)]
    answer = Identification(
        impl=recipe(chosen[0]).name,
        equivalent_impls=eq_impls or [recipe(chosen[0]).name],
        device=device,
        capability=chosen[1],
        equivalent_capabilities=eq_caps or [chosen[1]],
        first_index_step_count=offset,
        other_step_counts=other_offsets,
        lr=lr_value,
        lr_interval=lr_interval,
        betas=[b1, b2],
        betas_interval=[[b1_lo, b1_hi], [b2_lo, b2_hi]],
        eps=eps,
        eps_interval=[eps_lo, eps_hi],
        weight_decay=wd,
        weight_decay_interval=[wd_lo, wd_hi],
        exact=results[chosen],
        findings=findings,
        equivalent_releases=eq_releases,
        scaled_gradient_indices=[i for i, _ in scaled],
        exact_apart_from_scaled=apart_from_scaled.get(program_of[chosen]),
    )
    one_per_step = isinstance(lr_value, list) and len(lr_value) == len(steps)
    per_step = dict(zip((sd.index for sd in steps), lr_value, strict=True)) if one_per_step else None
    chosen_key = next(k for k, owners in owners_of.items() if chosen in owners)
    differ = tuple(sorted(mismatched.get(chosen_key, ())))
    pre_lerp_b1 = b1 if family == "2.0" else None
    return answer, Hint(impl, offset, found_phase, eps, wd, per_step, differ, beta1=pre_lerp_b1, beta2=b2)


def _wd_interval_of(rcp: Recipe, schedule: Schedule, capability: str, steps, numel: int) -> tuple[float, float] | None:
    """The weight decays with which ``rcp``, at the lrs, eps and step counts of ``schedule``,
    gives every sampled step a decay factor all its elements allow (None: some step has none).
    Each step's decay interval is searched as the kernel reads it (:func:`_conveyed`: float32,
    or bf16 for foreach), with the step size and eps the kernel reads held."""
    lo_all, hi_all = 0.0, math.inf
    where_all = rcp.positions(capability, numel, 1)
    for sd in steps:
        h, count = schedule.at(sd.index), schedule.step_count(sd.index)
        built = rcp.build(h, count, capability)
        scalars = scalar_labels(built)
        apart = _read_apart(rcp)
        _, opened, _, conv_decay = _open_step(rcp, h, count, capability, apart)
        step_size, eps = abs(float(scalars[_step_label(built)].kernel_value)), float(scalars["eps"].kernel_value)
        held = {"__c": np.full(sd.flat.size, step_size, np.float32), "__e": np.full(sd.flat.size, eps, np.float32)}
        where = {k: v[sd.flat] for k, v in where_all.items()}
        if apart:
            # the kernel reads k = f32(f32(lr)*f32(wd)) in fma(p, -k, p), far finer than 1 - k's
            # float32 grid: wd itself, lr held (seen: lr 0.0017564, wd 0.05: the d grid gave
            # back 0.05, whose k is one ulp off the truth's, W 0.99997; 0.04995 replays)
            held["__l"] = np.full(sd.flat.size, np.float32(h.lr))
            want = sd.want["param"]
            w = _interval_on(opened, _widen(sd.state), where, "param", want, "__w", held, WD_FLOOR, 0.5 / h.lr)
            if w is None:
                return None
            w_lo, w_hi = _rounding_edges(w.lo, w.hi)
            lo_all, hi_all = max(lo_all, w_lo), min(hi_all, w_hi)
            continue
        d = _interval_on(opened, _widen(sd.state), where, "param", sd.want["param"], "__d", held, *DECAY_RANGE,
                         lambda x, _, conv=conv_decay: conv(x))  # fmt: skip
        if d is None:
            return None
        d_lo, d_hi = _decay_edges(rcp, d.lo, d.hi)  # the reals 1 - lr*wd that round into it
        lo_all, hi_all = max(lo_all, (1 - d_hi) / h.lr), min(hi_all, (1 - d_lo) / h.lr)
    return (lo_all, hi_all) if lo_all <= hi_all else None


def _other_device_ties(rec: Recording, searched: Collection[str], schedule: Schedule, steps) -> list[str]:
    """Recipes not ``searched`` (those of the other device, and CUDA fused where its momentum was
    not the one searched) that replay the file exactly with the values found (checked on the
    sampled elements first, then on every element): a CPU and a GPU run can store the same bits."""
    from .verify import replay

    everything = [recipe(i) for i in CPU_PATHS] + [recipe(i, "cuda") for i in (*CUDA_PATHS, "fused")]
    others = [r for r in everything if r.name not in searched]
    out = []
    for r in others:
        for capability in ("cuda",) if r.device == "cuda" else ("avx512", "avx2", "default"):
            try:
                if not _sample_replays(r, steps, schedule, capability, rec.numel):
                    continue
            except ValueError:  # an option this path does not take
                break
            rep = replay(rec, r, schedule, capability, _threads_of(rec), progress=False, leave_out=_left_out(rec))
            if all(st.fraction == 1.0 for st in rep.overall().values()):
                out.append(r.name)
                break
    return out


def _scalar_values(program: Program) -> tuple:
    """Every host scalar as the kernel sees it: (label, conveyance, float32 value)."""
    found: list[tuple] = []

    def walk(e) -> None:
        if isinstance(e, S):
            found.append((e.label, e.via, float(e.kernel_value)))
        for c in e.children():
            walk(c)

    for a in program.assigns:
        walk(a.expr)
    return tuple(found)


def _row_signature(r: Recipe, schedule: Schedule, capability: str, t: int) -> tuple:
    """What decides the bits at row ``t``: the op text and every scalar's kernel value."""
    prog = r.build(schedule.at(t), schedule.step_count(t), capability)
    return "\n".join(str(a) for a in prog.assigns), _scalar_values(prog)


def _program_signature(r: Recipe, schedule: Schedule, capability: str, indices: range) -> tuple:
    """What decides the bits: the op text, every scalar's kernel value at every step, the layout."""
    sig = [_row_signature(r, schedule, capability, t) for t in indices]
    by_cap = getattr(r.layout, "by_capability", False)
    return (tuple(sig), r.layout.__name__, capability if by_cap else "")


def _equivalent_releases(rec: Recording, chosen: Recipe, schedule: Schedule, capability: str, steps) -> list[str]:
    """The release ranges of the chosen path whose programs replay the file as exactly as the
    chosen one (the 2.7-2.14 recipes): a program identical in ops and scalar values ties at once;
    another is tried on the sampled elements, then replayed whole."""
    from emulation.recipes import CATALOG

    if chosen.release is None:  # a CUDA recipe: one range, no release switches to compare
        return [chosen.torch]
    first = 0 if rec.has_initial else 1
    indices = range(first, rec.steps)
    base = _program_signature(chosen, schedule, capability, indices)
    out = []
    for r in CATALOG.values():
        if r.device != "cpu" or r.impl != chosen.impl or r.release is None:
            continue
        if r.name != chosen.name and _program_signature(r, schedule, capability, indices) != base:
            if not _replays_exactly(rec, r, schedule, capability, steps):
                continue
        out.append(r.torch)
    return out


def _replays_exactly(
    rec: Recording, r: Recipe, schedule: Schedule, capability: str, steps, exact: Schedule | None = None,
    mismatched: set[int] | None = None,
) -> bool:  # fmt: skip
    """Every element of the file, W, m and v, replayed bit-exactly (the sampled ones first: cheap;
    rows whose gradient the optimizer saw scaled left out: :func:`_left_out`).
    ``exact``: a schedule known to replay the file exactly; where ``schedule`` gives the same
    program (every kernel scalar alike) at every row, it does too, without a replay (late in a
    run the bias corrections of neighbouring counts round alike: a whole-file replay each, ~4 s
    on a 10000x64 x 100-step file, for nothing).  ``mismatched``: filled with the flat indices
    the file's replay got wrong (some), where the sampled elements replay."""
    from .verify import replay

    if not _sample_replays(r, steps, schedule, capability, rec.numel):
        return False
    if exact is not None and _same_programs(r, schedule, exact, capability, rec.steps):
        return True
    rep = replay(rec, r, schedule, capability, _threads_of(rec), progress=False, mismatched=mismatched,
                 leave_out=_left_out(rec))  # fmt: skip
    return all(st.fraction == 1.0 for st in rep.overall().values())


def _same_programs(r: Recipe, a: Schedule, b: Schedule, capability: str, rows: int) -> bool:
    """Whether ``a`` and ``b`` give ``r`` the same program (op for op, every scalar as the
    kernel reads it) at every row of the file: then they give the same bits.  Row by row: a
    different count differs at the first."""
    return all(_row_signature(r, a, capability, i) == _row_signature(r, b, capability, i) for i in range(rows))


def _sample_replays(
    r: Recipe, steps, schedule: Schedule, capability: str, numel: int, outputs: tuple[str, ...] = TENSORS,
    threads: int = 1,
) -> bool:  # fmt: skip
    """Whether ``r``'s program under ``schedule`` reproduces ``outputs`` on every sampled element
    (the kernels' parallel chunks those of ``threads``)."""
    where_all = r.positions(capability, numel, threads)
    for sd in steps:
        prog = r.build(schedule.at(sd.index), schedule.step_count(sd.index), capability)
        env = evaluate(prog, _widen(sd.state), {k: v[sd.flat] for k, v in where_all.items()})
        for key in outputs:
            if not np.array_equal(to_bits(env[prog.outputs[key]]), sd.want[key]):
                return False
    return True


COMMON_BETA1 = (0.9, 0.95, 0.8, 0.85, 0.99, 0.5, 0.0)


def infer_beta_fused_cuda(steps: list[StepData], moment: str) -> Interval | None:
    """f32(beta) from every m[t] (``exp_avg``: beta1) or v[t] (``exp_avg_sq``: beta2) under CUDA's
    fused kernel, ``fma(b, state, fma(-b, x, x))`` with x = g or f32(g*g): one float32 reading of
    the beta (fused_adam_utils.cuh; CPU paths read ``1 - beta`` too).  None where no beta
    reproduces every sampled element."""
    label = {"exp_avg": "beta1", "exp_avg_sq": "beta2"}[moment]
    opened = substitute(recipe("fused", "cuda").build(Hyper(), 1.0, "cuda"), {label: T("__b")})
    inputs, want = _widen(_stack(steps, "state")), _stack(steps, "want")
    return scalar_interval(opened, inputs, {}, moment, want[moment], lambda x: {"__b": x}, 1e-30, 0.99999994)


def _gradient_transform(probe: list[StepData], capability: str) -> str | None:
    """Name what the optimizer did to the recorded gradient before the moments, when that is
    ``maximize`` (it negates it) or Adam's L2 term (``grad + wd*param``): m[t] is then exactly the
    bf16 lerp of the transformed gradient, for one beta1 (and one wd).  identify does not search
    those two options yet; this says which one it is, with the values, and how to replay it."""
    inputs, want = _widen(_stack(probe, "state")), _stack(probe, "want")
    negated = substitute(recipe("forloop").build(Hyper(), 1.0, capability), {"1-beta1": T("__w")},
                         {"grad": neg(T("grad"))})  # fmt: skip
    for lo, hi in ((1e-30, 0.49999997), (0.5, 1.0)):
        iv = scalar_interval(negated, inputs, {}, "exp_avg", want["exp_avg"], lambda x: {"__w": x}, lo, hi)
        if iv is not None:
            b1 = simplest_in(*_one_minus(iv))
            return (f"momentum_W follows the negated gradient (maximize=True) with beta1 {b1:g}: identify does not "
                    "search maximize yet; replay it with 'adamw-audit verify FILE --maximize' and the other "
                    "settings")  # fmt: skip
    for b1 in COMMON_BETA1:
        prog = recipe("forloop").build(Hyper(beta1=b1, weight_decay=1.0, decoupled=False), 1.0, capability)
        if "wd" not in scalar_labels(prog):
            continue
        conv = _conveyed(prog, "wd")
        opened = substitute(prog, {"wd": T("__wd")})
        iv = scalar_interval(
            opened, inputs, {}, "exp_avg", want["exp_avg"], lambda x, conv=conv: {"__wd": conv(x)}, 1e-12, 10.0
        )
        if iv is not None:
            wd = simplest_in(iv.lo, iv.hi)
            return (f"momentum_W follows Adam's L2 term (grad + wd*param before the moments) with beta1 {b1:g} and "
                    f"weight decay {wd:g} (in [{iv.lo:.4g}, {iv.hi:.4g}]): identify does not search Adam (L2) yet; "
                    f"replay it with 'adamw-audit verify FILE --optimizer adam --weight-decay {wd:g}' and the "
                    "other settings")  # fmt: skip
    return None


PAIR_SHIFTS = 8
"""Neighbours (in W[t-1], m order) each element is compared with by :func:`_w_not_a_state_function`."""
HIDDEN_STATE_PAIRS = 3
"""Contradicting pairs :func:`_w_not_a_state_function` wants before it names a hidden state (one
is a proof; a few guard against a layout no recipe knows).  Where every update is large next to
W's ulp, master weights give few (seen: lr 0.01, 1832 elements, 11 rows: 5); none of the 282
recordings from real torch the suite keeps has one."""


def _scalar_tails(numel: int) -> np.ndarray:
    """Flat elements that run a kernel's scalar tail under any CPU layout the recipes know (the
    2.1+ 32-element blocks and the 1.13-2.0 AVX512 64-element blocks, 1 to 8 threads; CPU
    fused's last numel % 16): a tail may round otherwise than the body it is compared with."""
    tails = np.arange(numel) >= numel - numel % 16
    for threads in range(1, 9):
        tails |= layout.tail_mask(numel, threads) | layout.tail_mask(numel, threads, block=64)
    return tails


def _w_not_a_state_function(
    steps: list[StepData], numel: int, at_least: int = HIDDEN_STATE_PAIRS
) -> tuple[int, str] | None:
    """Names a W that carries state the file does not hold (float32 master weights whose bf16
    copy was recorded, amsgrad's max_exp_avg_sq): the pairs that contradict a bf16 W and a line
    naming it, or None where fewer than ``at_least`` do.

    Theorem (monotone update).  Every AdamW program on bf16 parameters (each path, release,
    device) computes W[t] = R(p*d - c*q), q = m/D(v), from p = W[t-1], the stored m = m[t] and
    v = v[t], with scalars c > 0, d, eps and bc2 shared by every element of the step and every
    rounding R monotone: D is non-decreasing in v, so q_a >= q_b whenever m_a > m_b and either
    0 <= m_b with v_a < v_b, 0 >= m_a with v_a > v_b, or m_a > 0 > m_b; and then W[t]_a <=
    W[t]_b for two elements with the same p that run the same code (both in a kernel's vector
    body).  (The orders are strict: fused kernels update from float32 m and v whose bf16 copies
    are recorded, and a strict order of the copies keeps the float32 values' order, rounding
    being monotone; equal copies do not.)  A pair where the element pushed further down ended
    higher is therefore impossible at any lr, eps, weight decay or step count: W[t] is not a
    function of the recorded W[t-1], m[t], v[t].  With float32 master weights each element
    carries hidden low bits, and such pairs abound where the update is small next to W's ulp.

    The pairs: each element with its PAIR_SHIFTS next neighbours in (W[t-1], m) order, same
    W[t-1] (finite, nonzero), both in every known layout's vector body."""
    body = ~_scalar_tails(numel)
    found, example = 0, None
    for sd in steps:
        keep = body[sd.flat]
        p_bits = sd.state["param"][keep]
        p = bits.widen(p_bits).astype(np.float64)
        m = bits.widen(sd.want["exp_avg"][keep]).astype(np.float64)
        v = bits.widen(sd.want["exp_avg_sq"][keep]).astype(np.float64)
        w = bits.widen(sd.want["param"][keep]).astype(np.float64)
        ok = np.isfinite(p) & (p != 0) & np.isfinite(m) & np.isfinite(v) & np.isfinite(w)
        order = np.nonzero(ok)[0][np.lexsort((m[ok], p_bits[ok]))]
        for shift in range(1, PAIR_SHIFTS + 1):
            b_, a_ = order[:-shift], order[shift:]  # m[a_] >= m[b_] where p matches
            same = p_bits[a_] == p_bits[b_]
            a, b = a_[same], b_[same]
            above = m[a] > m[b]
            pushed = above & (((m[b] >= 0) & (v[a] < v[b])) | ((m[a] <= 0) & (v[a] > v[b])) | ((m[a] > 0) & (m[b] < 0)))
            wrong = pushed & (w[a] > w[b])
            found += int(np.count_nonzero(wrong))
            if example is None and wrong.any():
                k = int(np.argmax(wrong))
                flat = sd.flat[keep]
                example = (sd.index, int(flat[a[k]]), int(flat[b[k]]), p[a[k]], (m[a[k]], v[a[k]], w[a[k]]),
                           (m[b[k]], v[b[k]], w[b[k]]))  # fmt: skip
    if found < at_least:
        return None
    i, ka, kb, p0, (ma, va, wa), (mb, vb, wb) = example
    line = (f"W[t] is not a function of the recorded W[t-1], m[t] and v[t]: {found} sampled pairs of elements with the "
            f"same W[t-1] end the wrong way round (index {i}: elements {ka} and {kb}, W[t-1] {p0:.6g}, m {ma:.6g} vs "
            f"{mb:.6g}, v {va:.6g} vs {vb:.6g}: m and v push the first further down, yet W[t] is {wa:.6g} vs "
            f"{wb:.6g}), which no AdamW program on bf16 parameters does at any lr, eps, weight decay or step count: "
            "the optimizer keeps W in higher precision than the recording (float32 master weights, their bf16 copy "
            "recorded), or a state the file lacks (amsgrad's max_exp_avg_sq), or W changed outside the optimizer; "
            "identify and verify emulate bf16 parameters without amsgrad")  # fmt: skip
    return found, line


AMSGRAD_BELOW = 0.9
"""v[t] under this share of its running maximum: amsgrad's denominator is then at least 5% larger."""
AMSGRAD_ULPS = 16
"""W moves by at least this many of its bf16 ulps on the elements read (the update's rounding
then moves a ratio by at most ~3%)."""


def _amsgrad_signature(steps: list[StepData]) -> str | None:
    """Names amsgrad where W's updates follow the running maximum of the recorded v rather than v
    itself; None where they do not, or too few elements tell.

    amsgrad divides by ``D(max(vmax, v[t]))``, vmax the largest v[t'] so far, a state the seed
    layout lacks: W[t] - W[t-1] ~ -c*m/sqrt(vmax) where plain AdamW gives -c*m/sqrt(v) (eps
    and the decay left out).  Within a step, c is read off the elements whose v is at its
    maximum over the rows read (both models agree there), and both models predict the elements
    whose v fell below AMSGRAD_BELOW of it; the updates W moved by AMSGRAD_ULPS ulps or more
    only.  Seen: for-loop, fused, amsgrad, betas (0.9, 0.95): plain off by ~6.5% (the median),
    amsgrad by ~0.3%.  The maximum is over the rows read, from the first step's inputs: a
    window recorded late holds a lower one, and fewer elements tell."""
    plain_misses: list[np.ndarray] = []
    amsgrad_misses: list[np.ndarray] = []

    def f64(x: np.ndarray) -> np.ndarray:
        return bits.widen(x).astype(np.float64)

    vmax = f64(steps[0].state["exp_avg_sq"])
    for k, sd in enumerate(steps):
        if sd.index != steps[0].index + k:
            break  # (the running maximum needs every row)
        p, w, m, v = (f64(sd.state["param"]), f64(sd.want["param"]), f64(sd.want["exp_avg"]),
                      f64(sd.want["exp_avg_sq"]))  # fmt: skip
        vmax = np.maximum(vmax, v)
        with np.errstate(all="ignore"):
            dw, moved = w - p, np.abs(w - p) / (np.abs(p) * 2.0**-7)
            ok = np.isfinite(dw) & np.isfinite(vmax) & (v > 0) & (m != 0) & (moved >= 2)
            at_max, below = ok & (v == vmax), ok & (v < AMSGRAD_BELOW * vmax) & (moved >= AMSGRAD_ULPS)
            if np.count_nonzero(at_max) < 8 or not below.any():
                continue
            c = np.median(-dw[at_max] * np.sqrt(v[at_max]) / m[at_max])
            plain_misses.append(np.abs(dw[below] + c * m[below] / np.sqrt(v[below])) / np.abs(dw[below]))
            amsgrad_misses.append(np.abs(dw[below] + c * m[below] / np.sqrt(vmax[below])) / np.abs(dw[below]))
    if sum(x.size for x in plain_misses) < 8:
        return None
    plain, amsgrad = float(np.median(np.concatenate(plain_misses))), float(np.median(np.concatenate(amsgrad_misses)))
    if not (plain > 0.02 and amsgrad < plain / 4):
        return None
    return (f"W's updates follow the running maximum of v, not v (amsgrad=True: on the sampled elements whose v fell "
            f"below {AMSGRAD_BELOW:g} of its maximum so far, m/sqrt(v) misses the update by {plain:.2%} (median), "
            f"m/sqrt(max v) by {amsgrad:.2%}); amsgrad's max_exp_avg_sq is not in the file and identify does not "
            "search amsgrad programs (verify replays them with that dataset)")  # fmt: skip


def _moments_kept_wider(probe: list[StepData]) -> str | None:
    """Names states kept in float32 (or wider): a beta1 under which every sampled m[t] is
    consistent with a float32 exp_avg that the file only stores rounded to bf16.  None otherwise.

    Such an m32[t-1] lies anywhere in the rounding interval P of the recorded m[t-1]; then
    ``m32[t] = g + b1*(m32[t-1] - g)`` (plus float32 slack) must round to the recorded m[t], i.e.
    lie in its rounding interval C.  Per element, with A = P - g and T = C - g: some a in A has
    ``b1*a`` in T iff ``b1*a_lo <= t_hi`` and ``b1*a_hi >= t_lo``, two linear bounds on b1, so
    each element allows an interval of b1; the beta1 reported is the simplest in the stretch that
    99.9% of the elements allow (the float32 slack aside, any beta1, not only the usual ones: seen,
    beta1 0.685).  A bf16 program is a special case, so this only names the cause after every
    bf16 program has failed."""

    def rounding_interval(u16: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = bits.widen(u16).astype(np.float64)
        half = np.maximum(np.spacing(np.abs(x).astype(np.float32)).astype(np.float64) * 2.0**16, 2.0**-133) / 2
        return x - half, x + half

    lows, highs = [], []
    for sd in probe:
        p_lo, p_hi = rounding_interval(sd.state["exp_avg"])
        g = bits.widen(sd.state["grad"]).astype(np.float64)
        c_lo, c_hi = rounding_interval(sd.want["exp_avg"])
        with np.errstate(all="ignore"):
            slack = (np.abs(p_lo) + np.abs(p_hi) + 2 * np.abs(g)) * 2.0**-22  # (|lo| + |hi| for any b1 in [0, 1])
            a_lo, a_hi, t_lo, t_hi = p_lo - g, p_hi - g, c_lo - g - slack, c_hi - g + slack
            lo, hi = np.zeros_like(g), np.ones_like(g)
            # b1*a_lo <= t_hi: an upper bound where a_lo > 0, a lower one where a_lo < 0
            lo = np.where(a_lo < 0, np.maximum(lo, t_hi / a_lo), lo)
            hi = np.where(a_lo > 0, np.minimum(hi, t_hi / a_lo), hi)
            hi = np.where((a_lo == 0) & (t_hi < 0), -1.0, hi)
            # b1*a_hi >= t_lo: a lower bound where a_hi > 0, an upper one where a_hi < 0
            lo = np.where(a_hi > 0, np.maximum(lo, t_lo / a_hi), lo)
            hi = np.where(a_hi < 0, np.minimum(hi, t_lo / a_hi), hi)
            hi = np.where((a_hi == 0) & (t_lo > 0), -1.0, hi)
        finite = np.isfinite(a_lo) & np.isfinite(a_hi) & np.isfinite(t_lo) & np.isfinite(t_hi)
        lows.append(lo[finite])
        highs.append(hi[finite])
    lo_all, hi_all = np.concatenate(lows), np.concatenate(highs)
    allows = lo_all <= hi_all  # (an element that allows none counts against every b1)
    if not allows.any():
        return None
    lo_ok, hi_ok = np.sort(lo_all[allows]), np.sort(hi_all[allows])
    # how many elements allow b1 = x, at every bound x (constant between two bounds)
    bounds = np.unique(np.concatenate([lo_ok, hi_ok]))
    allowing = np.searchsorted(lo_ok, bounds, side="right") - np.searchsorted(hi_ok, bounds, side="left")
    enough = allowing >= 0.999 * lo_all.size
    if not enough.any():
        return None
    best = int(np.argmax(allowing))  # the stretch of bounds around the peak that enough elements allow
    first, last = best, best
    while first > 0 and enough[first - 1]:
        first -= 1
    while last + 1 < bounds.size and enough[last + 1]:
        last += 1
    stretch_lo, stretch_hi = float(bounds[first]), float(bounds[last])
    b1 = simplest_in(stretch_lo, stretch_hi)
    return (f"momentum_W moves like a float32 (or wider) exp_avg rounded to bf16 for the file: with beta1 = {b1:g} "
            f"(any in [{stretch_lo:.6g}, {stretch_hi:.6g}]) every sampled element fits within that rounding, and "
            "no bf16 program reproduces m and v together: the optimizer keeps its states (and most likely master "
            "weights) in higher precision than the recording; "
            "identify and verify emulate bf16 states only")  # fmt: skip


PRE_LERP_RANGE, PRE_LERP_RELEASE = "1.13-2.0", "2.0"
"""The release range whose m moves by ``mul_`` + ``add_`` (every later one: ``lerp_``), and a
release in it (how :func:`recipe` is asked for its programs)."""


def _pre_lerp_capability(probe, numel: int, beta1: float = Hyper().beta1) -> str | None:
    """The CPU capability under which torch <= 2.0's ``exp_avg.mul_(b1).add_(g, alpha=1-b1)``
    with ``beta1`` (default: AdamW's) reproduces the sampled moments, or None."""
    r = recipe("forloop", "cpu", PRE_LERP_RELEASE)
    found = (
        c for c in ("avx512", "avx2", "default") if _moment_replays(probe, r, c, Hyper(beta1=beta1), numel, "exp_avg")
    )
    return next(found, None) if probe else None


def _schedule_other_offsets(
    rec: Recording,
    r: Recipe,
    schedule: Schedule,
    capability: str,
    steps,
    offsets,
    walk_to: int = 0,
    wd_unseen: float = 0.0,
    eps_iv: tuple[float, float] = (0.0, math.inf),
    eps_first: Mapping[int, float] | None = None,
    usual_eps: bool = False,
) -> dict[int, tuple[dict[int, tuple[float, float]], tuple[float, float], Interval]]:
    """Other step counts of index 0 (among ``offsets``) that replay a *scheduled* file exactly
    with lrs of their own: each with its lr interval per array index, its wd interval and its eps
    interval.  A per-step lr absorbs the first bias correction (only the step size ``f32(lr_t /
    bc1)`` reaches W), so a count shows only through ``bc2_sqrt`` and eps; on a small file
    neighbouring counts can tie (seen: 37 elements, count 1 for 2).  Each step's step size is
    searched at the other count with eps held at each of :func:`_eps_tries_at`, the lrs rebuilt
    from it, and the file replayed whole.  With a visible decay the lrs and one wd are coupled again at that count
    (:func:`_coupled_schedule`; seen: fused warmup, wd 0.3, beta2 0.9999, index 0 = step 6: count
    2 replays too).  Ties come in runs of neighbouring counts: then the counts above the last tie
    found are walked, while they replay, up to ``walk_to``.  ``wd_unseen``: the upper end of a
    weight decay's interval where the bits do not see it (each lr interval spans it too).
    ``eps_iv``: the eps interval found (other counts try the eps values :func:`_eps_tries_at` draws
    from it; with a visible decay, not eps moved).  ``eps_first``: per count, an eps tried before
    those (the one the eps-searched count scan kept it at).  ``usual_eps``: then every one of
    EPS_GUESSES too (counts far from the one found)."""
    h = schedule.hyper
    by_index = {sd.index: sd for sd in steps}
    # a count whose step sizes SAMPLE elements per step reject is out at a fraction of the cost
    few = {sd.index: _fewer_rows(sd, SAMPLE) for sd in steps}
    decayed = h.weight_decay != 0.0
    # the decay factor each step's kernel got (a fit with a decay starts from it)
    found = {index: _kernel_decay(r, schedule, index, capability) for index in by_index} if decayed else {}

    def fits_at(off: int, rows: dict[int, StepData], eps: float, decay: bool) -> list[StepFit] | None:
        """Each step's fit at count index + off, eps held: the step size alone at the decay
        factor found (``decay`` False: none), or (``decay``) with its decay interval, the one
        found a hint (along the ridge of step size against decay it moves with the count)."""
        fits = []
        for index, sd in rows.items():
            count = float(index + off)
            if decay:
                fits.append(fit_step(sd, r, capability, h, count, rec.numel, found[index], e_hint=(eps,),
                                     all_three=False, eps_held=True))  # fmt: skip
            else:
                fits.append(fit_step(sd, r, capability, h, count, rec.numel, fixed=(eps, 1.0),
                                     eps_searched=rows is not few))  # fmt: skip
            if fits[-1] is None:
                return None
        return fits

    def replays_at(off: int) -> tuple[dict[int, tuple[float, float]], tuple[float, float], Interval] | None:
        # (with a visible decay each eps tried that fails costs a joint search of step size and
        # decay per count: 17 s -> 34 s on a test's 300x7 file; eps is held there, but beside a
        # count that replays, where ties run: seen, CUDA fused step schedule, eps 1e-7, wd 0.05,
        # from step 6, 358x22, a row clipped: count 7 found at 9.6e-8, the truth 6 replays at
        # 1e-7 only: listed now, 117 s -> 138 s)
        beside = any(abs(off - o) == 1 for o in (schedule.step_offset, *out))
        tries = _eps_tries_at(r, schedule, capability, steps, off, eps_iv, not decayed or beside)
        if eps_first and off in eps_first:
            tries = tuple(dict.fromkeys((eps_first[off], *tries)))
        tries = tuple(dict.fromkeys((*tries, *EPS_GUESSES))) if usual_eps else tries
        got = _tie_at(off, tries, replays_with, _merged_tie)
        if got is None and decayed and wd_unseen > 0.0:
            # a decay the ridges allow down to none: this count without one, eps moved with the
            # count (cheap: the step sizes alone; seen, fused warmup to 2e-5, eps 2e-4, wd 0,
            # from step 6: count 3 found with wd 0.02, the truth 6 replays at eps 2e-4 with none)
            tries = _eps_tries_at(r, schedule, capability, steps, off, eps_iv, True)
            got = _tie_at(off, tries, lambda o, e: replays_with(o, e, decay=False))
        return got

    def replays_with(
        off: int, eps: float, decay: bool = decayed
    ) -> tuple[dict[int, tuple[float, float]], tuple[float, float], Interval] | None:
        """Count ``off`` at this eps: each step's lr (with one wd, ``decay``), the file replayed.
        Where the sample's values replay it but for some elements outside it, once more with
        those sampled too, up to TIE_REGROWS times (seen: CUDA fused cosine from 2e-5, wd 0.3, from
        step 3, 1255x28: count 1 found on 16397 elements a step; the truth 3 coupled there at wd
        0.3, and the simplest lrs of the sample's intervals missed elements outside: count 3
        unlisted)."""
        wrong: set[int] = set()
        got = replays_on(off, eps, decay, steps, wrong)
        for _ in range(TIE_REGROWS):
            if got is not None or not wrong:
                break
            rows, more = _with_elements(rec, steps, wrong), set()
            got = replays_on(off, eps, decay, rows, more)
            wrong |= more
        return got

    def replays_on(
        off: int, eps: float, decay: bool, rows: list[StepData], wrong: set[int]
    ) -> tuple[dict[int, tuple[float, float]], tuple[float, float], Interval] | None:
        """:func:`replays_with` on the elements ``rows`` samples (``wrong``: filled with those the
        file's replay got wrong, where the rows replay)."""
        rows_by_index = {sd.index: sd for sd in rows}
        # (with a visible decay the subsample's fits serve as the points every element's coupled
        # lrs are searched from: a step fit at a wrong count passes, each step's lr absorbing bc1
        # and the decay, and the fits on every element only cost: seen, 10000x64 x 60 steps, 7 s a count)
        fits = fits_at(off, few, eps, decay)
        if fits is not None and not decay:
            fits = fits_at(off, rows_by_index, eps, decay)
        if fits is None:
            return None
        h = replace(schedule.hyper, eps=eps, weight_decay=schedule.hyper.weight_decay if decay else 0.0)
        wd, wd_iv = h.weight_decay, (h.weight_decay, h.weight_decay)
        if decay:
            # wd is the same at every count (the lrs are not): the one found first (seen: fused,
            # 268 elements, wd 0.1, count 1 coupled only along the steps' ridges, the truth 2 not
            # at all without them); on the subsample first (a count it rejects is out cheaply).
            # Where the bits barely see the decay it need not be the same, nor visible at all: a
            # count whose steps all fit with none is coupled at no decay (seen: fused warmup to
            # 2e-5, wd 0.05, index 0 = step 3, 357 elements: count 1 replays with wd 1.0, the
            # truth at none)
            # On every element the one-digit values inside the subsample's wd interval come next,
            # nearest its middle first (seen: CUDA fused cosine from 2e-5, wd 0.3, from step 3,
            # 1255x28: count 1 found at wd 0.34; at the truth 3 the subsample allowed [0.267,
            # 0.730], and no wd tried coupled every element: count 3 unlisted)
            unseen = all(f.decay.hi >= 1.0 for f in fits)
            wd_first: tuple[float, ...] = (h.weight_decay,)
            fewer = list(few.values())
            # (a sample of at most SAMPLE elements a step is its own subsample: coupled once)
            same = len(fewer) == len(rows) and all(a is b for a, b in zip(fewer, rows, strict=True))
            for on in (rows,) if same else (fewer, rows):
                coupled = _coupled_schedule(on, fits, r, capability, h, off, rec.numel, ridges=False,
                                            wd_first=wd_first)  # fmt: skip
                if coupled is None and unseen:
                    coupled = _coupled_schedule(on, fits, r, capability, h, off, rec.numel, eps, ridges=False)
                if coupled is None:
                    return None
                lo, hi = coupled[1]  # (the subsample's interval: its typed values tried on every element)
                typed = _one_digit_near_middle(lo, hi) if on is not rows and lo > 0 else []
                wd_first = (h.weight_decay, *typed[:TYPED_WD_TRIES])
            lr_ivs, wd_iv = coupled[:2]
            wd = simplest_in(*wd_iv)
        else:  # the reals that round to each step size, times bc1
            lr_ivs = []
            for f in fits:
                c_lo, c_hi = _rounding_edges(f.coef.lo, f.coef.hi)
                bc1 = float(bias_correction1(r, h.beta1, f.index + off))
                lr_ivs.append((c_lo * bc1, c_hi * bc1))
        lrs = list(schedule.lr_per_index or ())
        for f, (lo, hi) in zip(fits, lr_ivs, strict=True):
            lrs[f.index] = simplest_in(lo, hi)
        if 0 not in by_index and len(lrs) > 1:
            lrs[0] = lrs[1]  # index 0 has no W[-1]: its lr is not seen (as in the schedule found)
        other = Schedule(replace(h, lr=lrs[0], weight_decay=wd), tuple(lrs), off)
        if not _replays_exactly(rec, r, other, capability, rows, mismatched=wrong):
            return None
        by_step = {f.index: (lo, hi) for f, (lo, hi) in zip(fits, lr_ivs, strict=True)}
        shared_eps = _shared(fits)[0]
        eps_iv = Interval(min(shared_eps.lo, eps), max(shared_eps.hi, eps))
        if not decay:
            to_walk[off] = (fits, h, eps)
        unseen_to = wd_unseen if not decay else wd_iv[1] if wd == 0.0 else 0.0  # (no decay seen at this count)
        if 0.0 < unseen_to < math.inf:
            # a weight decay the bits cannot see trades off with each lr (W ~ p*d - c*q): the lrs
            # at its far end too (seen: fused, wd 0.3 unseen, count 6 for 1: an lr slice at no
            # decay missed the truth by 1.6e-10)
            # The far end is an outer bound (each step's ridge walked alone): where a step has no
            # lr there, nearer values, halving (seen: fused warmup, wd 0.3 unseen to 0.89: count
            # 6's lr at 0.89 fitted nowhere, and its interval missed the truth)
            edges = [Schedule(replace(other.hyper, weight_decay=unseen_to / 2**k), other.lr_per_index, off)
                     for k in range(UNSEEN_HALVINGS)]  # fmt: skip
            for index, (lo, hi) in list(by_step.items()):
                for edge in edges:
                    d = _kernel_decay(r, edge, index, capability)
                    f = fit_step(
                        rows_by_index[index], r, capability, h, float(index + off), rec.numel, fixed=(h.eps, d)
                    )
                    if f is not None:
                        c_lo, c_hi = _rounding_edges(f.coef.lo, f.coef.hi)
                        bc1 = float(bias_correction1(r, h.beta1, index + off))
                        by_step[index] = (min(lo, c_lo * bc1), max(hi, c_hi * bc1))
                        break
        return by_step, tuple(wd_iv), eps_iv

    out: dict[int, tuple[dict[int, tuple[float, float]], tuple[float, float], Interval]] = {}
    to_walk: dict[int, tuple[list[StepFit], Hyper, float]] = {}  # no visible decay: each tie's fits, hyper, eps
    for off in offsets:
        if off != schedule.step_offset and (got := replays_at(off)) is not None:
            out[off] = got
    # up from the last tie (to walk_to), and down from the count found (to 1), while they replay
    # (seen, down: CUDA fused step schedule, eps 1e-7, wd 0.05, from step 6, 358x22, a row
    # clipped: count 7 found, counts 1..5 and 8 checked; the truth 6 replays every other row too
    # and was never tried; tried now, at the eps moved to it too: listed)
    # Ties need not be contiguous: where they run a way, WALK_GAPS failing counts in a row are
    # stepped over (seen: torch 2.4 foreach cosine, eps 2e-4, from step 6, 163 elements, two
    # replayed steps: count 2 found, 1, 3, 4 tie, 5 fails at every eps, the truth 6 and 7 replay)
    for way, start, end in ((1, max([schedule.step_offset, *out]) + 1, walk_to), (-1, schedule.step_offset - 1, 1)):
        gaps = WALK_GAPS if any(way * (o - schedule.step_offset) > 0 for o in out) else 0
        walk, missed = start, 0
        while way * (end - walk) >= 0 and missed <= gaps:
            got = out.get(walk) if walk in offsets else replays_at(walk)  # (those in offsets: tried)
            if got is None:
                missed += 1
            else:
                out[walk], missed = got, 0
            walk += way
    # The steps' eps intervals are slices at their own lrs: eps is walked along its ridge and each
    # lr interval widened to the lrs at its ends, as at the count found (seen: CUDA fused cosine,
    # eps 1e-3, index 0 = step 11, 2 replayed steps: counts 1..13 tie, and the union of their
    # slices [1.03e-3, 3.35e-3] missed the truth).  eps reads through eps*bc2_sqrt(count), which
    # moves one way with the count: the smallest and the largest count that tie bound the union
    # (walking every tie doubled the time of the tests with ties)
    for off in {min(to_walk, default=0), max(to_walk, default=0)} & set(to_walk):
        fits, h_off, eps = to_walk[off]
        walked = _coupled_schedule(steps, fits, r, capability, h_off, off, rec.numel, eps, ridges=False)
        if walked is not None:
            by_step, wd_iv, eps_iv = out[off]
            for f, (lo, hi) in zip(fits, walked[2], strict=True):
                by_step[f.index] = (min(by_step[f.index][0], lo), max(by_step[f.index][1], hi))
            out[off] = by_step, wd_iv, Interval(min(eps_iv.lo, walked[4].lo), max(eps_iv.hi, walked[4].hi))
    return out


UNSEEN_HALVINGS = 4
"""Weight decays an unseen decay's lr widening tries per step: its interval's end, then halves."""
WALK_GAPS = 1
"""Failing counts in a row the walk of a schedule's ties steps over, where ties run that way."""


def _kernel_decay(r: Recipe, schedule: Schedule, index: int, capability: str) -> float:
    """The decay factor ``1 - lr*wd`` as the kernel of ``r`` receives it at array index ``index``
    (CUDA fused: ``1 - k``, k = f32(f32(lr)*f32(wd)), a double: exact, k's own value for a search
    in k (:class:`DecayAxis`), float32's grid near 1 once conveyed as d: :func:`_decay_opening`)."""
    scalars = scalar_labels(r.build(schedule.at(index), schedule.step_count(index), capability))
    if _fused_cuda(r):
        return 1.0 - float(np.float32(scalars["lr"].kernel_value) * np.float32(scalars["wd"].kernel_value))
    return float(scalars["1-lr*wd"].kernel_value)


EPS_NEAR_TRIES = 6
"""Values of eps with one or two digits :func:`_eps_tries_at` adds, nearest the moved eps first."""
EPS_UNSEEN_TRIES = 2
"""EPS_GUESSES inside an eps interval the bits barely pin that :func:`_eps_tries_at` adds."""


def _eps_tries_at(
    r: Recipe, schedule: Schedule, capability: str, steps, off: int, eps_iv: tuple[float, float], move: bool = True
) -> tuple[float, ...]:
    """eps values another count ``off`` of index 0 is tried with: the one found; where the bits
    see eps (``eps_iv`` within a factor 4) and ``move``, then the one that keeps ``eps *
    bc2_sqrt`` (median over the sampled steps) and few-digit values near it.  W reads eps only in
    ``sqrt(v)/b + eps = (sqrt(v) + eps*b) / b`` (b = bc2_sqrt), and the step size nearly absorbs
    the 1/b, so along the count eps moves like 1/b (seen: fused, eps 3e-5, from step 11, two
    steps: count 10 replays with 3.1e-5, 11 not at 3.1e-5).  Where the bits barely see eps, the
    usual guesses inside ``eps_iv`` or inside it moved like 1/b (EPS_UNSEEN_TRIES, the default
    1e-8 first): at another count eps*b moves against sqrt(v), and the eps found may show there
    (seen: fused, betas (0.95, 0.95), eps 1e-7, wd 0.01, from count 6: count 1 found with eps
    1e-5, barely pinned there; count 6 replays at 1e-4, not at 1e-5)."""
    lo, hi = eps_iv

    def b_at(i: int, count: float) -> float:
        scalars = scalar_labels(r.build(schedule.at(i), count, capability))
        label = _bc2_label(scalars)
        value = float(scalars[label].kernel_value)
        return 1 / value if label == "1/bc2_sqrt" else value

    def ratios() -> list[float]:  # b at the count found over b at ``off``, per sampled step
        return [b_at(sd.index, schedule.step_count(sd.index)) / b_at(sd.index, float(sd.index + off)) for sd in steps]

    if not (0.0 < lo and hi < 4 * lo):
        # the interval moved to this count too (seen: CUDA fused step schedule, eps 1e-3, from step
        # 11, 120x21: count 1 found with eps in [1.1e-3, 5.6e-3], which holds no guess; moved to
        # count 11 it holds 1e-3, where every count 3..19 replays, the truth's among them)
        # (the largest first, one the bits nearly see, then the usual order: every value far
        # below the top gives the same bits.  Seen: for-loop cosine from 2e-5, eps 1e-5, wd 0.3,
        # 352 elements: count 9 found at 1e-8 with eps in [0, 1.8e-5]; the truth 1 replays at
        # 1e-5, and 1e-6 and 1e-12 were tried there: not listed, its lrs outside every interval)
        by = float(np.median(ratios()))
        inside = [g for g in EPS_GUESSES if (lo <= g <= hi or lo * by <= g <= hi * by) and g != schedule.hyper.eps]
        ordered = dict.fromkeys([max(inside), *inside]) if inside else {}
        return (schedule.hyper.eps, *list(ordered)[:EPS_UNSEEN_TRIES])
    if not move:
        return (schedule.hyper.eps,)
    spread = ratios()
    by = float(np.median(spread))  # (the steps' median ratio)
    moved = float(np.float32(schedule.hyper.eps * by))
    # the estimate is rough (one lr absorbs the 1/b of no step exactly: seen 3.027e-5 where count
    # 11 allowed [2.994e-5, 3.008e-5]); a person's eps has few digits: those within 8%, nearest first
    k = math.floor(math.log10(moved))
    near = {float(f"{m / 10:.1f}e{e}") for e in (k - 1, k, k + 1) for m in range(10, 100)}
    near = sorted((x for x in near if 0.92 < x / moved < 1 / 0.92), key=lambda x: abs(math.log(x / moved)))
    # the value found can sit at its interval's end, and moved it lands beside the other count's:
    # the interval's middle (geometric) moved too.  Seen: CUDA fused cosine, eps 1e-3, from
    # step 6, 2775 elements: count 1 found at 0.002 in [7.6e-4, 2.06e-3]; count 4 (which replays at
    # eps in [4.4e-4, 1.5e-3]) was tried at 1.64e-3 and its neighbours, and the ties stopped at 3.
    middle = float(np.float32(math.sqrt(lo * hi) * by))
    # each step moves eps by its own ratio of b, and one eps serves them all: the one-digit values
    # between the interval moved by the smallest ratio and by the largest, nearest first (seen:
    # CUDA fused cosine, beta2 0.98, eps 1e-7, wd 0.3, from step 3, 872 elements: count 1 found at
    # 1.3e-7 in [1.22e-7, 1.35e-7]; moved to 3 by the median ratio 0.84, 1.09e-7, and the values
    # within 8% of it missed the truth 1e-7, where the steps' ratios ran 0.71..0.93: counts 1
    # and 2 listed, the truth 3 not)
    one_digit = [x for x in _one_digit_in(lo * min(spread) * 0.92, hi * max(spread) / 0.92) if x not in near]
    one_digit.sort(key=lambda x: abs(math.log(x / moved)))
    tries = (schedule.hyper.eps, moved, middle, *near[:EPS_NEAR_TRIES], *one_digit[:EPS_NEAR_TRIES])
    return tuple(dict.fromkeys(tries))


TYPED_WD_TRIES = 4
"""One-digit weight decays a tie check tries on every element after the one found, from inside
the interval its subsample allowed, nearest the middle first (each a coupled lr search a step)."""
TIE_REGROWS = 3
"""Times a tie check samples the elements its replay got wrong and searches again (each: the lrs
coupled and the file replayed once more; seen: 6, then 2 elements wrong, on 16384 a step)."""


def _tie_at(off: int, eps_tries: tuple[float, ...], replays_with: Callable, merge: Callable | None = None):
    """What ``replays_with(off, eps)`` gives for the first of ``eps_tries`` at which count ``off``
    replays the file (not None), else None.  ``merge(a, b)``: the later tries among EPS_GUESSES
    (values people type) outside every eps interval found so far are made too, and what they
    give merged in (every later try: +32 s on a test whose count is open).  The eps that replay at
    one count need not form one interval: each element's band of (lr, eps) is bounded by bf16
    staircases (for-loop and foreach round the denominator), and where one element's lower edge
    steps up before another's upper edge does, the lrs that fit them both leave a gap in eps,
    which a walk along eps from one side does not cross (seen: `--draw random` seed 200,
    for-loop cosine, eps 1e-3, wd 0.05, from step 6, 62 elements: the truth's count 6 replays at
    eps [0, 4.9e-4] and at [9.8e-4, 1.2e-3]; listed from 1e-8, its lrs there left the truth's out)."""
    got, found = None, []
    for eps in eps_tries:
        if got is not None and (merge is None or eps not in EPS_GUESSES or any(iv.lo <= eps <= iv.hi for iv in found)):
            continue
        more = replays_with(off, eps)
        if more is not None:
            got = more if got is None else merge(got, more)
            found.append(more[2])
    return got


def _merged_tie(a: tuple, b: tuple) -> tuple:
    """Two answers of one count of a schedule (lr intervals by array index, the wd interval,
    eps's interval) as one: each interval the hull of both."""
    lrs = {i: (min(a[0][i][0], b[0][i][0]), max(a[0][i][1], b[0][i][1])) for i in a[0]}
    wd = (min(a[1][0], b[1][0]), max(a[1][1], b[1][1]))
    return lrs, wd, Interval(min(a[2].lo, b[2].lo), max(a[2].hi, b[2].hi))


FAR_COUNTS = (*(4**k for k in range(3, 9)), 2**17, LATE_COUNT)
"""Counts of index 0 sampled past the walked ones where a schedule's count is not pinned (powers
of four from 64, 2^17, and one where both bias corrections are 1.0): each lr is c*bc1 with c
about proportional to bc2_sqrt, smooth in the count, so the hull of the sampled counts' lrs
holds those between but for a sliver at a peak."""


def _count_not_pinned(offset: int, far: list[int] | None = None, sampled: int = 0, gaps: Collection[int] = ()) -> str:
    """The finding for a count found whose SCAN_TRIES next counts replay too (but ``gaps``, stepped
    over by the walk; ``far``: those of the ``sampled`` larger counts that replay, None where none
    were sampled)."""
    but = f" but {sorted(gaps)}" if gaps else ""
    if far is None:
        return (f"every count of index 0 checked from {offset} to {offset + SCAN_TRIES}{but} replays: the step count "
                "is not pinned by these bits (larger counts not checked)")  # fmt: skip
    return (f"every count of index 0 checked from {offset} to {offset + SCAN_TRIES}{but} replays, and {len(far)} of "
            f"the {sampled} larger counts sampled up to {FAR_COUNTS[-1]}: the step count is not pinned by "
            "these bits; each interval spans the counts that replay (those between the sampled unchecked)")  # fmt: skip


def _pooled_other_offsets(
    rec: Recording,
    r: Recipe,
    schedule: Schedule,
    capability: str,
    steps,
    offsets,
    walk: int,
    eps_iv: tuple[float, float],
    ridge: bool = False,
) -> dict[int, tuple[tuple[float, float], tuple[float, float], Interval]]:
    """Other step counts of index 0 that replay the file exactly with one lr of their own (the
    kernel's decay factor held, eps one of :func:`_eps_tries_at`), with that count's lr,
    weight-decay and eps intervals: one lr
    absorbs most of a count's first bias correction (W sees ``f32(lr / bc1)``), so on a short
    or late window neighbouring counts can tie, each with its own lr (seen: fused, b1 0.8, eps
    2e-4, two steps at counts 11 and 12: count 12 found with lr 1.056e-5, the truth 11 replays
    with 1.0777e-5).  Checks ``offsets``, then walks from the count found both ways while counts
    replay, up to ``walk`` counts each way.  ``eps_iv``: as :func:`_schedule_other_offsets`'.
    ``ridge``: lr and eps trade off in the answer's bits; with no visible decay, the smallest and
    largest tied counts' own ridges are walked too (the extent moves with the count: seen, CUDA
    fused, beta2 0.95, eps 1e-3, from step 11, 400 elements: count 5's ridge ends at eps 5.6e-4,
    lr 1.18e-6; count 11 replays at the truth's 1e-3 and 2e-6)."""
    h = schedule.hyper
    d = _kernel_decay(r, schedule, steps[0].index, capability) if h.weight_decay > 0.0 else 1.0

    def replays_at(off: int) -> tuple[tuple[float, float], tuple[float, float], Interval] | None:
        return _tie_at(
            off, _eps_tries_at(r, schedule, capability, steps, off, eps_iv) if off >= 1 else (), replays_with
        )

    def replays_with(off: int, eps: float) -> tuple[tuple[float, float], tuple[float, float], Interval] | None:
        fit = fit_pooled(steps, r, capability, h, off, rec.numel, "lr", (eps,), d)
        if fit is None:
            return None
        lr_iv, eps_iv, decay = fit[:3]  # (lr and the decay refitted at the eps preferred in eps_iv)
        lr = simplest_in(lr_iv.lo, lr_iv.hi)
        wd, wd_iv = h.weight_decay, (h.weight_decay, h.weight_decay)
        if d < 1.0:  # a decay factor this count's lr allows: 1 - lr*wd rounds into it (as identify's)
            d_lo, d_hi = _decay_edges(r, decay.lo, decay.hi)
            seen = decay.hi < 1.0
            wd_iv = (max(0.0, (1 - d_hi) / lr_iv.hi) if seen else 0.0, (1 - d_lo) / lr_iv.lo)
            wd = simplest_in((1 - d_hi) / lr, (1 - d_lo) / lr) if seen else wd
        other = replace(schedule, hyper=replace(h, lr=lr, weight_decay=wd, eps=_prefer_eps(eps_iv)), step_offset=off)
        if not _replays_exactly(rec, r, other, capability, steps, schedule):
            return None
        return (lr_iv.lo, lr_iv.hi), wd_iv, eps_iv

    def along_ridge(off: int) -> None:
        """``out[off]`` widened along that count's ridge of lr against eps, walked from the
        point fitted at the eps its replay used."""
        (lr_lo, lr_hi), wd_iv, eps_iv = out[off]
        walked = fit_pooled(steps, r, capability, h, off, rec.numel, "eps", (_prefer_eps(eps_iv),))
        if walked is not None and walked[3] is not None:
            lr_wide, eps_wide = walked[3][0], walked[3][1]
            eps_hull = Interval(min(eps_iv.lo, eps_wide.lo), max(eps_iv.hi, eps_wide.hi))
            out[off] = (min(lr_lo, lr_wide.lo), max(lr_hi, lr_wide.hi)), wd_iv, eps_hull

    out = {}
    for off in offsets:
        if off != schedule.step_offset and (got := replays_at(off)) is not None:
            out[off] = got
    for way in (-1, 1):
        at = schedule.step_offset + way
        while abs(at - schedule.step_offset) <= walk and (at in out or (at not in offsets and at >= 1)):
            if at not in out:
                if (got := replays_at(at)) is None:
                    break
                out[at] = got
            at += way
    if ridge and d >= 1.0 and out:
        # the ridges at the smallest and largest count tied (the counts between lie inside their
        # hull, as a schedule's ties: its extent moves with the count; each walk costs seconds)
        for off in sorted({min(out), max(out)}):
            along_ridge(off)
    return out


def _other_offsets(rec: Recording, r: Recipe, schedule: Schedule, capability: str, steps, offsets) -> list[int]:
    """Other step counts of index 0 (among those searched) that replay the file exactly with the
    same values: late in a run the bias corrections are ~1 and neighbouring counts can tie."""
    others = [o for o in offsets if o != schedule.step_offset]
    return [
        o for o in others if _replays_exactly(rec, r, replace(schedule, step_offset=o), capability, steps, schedule)
    ]
