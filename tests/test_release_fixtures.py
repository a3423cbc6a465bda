"""Golden fixtures recorded from real torch releases replay bit-exactly under the versioned catalog.

The fixtures (tests/fixtures/releases/torch-X/) were written by scripts/record_release_fixtures.py
in one virtual environment per release; each directory's manifest.json states the release, the
CPU, the capabilities and the packages.  This test needs no torch: it is what lets CI verify
releases it cannot install.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adamw_audit.cli import main
from adamw_audit.verify import replay
from emulation.recipes import CATALOG, recipe
from emulation.recipes.releases import FIXTURE_RELEASES, cpu_release
from refimpl.conventions import resolve
from refimpl.recording import open_recording

ROOT = Path(__file__).parent / "fixtures" / "releases"
RELEASE_DIRS = sorted(p for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("."))
FIXTURES = [f for d in RELEASE_DIRS for f in sorted(d.glob("*.h5"))]


def _manifest(d: Path) -> dict:
    return json.loads((d / "manifest.json").read_text())


def test_every_fixture_release_is_declared_and_every_declared_release_has_fixtures():
    found = {_manifest(d)["torch_release"] for d in RELEASE_DIRS}
    assert found == set(FIXTURE_RELEASES)
    assert len(FIXTURE_RELEASES) >= 4
    assert any(cpu_release(r).momentum == "mul_add" for r in FIXTURE_RELEASES)  # before the lerp change


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture_replays_bit_exactly(path: Path):
    with open_recording(path) as rec:
        attrs = rec.attrs
        release = str(attrs["torch_version"])
        rcp = recipe(str(attrs["impl"]), "cpu", release)
        assert rcp.torch == cpu_release(release).label
        assert any(r == release.split("+")[0] and how == "fixture" for r, how in rcp.verified_releases)
        schedule = resolve(rec.steps, attrs)
        report = replay(rec, rcp, schedule, str(attrs["cpu_capability"]), int(attrs["num_threads"]), progress=False)
        exact = {name: st.fraction for name, st in report.overall().items()}
    assert exact and all(v == 1.0 for v in exact.values()), exact


def test_manifests_state_provenance_and_paths_match_the_catalog():
    for d in RELEASE_DIRS:
        m = _manifest(d)
        assert m["device"] == "cpu" and m["cpu_model"] and m["torch_version"].startswith(m["torch_release"])
        assert {run["capability"] for run in m["runs"]} == {"avx512", "avx2", "default"}
        row = cpu_release(m["torch_release"])
        for run in m["runs"]:
            impls = {r["impl"] for r in run["recorded"]}
            assert impls == ({"forloop", "foreach", "fused"} if row.fused_cpu else {"forloop", "foreach"})
            assert all(r["impl"] == "fused" for r in run["unsupported"])
            for r in run["recorded"]:
                assert (d / r["file"]).exists()


def test_verify_picks_the_release_recipe_from_the_file(capsys):
    """The CLI reads ``torch_version`` and replays with that release's program: a 1.13 fixture is
    exact under its own recipe and not under 2.13's."""
    old = next(f for f in FIXTURES if f.parent.name == "torch-1.13.1" and "forloop-avx512-adamw-default" in f.name)
    assert main(["verify", str(old), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recipe"] == "torch-1.13-2.0-cpu-forloop" and out["exact"]["W"] == 1.0
    assert main(["verify", str(old), "--torch", "2.13", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recipe"] == "torch-2.7-2.14-cpu-forloop" and out["exact"]["momentum_W"] < 1.0


def test_catalog_covers_every_release_for_every_cpu_path():
    from emulation.recipes.releases import MINOR_RELEASES

    for minor in MINOR_RELEASES:
        row = cpu_release(minor)
        for impl in ("forloop", "foreach") + (("fused",) if row.fused_cpu else ()):
            assert recipe(impl, "cpu", minor).name in CATALOG


def test_readme_states_the_fixtures_that_exist():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"replays all {len(FIXTURES)} of them" in readme
    for release in FIXTURE_RELEASES:
        assert release in readme


EXPLAIN_CASES = [
    f
    for f in FIXTURES
    if f.parent.name in ("torch-2.0.1", "torch-2.3.1", "torch-2.4.1", "torch-2.6.0", "torch-2.12.0")
    and "-avx512-adamw-options" in f.name
]


@pytest.mark.parametrize("path", EXPLAIN_CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_explain_attributes_every_seed_mismatch_on_every_release(path: Path, capsys):
    """The seed->torch bridge exists for every release row (bridge.FACTS): on each release's own
    recording the torch replay is exact and no mismatched element is left unexplained."""
    assert main(["explain", str(path), "--all-steps", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    steps = out if isinstance(out, list) else out.get("steps", [out])
    assert steps
    for step in steps:
        assert step["recipe"].startswith(f"torch-{cpu_release(path.parent.name.split('-')[1]).label}-cpu-")
        assert all(v == 1.0 for v in step["torch_exact"].values()) and step["unexplained"] == 0
        assert step["mismatches"] > 0
