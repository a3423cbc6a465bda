"""CUDA recipes (no GPU run yet; for-loop and foreach checked against the shipped sm_90 SASS): they
build and run for every option torch allows on CUDA, differ from the CPU programs exactly where
the source says, and the GPU cross-check refuses honestly when there is no GPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adamw_audit.cli import main
from adamw_audit.crosscheck import HYPER_SETS, ONLY_ON, adversarial_bits
from emulation import bits
from emulation.recipes import CATALOG, recipe
from emulation.recipes import cuda as cuda_module
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
    assert rcp.device == "cuda" and rcp.verified_by == ("source-only" if impl == "fused" else "binary")
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
    cuda = {r.impl: r for r in CATALOG.values() if r.device == "cuda"}
    assert set(cuda) == {"forloop", "foreach", "fused"}
    # checked store by store against the shipped sm_90 SASS; fused's device powf is not
    assert cuda["forloop"].verified_by == cuda["foreach"].verified_by == "binary"
    assert cuda["fused"].verified_by == "source-only"
    current = [r for r in CATALOG.values() if r.device == "cpu" and r.torch == "2.7-2.14"]
    assert current and all(("2.13.0", "live") in r.verified_releases for r in current)


SASS = json.loads((Path(__file__).resolve().parents[1] / cuda_module.SASS_REPORT).read_text())


@pytest.mark.parametrize("impl", ["forloop", "foreach"])
@pytest.mark.parametrize(
    "h",
    [
        Hyper(),
        Hyper(weight_decay=0.1, amsgrad=True, maximize=True),
        Hyper(weight_decay=0.1, decoupled=False),
        Hyper(beta1=0.3, beta2=0.0),
    ],
)
def test_every_store_of_a_binary_recipe_comes_from_a_kernel_whose_sass_checks_pass(impl, h):
    """The 'binary' claim, kept honest offline: each stored value of the program maps to a shipped
    kernel, and every claim scripts/check_cuda_sass.py made about that kernel passed."""
    assert SASS["failed"] == [] and SASS["provenance"]["arch"] == "sm_90"
    program = recipe(impl, "cuda").build(h, 3.0, "cuda")
    for a in program.assigns:
        key = f"{impl}.{cuda_module.KERNEL_OF[impl][a.target]}"
        claims = SASS["kernels"][key]["claims"]
        assert claims and all(c["result"] == "pass" for c in claims), key


def test_addcmul_at_value_one_keeps_the_product_unrounded():
    """SASS: both addcmul kernels branch on value == 1 (beta2 == 0) to fma(t1, t2, self)."""
    for impl in ("forloop", "foreach"):
        at_one = {a.target: str(a.expr) for a in recipe(impl, "cuda").build(Hyper(beta2=0.0), 1.0, "cuda").assigns}
        other = {a.target: str(a.expr) for a in recipe(impl, "cuda").build(Hyper(beta2=0.5), 1.0, "cuda").assigns}
        assert at_one["v_new"].startswith("bf16(fma(grad, grad,")
        assert other["v_new"].startswith("bf16(fma(f32(1-beta2), (grad * grad),")


def test_cuda_crosscheck_refuses_without_a_gpu(capsys):
    import torch

    if torch.cuda.is_available():  # on a GPU machine the real cross-check runs instead
        assert main(["crosscheck", "--device", "cuda", "--quick", "--json"]) == 0
        return
    assert main(["crosscheck", "--device", "cuda"]) == 2
    assert "no CUDA device here" in capsys.readouterr().err
