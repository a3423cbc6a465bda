"""Fuzzing: mutated recordings never crash the reader or the commands, and are never modified.

Hypothesis mutates a valid recording (a 437-element, 3-step amsgrad fixture recorded from torch
2.5.1, with an lr schedule): raw bytes (flips, overwrites, truncation), datasets (deleted, another
dtype, another shape, a scalar, an empty one, a group in their place, special bit patterns as
data), and attributes (deleted, wrong types, out-of-range values, arrays of the wrong length).
Each mutant goes through ``adamw-audit verify`` (its preflight in a child process, then
``open_recording`` and every row) with ``ADAMW_AUDIT_DEBUG=1``, so any exception that is not a
named AuditError escapes and fails the test; the command must exit 0 (the mutant is still a
recording: NaN and Inf are data) or 2 with one line on stderr, and the file must keep its bytes.
(One preflight per mutant: each is a child process, ~0.3 s, most of this test's time.)

CI runs ``ADAMW_AUDIT_FUZZ_EXAMPLES`` (default 100) cases; a longer run:

    ADAMW_AUDIT_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest -q tests/test_fuzz.py
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adamw_audit.cli import main

BASE = Path(__file__).parent / "fixtures" / "releases" / "torch-2.5.1" / "forloop-avx2-adamw-options.h5"
EXAMPLES = int(os.environ.get("ADAMW_AUDIT_FUZZ_EXAMPLES", "100"))
DATASETS = ("W", "momentum_W", "variance_W", "grad_W", "W_initial", "max_variance_W")
ATTRS = (
    "torch_version", "impl", "device", "cpu_capability", "num_threads", "lr", "lr_per_step", "beta1", "beta2",
    "eps", "weight_decay", "optimizer", "amsgrad", "maximize", "first_index_step_count", "grad_dataset",
)  # fmt: skip
ODD_VALUES = (
    "", "banana", "2.0", "99.1", "cuda", "avx1024", b"\xff\xfe", -1, 0, 1, 3, 2**40, -(2**40), 1e308, -1e-3,
    float("nan"), float("inf"), np.arange(0), np.arange(7, dtype=np.float64), np.array(["a", "b"]),
    np.array([[1.0, 2.0]]), True,
)  # fmt: skip
SPECIAL_BITS = (0x0000, 0x8000, 0x0001, 0x7F80, 0xFF80, 0x7FC0, 0xFFFF, 0x7F7F, 0x0080)

byte_edit = st.tuples(st.just("bytes"), st.floats(0, 1), st.binary(min_size=1, max_size=16))
truncate = st.tuples(st.just("truncate"), st.floats(0, 1))
drop = st.tuples(st.just("drop"), st.sampled_from(DATASETS))
retype = st.tuples(
    st.just("dtype"),
    st.sampled_from(DATASETS),
    st.sampled_from(("float32", "float16", "int32", "int16", "uint8", "uint32", "float64", "bool", "int64")),
)
reshape = st.tuples(
    st.just("shape"),
    st.sampled_from(DATASETS),
    st.sampled_from(("scalar", "empty", "one_step", "extra_step", "flat", "inner", "transpose", "group")),
)
data = st.tuples(st.just("data"), st.sampled_from(DATASETS), st.sampled_from(SPECIAL_BITS), st.floats(0, 1))
attr_set = st.tuples(st.just("attr"), st.sampled_from(ATTRS), st.sampled_from(range(len(ODD_VALUES))))
attr_del = st.tuples(st.just("attr_del"), st.sampled_from(ATTRS))
mutation = st.one_of(byte_edit, truncate, drop, retype, reshape, data, attr_set, attr_del)


def _structural(path: Path, m: tuple) -> None:
    with h5py.File(path, "r+") as f:
        kind = m[0]
        if kind == "attr":
            f.attrs[m[1]] = ODD_VALUES[m[2]]
            return
        if kind == "attr_del":
            if m[1] in f.attrs:
                del f.attrs[m[1]]
            return
        name = m[1]
        if name not in f:
            return
        old = np.asarray(f[name]) if isinstance(f[name], h5py.Dataset) else np.zeros((3, 19, 23), np.uint16)
        del f[name]
        if kind == "drop":
            return
        if kind == "dtype":
            with np.errstate(all="ignore"):
                f.create_dataset(name, data=old.astype(m[2]))
        elif kind == "data":
            arr = old.copy()
            flat = arr.reshape(-1)
            flat[: max(1, int(m[3] * flat.size))] = m[2]
            f.create_dataset(name, data=arr)
        else:
            shapes = {
                "scalar": lambda a: np.uint16(7),
                "empty": lambda a: a[:0],
                "one_step": lambda a: a[:1],
                "extra_step": lambda a: np.concatenate([a, a[:1]]),
                "flat": lambda a: a.reshape(-1),
                "inner": lambda a: a.reshape(a.shape[0], -1) if a.ndim > 1 else a[:, None],
                "transpose": lambda a: a.T.copy(),
            }
            if m[2] == "group":
                f.create_group(name)
            else:
                f.create_dataset(name, data=shapes[m[2]](old))


def _mutate(path: Path, mutations: list[tuple]) -> None:
    for m in mutations:
        if m[0] in ("bytes", "truncate"):
            raw = bytearray(path.read_bytes())
            at = int(m[1] * (len(raw) - 1))
            if m[0] == "bytes":
                raw[at : at + len(m[2])] = m[2]
            else:
                del raw[at:]
            path.write_bytes(bytes(raw))
        else:
            try:
                _structural(path, m)
            except (OSError, KeyError, ValueError, TypeError, RuntimeError, IndexError, OverflowError):
                pass  # the file is already too damaged for h5py to edit: keep it as it is


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_recordings_never_crash_the_reader_or_verify(workdir, mutations, capsys, monkeypatch):
    monkeypatch.setenv("ADAMW_AUDIT_DEBUG", "1")  # an unforeseen exception escapes and fails the test
    path = workdir / "mutant.h5"
    shutil.copyfile(BASE, path)
    _mutate(path, mutations)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    capsys.readouterr()
    code = main(["verify", str(path), "--json"])
    err = capsys.readouterr().err.strip()
    assert code in (0, 2), (mutations, code, err)
    if code == 2:
        assert err.startswith("adamw-audit: error:") and "\n" not in err, (mutations, err)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
