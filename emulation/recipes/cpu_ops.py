"""torch 2.13 CPU kernels on bf16 tensors, one function per torch call, as op-program expressions.

Each function returns the *stored* result (``bf16(...)``) of one in-place or out-of-place torch
op; recipes compose them in the order torch's Python code calls them.  Every function is checked
on its own against live torch, exhaustively over the 65,536 bf16 values of its tensor operand
(``adamw-audit crosscheck``, tests/test_crosscheck.py).

How a Python scalar reaches the kernel (aten/src/ATen/native/cpu/BinaryOpsKernel.cpp @v2.13.0):
``mul`` and ``div`` with a CPU scalar and a reduced-float tensor take
``iter.original_scalar_value<opmath_t>`` (the double read as float: ``f32(s)``); ``add``/``sub``
have no such branch, so TensorIterator casts the wrapped scalar to bf16 first (``bf16(s)``).
``lerp``/``addcmul``/``addcdiv`` read their Scalar argument as ``opmath_t`` (float).
"""

from __future__ import annotations

from ..program import Bf16, Expr, S, add, div, mul, sqrt, sub
from .common import Kernel


def mul_scalar(k: Kernel, x: Expr, s: S) -> Expr:
    """``x.mul_(s)`` / ``x * s``: ``bf16(x * f32(s))``."""
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


def sqrt_(k: Kernel, x: Expr) -> Expr:
    """``x.sqrt()``: correctly rounded float32 sqrt.  The unary kernel vectorises its tail as well
    (a padded partial vector), so NaN is the vector pattern everywhere on AVX2/AVX512."""
    return Bf16(sqrt(x), "vector" if k.contracts_fma else "scalar")


def lerp_(k: Kernel, start: Expr, end: Expr, weight: S) -> Expr:
    """``start.lerp_(end, weight)`` (aten/src/ATen/native/Lerp.h, cpu/LerpKernel.cpp @v2.13.0)::

        |w| < 0.5 ?  start + w*(end - start)  :  end - (end - start)*(1 - w)

    with the branch taken on the float weight; vector code ``fmadd(w or w-1, end-start, start or
    end)``.  ``w - 1 == -(1 - w)`` exactly (Sterbenz), so both forms agree with the scalar tail.
    """
    w = float(weight.kernel_value)
    if abs(w) < 0.5:
        return Bf16(k.madd(weight, sub(end, start), start), k.nan)
    return Bf16(k.madd(sub(weight, S("1", 1.0)), sub(end, start), end), k.nan)


def addcmul_(k: Kernel, x: Expr, t1: Expr, t2: Expr, value: S) -> Expr:
    """``x.addcmul_(t1, t2, value=c)`` (cpu/PointwiseOpsKernel.cpp @v2.13.0): ``x + c*t1*t2`` as
    ``fmadd(c*t1, t2, x)``: the product ``c*t1`` is rounded to float32 first."""
    return Bf16(k.madd(mul(value, t1), t2, x), k.nan)


def addcdiv_(k: Kernel, x: Expr, t1: Expr, t2: Expr, value: S) -> Expr:
    """``x.addcdiv_(t1, t2, value=c)``: ``x + c*t1/t2`` left to right; no FMA (divide last)."""
    return Bf16(add(x, div(mul(value, t1), t2)), k.nan)
