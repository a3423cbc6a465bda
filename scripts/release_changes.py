"""The README's table of what changed between torch releases, measured on real recordings.

Records one real run per CPU path with the torch installed here (adamw-audit record; the default
bf16 least-squares model), then replays each recording under every pair of adjacent release rows
of the catalog (adamw_audit.compare): the elements whose stored bits change at each step, the
switches that cause them, and how far the two free-running trajectories have parted at the end.

    python scripts/release_changes.py [--shape 2000x64] [--steps 20] [--out-dir DIR]

Prints a Markdown table.  The recordings are written to a temporary directory unless --out-dir.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adamw_audit.compare import compare_programs
from adamw_audit.record import record
from emulation.recipes import CATALOG
from emulation.recipes.releases import CPU_RELEASES
from refimpl.conventions import resolve
from refimpl.recording import open_recording


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default="2000x64")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out-dir", type=Path)
    args = ap.parse_args(argv)
    shape = tuple(int(x) for x in args.shape.split("x"))
    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="release-changes-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for impl in ("forloop", "foreach", "fused"):
        path = out_dir / f"{impl}.h5"
        if not path.exists():
            record(path, steps=args.steps, shape=shape, impl=impl, threads=1)
        with open_recording(path) as rec:
            schedule = resolve(rec.steps, rec.attrs)
            capability = str(rec.attrs["cpu_capability"])
            version = str(rec.attrs["torch_version"])
            pairs = list(itertools.pairwise(CPU_RELEASES))
            for row_a, row_b in pairs:
                name_a, name_b = f"torch-{row_a.label}-cpu-{impl}", f"torch-{row_b.label}-cpu-{impl}"
                if name_a not in CATALOG or name_b not in CATALOG:
                    continue
                c = compare_programs(rec, CATALOG[name_a], CATALOG[name_b], schedule, capability, 1)
                n = c.elements * len(c.steps)
                share = {ds: sum(s.differ[ds] for s in c.steps) / n for ds in ("W", "momentum_W", "variance_W")}
                causes: dict[str, int] = {}
                for s in c.steps:
                    for counter in s.causes.values():
                        for sw, k in counter.items():
                            causes[sw] = causes.get(sw, 0) + k
                last = c.trajectory[-1]
                rows.append(
                    (
                        f"{row_a.label} → {row_b.label}",
                        impl,
                        ", ".join(c.switches or ()) or "none",
                        " / ".join(f"{100 * share[ds]:.2f}%" for ds in ("W", "momentum_W", "variance_W")),
                        ", ".join(f"{sw} {k:,}" for sw, k in sorted(causes.items(), key=lambda kv: -kv[1])) or "-",
                        f"{100 * last.parted['W'] / c.elements:.2f}% (max {last.max_ulp_w} ulp)",
                    )
                )
    print(f"Recordings: {shape[0]}x{shape[1]} bf16, {args.steps} steps, torch {version}, "
          f"capability {capability}, 1 thread (scripts/release_changes.py).\n")  # fmt: skip
    print("| releases | path | switches that differ | elements stored differently per step (W / m / v) "
          "| differing elements by cause | W parted after the last step, free-running |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
