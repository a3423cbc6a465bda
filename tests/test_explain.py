"""explain: the seed->torch family's endpoints, every cause shown by constructed elements, and
end-to-end attribution with zero unexplained elements on recordings of every CPU path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adamw_audit.cli import main
from adamw_audit.crosscheck import adversarial_bits
from adamw_audit.explain import minimal_explanations
from emulation import bits
from emulation.program import evaluate
from emulation.recipes import bridge, recipe
from emulation.recipes.common import Hyper
from emulation.replay import run_bits, to_bits

CAP = "avx512"
N = 1 << 16


def pool(seed: int, finite: bool = True) -> dict[str, np.ndarray]:
    """W[t-1], m[t-1], v[t-1], g[t]: half realistic (near each other), half adversarial."""
    rng = np.random.default_rng(seed)
    real = {
        "param": bits.narrow((rng.standard_normal(N // 2) * 0.05).astype(np.float32)),
        "exp_avg": bits.narrow((rng.standard_normal(N // 2) * 1e-3).astype(np.float32)),
        "exp_avg_sq": bits.narrow((rng.random(N // 2) * 1e-6).astype(np.float32)),
        "grad": bits.narrow((rng.standard_normal(N // 2) * 1e-3).astype(np.float32)),
    }
    real["max_exp_avg_sq"] = bits.narrow((rng.random(N // 2) * 2e-6).astype(np.float32))
    adv = {k: adversarial_bits(N // 2, rng, finite=finite) for k in real}
    adv["exp_avg_sq"] = adv["exp_avg_sq"] & np.uint16(0x7FFF)
    adv["max_exp_avg_sq"] = adv["max_exp_avg_sq"] & np.uint16(0x7FFF)
    return {k: np.concatenate([real[k], adv[k]]) for k in real}


def torch_step(name: str, h: Hyper, step: float, state: dict) -> tuple[dict, dict]:
    """The torch recipe's full step: stored outputs and every float32 intermediate."""
    rcp = recipe(name)
    prog = rcp.build(h, step, cap_of(name))
    env = evaluate(prog, {k: bits.widen(state[k]) for k in prog.inputs}, rcp.positions(cap_of(name), N, 1))
    return {k: to_bits(env[v]) for k, v in prog.outputs.items()}, env


def family_inputs(name: str, state: dict, out: dict, env: dict) -> dict:
    inputs = {"param": bits.widen(state["param"]), "exp_avg": bits.widen(out["exp_avg"])}
    inputs["exp_avg_sq"] = bits.widen(out["exp_avg_sq"])
    if "max_exp_avg_sq" in out:
        inputs["max_exp_avg_sq"] = bits.widen(out["max_exp_avg_sq"])
    if bridge.FACTS[name].moments == "unrounded":
        inputs["exp_avg_f32"], inputs["exp_avg_sq_f32"] = env["M"], env["V"]
        if "VMAX" in env:
            inputs["max_exp_avg_sq_f32"] = env["VMAX"]
    return inputs


def member_bits(name, seed_h, true_h, index, step, on, inputs) -> np.ndarray:
    prog = bridge.program(seed_h, true_h, index, step, bridge.FACTS[name], frozenset(on), cap_of(name))
    env = evaluate(prog, {k: inputs[k] for k in prog.inputs}, recipe(name).positions(cap_of(name), N, 1))
    return to_bits(env["p_new"])


PATHS = ["torch-2.7-2.14-cpu-forloop", "torch-2.7-2.14-cpu-foreach", "torch-2.7-2.14-cpu-fused",
         "torch-2.11-2.13-cuda-forloop", "torch-2.11-2.13-cuda-foreach"]  # fmt: skip


def cap_of(name: str) -> str:
    return "cuda" if "-cuda-" in name else CAP


HYPERS = [Hyper(), Hyper(lr=3e-3, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.2, amsgrad=True)]


@pytest.mark.parametrize("name", PATHS)
@pytest.mark.parametrize("h", HYPERS)
@pytest.mark.parametrize(("index", "step"), [(1, 2.0), (10, 11.0), (999, 1000.0)])
def test_family_endpoints(name, h, index, step):
    """No switch on: the seed notebook's program, bit for bit.  Every relevant switch on: the
    torch path's W[t], bit for bit (NaN and Inf included)."""
    state = pool(index, finite=False)
    out, env = torch_step(name, h, step, state)
    inputs = family_inputs(name, state, out, env)
    seed_h = bridge.seed_hyper(h)
    seed_rcp = recipe("seed")
    seed_bits = run_bits(
        seed_rcp.build(seed_h, float(index), CAP),
        {"param": state["param"], "exp_avg": out["exp_avg"], "exp_avg_sq": out["exp_avg_sq"]},
        seed_rcp.positions(CAP, N, 1),
    )["param"]
    finite = np.isfinite(bits.widen(seed_bits))  # NaN patterns follow the path's layout in the family
    assert np.array_equal(member_bits(name, seed_h, h, index, step, (), inputs)[finite], seed_bits[finite])
    everything = bridge.relevant(bridge.FACTS[name], seed_h, h, index, step)
    assert np.array_equal(member_bits(name, seed_h, h, index, step, everything, inputs), out["param"])


def causes_shown(name: str, h: Hyper, index: int, step: float, facts=None) -> tuple[dict[str, int], set[str]]:
    """How many pool elements have each cause as their *only* needed difference, and which causes
    appear in some element's minimal set."""
    state = pool(7 + index)
    out, env = torch_step(name, h, step, state)
    inputs = family_inputs(name, state, out, env)
    facts = facts or bridge.FACTS[name]
    seed_h = bridge.seed_hyper(h)
    switches = bridge.relevant(facts, seed_h, h, index, step)

    def member(on):
        return bridge.program(seed_h, h, index, step, facts, on, CAP)

    target = member(frozenset(switches))
    where = recipe(name).positions(CAP, N, 1)
    want = to_bits(evaluate(target, {k: inputs[k] for k in target.inputs}, where)["p_new"])
    seed = to_bits(
        evaluate(member(frozenset()), {k: inputs[k] for k in ("param", "exp_avg", "exp_avg_sq")}, where)["p_new"]
    )
    idx = np.nonzero(seed != want)[0]
    found = minimal_explanations(
        member, switches, {k: v[idx] for k, v in inputs.items()}, {k: v[idx] for k, v in where.items()}, want[idx]
    )
    shown: dict[str, int] = {}
    needed: set[str] = set()
    for sets in found.values():
        needed.update(*sets)
        if len(sets) == 1 and len(sets[0]) == 1:
            shown[sets[0][0]] = shown.get(sets[0][0], 0) + 1
    return shown, needed


def test_every_cause_is_shown_by_constructed_elements():
    """Each difference in the closed list is needed by some element, and all but eps (which only
    shows where v is tiny, together with other differences) are alone the whole explanation of
    some element."""
    shown: dict[str, int] = {}
    needed: set[str] = set()
    cuda_like = bridge.UpdateFacts("mul_f32", "f32", "rounded", "quotient_first_fma", "recorded")
    cases = [
        ("torch-2.7-2.14-cpu-forloop", Hyper(), None),
        ("torch-2.7-2.14-cpu-forloop", Hyper(lr=3e-3, beta1=0.8, beta2=0.99, eps=1e-6), None),
        ("torch-2.7-2.14-cpu-fused", Hyper(weight_decay=0.5), None),  # the seed's lr: decay alone
        ("torch-2.7-2.14-cpu-forloop", Hyper(amsgrad=True), None),
        ("torch-2.7-2.14-cpu-forloop", Hyper(), cuda_like),
    ]
    for name, h, facts in cases:
        alone, some = causes_shown(name, h, 10, 11.0, facts)
        needed |= some
        for k, v in alone.items():
            shown[k] = shown.get(k, 0) + v
    assert needed == set(bridge.CAUSES), set(bridge.CAUSES) - needed
    assert set(bridge.CAUSES) - set(shown) <= {"eps_precision"}, shown


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("impl", ["forloop", "foreach", "fused"])
def test_explain_attributes_every_mismatch(tmp_path, capsys, impl, amsgrad):
    path = tmp_path / f"{impl}.h5"
    args = ["record", str(path), "--impl", impl, "--steps", "6", "--shape", "2000x32", "--weight-decay", "0.1"]
    assert main([*args, "--lr", "0.003", "--betas", "0.85", "0.99", *(["--amsgrad"] if amsgrad else [])]) == 0
    capsys.readouterr()
    for step in ("1", "5"):
        assert main(["explain", str(path), "--step", step, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["unexplained"] == 0 and out["mismatches"] > 0
        assert all(v == 1.0 for v in out["torch_exact"].values()) and len(out["torch_exact"]) == 3 + amsgrad
        assert out["recipe"] == f"torch-2.7-2.14-cpu-{impl}"
        assert set(out["causes"]) <= set(bridge.CAUSES)
        assert out["naive"]["total"] == 64000


def test_explain_on_the_seed_like_run(seed_like_recording, tmp_path, capsys):
    """The issue's question on a seed-like run: zero unexplained, the notebook's own numbers,
    the off-by-one step count the leading cause, a plot written, traces for chosen elements."""
    png = tmp_path / "explain.png"
    assert main(["explain", seed_like_recording, "--all-steps", "--json", "--plot", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["unexplained"] == 0 and len(out["steps"]) == 19
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    step10 = out["steps"][9]
    assert max(step10["causes"], key=step10["causes"].get) == "step_count"
    assert main(["notebook", seed_like_recording, "--index", "10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["naive"] == step10["naive"]
    assert main(["explain", seed_like_recording, "--step", "10", "--element", "0,3", "--element", "9999,63"]) == 0
    text = capsys.readouterr().out
    assert "element (0, 3)" in text and "element (9999, 63)" in text and "p_new" in text


def test_explain_bad_arguments(seed_like_recording, capsys):
    assert main(["explain", seed_like_recording, "--step", "0"]) == 2
    assert "--step must be in [1, 19]" in capsys.readouterr().err
    assert main(["explain", seed_like_recording, "--step", "3", "--element", "10000,0"]) == 2
    assert "outside W's shape" in capsys.readouterr().err
