"""Shared fixtures: recordings made once per session with real torch (CI installs torch)."""

from __future__ import annotations

import numpy as np
import pytest

from adamw_audit.record import record
from emulation.recipes.common import Hyper


@pytest.fixture(scope="session")
def seed_like_recording(tmp_path_factory) -> str:
    """10000x64 bf16, 20 steps, the seed's hyper-parameters: the issue's acceptance run."""
    path = tmp_path_factory.mktemp("rec") / "seedlike.h5"
    record(path, steps=20, shape=(10000, 64), impl="forloop", lr=[1e-3], hyper=Hyper(), seed=1)
    return str(path)


@pytest.fixture(scope="session")
def odd_recording(tmp_path_factory) -> tuple[str, dict]:
    """Odd shape, lr schedule, weight decay, non-default betas and eps."""
    path = tmp_path_factory.mktemp("rec") / "odd.h5"
    lrs = [float(x) for x in np.geomspace(3e-2, 1e-3, 12)]
    h = Hyper(lr=lrs[0], beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)
    record(path, steps=12, shape=(333, 7), impl="forloop", lr=lrs, hyper=h, seed=7, threads=2)
    return str(path), {"lr": lrs, "hyper": h}
