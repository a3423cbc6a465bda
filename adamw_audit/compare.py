"""Compare two programs on one recording, or two recordings of one run.

``compare_programs`` (``adamw-audit compare FILE --recipe A --recipe B`` / ``--torch X --torch Y``):

* *replay*: every step from the recorded state ``(W, m, v)[t-1]`` and ``g[t]`` under A and under B:
  how many elements of W, m, v the two programs store differently, and how exact each is against
  the recording;
* *why*: when A and B are one CPU path at two torch releases, the elements where they differ are
  attributed to the release switches that separate them (emulation/recipes/releases.CpuRelease:
  momentum form, how a Python scalar reaches mul/div, sqrt of the bias correction, the decay
  guard, the AVX512 block), with explain's minimal-set search over the family of rows between A's
  and B's (each member is A with some of B's switches);
* *trajectory*: both run freely from the same start (``W_initial`` and zero moments, else the first
  recorded state) on the recorded gradients, each feeding its own output into its next step: how
  many elements have parted after each step, and by how many ulps.

``compare_recordings`` (``adamw-audit compare FILE1 FILE2``): two recordings of the same run, aligned
by optimizer step count: the first step and element where they part, in which dataset, and the
cause when recipes of the catalog reproduce each file's step from the (still shared) previous state.

Everything streams: steps one at a time, elements in chunks; the free-running trajectories keep
one chunk's state per program.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from emulation import bits
from emulation.program import evaluate
from emulation.recipes import CATALOG, Recipe
from emulation.recipes.common import CAPABILITIES
from emulation.recipes.releases import CpuRelease
from emulation.replay import run_bits, to_bits
from refimpl import attributes
from refimpl.conventions import Schedule, resolve
from refimpl.errors import AuditError
from refimpl.recording import INITIAL_W, Recording

from .explain import minimal_explanations

TENSORS = {"param": "W", "exp_avg": "momentum_W", "exp_avg_sq": "variance_W"}
MAX_SQ = ("max_exp_avg_sq", "max_variance_W")
SWITCHES = ("momentum", "mul_scalar_via", "bc2_sqrt", "decay_always", "avx512_block64")
"""The release switches compare attributes to, in the order they are tried."""


def _row_field(switch: str, impl: str) -> str:
    return f"{impl}_decay_always" if switch == "decay_always" else switch


def release_switches(a: Recipe, b: Recipe) -> tuple[str, ...] | None:
    """The release switches on which ``a`` and ``b`` differ and which their path reads; None when
    they are not one CPU path at two releases (then no switch family joins them)."""
    if a.release is None or b.release is None or a.impl != b.impl:
        return None
    if a.impl == "fused":  # the fused kernel reads none of the Python-side switches
        return ()
    return tuple(
        s for s in SWITCHES if getattr(a.release, _row_field(s, a.impl)) != getattr(b.release, _row_field(s, b.impl))
    )


def _member_row(a: CpuRelease, b: CpuRelease, impl: str, on: frozenset[str]) -> CpuRelease:
    return dataclasses.replace(a, **{_row_field(s, impl): getattr(b, _row_field(s, impl)) for s in on})


@dataclass
class StepComparison:
    index: int
    step_count: float
    differ: dict[str, int]
    exact_a: dict[str, float]
    exact_b: dict[str, float]
    causes: dict[str, Counter] = field(default_factory=dict)
    """per tensor: how many differing elements each switch is needed for (first minimal set)"""
    unexplained: dict[str, int] = field(default_factory=dict)


@dataclass
class TrajectoryPoint:
    index: int
    step_count: float
    parted: dict[str, int]
    max_ulp_w: int
    nan_w: int


@dataclass
class ProgramComparison:
    recipe_a: str
    recipe_b: str
    switches: tuple[str, ...] | None
    elements: int
    steps: list[StepComparison]
    trajectory: list[TrajectoryPoint]

    def to_json(self) -> dict:
        return {
            "recipe_a": self.recipe_a,
            "recipe_b": self.recipe_b,
            "switches": None if self.switches is None else list(self.switches),
            "elements": self.elements,
            "per_step": [
                {
                    "index": s.index,
                    "step": s.step_count,
                    "differ": s.differ,
                    "exact_a": s.exact_a,
                    "exact_b": s.exact_b,
                    "causes": {k: dict(c) for k, c in s.causes.items()},
                    "unexplained": s.unexplained,
                }
                for s in self.steps
            ],
            "trajectory": [
                {"index": p.index, "step": p.step_count, "parted": p.parted, "max_ulp_W": p.max_ulp_w, "nan_W": p.nan_w}
                for p in self.trajectory
            ],
        }


def _tensors(rec: Recording, schedule: Schedule) -> dict[str, str]:
    tensors = dict(TENSORS)
    if schedule.hyper.amsgrad:
        if MAX_SQ[1] not in rec.file:  # type: ignore[operator]
            raise AuditError(f"{rec.path}: amsgrad replay needs dataset {MAX_SQ[1]!r}, which the file lacks")
        tensors[MAX_SQ[0]] = MAX_SQ[1]
    return tensors


def _first_state(rec: Recording, tensors: dict[str, str], first: int, a: int, b: int) -> dict[str, np.ndarray]:
    if first == 0:
        zeros = np.zeros(b - a, dtype=np.uint16)
        state = {key: zeros for key in tensors}
        state["param"] = rec.read(INITIAL_W, 0, a, b)
        return state
    return {key: rec.read(ds, first - 1, a, b) for key, ds in tensors.items()}


def compare_programs(
    rec: Recording,
    a: Recipe,
    b: Recipe,
    schedule: Schedule,
    capability: str,
    threads: int,
    max_steps: int | None = None,
    chunk_elements: int = 1 << 17,
) -> ProgramComparison:
    """See the module docstring.  ``capability``/``threads``: the recording's CPU run."""
    first = 0 if rec.has_initial else 1
    if rec.steps <= first:
        raise AuditError(f"{rec.path}: {rec.steps} recorded step(s) and no {INITIAL_W!r}: nothing to compare")
    last = rec.steps if max_steps is None else min(rec.steps, first + max_steps)
    indices = range(first, last)
    tensors = _tensors(rec, schedule)
    switches = release_switches(a, b)
    cap_a = "cuda" if a.device == "cuda" else capability
    cap_b = "cuda" if b.device == "cuda" else capability
    n = rec.numel

    steps: list[StepComparison] = []
    for t in indices:
        h, count = schedule.at(t), schedule.step_count(t)
        prog_a, prog_b = a.build(h, count, cap_a), b.build(h, count, cap_b)
        differ = Counter({ds: 0 for ds in tensors.values()})
        same_a, same_b = Counter(), Counter()
        causes: dict[str, Counter] = {ds: Counter() for ds in tensors.values()}
        unexplained = Counter({ds: 0 for ds in tensors.values()})
        for lo, hi in rec.chunks(chunk_elements):
            if t == 0:
                state = _first_state(rec, tensors, 0, lo, hi)
            else:
                state = {key: rec.read(ds, t - 1, lo, hi) for key, ds in tensors.items()}
            state["grad"] = rec.read(rec.grad_name, t, lo, hi)
            where_a, where_b = a.positions(cap_a, n, threads, lo, hi), b.positions(cap_b, n, threads, lo, hi)
            out_a, out_b = run_bits(prog_a, state, where_a), run_bits(prog_b, state, where_b)
            for key, ds in tensors.items():
                want = rec.read(ds, t, lo, hi)
                same_a[ds] += int(np.count_nonzero(out_a[key] == want))
                same_b[ds] += int(np.count_nonzero(out_b[key] == want))
                idx = np.nonzero(out_a[key] != out_b[key])[0]
                differ[ds] += int(idx.size)
                if idx.size and switches:
                    minimal = _attribute(a, b, switches, h, count, capability, threads, state, idx, lo, n, key,
                                         out_b[key][idx])  # fmt: skip
                    for sets in minimal.values():
                        causes[ds].update(sets[0])
                    unexplained[ds] += int(idx.size - len(minimal))
        total = rec.numel
        steps.append(
            StepComparison(
                t,
                count,
                dict(differ),
                {ds: same_a[ds] / total for ds in tensors.values()},
                {ds: same_b[ds] / total for ds in tensors.values()},
                causes if switches else {},
                dict(unexplained) if switches else {},
            )
        )
    trajectory = _trajectory(rec, a, b, schedule, cap_a, cap_b, threads, tensors, first, last, chunk_elements)
    return ProgramComparison(a.name, b.name, switches, n, steps, trajectory)


def _attribute(a, b, switches, h, count, capability, threads, state, idx, lo, n, key, target):
    """Explain's minimal-set search over the rows between A's and B's release (see module doc)."""
    inputs = {k: bits.widen(v[idx]) for k, v in state.items()}
    stop = lo + int(idx.max()) + 1
    masks_by_layout: dict = {}  # a family has at most two layouts (the AVX512 block switch)

    def member(on: frozenset[str]):
        return a.build.func(h, count, capability, release=_member_row(a.release, b.release, a.impl, on))

    def where_for(on: frozenset[str]) -> dict:
        layout = a.with_release(_member_row(a.release, b.release, a.impl, on)).layout
        if layout not in masks_by_layout:
            masks = layout(capability, n, threads, lo, stop)
            masks_by_layout[layout] = {k: v[idx] for k, v in masks.items()}
        return masks_by_layout[layout]

    return minimal_explanations(member, switches, inputs, {}, target, output=key, where_for=where_for)


def _trajectory(rec, a, b, schedule, cap_a, cap_b, threads, tensors, first, last, chunk_elements):
    n = rec.numel
    parted = {t: Counter({ds: 0 for ds in tensors.values()}) for t in range(first, last)}
    max_ulp = dict.fromkeys(range(first, last), 0)
    nan_w = dict.fromkeys(range(first, last), 0)
    programs = {
        t: (
            a.build(schedule.at(t), schedule.step_count(t), cap_a),
            b.build(schedule.at(t), schedule.step_count(t), cap_b),
        )
        for t in range(first, last)
    }
    for lo, hi in rec.chunks(chunk_elements):
        state_a = _first_state(rec, tensors, first, lo, hi)
        state_b = dict(state_a)
        where_a, where_b = a.positions(cap_a, n, threads, lo, hi), b.positions(cap_b, n, threads, lo, hi)
        for t in range(first, last):
            grad = rec.read(rec.grad_name, t, lo, hi)
            out_a = run_bits(programs[t][0], {**state_a, "grad": grad}, where_a)
            out_b = run_bits(programs[t][1], {**state_b, "grad": grad}, where_b)
            state_a = {k: out_a[k] for k in tensors}
            state_b = {k: out_b[k] for k in tensors}
            for key, ds in tensors.items():
                parted[t][ds] += int(np.count_nonzero(state_a[key] != state_b[key]))
            wa, wb = state_a["param"], state_b["param"]
            nan = np.isnan(bits.widen(wa)) | np.isnan(bits.widen(wb))
            nan_w[t] += int(np.count_nonzero(nan & (wa != wb)))
            d = np.abs(bits.ulp_distance(wa[~nan], wb[~nan]))
            if d.size:
                max_ulp[t] = max(max_ulp[t], int(d.max()))
    return [
        TrajectoryPoint(t, schedule.step_count(t), dict(parted[t]), max_ulp[t], nan_w[t]) for t in range(first, last)
    ]


def format_program_comparison(c: ProgramComparison, path: str) -> str:
    lines = [f"{path}: {c.recipe_a} (A) vs {c.recipe_b} (B), {c.elements:,} elements"]
    if c.switches is None:
        lines.append("  different paths or devices: no release-switch family joins them (differences not attributed)")
    elif not c.switches:
        lines.append("  no release switch separates them on this path: the programs are the same")
    else:
        lines.append(f"  release switches between them: {', '.join(c.switches)}")
    lines.append("  replay from the recorded state (elements A and B store differently; exact vs the file A / B):")
    for s in c.steps:
        parts = []
        for ds, k in s.differ.items():
            cause = ""
            if s.causes.get(ds):
                top = ", ".join(f"{sw} {n:,}" for sw, n in s.causes[ds].most_common())
                cause = f" [{top}" + (f"; unexplained {s.unexplained[ds]:,}" if s.unexplained.get(ds) else "") + "]"
            parts.append(f"{ds} {k:,} ({s.exact_a[ds]:.4f}/{s.exact_b[ds]:.4f}){cause}")
        lines.append(f"    index {s.index:>4} step {s.step_count:>6g}: " + "; ".join(parts))
    lines.append("  trajectories from the same start on the recorded gradients (elements parted, W's max ulp):")
    for p in c.trajectory:
        parted = ", ".join(f"{ds} {k:,}" for ds, k in p.parted.items())
        nan = f", {p.nan_w:,} NaN in one only" if p.nan_w else ""
        lines.append(f"    after index {p.index:>4} (step {p.step_count:g}): {parted}; max {p.max_ulp_w} ulp{nan}")
    return "\n".join(lines)


# --- two recordings -----------------------------------------------------------------------------


@dataclass
class RecordingComparison:
    file_a: str
    file_b: str
    common_steps: int
    first_step: float | None = None
    first_index_a: int | None = None
    first_index_b: int | None = None
    dataset: str | None = None
    element: tuple[int, ...] | None = None
    bits_a: int | None = None
    bits_b: int | None = None
    differing: dict[str, int] = field(default_factory=dict)
    cause: str = ""
    recipes_a: list[str] = field(default_factory=list)
    recipes_b: list[str] = field(default_factory=list)
    switches: list[str] | None = None

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def _step_map(rec: Recording, schedule: Schedule) -> dict[int, int]:
    return {int(schedule.step_count(i)): i for i in range(rec.steps)}


def compare_recordings(
    rec_a: Recording, rec_b: Recording, sched_a: Schedule, sched_b: Schedule, chunk_elements: int = 1 << 17
) -> RecordingComparison:
    """See the module docstring.  Both recordings are streamed; nothing is loaded whole."""
    if rec_a.shape != rec_b.shape:
        raise AuditError(f"{rec_b.path}: W has shape {rec_b.shape}, expected {rec_a.shape} like {rec_a.path}")
    map_a, map_b = _step_map(rec_a, sched_a), _step_map(rec_b, sched_b)
    common = sorted(set(map_a) & set(map_b))
    out = RecordingComparison(str(rec_a.path), str(rec_b.path), len(common))
    if not common:
        out.cause = "the recordings share no optimizer step count (check --step-offset / first_index_step_count)"
        return out
    names = [rec_a.grad_name, *TENSORS.values()]
    for count in common:
        ia, ib = map_a[count], map_b[count]
        for lo, hi in rec_a.chunks(chunk_elements):
            for k, ds in enumerate(names):
                ds_b = rec_b.grad_name if k == 0 else ds
                xa, xb = rec_a.read(ds, ia, lo, hi), rec_b.read(ds_b, ib, lo, hi)
                diff = np.nonzero(xa != xb)[0]
                if diff.size and out.first_step is None:
                    flat = int(lo + diff[0])
                    out.first_step, out.first_index_a, out.first_index_b = float(count), ia, ib
                    out.dataset = "grad" if k == 0 else ds
                    out.element = tuple(int(c) for c in np.unravel_index(flat, rec_a.shape)) if rec_a.shape else ()
                    out.bits_a, out.bits_b = int(xa[diff[0]]), int(xb[diff[0]])
        if out.first_step is not None:
            break
    if out.first_step is None:
        out.cause = f"bit-identical over all {len(common)} shared steps (W, m, v and gradients)"
        return out
    ia, ib = out.first_index_a, out.first_index_b
    assert ia is not None and ib is not None
    for k, ds in enumerate(names):
        total = 0
        ds_b = rec_b.grad_name if k == 0 else ds
        for lo, hi in rec_a.chunks(chunk_elements):
            total += int(np.count_nonzero(rec_a.read(ds, ia, lo, hi) != rec_b.read(ds_b, ib, lo, hi)))
        out.differing["grad" if k == 0 else ds] = total
    if out.differing["grad"]:
        out.cause = "the gradients differ at this step: the runs saw different data or models, not different optimizers"
        return out
    if (ia == 0 and not rec_a.has_initial) or (ib == 0 and not rec_b.has_initial):
        out.cause = "they part at the first recorded step and a file lacks W_initial: no earlier state to replay from"
        return out
    out.recipes_a = _recipes_reproducing(rec_a, ia, sched_a, chunk_elements)
    out.recipes_b = _recipes_reproducing(rec_b, ib, sched_b, chunk_elements)
    pair = _explaining_pair(out.recipes_a, out.recipes_b)
    if pair is None:
        missing = [str(r.path) for r, got in ((rec_a, out.recipes_a), (rec_b, out.recipes_b)) if not got]
        if missing:
            out.cause = (
                f"no recipe in the catalog reproduces this step of {' and '.join(missing)} from the shared state"
            )
        else:
            out.cause = "the same recipes reproduce both files' step: the hyper-parameters (attributes) must differ"
        return out
    ra, rb = (CATALOG[x.split("@")[0]] for x in pair)
    sw = release_switches(ra, rb)
    out.switches = None if sw is None else list(sw)
    why = "different paths" if sw is None else (", ".join(sw) or "no switch (same program)")
    out.cause = f"{pair[0]} reproduces {rec_a.path.name}, {pair[1]} reproduces {rec_b.path.name}: {why}"
    return out


def _recipes_reproducing(rec: Recording, t: int, schedule: Schedule, chunk_elements: int) -> list[str]:
    """``recipe@capability`` for every CPU catalog recipe that replays index ``t`` of ``rec``
    bit-exactly from its index ``t-1`` (threads from the file's attributes, else 1)."""
    tensors = _tensors(rec, schedule)
    threads = attributes.integer(rec.attrs, "num_threads", 1, 1, 4096)
    found, seen = [], {}
    for r in CATALOG.values():
        if r.device != "cpu" or r.impl == "seed":
            continue
        for cap in CAPABILITIES:
            prog = r.build(schedule.at(t), schedule.step_count(t), cap)
            key = (str(prog), r.layout.__name__, cap if getattr(r.layout, "by_capability", False) else "")
            if key not in seen:
                seen[key] = _replays_step(rec, t, r, prog, cap, threads, tensors, chunk_elements)
            if seen[key]:
                found.append(f"{r.name}@{cap}")
    return found


def _replays_step(rec, t, r, prog, cap, threads, tensors, chunk_elements) -> bool:
    for lo, hi in rec.chunks(chunk_elements):
        state = (
            _first_state(rec, tensors, 0, lo, hi)
            if t == 0
            else {k: rec.read(d, t - 1, lo, hi) for k, d in tensors.items()}
        )
        state["grad"] = rec.read(rec.grad_name, t, lo, hi)
        env = evaluate(
            prog, {k: bits.widen(state[k]) for k in prog.inputs}, r.positions(cap, rec.numel, threads, lo, hi)
        )
        for key, ds in tensors.items():
            if not np.array_equal(to_bits(env[prog.outputs[key]]), rec.read(ds, t, lo, hi)):
                return False
    return True


def _explaining_pair(a: list[str], b: list[str]) -> tuple[str, str] | None:
    """A recipe that reproduces only A's step and one that reproduces only B's, the closest pair
    first (same path and capability, then same path)."""
    only_a = [x for x in a if x not in b]
    only_b = [x for x in b if x not in a]
    if not only_a or not only_b:
        return None

    def closeness(pa: str, pb: str) -> tuple[int, int]:
        (na, ca), (nb, cb) = pa.split("@"), pb.split("@")
        return (CATALOG[na].impl != CATALOG[nb].impl, ca != cb)

    return min(((x, y) for x in only_a for y in only_b), key=lambda p: closeness(*p))


def resolve_file(rec: Recording) -> Schedule:
    return resolve(rec.steps, rec.attrs)


def format_recording_comparison(c: RecordingComparison) -> str:
    lines = [f"{c.file_a} vs {c.file_b}: {c.common_steps} shared step(s)"]
    if c.first_step is None:
        lines.append(f"  {c.cause}")
        return "\n".join(lines)
    where = ",".join(map(str, c.element or ()))
    lines.append(
        f"  first parting: step {c.first_step:g} (index {c.first_index_a} / {c.first_index_b}), dataset {c.dataset}, "
        f"element [{where}]: {bits.bits_str(np.uint16(c.bits_a))} vs {bits.bits_str(np.uint16(c.bits_b))}"
    )
    lines.append("  elements differing at that step: " + ", ".join(f"{k} {v:,}" for k, v in c.differing.items()))
    if c.recipes_a or c.recipes_b:
        lines.append(f"  reproduce {c.file_a}: {', '.join(c.recipes_a) or 'none'}")
        lines.append(f"  reproduce {c.file_b}: {', '.join(c.recipes_b) or 'none'}")
    lines.append(f"  cause: {c.cause}")
    return "\n".join(lines)
