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

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from . import bits
from .fma import fma as _fma

F32 = npt.NDArray[np.float32]
Via = Literal["f32", "bf16"]
NanRule = Literal["scalar", "vector", "cuda", "payload", "position", "position-payload"]
Positions = Mapping[str, npt.NDArray[np.bool_]]


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

_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


def _check(x: F32, where: Expr) -> F32:
    if np.asarray(x).dtype != np.float32:
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
        env[name] = _check(np.asarray(inputs[name]), T(name))
    given = given or {}
    nodes: dict[str, F32] = {}

    def ev(e: Expr, path: str) -> F32:
        if isinstance(e, T):
            out = env[e.name]
        elif isinstance(e, S):
            out = np.asarray(e.kernel_value, dtype=np.float32)
        elif isinstance(e, Op):
            a = [ev(x, f"{path}.{i}") for i, x in enumerate(e.args)]
            with np.errstate(all="ignore"):
                if e.kind in _BINARY:
                    out = _BINARY[e.kind](a[0], a[1])
                elif e.kind == "sqrt":
                    out = np.sqrt(a[0])
                elif e.kind == "neg":
                    out = np.negative(a[0])
                elif e.kind == "fma":
                    out = _fma(a[0], a[1], a[2])
                elif e.kind == "max":
                    out = _maximum(a[0], a[1])
                elif e.kind == "max_std":
                    out = np.where(a[0] < a[1], a[1], a[0]).astype(np.float32)
                else:
                    raise ValueError(f"unknown op {e.kind!r}")
        elif isinstance(e, Bf16):
            out = _store(ev(e.x, path + ".0"), e.nan, positions.get(e.where))
        elif isinstance(e, ByPosition):
            body = ev(e.body, path + ".body")
            mask = positions.get(e.where)
            if mask is None or not np.any(mask):
                out = body
            else:
                out = np.where(mask, ev(e.other, path + "." + e.where), body)
        else:
            raise TypeError(f"not an op: {e!r}")
        out = _check(out, e)
        if record:
            nodes[path] = out
        return out

    for a in program.assigns:
        env[a.target] = ev(a.expr, a.target)
        if a.target in given:
            # Computed value kept for reporting; every later op reads the given one.
            env[COMPUTED + a.target] = env[a.target]
            env[a.target] = _check(np.asarray(given[a.target]), T(a.target))
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
    v and their FMAs do not depend on them.)"""
    positions = positions or {}
    varying = set(vary)
    env = {k: v for k, v in inputs.items() if k not in varying}
    consts: dict[str, F32] = {}

    def reads_varying(e: Expr) -> bool:
        if isinstance(e, T):
            return e.name in varying
        return any(reads_varying(c) for c in e.children())

    def value_of(e: Expr) -> F32:
        names = tuple(sorted(set(_names(e))))
        one = Program(program.name, program.source, names, (Assign(FOLDED, e, ""),), {})
        return evaluate(one, {n: env[n] for n in names}, positions)[FOLDED]

    def cut(e: Expr) -> Expr:
        if isinstance(e, S):
            return e
        if not reads_varying(e):
            name = f"{FOLDED}{len(consts)}"
            consts[name] = value_of(e)
            return T(name)
        return _rebuilt(e, cut)  # (a T of a varying name stays itself)

    targets = [a.target for a in program.assigns]
    if len(set(targets)) < len(targets) or set(targets) & set(program.inputs):
        raise ValueError(f"{program.name}: fold needs each name assigned once")  # true of every recipe
    kept: list[Assign] = []
    for a in program.assigns:
        if reads_varying(a.expr):
            varying.add(a.target)
            kept.append(Assign(a.target, cut(a.expr), a.torch))
        else:
            env[a.target] = value_of(a.expr)
    wanted = {program.outputs[o] for o in outputs}
    for name in wanted - varying:  # an output that reads none of ``vary``
        consts[name] = env[name]
    needed, assigns = set(wanted), []
    for a in reversed(kept):
        if a.target in needed:
            assigns.append(a)
            needed |= set(_names(a.expr))
    used = set().union(*(_names(a.expr) for a in assigns)) if assigns else set()
    consts = {k: v for k, v in consts.items() if k in used or k in wanted}
    reads = tuple(dict.fromkeys([*consts, *(n for n in vary if n in used)]))
    folded = Program(program.name, program.source, reads, tuple(reversed(assigns)), program.outputs, program.notes)
    return folded, consts


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
