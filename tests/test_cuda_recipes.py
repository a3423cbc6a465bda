"""CUDA recipes (source-only until a GPU run): they build and run for every option torch allows
on CUDA, differ from the CPU programs exactly where the source says, and the GPU cross-check
refuses honestly when there is no GPU."""

from __future__ import annotations

import numpy as np
import pytest

from adamw_audit.cli import main
from adamw_audit.crosscheck import HYPER_SETS, ONLY_ON, adversarial_bits
from emulation import bits
from emulation.recipes import CATALOG, recipe
from emulation.recipes.common import Hyper
from emulation.replay import run_bits

N = 4096


def state(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {k: adversarial_bits(N, rng) for k in ("param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")}
    return out


@pytest.mark.parametrize("impl", ["forloop", "foreach", "fused"])
@pytest.mark.parametrize("hname", [h for h, v in HYPER_SETS.items() if not (v.lr_tensor or v.differentiable)])
def test_cuda_recipes_run_every_option(impl, hname):
    if impl not in ONLY_ON.get(hname, (impl,)):
        return
    rcp = recipe(impl, "cuda")
    assert rcp.device == "cuda" and rcp.verified_by == "source-only"
    out = run_bits(rcp.build(HYPER_SETS[hname], 10.0, "cuda"), state(), rcp.positions("cuda", N, 1))
    assert {"param", "exp_avg", "exp_avg_sq"} <= set(out) and all(o.dtype == np.uint16 for o in out.values())
    if not HYPER_SETS[hname].found_inf:  # found_inf leaves every bit as it was
        nan = np.isnan(bits.widen(out["param"]))
        assert np.all(out["param"][nan] == bits.NAN_CUDA)  # one NaN pattern, no body/tail split


def test_cuda_differs_from_cpu_where_the_source_says():
    """eps reaches CUDA kernels as float32 (CPU: bf16): where sqrt(v)/sqrt(bc2) is within a few
    hundred ulps of eps the denominators, and so the updates, differ."""
    rng = np.random.default_rng(1)
    h = Hyper()
    s = {k: np.zeros(N, np.uint16) for k in ("param", "grad", "exp_avg", "exp_avg_sq")}
    s["exp_avg"][:] = bits.narrow(np.full(N, 1e-3, np.float32))
    s["exp_avg_sq"][:] = bits.narrow((rng.random(N) * 1e-15).astype(np.float32))
    cpu = recipe("forloop").build(h, 10.0, "avx512")
    cuda = recipe("forloop", "cuda").build(h, 10.0, "cuda")
    from emulation.program import evaluate

    d_cpu = evaluate(cpu, {k: bits.widen(v) for k, v in s.items()})["denom"]
    d_cuda = evaluate(cuda, {k: bits.widen(v) for k, v in s.items()})["denom"]
    assert np.any(d_cpu != d_cuda)
    assert bits.bf16_from_double(1e-8) != np.float32(1e-8)


def test_catalog_is_honest_about_cuda():
    cuda = [r for r in CATALOG.values() if r.device == "cuda"]
    assert {r.impl for r in cuda} == {"forloop", "foreach", "fused"}
    assert all(r.verified_by == "source-only" for r in cuda)  # no GPU run, no fixture yet
    current = [r for r in CATALOG.values() if r.device == "cpu" and r.torch == "2.7-2.14"]
    assert current and all(("2.13.0", "live") in r.verified_releases for r in current)


def test_cuda_crosscheck_refuses_without_a_gpu(capsys):
    import torch

    if torch.cuda.is_available():  # on a GPU machine the real cross-check runs instead
        assert main(["crosscheck", "--device", "cuda", "--quick", "--json"]) == 0
        return
    assert main(["crosscheck", "--device", "cuda"]) == 2
    assert "no CUDA device here" in capsys.readouterr().err
