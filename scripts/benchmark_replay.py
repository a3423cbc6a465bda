"""Replay throughput of the for-loop recipe vs torch's own ``optimizer.step()``, in one run.

Both sides do one AdamW step on the same 10000x64 bf16 tensors (W, grad, m, v):
torch with ``torch.optim.AdamW(foreach=False)`` on the CPU, the emulator with the NumPy recipe in
chunks of 2^17 elements (what ``verify`` does, minus HDF5 reads).  Prints elements/s for each and
the ratio; the CPU capability and thread count are printed with it.  Not a test: nothing asserts
on time.

    python scripts/benchmark_replay.py [--steps 20] [--shape 10000x64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from emulation.recipes import Hyper, recipe
from emulation.replay import run_bits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--shape", default="10000x64")
    ap.add_argument("--chunk", type=int, default=1 << 17)
    args = ap.parse_args()
    shape = tuple(int(x) for x in args.shape.split("x"))
    n = int(np.prod(shape))
    cap = str(torch.backends.cpu.get_cpu_capability()).lower()
    threads = torch.get_num_threads()

    gen = torch.Generator().manual_seed(0)
    p = torch.nn.Parameter(torch.randn(shape, generator=gen).to(torch.bfloat16))
    opt = torch.optim.AdamW([p], lr=1e-3, foreach=False)
    grads = [(torch.randn(shape, generator=gen) * 1e-2).to(torch.bfloat16) for _ in range(args.steps)]

    def ub(t):
        return t.detach().contiguous().view(torch.int16).numpy().view(np.uint16).reshape(-1).copy()

    p.grad = grads[0]
    opt.step()  # warm up, create state
    t0 = time.perf_counter()
    for g in grads:
        p.grad = g
        opt.step()
    torch_s = (time.perf_counter() - t0) / args.steps

    st = opt.state[p]
    state = {"param": ub(p), "grad": ub(grads[0]), "exp_avg": ub(st["exp_avg"]), "exp_avg_sq": ub(st["exp_avg_sq"])}
    rcp = recipe("forloop")
    t0 = time.perf_counter()
    for i in range(args.steps):
        program = rcp.build(Hyper(), float(i + 2), cap)
        for a in range(0, n, args.chunk):
            b = min(a + args.chunk, n)
            run_bits(program, {k: v[a:b] for k, v in state.items()}, rcp.positions(cap, n, threads, a, b))
    emu_s = (time.perf_counter() - t0) / args.steps

    print(f"shape {args.shape} ({n:,} elements), torch {torch.__version__}, capability {cap}, threads {threads}")
    print(f"torch optimizer.step():  {torch_s * 1e3:8.2f} ms/step  {n / torch_s / 1e6:8.1f} M elements/s")
    print(f"emulator replay (NumPy): {emu_s * 1e3:8.2f} ms/step  {n / emu_s / 1e6:8.1f} M elements/s")
    print(f"ratio emulator/torch time: {emu_s / torch_s:.1f}x slower")


if __name__ == "__main__":
    main()
