"""Record golden fixtures from the torch that runs this script (one release, one CPU capability).

Run by scripts/record_release_fixtures.py inside a virtual environment that holds one torch
release; it imports only torch, numpy and h5py (no project code), so it runs under every release
from 1.13 on.  Set ``ATEN_CPU_CAPABILITY`` before starting it: torch reads it once, at import.

Each fixture is a small recording in the seed layout (refimpl/recording.py) of one optimizer path
on adversarial data: gradients whose exponents span 2^-40..2^20, bf16 ties, ±0, subnormals,
±Inf and NaN, a parameter with huge, tiny and special values, and a shape whose element count
(19x23 = 437) leaves a scalar tail in every CPU kernel (437 % 32 = 21, 437 % 16 = 5).  The
attributes state the provenance: torch release, path, device, the CPU capability torch reports,
threads, flags and every hyper-parameter.

    usage: python fixture_worker.py OUT_DIR            # CPU paths, capability from ATEN_CPU_CAPABILITY
           python fixture_worker.py OUT_DIR --cuda     # CUDA paths on the first GPU (scripts/cuda_device_run.py)

With ``--cuda`` the parameter lives on the GPU, the file names say ``cuda`` where the CPU
capability stands, and CUDA_CASES adds cases that reach branches only the CUDA kernels have
(``beta2 == 0``: addcmul's value-1 branch; a lerp weight >= 0.5 and one of exactly 1 (beta1 = 0:
the sign of a zero); Adam-L2 with maximize; a step count of 10^5 for the fused kernel's device
``pow``).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import zlib

import h5py
import numpy as np
import torch

SHAPE = (19, 23)
STEPS = 3
CASES = {
    # name: (optimizer class, keyword arguments, lr per recorded step, first step count)
    "adamw-default": ("AdamW", {}, [1e-3] * STEPS, 1),
    "adamw-options": (
        "AdamW",
        {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1, "amsgrad": True, "maximize": True},
        [1e-2, 3e-3, 5e-4],
        1,
    ),
    "adam-l2-step998": ("Adam", {"weight_decay": 0.01}, [1e-3] * STEPS, 998),
}
CUDA_CASES = {
    **CASES,
    "adamw-beta1-0.3-beta2-0": ("AdamW", {"betas": (0.3, 0.0), "eps": 1e-3, "weight_decay": 1.0}, [0.1] * STEPS, 1),
    "adam-l2-maximize-amsgrad": (
        "Adam",
        {"weight_decay": 0.3, "amsgrad": True, "maximize": True, "betas": (0.8, 0.99)},
        [1e-2] * STEPS,
        1,
    ),
    "adamw-step100000": ("AdamW", {"betas": (0.95, 0.9999)}, [3e-4] * STEPS, 100000),
    "adamw-beta1-0": ("AdamW", {"betas": (0.0, 0.95), "eps": 1e-4}, [3e-4] * STEPS, 1),
}


def cpu_capability() -> str:
    """What torch says it dispatches to (``torch.backends.cpu`` exists only from 2.1 on)."""
    backends_cpu = getattr(torch.backends, "cpu", None)
    if backends_cpu is not None and hasattr(backends_cpu, "get_cpu_capability"):
        found = str(backends_cpu.get_cpu_capability()).lower()
        return "default" if found in ("no avx", "default") else found
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            found = line.split(":", 1)[1].strip().lower()
            return "default" if found == "no avx" else found
    return "unknown"


def bf16_bits(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().cpu().view(torch.int16).numpy().view(np.uint16).copy()


def from_bits(u16: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(u16.astype(np.uint16).view(np.int16).copy()).view(torch.bfloat16)


SPECIAL_BITS = np.array(
    [
        0x0000, 0x8000,  # ±0
        0x0001, 0x8001, 0x007F, 0x0040,  # subnormals
        0x0080, 0x8080,  # smallest normals
        0x7F7F, 0xFF7F,  # ±largest finite
        0x7F80, 0xFF80,  # ±Inf
        0x7FC0, 0xFFC1,  # NaN (two payloads)
        0x3F80, 0xBF80, 0x3F81, 0x4000,  # 1, -1, 1+ulp, 2
    ],
    dtype=np.uint16,
)  # fmt: skip


def adversarial_bits(rng: np.random.Generator, n: int, lo_exp: int, hi_exp: int, specials: bool) -> np.ndarray:
    """``n`` bf16 patterns: random signs and mantissas, exponents uniform in [lo_exp, hi_exp]
    (unbiased), some with all-zero or all-one low mantissa bits (ties after arithmetic), and the
    special values at fixed positions spread over body and tail."""
    sign = rng.integers(0, 2, n).astype(np.uint16) << 15
    exp = (rng.integers(lo_exp, hi_exp + 1, n) + 127).clip(1, 254).astype(np.uint16) << 7
    mant = rng.integers(0, 128, n).astype(np.uint16)
    mant[rng.random(n) < 0.1] = 0
    mant[rng.random(n) < 0.05] = 0x7F
    out = sign | exp | mant
    if specials:
        where = np.linspace(0, n - 1, SPECIAL_BITS.size).astype(int)
        out[where] = SPECIAL_BITS
        # NaN every 13th element of the last 104: where a kernel's vector body ends and its
        # scalar tail begins shows in the stored NaN pattern (0xFFFF body, 0x7FC0 tail)
        out[n - 1 - 13 * np.arange(8)] = 0x7FC0
    return out


def record_case(out_dir: str, impl: str, case: str, capability: str) -> dict:
    device = "cuda" if capability == "cuda" else "cpu"
    cls_name, kwargs, lrs, first_step = CUDA_CASES[case]
    n = int(np.prod(SHAPE))
    rng = np.random.default_rng([zlib.crc32(case.encode()), len(impl), 20261124])
    w0 = adversarial_bits(rng, n, -12, 2, specials=True)
    param = torch.nn.Parameter(from_bits(w0).reshape(SHAPE).clone().to(device))
    flags = {"foreach": impl == "foreach"}
    if impl == "fused":
        flags["fused"] = True
    opt = getattr(torch.optim, cls_name)([param], lr=lrs[0], **flags, **kwargs)
    amsgrad = bool(kwargs.get("amsgrad", False))
    names = ["W", "momentum_W", "variance_W", "grad_W"] + (["max_variance_W"] if amsgrad else [])
    data = {name: np.zeros((STEPS, *SHAPE), dtype=np.uint16) for name in names}

    def grad_bits(step_index: int) -> np.ndarray:
        g = adversarial_bits(rng, n, -40, 20 if step_index == 0 else 4, specials=step_index == 0)
        return g.reshape(SHAPE)

    if first_step > 1:
        # run one unrecorded step, then set the step count so the recorded steps are
        # first_step, first_step+1, ...; the file then has no W_initial (moments are not zero)
        param.grad = from_bits(grad_bits(1)).to(device)
        opt.step()
        st = opt.state[param]
        if device == "cuda":  # the fused kernel reads the count where it lives (on the GPU)
            st["step"].fill_(float(first_step - 1))
        else:
            st["step"] = torch.tensor(float(first_step - 1)) if torch.is_tensor(st["step"]) else first_step - 1
    initial = bf16_bits(param) if first_step == 1 else None
    for i in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = lrs[i]
        g = grad_bits(i)
        param.grad = from_bits(g).to(device)
        data["grad_W"][i] = g
        opt.step()
        st = opt.state[param]
        data["W"][i] = bf16_bits(param)
        data["momentum_W"][i] = bf16_bits(st["exp_avg"])
        data["variance_W"][i] = bf16_bits(st["exp_avg_sq"])
        if amsgrad:
            data["max_variance_W"][i] = bf16_bits(st["max_exp_avg_sq"])
    attrs = {
        "torch_version": str(torch.__version__),
        "impl": impl,
        "device": device,
        "cpu_capability": capability if device == "cpu" else "n/a",
        "num_threads": torch.get_num_threads(),
        "lr": lrs[0],
        "lr_per_step": np.asarray(lrs, dtype=np.float64),
        "beta1": kwargs.get("betas", (0.9, 0.999))[0],
        "beta2": kwargs.get("betas", (0.9, 0.999))[1],
        "eps": kwargs.get("eps", 1e-8),
        "weight_decay": kwargs.get("weight_decay", 0.0 if cls_name == "Adam" else 1e-2),
        "optimizer": cls_name,
        "amsgrad": int(amsgrad),
        "maximize": int(bool(kwargs.get("maximize", False))),
        "first_index_step_count": first_step,
        "grad_dataset": "grad_W",
        "fixture_case": case,
        "flags": json.dumps(flags, sort_keys=True),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "created_by": "scripts/record_release_fixtures.py (scripts/fixture_worker.py)",
    }
    if device == "cuda":
        major, minor = torch.cuda.get_device_capability()
        attrs["created_by"] = "scripts/cuda_device_run.py (scripts/fixture_worker.py --cuda)"
        attrs["gpu"] = torch.cuda.get_device_name()
        attrs["gpu_arch"] = f"sm_{major}{minor}"
        attrs["cuda_runtime"] = str(torch.version.cuda)
    name = f"{impl}-{capability}-{case}.h5"
    path = os.path.join(out_dir, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
    os.close(fd)
    try:
        with h5py.File(tmp, "w", libver="earliest") as f:
            for key, arr in data.items():
                f.create_dataset(key, data=arr)
            if initial is not None:
                f.create_dataset("W_initial", data=initial)
            for key, value in attrs.items():
                f.attrs[key] = value
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return {"file": name, "impl": impl, "case": case, "capability": capability}


def main() -> int:
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    if "--cuda" in sys.argv[2:]:
        capability = "cuda"
        if not torch.cuda.is_available():
            print("--cuda: torch sees no GPU", file=sys.stderr)
            return 1
    else:
        capability = cpu_capability()
        wanted = os.environ.get("ATEN_CPU_CAPABILITY")
        if wanted and wanted != capability:
            print(f"asked for capability {wanted}, torch reports {capability}", file=sys.stderr)
            return 1
    done, unsupported = [], []
    for impl in ("forloop", "foreach", "fused"):
        for case in CUDA_CASES if capability == "cuda" else CASES:
            try:
                done.append(record_case(out_dir, impl, case, capability))
            except (RuntimeError, TypeError, ValueError) as e:
                unsupported.append({"impl": impl, "case": case, "error": str(e).splitlines()[0][:200]})
    print(json.dumps({"torch": str(torch.__version__), "capability": capability, "recorded": done,
                      "unsupported": unsupported}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
