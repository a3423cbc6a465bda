"""identify: recordings made with torch, stripped of their attributes, identified from bits."""

from __future__ import annotations

import json

import h5py
import numpy as np

from adamw_audit.cli import main


def strip(src: str, dst, drop_first: int = 0) -> str:
    """Only the seed layout's four datasets (no attributes, no W_initial), minus leading steps."""
    with h5py.File(src, "r") as s, h5py.File(dst, "w") as d:
        for name in ("W", "momentum_W", "variance_W", "grad_W"):
            d.create_dataset(name, data=s[name][drop_first:])
    return str(dst)


def identify_json(capsys, path: str) -> dict:
    assert main(["identify", path, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def inside(x: float, iv) -> bool:
    return iv[0] <= x <= iv[1]


def test_seed_like_run(seed_like_recording, tmp_path, capsys):
    out = identify_json(capsys, strip(seed_like_recording, tmp_path / "bare.h5"))
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}
    assert "torch-2.7-2.14-cpu-forloop" in out["equivalent_impls"]
    assert out["first_index_step_count"] == 1  # index 0 holds the state after step 1
    assert out["lr"] == 1e-3 and inside(1e-3, out["lr_interval"])
    assert out["betas"] == [0.9, 0.999]
    assert inside(1e-8, out["eps_interval"]) and inside(0.0, out["weight_decay_interval"])
    # the torch-version family: every 2.1+ release gives these bits, 1.13/2.0 (mul_+add_) do not
    assert out["equivalent_releases"] == ["2.1-2.3", "2.4", "2.5-2.6", "2.7-2.14"]


def test_a_pre_lerp_recording_is_named_with_the_command_that_replays_it(tmp_path, capsys):
    from pathlib import Path

    old = Path(__file__).parent / "fixtures" / "releases" / "torch-2.0.1" / "forloop-avx2-adamw-default.h5"
    assert main(["identify", strip(str(old), tmp_path / "bare.h5")]) == 2
    err = capsys.readouterr().err
    assert "torch <= 2.0" in err and "--torch 2.0" in err and err.count("\n") == 1


def test_schedule_betas_eps_weight_decay(odd_recording, tmp_path, capsys):
    path, truth = odd_recording
    out = identify_json(capsys, strip(path, tmp_path / "bare.h5"))
    h = truth["hyper"]
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}
    assert isinstance(out["lr"], list) and len(out["lr"]) == len(out["lr_interval"])
    for lr, iv in zip(truth["lr"][1:], out["lr_interval"], strict=True):  # index 0 has no W[-1] here
        assert inside(lr, iv)
    assert inside(h.beta1, out["betas_interval"][0]) and inside(h.beta2, out["betas_interval"][1])
    assert inside(h.eps, out["eps_interval"]) and inside(h.weight_decay, out["weight_decay_interval"])


def test_foreach_is_told_apart_by_its_bf16_beta2(tmp_path, capsys):
    rec = tmp_path / "fe.h5"
    args = ["record", str(rec), "--impl", "foreach", "--steps", "6", "--shape", "3001x5", "--lr", "0.02"]
    assert main([*args, "--betas", "0.8", "0.95", "--eps", "1e-5"]) == 0
    capsys.readouterr()
    out = identify_json(capsys, strip(str(rec), tmp_path / "bare.h5"))
    assert out["equivalent_impls"] == ["torch-2.7-2.14-cpu-foreach"]
    assert out["lr"] == 0.02 and out["betas"] == [0.8, 0.95] and inside(1e-5, out["eps_interval"])
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}


def test_step_offset_of_a_file_that_starts_late(seed_like_recording, tmp_path, capsys):
    out = identify_json(capsys, strip(seed_like_recording, tmp_path / "late.h5", drop_first=3))
    assert out["first_index_step_count"] == 4  # index 0 now holds the state after step 4
    assert out["exact"]["W"] == 1.0


def test_unreproducible_file_is_one_line(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.h5"
    with h5py.File(path, "w") as f:
        for name in ("W", "momentum_W", "variance_W", "grad_W"):
            f.create_dataset(name, data=rng.integers(0x3000, 0x3F00, (4, 50, 3)).astype(np.uint16))
    assert main(["identify", str(path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "reproduces" in err


def test_fused_with_visible_weight_decay(tmp_path, capsys):
    """The fused kernel keeps the decay in float32, so weight decay is visible: identify solves
    step size and decay together and recovers it."""
    rec = tmp_path / "fused.h5"
    args = ["record", str(rec), "--impl", "fused", "--steps", "8", "--shape", "500x16", "--lr", "0.003"]
    assert main([*args, "--weight-decay", "0.1", "--eps", "1e-6", "--betas", "0.85", "0.99"]) == 0
    capsys.readouterr()
    out = identify_json(capsys, strip(str(rec), tmp_path / "bare.h5"))
    assert out["equivalent_impls"] == ["torch-2.7-2.14-cpu-fused"]
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}
    assert inside(0.003, out["lr_interval"]) and inside(0.1, out["weight_decay_interval"])
    assert inside(0.85, out["betas_interval"][0]) and inside(0.99, out["betas_interval"][1])
    assert inside(1e-6, out["eps_interval"])


def test_a_gradient_the_optimizer_saw_scaled_is_named(tmp_path, capsys):
    """A step whose recorded gradient is twice what the optimizer used (clipping after recording):
    identify still finds the settings from the other steps and names the step and the factor."""
    from emulation import bits

    rec = tmp_path / "run.h5"
    assert main(["record", str(rec), "--steps", "8", "--shape", "2000x8", "--lr", "0.01"]) == 0
    capsys.readouterr()
    bare = strip(str(rec), tmp_path / "bare.h5")
    with h5py.File(bare, "r+") as f:
        g = f["grad_W"][3]
        f["grad_W"][3] = bits.narrow(bits.widen(g) * np.float32(2))
    out = identify_json(capsys, bare)
    assert out["lr"] == 0.01 and out["betas"] == [0.9, 0.999]
    note = next(x for x in out["findings"] if "scaled gradient" in x)
    assert "index 3 (x0.5" in note
    assert out["exact"]["momentum_W"] < 1.0


def test_a_step_count_the_bits_cannot_see_is_reported_as_a_tie(tmp_path, capsys):
    """betas (0, 0): both bias corrections are 1 at every step, so every step count searched
    replays the file; identify lists the others instead of pretending to know."""
    rec = tmp_path / "b0.h5"
    assert main(["record", str(rec), "--steps", "5", "--shape", "120x8", "--betas", "0", "0", "--lr", "0.01"]) == 0
    capsys.readouterr()
    out = identify_json(capsys, strip(str(rec), tmp_path / "bare.h5"))
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}
    assert out["first_index_step_count"] == 1 and out["other_step_counts"] == [2, 3, 4, 5]
