"""The op vocabulary and its one evaluator.

A torch AdamW path is a *program*: a list of assignments ``name = expr``, one per torch call,
in the order torch makes them.  Expressions are small trees over a closed vocabulary:

=================  ===========================================================================
``T(name)``        a bf16 tensor (a recorded input or an earlier assignment), widened exactly
                   to float32
``S(label, x, via)`` a host scalar: the Python/C++ double ``x`` as it reaches the kernel,
                   ``via`` = ``"f32"`` (``static_cast<float>``) or ``"bf16"`` (cast to the
                   tensor's dtype: double -> float -> bf16, two roundings)
``add sub mul div`` float32 arithmetic, each correctly rounded (IEEE binary32)
``sqrt neg``       float32 square root (correctly rounded), negation (exact)
``fma(a, b, c)``   ``a*b + c`` rounded once to float32 (:mod:`emulation.fma`)
``max``            ``at::maximum``: NaN if either operand is NaN
``max_std``        ``std::max(a, b) = a < b ? b : a``: NaN only when ``a`` is NaN
``bf16(x, nan)``   round float32 -> bf16 with torch's bias trick; ``nan`` says which NaN pattern
                   torch writes: ``"scalar"`` (0x7FC0), ``"vector"`` (0xFFFF), ``"cuda"``
                   (0x7FFF), ``"payload"``
                   (the NaN's own bits: ops that move bf16 bits without converting),
                   ``"position"`` (vector body 0xFFFF, scalar tail 0x7FC0) or
                   ``"position-payload"`` (payload in the body, 0x7FC0 in the tail)
``by_position``    ``by_position(body, other, where)``: elements the layout marks ``where``
                   (a CPU kernel's scalar tail, by default) compute ``other``
=================  ===========================================================================

Every intermediate is float32 (torch's "opmath" type for bf16); a value is bf16 only after an
explicit ``bf16(...)``.  The evaluator refuses any array that is not float32, so nothing is
promoted silently.

One evaluator serves every use: :func:`evaluate` runs a program on whole arrays (verify,
identify, compare) and, with ``record=True``, keeps the value of every node, which is how a trace
of chosen elements is made (run the same program on the gathered elements).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

from . import bits
from .fma import fma as _fma

F32 = npt.NDArray[np.float32]
Via = Literal["f32", "bf16"]
NanRule = Literal["scalar", "vector", "cuda", "payload", "position", "position-payload"]
Positions = Mapping[str, npt.NDArray[np.bool_]]
T_ = TypeVar("T_")


@dataclass(frozen=True)
class Expr:
    """A node of an op program.  Subclasses are the vocabulary."""

    def children(self) -> tuple[Expr, ...]:
        return ()


@dataclass(frozen=True)
class T(Expr):
    """A bf16 tensor by name (a recorded input or an earlier assignment)."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class S(Expr):
    """A host scalar: ``value`` is the double the host computed, ``via`` how it reaches the kernel."""

    label: str
    value: float
    via: Via = "f32"

    @property
    def kernel_value(self) -> np.float32:
        if self.via == "f32":
            return bits.f32(self.value)
        if self.via == "bf16":
            return bits.bf16_from_double(self.value)
        raise ValueError(f"unknown scalar conveyance {self.via!r}")

    def __str__(self) -> str:
        return f"{self.via}({self.label})"


@dataclass(frozen=True)
class Op(Expr):
    """Float32 arithmetic: ``kind`` in add, sub, mul, div, sqrt, neg, fma, max, max_std."""

    kind: str
    args: tuple[Expr, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.args

    def __str__(self) -> str:
        a = [str(x) for x in self.args]
        infix = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
        if self.kind in infix:
            return f"({a[0]} {infix[self.kind]} {a[1]})"
        if self.kind == "neg":
            return f"-{a[0]}"
        return f"{self.kind}({', '.join(a)})"


@dataclass(frozen=True)
class Bf16(Expr):
    """Round float32 to bf16 (RNE, torch's NaN pattern per ``nan``; ``where`` names the
    layout mask that marks the scalar tail for the position rules)."""

    x: Expr
    nan: NanRule = "position"
    where: str = "tail"

    def children(self) -> tuple[Expr, ...]:
        return (self.x,)

    def __str__(self) -> str:
        return f"bf16({self.x})"


@dataclass(frozen=True)
class ByPosition(Expr):
    """Elements the layout marks ``where`` compute ``other``; the rest compute ``body``."""

    body: Expr
    other: Expr
    where: str = "tail"

    def children(self) -> tuple[Expr, ...]:
        return (self.body, self.other)

    def __str__(self) -> str:
        return f"by_position(body={self.body}, {self.where}={self.other})"


def add(a: Expr, b: Expr) -> Op:
    return Op("add", (a, b))


def sub(a: Expr, b: Expr) -> Op:
    return Op("sub", (a, b))


def mul(a: Expr, b: Expr) -> Op:
    return Op("mul", (a, b))


def div(a: Expr, b: Expr) -> Op:
    return Op("div", (a, b))


def sqrt(a: Expr) -> Op:
    return Op("sqrt", (a,))


def neg(a: Expr) -> Op:
    return Op("neg", (a,))


def fma(a: Expr, b: Expr, c: Expr) -> Op:
    return Op("fma", (a, b, c))


def maximum(a: Expr, b: Expr) -> Op:
    return Op("max", (a, b))


def std_max(a: Expr, b: Expr) -> Op:
    return Op("max_std", (a, b))


@dataclass(frozen=True)
class Assign:
    """``target = expr``: one torch call.  ``torch`` is the call as torch's source writes it."""

    target: str
    expr: Expr
    torch: str


@dataclass(frozen=True)
class Program:
    """One optimizer step of one torch path, as a straight-line list of assignments.

    ``inputs`` name the bf16 tensors it reads; ``outputs`` map ``param``/``exp_avg``/
    ``exp_avg_sq`` to the assignment that holds each one's new value.
    """

    name: str
    source: str
    inputs: tuple[str, ...]
    assigns: tuple[Assign, ...]
    outputs: dict[str, str]
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        lines = [f"# {self.name}  [{self.source}]"]
        width = max((len(a.target) for a in self.assigns), default=0)
        for a in self.assigns:
            lines.append(f"{a.target:>{width}} = {a.expr}    # {a.torch}")
        return "\n".join(lines)


COMPUTED = "computed:"


def _check(x: F32, where: Expr) -> F32:
    if getattr(x, "dtype", None) != np.float32:  # (a Python float has none: refused too)
        raise TypeError(f"{where}: produced {np.asarray(x).dtype}, expected float32")
    return x


def substitute(program: Program, scalars: Mapping[str, Expr], tensors: Mapping[str, Expr] | None = None) -> Program:
    """``program`` with every host scalar whose label is in ``scalars`` replaced by an expression
    (typically ``T(name)``: a per-element array of candidate kernel values), and every read of an
    input tensor named in ``tensors`` replaced too (e.g. a gradient scaled before the step).  The
    same program, with a parameter opened up: how ``identify`` searches hyper-parameters without a
    second implementation of any path."""
    tensors = tensors or {}

    def sub(e: Expr) -> Expr:
        if isinstance(e, S) and e.label in scalars:
            return scalars[e.label]
        if isinstance(e, T) and e.name in tensors:
            return tensors[e.name]
        return _rebuilt(e, sub)

    replacements = [*scalars.values(), *tensors.values()]
    extra = tuple(dict.fromkeys(n for x in replacements for n in _names(x) if n not in program.inputs))
    assigns = tuple(Assign(a.target, sub(a.expr), a.torch) for a in program.assigns)
    return Program(program.name, program.source, program.inputs + extra, assigns, program.outputs, program.notes)


def scalar_labels(program: Program) -> dict[str, S]:
    """Every host scalar of ``program`` by label (the parameters it can be searched over)."""
    found: dict[str, S] = {}

    def walk(e: Expr) -> None:
        if isinstance(e, S):
            found.setdefault(e.label, e)
        for c in e.children():
            walk(c)

    for a in program.assigns:
        walk(a.expr)
    return found


_FIXED_NAN = {"scalar": bits.NAN_SCALAR, "vector": bits.NAN_VECTOR, "cuda": bits.NAN_CUDA, "payload": None}


def _store(x: F32, rule: NanRule, tail: npt.NDArray[np.bool_] | None) -> F32:
    """Round to bf16 and write the NaN pattern ``rule`` asks for (see the module table)."""
    if rule in _FIXED_NAN:
        return bits.widen(bits.narrow(x, _FIXED_NAN[rule]))
    out = bits.narrow(x, bits.NAN_VECTOR if rule == "position" else None)
    if tail is not None and np.any(tail):
        out = np.where(tail & np.isnan(x), bits.NAN_SCALAR, out).astype(np.uint16)
    return bits.widen(out)


def _maximum(a: F32, b: F32) -> F32:
    """``at::maximum``: NaN if either is NaN (the first NaN operand's bits), else the larger."""
    return np.where(np.isnan(a), a, np.where(np.isnan(b), b, np.maximum(a, b))).astype(np.float32)


def _std_max(a: F32, b: F32) -> F32:
    """``std::max(a, b) = a < b ? b : a``."""
    return np.where(a < b, b, a).astype(np.float32)


_OPS = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "sqrt": np.sqrt,
    "neg": np.negative,
    "fma": _fma,
    "max": _maximum,
    "max_std": _std_max,
}
"""Each ``Op`` kind's float32 function (NumPy's ufuncs on float32 operands are IEEE binary32,
correctly rounded; ``fma``: one rounding, :mod:`emulation.fma`)."""

Run = Callable[[dict[str, F32], Positions], F32]


def _compiled(e: Expr, path: str, nodes: dict[str, F32] | None) -> Run:
    """``e`` as a closure ``run(env, positions)`` that computes its float32 value (checked
    float32 at every op); with ``nodes``, every node's value is kept there under its ``path``.

    Compiled once per program and run many times (identify evaluates one small program dozens
    of times a search): the tree is walked here, not at every evaluation."""
    child = (lambda i: f"{path}.{i}") if nodes is not None else (lambda i: path)
    if isinstance(e, T):
        name = e.name
        run: Run = lambda env, pos: env[name]  # noqa: E731  (env holds only checked float32)
    elif isinstance(e, S):
        value = np.asarray(e.kernel_value, dtype=np.float32)
        run = lambda env, pos: value  # noqa: E731
    elif isinstance(e, Op):
        if e.kind not in _OPS:
            raise ValueError(f"unknown op {e.kind!r}")
        f, args = _OPS[e.kind], [_compiled(x, child(i), nodes) for i, x in enumerate(e.args)]
        if len(args) == 1:
            (x,) = args
            run = lambda env, pos: _check(f(x(env, pos)), e)  # noqa: E731
        elif len(args) == 2:
            x, y = args
            run = lambda env, pos: _check(f(x(env, pos), y(env, pos)), e)  # noqa: E731
        else:
            run = lambda env, pos: _check(f(*(g(env, pos) for g in args)), e)  # noqa: E731
    elif isinstance(e, Bf16):
        x, nan, where = _compiled(e.x, child(0), nodes), e.nan, e.where
        run = lambda env, pos: _check(_store(x(env, pos), nan, pos.get(where)), e)  # noqa: E731
    elif isinstance(e, ByPosition):
        body, other, where = _compiled(e.body, child("body"), nodes), _compiled(e.other, child(e.where), nodes), e.where

        def run(env: dict[str, F32], pos: Positions) -> F32:
            mask = pos.get(where)
            if mask is None or not np.any(mask):
                return body(env, pos)
            return _check(np.where(mask, other(env, pos), body(env, pos)), e)
    else:
        raise TypeError(f"not an op: {e!r}")
    if nodes is None:
        return run

    def recorded(env: dict[str, F32], pos: Positions) -> F32:
        nodes[path] = out = run(env, pos)
        return out

    return recorded


_CACHE_SIZE = 256


def by_identity(cache: dict, owner: object, key: tuple, make: Callable[[], T_], size: int = _CACHE_SIZE) -> T_:
    """``make()`` cached in ``cache`` under ``owner``'s identity and ``key``, ``owner`` kept
    alive with the value (so its id is never another object's while cached); the oldest entry
    goes past ``size`` entries.  The evaluator's compiled programs, fold's plans, identify's
    pre-rounding splits and bc2_sqrt tables are cached this way (immutable owners, reused by
    identity)."""
    hit = cache.get((id(owner), *key))
    if hit is not None and hit[0] is owner:
        return hit[1]
    value = make()
    while len(cache) >= size:
        cache.pop(next(iter(cache)))
    cache[(id(owner), *key)] = (owner, value)
    return value


_CACHE: dict[tuple, tuple[Program, list[tuple[str, Run]]]] = {}


def _program_runs(program: Program) -> list[tuple[str, Run]]:
    """``program``'s assignments compiled (:func:`_compiled`), cached by identity."""
    return by_identity(
        _CACHE, program, (), lambda: [(a.target, _compiled(a.expr, a.target, None)) for a in program.assigns]
    )


def evaluate(
    program: Program,
    inputs: dict[str, F32],
    positions: Positions | None = None,
    given: dict[str, F32] | None = None,
    record: bool = False,
) -> dict[str, F32]:
    """Run ``program`` on float32 arrays holding bf16 values.

    ``positions`` holds the layout masks of this stretch of elements (``"tail"``: a CPU
    kernel's scalar tail; recipes may name others); ``None`` means all vector body.
    ``given`` overrides assignments for every op after them (state replay feeds the recorded
    m[t], v[t] this way); the computed value stays available as ``COMPUTED + target``.
    Returns every assigned value; with ``record`` also every intermediate node, keyed
    ``"<target>.<child index>..."``.
    """
    positions = positions or {}
    env: dict[str, F32] = {}
    for name in program.inputs:
        if name not in inputs:
            raise KeyError(f"program {program.name} needs input {name!r}")
        env[name] = x = np.asarray(inputs[name])
        if x.dtype != np.float32:
            _check(x, T(name))  # (raises, naming the input)
    given = given or {}
    nodes: dict[str, F32] = {}
    runs = (
        [(a.target, _compiled(a.expr, a.target, nodes)) for a in program.assigns] if record else _program_runs(program)
    )
    with np.errstate(all="ignore"):  # IEEE results (inf, NaN) are data: once, not per op
        for target, run in runs:
            env[target] = run(env, positions)
            if target in given:
                # Computed value kept for reporting; every later op reads the given one.
                env[COMPUTED + target] = env[target]
                env[target] = _check(np.asarray(given[target]), T(target))
    if record:
        env.update(nodes)
    return env


FOLDED = "__fold"


def fold(
    program: Program,
    inputs: Mapping[str, F32],
    positions: Positions | None,
    vary: Collection[str],
    outputs: Collection[str],
) -> tuple[Program, dict[str, F32]]:
    """Partial evaluation: ``program`` cut down to what the ``outputs`` (keys of
    ``program.outputs``) need, each largest subexpression that reads none of the inputs ``vary``
    evaluated once, here, and read back as a tensor.  Returns the folded program and the arrays
    it reads besides ``vary``.

    Invariant: for any arrays ``x`` of the names in ``vary``,
    ``evaluate(folded, {**consts, **x}, positions)[p]`` is bit-for-bit
    ``evaluate(program, {**inputs, **x}, positions)[p]`` for every output assignment ``p``: each
    folded value is the same op on the same float32 operands, computed once instead of at every
    call.  (identify's searches vary one or two scalars of the W update over dozens of calls; m,
    v and their FMAs do not depend on them.)

    Where to cut depends on ``program``, ``vary`` and ``outputs`` only, not on the arrays: that
    plan (the folded program, each cut compiled) is made once per program and reused, so the
    same folded program comes back, compiled once too (identify folds one opened program for
    each of thousands of element searches)."""
    positions = positions or {}
    folded, steps, reads_inputs, out_consts, kept = _fold_plan(program, tuple(vary), tuple(outputs))
    env = {}
    for name in reads_inputs:
        env[name] = x = np.asarray(inputs[name])
        if x.dtype != np.float32:
            _check(x, T(name))  # (raises, naming the input)
    consts: dict[str, F32] = {}
    with np.errstate(all="ignore"):  # IEEE results (inf, NaN) are data
        for into_env, name, run in steps:
            (env if into_env else consts)[name] = run(env, positions)
    for name in out_consts:  # an output that reads none of ``vary``
        consts[name] = env[name]
    return folded, {k: consts[k] for k in kept}


FoldPlan = tuple[Program, list[tuple[bool, str, Run]], tuple[str, ...], list[str], list[str]]
_FOLD_CACHE: dict[tuple, tuple[Program, FoldPlan]] = {}


def _fold_plan(program: Program, vary: tuple[str, ...], outputs: tuple[str, ...]) -> FoldPlan:
    """:func:`fold`'s cuts for ``program`` (cached by its identity, :func:`by_identity`): the
    folded program, the steps that compute its constants in order (into the environment: a
    non-varying assignment later cuts read; else a constant), the inputs they read, the outputs
    that read no ``vary``, and the constants the folded program keeps."""
    return by_identity(_FOLD_CACHE, program, (vary, outputs), lambda: _plan_fold(program, vary, outputs))


def _plan_fold(program: Program, vary: tuple[str, ...], outputs: tuple[str, ...]) -> FoldPlan:
    varying = set(vary)
    steps: list[tuple[bool, str, Run]] = []
    made: list[str] = []
    produced: set[str] = set()
    read: list[str] = []

    def reads_varying(e: Expr) -> bool:
        if isinstance(e, T):
            return e.name in varying
        return any(reads_varying(c) for c in e.children())

    def step(into_env: bool, name: str, e: Expr) -> None:
        read.extend(n for n in _names(e) if n not in produced)
        steps.append((into_env, name, _compiled(e, name, None)))
        produced.add(name)

    def cut(e: Expr) -> Expr:
        if isinstance(e, S):
            return e
        if not reads_varying(e):
            name = f"{FOLDED}{len(made)}"
            made.append(name)
            step(False, name, e)
            return T(name)
        return _rebuilt(e, cut)  # (a T of a varying name stays itself)

    targets = [a.target for a in program.assigns]
    if len(set(targets)) < len(targets) or set(targets) & set(program.inputs):
        raise ValueError(f"{program.name}: fold needs each name assigned once")  # true of every recipe
    kept_assigns: list[Assign] = []
    for a in program.assigns:
        if reads_varying(a.expr):
            varying.add(a.target)
            kept_assigns.append(Assign(a.target, cut(a.expr), a.torch))
        else:
            step(True, a.target, a.expr)
    wanted = {program.outputs[o] for o in outputs}
    out_consts = [name for name in program.outputs.values() if name in wanted - varying]
    read.extend(n for n in out_consts if n not in produced)  # (an output that is an input)
    needed, assigns = set(wanted), []
    for a in reversed(kept_assigns):
        if a.target in needed:
            assigns.append(a)
            needed |= set(_names(a.expr))
    used = set().union(*(_names(a.expr) for a in assigns)) if assigns else set()
    kept = [k for k in [*made, *out_consts] if k in used or k in wanted]
    reads = tuple(dict.fromkeys([*kept, *(n for n in vary if n in used)]))
    folded = Program(program.name, program.source, reads, tuple(reversed(assigns)), program.outputs, program.notes)
    return folded, steps, tuple(dict.fromkeys(n for n in read if n not in varying)), out_consts, kept


def _names(e: Expr) -> list[str]:
    """The tensors ``e`` reads, in order (with repeats)."""
    return [e.name] if isinstance(e, T) else [n for c in e.children() for n in _names(c)]


def _rebuilt(e: Expr, f) -> Expr:
    """``e`` with ``f`` applied to each child expression (a leaf: ``e`` itself)."""
    if isinstance(e, Op):
        return Op(e.kind, tuple(f(a) for a in e.args))
    if isinstance(e, Bf16):
        return Bf16(f(e.x), e.nan, e.where)
    if isinstance(e, ByPosition):
        return ByPosition(f(e.body), f(e.other), e.where)
    return e
