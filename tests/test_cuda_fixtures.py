"""CUDA golden fixtures and the GPU's ``powf``, replayed without a GPU.

Everything here was recorded on a lent H100 (sm_90) with torch 2.11.0+cu130 by
scripts/cuda_device_run.py and scripts/cuda_powf_probe.py; the manifests and JSON reports beside
the files state the versions.  CI has no GPU: these files are how it verifies the CUDA programs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adamw_audit.cli import main
from adamw_audit.verify import replay
from emulation import cuda_powf
from emulation.program import S, fma, scalar_labels, sub
from emulation.recipes import CATALOG, cuda, recipe
from emulation.recipes.common import Hyper
from refimpl.conventions import resolve
from refimpl.recording import open_recording

ROOT = Path(__file__).resolve().parents[1]
CUDA_DIR = ROOT / "tests" / "fixtures" / "cuda"
FIXTURE_DIR = ROOT / cuda.FIXTURES
FIXTURES = sorted(FIXTURE_DIR.glob("*.h5"))


def _failing(fixtures: list[Path]) -> list[str]:
    bad = []
    for path in fixtures:
        with open_recording(path) as rec:
            attrs = rec.attrs
            rcp = recipe(str(attrs["impl"]), "cuda", str(attrs["torch_version"]))
            report = replay(rec, rcp, resolve(rec.steps, attrs), "cuda", 1, progress=False)
            if any(st.fraction != 1.0 for st in report.overall().values()):
                bad.append(path.stem)
    return bad


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_cuda_fixture_replays_bit_exactly(path: Path):
    with open_recording(path) as rec:
        attrs = rec.attrs
        assert attrs["device"] == "cuda" and str(attrs["torch_version"]).startswith("2.11.0")
        assert attrs["gpu_arch"] == "sm_90"
        rcp = recipe(str(attrs["impl"]), "cuda", str(attrs["torch_version"]))
        assert ("2.11.0", "fixture") in rcp.verified_releases
        report = replay(rec, rcp, resolve(rec.steps, attrs), "cuda", 1, progress=False)
        exact = {name: (st.exact, st.total) for name, st in report.overall().items()}
    assert exact and all(e == t > 0 for e, t in exact.values()), exact


def test_cuda_fixtures_cover_every_path_and_case_and_state_provenance():
    manifest = json.loads((FIXTURE_DIR / "manifest.json").read_text())
    env = manifest["environment"]
    assert env["torch"] == "2.11.0+cu130" and env["gpu_arch"] == "sm_90" and "H100" in env["gpu"]
    recorded = manifest["worker"]["recorded"]
    assert manifest["worker"]["unsupported"] == []
    assert {r["impl"] for r in recorded} == {"forloop", "foreach", "fused"}
    assert {f.name for f in FIXTURES} == {r["file"] for r in recorded}
    assert len({r["case"] for r in recorded}) == 7


def test_the_verify_command_reads_device_and_release_from_a_cuda_file(capsys):
    path = FIXTURE_DIR / "fused-cuda-adamw-step100000.h5"
    assert main(["verify", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recipe"] == f"torch-{cuda.RANGE}-cuda-fused" and out["exact"]["W"] == 1.0


def test_the_fixtures_refute_the_lerp_branch_as_first_read(monkeypatch):
    """``fma(w-1, g-m, g)`` (the reading before the GPU run) stores -0 where torch stores +0 at
    beta1 = 0; the beta1-0 fixtures catch it, so the fixture test can fail."""

    def first_reading(m, g, w):
        if abs(float(w.kernel_value)) < 0.5:
            return fma(w, sub(g, m), m)
        return fma(sub(w, S("1", 1.0)), sub(g, m), g)

    monkeypatch.setattr(cuda, "_lerp", first_reading)
    assert sorted(_failing(FIXTURES)) == ["foreach-cuda-adamw-beta1-0", "forloop-cuda-adamw-beta1-0"]


def test_live_crosscheck_report_is_complete_and_exact():
    """The GPU run's report (committed evidence): every row exact, every path, every bf16 pattern."""
    report = json.loads((CUDA_DIR / "crosscheck-torch-2.11.0-sm_90.json").read_text())
    rows = report["rows"]
    assert report["environment"]["torch"] == "2.11.0+cu130" and report["mismatches"] == []
    # recorded under the names of the time (torch-2.13-cuda-*), which still resolve
    assert {recipe(r["recipe"]).name for r in rows} == {n for n, r in CATALOG.items() if r.device == "cuda"}
    assert all(r["exact"] == 1.0 for r in rows)
    assert sum(r["elements"] for r in rows) > 300_000_000
    assert sum(r["options"].get("case") == "exhaustive" for r in rows) == 9


# --- the device powf -------------------------------------------------------------------------


def _same(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return x.view(np.uint32) == y.view(np.uint32)


def test_powf_port_matches_the_gpu_on_the_golden_sample():
    """22,094 pairs: special values (0, -0, Inf, NaN, negative bases, subnormals), bases near 1,
    half-integer exponents, and 2,094 step counts of common betas where glibc's powf differs."""
    with np.load(CUDA_DIR / "powf-golden-sm_90.npz") as z:
        a, b, device = z["a"], z["b"], z["device"]
        n_steps = int(z["step_count_pairs"])
    assert a.size == 22_094 and n_steps == 2_094
    assert np.all(_same(cuda_powf.powf(a, b), device))
    # the C library's powf (what the fused recipe used before) is wrong on every one of those
    host = np.array([x**y for x, y in zip(a[-n_steps:], b[-n_steps:], strict=True)], dtype=np.float32)
    assert np.count_nonzero(~_same(host, device[-n_steps:])) > n_steps // 2


def test_rcp_table_matches_the_gpu_and_is_needed(monkeypatch):
    with np.load(CUDA_DIR / "powf-golden-sm_90.npz") as z:
        s, device = z["rcp_in"], z["rcp_device"]
    assert np.all(_same(cuda_powf.rcp_approx(s), device))
    assert np.count_nonzero(~_same((np.float32(1) / s).astype(np.float32), device)) > 300
    # 128 pairs (of 70 million probed) on which only the tabulated rcp.approx gives the GPU's powf
    with np.load(CUDA_DIR / "powf-rcp-sensitive-sm_90.npz") as z:
        a, b, device = z["a"], z["b"], z["device"]
    assert np.all(_same(cuda_powf.powf(a, b), device))
    monkeypatch.setattr(cuda_powf, "rcp_approx", lambda x: (np.float32(1) / x).astype(np.float32))
    assert not np.any(_same(cuda_powf.powf(a, b), device))


def test_rcp_approx_refuses_inputs_outside_its_table():
    with pytest.raises(ValueError, match="outside"):
        cuda_powf.rcp_approx(np.float32([1.5]))


def test_fused_cuda_bias_corrections_use_the_device_powf():
    """At beta2 = 0.9999, t = 3 the GPU's powf is 0.9997000098 and glibc's 0.9996999502: the
    program's bc2_sqrt scalar must come from the former."""
    prog = recipe("fused", "cuda").build(Hyper(beta2=0.9999), 3.0, "cuda")
    bc2_sqrt = scalar_labels(prog)["bc2_sqrt"]
    device = np.float32(0.9997000098228455)
    assert np.float32(bc2_sqrt.kernel_value) == np.sqrt(np.float32(1) - device)


EXPLAINED = ["forloop-cuda-adamw-default", "foreach-cuda-adamw-options", "forloop-cuda-adamw-beta1-0"]


@pytest.mark.parametrize("name", EXPLAINED)
def test_explain_accounts_for_every_mismatch_of_a_cuda_recording(name, capsys):
    """explain on a GPU recording: the CUDA program replays it exactly and every element where
    the seed's formula differs is attributed (the seed itself is evaluated as on a CPU)."""
    assert main(["explain", str(FIXTURE_DIR / f"{name}.h5"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    steps = out if isinstance(out, list) else [out]
    for step in steps:
        assert step["recipe"] == f"torch-{cuda.RANGE}-cuda-{name.split('-')[0]}"
        assert all(v == 1.0 for v in step["torch_exact"].values()) and step["unexplained"] == 0
        assert step["mismatches"] > 0


def test_powf_probe_report_is_complete():
    """The GPU run's powf report (committed evidence): the port never differs from the device, on
    every step count 1..2^20 of 63 betas and 2^22 random pairs; glibc's powf does (β2 = 0.999:
    6,209 counts), and the rcp.approx table matches the GPU on all of its inputs."""
    report = json.loads((CUDA_DIR / "powf-probe-torch-2.11.0-sm_90.json").read_text())
    assert report["torch"] == "2.11.0+cu130" and len(report["rows"]) == 63
    assert all(r["port_differs"] == 0 and r["counts"] == 1 << 20 for r in report["rows"])
    assert report["step_counts"] == {"pairs": 63 << 20, "port_differs": 0}
    assert report["random_pairs"] == {"pairs": 1 << 22, "port_differs": 0}
    host = {r["beta"]: r["host_powf_differs"] for r in report["rows"] if "host_powf_differs" in r}
    assert host[float(np.float32(0.999))] == 6209
    assert report["rcp_approx"]["table_differs"] == 0 and report["rcp_approx"]["table_inputs"] == 4456448
