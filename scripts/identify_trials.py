"""Random identify trials: record with real torch, strip the file, identify it, check the answer.

Each trial draws a path, a shape, a step count, an lr (constant or a schedule), betas, eps,
weight decay and a number of leading steps to drop; records the run with ``adamw_audit.record``
on this machine's CPU; keeps only the seed layout's four datasets (no attributes, no W_initial);
runs ``identify`` and checks what issue 5 asks: the true path among the named ones, the step count
of index 0, every true hyper-parameter inside its reported interval, and a replay exactly 1.0.

    python scripts/identify_trials.py --trials 40 --seed 1 [--out trials.jsonl] [--draw late-decay]

``--draw cuda-fused`` writes each run with the emulator's CUDA fused program instead of torch
(``adamw_audit.record.record_emulated``: no GPU here), gradients drawn with NumPy;
``--draw cuda-lerp`` likewise with its CUDA for-loop or foreach program (whose m and v the CPU's
programs store too: identify must tell the devices apart by W alone).

``--draw anomaly`` records a random CPU case with torch by hand, with one of ANOMALIES (a clipped
gradient, a skipped step, float32 master weights, float32 states), and checks that identify
names it (``check_anomaly``).

``--draw cuda-fused-scaled``: a ``--draw cuda-fused`` case (the emulator's program) whose
optimizer saw one row's gradient clipped after the recording (``record_emulated``'s
``seen_scaled``), checked like an anomaly's ``scaled``.

``--draw release`` writes each run with the emulator's program of an older CPU release range
(OLDER_RANGES; 1.13-2.0 twice as often) on a drawn capability (and, three times in ten, a 1-D
parameter of 65537-199999 elements on 2-8 threads: several parallel chunks), and checks the range
and the capability among those identify names too.

``--draw capability`` records a random case with real torch on another CPU capability
(``ATEN_CPU_CAPABILITY`` ``default`` or ``avx2``, set for a fresh process: torch reads it once, at
import), and checks the capability among those identify names too.

``--draw cuda`` records with real torch on the GPU (any of the three paths).  Where the GPU is on
another machine, record there and identify here:

    python scripts/identify_trials.py --draw cuda --trials 24 --seed 1 --record-only DIR   # GPU
    python scripts/identify_trials.py --recorded DIR                                       # here

Prints one JSON line per trial and a summary; exits 1 when any trial is wrong.  Not run in CI
(minutes per dozen trials); the cases it found wrong became tests in tests/test_identify.py.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import queue
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adamw_audit.identify import identify
from adamw_audit.record import record, record_emulated
from emulation.recipes.common import Hyper
from refimpl.errors import AuditError
from refimpl.recording import open_recording


def draw(rng: np.random.Generator) -> dict:
    impl = str(rng.choice(["forloop", "foreach", "fused"]))
    if rng.random() < 0.2:
        shape = [int(rng.integers(1, 5000))]
    else:
        shape = [int(rng.integers(1, 1500)), int(rng.integers(1, 40))]
    drop = int(rng.choice([0, 0, 0, 1, 2, 5, 10]))
    steps = int(rng.integers(3, 20)) + drop
    lr0 = float(rng.choice([1e-3, 3e-4, 1e-2, 2e-5, 5e-3, 10 ** rng.uniform(-5, -1.5)]))
    kind = str(rng.choice(["constant", "constant", "warmup", "cosine", "step"]))
    t = np.arange(steps)
    if kind == "constant":
        lrs = [lr0]
    elif kind == "warmup":
        lrs = list(lr0 * np.minimum(1.0, (t + 1) / max(2, steps // 2)))
    elif kind == "cosine":
        lrs = list(lr0 * 0.5 * (1 + np.cos(math.pi * t / steps)))
        lrs = [max(x, lr0 * 1e-3) for x in lrs]
    else:
        lrs = list(lr0 * np.where(t < steps // 2, 1.0, 0.1))
    b1 = float(rng.choice([0.9, 0.9, 0.95, 0.8, 0.5, round(float(rng.uniform(0.5, 0.99)), 3)]))
    b2 = float(rng.choice([0.999, 0.999, 0.95, 0.98, 0.99, 0.9999, round(float(rng.uniform(0.9, 0.9999)), 4)]))
    eps = float(rng.choice([1e-8, 1e-8, 1e-6, 1e-5, 1e-12, 1e-3, 3e-5, 1e-7, 2e-4]))
    wd = float(rng.choice([0.0, 0.01, 0.01, 0.1, 0.05, 0.3]))
    return {
        "impl": impl, "shape": shape, "steps": steps, "lr": [float(x) for x in lrs], "lr_kind": kind,
        "beta1": b1, "beta2": b2, "eps": eps, "weight_decay": wd, "drop_first": drop,
        "seed": int(rng.integers(1 << 30)),
    }  # fmt: skip


def draw_late_decay(rng: np.random.Generator) -> dict:
    """A window recorded late with a visible decay on a small file (the decay estimate is noisiest
    there): for-loop or foreach, lr 0.005-0.03 (constant or cosine), wd 0.1 or 0.3, from step 3-11."""
    case = draw(rng)
    drop = int(rng.integers(2, 11))
    steps = int(rng.integers(4, 12)) + drop
    lr0 = float(10 ** rng.uniform(math.log10(0.005), math.log10(0.03)))
    t = np.arange(steps)
    lrs = [lr0] if rng.random() < 0.5 else [max(x, lr0 * 1e-3) for x in lr0 * 0.5 * (1 + np.cos(math.pi * t / steps))]
    one_d = rng.random() < 0.5
    shape = [int(rng.integers(20, 400))] if one_d else [int(rng.integers(5, 100)), int(rng.integers(2, 8))]
    case.update(
        impl=str(rng.choice(["forloop", "foreach"])),
        shape=shape,
        steps=steps, drop_first=drop, lr=[float(x) for x in lrs], lr_kind="constant" if len(lrs) == 1 else "cosine",
        weight_decay=float(rng.choice([0.1, 0.3])),
    )  # fmt: skip
    return case


def draw_cuda_fused(rng: np.random.Generator) -> dict:
    """A random case on CUDA's fused path, written by the emulator (no GPU here; see run_trial)."""
    return {**draw(rng), "impl": "cuda-fused"}


def draw_cuda_lerp(rng: np.random.Generator) -> dict:
    """A random case on CUDA's for-loop or foreach path, written by the emulator (no GPU here)."""
    case = draw(rng)
    return {**case, "impl": "cuda-" + ("forloop" if case["impl"] == "fused" else case["impl"])}


def draw_cuda(rng: np.random.Generator) -> dict:
    """A random case recorded with real torch on the GPU (``record --device cuda``)."""
    return {**draw(rng), "device": "cuda"}


ANOMALIES = ("scaled", "skipped", "master-weights", "float32-states")
"""What ``--draw anomaly`` does to a run (issue 5's "detect and name what no plain recipe explains"):
``scaled``: the optimizer saw one step's gradient multiplied by a clip factor (``grad.mul_(k)``
after the recording, as ``clip_grad_norm_`` does); ``skipped``: one step not taken (GradScaler: an
inf in the gradient; fused gets ``found_inf``, the others are not stepped); ``master-weights``: W
kept in float32, m and v in bf16 (a hand-written AdamW step); ``float32-states``: torch AdamW on a
float32 parameter, bf16 gradients; the file stores bf16 copies."""


def draw_anomaly(rng: np.random.Generator) -> dict:
    """A random CPU case with one of :data:`ANOMALIES` at a stripped row past the first."""
    case = draw(rng)
    kind = str(rng.choice(ANOMALIES))
    if kind == "skipped":  # one lr: the stripped file's rows then need no schedule bookkeeping
        case.update(lr=case["lr"][:1], lr_kind="constant")
    return _with_anomaly(case, kind, rng)


def _with_anomaly(case: dict, kind: str, rng: np.random.Generator) -> dict:
    """``case`` with anomaly ``kind`` at a stripped row past the first (and a clip factor drawn)."""
    rows = case["steps"] - case["drop_first"]
    factor = float(rng.choice([0.5, 0.25, 0.1, round(float(rng.uniform(0.05, 0.95)), 3)]))
    return {**case, "anomaly": kind, "anomaly_index": int(rng.integers(1, rows - 1)), "clip_factor": factor}


def draw_cuda_fused_scaled(rng: np.random.Generator) -> dict:
    """A ``cuda-fused`` case with one stripped row past the first clipped after the recording."""
    return _with_anomaly(draw_cuda_fused(rng), "scaled", rng)


OLDER_RANGES = ("1.13-2.0", "1.13-2.0", "2.1-2.3", "2.4", "2.5-2.6")
"""The CPU release ranges ``--draw release`` writes (1.13-2.0, whose m moves by mul_ + add_ and
which identify searches with programs of its own, twice as often)."""


def draw_capability(rng: np.random.Generator) -> dict:
    """A random case recorded by live torch on a CPU capability other than this machine's best."""
    return {**draw(rng), "capability": str(rng.choice(["default", "avx2"]))}


def draw_release(rng: np.random.Generator) -> dict:
    """A random case written by the emulator with an older CPU release's program (each range's
    evidence: the committed release fixtures), on a capability drawn too (before 2.1 AVX512 has
    its own 64-element blocks)."""
    case = draw(rng)
    release = str(rng.choice(OLDER_RANGES))
    if release in ("1.13-2.0", "2.1-2.3"):  # (no fused before 2.4)
        case["impl"] = str(rng.choice(["forloop", "foreach"]))
    capability = str(rng.choice(["avx512", "avx2", "default"]))
    if rng.random() < 0.3:  # several parallel chunks, each with its own scalar tail (> 2 x 32768 elements)
        case = {**case, "shape": [int(rng.integers(65537, 200000))], "threads": int(rng.integers(2, 9))}
    return {**case, "recipe": f"torch-{release}-cpu-{case['impl']}", "capability": capability}


DRAWS = {
    "random": draw, "late-decay": draw_late_decay, "cuda-fused": draw_cuda_fused, "cuda": draw_cuda,
    "anomaly": draw_anomaly, "cuda-fused-scaled": draw_cuda_fused_scaled, "release": draw_release,
    "capability": draw_capability, "cuda-lerp": draw_cuda_lerp,
}  # fmt: skip


def strip(src: Path, dst: Path, drop_first: int) -> None:
    with h5py.File(src, "r") as s, h5py.File(dst, "w") as d:
        for name in ("W", "momentum_W", "variance_W", "grad_W"):
            d.create_dataset(name, data=s[name][drop_first:])


def inside(x: float, iv) -> bool:
    return iv[0] <= x <= iv[1]


def check_anomaly(case: dict, out: dict) -> list[str]:
    """What an anomaly trial must show: the anomaly named (``master-weights``, ``float32-states``:
    in identify's one-line refusal); ``skipped``: the row left out, the rest a plain answer;
    ``scaled``: the row and its factor named, every other row replayed exactly
    (``exact_apart_from_scaled``; ``exact`` is the closest program's, so not 1.0), the intervals
    holding the truth."""
    kind, index = case["anomaly"], case["anomaly_index"]
    if kind in ("master-weights", "float32-states"):
        said = out.get("error", "")
        words = "float32 master weights" if kind == "master-weights" else "float32 (or wider) exp_avg"
        return [] if words in said else [f"{kind} not named: {said or 'an answer'}"]
    if "error" in out:
        return [f"no answer: {out['error']}"]
    if kind == "skipped":
        said = out.get("skipped_indices")
        return ([] if said == [index] else [f"skipped {said}, truth [{index}]"]) + check(case, out)
    named = [f for f in out.get("findings", []) if "scaled gradient" in f]
    wrong = [] if named and f"index {index} " in named[0] else [f"scaled index {index} not named: {named}"]
    others = out.get("exact_apart_from_scaled")  # every row but the scaled one replays
    if others is None or any(v != 1.0 for v in others.values()):
        wrong.append(f"exact {out['exact']}, on the rows not scaled {others}")
    return wrong + check(case, out, replay=False)


def check(case: dict, out: dict, replay: bool = True) -> list[str]:
    wrong = []
    if case["impl"].startswith("cuda-"):  # (the emulator's CUDA programs)
        truth_impl = "-" + case["impl"]
    else:
        truth_impl = f"-{case.get('device', 'cpu')}-{case['impl']}"
    if not any(name.endswith(truth_impl) for name in out["equivalent_impls"]):
        wrong.append(f"path {case['impl']} not in {out['equivalent_impls']}")
    release = case.get("recipe", "").split("-cpu-")[0].removeprefix("torch-")
    if release and release not in out.get("equivalent_releases", []):
        wrong.append(f"release {release} not in {out.get('equivalent_releases')}")
    if "capability" in case and case["capability"] not in out.get("equivalent_capabilities", [case["capability"]]):
        wrong.append(f"capability {case['capability']} not in {out['equivalent_capabilities']}")
    count = 1 + case["drop_first"]
    listed = [out["first_index_step_count"], *out.get("other_step_counts", [])]
    # a count the bits do not pin, said so, with counts sampled on either side of the truth: an honest tie
    open_count = any("step count is not pinned" in f for f in out.get("findings", []))
    if count not in listed and not (open_count and min(listed) < count < max(listed)):
        wrong.append(f"step count {out['first_index_step_count']} (other {out['other_step_counts']}), truth {count}")
    if replay and any(v != 1.0 for v in out["exact"].values()):
        wrong.append(f"exact {out['exact']}")
    lrs = case["lr"] if len(case["lr"]) > 1 else case["lr"] * case["steps"]
    lrs = lrs[case["drop_first"] :]
    # rows left out of the inference (skipped steps, gradients the optimizer saw scaled): their
    # lrs are not seen (seen: a step schedule whose one change fell on the scaled row: one lr)
    left_out = {*(out.get("skipped_indices") or ()), *(out.get("scaled_gradient_indices") or ())}
    if isinstance(out["lr"], list):
        # one lr per replayed row: rows 1.. (or 0.. where row 0's lr is listed too), less those left out
        rows = [i for i in range(len(lrs)) if i not in left_out]
        replayed = [lrs[i] for i in rows[len(rows) - len(out["lr_interval"]) :]]
        for lr, iv in zip(replayed, out["lr_interval"], strict=True):
            if not inside(lr, iv):
                wrong.append(f"lr {lr} outside {iv}")
                break
    elif len({lr for i, lr in enumerate(lrs) if i >= 1 and i not in left_out}) > 1:
        wrong.append(f"one lr {out['lr']} for a schedule")
    elif not inside(lrs[-1], out["lr_interval"]):
        wrong.append(f"lr {lrs[-1]} outside {out['lr_interval']}")
    for name, truth, iv in (
        ("beta1", case["beta1"], out["betas_interval"][0]),
        ("beta2", case["beta2"], out["betas_interval"][1]),
        ("eps", case["eps"], out["eps_interval"]),
        ("weight_decay", case["weight_decay"], out["weight_decay_interval"]),
    ):
        if not inside(truth, iv):
            wrong.append(f"{name} {truth} outside {iv}")
    return wrong


def _identify(path: Path, answers: multiprocessing.Queue) -> None:
    try:
        with open_recording(path) as rec:
            answers.put(identify(rec).to_json())
    except AuditError as e:
        answers.put({"error": str(e)})
    except Exception as e:  # a bug: said at once, not after the time limit
        answers.put({"error": f"crashed: {type(e).__name__}: {e}"})


def record_anomaly(case: dict, full: Path) -> None:
    """Record ``case`` with its anomaly by hand with torch (one thread, CPU): the seed layout's
    four datasets, every step (``strip`` drops the leading ones).  Gradients: the least-squares
    model of ``adamw_audit.record``."""
    import torch

    torch.set_num_threads(1)
    kind, at = case["anomaly"], case["drop_first"] + case["anomaly_index"]
    if case["impl"] == "cuda-fused":  # (the emulator's program: only a clip is drawn for it)
        h = Hyper(beta1=case["beta1"], beta2=case["beta2"], eps=case["eps"], weight_decay=case["weight_decay"])
        record_emulated(full, "torch-2.11-2.13-cuda-fused", case["steps"], case["shape"], case["lr"], h, case["seed"],
                        seen_scaled={at: case["clip_factor"]})  # fmt: skip
        return
    shape, steps = tuple(case["shape"]), case["steps"]
    lrs = case["lr"] if len(case["lr"]) > 1 else case["lr"] * steps
    b1, b2, eps, wd = case["beta1"], case["beta2"], case["eps"], case["weight_decay"]
    gen = torch.Generator().manual_seed(case["seed"])
    wide = kind in ("master-weights", "float32-states")
    w = (torch.randn(shape, generator=gen) * 0.05).to(torch.float32 if wide else torch.bfloat16)
    teacher = (torch.randn(shape, generator=gen) * 0.05).to(torch.bfloat16)
    w = torch.nn.Parameter(w)
    flags = {"foreach": case["impl"] == "foreach", "fused": case["impl"] == "fused"}
    opt = torch.optim.AdamW([w], lr=lrs[0], betas=(b1, b2), eps=eps, weight_decay=wd, **flags)
    m = torch.zeros(shape, dtype=torch.bfloat16)  # master-weights: the bf16 states beside float32 W
    v = torch.zeros(shape, dtype=torch.bfloat16)
    rows: dict[str, list] = {k: [] for k in ("W", "momentum_W", "variance_W", "grad_W")}

    def bits(t) -> np.ndarray:
        return t.detach().to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16).copy()

    for t in range(steps):
        wb = w.detach().to(torch.bfloat16).requires_grad_() if wide else w
        x = torch.randn((32, shape[0]), generator=gen).to(torch.bfloat16)
        if len(shape) == 1:
            loss = ((x * wb - x * teacher) ** 2).mean()
        else:
            loss = ((x @ wb.reshape(shape[0], -1) - x @ teacher.reshape(shape[0], -1)) ** 2).mean()
        if not wide:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        grad = wb.grad.clone()
        for group in opt.param_groups:
            group["lr"] = lrs[t]
        if kind == "master-weights":
            m.lerp_(grad, 1 - b1)
            v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            with torch.no_grad():
                w.mul_(1 - lrs[t] * wd)
                denom = (v.float().sqrt() / math.sqrt(1 - b2 ** (t + 1))).add_(eps)
                w.addcdiv_(m.float(), denom, value=-lrs[t] / (1 - b1 ** (t + 1)))
            rows["grad_W"].append(bits(grad))
            for name, x in (("W", w), ("momentum_W", m), ("variance_W", v)):
                rows[name].append(bits(x))
            continue
        if kind == "float32-states":
            w.grad = grad.float()
        if kind == "scaled" and t == at:
            w.grad.mul_(case["clip_factor"])
        if kind == "skipped" and t == at:
            grad.view(-1)[::7] = float("inf")
            if flags["fused"]:
                opt.found_inf = torch.tensor(1.0)
                opt.step()
                opt.found_inf = torch.tensor(0.0)
        else:
            opt.step()
        rows["grad_W"].append(bits(grad))
        state = opt.state[w]
        for name, x in (("W", w), ("momentum_W", state["exp_avg"]), ("variance_W", state["exp_avg_sq"])):
            rows[name].append(bits(x))
    with h5py.File(full, "w") as f:
        for name, stacked in rows.items():
            f.create_dataset(name, data=np.stack(stacked))


def record_case(case: dict, full: Path) -> None:
    if "anomaly" in case:
        return record_anomaly(case, full)
    h = Hyper(beta1=case["beta1"], beta2=case["beta2"], eps=case["eps"], weight_decay=case["weight_decay"])
    if case["impl"].startswith("cuda-"):  # the emulator's CUDA program (its evidence: the catalog's)
        record_emulated(full, f"torch-2.11-2.13-{case['impl']}", case["steps"], case["shape"], case["lr"], h,
                        case["seed"])  # fmt: skip
    elif "recipe" in case:  # an older CPU release's program (its evidence: the release fixtures)
        record_emulated(full, case["recipe"], case["steps"], case["shape"], case["lr"], h, case["seed"],
                        case["capability"], threads=case.get("threads", 1))  # fmt: skip
    elif "capability" in case:  # live torch on that capability: a fresh process, the variable set before import
        lr = ",".join(map(repr, case["lr"]))
        shape = "x".join(map(str, case["shape"]))
        subprocess.run(
            [sys.executable, "-c", "import sys; from adamw_audit.cli import main; sys.exit(main(sys.argv[1:]))",
             "record", str(full), "--steps", str(case["steps"]), "--shape", shape, "--impl", case["impl"],
             "--lr", lr, "--betas", repr(case["beta1"]), repr(case["beta2"]), "--eps", repr(case["eps"]),
             "--weight-decay", repr(case["weight_decay"]), "--seed", str(case["seed"]), "--threads", "1"],
            env={**os.environ, "ATEN_CPU_CAPABILITY": case["capability"]}, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        with h5py.File(full, "r") as f:
            assert f.attrs["cpu_capability"] == case["capability"], dict(f.attrs)
    else:
        record(full, steps=case["steps"], shape=case["shape"], impl=case["impl"], lr=case["lr"], hyper=h,
               seed=case["seed"], threads=1, device=case.get("device", "cpu"))  # fmt: skip


def run_trial(case: dict, work: Path, timeout: float, recorded: Path | None = None) -> dict:
    """Record ``case`` (or take the file ``recorded`` made of it), strip it, identify it, check."""
    full, bare = recorded or work / "full.h5", work / "bare.h5"
    if recorded is None:
        record_case(case, full)
    strip(full, bare, case["drop_first"])
    t0 = time.perf_counter()
    answers: multiprocessing.Queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_identify, args=(bare, answers))
    child.start()
    try:
        out = answers.get(timeout=timeout)
    except queue.Empty:
        child.kill()
        out = {"error": f"no answer within {timeout:g} s"}
    child.join()
    if "anomaly" in case:
        wrong = check_anomaly(case, out)
    else:
        wrong = [f"no answer: {out['error']}"] if "error" in out else check(case, out)
    return {"case": case, "seconds": round(time.perf_counter() - t0, 1), "wrong": wrong, "answer": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="also append each trial's JSON line here")
    ap.add_argument("--draw", choices=sorted(DRAWS), default="random", help="which cases to draw")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds identify may take per trial")
    ap.add_argument("--record-only", type=Path, metavar="DIR",
                    help="only record: DIR/NNN.h5 (full, attributes kept) and DIR/cases.jsonl")  # fmt: skip
    ap.add_argument("--recorded", type=Path, metavar="DIR", help="identify the trials a --record-only run wrote")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    if args.record_only:
        args.record_only.mkdir(parents=True, exist_ok=True)
        with open(args.record_only / "cases.jsonl", "a") as f:
            for number in range(args.trials):
                case = DRAWS[args.draw](rng)
                case["file"] = f"{args.draw}-s{args.seed}-{number:03d}.h5"
                t0 = time.perf_counter()
                record_case(case, args.record_only / case["file"])
                f.write(json.dumps(case) + "\n")
                print(f"{case['file']} {time.perf_counter() - t0:.1f} s", flush=True)
        return 0
    if args.recorded:
        cases = [json.loads(line) for line in (args.recorded / "cases.jsonl").read_text().splitlines()]
    else:
        cases = [DRAWS[args.draw](rng) for _ in range(args.trials)]
    bad = 0
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            recorded = args.recorded / case["file"] if args.recorded else None
            row = run_trial(case, Path(tmp), args.timeout, recorded)
            bad += bool(row["wrong"])
            times.append(row["seconds"])
            line = json.dumps(row)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(line + "\n")
    median, most = np.median(times), max(times)
    print(f"{len(cases) - bad}/{len(cases)} right; identify seconds: median {median:.1f}, max {most:.1f}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
