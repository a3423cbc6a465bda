"""Replay a recording under a recipe and count bit-exact elements, step by step, chunk by chunk.

Two replay modes:

* ``full``  - every step from the recorded (W, m, v)[t-1] and g[t] (step 0 from ``W_initial`` and
  zero moments when the file has it): checks m[t], v[t] and W[t].
* ``state`` - m[t], v[t] are still computed and checked, but W[t] is rebuilt from the *recorded*
  m[t], v[t] (what the seed notebook attempts).  Only for recipes whose update reads the stored
  bf16 moments (``Recipe.replays_from_state``).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from emulation import bits
from emulation.recipes import Recipe
from emulation.replay import run_bits
from refimpl.conventions import Schedule
from refimpl.errors import AuditError
from refimpl.recording import INITIAL_W, Recording

TENSORS = {"param": "W", "exp_avg": "momentum_W", "exp_avg_sq": "variance_W"}
MAX_SQ = ("max_exp_avg_sq", "max_variance_W")  # amsgrad's state, recorded only when used
ULP_BUCKETS = ("±0", "1", "2", "3-4", "5-8", ">8", "nan")  # ±0: +0 vs -0, equal values


def _bucket(d: np.ndarray) -> np.ndarray:
    edges = np.array([0, 1, 2, 4, 8])
    return np.searchsorted(edges, d, side="left")


@dataclass
class TensorStats:
    exact: int = 0
    total: int = 0
    ulp: Counter = field(default_factory=Counter)
    max_ulp: int = 0

    def add(self, got: np.ndarray, want: np.ndarray) -> None:
        same = got == want
        self.exact += int(np.count_nonzero(same))
        self.total += got.size
        if same.all():
            return
        g, w = got[~same], want[~same]
        nan = np.isnan(bits.widen(g)) | np.isnan(bits.widen(w))
        self.ulp["nan"] += int(np.count_nonzero(nan))
        d = np.abs(bits.ulp_distance(g[~nan], w[~nan]))
        if d.size:
            self.max_ulp = max(self.max_ulp, int(d.max()))
            for i, n in zip(*np.unique(_bucket(d), return_counts=True), strict=True):
                self.ulp[ULP_BUCKETS[int(i)]] += int(n)

    def merge(self, other: TensorStats) -> None:
        self.exact += other.exact
        self.total += other.total
        self.ulp.update(other.ulp)
        self.max_ulp = max(self.max_ulp, other.max_ulp)

    @property
    def fraction(self) -> float:
        return self.exact / self.total if self.total else 1.0

    def to_json(self) -> dict:
        return {
            "exact": self.fraction,
            "exact_elements": self.exact,
            "elements": self.total,
            "max_ulp": self.max_ulp,
            "ulp_histogram": {k: self.ulp[k] for k in ULP_BUCKETS if self.ulp[k]},
        }


@dataclass
class StepReport:
    index: int
    step_count: float
    lr: float
    stats: dict[str, TensorStats]


@dataclass
class VerifyReport:
    recipe: str
    mode: str
    capability: str
    threads: int
    schedule: Schedule
    steps: list[StepReport]

    def overall(self) -> dict[str, TensorStats]:
        tot: dict[str, TensorStats] = {}
        for s in self.steps:
            for name, st in s.stats.items():
                tot.setdefault(name, TensorStats()).merge(st)
        return tot

    def to_json(self) -> dict:
        h = self.schedule.hyper
        overall = self.overall()
        return {
            "recipe": self.recipe,
            "mode": self.mode,
            "capability": self.capability,
            "threads": self.threads,
            "hyper": {
                "lr": list(self.schedule.lr_per_index) if self.schedule.lr_per_index else h.lr,
                "betas": [h.beta1, h.beta2],
                "eps": h.eps,
                "weight_decay": h.weight_decay,
                "optimizer": "AdamW" if h.decoupled else "Adam",
                "amsgrad": h.amsgrad,
                "maximize": h.maximize,
            },
            "step_offset": self.schedule.step_offset,
            "skipped": list(self.schedule.skipped),
            "steps_checked": len(self.steps),
            "exact": {name: st.fraction for name, st in overall.items()},
            "tensors": {name: st.to_json() for name, st in overall.items()},
            "per_step": [
                {
                    "index": s.index,
                    "step": s.step_count,
                    "lr": s.lr,
                    "exact": {name: st.fraction for name, st in s.stats.items()},
                    "mismatches": {name: st.total - st.exact for name, st in s.stats.items()},
                }
                for s in self.steps
            ],
        }


def replay(
    rec: Recording,
    recipe: Recipe,
    schedule: Schedule,
    capability: str,
    threads: int,
    mode: str = "full",
    chunk_elements: int = 1 << 17,
    progress: bool | None = None,
    mismatched: set[int] | None = None,
    mismatched_limit: int = 1 << 16,
    leave_out: Collection[int] = (),
) -> VerifyReport:
    """Replay every step the file allows; see the module docstring for the modes.  ``mismatched``:
    the flat indices of elements that differ in any tensor at any step are added to it (until it
    holds ``mismatched_limit``).  ``leave_out``: array indices not replayed (no report: rows whose
    gradient the optimizer saw scaled, which no program replays)."""
    if mode not in ("full", "state"):
        raise AuditError(f"unknown replay mode {mode!r} (known: full, state)")
    if mode == "state" and not recipe.replays_from_state:
        raise AuditError(
            f"recipe {recipe.name} updates W from unrounded moments: state replay is impossible, use --mode full"
        )
    first = 0 if rec.has_initial else 1
    if rec.steps <= first:
        raise AuditError(
            f"{rec.path}: {rec.steps} recorded step(s) and no {INITIAL_W!r}: need at least 2 steps to replay one"
        )
    indices = [t for t in range(first, rec.steps) if t not in leave_out]
    tensors = dict(TENSORS)
    if schedule.hyper.amsgrad:
        if MAX_SQ[1] not in rec.file:  # type: ignore[operator]
            raise AuditError(f"{rec.path}: amsgrad replay needs dataset {MAX_SQ[1]!r}, which the file lacks")
        tensors[MAX_SQ[0]] = MAX_SQ[1]
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        tqdm = None
    show = sys.stderr.isatty() if progress is None else progress
    it = tqdm(indices, desc="verify", unit="step", disable=not show, file=sys.stderr) if tqdm else indices
    reports: list[StepReport] = []
    for t in it:
        h = schedule.at(t)
        program = None if t in schedule.skipped else recipe.build(h, schedule.step_count(t), capability)
        stats = {name: TensorStats() for name in tensors.values()}
        for a, b in rec.chunks(chunk_elements):
            if t == 0:
                zeros = np.zeros(b - a, dtype=np.uint16)
                state = {key: zeros for key in tensors}
                state["param"] = rec.read(INITIAL_W, 0, a, b)
            else:
                state = {key: rec.read(ds, t - 1, a, b) for key, ds in tensors.items()}
            state["grad"] = rec.read(rec.grad_name, t, a, b)
            want = {key: rec.read(ds, t, a, b) for key, ds in tensors.items()}
            if program is None:  # the optimizer did not step here: W, m, v keep their bits
                got = {key: state[key] for key in tensors}
            else:
                given = None
                if mode == "state":
                    given = {program.outputs[k]: want[k] for k in ("exp_avg", "exp_avg_sq")}
                got = run_bits(program, state, recipe.positions(capability, rec.numel, threads, a, b), given)
            for key, ds in tensors.items():
                stats[ds].add(got[key], want[key])
                if mismatched is not None and len(mismatched) < mismatched_limit:
                    differ = a + np.flatnonzero(got[key] != want[key])
                    mismatched.update(differ[: mismatched_limit - len(mismatched)].tolist())
        reports.append(StepReport(t, schedule.step_count(t), h.lr, stats))
    return VerifyReport(recipe.name, mode, capability, threads, schedule, reports)


def format_report(report: VerifyReport, path: str) -> str:
    """A terminal summary: one line per step with mismatches, then the totals."""
    h = report.schedule.hyper
    lr = "per-step schedule" if report.schedule.lr_per_index else f"{h.lr:g}"
    opts = "".join(f", {name}" for name, on in (("amsgrad", h.amsgrad), ("maximize", h.maximize)) if on)
    lines = [
        f"{path}: recipe {report.recipe}, mode {report.mode}, capability {report.capability}, threads {report.threads}",
        f"  {'AdamW' if h.decoupled else 'Adam'}: lr {lr}, betas ({h.beta1:g}, {h.beta2:g}), eps {h.eps:g}, "
        f"weight decay {h.weight_decay:g}{opts}, "
        f"index i = step i+{report.schedule.step_offset}"
        + (
            f" less the skipped steps before it (at {list(report.schedule.skipped)})" if report.schedule.skipped else ""
        ),
        f"  {'index':>6} {'step':>6} {'W':>10} {'momentum_W':>12} {'variance_W':>12}"
        + (f" {MAX_SQ[1]:>14}" if h.amsgrad else ""),
    ]
    shown = 0
    for s in report.steps:
        if all(st.exact == st.total for st in s.stats.values()) and shown >= 5 and len(report.steps) > 12:
            continue
        shown += 1
        fr = [s.stats[n].fraction for n in TENSORS.values()]
        extra = f" {s.stats[MAX_SQ[1]].fraction:>14.6f}" if MAX_SQ[1] in s.stats else ""
        lines.append(f"  {s.index:>6} {s.step_count:>6g} {fr[0]:>10.6f} {fr[1]:>12.6f} {fr[2]:>12.6f}{extra}")
    if shown < len(report.steps):
        lines.append(f"  ... {len(report.steps) - shown} more step(s), all bit-exact")
    lines.append(f"  overall over {len(report.steps)} step(s):")
    for name, st in report.overall().items():
        hist = ", ".join(
            f"{k} ulp: {st.ulp[k]}" if k != "nan" else f"NaN: {st.ulp[k]}" for k in ULP_BUCKETS if st.ulp[k]
        )
        tail = f"  (mismatches by distance: {hist}; max {st.max_ulp} ulp)" if hist else ""
        lines.append(f"    {name:<11} {st.exact:>12,} / {st.total:,} bit-exact = {st.fraction:.6f}{tail}")
    return "\n".join(lines)
