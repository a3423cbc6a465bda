"""Everything this project checks on a GPU, in one run: live CUDA cross-checks and golden fixtures.

Run on a machine with an NVIDIA GPU and a CUDA build of torch (the lent device machine of this
workplace: ``PYTHONPATH=. python3 scripts/cuda_device_run.py OUT_DIR``).  It writes

* ``OUT_DIR/environment.json`` - torch / CUDA / GPU / Python / NumPy versions;
* ``OUT_DIR/crosscheck-cuda.json`` - every CUDA recipe against torch on the GPU, uint16 patterns
  compared (adamw_audit.crosscheck.check_steps_cuda: sizes 1..257 and odd large sizes, special
  values, steps 1, 2, 10, 1000, every hyper-parameter set, every bf16 pattern in every tensor),
  and the fused kernel at 490 step counts from 1 to 10^6 (check_step_counts_cuda);
* ``OUT_DIR/pow-probe.json`` - the device's float ``pow(beta, t)`` (torch.pow on float32 CUDA
  tensors, the same ``at::native::pow_`` as the fused kernel's bias corrections) against the
  host's float32 ``powf`` and against double ``pow`` rounded to float32, t = 1..2^20;
* ``OUT_DIR/cuda-fixtures.tar`` - golden fixtures (scripts/fixture_worker.py --cuda) with a
  manifest, unpacked by hand into tests/fixtures/cuda/torch-VERSION/ and replayed offline by
  tests/test_cuda_fixtures.py.
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
BETAS = (0.9, 0.999, 0.99, 0.95, 0.9999, 0.8, 0.98, 0.3, 0.5)


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


def pow_probe(n: int = 1 << 20) -> dict:
    """Device float ``pow(beta, t)`` (torch.pow on float32 CUDA tensors: Pow.cuh's ``pow_``, the
    overload the fused kernel's bias corrections call) against the host's scalar float32 power
    (what emulation/recipes/cuda.py computes: NumPy scalar ``**``, the C library's ``powf``) and
    against double ``pow`` rounded to float32.  NumPy's *array* float32 power is a SIMD routine
    that is not the C library's: it is not used here."""
    import torch

    t_host = np.arange(1, n + 1, dtype=np.float32)
    t_dev = torch.from_numpy(t_host).cuda()
    rows = []
    for beta in BETAS:
        base = torch.full((n,), beta, dtype=torch.float32, device="cuda")
        device = torch.pow(base, t_dev).cpu().numpy()
        b32 = np.float32(beta)
        with np.errstate(all="ignore"):
            host_f32 = np.array([b32**t for t in t_host], dtype=np.float32)
            host_f64 = np.array([float(b32) ** float(t) for t in t_host]).astype(np.float32)
        differ_f32 = np.flatnonzero(device.view(np.uint32) != host_f32.view(np.uint32))
        differ_f64 = np.flatnonzero(device.view(np.uint32) != host_f64.view(np.uint32))
        rows.append(
            {
                "beta": beta,
                "counts": n,
                "differ_from_host_powf": int(differ_f32.size),
                "differ_from_double_pow": int(differ_f64.size),
                "first_differing_counts_powf": (differ_f32[:20] + 1).tolist(),
                "examples_powf": [
                    {
                        "t": int(i + 1),
                        "device": float(device[i]),
                        "host_powf": float(host_f32[i]),
                        "double_pow": float(host_f64[i]),
                    }
                    for i in differ_f32[:10]
                ],
            }
        )
    return {"what": "torch.pow(float32 cuda) vs NumPy scalar float32 power / float64 power", "rows": rows}


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from adamw_audit.crosscheck import check_step_counts_cuda, check_steps_cuda

    env = environment()
    (out / "environment.json").write_text(json.dumps(env, indent=1))
    print(json.dumps(env), flush=True)

    started = time.time()
    probe = pow_probe()
    (out / "pow-probe.json").write_text(json.dumps(probe, indent=1))
    for row in probe["rows"]:
        print("pow", row["beta"], row["differ_from_host_powf"], row["differ_from_double_pow"], flush=True)

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
