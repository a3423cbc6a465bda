"""Hyper-parameters and the step-count convention, and where each value comes from.

Step count.  torch increments ``state['step']`` *before* computing the update, so the first
``optimizer.step()`` runs with step = 1.  A recording in the seed's order (grad before the step;
W, m, v after it) holds at array index ``i`` the state after step ``i + 1``::

    index       0    1    2   ...   i
    step count  1    2    3   ...   i + step_offset      (step_offset = 1 by default)

``step_offset`` is explicit and overridable: a recording that was started mid-run, or that
skipped its first step, has another one.  (The seed notebook uses ``i`` itself as the exponent:
one step behind.)

Precedence for every hyper-parameter: command line > the recording's attributes > the seed
notebook's values (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from emulation.recipes.common import Hyper

from . import attributes
from .errors import AuditError

SEED_HYPER = Hyper(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
DEFAULT_STEP_OFFSET = 1


@dataclass(frozen=True)
class Schedule:
    """Hyper-parameters for a whole recording: lr may change per recorded step."""

    hyper: Hyper
    lr_per_index: tuple[float, ...] | None  # None: hyper.lr at every step
    step_offset: int = DEFAULT_STEP_OFFSET
    skipped: tuple[int, ...] = ()  # array indices where the optimizer did not step (GradScaler)

    def at(self, index: int) -> Hyper:
        if self.lr_per_index is None:
            return self.hyper
        return replace(self.hyper, lr=self.lr_per_index[index])

    def step_count(self, index: int) -> float:
        """The optimizer's step count while producing array index ``index`` (a float, like
        ``state['step'].item()``): a skipped step does not advance it."""
        return float(index + self.step_offset - sum(1 for s in self.skipped if s < index))


def validate(h: Hyper) -> Hyper:
    """Reject values torch would reject (or that make AdamW meaningless), one line each."""
    checks = [
        (math.isfinite(h.lr) and h.lr >= 0, f"lr must be a finite number >= 0, got {h.lr!r}"),
        (0 <= h.beta1 < 1, f"beta1 must be in [0, 1), got {h.beta1!r}"),
        (0 <= h.beta2 < 1, f"beta2 must be in [0, 1), got {h.beta2!r}"),
        (math.isfinite(h.eps) and h.eps > 0, f"eps must be a finite number > 0, got {h.eps!r}"),
        (math.isfinite(h.weight_decay) and h.weight_decay >= 0, f"weight decay must be >= 0, got {h.weight_decay!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise AuditError(message)
    return h


def resolve(
    n_steps: int,
    attrs: Mapping[str, object],
    lr: Sequence[float] | None = None,
    betas: Sequence[float] | None = None,
    eps: float | None = None,
    weight_decay: float | None = None,
    step_offset: int | None = None,
    flags: Mapping[str, bool | None] | None = None,
    skipped: Sequence[int] | None = None,
) -> Schedule:
    """Combine command-line values, file attributes and the seed defaults (in that order).

    ``flags``: ``decoupled`` (AdamW vs Adam), ``amsgrad``, ``maximize`` from the command line;
    None falls back to the attributes ``optimizer`` ("Adam"/"AdamW"), ``amsgrad``, ``maximize``.
    ``skipped``: array indices where the optimizer did not step (W, m, v kept; not counted).
    """

    def pick(cli: float | None, key: str, default: float) -> float:
        if cli is not None:
            return float(cli)
        found = attributes.number(attrs, key)
        return default if found is None else found

    b1 = pick(None if betas is None else betas[0], "beta1", SEED_HYPER.beta1)
    b2 = pick(None if betas is None else betas[1], "beta2", SEED_HYPER.beta2)
    flags = dict(flags or {})

    def flag(key: str, from_attrs: bool) -> bool:
        return bool(flags[key]) if flags.get(key) is not None else from_attrs

    optimizer = attributes.text(attrs, "optimizer", "AdamW").strip().lower()
    h = Hyper(
        lr=pick(None, "lr", SEED_HYPER.lr),
        beta1=b1,
        beta2=b2,
        eps=pick(eps, "eps", SEED_HYPER.eps),
        weight_decay=pick(weight_decay, "weight_decay", SEED_HYPER.weight_decay),
        amsgrad=flag("amsgrad", bool(attributes.flag(attrs, "amsgrad"))),
        maximize=flag("maximize", bool(attributes.flag(attrs, "maximize"))),
        decoupled=flag("decoupled", optimizer != "adam"),
    )
    outside = [i for i in skipped or () if not 0 <= i < n_steps]
    if outside:
        raise AuditError(f"--skipped: indices must be in 0..{n_steps - 1} (the recorded steps), got {outside}")
    # the rows replayed: every one but row 0 (the start) and those the optimizer skipped
    replayed = [i for i in range(1, n_steps) if i not in set(skipped or ())]
    per_index: tuple[float, ...] | None = None
    if lr is not None:
        if len(lr) == 1:
            h = replace(h, lr=float(lr[0]))
        elif len(lr) == n_steps:
            per_index = tuple(float(x) for x in lr)
        elif len(lr) == len(replayed):  # one per replayed step (identify's list): rows not replayed never read theirs
            at = dict(zip(replayed, (float(x) for x in lr), strict=True))
            per_index = tuple(at.get(i, float(lr[0])) for i in range(n_steps))
        else:
            raise AuditError(
                f"--lr: expected 1 value, one per recorded step ({n_steps}) or one per replayed step "
                f"({len(replayed)}), got {len(lr)}"
            )
    elif "lr_per_step" in attrs:
        per_index = attributes.numbers(attrs, "lr_per_step", n_steps)
    if per_index is not None and len(set(per_index)) == 1:
        h, per_index = replace(h, lr=per_index[0]), None
    validate(h)
    for x in per_index or ():
        validate(replace(h, lr=x))
    offset = step_offset
    if offset is None:
        offset = attributes.integer(attrs, "first_index_step_count", DEFAULT_STEP_OFFSET, 1, 2**53)
    if offset < 1:
        raise AuditError(f"step offset must be >= 1 (torch's first step count is 1), got {offset}")
    return Schedule(h, per_index, offset, tuple(sorted(set(skipped or ()))))
