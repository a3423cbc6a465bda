"""Cross-check recipes against live torch on adversarial inputs (needs torch).

Two kinds of checks, each comparing uint16 bit patterns:

* **ops** - every CPU kernel function of emulation/recipes/cpu_ops.py against the torch call it
  models, exhaustively over the 65,536 bf16 values of its tensor operand (other operands
  adversarial), once as one long tensor (vector body) and once cut into 31-element tensors (every
  element in the scalar tail).  Each op also names a plausible *alternative* program (no FMA, eps
  as float32, the other NaN pattern, ...) and counts the elements on which torch refutes it, so a
  check that could not tell the two apart is visible as ``refuted: 0``.
* **steps** - whole ``torch.optim.AdamW`` steps against the recipe: sizes 1..257 and odd large
  sizes, special values in every tensor, steps 1, 2, 10 and 1000, 1 and 2 threads, hyper-parameter
  sets that reach every branch (weight decay, lerp weight >= 0.5, betas, eps, lr).

torch reads ``ATEN_CPU_CAPABILITY`` once, at import; :func:`crosscheck_cpu` therefore runs one
worker process per capability (``python -m adamw_audit.crosscheck CAPABILITY``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from emulation import bits
from emulation.layout import elementwise
from emulation.program import Assign, Bf16, Expr, Program, S, T, add, div, evaluate, fma, maximum, mul, neg, sqrt
from emulation.recipes import cpu_ops as op
from emulation.recipes import recipe
from emulation.recipes.common import CAPABILITIES, Hyper, Kernel, cpu_kernel
from emulation.replay import run_bits, to_bits

SPECIALS = np.array(
    [0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x0080, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0, 0xFFC1,
     0x3F80, 0xBF80, 0x3F81, 0x0100, 0x7F00, 0x3380, 0x2B8C, 0x4B80],
    dtype=np.uint16,
)  # fmt: skip


def adversarial_bits(n: int, rng: np.random.Generator, finite: bool = False) -> np.ndarray:
    """``n`` bf16 patterns: specials (+-0, subnormals, +-max, +-Inf, NaN, 1, 1+ulp), full-range
    random bits, values near 1, tiny and huge magnitudes, in shuffled order."""
    parts = [
        np.resize(SPECIALS, max(1, n // 16)),
        rng.integers(0, 1 << 16, n // 4, dtype=np.uint32).astype(np.uint16),
        rng.integers(0x3800, 0x4100, n // 4, dtype=np.uint32).astype(np.uint16),  # ~[2^-15, 8)
        rng.integers(0x0000, 0x0400, n // 8, dtype=np.uint32).astype(np.uint16),  # tiny / subnormal
        rng.integers(0x6000, 0x7F80, n // 8, dtype=np.uint32).astype(np.uint16),  # huge
    ]
    sign = (rng.integers(0, 2, n, dtype=np.uint32).astype(np.uint16) << 15).astype(np.uint16)
    out = np.concatenate([*parts, rng.integers(0, 1 << 16, n, dtype=np.uint32).astype(np.uint16)])[:n]
    out = (out ^ sign).astype(np.uint16)
    rng.shuffle(out)
    if finite:
        out = np.where((out & 0x7F80) == 0x7F80, out & 0x3FFF, out).astype(np.uint16)
    return out


# ---------------------------------------------------------------------------------------------
# ops


@dataclass(frozen=True)
class OpCase:
    """One kernel function, its torch call, a scalar, and a refutable alternative."""

    name: str
    scalar: float
    arity: int  # tensor operands
    build: Callable[[Kernel, tuple[Expr, ...], float], Expr]
    torch_call: Callable
    alternative: str  # how the alternative differs
    alt_build: Callable[[Kernel, tuple[Expr, ...], float], Expr]


def _no_fma(k: Kernel) -> Kernel:
    return replace(k, contracts_fma=not k.contracts_fma)


def _other_nan(k: Kernel) -> Kernel:
    return replace(k, nan="scalar" if k.nan != "scalar" else "vector")


def op_cases() -> list[OpCase]:
    cases: list[OpCase] = []
    for s in (0.999, 0.99, 0.9, 0.3, 1 - 1e-2 * 0.1, 1 - 1e-3 * 0.01):
        cases.append(OpCase("mul_scalar", s, 1, lambda k, x, s: op.mul_scalar(k, x[0], S("s", s)),
                            lambda x, s: x.mul_(s), "scalar as bf16",
                            lambda k, x, s: op.mul_scalar(k, x[0], S("s", s, "bf16"))))  # fmt: skip
    # (1-0.999**2644)**0.5 is the one bias correction of steps 1..3000 (betas 0.95/0.99/0.999)
    # for which dividing and multiplying by the float reciprocal differ on some bf16 value (2 of them)
    for s in (0.1, 1 - 0.999**2, (1 - 0.999**10) ** 0.5, (1 - 0.999**1000) ** 0.5, 3.0, (1 - 0.999**2644) ** 0.5):
        cases.append(OpCase("div_scalar", s, 1, lambda k, x, s: op.div_scalar(k, x[0], S("s", s)),
                            lambda x, s: x / s, "multiply by f32(1/s)",
                            lambda k, x, s: op.mul_scalar(k, x[0], S("1/s", 1 / s))))  # fmt: skip
    for s in (1e-8, 1e-6, 3.3e-5, 1e-3, 0.1):
        cases.append(OpCase("add_scalar", s, 1, lambda k, x, s: op.add_scalar(k, x[0], S("s", s, "bf16")),
                            lambda x, s: x.add_(s), "scalar as float32",
                            lambda k, x, s: op.add_tensor(k, x[0], S("s", s, "f32"))))  # fmt: skip
    cases.append(OpCase("sqrt", 0.0, 1, lambda k, x, s: op.sqrt_(k, x[0]), lambda x, s: x.sqrt(),
                        "NaN pattern by position, like binary ops",
                        lambda k, x, s: Bf16(sqrt(x[0]), "position" if k.contracts_fma else "vector")))  # fmt: skip
    for w in (0.1, 0.01, 0.5, 0.7, 0.4999):
        cases.append(OpCase("lerp_", w, 2, lambda k, x, s: op.lerp_(k, x[0], x[1], S("w", s)),
                            lambda a, b, s: a.lerp_(b, s), "FMA toggled",
                            lambda k, x, s: op.lerp_(_no_fma(k), x[0], x[1], S("w", s))))  # fmt: skip
    for c in (1e-3, 1e-2, 0.1, 0.7):
        cases.append(OpCase("addcmul_", c, 2, lambda k, x, s: op.addcmul_(k, x[0], x[1], x[1], S("c", s)),
                            lambda a, b, s: a.addcmul_(b, b, value=s), "FMA toggled",
                            lambda k, x, s: op.addcmul_(_no_fma(k), x[0], x[1], x[1], S("c", s))))  # fmt: skip
    for c in (-1e-3, -1e-2, -3.7e-4):
        cases.append(OpCase("addcdiv_", c, 3, lambda k, x, s: op.addcdiv_(k, x[0], x[1], x[2], S("c", s)),
                            lambda a, b, d, s: a.addcdiv_(b, d, value=s), "quotient first: x + c*(t1/t2)",
                            lambda k, x, s: Bf16(_quotient_first(x, s), k.nan)))  # fmt: skip
    for s in (0.99, 0.9, 1 - 1e-2 * 0.1):
        cases.append(OpCase("foreach_mul_scalar", s, 1,
                            lambda k, x, s: op.foreach_mul_scalar(k, x[0], S("s", s, "bf16")),
                            _foreach_mul, "scalar as float32",
                            lambda k, x, s: op.mul_scalar(k, x[0], S("s", s))))  # fmt: skip
    for wd in (0.01, 0.1, 0.3):
        cases.append(OpCase("add_alpha", wd, 2, lambda k, x, s: op.add_alpha(k, x[1], x[0], S("wd", s, "bf16")),
                            lambda p, g, s: g.add(p, alpha=s), "one form everywhere (FMA body / FMA)",
                            lambda k, x, s: _one_form_add_alpha(k, x, s)))  # fmt: skip
    cases.append(OpCase("neg_", 0.0, 1, lambda k, x, s: op.neg_(k, x[0]), lambda x, s: -x,
                        "NaN canonicalised everywhere", lambda k, x, s: Bf16(neg(x[0]), k.nan)))  # fmt: skip
    cases.append(OpCase("maximum_", 0.0, 2, lambda k, x, s: op.maximum_(k, x[0], x[1]),
                        lambda a, b, s: torch_maximum(a, b), "the other family's NaN rule",
                        lambda k, x, s: _other_family_max(k, x)))  # fmt: skip
    cases.append(OpCase("add_tensor", 0.0, 2, lambda k, x, s: op.add_tensor(k, x[0], x[1]), lambda a, b, s: a + b,
                        "other NaN pattern", lambda k, x, s: op.add_tensor(_other_nan(k), x[0], x[1])))  # fmt: skip
    cases.append(OpCase("div_tensor", 0.0, 2, lambda k, x, s: op.div_tensor(k, x[0], x[1]), lambda a, b, s: a / b,
                        "other NaN pattern", lambda k, x, s: op.div_tensor(_other_nan(k), x[0], x[1])))  # fmt: skip
    return cases


def _foreach_mul(x, s):
    import torch

    torch._foreach_mul_([x], s)
    return x


def torch_maximum(a, b):
    import torch

    return torch.maximum(a, b)


def _other_family_max(k: Kernel, x: tuple[Expr, ...]) -> Expr:
    return Bf16(maximum(x[0], x[1]), "position-payload" if k.contracts_fma else "position")


def _one_form_add_alpha(k: Kernel, x: tuple[Expr, ...], wd: float) -> Expr:
    alpha = S("wd", wd, "bf16")
    if k.contracts_fma:
        return Bf16(k.madd(x[0], alpha, x[1]), k.nan)
    return Bf16(fma(x[0], alpha, x[1]), k.nan)


def _quotient_first(x: tuple[Expr, ...], c: float) -> Expr:
    return add(x[0], mul(S("c", c), div(x[1], x[2])))


def _one_op_program(expr: Expr, arity: int) -> Program:
    names = tuple(f"x{i}" for i in range(arity))
    return Program("op", "", names, (Assign("out", expr, ""),), {"out": "out"})


def _emulate(expr: Expr, arrays: list[np.ndarray], where: dict | None) -> np.ndarray:
    if not isinstance(expr, Bf16):
        raise TypeError("an op case must end in a bf16 store")
    prog = _one_op_program(expr, len(arrays))
    env = evaluate(prog, {f"x{i}": bits.widen(a) for i, a in enumerate(arrays)}, where)
    return to_bits(env["out"])


def _torch_bits(torch, call, arrays: list[np.ndarray], s: float, piece: int | None) -> np.ndarray:
    def tens(a):
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)

    def ub(t):
        return t.contiguous().view(torch.int16).numpy().view(np.uint16).copy()

    n = arrays[0].size
    if piece is None:
        return ub(call(*[tens(a) for a in arrays], s))
    out = [ub(call(*[tens(a[i : i + piece]) for a in arrays], s)) for i in range(0, n, piece)]
    return np.concatenate(out)


def _discriminating(case: OpCase, k: Kernel, rng: np.random.Generator, n: int = 1 << 21) -> list[np.ndarray]:
    """Inputs on which the case's program and its alternative disagree (found by the emulator,
    then judged by torch): where a check can fail."""
    x = [rng.integers(0x2000, 0x4800, n, dtype=np.uint32).astype(np.uint16) | (
        rng.integers(0, 2, n, dtype=np.uint32).astype(np.uint16) << 15) for _ in range(case.arity)]  # fmt: skip
    ts = tuple(T(f"x{i}") for i in range(case.arity))
    a = _emulate(case.build(k, ts, case.scalar), x, None)
    b = _emulate(case.alt_build(k, ts, case.scalar), x, None)
    keep = a != b
    return [xi[keep] for xi in x]


def check_ops(capability: str, seed: int = 0) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    k = cpu_kernel(capability)
    rng = np.random.default_rng(seed)
    every = bits.all_bf16_bits()
    results = []
    for case in op_cases():
        ts = tuple(T(f"x{i}") for i in range(case.arity))
        expr, alt = case.build(k, ts, case.scalar), case.alt_build(k, ts, case.scalar)
        # each operand in turn takes all 65,536 values; the others are adversarial
        input_sets = []
        for j in range(case.arity):
            arrs = [adversarial_bits(every.size, rng) for _ in range(case.arity)]
            arrs[j] = every.copy()
            input_sets.append(arrs)
        disc = _discriminating(case, k, rng)
        if disc[0].size:
            input_sets.append(disc)
        exact = total = refuted = 0
        for arrs in input_sets:
            for piece in (None, 31):
                n = arrs[0].size
                where = {"tail": np.ones(n, bool)} if piece else elementwise(capability, n, 1)
                want = _torch_bits(torch, case.torch_call, arrs, case.scalar, piece)
                got = _emulate(expr, arrs, where)
                exact += int(np.count_nonzero(got == want))
                total += n
                refuted += int(np.count_nonzero(_emulate(alt, arrs, where) != want))
        results.append(
            {
                "recipe": f"cpu-op:{case.name}",
                "options": {"scalar": case.scalar, "alternative": case.alternative},
                "capability": capability,
                "threads": 1,
                "elements": total,
                "exact": exact / total,
                "refuted_alternative": refuted,
                "discriminating_inputs": int(disc[0].size),
            }
        )
    return results


# ---------------------------------------------------------------------------------------------
# whole steps

HYPER_SETS = {
    "defaults": Hyper(),
    "wd0.01": Hyper(weight_decay=0.01),
    "lr1e-2,wd0.1,betas(0.8,0.99),eps1e-6": Hyper(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1),
    "beta1=0.3,beta2=0.9,lr0.1,wd1": Hyper(lr=0.1, beta1=0.3, beta2=0.9, eps=1e-3, weight_decay=1.0),
    "beta1=0,eps1e-4": Hyper(lr=3e-4, beta1=0.0, beta2=0.95, eps=1e-4),
    "Adam L2 wd0.1": Hyper(lr=1e-2, weight_decay=0.1, decoupled=False),
    "amsgrad,wd0.01": Hyper(amsgrad=True, weight_decay=0.01, beta2=0.99),
    "maximize": Hyper(maximize=True, lr=1e-2),
    "Adam L2+amsgrad+maximize": Hyper(lr=1e-2, weight_decay=0.3, decoupled=False, amsgrad=True, maximize=True),
    "lr as tensor,wd0.3": Hyper(lr=3e-3, weight_decay=0.3, lr_tensor=True),
    "differentiable,wd0.1": Hyper(lr=1e-2, weight_decay=0.1, differentiable=True),
    "differentiable,lr tensor,amsgrad": Hyper(
        lr=1e-2, weight_decay=0.1, differentiable=True, lr_tensor=True, amsgrad=True
    ),
    "GradScaler scale 1024": Hyper(lr=1e-2, weight_decay=0.1, grad_scale=1024.0),
    "GradScaler scale 3, amsgrad": Hyper(grad_scale=3.0, amsgrad=True),
    "GradScaler found_inf": Hyper(grad_scale=65536.0, found_inf=True),
}
# options torch accepts only on some paths (torch/optim/adam.py @v2.13.0 raises on the others)
ONLY_ON = {
    "lr as tensor,wd0.3": ("forloop", "fused"),
    "differentiable,wd0.1": ("forloop",),
    "differentiable,lr tensor,amsgrad": ("forloop",),
    "GradScaler scale 1024": ("fused",),
    "GradScaler scale 3, amsgrad": ("fused",),
    "GradScaler found_inf": ("fused",),
}
IMPLS = ("forloop", "foreach", "fused")
STATE_KEYS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def exhaustive_bits(n: int, rng: np.random.Generator, finite: bool = False) -> np.ndarray:
    """Every one of the 65,536 bf16 patterns once, shuffled (``n`` must be 65,536)."""
    assert n == 1 << 16 and not finite
    return rng.permutation(1 << 16).astype(np.uint16)


def _step_run(torch, h: Hyper, impl: str, n: int, steps: list[int], rng, capability: str, threads: int, device="cpu",
              make_bits: Callable[[int, np.random.Generator], np.ndarray] = adversarial_bits,
              mismatches: list[dict] | None = None):  # fmt: skip
    """Run real torch Adam/AdamW on an adversarial ``n``-element bf16 parameter; after each step
    listed in ``steps`` (step counts, increasing; a jump seeds the state at that count with
    adversarial moments), compare the recipe's outputs.  Returns (exact, total) elements.
    ``make_bits`` draws every tensor (parameter, gradients, seeded moments); ``mismatches``, when
    given, collects the inputs and both outputs of the first elements on which they differ."""
    torch.set_num_threads(threads)

    def tens(a):
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16).to(device)

    def ub(t):
        return t.detach().contiguous().cpu().view(torch.int16).numpy().view(np.uint16).copy()

    # differentiable=True runs the step under autograd: the parameter must not require grad
    p = tens(make_bits(n, rng)) if h.differentiable else torch.nn.Parameter(tens(make_bits(n, rng)))
    cls = torch.optim.AdamW if h.decoupled else torch.optim.Adam
    opt = cls(
        [p], lr=torch.tensor(h.lr) if h.lr_tensor else h.lr, betas=(h.beta1, h.beta2), eps=h.eps,
        weight_decay=h.weight_decay, amsgrad=h.amsgrad, maximize=h.maximize, foreach=impl == "foreach",
        fused=impl == "fused", differentiable=h.differentiable,
    )  # fmt: skip
    if h.grad_scale is not None:  # what GradScaler.step hands a fused optimizer
        opt.grad_scale = torch.tensor(h.grad_scale, device=device)
        opt.found_inf = torch.tensor(1.0 if h.found_inf else 0.0, device=device)
    rcp = recipe(impl, device)
    exact = total = 0
    done = 0
    for count in steps:
        if h.found_inf:
            count = 1  # a skipped step never advances the count
        g = make_bits(n, rng)
        if count != done + 1:  # jump: seed the state as if `count - 1` steps had run
            if not opt.state:
                p.grad = tens(g)
                opt.step()
            st = opt.state[p]
            st["step"].fill_(float(count - 1))
            st["exp_avg"].copy_(tens(make_bits(n, rng)))
            for key in ("exp_avg_sq", "max_exp_avg_sq"):
                if key in st:
                    st[key].copy_(tens(make_bits(n, rng) & np.uint16(0x7FFF)))
        st = opt.state.get(p)
        prev = {"param": ub(p), "grad": g}
        for key in STATE_KEYS:
            prev[key] = ub(st[key]) if st and key in st else np.zeros(n, np.uint16)
        p.grad = tens(g)
        opt.step()
        st = opt.state[p]
        got = run_bits(rcp.build(h, float(count), capability), prev, rcp.positions(capability, n, threads))
        for key, out in got.items():
            want = ub(p) if key == "param" else ub(p.grad) if key == "grad" else ub(st[key])
            exact += int(np.count_nonzero(out == want))
            total += n
            if mismatches is not None and np.any(out != want) and len(mismatches) < 200:
                at = np.flatnonzero(out != want)[:20]
                mismatches.append({"impl": impl, "hyper": repr(h), "count": count, "output": key, "n": n,
                                   "differ": int(np.count_nonzero(out != want)), "at": at.tolist(),
                                   "inputs": {k: v[at].tolist() for k, v in prev.items()},
                                   "torch": want[at].tolist(), "recipe": out[at].tolist()})  # fmt: skip
        done = 0 if h.found_inf else count
    return exact, total


def check_steps(capability: str, impls: tuple[str, ...] = IMPLS, seed: int = 0, quick: bool = False) -> list[dict]:
    import torch

    rng = np.random.default_rng(seed)
    results = []
    sizes = list(range(1, 258)) if not quick else [1, 2, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 127, 255, 257]
    plans = [
        ("sizes 1..257, steps 1,2", "defaults", sizes, [1, 2], (1,)),
        ("sizes 1..257, steps 1,2", "beta1=0.3,beta2=0.9,lr0.1,wd1", sizes, [1, 2], (1,)),
        ("odd large sizes, steps 1,2,10", "defaults", [65537, 70001, 100003], [1, 2, 10], (1, 2)),
        ("steps 1..10 then 1000", "lr1e-2,wd0.1,betas(0.8,0.99),eps1e-6", [4099], [*range(1, 11), 1000], (1, 2)),
    ]
    for name in HYPER_SETS:
        plans.append((f"{name}: steps 1,2,10,1000", name, [257, 40961], [1, 2, 10, 1000], (2,)))
    for impl in impls:
        for desc, hname, ns, steps, thread_opts in plans:
            if impl not in ONLY_ON.get(hname, (impl,)):
                continue
            for threads in thread_opts:
                exact = total = 0
                for n in ns:
                    e, t = _step_run(torch, HYPER_SETS[hname], impl, n, steps, rng, capability, threads)
                    exact += e
                    total += t
                results.append(
                    {
                        "recipe": recipe(impl).name,
                        "options": {"case": desc, "hyper": hname},
                        "capability": capability,
                        "threads": threads,
                        "elements": total,
                        "exact": exact / total,
                    }
                )
    return results


def _cuda_row(torch, impl: str, options: dict, exact: int, total: int) -> dict:
    """One result row of a CUDA check (the shape crosscheck's CPU rows have, plus the GPU)."""
    return {"recipe": recipe(impl, "cuda").name, "options": options, "capability": "cuda", "threads": 1,
            "elements": total, "exact": exact / total, "device_name": torch.cuda.get_device_name()}  # fmt: skip


def check_steps_cuda(quick: bool = False, seed: int = 0, mismatches: list[dict] | None = None) -> list[dict]:
    """Whole steps of every CUDA recipe against torch on the GPU (needs one)."""
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available here (torch.cuda.is_available() is False)")
    rng = np.random.default_rng(seed)
    sizes = [1, 2, 31, 32, 33, 127, 257, 4099] if quick else [*range(1, 258), 4099, 65537, 100003]
    rows = []
    cuda_ok = {name: h for name, h in HYPER_SETS.items() if not (h.lr_tensor or h.differentiable)}
    for impl in IMPLS:
        for name, h in cuda_ok.items():
            if impl not in ONLY_ON.get(name, (impl,)):
                continue
            exact = total = 0
            for n in sizes if name == "defaults" else [257, 40961]:
                e, t = _step_run(torch, h, impl, n, [1, 2, 10, 1000], rng, "cuda", 1, device="cuda",
                                 mismatches=mismatches)  # fmt: skip
                exact, total = exact + e, total + t
            rows.append(_cuda_row(torch, impl, {"hyper": name}, exact, total))
        if quick:
            continue
        for name in ("defaults", "beta1=0.3,beta2=0.9,lr0.1,wd1", "Adam L2+amsgrad+maximize"):
            # every bf16 pattern in every tensor: parameter, gradient and (seeded) moments
            e, t = _step_run(torch, HYPER_SETS[name], impl, 1 << 16, [1, 2, 10, 1000], rng, "cuda", 1,
                             device="cuda", make_bits=exhaustive_bits, mismatches=mismatches)  # fmt: skip
            rows.append(_cuda_row(torch, impl, {"hyper": name, "case": "exhaustive"}, e, t))
    return rows


def check_step_counts_cuda(impl: str = "fused", seed: int = 0) -> list[dict]:
    """One step at each of many step counts (1..300, then log-spaced to 10^6), 65,536 elements:
    the bias corrections of the fused kernel come from a device ``pow``; a 1-ulp difference in
    them shows in a few output elements at every count."""
    import torch

    rng = np.random.default_rng(seed)
    counts = sorted({*range(1, 301), *np.unique(np.geomspace(301, 1e6, 200).astype(int)).tolist()})
    rows = []
    for name, h in (("defaults", Hyper()), ("betas(0.8,0.99)", Hyper(beta1=0.8, beta2=0.99, lr=1e-2)),
                    ("betas(0.95,0.9999)", Hyper(beta1=0.95, beta2=0.9999, lr=3e-4))):  # fmt: skip
        exact = total = 0
        wrong_counts = []
        for count in counts:
            e, t = _step_run(torch, h, impl, 1 << 16, [count], rng, "cuda", 1, device="cuda")
            exact, total = exact + e, total + t
            if e != t:
                wrong_counts.append(count)
        row = _cuda_row(torch, impl, {"hyper": name, "case": "step counts"}, exact, total)
        rows.append({**row, "step_counts": len(counts), "step_counts_not_exact": wrong_counts[:50]})
    return rows


def crosscheck_cpu(capabilities: tuple[str, ...] = CAPABILITIES, quick: bool = False) -> list[dict]:
    """Run the worker once per capability; returns every result row."""
    rows: list[dict] = []
    for cap in capabilities:
        env = dict(os.environ, ATEN_CPU_CAPABILITY=cap)
        cmd = [sys.executable, "-m", "adamw_audit.crosscheck", cap] + (["--quick"] if quick else [])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"crosscheck worker for {cap} failed: {proc.stderr.strip().splitlines()[-1:]}")
        rows.extend(json.loads(proc.stdout))
    return rows


def _worker(argv: list[str]) -> None:
    import torch

    cap = argv[0]
    actual = str(torch.backends.cpu.get_cpu_capability()).lower()
    if actual != cap:
        raise SystemExit(f"asked for {cap}, torch runs {actual} (ATEN_CPU_CAPABILITY must be set before import)")
    quick = "--quick" in argv
    rows = check_ops(cap) + check_steps(cap, quick=quick)
    print(json.dumps(rows))


if __name__ == "__main__":
    _worker(sys.argv[1:])
