"""Everything this project checks on a GPU, in one run: live CUDA cross-checks and golden fixtures.

Run on a machine with an NVIDIA GPU and a CUDA build of torch (the lent device machine of this
workplace: ``PYTHONPATH=. python3 scripts/cuda_device_run.py OUT_DIR``).  It writes

* ``OUT_DIR/environment.json`` - torch / CUDA / GPU / Python / NumPy versions;
* ``OUT_DIR/crosscheck-cuda.json`` - every CUDA recipe against torch on the GPU, uint16 patterns
  compared (adamw_audit.crosscheck.check_steps_cuda: sizes 1..257 and odd large sizes, special
  values, steps 1, 2, 10, 1000, every hyper-parameter set, every bf16 pattern in every tensor),
  and the fused kernel at 490 step counts from 1 to 10^6 (check_step_counts_cuda);
* ``OUT_DIR/cuda-fixtures.tar`` - golden fixtures (scripts/fixture_worker.py --cuda) with a
  manifest, unpacked by hand into tests/fixtures/cuda/torch-VERSION/ and replayed offline by
  tests/test_cuda_fixtures.py.

The device ``powf`` is measured separately: scripts/cuda_powf_probe.py.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def environment() -> dict:
    import h5py
    import ml_dtypes
    import torch

    major, minor = torch.cuda.get_device_capability()
    return {
        "torch": str(torch.__version__),
        "cuda_runtime": str(torch.version.cuda),
        "gpu": torch.cuda.get_device_name(),
        "gpu_arch": f"sm_{major}{minor}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ml_dtypes": ml_dtypes.__version__,
        "h5py": h5py.__version__,
        "machine": platform.machine(),
        "date": datetime.date.today().isoformat(),
    }


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from adamw_audit.crosscheck import check_step_counts_cuda, check_steps_cuda

    env = environment()
    (out / "environment.json").write_text(json.dumps(env, indent=1))
    print(json.dumps(env), flush=True)

    started = time.time()

    fixtures = out / "fixtures"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "fixture_worker.py"), str(fixtures), "--cuda"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    print("fixtures:", proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:], flush=True)
    if proc.returncode == 0:
        manifest = {"environment": env, "worker": json.loads(proc.stdout),
                    "command": "PYTHONPATH=. python3 scripts/cuda_device_run.py OUT_DIR"}  # fmt: skip
        (fixtures / "manifest.json").write_text(json.dumps(manifest, indent=1))
        with tarfile.open(out / "cuda-fixtures.tar", "w") as tar:
            tar.add(fixtures, arcname=f"torch-{env['torch']}")

    rows: list[dict] = []
    mismatches: list[dict] = []
    runs = (("steps", lambda: check_steps_cuda(mismatches=mismatches)), ("step counts", check_step_counts_cuda))
    for name, run in runs:
        t0 = time.time()
        got = run()
        rows.extend(got)
        for row in got:
            print(f"{row['exact']:.6f} {row['elements']:>10} {row['recipe']} {row['options']}", flush=True)
        print(f"{name}: {time.time() - t0:.0f} s", flush=True)
        (out / "crosscheck-cuda.json").write_text(
            json.dumps({"environment": env, "rows": rows, "mismatches": mismatches}, indent=1)
        )
    print(f"all done in {time.time() - started:.0f} s; rows not exact:",
          sum(r["exact"] != 1.0 for r in rows), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
