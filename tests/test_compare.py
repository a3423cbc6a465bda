"""adamw-audit compare: one recording under two programs, and two recordings of one run.

The release fixtures of one case share their start and gradients across releases (the worker seeds
its generator from the case name), so two of them are "the same run under two torch releases".
"""

from __future__ import annotations

import json
from pathlib import Path

from adamw_audit.cli import main

RELEASES = Path(__file__).parent / "fixtures" / "releases"
OLD = RELEASES / "torch-2.0.1" / "forloop-avx512-adamw-default.h5"
NEW = RELEASES / "torch-2.1.2" / "forloop-avx512-adamw-default.h5"


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_two_releases_on_one_recording_differ_and_every_difference_is_attributed(capsys):
    out = _json(capsys, ["compare", str(OLD), "--torch", "2.0", "--torch", "2.13", "--json"])
    assert out["recipe_a"] == "torch-1.13-2.0-cpu-forloop" and out["recipe_b"] == "torch-2.7-2.14-cpu-forloop"
    assert {"momentum", "mul_scalar_via", "avx512_block64"} <= set(out["switches"])
    for step in out["per_step"]:
        assert all(v == 1.0 for v in step["exact_a"].values())  # A is the file's own release
        assert step["differ"]["momentum_W"] > 0
        causes = step["causes"]["momentum_W"]  # lerp vs mul+add, and the NaN pattern of the AVX512 block
        assert max(causes, key=causes.get) == "momentum" and set(causes) <= {"momentum", "avx512_block64"}
        assert all(n == 0 for n in step["unexplained"].values())
        for ds, k in step["differ"].items():
            exact_b = step["exact_b"][ds]
            assert (k == 0) == (exact_b == 1.0)
    parted = [p["parted"]["W"] for p in out["trajectory"]]
    assert parted[0] > 0 and all(p >= 0 for p in parted)


def test_a_recipe_against_itself_and_across_paths(capsys):
    same = _json(capsys, ["compare", str(NEW), "--recipe", "forloop", "--torch", "2.13", "--json"])
    assert same["switches"] == [] and all(v == 0 for s in same["per_step"] for v in s["differ"].values())
    assert all(v == 0 for p in same["trajectory"] for v in p["parted"].values())
    sqrt_only = _json(capsys, ["compare", str(NEW), "--torch", "2.4", "--torch", "2.5", "--json"])
    assert sqrt_only["switches"] == ["bc2_sqrt"]
    paths = _json(capsys, ["compare", str(NEW), "--recipe", "torch-2.13-cpu-forloop", "--recipe", "fused", "--json"])
    assert paths["switches"] is None and paths["per_step"][0]["differ"]["W"] > 0


def test_two_recordings_of_one_run_part_at_step_one_for_a_named_cause(capsys):
    out = _json(capsys, ["compare", str(OLD), str(NEW), "--json"])
    assert out["first_step"] == 1.0 and out["dataset"] in ("W", "momentum_W", "variance_W")
    assert out["differing"]["grad"] == 0
    assert any(r.startswith("torch-1.13-2.0-cpu-forloop@avx512") for r in out["recipes_a"])
    assert any(r.startswith("torch-2.1-2.3-cpu-forloop@avx512") for r in out["recipes_b"])
    assert "momentum" in out["switches"] and "momentum" in out["cause"]
    text_rc = main(["compare", str(OLD), str(NEW)])
    text = capsys.readouterr().out
    assert text_rc == 0 and "first parting: step 1" in text and "cause:" in text


def test_a_recording_against_itself_is_bit_identical(capsys):
    out = _json(capsys, ["compare", str(OLD), str(OLD), "--json"])
    assert out["first_step"] is None and "bit-identical" in out["cause"] and out["common_steps"] == 3


def test_different_runs_are_told_apart_by_their_gradients(capsys):
    other = RELEASES / "torch-2.0.1" / "forloop-avx512-adamw-options.h5"
    out = _json(capsys, ["compare", str(OLD), str(other), "--json"])
    assert out["first_step"] == 1.0 and out["dataset"] == "grad" and "gradients differ" in out["cause"]


def test_bad_compare_arguments_are_one_line_and_exit_2(capsys, tmp_path):
    cases = [
        ["compare", str(OLD)],
        ["compare", str(OLD), "--torch", "2.0", "--torch", "2.1", "--torch", "2.4"],
        ["compare", str(OLD), str(NEW), "--recipe", "forloop"],
        ["compare", str(OLD), "--torch", "0.4", "--torch", "2.13"],
        ["compare", str(OLD), "--torch", "banana", "--torch", "2.13"],
        ["compare", str(OLD), "--recipe", "nope", "--recipe", "forloop"],
        ["compare", str(OLD), "--recipe", "seed", "--recipe", "forloop"],
        ["compare", str(OLD), "--torch", "2.0", "--torch", "2.13", "--steps", "0"],
        ["compare", str(tmp_path / "missing.h5"), "--torch", "2.0", "--torch", "2.13"],
        ["compare", str(OLD), str(tmp_path)],
    ]
    before = OLD.read_bytes()
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("adamw-audit: error:") and "\n" not in err, (argv, err)
    assert OLD.read_bytes() == before
