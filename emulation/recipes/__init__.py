"""Op programs ("recipes"): one module per torch path family, plus the seed notebook's program.

A recipe builds the :class:`~emulation.program.Program` of one optimizer step from the
hyper-parameters, the step count and the CPU capability, and says where each element runs in the
kernel (its *layout*: vector body, scalar tail, ...).  :data:`CATALOG` lists them with the torch
source each one cites and how it was verified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .. import layout
from ..program import Positions, Program
from . import cuda, foreach, forloop, fused, seed
from .common import CAPABILITIES, Hyper

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

    def positions(self, capability: str, numel: int, threads: int, start: int = 0, stop: int | None = None):
        """The layout masks of flat elements [start, stop) of a ``numel``-element tensor."""
        return self.layout(capability, numel, threads, start, stop)


CATALOG: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("torch-2.13-cpu-forloop", "forloop", "cpu", "2.13", forloop.SOURCE, "live", forloop.program,
               layout.elementwise, replays_from_state=True),
        Recipe("torch-2.13-cpu-foreach", "foreach", "cpu", "2.13", foreach.SOURCE, "live", foreach.program,
               layout.elementwise, replays_from_state=True),
        Recipe("torch-2.13-cpu-fused", "fused", "cpu", "2.13", fused.SOURCE, "live", fused.program,
               layout.fused_adam, replays_from_state=False),
        Recipe("seed-notebook", "seed", "cpu", "2.13", seed.SOURCE, "live", seed.program,
               layout.elementwise, replays_from_state=True),
        Recipe("torch-2.13-cuda-forloop", "forloop", "cuda", "2.13", cuda.SOURCE_FORLOOP, "source-only",
               cuda.forloop, layout.uniform, replays_from_state=True),
        Recipe("torch-2.13-cuda-foreach", "foreach", "cuda", "2.13", cuda.SOURCE_FOREACH, "source-only",
               cuda.foreach, layout.uniform, replays_from_state=True),
        Recipe("torch-2.13-cuda-fused", "fused", "cuda", "2.13", cuda.SOURCE_FUSED, "source-only",
               cuda.fused, layout.uniform, replays_from_state=False),
    )
}  # fmt: skip

DEFAULT_FOR_IMPL = {
    "forloop": "torch-2.13-cpu-forloop",
    "foreach": "torch-2.13-cpu-foreach",
    "fused": "torch-2.13-cpu-fused",
    "seed": "seed-notebook",
}


def recipe(name_or_impl: str, device: str = "cpu") -> Recipe:
    """Look a recipe up by its name or by an impl (``forloop``) on ``device``; KeyError names the
    choices."""
    name = DEFAULT_FOR_IMPL.get(name_or_impl, name_or_impl)
    if device == "cuda" and name_or_impl in DEFAULT_FOR_IMPL:
        name = f"torch-2.13-cuda-{name_or_impl}"
    if name not in CATALOG:
        known = ", ".join(sorted(set(CATALOG) | set(DEFAULT_FOR_IMPL)))
        raise KeyError(f"unknown recipe {name_or_impl!r} (known: {known})")
    return CATALOG[name]


__all__ = ["CAPABILITIES", "CATALOG", "Hyper", "Recipe", "recipe"]
