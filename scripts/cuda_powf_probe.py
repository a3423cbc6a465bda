"""Measure emulation/cuda_powf.py against the GPU's own ``powf`` (needs a CUDA GPU and torch).

    PYTHONPATH=. python3 scripts/cuda_powf_probe.py OUT_DIR

The device side is ``torch.pow`` on float32 CUDA tensors: PowKernel.cu calls Pow.cuh's
``pow_(base, exp)``, the overload the fused Adam kernel's bias corrections call, which is
libdevice ``powf``.  Compared, bit for bit:

* every step count t = 1..2^20 for common betas and for 50 random float32 betas in (0, 1) (for
  the common betas also how often the C library's ``powf`` differs from the GPU's);
* 2^22 random (a, b) pairs: a over all float32 bit patterns, b random bits, small integers
  and half-integers (special cases: 0, Inf, NaN, negative bases, odd/even integer exponents);
* ``rcp.approx.ftz.f32`` (the one hardware-approximate step of libdevice powf) against the
  correctly rounded reciprocal on every float32 in [1, 4), and against the committed table
  (through CuPy).

``--make-rcp-table PATH`` writes that table (emulation/data/rcp_approx_sm90.npz) from the GPU.

Writes OUT_DIR/powf-probe.json (counts) and OUT_DIR/powf-mismatches.npz (a, b, device, port of
up to 100,000 differing pairs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulation.cuda_powf import RCP_RANGE, powf, rcp_approx  # noqa: E402

COMMON_BETAS = (0.9, 0.999, 0.99, 0.95, 0.9999, 0.8, 0.98, 0.3, 0.5, 0.0, 0.85, 0.995, 0.99999)


def device_pow(torch, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ta = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).cuda()
    tb = torch.from_numpy(np.ascontiguousarray(b, dtype=np.float32)).cuda()
    return torch.pow(ta, tb).cpu().numpy()


def compare(a: np.ndarray, b: np.ndarray, dev: np.ndarray, bad: list) -> int:
    port = powf(a, b)
    same = (port.view(np.uint32) == dev.view(np.uint32)) | (np.isnan(port) & np.isnan(dev))
    where = np.flatnonzero(~same)
    if where.size and sum(len(x[0]) for x in bad) < 100_000:
        bad.append((a[where], b[where], dev[where], port[where]))
    return int(where.size)


def rcp_check() -> dict:
    """rcp.approx.ftz.f32 on every float32 in [1, 4) against ``1/s`` rounded to nearest, and
    against the committed table where it applies."""
    xs = np.arange(*np.float32([1.0, 4.0]).view(np.uint32), dtype=np.uint32).view(np.float32)
    approx = _rcp_on_device(xs)
    diff = approx.view(np.int32).astype(np.int64) - (np.float32(1) / xs).view(np.int32)
    values, counts = np.unique(diff, return_counts=True)
    histogram = {str(k): int(v) for k, v in zip(values, counts, strict=True)}
    inside = (xs >= np.float32(RCP_RANGE[0])) & (xs < np.float32(RCP_RANGE[1]))
    table_differs = int(np.count_nonzero(rcp_approx(xs[inside]).view(np.uint32) != approx[inside].view(np.uint32)))
    return {"inputs": int(xs.size), "differ_from_rn": int(np.count_nonzero(diff)), "ulp_histogram": histogram,
            "table_inputs": int(inside.sum()), "table_differs": table_differs}  # fmt: skip


def make_rcp_table(path: Path) -> dict:
    """Tabulate sm_90's rcp.approx.ftz.f32 on RCP_RANGE as 2-bit offsets from ``1/s``."""
    xs = np.arange(*np.float32(RCP_RANGE).view(np.uint32), dtype=np.uint32).view(np.float32)
    offset = _rcp_on_device(xs).view(np.int32).astype(np.int64) - (np.float32(1) / xs).view(np.int32)
    if np.any(np.abs(offset) > 1):
        raise SystemExit("rcp.approx is more than one ulp from 1/s somewhere: a 2-bit table cannot hold it")
    codes = (offset + 1).astype(np.uint8)
    codes = np.concatenate([codes, np.ones((-codes.size) % 4, np.uint8)]).reshape(-1, 4)
    packed = (codes[:, 0] | (codes[:, 1] << 2) | (codes[:, 2] << 4) | (codes[:, 3] << 6)).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, first_bits=np.float32(RCP_RANGE[0]).view(np.uint32), codes=packed)
    tmp.replace(path)
    return {"inputs": int(xs.size), "off_by_one": int(np.count_nonzero(offset)), "bytes": path.stat().st_size}


def _rcp_on_device(xs: np.ndarray) -> np.ndarray:
    import cupy as cp

    kernel = cp.RawKernel(
        r"""
extern "C" __global__ void rcp_approx(const float* x, float* y, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) { float r; asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x[i])); y[i] = r; }
}""",
        "rcp_approx",
    )
    dx = cp.asarray(xs)
    dy = cp.empty_like(dx)
    kernel(((xs.size + 255) // 256,), (256,), (dx, dy, np.int32(xs.size)))
    return cp.asnumpy(dy)


def write_golden(torch, path: Path) -> dict:
    """A small sample of device results for CI (tests/test_cuda_powf.py): random (a, b) pairs
    rich in special values, step counts of common betas where the C library's powf differs from
    the device, and rcp.approx on random inputs of the table's range."""
    rng = np.random.default_rng(7)
    n = 20_000
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 2.0, 0.5, -2.0, 1e-45, 3e-39], np.float32)
    a = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32).view(np.float32).copy()
    b = rng.integers(-40, 40, n).astype(np.float32) * np.float32(0.5)
    a[::7] = rng.choice(specials, a[::7].size)
    b[::5] = rng.choice(specials, b[::5].size)
    a[1::3] = (np.float32(1) + rng.standard_normal(a[1::3].size).astype(np.float32) * np.float32(1e-2)).astype(
        np.float32
    )
    t = np.arange(1, (1 << 16) + 1, dtype=np.float32)
    steps_a, steps_b = [], []
    for beta in COMMON_BETAS:
        base = np.full(t.size, beta, dtype=np.float32)
        dev = device_pow(torch, base, t)
        host = np.array([np.float32(beta) ** x for x in t], dtype=np.float32)
        differ = np.flatnonzero(host.view(np.uint32) != dev.view(np.uint32))[:300]
        steps_a.append(base[differ])
        steps_b.append(t[differ])
    a = np.concatenate([a, *steps_a])
    b = np.concatenate([b, *steps_b])
    s = rng.uniform(*RCP_RANGE, 5000).astype(np.float32)
    np.savez_compressed(path, a=a, b=b, device=device_pow(torch, a, b), rcp_in=s, rcp_device=_rcp_on_device(s),
                        step_count_pairs=np.int64(sum(x.size for x in steps_a)))  # fmt: skip
    return {"pairs": int(a.size), "bytes": path.stat().st_size}


def main() -> int:
    import torch

    if sys.argv[1] == "--make-rcp-table":
        print(json.dumps(make_rcp_table(Path(sys.argv[2]))))
        return 0
    if sys.argv[1] == "--golden":
        print(json.dumps(write_golden(torch, Path(sys.argv[2]))))
        return 0
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261124)
    bad: list = []
    report: dict = {"torch": str(torch.__version__), "gpu": torch.cuda.get_device_name(), "rows": []}
    t = np.arange(1, (1 << 20) + 1, dtype=np.float32)
    betas = [np.float32(x) for x in COMMON_BETAS] + list(rng.random(50).astype(np.float32))
    total = wrong = 0
    for i, beta in enumerate(betas):
        a = np.full(t.size, beta, dtype=np.float32)
        dev = device_pow(torch, a, t)
        n_bad = compare(a, t, dev, bad)
        row = {"beta": float(beta), "counts": int(t.size), "port_differs": n_bad}
        if i < len(COMMON_BETAS):  # how often the C library's powf (NumPy scalar **) is not the GPU's
            host = np.array([beta**x for x in t], dtype=np.float32)
            row["host_powf_differs"] = int(np.count_nonzero(host.view(np.uint32) != dev.view(np.uint32)))
        report["rows"].append(row)
        total, wrong = total + t.size, wrong + n_bad
        print(f"beta {float(beta):.9g}: port differs at {n_bad} of {t.size} counts", flush=True)
    n = 1 << 22
    a = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    kinds = rng.integers(0, 3, n)
    random_b = rng.integers(0, 1 << 32, n, dtype=np.uint64).astype(np.uint32).view(np.float32)
    integers = rng.integers(-300, 300, n).astype(np.float32)
    b = np.where(kinds == 0, random_b, np.where(kinds == 1, integers, integers + np.float32(0.5))).astype(np.float32)
    # bases near 1 too, where log2 is small and the double-float matters most
    a[: n // 4] = (np.float32(1) + rng.standard_normal(n // 4).astype(np.float32) * np.float32(1e-3)).astype(np.float32)
    n_bad = compare(a, b, device_pow(torch, a, b), bad)
    report["random_pairs"] = {"pairs": n, "port_differs": n_bad}
    print(f"random pairs: port differs at {n_bad} of {n}", flush=True)
    report["step_counts"] = {"pairs": total, "port_differs": wrong}
    report["rcp_approx"] = rcp_check()
    print("rcp.approx:", report["rcp_approx"], flush=True)
    (out / "powf-probe.json").write_text(json.dumps(report, indent=1))
    if bad:
        cat = [np.concatenate([x[i] for x in bad])[:100_000] for i in range(4)]
        np.savez_compressed(out / "powf-mismatches.npz", a=cat[0], b=cat[1], device=cat[2], port=cat[3])
    return 0


if __name__ == "__main__":
    sys.exit(main())
