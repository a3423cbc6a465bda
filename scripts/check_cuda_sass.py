#!/usr/bin/env python3
"""Check emulation/recipes/cuda.py against the sm_90 machine code shipped in torch 2.13.0's CUDA wheel.

What it does (reproducibly, no GPU needed):

1. ``pip download`` the torch 2.13.0 cp311 manylinux_2_28_x86_64 wheel from PyPI (the CUDA build),
   record its sha256 and extract only ``torch/lib/libtorch_cuda.so``;
2. install ``nvidia-cuda-cuobjdump`` into a throwaway venv;
3. list the sm_90 ELF symbols, demangle them (``c++filt``) and pick the bf16 kernels the CUDA
   recipes rely on (single-tensor elementwise kernels, multi_tensor_apply foreach functors, the
   fused Adam/AdamW functor);
4. dump only those functions' SASS (``cuobjdump -sass -arch sm_90 -fun``), extract the
   floating-point data path, and rebuild, for every bf16 store (``F2FP.BF16.F32.PACK_AB``), the
   float expression it stores by walking register definitions backwards (slow-path CALL regions
   skipped, predicated definitions kept as ``sel``; the ``div.rn.f32`` and ``sqrt.rn.f32`` fast
   paths are folded back to ``div``/``sqrt``);
5. check each claim that cuda.py's programs make for that op against those expressions and write
   ``tests/fixtures/cuda/sass-torch-2.13.0-sm_90.json``.

Optionally (``nvcc`` on PATH) it compiles two transcriptions of the kernel math with nvcc -arch=sm_90
and compares their float-op sequences with the shipped ones.

Usage: ``python3 scripts/check_cuda_sass.py [--work DIR] [--keep]``; exits 1 if any claim fails.
Needs network access to PyPI, ``c++filt`` (binutils) and ~1.5 GB of scratch space.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

TORCH_VERSION = "2.13.0"
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
PYTHON_VERSION = "3.11"
LIB_MEMBER = "torch/lib/libtorch_cuda.so"
CUOBJDUMP_PACKAGES = ("nvidia-cuda-cuobjdump==13.5.37", "nvidia-cuda-nvdisasm==13.5.37")  # -sass runs nvdisasm
ARCH = "sm_90"
REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "tests" / "fixtures" / "cuda" / f"sass-torch-{TORCH_VERSION}-{ARCH}.json"

# Floating-point data-path opcodes (by prefix) kept in the per-kernel opcode sequence.
FLOAT_OPS = ("FADD", "FMUL", "FFMA", "FMNMX", "MUFU", "F2F", "F2FP", "FSETP", "FSEL", "FCHK", "DADD", "DMUL", "DFMA")
BF16_STORE = "F2FP.BF16.F32.PACK_AB"


# --------------------------------------------------------------------------------------------
# Kernel selection: every needle must occur in the demangled name; exactly one mangled name must match.
# --------------------------------------------------------------------------------------------

BF = "c10::BFloat16"
ANON = "at::native::(anonymous namespace)::"


def _vec8(*needles: str) -> tuple[str, ...]:
    return ("void at::native::vectorized_elementwise_kernel<8, ", *needles)


def _mta(meta: str, functor: str, op: str) -> tuple[str, ...]:
    return (f"multi_tensor_apply_kernel<{ANON}{meta}, {ANON}{functor}, {op}",)


KERNELS: dict[str, dict] = {
    # single-tensor (for-loop) path: TensorIterator kernels, contiguous bf16 on sm_90 -> vector size 8
    "forloop.neg": {"op": "grad = -grads[i]", "needles": _vec8("at::native::neg_kernel_cuda(", f"lambda({BF})#1")},
    "forloop.mul_scalar": {
        "op": "param.mul_(1 - lr*wd); exp_avg_sq.mul_(beta2)",
        "needles": _vec8(f"AUnaryFunctor<{BF}, {BF}, {BF}, at::native::binary_internal::MulFunctor<float> >"),
    },
    "forloop.add_alpha": {
        "op": "grad.add(param, alpha=wd)",
        "needles": _vec8(f"CUDAFunctor_add<{BF}>"),
    },
    "forloop.lerp_scalar": {
        "op": "exp_avg.lerp_(grad, 1 - beta1)",
        "needles": _vec8("lerp_scalar_kernel", f"lambda({BF}, {BF})#1"),
    },
    "forloop.addcmul": {
        "op": "exp_avg_sq.addcmul_(grad, grad, value=1 - beta2)",
        "needles": _vec8("at::native::addcmul_cuda_kernel(", f"lambda({BF}, {BF}, {BF})#1"),
    },
    "forloop.maximum": {
        "op": "torch.maximum(max_exp_avg_sq, exp_avg_sq, out=...)",
        "needles": _vec8(f"BinaryFunctor<{BF}, {BF}, {BF}, at::native::maximum_kernel_cuda"),
    },
    "forloop.sqrt": {"op": "exp_avg_sq.sqrt()", "needles": _vec8("at::native::sqrt_kernel_cuda(", f"lambda({BF})#1")},
    "forloop.div_true_cpu_scalar": {
        "op": "/ bias_correction2_sqrt (div_true_kernel_cuda, CPU scalar divisor)",
        "needles": _vec8(f"BUnaryFunctor<{BF}, {BF}, {BF}, at::native::binary_internal::MulFunctor<float> >"),
    },
    "forloop.add_scalar": {"op": ".add_(eps)", "needles": _vec8(f"CUDAFunctorOnSelf_add<{BF}>")},
    "forloop.addcdiv": {
        "op": "param.addcdiv_(exp_avg, denom, value=-step_size)",
        "needles": _vec8("at::native::addcdiv_cuda_kernel(", f"lambda({BF}, {BF}, {BF})#1"),
    },
    # foreach path: multi_tensor_apply functors <T, depth, r_args_depth, res_arg_index>
    "foreach.neg": {
        "op": "torch._foreach_neg(grads)",
        "needles": _mta("TensorListMetadata<2>", f"UnaryOpFunctor<{BF}, 2, 1, 1>", "std::negate<float>"),
    },
    "foreach.add_alpha": {
        "op": "torch._foreach_add(grads, params, alpha=wd)",
        "needles": _mta("TensorListMetadata<3>", f"BinaryOpListAlphaFunctor<{BF}, 3, 2, 2>", "std::plus<float>, float"),
    },
    "foreach.lerp_scalar": {
        "op": "torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)",
        "needles": _mta(
            "TensorListMetadata<2>", f"TernaryOpScalarFunctor<{BF}, 2, 2, 0>", "at::native::LerpFunctor<float>, float"
        ),
    },
    "foreach.mul_scalar": {
        "op": "torch._foreach_mul_(exp_avg_sqs, beta2); _foreach_mul_(params, 1 - lr*wd)",
        "needles": _mta(
            "TensorListMetadata<1>", f"BinaryOpScalarFunctor<{BF}, 1, 1, 0>", "std::multiplies<float>, float"
        ),
    },
    "foreach.addcmul_scalar": {
        "op": "torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)",
        "needles": _mta(
            "TensorListMetadata<3>", f"PointwiseOpScalarFunctor<{BF}, 3, 3, 0>", "std::multiplies<float>, float"
        ),
    },
    "foreach.maximum": {
        "op": "torch._foreach_maximum_(max_exp_avg_sqs, exp_avg_sqs)",
        "needles": _mta(
            "TensorListMetadata<2>", f"BinaryOpListAlphaFunctor<{BF}, 2, 2, 0>", "at::native::maximum<float>, float"
        ),
    },
    "foreach.sqrt": {
        "op": "torch._foreach_sqrt(exp_avg_sqs)",
        "needles": _mta("TensorListMetadata<2>", f"UnaryOpFunctor<{BF}, 2, 1, 1>", "at::native::Sqrt<float>"),
    },
    "foreach.div_scalarlist": {
        "op": "torch._foreach_div_(exp_avg_sq_sqrt, bias_correction2_sqrt)",
        "needles": _mta(
            "TensorListScalarListMetadata<float, 1>",
            f"BinaryOpScalarListFunctor<{BF}, 1, 1, 0>",
            "std::divides<float> >",
        ),
    },
    "foreach.add_scalar": {
        "op": "torch._foreach_add_(exp_avg_sq_sqrt, eps)",
        "needles": _mta("TensorListMetadata<1>", f"BinaryOpScalarFunctor<{BF}, 1, 1, 0>", "std::plus<float>, float"),
    },
    "foreach.addcdiv_scalarlist": {
        "op": "torch._foreach_addcdiv_(params, exp_avgs, exp_avg_sq_sqrt, step_size)",
        "needles": _mta(
            "TensorListScalarListMetadata<float, 3>",
            f"PointwiseOpScalarListFunctor<{BF}, 3, 3, 0>",
            "std::divides<float> >",
        ),
    },
    # fused path
    "fused.adamw": {
        "op": "torch._fused_adamw_ (bf16, amsgrad=False)",
        "needles": (f"FusedAdamMathFunctor<{BF}, 4, (at::native::ADAM_MODE)1, false>",),
    },
    "fused.adam": {
        "op": "torch._fused_adam_ (bf16, amsgrad=False)",
        "needles": (f"FusedAdamMathFunctor<{BF}, 4, (at::native::ADAM_MODE)0, false>",),
    },
    "fused.adamw_amsgrad": {
        "op": "torch._fused_adamw_ (bf16, amsgrad=True)",
        "needles": (f"FusedAdamMathFunctor<{BF}, 5, (at::native::ADAM_MODE)1, true>",),
    },
}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[check_cuda_sass] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, **kw)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pypi_env() -> dict[str, str]:
    """Plain PyPI: ignore local pip configuration (find-links, constraints, extra indexes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def fetch_wheel(work: Path) -> tuple[Path, Path]:
    wheel_dir = work / "wheel"
    wheels = sorted(wheel_dir.glob(f"torch-{TORCH_VERSION}-*.whl")) if wheel_dir.is_dir() else []
    if not wheels:
        log("downloading the torch wheel from PyPI (~530 MB)")
        run(
            [
                *(sys.executable, "-m", "pip", "download", "--no-deps", f"torch=={TORCH_VERSION}"),
                *("--platform", WHEEL_PLATFORM, "--python-version", PYTHON_VERSION, "--only-binary=:all:"),
                *("--index-url", "https://pypi.org/simple", "-d", str(wheel_dir)),
            ],
            env=pypi_env(),
            stdout=subprocess.DEVNULL,
        )
        wheels = sorted(wheel_dir.glob(f"torch-{TORCH_VERSION}-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one torch {TORCH_VERSION} wheel in {wheel_dir}, found {wheels}")
    wheel = wheels[0]
    lib = work / "libtorch_cuda.so"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        if LIB_MEMBER not in names:
            raise SystemExit(f"{wheel.name} has no {LIB_MEMBER}: not the CUDA build")
        version_py = zf.read("torch/version.py").decode()
        if not lib.exists():
            log(f"extracting {LIB_MEMBER}")
            with zf.open(LIB_MEMBER) as src, lib.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    m = re.search(r"__version__ = '([^']+)'", version_py)
    if not m or "+cu" not in m.group(1):
        raise SystemExit(f"{wheel.name}: torch/version.py says {m and m.group(1)}, not a CUDA build")
    return wheel, lib


def install_cuobjdump(work: Path) -> Path:
    env_dir = work / "venv"
    exe = next(iter(env_dir.glob("lib/python*/site-packages/nvidia/cu*/bin/cuobjdump")), None)
    if exe is None or not (exe.parent / "nvdisasm").exists():
        log(f"installing {' '.join(CUOBJDUMP_PACKAGES)} into {env_dir}")
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        run(
            [
                *(str(env_dir / "bin" / "python"), "-m", "pip", "install", "-q"),
                *("--index-url", "https://pypi.org/simple", *CUOBJDUMP_PACKAGES),
            ],
            env=pypi_env(),
        )
        exe = next(iter(env_dir.glob("lib/python*/site-packages/nvidia/cu*/bin/cuobjdump")))
    os.environ["PATH"] = f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"  # cuobjdump -sass needs nvdisasm
    return exe


def demangle(names: list[str]) -> list[str]:
    out = run(["c++filt"], input="\n".join(names) + "\n", capture_output=True).stdout.splitlines()
    if len(out) != len(names):
        raise SystemExit("c++filt returned a different number of lines")
    return out


def select_kernels(cuobjdump: Path, lib: Path) -> dict[str, tuple[str, str]]:
    syms = run([str(cuobjdump), "-symbols", "-arch", ARCH, str(lib)], capture_output=True).stdout
    funcs = sorted({line.split()[-1] for line in syms.splitlines() if line.startswith("FUNC")})
    dem = demangle(funcs)
    log(f"{len(funcs)} distinct {ARCH} functions")
    chosen: dict[str, tuple[str, str]] = {}
    for key, spec in KERNELS.items():
        hits = [(m, d) for m, d in zip(funcs, dem, strict=True) if all(n in d for n in spec["needles"])]
        if len(hits) != 1:
            raise SystemExit(f"{key}: {len(hits)} kernels match {spec['needles']}: {[d[:200] for _, d in hits]}")
        chosen[key] = hits[0]
    return chosen


# --------------------------------------------------------------------------------------------
# SASS parsing
# --------------------------------------------------------------------------------------------

INSN = re.compile(r"^\s+/\*([0-9a-f]{4,})\*/\s+(@!?U?P[T0-9]\s+)?([A-Z0-9_.]+)\s*([^;]*);")


@dataclass
class Insn:
    addr: int
    pred: str  # "" or "P0" / "!P0"
    op: str
    args: list[str]

    @property
    def base(self) -> str:
        return self.op.split(".")[0]


@dataclass
class Function:
    name: str
    copies: int = 0
    insns: list[Insn] = field(default_factory=list)


def dump_sass(cuobjdump: Path, lib: Path, names: list[str]) -> dict[str, Function]:
    out = subprocess.run(
        [str(cuobjdump), "-sass", "-arch", ARCH, "-fun", ",".join(names), str(lib)],
        check=True,
        text=True,
        capture_output=True,
    ).stdout
    funcs: dict[str, Function] = {}
    cur: list[Insn] | None = None
    for line in out.splitlines():
        if "Function : " in line:
            name = line.split("Function : ", 1)[1].strip()
            fn = funcs.setdefault(name, Function(name))
            fn.copies += 1
            cur = [] if fn.copies > 1 else fn.insns
            continue
        m = INSN.match(line)
        if m and cur is not None:
            pred = (m.group(2) or "").strip().lstrip("@")
            args = [a.strip() for a in m.group(4).split(",")] if m.group(4).strip() else []
            cur.append(Insn(int(m.group(1), 16), pred, m.group(3), args))
    return funcs


def float_ops(fn: Function) -> list[str]:
    return [i.op for i in fn.insns if i.base in FLOAT_OPS]


# --------------------------------------------------------------------------------------------
# Expression rebuilding
# --------------------------------------------------------------------------------------------

REG = re.compile(r"^(-)?(\|)?(R\d+|RZ|UR\d+|URZ)(\.reuse)?(\|)?(\.[A-Z0-9_]+)?$")
CONST = re.compile(r"^(-)?(\|)?c\[0x[0-9a-f]+\]\[0x[0-9a-f]+\](\|)?$")
IMM = re.compile(r"^(-)?([0-9.]+(e[+-]?\d+)?|\+?INF|-?QNAN|0x[0-9a-f]+)$")


def _slow_regions(insns: list[Insn]) -> set[int]:
    """Indices of out-of-line slow paths: a conditional forward BRA skipping a block that CALLs."""
    by_addr = {ins.addr: k for k, ins in enumerate(insns)}
    skip: set[int] = set()
    for k, ins in enumerate(insns):
        if ins.base != "BRA" or not ins.pred or not ins.args:
            continue
        try:
            target = int(ins.args[-1].strip("`()"), 16)
        except ValueError:
            continue
        end = by_addr.get(target)
        if end is None or end <= k:
            continue
        block = range(k + 1, end)
        # slow-path stubs are tiny: move the arguments, CALL, move the result back
        if len(block) <= 8 and any(insns[j].base == "CALL" for j in block):
            skip.update(block)
    return skip


class Tracer:
    """Rebuilds the float expression a register holds at an instruction, walking definitions backwards."""

    def __init__(self, fn: Function) -> None:
        self.insns = fn.insns
        self.skip = _slow_regions(self.insns)
        self.memo: dict[tuple[str, int, str], str] = {}

    def _def(self, reg: str, k: int, pred: str) -> int | None:
        for j in range(k - 1, -1, -1):
            if j in self.skip:
                continue
            ins = self.insns[j]
            if ins.base in ("BRA", "EXIT", "RET") and not ins.pred:
                return None  # an unconditional jump ends the straight line we came from
            if ins.args and ins.args[0].split(".")[0] == reg and ins.base not in ("ST", "STG", "STS", "BRA"):
                if ins.pred and pred and ins.pred != pred:
                    continue
                return j
        return None

    def operand(self, text: str, k: int, pred: str, depth: int) -> str:
        text = text.strip()
        m = REG.match(text)
        if m:
            neg, abs_, reg = m.group(1), m.group(2), m.group(3)
            if reg in ("RZ", "URZ"):
                val = "0"
            elif reg.startswith("UR"):
                val = "k"
            else:
                val = self.value(reg, k, pred, depth)
            if abs_:
                val = f"|{val}|"
            return f"-{val}" if neg else val
        m = CONST.match(text)
        if m:
            val = "|k|" if m.group(2) else "k"
            return f"-{val}" if m.group(1) else val
        m = IMM.match(text)
        if m:
            return text
        return "?"

    def value(self, reg: str, k: int, pred: str = "", depth: int = 0) -> str:
        if depth > 40:
            return "…"
        key = (reg, k, pred)
        if key not in self.memo:
            self.memo[key] = self._value(reg, k, pred, depth)
        return self.memo[key]

    def _value(self, reg: str, k: int, pred: str, depth: int) -> str:
        j = self._def(reg, k, pred)
        if j is None:
            return "x"
        ins = self.insns[j]
        p = ins.pred or pred
        args = ins.args[1:]
        op = ins.op
        if ins.base in ("FADD", "FMUL", "FFMA", "FMNMX", "MUFU", "F2F", "FSEL", "DADD", "DMUL", "DFMA"):
            ops = [self.operand(a, j, p, depth + 1) for a in args if not a.startswith("P") and a != "!PT"]
            if ins.base == "FSEL" or ins.base == "FMNMX":
                sel = [a for a in args if a.startswith(("P", "!P"))]
                val = f"{op.lower()}({', '.join(ops)}{', ' + sel[0] if sel else ''})"
            elif ins.base == "MUFU":
                val = f"{op.split('.', 1)[1].lower()}({ops[0]})"
            else:
                val = _canon(ins.base, op, ops)
        elif ins.base in ("MOV", "IMAD") and (op == "MOV" or op == "IMAD.MOV.U32"):
            src = args[-1]
            if op == "IMAD.MOV.U32" and args[:2] != ["RZ", "RZ"]:
                return "x"
            val = self.operand(src, j, p, depth + 1)
        elif ins.base in ("LDC", "ULDC"):
            val = "k"
        else:
            val = "x"  # a load, a bf16 -> f32 unpack (IMAD.U32 / SHF / PRMT), integer math
        if ins.pred and (not pred or ins.pred != pred):
            other = self.value(reg, j, pred, depth + 1)
            val = f"sel[{ins.pred}]({val}, {other})"
        return val

    def stores(self) -> list[str]:
        out = []
        for k, ins in enumerate(self.insns):
            if ins.op == BF16_STORE and k not in self.skip:
                for src in (ins.args[1], ins.args[2]):
                    if src.strip() != "RZ":
                        out.append(fold(self.operand(src, k, ins.pred, 0)))
        return out


def _canon(base: str, op: str, ops: list[str]) -> str:
    def strip(v: str) -> tuple[bool, str]:
        return (True, v[1:]) if v.startswith("-") else (False, v)

    mods = op.split(".", 1)[1].lower() if "." in op else ""
    tag = f".{mods}" if mods else ""
    if base in ("FFMA", "DFMA"):
        (na, a), (nb, b), c = strip(ops[0]), strip(ops[1]), ops[2]
        a, b = sorted((a, b))
        sign = "-" if na != nb else ""
        return f"{base.lower()}{tag}({sign}{a}*{b}, {c})"
    if base in ("FMUL", "DMUL"):
        (na, a), (nb, b) = strip(ops[0]), strip(ops[1])
        a, b = sorted((a, b))
        return f"{'-' if na != nb else ''}{base.lower()}{tag}({a}, {b})"
    if base in ("FADD", "DADD"):
        return f"{base.lower()}{tag}({', '.join(sorted(ops))})"
    return f"{op.lower()}({', '.join(ops)})"


# Fast paths of nvcc's IEEE float division and square root, folded back into div(n, d) / sqrt(x).


def fold(expr: str) -> str:
    """Folds nvcc's div.rn.f32 / sqrt.rn.f32 fast paths back into div(n, d) / sqrt(x)."""
    for _ in range(8):
        new = _fold(expr)
        if new == expr:
            break
        expr = new
    return expr


def _split_args(s: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch in ",*" and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    parts.append(cur.strip())
    return parts


def _parse(expr: str):
    """'ffma(a*b, c)' -> ('ffma', ['a', 'b', 'c']); anything else -> None."""
    m = re.match(r"^(-?)([a-z0-9_.]+(?:\[[!A-Z0-9]+\])?)\((.*)\)$", expr)
    if not m or _balanced_end(expr) != len(expr) - 1:
        return None
    return m.group(1) + m.group(2), _split_args(m.group(3))


def _balanced_end(expr: str) -> int:
    depth = 0
    for i, ch in enumerate(expr):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _is_div(expr: str) -> tuple[str, str] | None:
    """Matches nvcc's div.rn.f32 fast path: r = fma(rcp(d)*fma(-d*rcp(d), 1), rcp(d));
    q0 = fma(n*r, 0); e = fma(-d*q0, n); q = fma(r*e, q0)."""
    p = _parse(expr)
    if not p or p[0] != "ffma" or len(p[1]) != 3:
        return None
    a, b, q0 = p[1]
    pq = _parse(q0)
    if not pq or pq[0] != "ffma" or pq[1][2] != "0":
        return None
    for r, e in ((a, b), (b, a)):
        pe = _parse(e)
        if not pe or pe[0] != "ffma":
            continue
        e1, e2, n = pe[1]
        if not e1.startswith("-"):
            continue
        e1 = e1[1:]
        for d, q in ((e1, e2), (e2, e1)):
            if q != q0 or {pq[1][0], pq[1][1]} != {n, r}:
                continue
            pr = _parse(r)
            if pr and pr[0] == "ffma" and pr[1][2] == f"rcp({d})":
                return n, d
    return None


def _fold(expr: str) -> str:
    # bottom-up over every parenthesised sub-expression
    def walk(s: str) -> str:
        p = _parse(s)
        if p is None:
            if s.startswith(("-", "|")):
                return s[0] + walk(s[1:]) if not s.startswith("|") else s
            return s
        name, args = p
        args = [walk(a) for a in args]
        # rebuild with the separators of the canonical forms
        if name.lstrip("-").startswith(("ffma", "dfma")):
            rebuilt = f"{name}({args[0]}*{args[1]}, {args[2]})"
        else:
            rebuilt = f"{name}({', '.join(args)})"
        d = _is_div(rebuilt)
        if d:
            return f"div({d[0]}, {d[1]})"
        x = _is_sqrt(rebuilt)
        return f"sqrt({x})" if x else rebuilt

    return walk(expr)


def _is_sqrt(expr: str) -> str | None:
    """Matches nvcc's sqrt.rn.f32 fast path: s = x*rsq(x); h = rsq(x)*0.5; fma((fma(-s*s, x))*h, s)."""
    p = _parse(expr)
    if not p or p[0] != "ffma" or len(p[1]) != 3:
        return None
    a, b, s = p[1]
    ps = _parse(s)
    if not ps or ps[0] != "fmul.ftz":
        return None
    rsq = [t for t in ps[1] if t.startswith("rsq(")]
    if len(rsq) != 1:
        return None
    x = rsq[0][4:-1]
    if sorted(ps[1]) != sorted([x, rsq[0]]):
        return None
    h = f"fmul.ftz(0.5, {rsq[0]})"
    r = f"ffma(-{s}*{s}, {x})"
    return x if sorted((a, b)) == sorted((h, r)) else None


# --------------------------------------------------------------------------------------------
# Claims: what cuda.py's programs assume, as checks on the rebuilt store expressions
# ("any": some store matches; "all": every store matches one of the patterns; "none": no store
# matches; "sass": a regex over the instruction text; "count": an opcode count).
# --------------------------------------------------------------------------------------------

LERP = r"sel\[!?P\d\]\(ffma\(-fadd\(-k, 1\)\*fadd\(-x, x\), x\), ffma\(fadd\(-x, x\)\*k, x\)\)"
DIVX = r"div\(x, [xk]\)"


def _c(text: str, kind: str, *pats: str, n: int = 0) -> dict:
    return {"claim": text, "kind": kind, "patterns": list(pats), "n": n}


STORE_RN = _c("bf16 store is F2FP.BF16.F32.PACK_AB (RN), no other narrowing", "sass", r"F2FP\.BF16\.F32\.PACK_AB")
NO_DOUBLE = _c("no double arithmetic in the kernel (scalar read as float)", "count", "DADD|DMUL|DFMA", n=0)
NO_APPROX = _c("no approximate MUFU.SQRT / bare MUFU.RCP result is stored", "count", r"MUFU\.SQRT|MUFU\.EX2", n=0)

ADDCMUL = [
    _c("value != 1: fma(value, round(t1*t2), self)", "any", r"^ffma\(fmul\(x, x\)\*k, x\)$"),
    _c("value == 1 (beta2 == 0): fma(t1, t2, self), the product unrounded", "any", r"^ffma\(x\*x, x\)$"),
    _c("every store is one of those two forms (cuda.py _addcmul)", "all", r"^ffma\((fmul\(x, x\)\*k|x\*x), x\)$"),
]
CLAIMS: dict[str, list[dict]] = {
    "forloop.neg": [
        _c("neg = -x in float (FADD -RZ, -x), then RN store", "all", r"fadd\(-0, -x\)"),
        _c("float -> bf16 via F2F.BF16.F32 (RN)", "sass", r"F2F\.BF16\.F32 "),
    ],
    "forloop.mul_scalar": [_c("mul by f32(scalar): FMUL(k, x)", "all", r"fmul\(k, x\)"), STORE_RN, NO_DOUBLE],
    "forloop.add_alpha": [_c("add(other, alpha=wd) = fma(alpha, other, self)", "all", r"ffma\(k\*x, x\)"), NO_DOUBLE],
    "forloop.lerp_scalar": [
        _c("lerp: |w|<0.5 ? fma(w, g-m, m) : fma(-(1-w), g-m, g); FFMA both branches", "all", LERP),
        _c(
            "branch condition is |w| >= 0.5 (FSETP.GEU |w|, 0.5)",
            "sass",
            r"FSETP\.GEU\.AND P\d, PT, \|R\d+\|(\.reuse)?, 0\.5",
        ),
        STORE_RN,
    ],
    "forloop.addcmul": [*ADDCMUL, STORE_RN],
    "forloop.maximum": [
        _c("maximum = FMNMX (max) with NaN propagation checks (FSETP.NEU x, x)", "all", r"fmnmx\(x, x, !PT\)"),
        _c("NaN checks present", "sass", r"FSETP\.NEU\.AND P\d, PT, (R\d+), \1, PT"),
    ],
    "forloop.sqrt": [_c("IEEE sqrt.rn.f32 (MUFU.RSQ + Newton + slow-path call)", "all", r"^sqrt\(x\)$"), NO_APPROX],
    "forloop.div_true_cpu_scalar": [
        _c("tensor / CPU scalar = FMUL by a float reciprocal computed on the host", "all", r"^fmul\(k, x\)$"),
        _c("no device division in this kernel", "count", r"MUFU\.RCP|FCHK", n=0),
    ],
    "forloop.add_scalar": [
        _c("add_(eps): self + alpha*f32(eps) as fma(alpha=1, eps, x), one rounding", "all", r"^ffma\(k\*k, x\)$"),
    ],
    "forloop.addcdiv": [
        _c("value != 1: fma(value, div.rn(t1, t2), self)", "any", r"^ffma\(div\(x, x\)\*k, x\)$"),
        _c("value == 1: self + div.rn(t1, t2) (same result as fma(1, q, self))", "any", r"^fadd\(div\(x, x\), x\)$"),
        _c("division is IEEE div.rn.f32 (MUFU.RCP + FFMA refinement + FCHK slow path)", "sass", r"FCHK P\d"),
    ],
    "foreach.neg": [_c("neg = -x in float", "all", r"fadd\(-0, -x\)")],
    "foreach.add_alpha": [_c("a + alpha*b contracted: fma(alpha, b, a)", "all", r"^ffma\(k\*x, x\)$")],
    "foreach.lerp_scalar": [_c("lerp: same two FFMA branches as Lerp.h", "all", LERP), STORE_RN],
    "foreach.mul_scalar": [_c("mul by f32(scalar): FMUL(k, x)", "all", r"^fmul\(k, x\)$"), STORE_RN, NO_DOUBLE],
    "foreach.addcmul_scalar": ADDCMUL,
    "foreach.maximum": [
        _c(
            "maximum(a, alpha*b), alpha=1 (exact FMUL), NaN-propagating select",
            "all",
            r"^fsel\(x, fmul\(k, x\), P\d\)$",
        ),
    ],
    "foreach.sqrt": [_c("IEEE sqrt.rn.f32", "all", r"^sqrt\(x\)$"), NO_APPROX],
    "foreach.div_scalarlist": [
        _c("true division by f32(scalar): div.rn.f32(x, s), not a reciprocal multiply", "all", r"^div\(x, [xk]\)$"),
    ],
    "foreach.add_scalar": [_c("x + f32(eps): FADD", "all", r"^fadd\(k, x\)$")],
    "foreach.addcdiv_scalarlist": [
        _c("value != 1: fma(value, div.rn(t1, t2), self)", "any", r"ffma\(div\(x, x\)\*k, x\)"),
        _c("value == 1: self + div.rn(t1, t2)", "any", r"fadd\(div\(x, x\), x\)"),
    ],
    "fused.adamw": [
        _c("M = fma(beta1, m, fma(-beta1, g, g))", "any", r"^ffma\(k\*x, ffma\(-k\*x, x\)\)$"),
        _c(
            "V = fma(beta2, v, fma(-beta2, g*g, g*g)), g*g rounded",
            "any",
            r"^ffma\(k\*x, ffma\(-fmul\(x, x\)\*k, fmul\(x, x\)\)\)$",
        ),
        _c("denom = div.rn(sqrt.rn(V), bc2_sqrt) + eps", "any", r"rcp\(fadd\(div\(sqrt\(ffma\(k\*x, ffma\("),
        _c(
            "param -= div.rn(step_size*M, denom) (FMUL, division, FADD)",
            "any",
            r"^fadd\(-ffma\(.*\*fmul\(ffma\(k\*x, ffma\(-k\*x, x\)\), x\)",
        ),
        _c("decoupled decay: P = fma(p, -(lr*wd), p) under wd != 0", "sass", r"@P\d FFMA (R\d+), \1, -UR\d+, \1 "),
        _c("hyper-parameters narrowed double -> float once (5 x F2F.F32.F64)", "count", r"F2F\.F32\.F64", n=5),
        NO_DOUBLE,
        _c(
            "bias corrections use the float pow_ overload (no F2F.F64.F32 widening anywhere)",
            "count",
            r"F2F\.F64\.F32",
            n=0,
        ),
    ],
    "fused.adam": [
        _c("M = fma(beta1, m, fma(-beta1, g, g))", "any", r"ffma\(k\*x, ffma\(-k\*sel\[P\d\]\(ffma\(k\*x, x\), x\), "),
        _c("L2 term (maximize=False): g = fma(p, wd, g) under wd != 0", "any", r"sel\[P\d\]\(ffma\(k\*x, x\), x\)"),
        _c(
            "L2 term with maximize=True: g = -g + round(p*wd) (FMUL then FADD, not contracted)",
            "any",
            r"fadd\(-x, fsel\(fmul\(k, x\), -0, P\d\)\)",
        ),
        _c("hyper-parameters narrowed double -> float once (5 x F2F.F32.F64)", "count", r"F2F\.F32\.F64", n=5),
        NO_DOUBLE,
    ],
    "fused.adamw_amsgrad": [
        _c(
            "max_exp_avg_sq = max(vmax, V) by FSETP/FSEL, stored; denom from it + f32(eps)",
            "any",
            r"fadd\(f2f\.f32\.f64\(k\), div\(sqrt\(fsel\(ffma\(k\*x, ffma\(-fmul",
        ),
        NO_DOUBLE,
    ],
}


def check(key: str, fn: Function, stores: list[str]) -> list[dict]:
    text = [f"{'@' + i.pred + ' ' if i.pred else ''}{i.op} {', '.join(i.args)} " for i in fn.insns]
    ops = [i.op for i in fn.insns]
    results = []
    for c in CLAIMS.get(key, []):
        pats = [re.compile(p) for p in c["patterns"]]
        if c["kind"] == "any":
            ok = any(p.search(s) for s in stores for p in pats)
        elif c["kind"] == "all":
            ok = bool(stores) and all(any(p.search(s) for p in pats) for s in stores)
        elif c["kind"] == "none":
            ok = not any(p.search(s) for s in stores for p in pats)
        elif c["kind"] == "sass":
            ok = any(p.search(t) for t in text for p in pats)
        else:  # count
            got = sum(1 for o in ops if any(p.match(o) for p in pats))
            ok = got == c["n"]
        results.append({"claim": c["claim"], "result": "pass" if ok else "fail"})
    return results


# --------------------------------------------------------------------------------------------
# Optional: nvcc transcription of two ops, to show nvcc's contraction matches the recipe
# --------------------------------------------------------------------------------------------

TRANSCRIPTION = r"""
#include <cuda_bf16.h>
// Lerp.h (weight as float) and DeviceAddCmulCdiv.cuh pointwise_op_impl(multiplies), bf16 in/out.
extern "C" __global__ void lerp_bf16(__nv_bfloat16* m, const __nv_bfloat16* g, float w, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float self = __bfloat162float(m[i]), end = __bfloat162float(g[i]);
  float r = (fabsf(w) < 0.5f) ? self + w * (end - self) : end - (end - self) * (1.0f - w);
  m[i] = __float2bfloat16(r);
}
extern "C" __global__ void addcmul_bf16(__nv_bfloat16* v, const __nv_bfloat16* a, const __nv_bfloat16* b,
                                        float alpha, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float in = __bfloat162float(v[i]), t1 = __bfloat162float(a[i]), t2 = __bfloat162float(b[i]);
  float r = (alpha == 1.0f) ? fmaf(t1, t2, in) : fmaf(alpha, t1 * t2, in);
  v[i] = __float2bfloat16(r);
}
"""


def alternatives(expr: str) -> set[str]:
    """The computed forms a store may take: predicated overwrites expanded, predicate names dropped."""
    p = _parse(expr)
    if p and p[0].startswith("sel["):
        return alternatives(p[1][0]) | alternatives(p[1][1])
    return set() if expr in ("x", "k") else {re.sub(r"P\d", "P", expr)}


def _rle(ops: list[str]) -> str:
    out: list[str] = []
    for op in ops:
        if out and out[-1].split("×")[0] == op:
            n = int(out[-1].split("×")[1]) + 1 if "×" in out[-1] else 2
            out[-1] = f"{op}×{n}"
        else:
            out.append(op)
    return " ".join(out)


def nvcc_compare(work: Path, cuobjdump: Path, shipped: dict[str, list[str]]) -> dict | None:
    nvcc = shutil.which("nvcc")
    if not nvcc:
        return None
    src = work / "transcription.cu"
    src.write_text(TRANSCRIPTION)
    cubin = work / "transcription.cubin"
    version = run([nvcc, "--version"], capture_output=True).stdout.strip().splitlines()[-1]
    run([nvcc, "-arch=sm_90", "-cubin", "-O3", "-o", str(cubin), str(src)], capture_output=True)
    funcs = dump_sass(cuobjdump, cubin, ["lerp_bf16", "addcmul_bf16"])
    out = {"nvcc": version, "kernels": {}}
    for name, key in (("lerp_bf16", "forloop.lerp_scalar"), ("addcmul_bf16", "forloop.addcmul")):
        fn = funcs[name]
        mine = set().union(*(alternatives(e) for e in Tracer(fn).stores()))
        theirs = set().union(*(alternatives(e) for e in shipped[key]))
        out["kernels"][name] = {
            "float_ops": _rle(float_ops(fn)),
            "computed_forms": sorted(mine),
            "same_forms_as_shipped": mine == theirs,
        }
    return out


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _histogram(ops: list[str]) -> dict[str, int]:
    hist: dict[str, int] = {}
    for op in ops:
        hist[op] = hist.get(op, 0) + 1
    return dict(sorted(hist.items(), key=lambda kv: -kv[1])[:12])


def _short(mangled: str) -> str:
    return mangled if len(mangled) <= 120 else f"{mangled[:80]}…{mangled[-30:]}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, help="scratch directory (default: a new one under the system temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the wheel, library and venv in --work")
    ap.add_argument("--out", type=Path, default=REPORT, help=f"JSON report (default: {REPORT.relative_to(REPO)})")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="check_cuda_sass."))
    work.mkdir(parents=True, exist_ok=True)
    try:
        wheel, lib = fetch_wheel(work)
        wheel_sha = sha256(wheel)
        cuobjdump = install_cuobjdump(work)
        cuobjdump_version = run([str(cuobjdump), "--version"], capture_output=True).stdout.strip().splitlines()[-1]
        chosen = select_kernels(cuobjdump, lib)
        funcs = dump_sass(cuobjdump, lib, [m for m, _ in chosen.values()])
        kernels, failed, shipped = {}, [], {}
        for key, (mangled, demangled) in chosen.items():
            fn = funcs.get(mangled)
            if fn is None or not fn.insns:
                raise SystemExit(f"{key}: no SASS for {mangled}")
            stores = Tracer(fn).stores()
            shipped[key] = stores
            results = check(key, fn, stores)
            failed += [f"{key}: {r['claim']}" for r in results if r["result"] == "fail"]
            forms = sorted(set(stores), key=lambda e: (len(e), e))
            kernels[key] = {
                "op": KERNELS[key]["op"],
                "mangled": _short(mangled),
                "demangled": re.sub(r"\(anonymous namespace\)::|at::native::", "", demangled.split(">(")[0] + ">")[
                    :300
                ],
                "elf_copies": fn.copies,
                "float_op_count": len(float_ops(fn)),
                "float_ops": _rle(float_ops(fn)) if len(float_ops(fn)) <= 80 else _histogram(float_ops(fn)),
                "store_expressions": [e if len(e) <= 100 else e[:97] + "…" for e in forms[:2]],
                "claims": results,
            }
        report = {
            "about": "sm_90 SASS of the bf16 kernels behind emulation/recipes/cuda.py (scripts/check_cuda_sass.py)",
            "legend": "x: a loaded tensor element; k: a kernel parameter (scalar); sel[P](a, b): predicated overwrite; "
            "div/sqrt: nvcc's div.rn.f32 / sqrt.rn.f32 fast path (MUFU.RCP|RSQ + FFMA refinement, slow path CALL)",
            "provenance": {
                "wheel": wheel.name,
                "wheel_sha256": wheel_sha,
                "library": LIB_MEMBER,
                "arch": ARCH,
                "cuobjdump": f"{', '.join(CUOBJDUMP_PACKAGES)} ({cuobjdump_version})",
                "date": datetime.date.today().isoformat(),
            },
            "kernels": kernels,
            "nvcc_transcription": nvcc_compare(work, cuobjdump, shipped),
            "failed": failed,
        }
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(report, separators=(",", ":"), ensure_ascii=False).replace('},"', '},\n"') + "\n")
        for key, k in kernels.items():
            for r in k["claims"]:
                print(f"{r['result'].upper():4}  {key}: {r['claim']}")
        print(f"report: {a.out}  ({len(failed)} failed)")
        return 1 if failed else 0
    finally:
        if not a.keep:
            for name in ("wheel", "venv", "libtorch_cuda.so", "transcription.cu", "transcription.cubin"):
                path = work / name
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                elif path.exists():
                    path.unlink()
            if a.work is None:
                shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
