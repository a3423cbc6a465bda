"""Every CPU recipe and kernel function against live torch 2.13.0, on every CPU capability.

One worker process per capability (torch reads ATEN_CPU_CAPABILITY at import).  Each op is checked
exhaustively over the 65,536 bf16 values of its tensor operand, in the vector body and in the
scalar tail; each whole-step case runs real ``torch.optim.AdamW``.
"""

from __future__ import annotations

import pytest

from adamw_audit.crosscheck import crosscheck_cpu
from emulation.recipes.common import CAPABILITIES


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return crosscheck_cpu(CAPABILITIES)


def test_torch_runs_each_capability(rows):
    assert {r["capability"] for r in rows} == set(CAPABILITIES)


def test_every_recipe_and_op_is_bit_exact(rows):
    bad = [r for r in rows if r["exact"] != 1.0]
    assert not bad, bad
    assert sum(r["elements"] for r in rows) > 10_000_000


REFUTABLE = [
    (cap, op)
    for cap in CAPABILITIES
    for op in (
        "lerp_",
        "addcmul_",
        "add_scalar",
        "mul_scalar",
        "div_scalar",
        "addcdiv_",
        "add_tensor",
        "div_tensor",
        "foreach_mul_scalar",
        "add_alpha",
        "neg_",
        "maximum_",
    )
    # DEFAULT writes 0x7FC0 everywhere: "the other NaN pattern" is no alternative there
    if not (cap == "default" and op in ("add_tensor", "div_tensor", "neg_"))
]


@pytest.mark.parametrize(("capability", "op"), REFUTABLE)
def test_checks_can_fail(rows, capability, op):
    """Each op's plausible alternative program (FMA toggled, eps as float32, scalar as bf16,
    quotient first, other NaN pattern) is refuted by torch on some elements: the check has teeth."""
    refuted = sum(
        r["refuted_alternative"] for r in rows if r["recipe"] == f"cpu-op:{op}" and r["capability"] == capability
    )
    assert refuted > 0


@pytest.mark.parametrize("impl", ["forloop", "foreach", "fused"])
def test_whole_steps_cover_sizes_threads_options_and_step_counts(rows, impl):
    steps = [r for r in rows if r["recipe"] == f"torch-2.7-2.14-cpu-{impl}"]
    cases = {r["options"]["case"] for r in steps}
    hypers = {r["options"]["hyper"] for r in steps}
    assert "sizes 1..257, steps 1,2" in cases
    assert any("1000" in c for c in cases)
    assert {r["threads"] for r in steps} == {1, 2}
    assert {r["capability"] for r in steps} == set(CAPABILITIES)
    assert {"Adam L2 wd0.1", "amsgrad,wd0.01", "maximize", "Adam L2+amsgrad+maximize"} <= hypers
    only = {"forloop": {"lr as tensor,wd0.3", "differentiable,wd0.1", "differentiable,lr tensor,amsgrad"},
            "foreach": set(),
            "fused": {"lr as tensor,wd0.3", "GradScaler scale 1024", "GradScaler scale 3, amsgrad",
                      "GradScaler found_inf"}}[impl]  # fmt: skip
    assert only <= hypers
