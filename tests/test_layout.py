"""Vector body vs scalar tail: where torch 2.13 writes each NaN pattern, against the layout model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from emulation import bits
from emulation.layout import chunks, tail_mask


def test_chunks_match_parallel_for():
    assert chunks(70001, 2) == [(0, 35001), (35001, 70001)]
    assert chunks(40000, 1) == [(0, 40000)]
    assert chunks(30000, 2) == [(0, 30000)]  # below the grain size: one chunk


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n", [1, 31, 32, 33, 63, 64, 65, 97, 200, 257, 40000, 65537, 70001])
def test_nan_patterns_mark_the_scalar_tail(n, threads):
    """A NaN input to an elementwise kernel comes out 0xFFFF from the vector body and 0x7FC0 from
    the scalar tail (this machine's torch runs its best capability, AVX2 or AVX512)."""
    torch.set_num_threads(threads)
    x = torch.full((n,), float("nan"), dtype=torch.bfloat16)
    out = x.mul_(0.5).view(torch.int16).numpy().view(np.uint16)
    assert set(np.unique(out)) <= {bits.NAN_SCALAR, bits.NAN_VECTOR}
    assert np.array_equal(out == bits.NAN_SCALAR, tail_mask(n, threads))


def test_tail_mask_slices_agree():
    full = tail_mask(70001, 2)
    assert np.array_equal(np.concatenate([tail_mask(70001, 2, 0, 35000), tail_mask(70001, 2, 35000, 70001)]), full)


@pytest.mark.parametrize("n", [1, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100, 257, 40001])
def test_fused_kernel_tail_is_the_last_numel_mod_16(n):
    """The fused CPU kernel writes 0x7FC0 for NaN only in its scalar tail: the last n % 16
    elements, on AVX512 as on AVX2 (layout.fused_adam)."""
    from emulation.layout import fused_adam

    torch.set_num_threads(2)
    p = torch.nn.Parameter(torch.zeros(n, dtype=torch.bfloat16))
    p.grad = torch.full((n,), float("nan"), dtype=torch.bfloat16)
    torch.optim.AdamW([p], fused=True).step()
    out = p.detach().view(torch.int16).numpy().view(np.uint16)
    cap = str(torch.backends.cpu.get_cpu_capability()).lower()
    assert np.array_equal(out == bits.NAN_SCALAR, fused_adam(cap, n, 2)["tail"])
