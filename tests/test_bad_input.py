"""Every command x every kind of bad recording or argument: exit 2, one line naming it, input untouched.

The recordings are built here from a valid 3-step, 6x5 recording (zeros: replayable by every
command) by one damage each.  Commands: verify, explain, notebook, identify, compare (one file
under two releases, and two files).  ``record`` is covered for its own arguments below.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest

from adamw_audit.cli import main

SHAPE = (3, 6, 5)
NAMES = ("W", "momentum_W", "variance_W", "grad_W")


def _write(path: Path, datasets: dict, attrs: dict | None = None) -> Path:
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            if v is not None:
                f.create_dataset(k, data=v)
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
    return path


def _good() -> dict:
    rng = np.random.default_rng(0)
    data = {k: (rng.integers(0x3000, 0x3F00, SHAPE)).astype(np.uint16) for k in NAMES}
    data["W_initial"] = data["W"][0].copy()
    return data


def _build(case: str, tmp: Path) -> tuple[Path, str]:
    """(path, the words the one-line message must contain)."""
    p = tmp / "bad.h5"
    good = _good()
    if case == "missing":
        return tmp / "nope.h5", "no such file"
    if case == "directory":
        return tmp, "is a directory"
    if case == "empty":
        p.write_bytes(b"")
        return p, "not a readable HDF5 file"
    if case == "not_hdf5":
        p.write_text("step,W\n1,0.5\n")
        return p, "not a readable HDF5 file"
    if case == "truncated":
        _write(tmp / "whole.h5", good)
        p.write_bytes((tmp / "whole.h5").read_bytes()[:1500])
        return p, str(p)
    if case == "missing_dataset":
        return _write(p, {**good, "variance_W": None}), "missing dataset 'variance_W'"
    if case.startswith("dtype_"):
        dtype = case.split("_", 1)[1]
        return _write(p, {**good, "momentum_W": good["momentum_W"].astype(dtype)}), f"has dtype {dtype}"
    if case == "shapes":
        return _write(p, {**good, "grad_W": np.zeros((3, 6, 4), np.uint16)}), "has shape (3, 6, 4), expected (3, 6, 5)"
    if case == "scalar":
        return _write(p, {**good, "W": np.uint16(5)}), "'W' is a scalar"
    if case == "too_few_steps":
        one = {k: v[:1] for k, v in good.items() if k != "W_initial"}
        return _write(p, one), "step"
    if case == "grad_name":
        return _write(p, {**good, "grad_W": None, "g": good["grad_W"]}), "missing gradient dataset 'grad_W'"
    if case == "bad_attribute":
        return _write(p, good, {"cpu_capability": 42}), "attribute 'cpu_capability' is 42, expected a string"
    raise AssertionError(case)


CASES = ("missing", "directory", "empty", "not_hdf5", "truncated", "missing_dataset", "dtype_float32", "dtype_float16",
         "dtype_int32", "shapes", "scalar", "too_few_steps", "grad_name", "bad_attribute")  # fmt: skip
COMMANDS = {
    "verify": lambda f: ["verify", f],
    "explain": lambda f: ["explain", f, "--step", "1"],
    "notebook": lambda f: ["notebook", f, "--index", "1"],
    "identify": lambda f: ["identify", f],
    "compare": lambda f: ["compare", f, "--torch", "2.0", "--torch", "2.13"],
    "compare2": lambda f: ["compare", f, f],
}


def _digest(p: Path) -> str | None:
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None


def _expect_one_line(capsys, argv: list[str], words: str) -> None:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, (argv, code, err)
    assert err.startswith("adamw-audit: error:") and "\n" not in err, err
    assert words in err, (words, err)


NOT_BAD_FOR = {
    ("bad_attribute", "identify"),  # identify ignores attributes by design
    ("bad_attribute", "compare2"),  # two-file compare reads no attribute when the files are equal
    ("too_few_steps", "compare2"),  # two one-step recordings compare without any replay
}


@pytest.mark.parametrize(
    ("case", "command"),
    [(case, c) for case in CASES for c in sorted(COMMANDS) if (case, c) not in NOT_BAD_FOR],
)
def test_bad_recording(tmp_path, capsys, case, command):
    path, words = _build(case, tmp_path)
    before = _digest(path)
    _expect_one_line(capsys, COMMANDS[command](str(path)), words)
    assert _digest(path) == before


@pytest.mark.parametrize(
    ("command", "args", "words"),
    [
        (c, a, w)
        for c in ("verify", "explain", "compare")
        for a, w in (
            (["--lr", "-1"], "lr must be"),
            (["--lr", "nan"], "lr must be"),
            (["--betas", "0.9", "1.0"], "beta2 must be in [0, 1)"),
            (["--betas", "-0.1", "0.999"], "beta1 must be in [0, 1)"),
            (["--eps", "0"], "eps must be"),
            (["--eps=-1e-8"], "eps must be"),
            (["--weight-decay", "-0.1"], "weight decay must be"),
            (["--step-offset", "0"], "step offset must be >= 1"),
            (["--threads", "0"], "--threads must be >= 1"),
        )
    ]
    + [
        ("verify", ["--impl", "nonsense"], "unknown recipe"),
        ("verify", ["--torch", "3.7"], "no CPU recipe for torch 3.7"),
        ("explain", ["--step", "3"], "--step must be in [1, 2]"),
        ("explain", ["--step", "-1"], "--step must be in [1, 2]"),
        ("explain", ["--element", "9,9"], "outside W's shape"),
        ("notebook", ["--index", "7"], "--index must be in [1, 2]"),
        ("identify", ["--sample", "3"], "--sample must be >= 16"),
        ("compare", ["--steps", "0"], "--steps must be >= 1"),
    ],
)
def test_bad_arguments_for_every_command(tmp_path, capsys, command, args, words):
    path = _write(tmp_path / "ok.h5", _good())
    before = _digest(path)
    base = {"verify": ["verify"], "explain": ["explain"], "notebook": ["notebook"], "identify": ["identify"],
            "compare": ["compare"]}[command]  # fmt: skip
    extra = ["--torch", "2.0", "--torch", "2.13"] if command == "compare" and "--torch" not in args else []
    _expect_one_line(capsys, [*base, str(path), *extra, *args], words)
    assert _digest(path) == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--steps", "0"], "--steps must be >= 1"),
        (["--shape", "0x3"], "expected positive sizes"),
        (["--lr", "-1"], "lr must be"),
        (["--betas", "0.9", "1.5"], "beta2 must be in [0, 1)"),
        (["--eps", "0"], "eps must be"),
        (["--impl", "bogus"], "invalid choice"),
        (["--device", "tpu"], "invalid choice"),
    ],
)
def test_record_rejects_bad_arguments_without_writing(tmp_path, capsys, args, words):
    out = tmp_path / "run.h5"
    _expect_one_line(capsys, ["record", str(out), "--steps", "2", "--shape", "4x3", *args], words)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_record_on_cuda_without_a_gpu_is_one_line(tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as in CI, also on a GPU machine
    out = tmp_path / "run.h5"
    _expect_one_line(capsys, ["record", str(out), "--steps", "1", "--shape", "4x3", "--device", "cuda"], "no CUDA")
    assert list(tmp_path.iterdir()) == []


def test_record_into_a_directory_or_missing_directory(tmp_path, capsys):
    _expect_one_line(capsys, ["record", str(tmp_path), "--steps", "1", "--shape", "4x3"], "is a directory")
    _expect_one_line(capsys, ["record", str(tmp_path / "no" / "run.h5"), "--steps", "1", "--shape", "4x3"],
                     "no such directory")  # fmt: skip


def test_a_file_that_hangs_libhdf5_is_one_line(tmp_path, capsys, monkeypatch):
    """Found by the fuzzer: a flipped byte in the attribute heap sends libhdf5 into an endless loop
    on ``dict(f.attrs)``; the child-process preflight times out and names the file.  (Its limit
    cut from 15 s to 4 here: the child never ends, and the suite need not wait the full limit.)"""
    import refimpl.preflight

    monkeypatch.setattr(refimpl.preflight, "TIMEOUT_S", 4.0)
    damaged = Path(__file__).parent / "fixtures" / "damaged" / "attributes-loop-forever.h5"
    before = _digest(damaged)
    _expect_one_line(capsys, ["verify", str(damaged)], "damaged HDF5 file (reading its metadata did not finish")
    assert _digest(damaged) == before
