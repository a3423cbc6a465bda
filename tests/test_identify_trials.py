"""The random trials' judge (scripts/identify_trials.py ``check``): it must flag a wrong answer
and pass a right one, or its tallies mean nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "identify_trials.py"
spec = importlib.util.spec_from_file_location("identify_trials", SCRIPT)
trials = importlib.util.module_from_spec(spec)
spec.loader.exec_module(trials)

# anomaly seed 106, trial 1: foreach, lr 3e-4 for steps 1-2 then 3e-5, gradient scaled at row 1
CASE = {"impl": "foreach", "shape": [4912], "steps": 5, "lr": [3e-4, 3e-4, 3e-5, 3e-5, 3e-5], "lr_kind": "step",
        "beta1": 0.9, "beta2": 0.95, "eps": 3e-5, "weight_decay": 0.01, "drop_first": 0, "seed": 790429636,
        "anomaly": "scaled", "anomaly_index": 1, "clip_factor": 0.5}  # fmt: skip
ANSWER = {  # (identify's answer on that trial, rerun on this code for exact_apart_from_scaled)
          "impl": "torch-2.7-2.14-cpu-foreach", "equivalent_impls": ["torch-2.7-2.14-cpu-foreach"],
          "first_index_step_count": 1, "other_step_counts": [], "lr": 3e-05,
          "lr_interval": [2.9992728561519464e-05, 3.0018686639850775e-05], "betas": [0.9, 0.95],
          "betas_interval": [[0.8999999947845936, 0.9000000096857548], [0.9499999973922968, 0.9500000011175871]],
          "eps": 3e-05,
          "eps_interval": [2.9981136322021484e-05, 3.0100345611572266e-05], "weight_decay": 0.0,
          "weight_decay_interval": [0.0, 65.12094417539178], "scaled_gradient_indices": [1],
          "exact_apart_from_scaled": {"W": 1.0, "momentum_W": 1.0, "variance_W": 1.0},
          "exact": {"W": 0.8844157166123778, "momentum_W": 0.7503053745928339, "variance_W": 0.7503053745928339},
          "findings": ["the optimizer saw a scaled gradient (clipping or loss scaling after the recording) "
                       "at index 1 (x0.500002): those steps are left out of the inference and cannot "
                       "replay exactly"]}  # fmt: skip


def test_one_lr_is_right_where_the_schedule_changes_only_on_a_row_left_out():
    assert trials.check_anomaly(CASE, ANSWER) == []


def test_one_lr_is_wrong_where_the_rows_replayed_have_a_schedule():
    case = {**CASE, "lr": [3e-4, 3e-4, 3e-4, 3e-5, 3e-5]}  # (rows 2 and 3 replayed with different lrs)
    assert trials.check_anomaly(case, ANSWER) == ["one lr 3e-05 for a schedule"]


def test_an_answer_that_misses_rows_not_scaled_is_wrong():
    others = {"W": 0.9997, "momentum_W": 1.0, "variance_W": 1.0}
    assert trials.check_anomaly(CASE, {**ANSWER, "exact_apart_from_scaled": others}) == [
        f"exact {ANSWER['exact']}, on the rows not scaled {others}"
    ]


def test_an_emulated_cuda_case_is_right_only_on_its_own_device_s_path():
    """``--draw cuda-lerp``: CUDA's for-loop written by the emulator; the CPU for-loop alone (the
    same m and v, W read otherwise) is the wrong device."""
    case = {**{k: v for k, v in CASE.items() if not k.startswith(("anomaly", "clip"))}, "impl": "cuda-forloop"}
    answer = {**ANSWER, "exact": ANSWER["exact_apart_from_scaled"], "scaled_gradient_indices": []}
    answer["lr_interval"], answer["weight_decay_interval"] = [2e-5, 4e-4], [0.0, 1.0]
    case["lr"] = [3e-5] * 5
    cuda = ["torch-2.11-2.13-cuda-forloop", "torch-2.7-2.14-cpu-forloop"]
    assert trials.check(case, {**answer, "equivalent_impls": cuda}) == []
    cpu = ["torch-2.7-2.14-cpu-forloop"]
    assert trials.check(case, {**answer, "equivalent_impls": cpu}) == [f"path cuda-forloop not in {cpu}"]
