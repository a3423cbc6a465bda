"""``adamw-audit``: the command line.  Every user error is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from refimpl.errors import AuditError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one line and exit 2 (its default is 2 as well)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise AuditError(f"{self.prog}: {message}")


def _comma_separated(text: str, convert: type, noun: str) -> list:
    """``--lr 1e-3,2e-3`` and the like: one value or several, each ``convert``ed."""
    article = "an" if noun[0] in "aeiou" else "a"
    try:
        values = [convert(x) for x in text.split(",") if x.strip()]
    except ValueError:
        expected = f"expected {article} {noun} or comma-separated {noun}s"
        raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one {noun}")
    return values


def _floats(text: str) -> list[float]:
    return _comma_separated(text, float, "number")


def _ints(text: str) -> list[int]:
    return _comma_separated(text, int, "integer")


def _shape(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a shape like 10000x64, got {text!r}") from None
    if not dims or any(d < 1 for d in dims):
        raise argparse.ArgumentTypeError(f"expected positive sizes like 10000x64, got {text!r}")
    return dims


def _coords(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected element coordinates like 12,3, got {text!r}") from None


REPLAY_LR = "one value, one per recorded step, or one per replayed step (identify's list), comma-separated"


def _add_hyper(p: argparse.ArgumentParser, lr_help: str = "one value, or one per step (comma-separated)") -> None:
    p.add_argument("--lr", type=_floats, help=lr_help)
    p.add_argument("--betas", type=float, nargs=2, metavar=("B1", "B2"))
    p.add_argument("--eps", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--optimizer", choices=("adamw", "adam"), help="AdamW (decoupled decay) or Adam (L2)")
    p.add_argument("--amsgrad", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--maximize", action=argparse.BooleanOptionalAction, default=None)


def _flags(args: argparse.Namespace) -> dict[str, bool | None]:
    return {
        "decoupled": None if args.optimizer is None else args.optimizer == "adamw",
        "amsgrad": args.amsgrad,
        "maximize": args.maximize,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="adamw-audit", description="Bit-exact audit of PyTorch AdamW's bf16 numerics.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("record", help="train with real torch AdamW and record every step (needs torch)")
    r.add_argument("out", type=Path)
    r.add_argument("--steps", type=int, default=20)
    r.add_argument("--shape", type=_shape, default=(10000, 64))
    r.add_argument("--impl", choices=("forloop", "foreach", "fused"), default="forloop")
    _add_hyper(r)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    r.add_argument("--grad-name", default="grad_W")
    r.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the optimizer runs")

    v = sub.add_parser("verify", help="replay every recorded step and count bit-exact elements")
    v.add_argument("file", type=Path)
    v.add_argument("--impl", "--recipe", dest="recipe", help="forloop or a recipe name (default: file's impl)")
    v.add_argument("--device", choices=("cpu", "cuda"), help="with --impl: which device's recipe (default: file's)")
    v.add_argument("--torch", metavar="RELEASE", help="the torch release's recipe, e.g. 2.0.1 (default: file's)")
    _add_hyper(v, REPLAY_LR)
    v.add_argument("--step-offset", type=int, help="step count of array index 0 (default 1: index i = step i+1)")
    v.add_argument("--skipped", type=_ints, help="indices where the optimizer did not step, e.g. 4,9 (identify's)")
    v.add_argument("--capability", choices=("avx512", "avx2", "default"), help="CPU kernel (default: file's)")
    v.add_argument("--threads", type=int, help="torch threads of the recording run (default: file's, else 1)")
    v.add_argument("--mode", choices=("full", "state"), default="full")
    v.add_argument("--grad-name", default=None, help="gradient dataset (default: file's, else grad_W)")
    v.add_argument("--json", action="store_true")
    v.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)

    x = sub.add_parser("explain", help="why the seed's reconstruction misses: every mismatched element attributed")
    x.add_argument("file", type=Path)
    which = x.add_mutually_exclusive_group()
    which.add_argument("--step", "-t", type=int, help="array index t (the notebook's t; default 50 or the last)")
    which.add_argument("--all-steps", action="store_true")
    x.add_argument("--element", type=_coords, action="append", help="coordinates I,J to trace (repeatable)")
    x.add_argument("--impl", "--recipe", dest="recipe", help="the true path (default: file's impl)")
    x.add_argument("--device", choices=("cpu", "cuda"), help="with --impl: which device's recipe (default: file's)")
    x.add_argument("--torch", metavar="RELEASE", help="the torch release's recipe, e.g. 2.0.1 (default: file's)")
    _add_hyper(x, REPLAY_LR)
    x.add_argument("--step-offset", type=int)
    x.add_argument("--capability", choices=("avx512", "avx2", "default"))
    x.add_argument("--threads", type=int)
    x.add_argument("--grad-name", default=None)
    x.add_argument("--json", action="store_true")
    x.add_argument("--plot", type=Path, metavar="OUT.png")
    x.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)

    i = sub.add_parser("identify", help="which path, step count and hyper-parameters replay the file, from its bits")
    i.add_argument("file", type=Path)
    i.add_argument("--grad-name", default=None)
    i.add_argument("--sample", type=int, default=4096, help="elements per step used to infer intervals")
    i.add_argument(
        "--max-seconds", type=float, default=600.0,
        help="after the first answer, stop the larger searches past this and report the closest answer found "
        "(a finding says so; default 600)",
    )  # fmt: skip
    i.add_argument("--json", action="store_true")

    cp = sub.add_parser("compare", help="one recording under two programs (--recipe/--torch twice), or two recordings")
    cp.add_argument("file", type=Path)
    cp.add_argument("file2", type=Path, nargs="?", help="a second recording of the same run")
    cp.add_argument("--recipe", action="append", default=[], help="a recipe name (twice, or with --torch)")
    cp.add_argument("--torch", action="append", default=[], metavar="RELEASE", help="the file's path at a release")
    cp.add_argument("--impl", choices=("forloop", "foreach", "fused"), help="with --torch: the path (default: file's)")
    _add_hyper(cp, REPLAY_LR)
    cp.add_argument("--step-offset", type=int)
    cp.add_argument("--capability", choices=("avx512", "avx2", "default"))
    cp.add_argument("--threads", type=int)
    cp.add_argument("--grad-name", default=None)
    cp.add_argument("--steps", type=int, help="compare at most this many steps")
    cp.add_argument("--json", action="store_true")

    n = sub.add_parser("notebook", help="the seed notebook's reconstruction and printed statistics")
    n.add_argument("file", type=Path)
    n.add_argument("--index", "-t", type=int, help="array index t (default 50, or the last index)")
    n.add_argument("--capability", choices=("avx512", "avx2", "default"))
    n.add_argument("--json", action="store_true")

    d = sub.add_parser("demo", help="record a small run (needs torch), verify it, run the notebook on it")
    d.add_argument("--out", type=Path, default=Path("demo/demo.h5"))
    d.add_argument("--steps", type=int, default=20)

    c = sub.add_parser("crosscheck", help="run every recipe against live torch on adversarial inputs (needs torch)")
    c.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    c.add_argument("--capability", choices=("avx512", "avx2", "default"), action="append")
    c.add_argument("--quick", action="store_true", help="fewer sizes (the op checks stay exhaustive)")
    c.add_argument("--json", action="store_true")

    rc = sub.add_parser("recipes", help="list the recipes, the torch source each cites, how each is verified")
    rc.add_argument("--show", metavar="RECIPE", help="print one recipe's op program")
    rc.add_argument("--step", type=float, default=1.0, help="with --show: the step count (default 1)")
    rc.add_argument("--capability", choices=("avx512", "avx2", "default"), default="avx512")
    _add_hyper(rc)
    rc.add_argument("--json", action="store_true")
    return parser


def _open(args: argparse.Namespace, min_steps: int = 1):
    from refimpl import attributes, preflight
    from refimpl.recording import DEFAULT_GRAD, open_recording

    grad = getattr(args, "grad_name", None)
    preflight.check(args.file, grad or DEFAULT_GRAD)  # a file that crashes libhdf5 becomes one line
    if grad is None:
        import h5py

        grad = DEFAULT_GRAD
        try:
            with h5py.File(args.file, "r") as f:
                found = dict(f.attrs)
        except Exception:
            found = {}  # open_recording reports the real problem
        grad = attributes.text(attributes.Attributes(found, args.file), "grad_dataset", DEFAULT_GRAD)
    return open_recording(args.file, grad, min_steps)


def _attr_str(attrs: dict, key: str, default: str) -> str:
    from refimpl import attributes

    return attributes.text(attrs, key, default)


def _attr_threads(attrs: dict) -> int:
    from refimpl import attributes

    return attributes.integer(attrs, "num_threads", 1, 1, 4096)


def _replay_settings(args: argparse.Namespace, rec):
    """The true recipe, schedule, capability and threads for a recording: flags > attributes."""
    from emulation.recipes import recipe
    from refimpl.conventions import resolve

    attrs = rec.attrs
    device = getattr(args, "device", None) or _attr_str(attrs, "device", "cpu")
    release = getattr(args, "torch", None) or _attr_str(attrs, "torch_version", "") or None
    try:
        rcp = recipe(args.recipe or _attr_str(attrs, "impl", "forloop"), device if device == "cuda" else "cpu", release)
    except KeyError as e:
        raise AuditError(str(e.args[0])) from None
    if rcp.impl == "seed":
        raise AuditError("the seed notebook's program is not a full optimizer step: use 'adamw-audit notebook'")
    schedule = resolve(
        rec.steps, attrs, args.lr, args.betas, args.eps, args.weight_decay, args.step_offset, _flags(args),
        getattr(args, "skipped", None),
    )  # fmt: skip
    capability = args.capability or _attr_str(attrs, "cpu_capability", "avx512")
    if capability not in ("avx512", "avx2", "default"):
        capability = "avx512"
    if rcp.device == "cuda":
        capability = "cuda"
    threads = args.threads if args.threads is not None else _attr_threads(attrs)
    if threads < 1:
        raise AuditError(f"--threads must be >= 1, got {threads}")
    return rcp, schedule, capability, threads


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import format_report, replay

    with _open(args) as rec:
        rcp, schedule, capability, threads = _replay_settings(args, rec)
        report = replay(rec, rcp, schedule, capability, threads, args.mode, progress=args.progress)
    if args.json:
        out = report.to_json()
        out["file"] = str(args.file)
        print(json.dumps(out))
    else:
        print(format_report(report, str(args.file)))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    import sys as _sys

    from .explain import explain_step, format_explanation, plot

    with _open(args, min_steps=2) as rec:
        rcp, schedule, capability, threads = _replay_settings(args, rec)
        if args.all_steps:
            steps = list(range(1, rec.steps))
        else:
            t = args.step if args.step is not None else min(50, rec.steps - 1)
            if not 1 <= t < rec.steps:
                raise AuditError(f"--step must be in [1, {rec.steps - 1}] for {args.file} ({rec.steps} steps), got {t}")
            steps = [t]
        from tqdm import tqdm

        show = _sys.stderr.isatty() if args.progress is None else args.progress
        results = []
        for t in tqdm(steps, desc="explain", unit="step", disable=not show, file=_sys.stderr):
            detail = args.element if len(steps) == 1 else None
            n_detail = 3 if len(steps) == 1 else 0
            results.append(explain_step(rec, t, rcp, schedule, capability, threads, detail, n_detail))
    if args.plot:
        if not args.plot.parent.exists():
            raise AuditError(f"{args.plot.parent}: no such directory for --plot")
        plot(results, str(args.plot))
    if args.json:
        out = results[0].to_json() if len(results) == 1 else {"steps": [r.to_json() for r in results]}
        if len(results) > 1:
            out["unexplained"] = sum(r.unexplained for r in results)
            out["mismatches"] = sum(r.mismatches for r in results)
        print(json.dumps(out))
    else:
        for r in results:
            print(format_explanation(r))
            print()
        if len(results) > 1:
            total, lost = sum(r.mismatches for r in results), sum(r.unexplained for r in results)
            print(f"all {len(results)} steps: {total:,} mismatched element(s), {lost} unexplained")
    return 0


def cmd_identify(args: argparse.Namespace) -> int:
    from .identify import identify

    if args.sample < 16:
        raise AuditError(f"--sample must be >= 16, got {args.sample}")
    if not args.max_seconds >= 0:  # (NaN too)
        raise AuditError(f"--max-seconds must be >= 0, got {args.max_seconds:g}")
    with _open(args, min_steps=1) as rec:
        found = identify(rec, sample=args.sample, max_seconds=args.max_seconds)
    out = found.to_json()
    if args.json:
        print(json.dumps(out))
        return 0
    lr = out["lr"]
    lr_text = f"{lr:g}" if isinstance(lr, float) else "per step: " + ", ".join(f"{x:g}" for x in lr)
    if all(v == 1.0 for v in out["exact"].values()):
        print(f"{args.file}: replayed by {out['impl']} on {out['capability']}")
    else:  # (the values below are the closest program's; 'exact' says how close)
        print(f"{args.file}: not reproduced exactly; closest: {out['impl']} on {out['capability']}")
    if len(out["equivalent_impls"]) > 1 or len(out["equivalent_capabilities"]) > 1:
        print(
            f"  identical bits from: {', '.join(out['equivalent_impls'])} x {', '.join(out['equivalent_capabilities'])}"
        )
    ties = out["other_step_counts"]
    also = f" (as exact with step {', '.join(map(str, ties))}: the bits do not pin it)" if ties else ""
    print(f"  index 0 = step {out['first_index_step_count']}{also}")
    if out.get("equivalent_releases"):
        print(f"  torch releases with these bits: {', '.join(out['equivalent_releases'])}")
    print(f"  lr {lr_text}")
    b = out["betas_interval"]
    for name, value, (lo, hi) in zip(("beta1", "beta2"), out["betas"], b, strict=True):
        print(f"  {name} {value:g} in [{lo:.10g}, {hi:.10g}]")
    print(f"  eps {out['eps']:g} in [{out['eps_interval'][0]:.4g}, {out['eps_interval'][1]:.4g}]")
    wd = out["weight_decay_interval"]
    print(f"  weight decay {out['weight_decay']:g} in [{wd[0]:.4g}, {wd[1]:.4g}]")
    print("  exact: " + ", ".join(f"{k} {v:.6f}" for k, v in out["exact"].items()))
    for f in out["findings"]:
        print(f"  note: {f}")
    return 0


def cmd_notebook(args: argparse.Namespace) -> int:
    from emulation.recipes import recipe
    from emulation.replay import run_bits
    from refimpl import notebook
    from refimpl.conventions import SEED_HYPER

    with _open(args, min_steps=2) as rec:
        t = args.index if args.index is not None else min(50, rec.steps - 1)
        if not 1 <= t < rec.steps:
            raise AuditError(f"--index must be in [1, {rec.steps - 1}] for {args.file} ({rec.steps} steps), got {t}")
        capability = args.capability or _attr_str(rec.attrs, "cpu_capability", "avx512")
        if capability not in ("avx512", "avx2", "default"):
            capability = "avx512"
        threads = 1  # the notebook runs its ops in its own process; NaN patterns only
        program = recipe("seed").build(SEED_HYPER, float(t), capability)
        state = {
            "param": rec.read("W", t - 1),
            "exp_avg": rec.read("momentum_W", t),
            "exp_avg_sq": rec.read("variance_W", t),
        }
        where = recipe("seed").positions(capability, rec.numel, threads)
        pred = run_bits(program, state, where)["param"]
        stats = notebook.statistics(pred, rec.read("W", t), where)
    if args.json:
        print(json.dumps({"step": t, "naive": stats.to_json(), "recipe": program.name}))
    else:
        print(notebook.format_stats(t, stats))
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from emulation.recipes.common import Hyper

    from .record import record

    b1, b2 = args.betas if args.betas else (0.9, 0.999)
    h = Hyper(
        1e-3, b1, b2, 1e-8 if args.eps is None else args.eps, args.weight_decay or 0.0,
        amsgrad=bool(args.amsgrad), maximize=bool(args.maximize), decoupled=args.optimizer != "adam",
    )  # fmt: skip
    path = record(
        args.out,
        args.steps,
        args.shape,
        args.impl,
        args.lr or [1e-3],
        h,
        args.seed,
        threads=args.threads,
        grad_name=args.grad_name,
        device=args.device,
    )
    shape = "x".join(map(str, args.shape))
    print(f"recorded {args.steps} step(s) of {args.impl} AdamW on {args.device}, W {shape}, to {path}")
    return 0


def cmd_crosscheck(args: argparse.Namespace) -> int:
    try:
        import torch
    except ImportError:
        raise AuditError("crosscheck needs torch: pip install 'torch==2.13.0'") from None
    from .crosscheck import check_step_counts_cuda, check_steps_cuda, crosscheck_cpu

    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise AuditError("crosscheck --device cuda: no CUDA device here (torch.cuda.is_available() is False)")
        rows = check_steps_cuda(quick=args.quick) + ([] if args.quick else check_step_counts_cuda())
    else:
        caps = tuple(args.capability) if args.capability else ("avx512", "avx2", "default")
        rows = crosscheck_cpu(caps, quick=args.quick)
    if args.json:
        print(json.dumps({"results": rows}))
        return 0 if all(r["exact"] == 1.0 for r in rows) else 1
    print(f"{'recipe':<24} {'cap':<7} {'thr':>3} {'elements':>10} {'exact':>9}  options")
    for r in rows:
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items())
        if "refuted_alternative" in r:
            opts += f"; alternative refuted on {r['refuted_alternative']} element(s)"
        print(
            f"{r['recipe']:<24} {r['capability']:<7} {r['threads']:>3} {r['elements']:>10} {r['exact']:>9.6f}  {opts}"
        )
    bad = [r for r in rows if r["exact"] != 1.0]
    print(f"{len(rows) - len(bad)} of {len(rows)} checks bit-exact")
    return 0 if not bad else 1


def cmd_recipes(args: argparse.Namespace) -> int:
    from emulation.recipes import CATALOG, recipe
    from refimpl.conventions import resolve

    if args.show:
        try:
            rcp = recipe(args.show)
        except KeyError as e:
            raise AuditError(str(e.args[0])) from None
        h = resolve(1, {}, args.lr, args.betas, args.eps, args.weight_decay, flags=_flags(args)).hyper
        print(rcp.build(h, args.step, args.capability))
        return 0
    entries = []
    for r in CATALOG.values():
        base = {"name": r.name, "path": r.impl, "impl": r.impl, "device": r.device, "torch": r.torch,
                "verified_by": r.verified_by, "source": r.source,
                "replays_from_state": r.replays_from_state}  # fmt: skip
        entries.append(base)
        entries.extend({**base, "torch": release, "verified_by": how} for release, how in r.verified_releases)
    if args.json:
        print(json.dumps({"recipes": entries}))
        return 0
    for e in entries:
        print(
            f"{e['name']:<27} torch {e['torch']:<9} {e['device']:<4} {e['path']:<8} verified: {e['verified_by']:<11} "
            f"{e['source']}"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"$ adamw-audit record {args.out} --steps {args.steps}")
    cmd_record(build_parser().parse_args(["record", str(args.out), "--steps", str(args.steps)]))
    print(f"\n$ adamw-audit verify {args.out}")
    cmd_verify(build_parser().parse_args(["verify", str(args.out)]))
    t = min(10, args.steps - 1)
    print(f"\n$ adamw-audit explain {args.out} --step {t}")
    cmd_explain(build_parser().parse_args(["explain", str(args.out), "--step", str(t)]))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from emulation.recipes import recipe

    from . import compare

    if args.file2 is not None:
        if args.recipe or args.torch:
            raise AuditError("compare FILE1 FILE2 takes no --recipe/--torch (the recordings are the two programs)")
        with _open(args) as rec_a:
            args_b = argparse.Namespace(**{**vars(args), "file": args.file2})
            with _open(args_b) as rec_b:
                result = compare.compare_recordings(
                    rec_a, rec_b, compare.resolve_file(rec_a), compare.resolve_file(rec_b)
                )
        print(json.dumps(result.to_json()) if args.json else compare.format_recording_comparison(result))
        return 0
    if len(args.recipe) + len(args.torch) != 2:
        raise AuditError("compare FILE needs two programs: --recipe A --recipe B, --torch X --torch Y, or one of each")
    if args.steps is not None and args.steps < 1:
        raise AuditError(f"--steps must be >= 1, got {args.steps}")
    with _open(args) as rec:
        impl = args.impl or _attr_str(rec.attrs, "impl", "forloop")
        try:
            programs = [recipe(r) for r in args.recipe] + [recipe(impl, "cpu", x) for x in args.torch]
        except KeyError as e:
            raise AuditError(str(e.args[0])) from None
        args.recipe, args.device = programs[0].name, None
        _, schedule, capability, threads = _replay_settings(args, rec)
        if any(p.impl == "seed" for p in programs):
            raise AuditError("the seed notebook's program is not a full optimizer step: compare torch recipes")
        result = compare.compare_programs(rec, programs[0], programs[1], schedule, capability, threads, args.steps)
    print(json.dumps(result.to_json()) if args.json else compare.format_program_comparison(result, str(args.file)))
    return 0


COMMANDS = {
    "compare": cmd_compare,
    "verify": cmd_verify,
    "notebook": cmd_notebook,
    "explain": cmd_explain,
    "identify": cmd_identify,
    "record": cmd_record,
    "recipes": cmd_recipes,
    "crosscheck": cmd_crosscheck,
    "demo": cmd_demo,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except AuditError as e:
        print(f"adamw-audit: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("adamw-audit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug or an input no check foresaw: still one line, still exit 2
        if os.environ.get("ADAMW_AUDIT_DEBUG"):
            raise
        msg = " ".join(str(e).split())
        print(
            f"adamw-audit: error: {type(e).__name__}: {msg} (set ADAMW_AUDIT_DEBUG=1 for a traceback)", file=sys.stderr
        )
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
