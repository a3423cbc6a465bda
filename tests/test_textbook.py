"""Float64 textbook AdamW: a sanity reference (tolerances here are float64 maths, not bit claims)."""

from __future__ import annotations

import numpy as np

from emulation import bits
from emulation.recipes import recipe
from emulation.recipes.common import Hyper
from emulation.replay import run_bits
from refimpl.textbook import adamw_step


def test_first_step_is_sign_descent():
    p, g = np.array([1.0, -2.0]), np.array([0.5, -3.0])
    z = np.zeros(2)
    new_p, m, v = adamw_step(p, g, z, z, Hyper(lr=0.1, eps=0.0), 1.0)
    assert np.allclose(new_p, p - 0.1 * np.sign(g))
    assert np.allclose(m, 0.1 * g) and np.allclose(v, 0.001 * g * g)


def test_bf16_step_is_within_an_ulp_or_two_of_textbook():
    rng = np.random.default_rng(0)
    n = 4096
    to_bits = lambda x: bits.narrow(np.asarray(x, np.float32))  # noqa: E731
    p, g = to_bits(rng.standard_normal(n)), to_bits(rng.standard_normal(n) * 1e-2)
    m, v = to_bits(rng.standard_normal(n) * 1e-2), to_bits(rng.random(n) * 1e-4)
    h = Hyper(lr=1e-2, weight_decay=0.1)
    got = run_bits(recipe("forloop").build(h, 7.0, "avx512"), {"param": p, "grad": g, "exp_avg": m, "exp_avg_sq": v})
    ref_p, _, _ = adamw_step(*(bits.widen(x).astype(np.float64) for x in (p, g, m, v)), h, 7.0)
    ulps = np.abs(bits.ulp_distance(got["param"], to_bits(ref_p)))
    assert np.percentile(ulps, 99) <= 2
