"""Typed reads of a recording's HDF5 attributes: each bad value is one named AuditError line.

Attributes are optional hints (identify ignores them), but when a command uses one it must be
what it claims: ``num_threads`` an integer >= 1, ``lr_per_step`` one number per step, and so on.
HDF5 hands back str, bytes, NumPy scalars or arrays of any shape; these functions accept a value
only when it reads unambiguously as the expected type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .errors import AuditError


class Attributes(dict):
    """A recording's attributes, remembering the file they came from (for error messages)."""

    def __init__(self, values: Mapping[str, object], path: object = None) -> None:
        super().__init__(values)
        self.path = path


def _fail(attrs: Mapping[str, object], key: str, expected: str) -> AuditError:
    where = getattr(attrs, "path", None)
    value = attrs[key]
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    prefix = f"{where}: " if where is not None else ""
    return AuditError(f"{prefix}attribute {key!r} is {shown}, expected {expected}")


def _scalar(value: object) -> object:
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError("not a scalar")
        value = value.reshape(-1)[0]
    if isinstance(value, np.generic):
        value = value.item()
    return value


def text(attrs: Mapping[str, object], key: str, default: str) -> str:
    """A string attribute (str or UTF-8 bytes); ``default`` when absent."""
    if key not in attrs:
        return default
    try:
        value = _scalar(attrs[key])
        if isinstance(value, bytes):
            value = value.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise _fail(attrs, key, "a string") from None
    if not isinstance(value, str):
        raise _fail(attrs, key, "a string")
    return value


def number(attrs: Mapping[str, object], key: str) -> float | None:
    """A real-number attribute; None when absent.  (Range checks belong to the caller.)"""
    if key not in attrs:
        return None
    try:
        value = _scalar(attrs[key])
        if isinstance(value, (str, bytes)):
            raise ValueError("text")
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _fail(attrs, key, "a number") from None


def integer(attrs: Mapping[str, object], key: str, default: int, minimum: int, maximum: int = 2**31) -> int:
    """An integer attribute in ``[minimum, maximum]``; ``default`` when absent."""
    value = number(attrs, key)
    if value is None:
        return default
    if not math.isfinite(value) or value != int(value) or not minimum <= value <= maximum:
        raise _fail(attrs, key, f"an integer in [{minimum}, {maximum}]")
    return int(value)


def flag(attrs: Mapping[str, object], key: str) -> bool | None:
    """A 0/1 (or boolean) attribute; None when absent."""
    value = number(attrs, key)
    if value is None:
        return None
    if value not in (0.0, 1.0):
        raise _fail(attrs, key, "0 or 1")
    return bool(value)


def numbers(attrs: Mapping[str, object], key: str, count: int) -> tuple[float, ...] | None:
    """``count`` real numbers (a 1-D array); None when absent."""
    if key not in attrs:
        return None
    try:
        raw = attrs[key]
        if isinstance(raw, (str, bytes)) or (isinstance(raw, np.ndarray) and raw.dtype.kind not in "iuf"):
            raise ValueError("text")
        arr = np.asarray(raw, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise _fail(attrs, key, f"{count} numbers (one per recorded step)") from None
    if arr.size != count:
        raise _fail(attrs, key, f"{count} numbers (one per recorded step), found {arr.size}")
    return tuple(float(x) for x in arr)
