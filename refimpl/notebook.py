"""The seed notebook's statistics (notebook 1.31j, cell In[3]), reproduced bit for bit.

The notebook's torch code, op by op, and what each does to bits:

    diff = (W_predicted - W_actual).to(torch.float32)   # a bf16 subtraction, rounded to bf16
    abs_diff = diff.abs()
    within_tolerance = abs_diff < TOLERANCE             # float32 compare with f32(1e-3)
    exact_match = (W_predicted == W_actual)             # VALUE equality: +0 == -0, NaN != NaN
    abs_diff.max(), abs_diff.mean(), abs_diff.median()  # median = the lower middle value

Quirk: its "perfect bitwise match" is ``==`` on values, not a bit comparison.  The prediction is
the seed recipe (emulation/recipes/seed.py); the subtraction runs through the same evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emulation import bits
from emulation.program import Assign, Bf16, Program, T, evaluate, sub

TOLERANCE = 1e-3

_DIFF = Program(
    name="notebook-diff",
    source="seed notebook 1.31j: (W_predicted - W_actual)",
    inputs=("pred", "actual"),
    assigns=(Assign("diff", Bf16(sub(T("pred"), T("actual"))), "W_predicted - W_actual"),),
    outputs={"diff": "diff"},
)


@dataclass(frozen=True)
class NotebookStats:
    exact: int
    total: int
    within_tolerance: int
    max_abs_error: float
    mean_abs_error: float
    median_abs_error: float

    def to_json(self) -> dict:
        return {
            "exact": self.exact,
            "total": self.total,
            "within_tolerance": self.within_tolerance,
            "max_abs_error": self.max_abs_error,
            "mean_abs_error": self.mean_abs_error,
            "median_abs_error": self.median_abs_error,
        }


def abs_errors(pred_bits: np.ndarray, actual_bits: np.ndarray, where: dict | None = None) -> np.ndarray:
    """``(W_predicted - W_actual).to(float32).abs()`` as the notebook computes it (float32)."""
    env = evaluate(_DIFF, {"pred": bits.widen(pred_bits), "actual": bits.widen(actual_bits)}, where)
    return np.abs(env["diff"])


def statistics(pred_bits: np.ndarray, actual_bits: np.ndarray, where: dict | None = None) -> NotebookStats:
    """The notebook's printed numbers for one step (whole-step arrays of bf16 bits)."""
    a = abs_errors(pred_bits, actual_bits, where)
    exact = int(np.count_nonzero(bits.widen(pred_bits) == bits.widen(actual_bits)))
    within = int(np.count_nonzero(a < np.float32(TOLERANCE)))
    if a.size == 0:
        return NotebookStats(0, 0, 0, float("nan"), float("nan"), float("nan"))
    any_nan = bool(np.isnan(a).any())
    mx = float("nan") if any_nan else float(a.max())
    # torch.median: the lower of the two middle values, NaN if any element is NaN.
    med = float("nan") if any_nan else float(np.partition(a, (a.size - 1) // 2)[(a.size - 1) // 2])
    mean = float(np.mean(a, dtype=np.float64))
    return NotebookStats(exact, int(a.size), within, mx, mean, med)


def format_stats(t: int, s: NotebookStats) -> str:
    """The notebook's own print statements, same format."""
    n = s.total
    lines = [
        f"Sanity check at t={t}:",
        f"  Perfect bitwise match: {s.exact:,} / {n:,} ({100 * s.exact / n:.2f}%)",
        f"  Within tolerance (< {TOLERANCE:.0e}): {s.within_tolerance:,} / {n:,} ({100 * s.within_tolerance / n:.2f}%)",
        "",
        "  Error statistics:",
        f"    Max absolute error: {s.max_abs_error:.2e}",
        f"    Mean absolute error: {s.mean_abs_error:.2e}",
        f"    Median absolute error: {s.median_abs_error:.2e}",
    ]
    return "\n".join(lines)
