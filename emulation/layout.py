"""Where a CPU kernel runs its vector body and where its scalar tail.

Measured on torch 2.13.0 (AVX2 and AVX512 kernels, 1 and 2 threads; tests/test_layout.py keeps
it measured): an elementwise bf16 kernel over a contiguous tensor of ``numel`` elements is split
by ``at::parallel_for(0, numel, grain=32768)`` into ``min(threads, ceil(numel/32768))`` chunks of
``ceil(numel/chunks)`` elements (aten/src/ATen/ParallelOpenMP.h @2.13), and inside each chunk the
vectorised loop takes blocks of 32 elements; the last ``chunk_len % 32`` elements of every chunk
go through the scalar ``op`` lambda::

    chunk 0                               chunk 1
    [ body x32 | body x32 | ... | tail<32 ][ body x32 | ... | tail<32 ]

The DEFAULT capability has no vector body in the sense that matters here (every element takes
the scalar conversion), which callers express as an all-tail mask.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

GRAIN_SIZE = 32768
BLOCK = 32


def chunks(numel: int, threads: int, grain: int = GRAIN_SIZE) -> list[tuple[int, int]]:
    """``[begin, end)`` of each parallel chunk, as ``at::parallel_for`` splits them."""
    if numel <= 0:
        return []
    if threads <= 1 or numel < grain:
        return [(0, numel)]
    n_chunks = min(threads, -(-numel // grain))
    size = -(-numel // n_chunks)
    return [(b, min(b + size, numel)) for b in range(0, numel, size)]


def tail_mask(
    numel: int,
    threads: int,
    start: int = 0,
    stop: int | None = None,
    block: int = BLOCK,
) -> npt.NDArray[np.bool_]:
    """Boolean mask over flat elements ``[start, stop)``: True where the scalar tail runs."""
    stop = numel if stop is None else stop
    mask = np.zeros(stop - start, dtype=bool)
    for b, e in chunks(numel, threads):
        t0 = e - (e - b) % block
        lo, hi = max(t0, start), min(e, stop)
        if lo < hi:
            mask[lo - start : hi - start] = True
    return mask


def elementwise(capability: str, numel: int, threads: int, start: int = 0, stop: int | None = None) -> dict:
    """Layout masks of a TensorIterator elementwise kernel: ``{"tail": ...}``.  DEFAULT has the same
    split (its emulated vectors hold 16 bf16); it shows only where the body moves bits without
    converting (``maximum``'s NaN payload)."""
    return {"tail": tail_mask(numel, threads, start, stop)}


def elementwise_avx512_block64(
    capability: str, numel: int, threads: int, start: int = 0, stop: int | None = None
) -> dict:
    """:func:`elementwise` as torch 1.13 and 2.0 run it: on AVX512 the vectorised loop takes blocks
    of 64 bf16 (two 32-lane vectors), so the scalar tail is the last ``chunk_len % 64`` elements;
    AVX2 and DEFAULT as in 2.13.  Measured: golden fixtures of 1.13.1 and 2.0.1, where the add
    kernel's body (FMA) and tail (rounded product) differ on elements 384..415 of 437."""
    block = 64 if capability == "avx512" else BLOCK
    return {"tail": tail_mask(numel, threads, start, stop, block)}


elementwise_avx512_block64.by_capability = True  # type: ignore[attr-defined]


def fused_adam(capability: str, numel: int, threads: int, start: int = 0, stop: int | None = None) -> dict:
    """Layout masks of the CPU fused Adam kernel (aten/src/ATen/native/cpu/FusedAdamKernel.cpp).

    ``adam_fused_step_impl`` splits the tensor into 64-byte units (32 bf16) across threads, so
    every chunk but the last is a whole number of vectors and threads do not matter.  The source's
    scalar loop covers the last ``numel % lpVec::size()`` elements (32 on AVX512, 16 on AVX2),
    but on AVX512 the compiled kernel runs the first 16-element block of that remainder with
    vector code too (contraction and NaN pattern of the body: measured, tests/test_crosscheck.py),
    so on both the scalar ``"tail"`` is the last ``numel % 16`` elements.  DEFAULT: the same
    (its emulated vectors hold 16 bf16), visible only through ``maximum`` vs ``std::max``.
    """
    stop = numel if stop is None else stop
    first_tail = numel - numel % 16
    return {"tail": np.arange(start, stop) >= first_tail}


def uniform(capability: str, numel: int, threads: int, start: int = 0, stop: int | None = None) -> dict:
    """No position dependence (CUDA kernels: every element runs the same code)."""
    return {}
