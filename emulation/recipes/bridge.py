"""From the seed notebook's program to a torch path's, one named difference at a time.

``explain`` needs counterfactuals: "had the seed done *this one thing* as torch does, would it
have produced the recorded bit?"  :func:`program` builds the W-update of the seed notebook with
any subset of the differences below switched to the torch path's way.  With no switch on it *is*
the seed program (seed.py); with every relevant switch on it computes W[t] exactly as the path
does (checked on every explained element at run time: an element where the all-on program does
not reproduce the torch recipe counts as unexplained, so this family cannot drift silently from
the recipes; tests/test_explain.py checks both endpoints on adversarial data).

The differences (a closed list; :data:`CAUSES` is what reports print):

=========================  ================================================================
``step_count``             bias corrections use the optimizer's step count (index t + offset)
                           instead of the array index t
``hyper_parameters``       the file's lr, betas, eps instead of the seed's
``bias_correction_folded`` no m̂: 1/(1-β1^t) folded into the step size ``lr/bc1`` (double), so
                           m is never divided and rounded to bf16 on its own
``v_hat_unrounded``        v̂ = v/(1-β2^t) not rounded to bf16 before the sqrt
``sqrt_then_divide``       ``sqrt(v) / sqrt(bc2)`` (torch: two ops) instead of ``sqrt(v̂)``
``eps_precision``          eps as the path passes it (float32 on fused/CUDA) instead of bf16
``denominator_unrounded``  the denominator kept in float32 (one fused kernel)
``numerator_unrounded``    ``step_size * m`` not rounded to bf16 before the division
``update_unrounded``       the update not rounded to bf16 before the add (``addcdiv`` adds in
                           float32)
``quotient_first_fma``     ``fma(c, m/denom, p)``: quotient first, one rounding (CUDA foreach)
``weight_decay``           the decoupled decay ``p * (1 - lr*wd)`` the seed leaves out
``unrounded_moments``      W updated from float32 m, v (fused), not from the stored bf16 ones
``amsgrad_max``            the denominator from amsgrad's running maximum of v, not v itself
=========================  ================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Literal

from ..program import Assign, Bf16, Expr, NanRule, Program, S, T, add, div, fma, mul, sqrt
from . import cuda
from .common import Hyper, kernel
from .releases import CPU_RELEASES, CpuRelease

CAUSES: dict[str, str] = {
    "step_count": "bias correction uses step t+offset, not the array index t",
    "hyper_parameters": "the file's lr/betas/eps, not the seed's",
    "bias_correction_folded": "no m̂: bias correction folded into lr/bc1 (m̂ never rounded to bf16)",
    "v_hat_unrounded": "v̂ not rounded to bf16 before sqrt",
    "sqrt_then_divide": "sqrt(v)/sqrt(bc2) instead of sqrt(v̂)",
    "eps_precision": "eps as the path passes it (float32), not bf16",
    "denominator_unrounded": "denominator kept in float32",
    "numerator_unrounded": "step_size*m not rounded to bf16",
    "update_unrounded": "update not rounded to bf16 before the add",
    "quotient_first_fma": "fma(c, m/denom, p): quotient first, one rounding",
    "weight_decay": "the decoupled weight decay the seed omits",
    "unrounded_moments": "update from float32 m, v, not the stored bf16",
    "amsgrad_max": "denominator from amsgrad's max of v, not v",
}


@dataclass(frozen=True)
class UpdateFacts:
    """How a torch path computes W[t] from W[t-1], m, v: each field one seed/torch difference."""

    decay: Literal["mul_f32", "mul_bf16", "f32_unrounded"]
    eps_via: Literal["bf16", "f32"]
    denominator: Literal["rounded", "float32"]
    update: Literal["product_first", "quotient_first_fma"]
    moments: Literal["recorded", "unrounded"]
    bc2_sqrt: Literal["pow", "sqrt"] = "pow"  # Python ``bc2 ** 0.5`` or C++ ``std::sqrt(bc2)``
    bc2_division: Literal["divide", "divide_bf16", "reciprocal"] = "divide"
    """CPU: a float32 division by f32(x); torch <= 2.0 CPU: by bf16(x); CUDA tensor/scalar: times f32(1/x)"""


def _cpu_facts(row: CpuRelease) -> dict[str, UpdateFacts]:
    """The W-update facts of one release row's CPU paths (releases.py switches)."""
    scalar = "mul_f32" if row.mul_scalar_via == "f32" else "mul_bf16"
    division = "divide" if row.mul_scalar_via == "f32" else "divide_bf16"
    root = "pow" if row.bc2_sqrt == "pow" else "sqrt"
    out = {
        # forloop.py: param.mul_(scalar), (sqrt -> / -> + bf16(eps)) each rounded, addcdiv product first
        f"torch-{row.label}-cpu-forloop": UpdateFacts(scalar, "bf16", "rounded", "product_first", "recorded", root,
                                                      division),
        # foreach.py: as the for-loop, but _foreach_mul_ rounds its scalar to bf16
        f"torch-{row.label}-cpu-foreach": UpdateFacts("mul_bf16", "bf16", "rounded", "product_first", "recorded",
                                                      root, division),
    }  # fmt: skip
    if row.fused_cpu:
        # fused.py: one float32 kernel on unrounded m, v
        out[f"torch-{row.label}-cpu-fused"] = UpdateFacts(
            "f32_unrounded", "f32", "float32", "product_first", "unrounded", "sqrt"
        )
    return out


FACTS: dict[str, UpdateFacts] = {
    **{name: facts for row in CPU_RELEASES for name, facts in _cpu_facts(row).items()},
    # cuda.py: eps as float, addcdiv as fma(c, m/denom, p); single-tensor divides by multiplying
    # with a double reciprocal
    f"torch-{cuda.RANGE}-cuda-forloop": UpdateFacts(
        "mul_f32", "f32", "rounded", "quotient_first_fma", "recorded", bc2_division="reciprocal"
    ),
    f"torch-{cuda.RANGE}-cuda-foreach": UpdateFacts("mul_f32", "f32", "rounded", "quotient_first_fma", "recorded"),
}


def relevant(facts: UpdateFacts, seed_h: Hyper, true_h: Hyper, index: int, step: float) -> tuple[str, ...]:
    """The differences that can matter between the seed and this path at this step."""
    out = []
    if step != index:
        out.append("step_count")
    if (seed_h.lr, seed_h.beta1, seed_h.beta2, seed_h.eps) != (true_h.lr, true_h.beta1, true_h.beta2, true_h.eps):
        out.append("hyper_parameters")
    out += ["bias_correction_folded", "v_hat_unrounded", "sqrt_then_divide"]
    if facts.eps_via == "f32":
        out.append("eps_precision")
    if facts.denominator == "float32":
        out.append("denominator_unrounded")
    if facts.update == "quotient_first_fma":
        out.append("quotient_first_fma")
    else:
        out += ["numerator_unrounded", "update_unrounded"]
    if true_h.decoupled and true_h.weight_decay != 0:
        out.append("weight_decay")
    if facts.moments == "unrounded":
        out.append("unrounded_moments")
    if true_h.amsgrad:
        out.append("amsgrad_max")
    return tuple(out)


def program(
    seed_h: Hyper,
    true_h: Hyper,
    index: int,
    step: float,
    facts: UpdateFacts,
    on: frozenset[str] | set[str],
    capability: str = "avx512",
) -> Program:
    """The seed's W-update with the differences in ``on`` done the torch path's way.

    Inputs: ``param`` = W[t-1]; ``exp_avg``, ``exp_avg_sq`` = the recorded bf16 m[t], v[t];
    ``exp_avg_f32``, ``exp_avg_sq_f32`` = the path's unrounded float32 moments (only read with
    ``unrounded_moments``); ``max_exp_avg_sq`` (``_f32``) = amsgrad's maximum (with
    ``amsgrad_max``).  Output ``param``.  Assignment names are shared by every member of
    the family, so two members' traces align op by op.
    """
    unknown = set(on) - set(CAUSES)
    if unknown:
        raise ValueError(f"unknown differences: {sorted(unknown)}")
    k = kernel(capability)
    h = true_h if "hyper_parameters" in on else seed_h
    t = step if "step_count" in on else float(index)
    bc1 = 1 - h.beta1**t
    bc2 = 1 - h.beta2**t
    assigns: list[Assign] = []

    def let(name: str, value: Expr, rounded: bool, what: str, nan: NanRule = k.nan) -> T:
        assigns.append(Assign(name, Bf16(value, nan) if rounded else value, what))
        return T(name)

    sqrt_nan: NanRule = "cuda" if k.nan == "cuda" else "vector" if k.contracts_fma else "scalar"  # cpu_ops.sqrt_

    moments_f32 = "unrounded_moments" in on
    suffix = "_f32" if moments_f32 else ""
    v_name = ("max_exp_avg_sq" if "amsgrad_max" in on else "exp_avg_sq") + suffix
    m, v = T("exp_avg" + suffix), T(v_name)
    p: Expr = T("param")
    inputs = ["param", "exp_avg" + suffix, v_name]

    if "weight_decay" in on and true_h.decoupled and true_h.weight_decay != 0:
        decay = 1 - h.lr * true_h.weight_decay
        via = "bf16" if facts.decay == "mul_bf16" else "f32"
        p = let("p_decayed", mul(p, S("1-lr*wd", decay, via)), facts.decay != "f32_unrounded", "param * (1 - lr*wd)")

    den_rounded = not ("denominator_unrounded" in on and facts.denominator == "float32")
    if "sqrt_then_divide" in on:
        root = let("root", sqrt(v), den_rounded, "sqrt(v)", sqrt_nan)
        bc2_sqrt = math.sqrt(bc2) if facts.bc2_sqrt == "sqrt" else bc2**0.5
        if facts.bc2_division == "reciprocal":
            scaled = let("scaled", mul(root, S("1/sqrt(bc2)", 1.0 / bc2_sqrt)), den_rounded, "* (1/sqrt(1 - beta2^t))")
        else:
            via = "bf16" if facts.bc2_division == "divide_bf16" else "f32"
            scaled = let("scaled", div(root, S("sqrt(bc2)", bc2_sqrt, via)), den_rounded, "/ sqrt(1 - beta2^t)")
    else:
        v_hat = let("v_hat", div(v, S("bc2", bc2)), "v_hat_unrounded" not in on, "v / (1 - beta2^t)")
        scaled = let("root", sqrt(v_hat), True, "sqrt(v_hat)", sqrt_nan)
    eps_via = "f32" if ("eps_precision" in on and facts.eps_via == "f32") else "bf16"
    denom = let("denom", add(scaled, S("eps", h.eps, eps_via)), den_rounded, "+ eps")

    if "bias_correction_folded" in on:
        coef, m_term = S("-lr/bc1", -(h.lr / bc1)), m
    else:
        coef, m_term = S("-lr", -h.lr), let("m_hat", div(m, S("bc1", bc1)), True, "m / (1 - beta1^t)")
    if "quotient_first_fma" in on and facts.update == "quotient_first_fma":
        let("p_new", fma(coef, div(m_term, denom), p), True, "fma(c, m/denom, param)")
    else:
        numer = let("numer", mul(m_term, coef), "numerator_unrounded" not in on, "step size * m")
        update = let("update", div(numer, denom), "update_unrounded" not in on, "/ denom")
        let("p_new", add(p, update), True, "param + update")
    return Program("seed->torch", "emulation/recipes/bridge.py", tuple(inputs), tuple(assigns), {"param": "p_new"})


def subsets(switches: tuple[str, ...]):
    """Every subset of ``switches``, smallest first (the search order of minimal explanations)."""
    for size in range(1, len(switches) + 1):
        yield from (frozenset(c) for c in combinations(switches, size))


def seed_hyper(true_h: Hyper) -> Hyper:
    """The seed notebook's hyper-parameters (its constants), with the path's flags."""
    return replace(true_h, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
