"""Op programs ("recipes"): one module per torch path family, plus the seed notebook's program.

A recipe builds the :class:`~emulation.program.Program` of one optimizer step from the
hyper-parameters, the step count and the CPU capability, and says where each element runs in the
kernel (its *layout*: vector body, scalar tail, ...).  :data:`CATALOG` lists them with the torch
source each one cites and how it was verified.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .. import layout
from ..program import Positions, Program
from . import cuda, foreach, forloop, fused, seed
from .common import CAPABILITIES, Hyper
from .releases import CPU_RELEASES, FIXTURE_RELEASES, TORCH_2_13, CpuRelease, cpu_release, minor_key, release_key

Verified = Literal["live", "fixture", "binary", "source-only"]
Layout = Callable[[str, int, int, int, "int | None"], Positions]


@dataclass(frozen=True)
class Recipe:
    """A catalog entry: what it emulates, where that is written in torch, how we know."""

    name: str
    impl: str
    device: str
    torch: str
    source: str
    verified_by: Verified
    build: Callable[[Hyper, float, str], Program]
    layout: Layout
    replays_from_state: bool
    """True when W[t] depends on m[t], v[t] only through their stored bf16 values, so W[t] can be
    rebuilt from the recorded W[t-1], m[t], v[t] ("state replay")."""
    verified_releases: tuple[tuple[str, Verified], ...] = ()
    """Single releases inside ``torch`` with their own evidence, e.g. (("2.0.1", "fixture"),)."""
    release: CpuRelease | None = None
    """The CPU release row whose switches ``build`` reads (None: not a versioned CPU recipe)."""

    def with_release(self, row: CpuRelease) -> Recipe:
        """This path under another row's switches (compare's counterfactuals)."""
        if self.release is None:
            raise ValueError(f"{self.name} is not a versioned CPU recipe")
        build = functools.partial(self.build.func, release=row)  # type: ignore[attr-defined]
        lay = cpu_layout(self.impl, row)
        return dataclasses.replace(self, name=f"{self.name}~", build=build, layout=lay, release=row)

    def positions(self, capability: str, numel: int, threads: int, start: int = 0, stop: int | None = None):
        """The layout masks of flat elements [start, stop) of a ``numel``-element tensor."""
        return self.layout(capability, numel, threads, start, stop)


CUDA_RANGE = cuda.RANGE
LIVE_RELEASE = "2.13.0"
"""The torch installed here: its recipes are checked against it live (adamw-audit crosscheck)."""


def _cpu_recipes(row: CpuRelease) -> list[Recipe]:
    """The CPU recipes of one release range: the same program functions, the row's switches.

    Evidence per release: ``live`` for the installed release, ``fixture`` for each release in
    FIXTURE_RELEASES.  The range as a whole is ``fixture`` only when every minor release in it has
    a fixture (or is live), else ``source-only`` (read, not run)."""
    evidence: dict[str, Verified] = {r: "fixture" for r in FIXTURE_RELEASES if row.covers(r)}
    if row.covers(LIVE_RELEASE):
        evidence[LIVE_RELEASE] = "live"
    minors_seen = {minor_key(r) for r in evidence}
    verified: Verified = "fixture" if minors_seen >= {minor_key(m) for m in row.minors} else "source-only"
    out = []
    for impl, module, from_state in (("forloop", forloop, True), ("foreach", foreach, True), ("fused", fused, False)):
        if impl == "fused" and not row.fused_cpu:
            continue
        build = functools.partial(module.program, release=row)
        out.append(
            Recipe(f"torch-{row.label}-cpu-{impl}", impl, "cpu", row.label, module.source(row), verified, build,
                   cpu_layout(impl, row), from_state,
                   tuple(sorted(evidence.items(), key=lambda kv: release_key(kv[0]))), row)
        )  # fmt: skip
    return out


def cpu_layout(impl: str, row: CpuRelease) -> Layout:
    """Where a CPU path's kernels run vector body and scalar tail, for one release row."""
    if impl == "fused":
        return layout.fused_adam
    return layout.elementwise_avx512_block64 if row.avx512_block64 else layout.elementwise


CATALOG: dict[str, Recipe] = {
    r.name: r
    for r in (
        *(rcp for row in CPU_RELEASES for rcp in _cpu_recipes(row)),
        Recipe("seed-notebook", "seed", "cpu", "2.13", seed.SOURCE, "live", seed.program,
               layout.elementwise, replays_from_state=True),
        Recipe(f"torch-{CUDA_RANGE}-cuda-forloop", "forloop", "cuda", CUDA_RANGE, cuda.SOURCE_FORLOOP, "binary",
               cuda.forloop, layout.uniform, replays_from_state=True, verified_releases=cuda.EVIDENCE["forloop"]),
        Recipe(f"torch-{CUDA_RANGE}-cuda-foreach", "foreach", "cuda", CUDA_RANGE, cuda.SOURCE_FOREACH, "binary",
               cuda.foreach, layout.uniform, replays_from_state=True, verified_releases=cuda.EVIDENCE["foreach"]),
        Recipe(f"torch-{CUDA_RANGE}-cuda-fused", "fused", "cuda", CUDA_RANGE, cuda.SOURCE_FUSED, "source-only",
               cuda.fused, layout.uniform, replays_from_state=False, verified_releases=cuda.EVIDENCE["fused"]),
    )
}  # fmt: skip

DEFAULT_FOR_IMPL = {
    "forloop": f"torch-{TORCH_2_13.label}-cpu-forloop",
    "foreach": f"torch-{TORCH_2_13.label}-cpu-foreach",
    "fused": f"torch-{TORCH_2_13.label}-cpu-fused",
    "seed": "seed-notebook",
}


def recipe(name_or_impl: str, device: str = "cpu", torch: str | None = None) -> Recipe:
    """Look a recipe up by its name, or by an impl (``forloop``) on ``device`` for a torch release
    (default 2.13); KeyError names the choices."""
    name = DEFAULT_FOR_IMPL.get(name_or_impl, name_or_impl)
    named = re.fullmatch(r"torch-(\d+\.\d+(?:\.\d+)?)-cpu-(forloop|foreach|fused)", name)
    if named and name not in CATALOG:  # "torch-2.13-cpu-fused": the range holding that release
        name = f"torch-{cpu_release(named[1]).label}-cpu-{named[2]}"
    named = re.fullmatch(r"torch-(\d+\.\d+(?:\.\d+)?)-cuda-(forloop|foreach|fused)", name)
    if named and name not in CATALOG and cuda.covers(named[1]):  # "torch-2.13-cuda-fused"
        name = f"torch-{CUDA_RANGE}-cuda-{named[2]}"
    if device == "cuda" and name_or_impl in DEFAULT_FOR_IMPL:
        name = f"torch-{CUDA_RANGE}-cuda-{name_or_impl}"
    if torch is not None and name_or_impl in DEFAULT_FOR_IMPL and name_or_impl != "seed":
        if device == "cuda" and not cuda.covers(torch):
            raise KeyError(f"no CUDA recipe for torch {torch} (CUDA recipes cover {CUDA_RANGE})")
        if device == "cpu":
            name = f"torch-{cpu_release(torch).label}-cpu-{name_or_impl}"
    if name not in CATALOG:
        known = ", ".join(sorted(set(CATALOG) | set(DEFAULT_FOR_IMPL)))
        raise KeyError(f"unknown recipe {name_or_impl!r} (known: {known})")
    return CATALOG[name]


__all__ = ["CAPABILITIES", "CATALOG", "Hyper", "Recipe", "recipe"]
