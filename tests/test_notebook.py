"""The seed notebook's printed numbers, reproduced bit for bit from its own torch code."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from adamw_audit.cli import main


def notebook_torch(path: str, t: int) -> dict:
    """The notebook's cell In[3], verbatim but for loading only what it uses."""
    LEARNING_RATE, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8
    with h5py.File(path, "r") as f:
        W_prev = torch.from_numpy(f["W"][t - 1]).view(torch.bfloat16)
        W_t = torch.from_numpy(f["W"][t]).view(torch.bfloat16)
        m_t = torch.from_numpy(f["momentum_W"][t]).view(torch.bfloat16)
        v_t = torch.from_numpy(f["variance_W"][t]).view(torch.bfloat16)
    m_hat = m_t / (1 - BETA1**t)
    v_hat = v_t / (1 - BETA2**t)
    update = -LEARNING_RATE * m_hat / (torch.sqrt(v_hat) + EPS)
    W_predicted = W_prev + update
    W_actual = W_t
    TOLERANCE = 1e-3
    diff = (W_predicted - W_actual).to(torch.float32)
    abs_diff = diff.abs()
    within_tolerance = abs_diff < TOLERANCE
    exact_match = W_predicted == W_actual
    return {
        "exact": exact_match.sum().item(),
        "within_tolerance": within_tolerance.sum().item(),
        "max_abs_error": abs_diff.max().item(),
        "mean_abs_error": abs_diff.mean().item(),
        "median_abs_error": abs_diff.median().item(),
        "total": exact_match.numel(),
    }


@pytest.mark.parametrize("t", [1, 2, 10, 19])
def test_notebook_numbers_equal_torch(seed_like_recording, capsys, t):
    assert main(["notebook", seed_like_recording, "--index", str(t), "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)["naive"]
    want = notebook_torch(seed_like_recording, t)
    for key in ("exact", "within_tolerance", "total"):
        assert ours[key] == want[key], key
    for key in ("max_abs_error", "median_abs_error"):  # float32 values: equal bit for bit
        assert np.float32(ours[key]).tobytes() == np.float32(want[key]).tobytes(), key
    assert f"{ours['mean_abs_error']:.2e}" == f"{want['mean_abs_error']:.2e}"
    if t >= 10:  # the seed's ~98%; early steps miss far more (exponent t vs step t+1)
        assert 0.9 < ours["exact"] / ours["total"] < 1.0


def test_notebook_text_matches_its_print_format(seed_like_recording, capsys):
    assert main(["notebook", seed_like_recording, "--index", "10"]) == 0
    text = capsys.readouterr().out
    want = notebook_torch(seed_like_recording, 10)
    n = want["total"]
    assert f"Perfect bitwise match: {want['exact']:,} / {n:,} ({100 * want['exact'] / n:.2f}%)" in text
    assert f"Max absolute error: {want['max_abs_error']:.2e}" in text
    assert f"Median absolute error: {want['median_abs_error']:.2e}" in text


def test_notebook_with_nan_in_the_file(seed_like_recording, tmp_path, capsys):
    import shutil

    path = tmp_path / "nan.h5"
    shutil.copy(seed_like_recording, path)
    with h5py.File(path, "r+") as f:
        m = f["momentum_W"][5]
        m.reshape(-1)[:3] = [0x7FC0, 0x7F80, 0x8000]  # NaN, +Inf, -0
        f["momentum_W"][5] = m
    assert main(["notebook", str(path), "--index", "5", "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)["naive"]
    want = notebook_torch(str(path), 5)
    for key in ("exact", "within_tolerance"):
        assert ours[key] == want[key]
    assert np.isnan(ours["max_abs_error"]) and np.isnan(want["max_abs_error"])
