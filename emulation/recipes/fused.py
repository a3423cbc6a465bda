"""torch 2.13 CPU fused Adam/AdamW (``fused=True``): one kernel, float32 throughout.

aten/src/ATen/native/cpu/FusedAdamKernel.cpp @v2.13.0 (``adam_math`` for reduced floats):
scalars in C++ double (``std::pow``, ``std::sqrt``), each narrowed to float where used; every
element loaded to float32, updated, and only the stored p, m, v rounded to bf16::

    P = p * f32(1 - lr*wd)                     AdamW (Adam: g = fma(p, f32(wd), g))
    M = lerp(m, g, f32(1 - b1))                vec::fmadd, as the lerp kernel
    V = v*f32(b2) + f32(1-b2)*g*g              contraction depends on position, see below
    D = sqrt(V) / f32(sqrt(bc2)) + f32(eps)    (amsgrad: sqrt(max(vmax, V)))
    P = P + (f32(-lr/bc1) * M) / D
    store bf16(P), bf16(M), bf16(V)

The update reads the *unrounded* M and V: W[t] cannot be rebuilt from the recorded bf16 m[t],
v[t] (no state replay).  ``V``: the vector body computes ``fma(f32(1-b2)*g, g, v*f32(b2))``; the
scalar tail (the last ``numel % 16`` elements, see layout.fused_adam) is contracted the other
way, ``fma(v, f32(b2), (f32(1-b2)*g)*g)``.  DEFAULT: no FMA anywhere.
"""

from __future__ import annotations

import math

import numpy as np

from ..program import Bf16, ByPosition, Expr, Program, S, add, div, maximum, mul, neg, sqrt, std_max
from . import cpu_ops as op
from .common import Builder, Hyper, cpu_kernel, unchanged
from .releases import TORCH_2_13, CpuRelease


def source(release: CpuRelease = TORCH_2_13) -> str:
    python = "adam.py _fused_adam" if release.adamw_is_adam else "adamw.py _fused_adamw"
    return f"{release.at('aten/src/ATen/native/cpu/FusedAdamKernel.cpp')} adam_math; torch/optim/{python}"


def program(h: Hyper, step: float, capability: str = "avx512", release: CpuRelease = TORCH_2_13) -> Program:
    k = cpu_kernel(capability)
    b = Builder(f"torch-{release.label}-cpu-fused", source(release))
    let = b.let
    p, g, m, v = b.state()

    if h.found_inf:
        # FusedAdamKernel's caller returns before touching anything when found_inf == 1
        # (aten/src/ATen/native/FusedAdam.cpp); the step count is then decremented again
        return unchanged(b, h)

    # adam_fused_step_impl: doubles, step = state_step.item<float>(); a tensor lr arrives as
    # lr.item<double>(), the double of its float32 value
    lr = float(np.float32(h.lr)) if h.lr_tensor else h.lr
    bias_correction1 = 1 - math.pow(h.beta1, step)
    bias_correction2 = 1 - math.pow(h.beta2, step)
    step_size = lr / bias_correction1
    bias_correction2_sqrt = math.sqrt(bias_correction2)

    if h.grad_scale is not None:
        # grad / float(*grad_scale_ptr), written back into grad as bf16 (GradScaler's unscale)
        inputs_grad_scaled = div(g, S("grad_scale", h.grad_scale))
        g = let("G_unscaled", inputs_grad_scaled, "grad = grad / grad_scale")
        let("g_new", Bf16(g, k.nan), "store grad")
        b.outputs["grad"] = "g_new"
    if h.maximize:
        g = let("G_neg", neg(g), "grad = -grad (float)")
    if h.weight_decay != 0:
        if h.decoupled:
            p = let("P_decayed", mul(p, S("1-lr*wd", 1 - lr * h.weight_decay)), "param * (1 - lr*wd)")
        else:
            g = let("G_l2", k.madd(p, S("wd", h.weight_decay), g), "grad += param * wd")
    m = let("M", op.lerp_weight(k, m, g, S("1-beta1", 1 - h.beta1)), "exp_avg.lerp_(grad, 1 - beta1)")
    c2g2 = mul(mul(S("1-beta2", 1 - h.beta2), g), g)
    if k.contracts_fma:
        body = k.madd(mul(S("1-beta2", 1 - h.beta2), g), g, mul(v, S("beta2", h.beta2)))
        tail = k.madd(v, S("beta2", h.beta2), c2g2)
        v_expr: Expr = ByPosition(body, tail)
    else:
        v_expr = add(mul(v, S("beta2", h.beta2)), c2g2)
    v = let("V", v_expr, "exp_avg_sq * beta2 + (1 - beta2) * grad * grad")
    let("m_new", Bf16(m, k.nan), "store exp_avg")
    let("v_new", Bf16(v, k.nan), "store exp_avg_sq")
    if h.amsgrad:
        vmax = b.amsgrad_state()
        # vector body: at::vec::maximum (NaN from either); scalar tail: std::max (NaN only from
        # the old max) - on every capability, DEFAULT included (measured)
        v = let("VMAX", ByPosition(maximum(vmax, v), std_max(vmax, v)), "max(max_exp_avg_sq, exp_avg_sq)")
        let("vmax_new", Bf16(v, k.nan), "store max_exp_avg_sq")
    d = let("D", add(div(sqrt(v), S("bc2_sqrt", bias_correction2_sqrt)), S("eps", h.eps)), "denom")
    p = let("P", add(p, div(mul(S("-step_size", -step_size), m), d)), "param + (-step_size) * exp_avg / denom")
    let("p_new", Bf16(p, k.nan), "store param")
    return b.program()


SOURCE = source(TORCH_2_13)
