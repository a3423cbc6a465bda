"""torch 2.13 CPU single-tensor AdamW (``foreach=False``, ``fused=False``; the CPU default).

    step      += 1                               step = float(state_steps[i].item())
    param      = param * (1 - lr*wd)              if wd != 0
    exp_avg    = lerp(exp_avg, grad, 1 - b1)
    exp_avg_sq = exp_avg_sq * b2 + (1 - b2) * grad * grad
    denom      = sqrt(exp_avg_sq) / sqrt(1 - b2**step) + eps
    param      = param + (-lr / (1 - b1**step)) * exp_avg / denom

Every line is one torch call on bf16 tensors (float32 inside, rounded to bf16 on store); the
kernels are in cpu_ops.py.  Source: torch/optim/adam.py ``_single_tensor_adam`` @v2.13.0
(AdamW = Adam(decoupled_weight_decay=True)), which computes the scalars below in Python doubles.
"""

from __future__ import annotations

from ..program import Assign, Expr, Program, S, T
from . import cpu_ops as op
from .common import Hyper, cpu_kernel

SOURCE = (
    "torch/optim/adam.py@v2.13.0 _single_tensor_adam; "
    "aten/src/ATen/native/cpu/{BinaryOps,Lerp,PointwiseOps}Kernel.cpp@v2.13.0"
)


def program(h: Hyper, step: float, capability: str = "avx512") -> Program:
    """One step of the for-loop path at optimizer step count ``step`` (1 for the first step)."""
    k = cpu_kernel(capability)
    assigns: list[Assign] = []

    def call(target: str, stored: Expr, torch: str) -> T:
        assigns.append(Assign(target, stored, torch))
        return T(target)

    p, g, m, v = T("param"), T("grad"), T("exp_avg"), T("exp_avg_sq")

    # adam.py, Python doubles
    bias_correction1 = 1 - h.beta1**step
    bias_correction2 = 1 - h.beta2**step
    step_size = h.lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5

    if h.weight_decay != 0:
        p = call(
            "p_decayed",
            op.mul_scalar(k, p, S("1-lr*wd", 1 - h.lr * h.weight_decay)),
            "param.mul_(1 - lr * weight_decay)",
        )
    m = call("m_new", op.lerp_(k, m, g, S("1-beta1", 1 - h.beta1)), "exp_avg.lerp_(grad, 1 - beta1)")
    v = call("v_decayed", op.mul_scalar(k, v, S("beta2", h.beta2)), "exp_avg_sq.mul_(beta2)")
    v = call("v_new", op.addcmul_(k, v, g, g, S("1-beta2", 1 - h.beta2)), ".addcmul_(grad, grad, value=1 - beta2)")
    d = call("v_sqrt", op.sqrt_(k, v), "exp_avg_sq.sqrt()")
    d = call(
        "denom_div", op.div_scalar(k, d, S("bias_correction2_sqrt", bias_correction2_sqrt)), "/ bias_correction2_sqrt"
    )
    d = call("denom", op.add_scalar(k, d, S("eps", h.eps, "bf16")), ".add_(eps)")
    call(
        "p_new",
        op.addcdiv_(k, p, m, d, S("-step_size", -step_size)),
        "param.addcdiv_(exp_avg, denom, value=-step_size)",
    )
    return Program(
        name="torch-2.13-cpu-forloop",
        source=SOURCE,
        inputs=("param", "grad", "exp_avg", "exp_avg_sq"),
        assigns=tuple(assigns),
        outputs={"param": "p_new", "exp_avg": "m_new", "exp_avg_sq": "v_new"},
    )
