"""Op programs ("recipes"): one module per torch path family, plus the seed notebook's program.

A recipe builds the :class:`~emulation.program.Program` of one optimizer step from the
hyper-parameters, the step count and the CPU capability; :data:`CATALOG` lists them with the torch
source each one cites and how it was verified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..program import Program
from . import forloop, seed
from .common import CAPABILITIES, Hyper

Verified = Literal["live", "fixture", "binary", "source-only"]


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
    replays_from_state: bool
    """True when W[t] depends on m[t], v[t] only through their stored bf16 values, so W[t] can be
    rebuilt from the recorded W[t-1], m[t], v[t] ("state replay")."""


CATALOG: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="torch-2.13-cpu-forloop",
            impl="forloop",
            device="cpu",
            torch="2.13",
            source=forloop.SOURCE,
            verified_by="live",
            build=forloop.program,
            replays_from_state=True,
        ),
        Recipe(
            name="seed-notebook",
            impl="seed",
            device="cpu",
            torch="2.13",
            source=seed.SOURCE,
            verified_by="live",
            build=seed.program,
            replays_from_state=True,
        ),
    )
}

DEFAULT_FOR_IMPL = {"forloop": "torch-2.13-cpu-forloop", "seed": "seed-notebook"}


def recipe(name_or_impl: str) -> Recipe:
    """Look a recipe up by its name or by an impl (``forloop``); KeyError names the choices."""
    name = DEFAULT_FOR_IMPL.get(name_or_impl, name_or_impl)
    if name not in CATALOG:
        known = ", ".join(sorted(set(CATALOG) | set(DEFAULT_FOR_IMPL)))
        raise KeyError(f"unknown recipe {name_or_impl!r} (known: {known})")
    return CATALOG[name]


__all__ = ["CAPABILITIES", "CATALOG", "Hyper", "Recipe", "recipe"]
