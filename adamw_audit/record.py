"""Record a real torch AdamW run in the seed layout (needs torch; ``pip install .[torch]``).

The model is a bf16 linear least-squares problem whose parameter ``W`` has the requested shape
(10000x64 like the seed): ``loss = mean((x @ W - y)^2)`` on fresh random batches, with targets
from a fixed random teacher, so gradients are real autograd bf16 gradients of varied magnitude.
For a 1-D shape ``W`` is a bias-like vector (``loss = mean((x * W - y)^2)``).

Recording order is the seed's: ``loss.backward()``; record grad; ``optimizer.step()``; record W,
m, v.  Attributes state everything a replay needs: torch version, impl, device, CPU capability,
threads, hyper-parameters, lr per step, the step convention, plus ``W_initial``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from emulation.recipes.common import Hyper
from refimpl.conventions import DEFAULT_STEP_OFFSET, validate
from refimpl.errors import AuditError
from refimpl.recording import DEFAULT_GRAD, MAX_SQ_DATASET, RecordingWriter

IMPLS = ("forloop", "foreach", "fused")


def _torch():
    try:
        import torch
    except ImportError:
        raise AuditError(
            "recording needs torch: pip install 'torch==2.13.0' (or the project's [torch] extra)"
        ) from None
    return torch


def bits_of(t) -> np.ndarray:
    """A bf16 tensor's bit patterns as uint16 (a view, no rounding)."""
    torch = _torch()
    return t.detach().contiguous().view(torch.int16).cpu().numpy().view(np.uint16).copy()


def record(
    out: str | os.PathLike[str],
    steps: int = 20,
    shape: Sequence[int] = (10000, 64),
    impl: str = "forloop",
    lr: Sequence[float] = (1e-3,),
    hyper: Hyper | None = None,
    seed: int = 0,
    batch: int = 32,
    threads: int | None = None,
    grad_name: str = DEFAULT_GRAD,
    device: str = "cpu",
) -> Path:
    """Train, record every step, and write ``out`` atomically.  Returns the path.

    ``device="cuda"``: the same data (drawn on the CPU from the seed) and the optimizer on the
    first GPU; the attributes then name the GPU instead of a CPU capability."""
    torch = _torch()
    hyper = hyper or Hyper()
    if device not in ("cpu", "cuda"):
        raise AuditError(f"--device must be cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise AuditError("record --device cuda: no CUDA device here (torch.cuda.is_available() is False)")
    if impl not in IMPLS:
        raise AuditError(f"unknown impl {impl!r} (known: {', '.join(IMPLS)})")
    if steps < 1:
        raise AuditError(f"--steps must be >= 1, got {steps}")
    if not shape or any(int(d) < 1 for d in shape):
        raise AuditError(f"--shape must be positive sizes like 10000x64, got {'x'.join(map(str, shape))}")
    if len(lr) not in (1, steps):
        raise AuditError(f"--lr: expected 1 value or one per step ({steps}), got {len(lr)}")
    lrs = [float(x) for x in (lr if len(lr) == steps else list(lr) * steps)]
    for x in lrs:
        validate(Hyper(x, hyper.beta1, hyper.beta2, hyper.eps, hyper.weight_decay))
    if threads is not None:
        torch.set_num_threads(int(threads))
    shape = tuple(int(d) for d in shape)
    gen = torch.Generator().manual_seed(seed)
    rows = shape[0]
    w = torch.nn.Parameter((torch.randn(shape, generator=gen) * 0.05).to(torch.bfloat16).to(device))
    teacher = (torch.randn(shape, generator=gen) * 0.05).to(torch.bfloat16).to(device)
    flags = {"foreach": impl == "foreach", "fused": impl == "fused"}
    cls = torch.optim.AdamW if hyper.decoupled else torch.optim.Adam
    opt = cls(
        [w], lr=lrs[0], betas=(hyper.beta1, hyper.beta2), eps=hyper.eps, weight_decay=hyper.weight_decay,
        amsgrad=hyper.amsgrad, maximize=hyper.maximize, **flags,
    )  # fmt: skip
    extra = (MAX_SQ_DATASET,) if hyper.amsgrad else ()
    writer = RecordingWriter(out, shape, steps, grad_name, extra)
    try:
        writer.write_initial(bits_of(w))
        for i in range(steps):
            for group in opt.param_groups:
                group["lr"] = lrs[i]
            opt.zero_grad(set_to_none=True)
            x = torch.randn((batch, rows), generator=gen).to(torch.bfloat16).to(device)
            if len(shape) == 1:
                loss = ((x * w - x * teacher) ** 2).mean()
            else:
                flat_w, flat_t = w.reshape(rows, -1), teacher.reshape(rows, -1)
                loss = ((x @ flat_w - x @ flat_t) ** 2).mean()
            loss.backward()
            writer.write_step(i, **{grad_name: bits_of(w.grad)})
            opt.step()
            st = opt.state[w]
            writer.write_step(i, W=bits_of(w), momentum_W=bits_of(st["exp_avg"]), variance_W=bits_of(st["exp_avg_sq"]))
            if hyper.amsgrad:
                writer.write_step(i, **{MAX_SQ_DATASET: bits_of(st["max_exp_avg_sq"])})
        writer.set_attrs(
            {
                "torch_version": str(torch.__version__),
                "impl": impl,
                "device": device,
                "cpu_capability": str(torch.backends.cpu.get_cpu_capability()).lower() if device == "cpu" else "n/a",
                **({"gpu": torch.cuda.get_device_name()} if device == "cuda" else {}),
                "num_threads": torch.get_num_threads(),
                "lr": lrs[0],
                "lr_per_step": np.asarray(lrs, dtype=np.float64),
                "beta1": hyper.beta1,
                "beta2": hyper.beta2,
                "eps": hyper.eps,
                "weight_decay": hyper.weight_decay,
                "optimizer": "AdamW" if hyper.decoupled else "Adam",
                "amsgrad": int(hyper.amsgrad),
                "maximize": int(hyper.maximize),
                "first_index_step_count": DEFAULT_STEP_OFFSET,
                "step_convention": "seed order: grad recorded before optimizer.step(); W, momentum_W, "
                "variance_W after it; index i holds the state after step i+1",
                "grad_dataset": grad_name,
                "seed": seed,
                "machine": platform.machine(),
                "created_by": "adamw-audit record",
            }
        )
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


def record_emulated(
    out: str | os.PathLike[str],
    recipe_name: str,
    steps: int = 10,
    shape: Sequence[int] = (400, 8),
    lr: Sequence[float] = (1e-3,),
    hyper: Hyper | None = None,
    seed: int = 0,
    capability: str = "cuda",
    seen_scaled: Mapping[int, float] | None = None,
    threads: int = 1,
) -> Path:
    """A recording written by the emulator instead of torch: every step of W, m and v comes from
    ``recipe_name``'s op program (emulation/recipes), for the paths this machine cannot run (CUDA
    fused without a GPU).  Such a file stands for torch only as far as the recipe's own evidence
    goes (the catalog's ``verified_by``); its ``created_by`` says "emulator", never torch.

    No torch: the gradient is that of a bf16 quadratic, ``g = bf16(2 (W - teacher) + noise)``
    drawn with NumPy from ``seed`` (its magnitude varies over the elements like a real one's).
    ``seen_scaled``: {row: k}, rows whose gradient the optimizer saw as ``bf16(g * f32(k))`` while
    the file keeps g (``clip_grad_norm_``'s in-place ``mul_`` after the recording hook).
    ``threads``: the CPU kernels' parallel chunks (emulation/layout.py), each with its own tail."""
    from emulation import bits
    from emulation.recipes import recipe
    from emulation.replay import run_bits

    rcp = recipe(recipe_name)
    hyper = hyper or Hyper()
    if len(lr) not in (1, steps):
        raise AuditError(f"lr: expected 1 value or one per step ({steps}), got {len(lr)}")
    lrs = [float(x) for x in (lr if len(lr) == steps else list(lr) * steps)]
    shape = tuple(int(d) for d in shape)
    numel = int(np.prod(shape))
    rng = np.random.default_rng(seed)

    def bf16(x: np.ndarray) -> np.ndarray:
        return bits.narrow(np.asarray(x, np.float32))

    w = bf16(rng.standard_normal(numel) * 0.05)
    teacher = rng.standard_normal(numel) * 0.05
    scale = np.exp(rng.uniform(-3, 1, numel))  # per-element gradient scale: magnitudes spread like a model's
    m = np.zeros(numel, np.uint16)
    v = np.zeros(numel, np.uint16)
    positions = rcp.positions(capability, numel, threads)
    writer = RecordingWriter(out, shape, steps)
    try:
        writer.write_initial(w.reshape(shape))
        for i in range(steps):
            noise = rng.standard_normal(numel) * 0.02
            g = bf16((2 * (bits.widen(w).astype(np.float64) - teacher) + noise) * scale * 1e-2)
            prog = rcp.build(replace(hyper, lr=lrs[i]), float(i + 1), capability)
            seen = g
            if seen_scaled and i in seen_scaled:
                seen = bf16(bits.widen(g) * np.float32(seen_scaled[i]))
            new = run_bits(prog, {"param": w, "grad": seen, "exp_avg": m, "exp_avg_sq": v}, positions)
            w, m, v = new["param"], new["exp_avg"], new["exp_avg_sq"]
            writer.write_step(i, grad_W=g.reshape(shape), W=w.reshape(shape), momentum_W=m.reshape(shape),
                              variance_W=v.reshape(shape))  # fmt: skip
        attrs = {
            "created_by": f"adamw-audit record_emulated (the emulator's {rcp.name}, not torch)",
            "impl": rcp.impl,
            "device": rcp.device,
            "lr_per_step": np.asarray(lrs, dtype=np.float64),
            "beta1": hyper.beta1,
            "beta2": hyper.beta2,
            "eps": hyper.eps,
            "weight_decay": hyper.weight_decay,
            "first_index_step_count": DEFAULT_STEP_OFFSET,
            "seed": seed,
        }
        if rcp.device == "cpu" and capability in ("avx512", "avx2", "default"):  # (verify replays this build)
            attrs["cpu_capability"], attrs["num_threads"] = capability, threads
        if seen_scaled:  # (provenance only: no reader of the seed layout knows these)
            rows = sorted(seen_scaled)
            attrs["seen_scaled_rows"] = np.asarray(rows, dtype=np.int64)
            attrs["seen_scaled_factors"] = np.asarray([seen_scaled[r] for r in rows], dtype=np.float64)
        writer.set_attrs(attrs)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise
