"""torch 2.11-2.13 CUDA Adam/AdamW on bf16 tensors: single-tensor, foreach and fused.

Read at release 2.13.0 (git cf30153c): the shipped headers (ForeachFunctors.cuh,
DeviceAddCmulCdiv.cuh, Loops.cuh, fused_adam_utils.cuh, ATen/native/Lerp.h,
torch/headeronly/util/BFloat16.h) and the sm_90 machine code of the cu130 wheel's
libtorch_cuda.so (cuobjdump).  What every CUDA kernel shares:

* a Python scalar is never cast to bf16: TensorIterator casts CPU scalars to the common dtype
  only on the CPU; kernels read ``iter.scalar_value<float>()`` (``f32(s)``), eps included;
* nvcc contracts ``a*b + c`` to FFMA; every result is stored with ``__float2bfloat16``
  (RNE; NaN 0x7FFF) and there is no body/tail split;
* division by a CPU scalar (``tensor / s``) multiplies by a reciprocal computed in **double**
  (BinaryDivTrueKernel.cu: ``divsd`` then ``cvtsd2ss`` in the 2.13 host code), while
  ``_foreach_div_(list, scalarlist)`` divides (SASS: div.rn);
* ``addcmul``/``addcdiv`` are ``fma(value, t1 op t2, self)``: the product/quotient is rounded
  first (DeviceAddCmulCdiv.cuh) - except that both kernels test ``value == 1`` and then compute
  ``fma(t1, t2, self)`` for addcmul, the product unrounded (SASS; only ``beta2 == 0`` reaches it;
  addcdiv's value-1 branch ``self + t1/t2`` gives the same bits as its fma).

Evidence (EVIDENCE): scripts/check_cuda_sass.py checks the for-loop and foreach programs against
the 2.13.0 sm_90 SASS store by store (tests/fixtures/cuda/sass-torch-2.13.0-sm_90.json):
``binary``.  On a lent H100, torch 2.11.0+cu130 ran all three against these programs
(scripts/cuda_device_run.py: 45 cross-check rows, 224 million elements, every bf16 pattern in
every tensor; 490 step counts of the fused kernel) and recorded golden fixtures
(tests/fixtures/cuda/torch-2.11.0-cu130-sm_90/) that CI replays: ``fixture`` for 2.11.0.  That
run found three things the reading had wrong, now fixed: lerp's second branch and a zero's sign,
``torch.maximum``'s NaN payload, and the fused kernel's device ``powf`` (emulation/cuda_powf.py).
"""

from __future__ import annotations

import numpy as np

from ..cuda_powf import powf as device_powf
from ..program import Bf16, Expr, Program, S, T, add, div, fma, maximum, mul, neg, sqrt, std_max, sub
from .common import Builder, Hyper, unchanged
from .releases import range_covers

NAN = "cuda"
RANGE = "2.11-2.13"
"""The releases these programs are written for: fused CUDA Adam computes in float32 with explicit
fmas from 2.11 on (the fused ``adam_math`` of 2.0-2.10 took double hyper-parameters)."""
EVIDENCE: dict[str, tuple[tuple[str, str], ...]] = {
    "forloop": (("2.11.0", "fixture"), ("2.13.0", "binary")),
    "foreach": (("2.11.0", "fixture"), ("2.13.0", "binary")),
    "fused": (("2.11.0", "fixture"),),
}
"""Per release, how each program is known: golden fixtures from a GPU run (2.11.0+cu130, H100),
the shipped sm_90 SASS (2.13.0)."""
FIXTURES = "tests/fixtures/cuda/torch-2.11.0-cu130-sm_90"


def covers(release: str) -> bool:
    """Whether ``release`` (``2.12.0+cu130``, ``2.11``) lies in RANGE."""
    return range_covers(RANGE, release)


SASS_REPORT = "tests/fixtures/cuda/sass-torch-2.13.0-sm_90.json"
KERNEL_OF = {
    "forloop": {"g_neg": "neg", "p_decayed": "mul_scalar", "g_l2": "add_alpha", "m_new": "lerp_scalar",
                "v_decayed": "mul_scalar", "v_new": "addcmul", "vmax_new": "maximum", "v_sqrt": "sqrt",
                "denom_div": "div_true_cpu_scalar", "denom": "add_scalar", "p_new": "addcdiv"},
    "foreach": {"g_neg": "neg", "p_decayed": "mul_scalar", "g_l2": "add_alpha", "m_new": "lerp_scalar",
                "v_decayed": "mul_scalar", "v_new": "addcmul_scalar", "vmax_new": "maximum", "v_sqrt": "sqrt",
                "denom_div": "div_scalarlist", "denom": "add_scalar", "p_new": "addcdiv_scalarlist"},
}  # fmt: skip
"""Which shipped sm_90 kernel each stored value of the for-loop and foreach programs comes from
(its checks are ``<path>.<kernel>`` in SASS_REPORT, written by scripts/check_cuda_sass.py)."""
SOURCE_FORLOOP = (
    "torch/optim/adam.py@v2.13.0 _single_tensor_adam; "
    "aten/src/ATen/native/cuda/{BinaryDivTrueKernel,Lerp,PointwiseOpsKernel}.cu, DeviceAddCmulCdiv.cuh@v2.13.0"
)
SOURCE_FOREACH = "torch/optim/adam.py@v2.13.0 _multi_tensor_adam; aten/src/ATen/native/cuda/ForeachFunctors.cuh@v2.13.0"
SOURCE_FUSED = "aten/src/ATen/native/cuda/fused_adam_utils.cuh@v2.13.0 (FusedAdamMathFunctor, sm_90 SASS read)"


def _addcmul(self: Expr, t1: Expr, t2: Expr, value: S) -> Expr:
    """``self + value*t1*t2``: ``fma(value, round(t1*t2), self)``; at ``value == 1`` the kernel's
    other branch ``fma(t1, t2, self)`` (SASS of addcmul_cuda_kernel and PointwiseOpScalarFunctor)."""
    if float(value.kernel_value) == 1.0:
        return fma(t1, t2, self)
    return fma(value, mul(t1, t2), self)


def _lerp(m: Expr, g: Expr, w: S) -> Expr:
    """Lerp.h: ``|w| < 0.5 ? m + w*(g-m) : g - (g-m)*(1-w)``, both contracted (SASS: FFMA).

    The second branch is ``fma(-(1-w), g-m, g)``, not ``fma(w-1, g-m, g)``: at ``w == 1``
    (beta1 = 0) ``-(1-w)`` is -0 and ``w-1`` is +0, and the product's zero sign decides
    ``-0 + (+-0)``: torch 2.11 on an H100 stores +0 for ``g = -0`` (measured)."""
    if abs(float(w.kernel_value)) < 0.5:
        return fma(w, sub(g, m), m)
    return fma(neg(sub(S("1", 1.0), w)), sub(g, m), g)


class _Builder(Builder):
    def store(self, target: str, value: Expr, torch: str) -> T:
        """A CUDA kernel's bf16 store (``__float2bfloat16``)."""
        return self.let(target, Bf16(value, NAN), torch)


def _unsupported(h: Hyper, path: str) -> None:
    if h.differentiable or h.lr_tensor:
        raise ValueError(f"{path}: differentiable / tensor-lr are not emulated on CUDA")


def forloop(h: Hyper, step: float, capability: str = "cuda") -> Program:
    """``_single_tensor_adam`` on CUDA: the for-loop op order, CUDA kernels."""
    _unsupported(h, "cuda forloop")
    b = _Builder(f"torch-{RANGE}-cuda-forloop", SOURCE_FORLOOP)
    p, g, m, v = b.state()
    bias_correction1 = 1 - h.beta1**step
    bias_correction2 = 1 - h.beta2**step
    step_size = h.lr / bias_correction1
    bias_correction2_sqrt = bias_correction2**0.5
    if h.maximize:
        g = b.store("g_neg", neg(g), "grad = -grads[i]")
    if h.weight_decay != 0:
        if h.decoupled:
            p = b.store("p_decayed", mul(p, S("1-lr*wd", 1 - h.lr * h.weight_decay)), "param.mul_(1 - lr * wd)")
        else:  # ufunc add: self + alpha * other, alpha as float (SASS: FFMA)
            g = b.store("g_l2", fma(S("wd", h.weight_decay), p, g), "grad.add(param, alpha=wd)")
    m = b.store("m_new", _lerp(m, g, S("1-beta1", 1 - h.beta1)), "exp_avg.lerp_(grad, 1 - beta1)")
    v = b.store("v_decayed", mul(v, S("beta2", h.beta2)), "exp_avg_sq.mul_(beta2)")
    v = b.store("v_new", _addcmul(v, g, g, S("1-beta2", 1 - h.beta2)), ".addcmul_(grad, grad, value=1 - beta2)")
    if h.amsgrad:
        vmax = b.amsgrad_state()
        # maximum_kernel_cuda works on the bf16 values themselves: a NaN operand comes back with
        # its own bits (max_sq's first), not as __float2bfloat16's 0x7FFF (measured, torch 2.11)
        v = b.let("vmax_new", Bf16(maximum(vmax, v), "payload"), "torch.maximum(max_sq, exp_avg_sq, out=max_sq)")
    d = b.store("v_sqrt", sqrt(v), "exp_avg_sq.sqrt()")
    recip = 1.0 / bias_correction2_sqrt  # double reciprocal, narrowed to float
    d = b.store("denom_div", mul(d, S("1/bc2_sqrt", recip)), "/ bias_correction2_sqrt (times a reciprocal)")
    d = b.store("denom", add(d, S("eps", h.eps)), ".add_(eps)")
    b.store("p_new", fma(S("-step_size", -step_size), div(m, d), p), "param.addcdiv_(m, denom, value=-ss)")
    return b.program()


def foreach(h: Hyper, step: float, capability: str = "cuda") -> Program:
    """``_multi_tensor_adam`` on CUDA (capturable=False): multi_tensor_apply functors."""
    _unsupported(h, "cuda foreach")
    b = _Builder(f"torch-{RANGE}-cuda-foreach", SOURCE_FOREACH)
    p, g, m, v = b.state()
    bias_correction1 = 1 - h.beta1**step
    bias_correction2 = 1 - h.beta2**step
    step_size = (h.lr / bias_correction1) * -1
    bias_correction2_sqrt = bias_correction2**0.5
    if h.maximize:
        g = b.store("g_neg", neg(g), "torch._foreach_neg(grads)")
    if h.weight_decay != 0:
        if h.decoupled:
            p = b.store("p_decayed", mul(p, S("1-lr*wd", 1 - h.lr * h.weight_decay)), "_foreach_mul_(params, 1-lr*wd)")
        else:  # BinaryOpListAlphaFunctor: a + alpha*b, contracted (inferred)
            g = b.store("g_l2", fma(S("wd", h.weight_decay), p, g), "_foreach_add(grads, params, alpha=wd)")
    m = b.store("m_new", _lerp(m, g, S("1-beta1", 1 - h.beta1)), "torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)")
    v = b.store("v_decayed", mul(v, S("beta2", h.beta2)), "torch._foreach_mul_(exp_avg_sqs, beta2)")
    v = b.store("v_new", _addcmul(v, g, g, S("1-beta2", 1 - h.beta2)), "_foreach_addcmul_(sqs, g, g, 1 - beta2)")
    if h.amsgrad:
        vmax = b.amsgrad_state()
        v = b.store("vmax_new", maximum(vmax, v), "_foreach_maximum_(max_sqs, sqs) (clamp_min)")
    d = b.store("v_sqrt", sqrt(v), "torch._foreach_sqrt(exp_avg_sqs)")
    d = b.store("denom_div", div(d, S("bc2_sqrt", bias_correction2_sqrt)), "_foreach_div_(.., bc2_sqrt list)")
    d = b.store("denom", add(d, S("eps", h.eps)), "torch._foreach_add_(exp_avg_sq_sqrt, eps)")
    b.store("p_new", fma(S("step_size", step_size), div(m, d), p), "_foreach_addcdiv_(params, m, denom, step_size)")
    return b.program()


def fused(h: Hyper, step: float, capability: str = "cuda") -> Program:
    """``_fused_adamw_`` on CUDA 2.11+: float32 throughout, explicit fmas, device ``powf``.

    The bias corrections use the device's ``powf`` (libdevice, not the C library's: they differ
    at 0.6% of step counts for beta2 = 0.999), emulated op for op by emulation/cuda_powf.py."""
    _unsupported(h, "cuda fused")
    b = _Builder(f"torch-{RANGE}-cuda-fused", SOURCE_FUSED)
    p, g, m, v = b.state()
    f32 = np.float32
    if h.found_inf:
        return unchanged(b, h)
    with np.errstate(all="ignore"):
        step_f = f32(step)
        bc1 = f32(1) - device_powf(f32(h.beta1), step_f)
        bc2 = f32(1) - device_powf(f32(h.beta2), step_f)
        bc2_sqrt = np.sqrt(bc2)
        step_size = f32(f32(h.lr) / bc1)
    if h.grad_scale is not None:
        g = b.let("G", div(g, S("grad_scale", h.grad_scale)), "grad /= grad_scale")
        b.store("g_new", g, "store grad")
        b.outputs["grad"] = "g_new"
    b1, b2 = S("beta1", h.beta1), S("beta2", h.beta2)
    if h.maximize and h.weight_decay != 0 and not h.decoupled:
        # SASS of the ADAM (L2) instance: with maximize nvcc does not contract: FMUL p*wd, then
        # FADD with -g (two roundings); without maximize it is fma(p, wd, g)
        g = b.let("G_l2", add(neg(g), mul(p, S("wd", h.weight_decay))), "grad = -grad + param * wd")
    elif h.maximize:
        g = b.let("G_neg", neg(g), "grad = -grad")
    if h.weight_decay != 0:
        if h.decoupled:  # param -= lr * weight_decay * param: FMUL then FFMA (SASS)
            lr_wd = mul(S("lr", h.lr), S("wd", h.weight_decay))
            p = b.let("P", fma(p, neg(lr_wd), p), "param -= lr * wd * param")
        elif not h.maximize:
            g = b.let("G_l2", fma(p, S("wd", h.weight_decay), g), "grad += param * wd")
    m = b.let("M", fma(b1, m, fma(neg(b1), g, g)), "fma(beta1, m, fma(-beta1, g, g))")
    g2 = mul(g, g)
    v = b.let("V", fma(b2, v, fma(neg(b2), g2, g2)), "fma(beta2, v, fma(-beta2, g*g, g*g))")
    b.store("m_new", m, "store exp_avg")
    b.store("v_new", v, "store exp_avg_sq")
    if h.amsgrad:
        vmax = b.amsgrad_state()
        v = b.let("VMAX", std_max(vmax, v), "std::max(max_exp_avg_sq, exp_avg_sq)")
        b.store("vmax_new", v, "store max_exp_avg_sq")
    d = b.let("D", add(div(sqrt(v), S("bc2_sqrt", float(bc2_sqrt))), S("eps", h.eps)), "sqrt(v) / bc2_sqrt + eps")
    p = b.let("P_new", sub(p, div(mul(S("step_size", float(step_size)), m), d)), "param -= step_size * m / denom")
    b.store("p_new", p, "store param")
    return b.program()
