"""torch CPU multi-tensor Adam/AdamW (``foreach=True``; on the CPU the foreach ops fall back
to one kernel call per tensor: the "slow path").

Same op order as the for-loop path (forloop.py), with two differences in how scalars arrive:

* ``torch._foreach_mul_(tensors, scalar)`` casts its scalar to bf16: ``param * bf16(1-lr*wd)``
  and ``exp_avg_sq * bf16(beta2)`` (bf16(0.99) = 0.98828125; bf16(0.999) = 1.0, a no-op either way);
* ``step_size`` is ``(lr / bc) * -1`` (the same double as ``-(lr / bc)``).

Releases 1.13 and 2.0 (torch/optim/adamw.py ``_multi_tensor_adamw``@v1.13.1,v2.0.1) move exp_avg
with ``_foreach_mul_(exp_avgs, beta1)`` + ``_foreach_add_(exp_avgs, grads, alpha=1 - beta1)``,
and there every mul/div by a Python float reads it as bf16 (releases.CpuRelease): the foreach
and for-loop programs are then the same.

Source: torch/optim/adam.py ``_multi_tensor_adam`` @v2.13.0; the foreach slow paths in
aten/src/ATen/native/ForeachOpsKernels.cpp @v2.13.0 (one ``at::`` op per tensor).
"""

from __future__ import annotations

import math

from ..program import Program, S
from . import cpu_ops as op
from .common import Builder, Hyper, cpu_kernel
from .releases import TORCH_2_13, CpuRelease


def program(h: Hyper, step: float, capability: str = "avx512", release: CpuRelease = TORCH_2_13) -> Program:
    k = cpu_kernel(capability)
    b = Builder(f"torch-{release.label}-cpu-foreach", source(release))
    call = b.let
    p, g, m, v = b.state()

    bias_correction1 = 1 - h.beta1**step
    bias_correction2 = 1 - h.beta2**step
    step_size = (h.lr / bias_correction1) * -1
    bias_correction2_sqrt = bias_correction2**0.5 if release.bc2_sqrt == "pow" else math.sqrt(bias_correction2)

    if h.maximize:
        g = call("g_neg", op.neg_(k, g), "torch._foreach_neg(device_grads)")
    if h.decoupled and (h.weight_decay != 0 or release.foreach_decay_always):
        decay = S("1-lr*wd", 1 - h.lr * h.weight_decay, "bf16")
        p = call("p_decayed", op.foreach_mul_scalar(k, p, decay), "torch._foreach_mul_(params, 1 - lr * wd)")
    elif h.weight_decay != 0 and not h.decoupled:
        g = call("g_l2", op.add_alpha(k, g, p, S("wd", h.weight_decay, "bf16")), "_foreach_add(g, params, alpha=wd)")
    if release.momentum == "lerp":
        m = call("m_new", op.lerp_(k, m, g, S("1-beta1", 1 - h.beta1)), "torch._foreach_lerp_(exp_avgs, grads, 1 - b1)")
    else:
        m = call("m_decayed", op.foreach_mul_scalar(k, m, S("beta1", h.beta1, "bf16")), "_foreach_mul_(exp_avgs, b1)")
        m = call("m_new", op.add_alpha(k, m, g, S("1-beta1", 1 - h.beta1, "bf16")), "_foreach_add_(.., alpha=1-b1)")
    v = call(
        "v_decayed", op.foreach_mul_scalar(k, v, S("beta2", h.beta2, "bf16")), "torch._foreach_mul_(exp_avg_sqs, beta2)"
    )
    v = call(
        "v_new", op.addcmul_(k, v, g, g, S("1-beta2", 1 - h.beta2)), "torch._foreach_addcmul_(sqs, g, g, 1 - beta2)"
    )
    if h.amsgrad:
        v = call("vmax_new", op.maximum_(k, b.amsgrad_state(), v), "torch._foreach_maximum_(max_sqs, exp_avg_sqs)")
    d = call("v_sqrt", op.sqrt_(k, v), "torch._foreach_sqrt(exp_avg_sqs)")
    d = call(
        "denom_div",
        op.div_scalar(k, d, S("bc2_sqrt", bias_correction2_sqrt, release.mul_scalar_via)),
        "_foreach_div_(.., bc2_sqrt)",
    )
    d = call("denom", op.add_scalar(k, d, S("eps", h.eps, "bf16")), "torch._foreach_add_(exp_avg_sq_sqrt, eps)")
    call(
        "p_new",
        op.addcdiv_(k, p, m, d, S("step_size", step_size)),
        "torch._foreach_addcdiv_(params, m, denom, step_size)",
    )
    return b.program()


def source(release: CpuRelease) -> str:
    python = "adam.py _multi_tensor_adam" if release.adamw_is_adam else "adamw.py _multi_tensor_adamw"
    kernels = release.at("aten/src/ATen/native/ForeachOpsKernels.cpp")
    return f"{release.at('torch/optim/' + python.split()[0])} {python.split()[1]}; {kernels}"


SOURCE = source(TORCH_2_13)
