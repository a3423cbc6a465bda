"""What every recipe shares: hyper-parameters and the CPU-capability switches."""

from __future__ import annotations

from dataclasses import dataclass

from ..program import Assign, Expr, NanRule, Program, T, add, fma, mul

CAPABILITIES = ("avx512", "avx2", "default")


@dataclass(frozen=True)
class Hyper:
    """The optimizer's arguments as the user passes them to torch (Python doubles and flags).

    ``decoupled``: True for ``torch.optim.AdamW`` (weight decay scales the parameter), False for
    ``torch.optim.Adam`` (L2: weight decay is added to the gradient).  ``lr_tensor``: lr passed as
    a float32 tensor (its value is ``f32(lr)`` and the host arithmetic on it is float32).
    ``differentiable``: ``differentiable=True`` (the step count stays a tensor).  ``grad_scale`` /
    ``found_inf``: what ``torch.amp.GradScaler`` hands a fused optimizer.
    """

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False
    maximize: bool = False
    decoupled: bool = True
    lr_tensor: bool = False
    differentiable: bool = False
    grad_scale: float | None = None
    found_inf: bool = False


@dataclass(frozen=True)
class Kernel:
    """How a CPU kernel family computes ``a*b + c`` and which NaN pattern it stores.

    ``contracts_fma``: AVX2/AVX512 builds compile with ``-mfma``; ATen's vector code calls
    ``vec::fmadd`` (a real FMA there) and GCC contracts the scalar tail's ``a*b + c`` as well.
    The DEFAULT build has no FMA instruction: ``fmadd`` is ``a*b + c``, two roundings.
    """

    capability: str
    contracts_fma: bool
    nan: NanRule

    def madd(self, a: Expr, b: Expr, c: Expr) -> Expr:
        """``a*b + c`` as this kernel computes it."""
        return fma(a, b, c) if self.contracts_fma else add(mul(a, b), c)


def cpu_kernel(capability: str) -> Kernel:
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown CPU capability {capability!r} (known: {', '.join(CAPABILITIES)})")
    if capability == "default":
        return Kernel(capability, contracts_fma=False, nan="scalar")
    return Kernel(capability, contracts_fma=True, nan="position")


def kernel(capability: str) -> Kernel:
    """:func:`cpu_kernel`, plus ``"cuda"``: nvcc contracts to FMA, NaN stored as 0x7FFF."""
    if capability == "cuda":
        return Kernel("cuda", contracts_fma=True, nan="cuda")
    return cpu_kernel(capability)


class Builder:
    """Collects one recipe's assignments, in torch's call order, over the state every Adam step
    reads (param, grad, exp_avg, exp_avg_sq) and writes (p_new, m_new, v_new)."""

    def __init__(self, name: str, source: str) -> None:
        self.name, self.source = name, source
        self.assigns: list[Assign] = []
        self.inputs = ["param", "grad", "exp_avg", "exp_avg_sq"]
        self.outputs = {"param": "p_new", "exp_avg": "m_new", "exp_avg_sq": "v_new"}

    def state(self) -> tuple[T, T, T, T]:
        return T("param"), T("grad"), T("exp_avg"), T("exp_avg_sq")

    def let(self, target: str, value: Expr, torch: str) -> T:
        """``target = value``; ``torch`` is the call as torch's source writes it."""
        self.assigns.append(Assign(target, value, torch))
        return T(target)

    def amsgrad_state(self) -> T:
        """amsgrad's running maximum: read as an input, written as ``vmax_new``."""
        self.inputs.append("max_exp_avg_sq")
        self.outputs["max_exp_avg_sq"] = "vmax_new"
        return T("max_exp_avg_sq")

    def program(self) -> Program:
        return Program(self.name, self.source, tuple(self.inputs), tuple(self.assigns), self.outputs)


def unchanged(b: Builder, h: Hyper) -> Program:
    """GradScaler's found_inf: the fused kernels return at once, every tensor keeps its bits."""
    if h.amsgrad:
        b.amsgrad_state()
    outputs = {key: key for key in b.outputs}
    return Program(b.name, b.source, tuple(b.inputs), (), outputs)
