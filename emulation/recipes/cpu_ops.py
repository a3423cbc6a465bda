"""torch 2.13 CPU kernels on bf16 tensors, one function per torch call, as op-program expressions.

Each function returns the *stored* result (``bf16(...)``) of one in-place or out-of-place torch
op; recipes compose them in the order torch's Python code calls them.  Every function is checked
on its own against live torch, exhaustively over the 65,536 bf16 values of its tensor operand
(``adamw-audit crosscheck``, tests/test_crosscheck.py).

How a Python scalar reaches the kernel (aten/src/ATen/native/cpu/BinaryOpsKernel.cpp @v2.13.0):
``mul`` and ``div`` with a CPU scalar and a reduced-float tensor take
``iter.original_scalar_value<opmath_t>`` (the double read as float: ``f32(s)``); ``add``/``sub``
have no such branch, so TensorIterator casts the wrapped scalar to bf16 first (``bf16(s)``).
``lerp``/``addcmul``/``addcdiv`` read their Scalar argument as ``opmath_t`` (float).  The foreach
slow path (``_foreach_mul_(tensors, scalar)``) reaches ``mul_`` through the Scalar overload,
which misses the float shortcut: its scalar is bf16.
"""

from __future__ import annotations

from ..program import Bf16, ByPosition, Expr, S, add, div, maximum, mul, neg, sqrt, sub
from .common import Kernel


def mul_scalar(k: Kernel, x: Expr, s: S) -> Expr:
    """``x.mul_(s)`` / ``x * s``: ``bf16(x * f32(s))``."""
    return Bf16(mul(x, s), k.nan)


def foreach_mul_scalar(k: Kernel, x: Expr, s: S) -> Expr:
    """``torch._foreach_mul_(xs, s)`` on the CPU: ``bf16(x * bf16(s))`` (``s.via`` must be bf16)."""
    if s.via != "bf16":
        raise ValueError("torch 2.13 CPU _foreach_mul_ casts its scalar to bf16: pass S(..., via='bf16')")
    return Bf16(mul(x, s), k.nan)


def div_scalar(k: Kernel, x: Expr, s: S) -> Expr:
    """``x / s`` with a Python scalar: a true float32 division by ``f32(s)`` (no reciprocal)."""
    return Bf16(div(x, s), k.nan)


def add_scalar(k: Kernel, x: Expr, s: S) -> Expr:
    """``x.add_(s)`` / ``x + s``: the scalar is cast to bf16 first (``s.via`` must be "bf16")."""
    if s.via != "bf16":
        raise ValueError("torch 2.13 CPU add casts its scalar to bf16: pass S(..., via='bf16')")
    return Bf16(add(x, s), k.nan)


def add_tensor(k: Kernel, a: Expr, b: Expr) -> Expr:
    """``a + b`` for two bf16 tensors."""
    return Bf16(add(a, b), k.nan)


def div_tensor(k: Kernel, a: Expr, b: Expr) -> Expr:
    """``a / b`` for two bf16 tensors."""
    return Bf16(div(a, b), k.nan)


def add_alpha(k: Kernel, x: Expr, y: Expr, alpha: S) -> Expr:
    """``x.add(y, alpha=a)`` (Adam's L2 term ``grad.add(param, alpha=wd)``), alpha cast to bf16.

    Position-dependent (cpu/BinaryOpsKernel.cpp ``add_kernel`` -> ``add_clamp``-style loop): the
    vector body is ``vec::fmadd(y, alpha, x)``; the scalar tail computes ``x + alpha * y`` with
    ``alpha`` a ``c10::BFloat16``, so the product is rounded to bf16 first.  DEFAULT: the tail
    form everywhere.
    """
    tail_form = add(x, Bf16(mul(alpha, y), "scalar"))
    if not k.contracts_fma:
        return Bf16(tail_form, k.nan)
    return Bf16(ByPosition(k.madd(y, alpha, x), tail_form), k.nan)


def neg_(k: Kernel, x: Expr) -> Expr:
    """``-x`` (``maximize``): the AVX2/AVX512 body flips the sign bit (a NaN keeps its payload,
    sign flipped); the scalar tail and DEFAULT convert, writing 0x7FC0 for NaN."""
    return Bf16(neg(x), "position-payload" if k.contracts_fma else "scalar")


def maximum_(k: Kernel, a: Expr, b: Expr) -> Expr:
    """``torch.maximum(a, b, out=a)`` (amsgrad): exact; NaN if either is NaN.  AVX2/AVX512 write
    their NaN pattern by position; DEFAULT's body returns the NaN operand's own bits, its scalar
    tail 0x7FC0."""
    return Bf16(maximum(a, b), k.nan if k.contracts_fma else "position-payload")


def sqrt_(k: Kernel, x: Expr) -> Expr:
    """``x.sqrt()``: correctly rounded float32 sqrt.  The unary kernel vectorises its tail as well
    (a padded partial vector), so NaN is the vector pattern everywhere on AVX2/AVX512."""
    return Bf16(sqrt(x), "vector" if k.contracts_fma else "scalar")


def lerp_weight(k: Kernel, start: Expr, end: Expr, weight: S) -> Expr:
    """The float32 value of ``lerp(start, end, w)`` before the store (aten/src/ATen/native/Lerp.h,
    cpu/LerpKernel.cpp @v2.13.0)::

        |w| < 0.5 ?  start + w*(end - start)  :  end - (end - start)*(1 - w)

    with the branch taken on the float weight; vector code ``fmadd(w or w-1, end-start, start or
    end)``.  ``w - 1 == -(1 - w)`` exactly (Sterbenz), so both forms agree with the scalar tail.
    """
    if abs(float(weight.kernel_value)) < 0.5:
        return k.madd(weight, sub(end, start), start)
    return k.madd(sub(weight, S("1", 1.0)), sub(end, start), end)


def lerp_(k: Kernel, start: Expr, end: Expr, weight: S) -> Expr:
    """``start.lerp_(end, weight)``: :func:`lerp_weight`, stored."""
    return Bf16(lerp_weight(k, start, end, weight), k.nan)


def addcmul_(k: Kernel, x: Expr, t1: Expr, t2: Expr, value: S) -> Expr:
    """``x.addcmul_(t1, t2, value=c)`` (cpu/PointwiseOpsKernel.cpp @v2.13.0): ``x + c*t1*t2`` as
    ``fmadd(c*t1, t2, x)``: the product ``c*t1`` is rounded to float32 first."""
    return Bf16(k.madd(mul(value, t1), t2, x), k.nan)


def addcdiv_(k: Kernel, x: Expr, t1: Expr, t2: Expr, value: S) -> Expr:
    """``x.addcdiv_(t1, t2, value=c)``: ``x + c*t1/t2`` left to right; no FMA (divide last)."""
    return Bf16(add(x, div(mul(value, t1), t2)), k.nan)
