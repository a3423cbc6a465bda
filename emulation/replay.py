"""Run a program on bf16 bit patterns: the bridge between recordings and the evaluator."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import bits
from .program import COMPUTED, Positions, Program, evaluate

U16 = npt.NDArray[np.uint16]


def to_bits(x: npt.NDArray[np.float32]) -> U16:
    """float32 values that are already bf16 (a ``bf16(...)`` result) -> their bit patterns.

    Exact: the low 16 bits are zero by construction, NaN patterns included.
    """
    return (np.asarray(x, dtype=np.float32).view(np.uint32) >> np.uint32(16)).astype(np.uint16)


def run_bits(
    program: Program,
    state: dict[str, U16],
    positions: Positions | None = None,
    given: dict[str, U16] | None = None,
) -> dict[str, U16]:
    """Evaluate ``program`` on bf16 bit arrays (``positions``: the recipe's layout masks for
    these elements); returns its outputs as bf16 bit arrays."""
    inputs = {name: bits.widen(state[name]) for name in program.inputs}
    given_f = {k: bits.widen(v) for k, v in (given or {}).items()}
    env = evaluate(program, inputs, positions, given=given_f)
    return {out: to_bits(env.get(COMPUTED + name, env[name])) for out, name in program.outputs.items()}
