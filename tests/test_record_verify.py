"""record -> verify with real torch: 1.0 for W, m, v, on recordings with several settings."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from adamw_audit.cli import main


def verify_json(capsys, *args: str) -> dict:
    assert main(["verify", *args, "--json", "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out)


def test_seed_like_run_verifies_exactly(seed_like_recording, capsys):
    out = verify_json(capsys, seed_like_recording)
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}
    assert out["steps_checked"] == 20  # step 0 from W_initial, then 19 more
    assert out["recipe"] == "torch-2.7-2.14-cpu-forloop"
    assert out["tensors"]["W"]["elements"] == 20 * 640_000


def test_state_replay_is_exact_for_forloop(seed_like_recording, capsys):
    out = verify_json(capsys, seed_like_recording, "--mode", "state")
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}


def test_wrong_settings_are_detected(seed_like_recording, capsys):
    """The check can fail: the notebook's off-by-one step count, or a wrong eps, break exactness."""
    off_by_one = verify_json(capsys, seed_like_recording, "--step-offset", "2")
    assert off_by_one["exact"]["W"] < 0.999
    assert off_by_one["exact"]["momentum_W"] == 1.0  # m, v do not depend on the step count
    wrong_lr = verify_json(capsys, seed_like_recording, "--lr", "1.1e-3")
    assert wrong_lr["exact"]["W"] < 0.99


def test_odd_shape_schedule_weight_decay(odd_recording, capsys):
    path, truth = odd_recording
    out = verify_json(capsys, path)
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}
    assert out["hyper"]["lr"] == truth["lr"]


def test_stripped_attributes_with_flags(odd_recording, tmp_path, capsys):
    """A file with no provenance at all (like the seed's) verifies when told the settings."""
    path, truth = odd_recording
    bare = tmp_path / "bare.h5"
    with h5py.File(path, "r") as src, h5py.File(bare, "w") as dst:
        for name in ("W", "momentum_W", "variance_W", "grad_W"):
            dst.create_dataset(name, data=src[name][:])
    h = truth["hyper"]
    lrs = ",".join(repr(x) for x in truth["lr"])
    common = ["--betas", "0.8", "0.99", "--eps", "1e-6", "--weight-decay", "0.1", "--threads", "2"]
    out = verify_json(capsys, str(bare), "--lr", lrs, *common)
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}
    assert out["steps_checked"] == 11  # no W_initial: index 0 cannot be replayed
    assert h.beta1 == 0.8
    # the seed's defaults are wrong for this file, and say so
    assert verify_json(capsys, str(bare))["exact"]["W"] < 0.5


@pytest.mark.parametrize("shape", ["257", "3x5x7"])
def test_other_ranks(tmp_path, capsys, shape):
    path = tmp_path / f"r{shape}.h5"
    assert main(["record", str(path), "--steps", "4", "--shape", shape, "--weight-decay", "0.5", "--lr", "0.01"]) == 0
    capsys.readouterr()
    out = verify_json(capsys, str(path))
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}


def test_nan_and_inf_in_a_recording_are_data(seed_like_recording, tmp_path, capsys):
    """Poison a gradient with NaN/Inf/-0/subnormals; replay must still match where torch would."""
    import torch

    from adamw_audit.record import bits_of

    src = tmp_path / "poison.h5"
    shutil.copy(seed_like_recording, src)
    with h5py.File(src, "r+") as f:
        w0 = torch.from_numpy(f["W"][2].view(np.int16)).view(torch.bfloat16).clone()
        m0 = torch.from_numpy(f["momentum_W"][2].view(np.int16)).view(torch.bfloat16).clone()
        v0 = torch.from_numpy(f["variance_W"][2].view(np.int16)).view(torch.bfloat16).clone()
        g = torch.from_numpy(f["grad_W"][3].view(np.int16)).view(torch.bfloat16).clone()
        g.view(-1)[:6] = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, 1e-40, 3e38])
        p = torch.nn.Parameter(w0.clone())
        opt = torch.optim.AdamW([p], lr=1e-3, foreach=False)
        p.grad = g
        opt.step()  # step 1 in torch's count; we relabel: write it as index 3 of a fresh state
        st = opt.state[p]
        st["exp_avg"].copy_(m0)
        st["exp_avg_sq"].copy_(v0)
        st["step"].fill_(3.0)
        p.data.copy_(w0)
        opt.step()
        f["grad_W"][3] = bits_of(g)
        f["W"][3] = bits_of(p)
        f["momentum_W"][3] = bits_of(st["exp_avg"])
        f["variance_W"][3] = bits_of(st["exp_avg_sq"])
    out = verify_json(capsys, str(src))
    per = {s["index"]: s for s in out["per_step"]}
    assert per[3]["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}


@pytest.mark.parametrize("impl", ["foreach", "fused"])
def test_other_impls_record_and_verify(tmp_path, capsys, impl):
    """foreach and fused recordings with an lr schedule, weight decay and an odd shape verify at
    1.0, the recipe picked from the file's impl attribute."""
    path = tmp_path / f"{impl}.h5"
    lrs = "0.01,0.008,0.006,0.004,0.002,0.001"
    args = ["record", str(path), "--impl", impl, "--steps", "6", "--shape", "1001x3", "--lr", lrs]
    assert main([*args, "--weight-decay", "0.05", "--betas", "0.85", "0.99", "--threads", "2"]) == 0
    capsys.readouterr()
    out = verify_json(capsys, str(path))
    assert out["recipe"] == f"torch-2.7-2.14-cpu-{impl}"
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}
    other = "fused" if impl == "foreach" else "forloop"
    assert verify_json(capsys, str(path), "--impl", other)["exact"]["W"] < 1.0  # the paths differ


def test_fused_cannot_replay_from_state(tmp_path, capsys):
    path = tmp_path / "fused.h5"
    assert main(["record", str(path), "--impl", "fused", "--steps", "2", "--shape", "64"]) == 0
    capsys.readouterr()
    assert main(["verify", str(path), "--mode", "state"]) == 2
    err = capsys.readouterr().err
    assert "state replay is impossible" in err and len(err.strip().splitlines()) == 1


def test_adam_amsgrad_maximize_record_and_verify(tmp_path, capsys):
    """torch.optim.Adam (L2 decay) with amsgrad and maximize: the recorder stores the flags and
    max_exp_avg_sq; verify reads them back and replays all four tensors exactly."""
    path = tmp_path / "adam.h5"
    args = ["record", str(path), "--steps", "5", "--shape", "77x5", "--optimizer", "adam", "--amsgrad", "--maximize"]
    assert main([*args, "--weight-decay", "0.2", "--lr", "0.01"]) == 0
    capsys.readouterr()
    out = verify_json(capsys, str(path))
    assert out["hyper"]["optimizer"] == "Adam" and out["hyper"]["amsgrad"] and out["hyper"]["maximize"]
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0, "max_variance_W": 1.0}
    assert verify_json(capsys, str(path), "--optimizer", "adamw")["exact"]["W"] < 1.0


def test_interrupted_record_leaves_no_file(tmp_path, monkeypatch):
    """Ctrl-C in the middle of a recording: neither the file nor its temporary is left behind."""
    import torch

    from adamw_audit import record as record_module

    calls = {"n": 0}
    real_step = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    out = tmp_path / "run.h5"
    with pytest.raises(KeyboardInterrupt):
        record_module.record(out, steps=5, shape=(64, 4))
    assert list(tmp_path.iterdir()) == []


def test_replay_collects_the_elements_it_got_wrong(odd_recording):
    """``replay(..., mismatched=set)`` gathers the flat indices that differ in any tensor at any
    step (identify samples them in its next search): none with the true settings; with lr 0.1%
    off, at least every W mismatch of the worst step, the same whatever the chunking, and the
    limit honoured."""
    from dataclasses import replace

    from adamw_audit.verify import replay
    from emulation.recipes import recipe
    from refimpl.conventions import Schedule
    from refimpl.recording import open_recording

    path, truth = odd_recording
    rcp = recipe("forloop")
    right = Schedule(truth["hyper"], tuple(truth["lr"]), 1)
    off = replace(right, lr_per_index=tuple(lr * 1.001 for lr in truth["lr"]))
    with open_recording(path) as rec:
        none: set[int] = set()
        replay(rec, rcp, right, "avx512", 2, progress=False, mismatched=none)
        assert none == set()
        one_chunk: set[int] = set()
        report = replay(rec, rcp, off, "avx512", 2, progress=False, mismatched=one_chunk)
        worst = max(s.stats["W"].total - s.stats["W"].exact for s in report.steps)
        assert worst > 0 and len(one_chunk) >= worst and max(one_chunk) < rec.numel
        small_chunks: set[int] = set()
        replay(rec, rcp, off, "avx512", 2, chunk_elements=100, progress=False, mismatched=small_chunks)
        assert small_chunks == one_chunk
        five: set[int] = set()
        replay(rec, rcp, off, "avx512", 2, progress=False, mismatched=five, mismatched_limit=5)
        assert len(five) == 5 and five <= one_chunk


def test_an_emulated_cpu_recording_names_its_capability(tmp_path, capsys):
    """``record_emulated`` on a CPU capability writes ``cpu_capability``, so verify replays that
    build's programs (without it verify took AVX512's, and a default-build file missed v)."""
    from adamw_audit.record import record_emulated
    from emulation.recipes.common import Hyper

    hyper = Hyper(beta1=0.69, eps=1e-12, weight_decay=0.3)
    path = record_emulated(tmp_path / "e.h5", "forloop", 6, (620, 5), [2e-5], hyper, 134692926, "default")
    with h5py.File(path, "r") as f:
        assert f.attrs["cpu_capability"] == "default"
    out = verify_json(capsys, str(path))
    assert out["exact"] == {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0}
    assert verify_json(capsys, str(path), "--capability", "avx512")["exact"]["variance_W"] < 1.0
