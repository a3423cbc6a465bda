"""torch CPU single-tensor Adam/AdamW (``foreach=False``, ``fused=False``; the CPU default).

    step      += 1                               step = float(state_steps[i].item())
    grad       = -grad                            if maximize
    param      = param * (1 - lr*wd)              if wd != 0 (AdamW; Adam: grad += wd*param)
    exp_avg    = lerp(exp_avg, grad, 1 - b1)      (<= 2.0: exp_avg * b1 + grad * (1 - b1))
    exp_avg_sq = exp_avg_sq * b2 + (1 - b2) * grad * grad
    max_sq     = maximum(max_sq, exp_avg_sq)      if amsgrad (and denom uses it)
    denom      = sqrt(exp_avg_sq) / sqrt(1 - b2**step) + eps
    param      = param + (-lr / (1 - b1**step)) * exp_avg / denom

Every line is one torch call on bf16 tensors (float32 inside, rounded to bf16 on store); the
kernels are in cpu_ops.py.  Source: torch/optim/adam.py ``_single_tensor_adam`` @v2.13.0
(AdamW = Adam(decoupled_weight_decay=True)), which computes the scalars below in Python doubles;
torch/optim/adamw.py ``_single_tensor_adamw`` @v1.13.1 and @v2.0.1 for the older releases, whose
differences are the switches of releases.CpuRelease.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..program import Program, S
from . import cpu_ops as op
from .common import Builder, Hyper, cpu_kernel
from .releases import TORCH_2_13, CpuRelease


def program(h: Hyper, step: float, capability: str = "avx512", release: CpuRelease = TORCH_2_13) -> Program:
    """One step of the for-loop path at optimizer step count ``step`` (1 for the first step)."""
    k = cpu_kernel(capability)
    b = Builder(f"torch-{release.label}-cpu-forloop", source(release))
    call = b.let
    p, g, m, v = b.state()
    via = release.mul_scalar_via  # how mul_/div by a Python float reads it

    host = _host_scalars(h, step, release)

    if h.maximize:
        g = call("g_neg", op.neg_(k, g), "grad = -grads[i]")
    if h.decoupled and (h.weight_decay != 0 or release.forloop_decay_always):
        p = call("p_decayed", op.mul_scalar(k, p, S("1-lr*wd", host.decay, via)), "param.mul_(1 - lr * wd)")
    elif h.weight_decay != 0 and not h.decoupled:
        g = call("g_l2", op.add_alpha(k, g, p, S("wd", h.weight_decay, "bf16")), "grad.add(param, alpha=wd)")
    if release.momentum == "lerp":
        m = call("m_new", op.lerp_(k, m, g, S("1-beta1", 1 - h.beta1)), "exp_avg.lerp_(grad, 1 - beta1)")
    else:
        m = call("m_decayed", op.mul_scalar(k, m, S("beta1", h.beta1, via)), "exp_avg.mul_(beta1)")
        m = call("m_new", op.add_alpha(k, m, g, S("1-beta1", 1 - h.beta1, "bf16")), ".add_(grad, alpha=1 - beta1)")
    v = call("v_decayed", op.mul_scalar(k, v, S("beta2", h.beta2, via)), "exp_avg_sq.mul_(beta2)")
    v = call("v_new", op.addcmul_(k, v, g, g, S("1-beta2", 1 - h.beta2)), ".addcmul_(grad, grad, value=1 - beta2)")
    if h.amsgrad:
        v = call("vmax_new", op.maximum_(k, b.amsgrad_state(), v), "torch.maximum(max_sq, exp_avg_sq, out=max_sq)")
    d = call("v_sqrt", op.sqrt_(k, v), "exp_avg_sq.sqrt()")
    if not h.differentiable:
        d = call("denom_div", op.div_scalar(k, d, S("bc2_sqrt", host.bc2_sqrt, via)), "/ bias_correction2_sqrt")
        d = call("denom", op.add_scalar(k, d, S("eps", h.eps, "bf16")), ".add_(eps)")
        call("p_new", op.addcdiv_(k, p, m, d, S("-step_size", -host.step_size)), "param.addcdiv_(m, denom, value=-ss)")
    else:
        # (exp_avg_sq.sqrt() / (bc2_sqrt * step_size_neg)).add_(eps / step_size_neg): 0-dim float32
        # tensors; div reads its CPU scalar as float, add_ casts it to bf16
        d = call("denom_div", op.div_scalar(k, d, S("bc2_sqrt*ss_neg", host.bc2_sqrt_x_ss_neg)), "/ (bc2_sqrt*ss_neg)")
        d = call("denom", op.add_scalar(k, d, S("eps/ss_neg", host.eps_over_ss_neg, "bf16")), ".add_(eps / ss_neg)")
        call("p_new", op.addcdiv_(k, p, m, d, S("1", 1.0)), "param.addcdiv_(exp_avg, denom)")
    return b.program()


@dataclass(frozen=True)
class HostScalars:
    """What adam.py computes on the host before any kernel runs (values as doubles)."""

    decay: float
    step_size: float
    bc2_sqrt: float
    bc2_sqrt_x_ss_neg: float = 0.0
    eps_over_ss_neg: float = 0.0


def source(release: CpuRelease) -> str:
    """adam.py's ``_single_tensor_adam`` runs AdamW from 2.7 on; before, adamw.py's own copy."""
    python = "adam.py _single_tensor_adam" if release.adamw_is_adam else "adamw.py _single_tensor_adamw"
    kernels = "aten/src/ATen/native/cpu/{BinaryOps,Lerp,PointwiseOps}Kernel.cpp"
    return f"{release.at('torch/optim/' + python.split()[0])} {python.split()[1]}; {release.at(kernels)}"


def _host_scalars(h: Hyper, step: float, release: CpuRelease = TORCH_2_13) -> HostScalars:
    """The three branches of ``_single_tensor_adam``'s scalar code.

    * default: Python doubles (``beta**step`` is libm ``pow``; ``bc2**0.5``);
    * ``lr`` a float32 tensor: ``1 - lr*wd`` and ``lr / bc1`` become float32 tensor arithmetic;
    * ``differentiable``: ``step`` stays a float32 tensor, so ``beta ** step`` is float32
      ``powf(f32(beta), step)`` (checked equal to NumPy's float32 power on 20,000 cases), and
      every bias-correction scalar after it is a float32 0-dim tensor.
    """
    f32 = np.float32
    lr_value = float(f32(h.lr)) if h.lr_tensor else h.lr
    if h.lr_tensor or h.differentiable:
        decay = (
            float(f32(f32(1) - f32(f32(lr_value) * f32(h.weight_decay)))) if h.lr_tensor else 1 - h.lr * h.weight_decay
        )
    else:
        decay = 1 - h.lr * h.weight_decay
    if not h.differentiable:
        bc1 = 1 - h.beta1**step
        bc2 = 1 - h.beta2**step
        step_size = float(f32(f32(lr_value) / f32(bc1))) if h.lr_tensor else h.lr / bc1
        return HostScalars(decay, step_size, bc2**0.5 if release.bc2_sqrt == "pow" else math.sqrt(bc2))
    with np.errstate(all="ignore"):
        t = f32(step)
        bc1 = f32(1) - f32(h.beta1) ** t
        bc2 = f32(1) - f32(h.beta2) ** t
        ss_neg = -f32(f32(lr_value) / bc1)
        bc2_sqrt = np.sqrt(bc2)
        return HostScalars(
            decay, float(-ss_neg), float(bc2_sqrt), float(f32(bc2_sqrt * ss_neg)), float(f32(f32(h.eps) / ss_neg))
        )


SOURCE = source(TORCH_2_13)
