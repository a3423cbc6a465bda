"""Recordings in the seed layout: HDF5, bf16 bit patterns as uint16, one row per step.

    W           uint16 [steps, *shape]   parameter after step i+1      (seed order)
    momentum_W  uint16 [steps, *shape]   exp_avg after that step
    variance_W  uint16 [steps, *shape]   exp_avg_sq after that step
    grad_W      uint16 [steps, *shape]   gradient the step consumed (name overridable)
    W_initial   uint16 [*shape]          optional: W before the first recorded step
    max_variance_W uint16 [steps, *shape] amsgrad only: max_exp_avg_sq after the step

A recording is opened read-only and streamed: :meth:`Recording.read` returns one step's slice of
flat elements ``[start, stop)``; nothing ever loads a whole dataset.  The writer writes to a
temporary file beside the target and renames it into place on success, so an interrupted run
leaves either no file or a complete one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .attributes import Attributes
from .errors import AuditError

STATE_DATASETS = ("W", "momentum_W", "variance_W")
DEFAULT_GRAD = "grad_W"
INITIAL_W = "W_initial"
MAX_SQ_DATASET = "max_variance_W"  # amsgrad's max_exp_avg_sq, written only when amsgrad is on
DEFAULT_CHUNK_ELEMENTS = 1 << 17

U16 = npt.NDArray[np.uint16]


def _h5py():
    import h5py

    return h5py


@dataclass
class Recording:
    """An open, validated recording.  Use as a context manager."""

    path: Path
    file: object
    grad_name: str
    steps: int
    shape: tuple[int, ...]
    has_initial: bool

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def attrs(self) -> Attributes:
        """The file's attributes (read with refimpl.attributes' typed functions)."""
        try:
            return Attributes(dict(self.file.attrs), self.path)  # type: ignore[attr-defined]
        except (OSError, RuntimeError, KeyError, ValueError, TypeError) as e:
            raise AuditError(f"{self.path}: cannot read the file's attributes ({e})") from None

    def read(self, name: str, index: int, start: int = 0, stop: int | None = None) -> U16:
        """Flat elements [start, stop) of dataset ``name`` at step ``index`` (``INITIAL_W``:
        index is ignored)."""
        stop = self.numel if stop is None else stop
        dset = self.file[name]  # type: ignore[index]
        inner = int(np.prod(self.shape[1:], dtype=np.int64)) if len(self.shape) > 1 else 1
        lead = () if name == INITIAL_W else (index,)
        try:
            if len(self.shape) == 0:
                out = np.asarray(dset[lead]).reshape(1)
            elif start % inner == 0 and (stop % inner == 0 or stop == self.numel):
                rows = slice(start // inner, -(-stop // inner))
                out = np.asarray(dset[(*lead, rows)]).reshape(-1)
            else:
                r0, r1 = start // inner, -(-stop // inner)
                block = np.asarray(dset[(*lead, slice(r0, r1))]).reshape(-1)
                out = block[start - r0 * inner : stop - r0 * inner]
        except DAMAGE as e:
            raise AuditError(f"{self.path}: cannot read dataset {name!r} at step {index}: {_reason(e)}") from None
        return out.astype(np.uint16, copy=False)

    def chunks(self, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> Iterator[tuple[int, int]]:
        """Flat ``[start, stop)`` ranges aligned to whole rows of the parameter."""
        inner = int(np.prod(self.shape[1:], dtype=np.int64)) if len(self.shape) > 1 else 1
        rows = max(1, chunk_elements // max(inner, 1))
        step = rows * inner
        for start in range(0, self.numel, step):
            yield start, min(start + step, self.numel)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()  # type: ignore[attr-defined]

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_recording(path: str | os.PathLike[str], grad_name: str = DEFAULT_GRAD, min_steps: int = 1) -> Recording:
    """Open ``path`` read-only and check the layout; every problem is one :class:`AuditError` line."""
    h5py = _h5py()
    p = Path(path)
    if not p.exists():
        raise AuditError(f"{p}: no such file")
    if p.is_dir():
        raise AuditError(f"{p}: is a directory, expected an HDF5 recording")
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        reason = str(e).split("(")[0].strip().rstrip(",")
        raise AuditError(f"{p}: not a readable HDF5 file ({reason})") from None
    try:
        rec = _validate(p, f, grad_name, min_steps)
    except DAMAGE as e:
        # h5py reports a damaged file (bad links, addresses past the end, truncated heaps) with
        # whatever exception its C layer maps the HDF5 error to
        f.close()
        raise AuditError(f"{p}: damaged HDF5 file ({_reason(e)})") from None
    except BaseException:
        f.close()
        raise
    return rec


DAMAGE = (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError, UnicodeDecodeError, SystemError)
"""What h5py raises on a damaged file; AuditError is none of these."""


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _validate(p: Path, f: object, grad_name: str, min_steps: int) -> Recording:
    h5py = _h5py()
    names = [*STATE_DATASETS, grad_name]
    shape0: tuple[int, ...] | None = None
    for name in names:
        if name not in f:  # type: ignore[operator]
            what = "gradient dataset" if name == grad_name else "dataset"
            raise AuditError(f"{p}: missing {what} {name!r} (found: {', '.join(sorted(map(str, f.keys()))) or 'none'})")  # type: ignore[attr-defined]
        d = f[name]  # type: ignore[index]
        if not isinstance(d, h5py.Dataset):
            raise AuditError(f"{p}: {name!r} is a group, expected a uint16 dataset")
        if d.dtype != np.uint16:
            raise AuditError(f"{p}: dataset {name!r} has dtype {d.dtype}, expected uint16 (bf16 bit patterns)")
        if d.ndim < 1:
            raise AuditError(f"{p}: dataset {name!r} is a scalar, expected [steps, ...]")
        if shape0 is None:
            shape0 = d.shape
        elif d.shape != shape0:
            raise AuditError(f"{p}: dataset {name!r} has shape {d.shape}, expected {shape0} like {names[0]!r}")
    assert shape0 is not None
    steps, shape = int(shape0[0]), tuple(int(x) for x in shape0[1:])
    if steps < min_steps:
        raise AuditError(f"{p}: {steps} recorded step(s), need at least {min_steps}")
    has_initial = INITIAL_W in f  # type: ignore[operator]
    for name, want in ((INITIAL_W, shape), (MAX_SQ_DATASET, shape0)):
        if name not in f:  # type: ignore[operator]
            continue
        d = f[name]  # type: ignore[index]
        if not isinstance(d, h5py.Dataset) or d.dtype != np.uint16 or tuple(d.shape) != want:
            found = f"{getattr(d, 'dtype', 'a group')} {getattr(d, 'shape', '')}".strip()
            raise AuditError(f"{p}: dataset {name!r} is {found}, expected uint16 {want}")
    return Recording(p, f, grad_name, steps, shape, has_initial)


class RecordingWriter:
    """Write a recording step by step; the file appears at ``path`` only when complete."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        shape: tuple[int, ...],
        steps: int,
        grad_name: str = DEFAULT_GRAD,
        extra: tuple[str, ...] = (),
    ):
        h5py = _h5py()
        self.path = Path(path)
        if self.path.is_dir():
            raise AuditError(f"{self.path}: is a directory, expected a file name for the recording")
        if not self.path.parent.exists():
            raise AuditError(f"{self.path.parent}: no such directory")
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self.file = h5py.File(self.tmp, "w")
        self.grad_name = grad_name
        chunk = (1, *shape)
        for name in (*STATE_DATASETS, grad_name, *extra):
            self.file.create_dataset(name, shape=(steps, *shape), dtype=np.uint16, chunks=chunk)

    def write_initial(self, w: U16) -> None:
        self.file.create_dataset(INITIAL_W, data=np.asarray(w, dtype=np.uint16))

    def write_step(self, index: int, **arrays: U16) -> None:
        for name, arr in arrays.items():
            self.file[name][index] = arr

    def set_attrs(self, attrs: Mapping[str, object]) -> None:
        for k, v in attrs.items():
            self.file.attrs[k] = v

    def commit(self) -> Path:
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.file.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
