"""Open an untrusted HDF5 file in a child process first, so a crash of the C library is a message.

A damaged HDF5 file can make libhdf5 itself crash (a segmentation fault while decoding a corrupt
attribute or object header) or loop forever (decoding a corrupt attribute list): both seen by
tests/test_fuzz.py, and no Python ``except`` can catch either.
:func:`check` runs the metadata reads every command makes (open, validate the layout, read the
attributes, touch the first and last row of every dataset and, for chunked datasets, every entry
of the chunk index) in a child process.  If the child dies from a signal the file is reported as
damaged, in one line, and so is a child that has not finished after TIMEOUT_S seconds (reading a
valid file's metadata takes well under a second); any ordinary problem is left to the caller's
own open, which names it.

    python -m refimpl.preflight FILE GRAD_NAME
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from .errors import AuditError

MAX_CHUNKS = 1 << 20
TIMEOUT_S = 15.0


def check(path: str | os.PathLike[str], grad_name: str) -> None:
    """Raise AuditError if reading ``path``'s metadata crashes the HDF5 library."""
    if not os.path.isfile(path):
        return  # the caller names a missing path or a directory
    try:
        done = subprocess.run(
            [sys.executable, "-m", "refimpl.preflight", os.path.abspath(path), grad_name],
            capture_output=True,
            text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            timeout=TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise AuditError(
            f"{path}: damaged HDF5 file (reading its metadata did not finish in {TIMEOUT_S:g} s)"
        ) from None
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        raise AuditError(f"{path}: damaged HDF5 file (the HDF5 library crashed with {name} reading its metadata)")


def _touch(path: str, grad_name: str) -> None:
    import h5py

    from .errors import AuditError
    from .recording import open_recording

    try:
        with open_recording(path, grad_name) as rec:
            dict(rec.attrs)
            names: list[str] = []
            rec.file.visit(names.append)  # type: ignore[attr-defined]
            for name in names:
                obj = rec.file[name]  # type: ignore[index]
                if not isinstance(obj, h5py.Dataset):
                    continue
                dict(obj.attrs)
                if obj.shape and obj.shape[0] > 0:
                    obj[0]
                    obj[obj.shape[0] - 1]
                if obj.chunks is not None:
                    for i in range(min(obj.id.get_num_chunks(), MAX_CHUNKS)):
                        obj.id.get_chunk_info(i)
    except AuditError:
        pass  # an ordinary, named problem: the parent reports it itself
    except Exception:
        pass  # any other Python-level failure is caught and named by the parent's own checks


if __name__ == "__main__":
    _touch(sys.argv[1], sys.argv[2])
