"""Record golden fixtures from real torch releases, one virtual environment per release.

For each release: create a venv, ``pip install torch==RELEASE 'numpy<2' 'h5py<3.12'`` (from the
package registry; 2.13.0 and 2.14.1 also lie on this machine's disk), run
scripts/fixture_worker.py once per CPU capability (``ATEN_CPU_CAPABILITY=avx512|avx2|default``,
one process each: torch reads the variable at import), write the fixtures and a manifest under
``tests/fixtures/releases/torch-RELEASE/``, and delete the venv (each holds several GB: the
registry's Linux wheels are CUDA builds; the CPU paths are what gets recorded).

    python scripts/record_release_fixtures.py                 # the default release list
    python scripts/record_release_fixtures.py 2.0.1 2.4.1     # some releases
    python scripts/record_release_fixtures.py --keep-venv 2.1.2

CI never runs this (it needs the network and minutes per release); tests/test_release_fixtures.py
replays the committed fixtures offline against the versioned catalog.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "scripts" / "fixture_worker.py"
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "releases"


def _fixture_releases() -> tuple[str, ...]:
    """The catalog's FIXTURE_RELEASES, read from emulation/recipes/releases.py alone (it needs only
    the standard library; the package's __init__ would import NumPy, which this script does not)."""
    spec = importlib.util.spec_from_file_location("releases", ROOT / "emulation" / "recipes" / "releases.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.FIXTURE_RELEASES


DEFAULT_RELEASES = _fixture_releases()
CAPABILITIES = ("avx512", "avx2", "default")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return sorted(f for f in line.split(":", 1)[1].split() if f.startswith(("avx", "fma", "f16c")))
    except OSError:
        pass
    return []


def record_release(release: str, out_root: Path, work: Path, keep_venv: bool) -> dict:
    venv = work / f"torch-{release}"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q", "--no-cache-dir"]
        subprocess.run([*pip, f"torch=={release}", "numpy<2", "h5py<3.12"], check=True)
    python = str(venv / "bin" / "python")
    out = out_root / f"torch-{release}"
    staging = Path(tempfile.mkdtemp(prefix=f".torch-{release}.", dir=out_root))
    runs = []
    try:
        for cap in CAPABILITIES:
            env = dict(os.environ, ATEN_CPU_CAPABILITY=cap, OMP_NUM_THREADS="1")
            done = subprocess.run([python, str(WORKER), str(staging)], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"torch {release} {cap}: worker failed: {done.stderr.strip()[-500:]}")
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        freeze = subprocess.run([python, "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
        manifest = {
            "torch_release": release,
            "torch_version": runs[0]["torch"],
            "device": "cpu",
            "recorded_on": datetime.date.today().isoformat(),
            "cpu_model": cpu_model(),
            "cpu_flags": cpu_flags(),
            "python": platform.python_version(),
            "packages": sorted(
                line for line in freeze.splitlines() if line.split("==")[0].lower() in ("torch", "numpy", "h5py")
            ),
            "threads": 1,
            "runs": runs,
            "command": f"python scripts/record_release_fixtures.py {release}",
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
        if not keep_venv:
            shutil.rmtree(venv, ignore_errors=True)
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("releases", nargs="*", default=list(DEFAULT_RELEASES))
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "adamw-audit-releases")
    ap.add_argument("--keep-venv", action="store_true")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    for release in args.releases:
        manifest = record_release(release, args.out, args.work, args.keep_venv)
        n = sum(len(r["recorded"]) for r in manifest["runs"])
        print(f"torch {manifest['torch_version']}: {n} fixtures -> {args.out / ('torch-' + release)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
