"""Explain every element where the seed notebook's reconstruction misses the recorded W[t].

For one step (array index t) of a recording:

1. the seed notebook's program (emulation/recipes/seed.py) predicts W[t] from the recorded W[t-1],
   m[t], v[t] with its own constants and exponent t; its statistics are the notebook's own;
2. the true recipe replays the step from (W, m, v)[t-1] and g[t] and must be bit-exact (reported);
3. for each element where the seed's bits differ from the recorded W[t], counterfactual replay
   over the family of programs between the two (emulation/recipes/bridge.py) finds the *smallest*
   sets of differences that, switched to torch's way, reproduce the recorded bits.  Every cause
   reported is a replay that was run, never a heuristic.  An element that not even the all-on
   member reproduces is *unexplained* (the goal is zero).

Usable from Python (:func:`explain_step`) as from the command line (``adamw-audit explain``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from emulation import bits
from emulation.program import Bf16, Program, evaluate
from emulation.recipes import Recipe, bridge, recipe
from emulation.recipes.common import CAPABILITIES, Hyper
from emulation.replay import run_bits, to_bits
from refimpl import notebook
from refimpl.conventions import Schedule
from refimpl.errors import AuditError
from refimpl.recording import Recording

TENSORS = {"param": "W", "exp_avg": "momentum_W", "exp_avg_sq": "variance_W"}
F32_MOMENTS = ("M", "V", "VMAX")  # the CPU fused recipes' unrounded m, v, max v (fused.py)
MAX_SQ = ("max_exp_avg_sq", "max_variance_W")


@dataclass
class OpTrace:
    name: str
    what: str
    f32: float  # the float32 value before its bf16 rounding (or the value, if not rounded)
    rounded: bool
    stored_bits: int | None


@dataclass
class ElementReport:
    flat: int
    coords: tuple[int, ...]
    recorded: int
    seed: int
    torch: int
    ulp: int
    margin: float
    minimal_sets: list[tuple[str, ...]]
    tags: list[str]
    seed_trace: list[OpTrace] = field(default_factory=list)
    torch_trace: list[OpTrace] = field(default_factory=list)
    first_parting_op: str | None = None

    def to_json(self) -> dict:
        def tr(ops: list[OpTrace]) -> list[dict]:
            return [
                {
                    "op": o.name,
                    "torch": o.what,
                    "float32": o.f32,
                    "float32_bits": bits.f32_bits_str(o.f32),
                    "stored": None if o.stored_bits is None else bits.bits_str(o.stored_bits),
                    "stored_value": None if o.stored_bits is None else bits.exact_str(_value(o.stored_bits)),
                }
                for o in ops
            ]

        return {
            "element": list(self.coords),
            "recorded": bits.bits_str(self.recorded),
            "seed": bits.bits_str(self.seed),
            "torch": bits.bits_str(self.torch),
            "ulp_seed_minus_recorded": self.ulp,
            "margin_to_rounding_boundary_ulp": self.margin,
            "minimal_sets": [list(s) for s in self.minimal_sets],
            "tags": self.tags,
            "first_parting_op": self.first_parting_op,
            "seed_trace": tr(self.seed_trace),
            "torch_trace": tr(self.torch_trace),
        }


@dataclass
class StepExplanation:
    step: int
    step_count: float
    recipe: str
    naive: notebook.NotebookStats
    mismatches: int
    causes: Counter
    cause_sets: Counter
    unexplained: int
    unexplained_elements: list[tuple[int, ...]]
    alternatives: int
    tags: Counter
    ulp: Counter
    torch_exact: dict[str, float]
    switches: tuple[str, ...]
    elements: list[ElementReport]

    def to_json(self) -> dict:
        return {
            "step": self.step,
            "step_count": self.step_count,
            "naive": self.naive.to_json(),
            "mismatches": self.mismatches,
            "causes": dict(self.causes),
            "cause_sets": {"+".join(k): v for k, v in self.cause_sets.items()},
            "unexplained": self.unexplained,
            "unexplained_elements": [list(c) for c in self.unexplained_elements],
            "elements_with_alternative_explanations": self.alternatives,
            "tags": dict(self.tags),
            "ulp_histogram": {str(k): v for k, v in sorted(self.ulp.items())},
            "recipe": self.recipe,
            "torch_exact": self.torch_exact,
            "differences_considered": list(self.switches),
            "elements": [e.to_json() for e in self.elements],
        }


def _value(b: int) -> float:
    return float(bits.widen(np.array([b], np.uint16))[0])


def minimal_explanations(
    member,
    switches: tuple[str, ...],
    inputs: dict[str, np.ndarray],
    where: dict,
    target: np.ndarray,
    output: str = "param",
    where_for=None,
) -> dict[int, list[tuple[str, ...]]]:
    """For each element i, every smallest set of ``switches`` whose family member (``member(on)``)
    reproduces ``target[i]`` in ``output``.  Elements the all-on member misses get no entry
    (unexplained).  ``where_for(on)``, when given, is the member's own layout (a switch may move the
    vector/tail boundary); else ``where`` for all.

    Sets are tried by size, in the fixed order of ``switches``; an element leaves the search at
    the first size where some set reproduces it, so every set reported is minimal.
    """

    def run(on: frozenset[str], sel: np.ndarray) -> np.ndarray:
        prog = member(on)
        masks = where if where_for is None else where_for(on)
        out = evaluate(prog, {k: inputs[k][sel] for k in prog.inputs}, {k: v[sel] for k, v in masks.items()})
        return to_bits(out[prog.outputs[output]])

    everything = np.arange(target.size)
    minimal: dict[int, list[tuple[str, ...]]] = {}
    if target.size == 0:
        return minimal
    remaining = everything[run(frozenset(switches), everything) == target]
    size = 0
    for on in bridge.subsets(switches):
        if len(on) != size:
            remaining = remaining[[int(i) not in minimal for i in remaining]] if remaining.size else remaining
            size = len(on)
        if remaining.size == 0:
            break
        hit = remaining[run(on, remaining) == target[remaining]]
        ordered = tuple(x for x in switches if x in on)
        for i in hit.tolist():
            minimal.setdefault(int(i), []).append(ordered)
    return minimal


def _margin(x: np.ndarray) -> np.ndarray:
    """Distance of a float32 value to the nearest bf16 rounding boundary (a tie), in bf16 ulps:
    0 on a tie, 0.5 when the value is exactly a bf16 value.  The low 16 bits of the float32
    are the position between two bf16 neighbours; the tie is at 0x8000."""
    low = (np.asarray(x, np.float32).view(np.uint32) & np.uint32(0xFFFF)).astype(np.int64)
    return np.abs(low - 0x8000) / 65536.0


def _trace(program: Program, env: dict, i: int) -> list[OpTrace]:
    ops = []
    for a in program.assigns:
        rounded = isinstance(a.expr, Bf16)
        pre = env[a.target + ".0"] if rounded else env[a.target]
        stored = int(to_bits(env[a.target][i : i + 1])[0]) if rounded else None
        ops.append(OpTrace(a.target, a.torch, float(pre[i]), rounded, stored))
    return ops


def explain_step(
    rec: Recording,
    t: int,
    true_recipe: Recipe,
    schedule: Schedule,
    capability: str,
    threads: int,
    detail: list[tuple[int, ...]] | None = None,
    n_detail: int = 3,
) -> StepExplanation:
    """Explain array index ``t`` (1 <= t < steps) of ``rec``; see the module docstring."""
    if not 1 <= t < rec.steps:
        raise AuditError(f"{rec.path}: step must be in [1, {rec.steps - 1}] (needs W[t-1]), got {t}")
    if true_recipe.name not in bridge.FACTS:
        raise AuditError(f"explain has no seed->torch bridge for recipe {true_recipe.name}")
    facts = bridge.FACTS[true_recipe.name]
    true_h = schedule.at(t)
    seed_h = bridge.seed_hyper(true_h)
    step_count = schedule.step_count(t)
    n = rec.numel

    w_prev, w_now = rec.read("W", t - 1), rec.read("W", t)
    m_now, v_now = rec.read("momentum_W", t), rec.read("variance_W", t)

    # 1. the seed notebook, exactly: it runs torch on a CPU, so a CUDA file gets the generic CPU
    # kernel for it (the capability of the notebook's machine is not in the file)
    seed_rcp = recipe("seed")
    seed_cap = capability if capability in CAPABILITIES else "default"
    seed_where = seed_rcp.positions(seed_cap, n, threads)
    seed_prog = seed_rcp.build(seed_h, float(t), seed_cap)
    seed_state = {"param": w_prev, "exp_avg": m_now, "exp_avg_sq": v_now}
    pred = run_bits(seed_prog, seed_state, seed_where)["param"]
    naive = notebook.statistics(pred, w_now, seed_where)

    # 2. the torch path, replayed from t-1: bit-exact?
    true_where = true_recipe.positions(capability, n, threads)
    true_prog = true_recipe.build(true_h, step_count, capability)
    tensors = dict(TENSORS)
    if true_h.amsgrad:
        if MAX_SQ[1] not in rec.file:  # type: ignore[operator]
            raise AuditError(f"{rec.path}: amsgrad needs dataset {MAX_SQ[1]!r}, which the file lacks")
        tensors[MAX_SQ[0]] = MAX_SQ[1]
    state = {key: rec.read(ds, t - 1) for key, ds in tensors.items()}
    state["grad"] = rec.read(rec.grad_name, t)
    env = evaluate(true_prog, {k: bits.widen(state[k]) for k in true_prog.inputs}, true_where)
    torch_out = {k: to_bits(env[name]) for k, name in true_prog.outputs.items()}
    torch_exact = {ds: float(np.mean(torch_out[k] == rec.read(ds, t))) for k, ds in tensors.items()}
    max_now = rec.read(MAX_SQ[1], t) if true_h.amsgrad else None

    # 3. counterfactuals on the mismatched elements only
    idx = np.nonzero(pred != w_now)[0]
    switches = bridge.relevant(facts, seed_h, true_h, t, step_count)
    where = {k: v[idx] for k, v in true_where.items()}

    def inputs_for(sel: slice) -> dict[str, np.ndarray]:
        out = {
            "param": bits.widen(w_prev[sel]),
            "exp_avg": bits.widen(m_now[sel]),
            "exp_avg_sq": bits.widen(v_now[sel]),
        }
        if max_now is not None:
            out["max_exp_avg_sq"] = bits.widen(max_now[sel])
        if facts.moments == "unrounded":
            m_name, v_name, vmax_name = F32_MOMENTS
            out["exp_avg_f32"], out["exp_avg_sq_f32"] = env[m_name][sel], env[v_name][sel]
            if max_now is not None:
                out["max_exp_avg_sq_f32"] = env[vmax_name][sel]
        return out

    def member(on: frozenset[str]) -> Program:
        return bridge.program(seed_h, true_h, t, step_count, facts, on, capability)

    inputs = inputs_for(idx)
    minimal = minimal_explanations(member, switches, inputs, where, w_now[idx])
    everything = np.arange(idx.size)
    all_on = frozenset(switches)

    causes: Counter = Counter()
    cause_sets: Counter = Counter()
    for sets in minimal.values():
        causes.update(sets[0])
        cause_sets[sets[0]] += 1
    unexplained = [int(i) for i in everything if int(i) not in minimal]
    ulp = bits.ulp_distance(pred[idx], w_now[idx])
    absorbed_true = (w_now[idx] == w_prev[idx]) & (pred[idx] != w_prev[idx])
    absorbed_seed = (pred[idx] == w_prev[idx]) & (w_now[idx] != w_prev[idx])
    tags = Counter(
        {
            "torch_update_absorbed": int(absorbed_true.sum()),
            "seed_update_absorbed": int(absorbed_seed.sum()),
            "nan_involved": int(np.sum(np.isnan(bits.widen(pred[idx])) | np.isnan(bits.widen(w_now[idx])))),
            "signed_zero_only": int(np.sum(ulp == 0)),
        }
    )
    coords = lambda flat: tuple(int(c) for c in np.unravel_index(int(flat), rec.shape)) if rec.shape else ()  # noqa: E731

    # per-element detail: asked-for elements, else the first few mismatches
    if detail:
        flats = []
        for c in detail:
            if len(c) != len(rec.shape) or any(not 0 <= ci < si for ci, si in zip(c, rec.shape, strict=True)):
                raise AuditError(f"--element {','.join(map(str, c))} is outside W's shape {rec.shape}")
            flats.append(int(np.ravel_multi_index(c, rec.shape)) if rec.shape else 0)
    else:
        flats = [int(x) for x in idx[:n_detail]]
    ctx = _Context(idx, minimal, w_now, pred, torch_out["param"], w_prev, m_now, v_now, absorbed_true, absorbed_seed)
    members = (member(frozenset()), member(all_on))
    reports = [_element_report(f, coords(f), ctx, members, _element_inputs(inputs_for, f), true_where) for f in flats]
    return StepExplanation(
        step=t,
        step_count=step_count,
        recipe=true_recipe.name,
        naive=naive,
        mismatches=int(idx.size),
        causes=causes,
        cause_sets=cause_sets,
        unexplained=len(unexplained),
        unexplained_elements=[coords(idx[i]) for i in unexplained[:20]],
        alternatives=sum(1 for s in minimal.values() if len(s) > 1),
        tags=tags,
        ulp=Counter(np.clip(ulp, -4, 4).tolist()),
        torch_exact=torch_exact,
        switches=switches,
        elements=reports,
    )


@dataclass
class _Context:
    """One step's arrays, shared by the per-element reports."""

    idx: np.ndarray
    minimal: dict[int, list[tuple[str, ...]]]
    w_now: np.ndarray
    pred: np.ndarray
    torch_p: np.ndarray
    w_prev: np.ndarray
    m_now: np.ndarray
    v_now: np.ndarray
    absorbed_true: np.ndarray
    absorbed_seed: np.ndarray


def _element_inputs(inputs_for, flat: int) -> dict[str, np.ndarray]:
    return inputs_for(slice(flat, flat + 1))


def _element_report(
    flat: int, coords: tuple[int, ...], ctx: _Context, members: tuple[Program, Program], inputs: dict, true_where: dict
) -> ElementReport:
    pos = int(np.searchsorted(ctx.idx, flat))
    is_mismatch = pos < ctx.idx.size and ctx.idx[pos] == flat
    where = {k: v[flat : flat + 1] for k, v in true_where.items()}
    seed_tr, torch_tr = (
        _trace(prog, evaluate(prog, {k: inputs[k] for k in prog.inputs}, where, record=True), 0) for prog in members
    )
    torch_ops = {o.name: o for o in torch_tr}
    parting = None
    for o in seed_tr:
        other = torch_ops.get(o.name)
        if other is None or other.stored_bits != o.stored_bits or (not o.rounded and other.f32 != o.f32):
            parting = o.name
            break
    tags = []
    if is_mismatch and ctx.absorbed_true[pos]:
        tags.append("torch_update_absorbed")
    if is_mismatch and ctx.absorbed_seed[pos]:
        tags.append("seed_update_absorbed")
    return ElementReport(
        flat=flat,
        coords=coords,
        recorded=int(ctx.w_now[flat]),
        seed=int(ctx.pred[flat]),
        torch=int(ctx.torch_p[flat]),
        ulp=int(bits.ulp_distance(ctx.pred[flat], ctx.w_now[flat])),
        margin=float(_margin(np.array([torch_tr[-1].f32], np.float32))[0]),
        minimal_sets=ctx.minimal.get(pos, []) if is_mismatch else [],
        tags=tags,
        seed_trace=seed_tr,
        torch_trace=torch_tr,
        first_parting_op=parting,
    )


def format_explanation(x: StepExplanation) -> str:
    s = notebook.format_stats(x.step, x.naive)
    lines = [
        s,
        "",
        f"Explained against {x.recipe} at step count {x.step_count:g} "
        f"(torch replay bit-exact: W {x.torch_exact['W']:.6f}, m {x.torch_exact['momentum_W']:.6f}, "
        f"v {x.torch_exact['variance_W']:.6f}):",
        f"  {x.mismatches:,} element(s) differ in bits from the recorded W[t]; "
        f"{x.mismatches - x.unexplained:,} explained, {x.unexplained:,} unexplained",
        f"  {'cause':<24} {'elements':>9} {'%':>7}  (an element may need several; first minimal set counted)",
    ]
    for name in bridge.CAUSES:
        if x.causes.get(name):
            c = x.causes[name]
            pct = 100 * c / x.mismatches if x.mismatches else 0.0
            lines.append(f"  {name:<24} {c:>9,} {pct:>6.2f}%  {bridge.CAUSES[name]}")
    if x.cause_sets:
        lines.append("  minimal sets:")
        for k, v in x.cause_sets.most_common(8):
            lines.append(f"    {v:>9,}  {' + '.join(k)}")
    if x.alternatives:
        lines.append(f"  {x.alternatives:,} element(s) have more than one minimal explanation")
    tag_text = ", ".join(f"{k.replace('_', ' ')}: {v:,}" for k, v in x.tags.items() if v)
    if tag_text:
        lines.append(f"  tags: {tag_text}")
    for e in x.elements:
        lines.append("")
        lines.append(_format_element(e))
    return "\n".join(lines)


def _format_element(e: ElementReport) -> str:
    head = (
        f"element {e.coords}: recorded {bits.bits_str(e.recorded)} ({bits.exact_str(_value(e.recorded))}), "
        f"seed {bits.bits_str(e.seed)} ({e.ulp:+d} ulp), torch replay {bits.bits_str(e.torch)}"
    )
    lines = [head]
    if e.minimal_sets:
        lines.append("  minimal explanation(s): " + " | ".join(" + ".join(s) for s in e.minimal_sets))
    lines.append(f"  decisive float32 (torch's last op before rounding) is {e.margin:.4f} ulp from a bf16 tie")
    if e.first_parting_op:
        lines.append(f"  the programs part at: {e.first_parting_op}")
    lines.append(f"  {'op':<10} {'seed: float32 -> stored':<58} {'torch: float32 -> stored':<58}")
    s_ops, t_ops = {o.name: o for o in e.seed_trace}, {o.name: o for o in e.torch_trace}
    for name in _merged_order([o.name for o in e.seed_trace], [o.name for o in e.torch_trace]):
        lines.append(f"  {name:<10} {_fmt_op(s_ops.get(name)):<58} {_fmt_op(t_ops.get(name)):<58}")
    return "\n".join(lines)


def _merged_order(first: list[str], second: list[str]) -> list[str]:
    """Both programs' op names in one order: common ops once, each side's own ops where they stand."""
    out: list[str] = []
    j = 0
    for name in first:
        if name in second:
            k = second.index(name)
            out += [x for x in second[j:k] if x not in first and x not in out]
            j = max(j, k + 1)
        out.append(name)
    out += [x for x in second if x not in out]
    return out


def _fmt_op(o: OpTrace | None) -> str:
    if o is None:
        return "-"
    if not o.rounded:
        return f"{o.f32:.9g} (kept float32)"
    return f"{o.f32:.9g} -> {bits.bits_str(o.stored_bits)} {bits.exact_str(_value(o.stored_bits))}"


def plot(explanations: list[StepExplanation], out_path: str) -> None:
    """PNG: the seed's ulp error histogram over all steps, and the causes per step."""
    import os
    import tempfile

    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    total: Counter = Counter()
    for x in explanations:
        total.update(x.ulp)
    keys = sorted(total)
    ax1.bar([str(k) if abs(k) < 4 else ("<=-4" if k < 0 else ">=4") for k in keys], [total[k] for k in keys])
    ax1.set_yscale("log")
    ax1.set_xlabel("seed - recorded W[t] (bf16 ulps, signed)")
    ax1.set_ylabel("elements")
    ax1.set_title("Where the seed's reconstruction misses")
    steps = [x.step for x in explanations]
    bottom = np.zeros(len(explanations))
    for name in bridge.CAUSES:
        vals = np.array([x.causes.get(name, 0) for x in explanations], dtype=float)
        if vals.any():
            ax2.bar(steps, vals, bottom=bottom, label=name)
            bottom += vals
    unexplained = np.array([x.unexplained for x in explanations], dtype=float)
    if unexplained.any():
        ax2.bar(steps, unexplained, bottom=bottom, label="unexplained", color="black")
    ax2.set_xlabel("array index t")
    ax2.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax2.set_ylabel("elements (first minimal set; may overlap)")
    ax2.set_title(f"Causes per step ({explanations[0].recipe})")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(out_path))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=directory)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 is not what a plot should have
        os.replace(tmp, out_path)
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        plt.close(fig)


__all__ = ["Hyper", "StepExplanation", "explain_step", "format_explanation", "plot"]
