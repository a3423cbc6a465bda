"""Command-line basics: bad input and arguments give one line and exit 2; inputs are untouched."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import h5py
import numpy as np
import pytest

from adamw_audit.cli import main


def digest(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    return code, err


def make(path, **datasets):
    with h5py.File(path, "w") as f:
        for k, v in datasets.items():
            f.create_dataset(k, data=v)
    return str(path)


GOOD = {k: np.zeros((3, 4, 2), np.uint16) for k in ("W", "momentum_W", "variance_W", "grad_W")}


@pytest.mark.parametrize(
    ("case", "expect"),
    [
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("not_hdf5", "not a readable HDF5 file"),
        ("no_grad", "missing gradient dataset 'grad_W'"),
        ("float32", "has dtype float32, expected uint16"),
        ("shape", "has shape (3, 4, 3), expected (3, 4, 2)"),
        ("one_step", "need at least 2 steps"),
    ],
)
def test_bad_recordings(tmp_path, capsys, case, expect):
    p = tmp_path / "f.h5"
    if case == "missing":
        target = str(tmp_path / "nope.h5")
    elif case == "directory":
        target = str(tmp_path)
    elif case == "not_hdf5":
        p.write_text("hello")
        target = str(p)
    elif case == "no_grad":
        target = make(p, **{k: v for k, v in GOOD.items() if k != "grad_W"})
    elif case == "float32":
        target = make(p, **{**GOOD, "momentum_W": np.zeros((3, 4, 2), np.float32)})
    elif case == "shape":
        target = make(p, **{**GOOD, "variance_W": np.zeros((3, 4, 3), np.uint16)})
    else:
        target = make(p, **{k: v[:1] for k, v in GOOD.items()})
    before = digest(target) if case not in ("missing", "directory") else None
    code, err = run_cli(capsys, "verify", target)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and expect in err, err
    if before:
        assert digest(target) == before


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--lr", "-1"], "lr must be"),
        (["--betas", "0.9", "1.0"], "beta2 must be in [0, 1)"),
        (["--eps", "0"], "eps must be"),
        (["--impl", "nonsense"], "unknown recipe"),
        (["--lr", "1e-3,2e-3,3e-3,4e-3"], "expected 1 value, one per recorded step (3) or one per replayed step (2)"),
        (["--step-offset", "0"], "step offset must be >= 1"),
        (["--lr", "abc"], "expected a number"),
    ],
)
def test_bad_arguments(tmp_path, capsys, args, expect):
    target = make(tmp_path / "ok.h5", **GOOD)
    code, err = run_cli(capsys, "verify", target, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and expect in err, err


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "adamw_audit.cli", "verify", str(tmp_path / "missing.h5")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_recipes_lists_the_forloop_path(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert "torch-2.7-2.14-cpu-forloop" in out and "live" in out and "adam.py@" in out and "v2.13.0" in out
