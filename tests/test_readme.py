"""README and CI agree: .ci/run runs the README's test command, verbatim."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    ci = [line for line in (ROOT / ".ci/run").read_text().splitlines() if line.startswith("python3 -m venv")]
    assert len(ci) == 1
    readme = (ROOT / "README.md").read_text()
    assert ci[0] in readme
    assert "torch==2.13.0" in (ROOT / "pyproject.toml").read_text()


def test_readme_has_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    setup = [line for line in readme.splitlines() if line.startswith("python3 -m venv .venv")]
    assert len(setup) == 2
    assert any("adamw-audit demo" in line for line in setup)
    assert any("pytest" in line for line in setup)
