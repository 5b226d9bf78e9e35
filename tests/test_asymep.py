"""AsymEP and Dyadic EP on non-reciprocal chips: the engine's adjoint correction against the
Jacobian of the drift, and the learners' updates against finite-difference gradients."""

from __future__ import annotations

import numpy as np
import pytest

from thermochip.chip import Chip
from thermochip.engine import Correction, Engine
from thermochip.learn import make_learner
from thermochip.learn.ep_circuit import coupler_blocks
from thermochip.reference import reference_drift
from thermochip.spec_io import load_spec


def small_chip(model: str, topology: str, delay: str = "0 s") -> Chip:
    """A noise-free chip of 7 cells (all-to-all, or layered 3-2-2, or feed-forward 3-2-2) with
    a carrier phase offset per coupler (oim) and a non-symmetric J (written straight into the
    analog couplings)."""
    cells = {"model": model}
    if topology == "all_to_all":
        cells.update(n=7)
    else:
        cells.update(layers=[3, 2, 2])
    spec = load_spec({
        "cells": cells,
        "topology": {"kind": "layered", "feedforward": topology == "feedforward"}
        if topology != "all_to_all" else topology,
        "couplings": {"init": {"kind": "random", "std": 0.6}},
        "delays": {"interconnect": delay, "interconnect_jitter": "20 ps" if delay != "0 s" else 0},
        "integrator": {"dt": "1 ns", "steps": 1}, "run": {"dtype": "float64", "seed": 5}})
    chip = Chip.from_spec(spec)
    rng = np.random.default_rng(0)
    chip.registers.couplings.set_values(
        np.where(chip.mask, chip.J + 0.3 * rng.standard_normal(chip.J.shape), 0.0))
    return chip


def numeric_A(chip: Chip, r: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """(replica, cell, cell) antisymmetric part of the drift's Jacobian at r, by central
    differences of the reference drift."""
    B, N = r.shape
    jac = np.zeros((B, N, N))
    for j in range(N):
        e = np.zeros(N)
        e[j] = h
        jac[:, :, j] = (reference_drift(chip, r + e, *chip.fields)
                        - reference_drift(chip, r - e, *chip.fields)) / (2 * h)
    return 0.5 * (jac - jac.transpose(0, 2, 1))


def one_step(chip, layout, x, correction):
    eng = Engine(chip, replicas=x.shape[0], layout=layout)
    r = eng.run(1, x0=x, noise=np.zeros((x.shape[0], 1, chip.n)), energy_every=0,
                correction=correction)
    return r.x


CASES = [("oim", "all_to_all", "60 ps", "replicas"), ("oim", "layered", "60 ps", "batched"),
         ("oim", "all_to_all", "0 s", "batched"), ("softspin", "all_to_all", "0 s", "replicas"),
         ("softspin", "layered", "0 s", "batched"), ("softspin", "feedforward", "0 s", "batched"),
         ("oim", "feedforward", "60 ps", "replicas")]


@pytest.mark.slow
@pytest.mark.parametrize("model,topology,delay,layout", CASES)
@pytest.mark.parametrize("twins", [False, True])
def test_correction_is_minus_two_A_times_the_displacement(model, topology, delay, layout,
                                                          twins):
    """One noise-free step with and without the correction differ by dt * (-2 A(r) (x - r)),
    A from the numerical Jacobian of the drift: the kernels' Q matrices, channel pairs,
    reference and (twins) midpoint are all right. Periodic states are compared modulo 2 pi."""
    chip = small_chip(model, topology, delay)
    rng = np.random.default_rng(1)
    B = 4
    x = rng.uniform(0.5, 2.5, (B, chip.n)) if model == "oim" else rng.normal(0, 0.8, (B, chip.n))
    if twins:
        x[2:] = x[:2] + 0.05 * rng.standard_normal((2, chip.n))
        ref = 0.5 * (x + np.roll(x, 2, axis=0))
        corr = Correction(twins=True)
    else:
        ref = x + 0.05 * rng.standard_normal(x.shape)
        corr = Correction(ref=ref)
    A = numeric_A(chip, ref)
    assert np.abs(A).max() > 0.05  # the chip is non-reciprocal enough to test anything
    expected = -2 * np.einsum("bij,bj->bi", A, x - ref)
    got = (one_step(chip, layout, x, corr) - one_step(chip, layout, x, None)) / chip.dt
    if model == "oim":
        got = (got * chip.dt + np.pi) % (2 * np.pi) - np.pi
        got /= chip.dt
    # finite differences are exact to ~h^2 * |F'''| ~ 1e-12; the step's own rounding ~1e-16/dt
    np.testing.assert_allclose(got, expected, atol=1e-7 * np.abs(expected).max() + 1e-12)


def test_correction_is_nothing_on_a_reciprocal_chip():
    """A symmetric chip without delays has A = 0: the corrected run is the plain run, bit for
    bit (no correction matrices are even packed)."""
    spec = load_spec({"cells": {"model": "oim", "n": 6}, "integrator": {"dt": "1 ns", "steps": 50},
                      "noise": {"thermal": {"kT": 0.1}}, "run": {"dtype": "float64"}})
    chip = Chip.from_spec(spec)
    x = np.random.default_rng(2).uniform(0, 6, (2, 6))
    runs = [Engine(chip, replicas=2).run(50, x0=x, energy_every=0, correction=c).x
            for c in (None, Correction(ref=x), Correction(twins=True))]
    engine = Engine(chip, replicas=2)
    assert engine.reciprocal and engine.adjoint[1].shape[0] == 0 == engine.adjoint[2].shape[0]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


# ---------------------------------------------------------------------------------------------
# the learners' updates against the exact gradient of the loss at the free fixed point

SETTLE = 4000  # steps of 0.1 (t~ = 400): settled to far below the finite-difference step
PIXELS = np.random.default_rng(1).random((2, 4))
LABELS = np.array([0, 2])

#: Tiny non-reciprocal chips, 4 inputs -> 5 -> 3, each well inside one basin (no mode of the
#: free state's Jacobian near zero, so a nudge of 0.01 stays linear): an OIM with an
#: interconnect delay (alpha = 0.126 rad at 1 GHz; S = 0.3, so its outputs lock to a fixed
#: point instead of rotating), an OIM with asymmetric couplers (30 % gain mismatch per device),
#: and a feed-forward soft-spin chip (single wells; an OIM's feed-forward layers would lock to
#: 0 or pi, where no gradient exists).
NONRECIPROCAL = {
    "oim_delay": dict(model="oim", delay="20 ps"),
    "oim_asymmetric": dict(model="oim", asymmetric=True, mismatch=0.3),
    "softspin_feedforward": dict(model="softspin", feedforward=True),
}


def tiny_chip(rule: str, model: str = "oim", delay: str = "0 s", asymmetric: bool = False,
              feedforward: bool = False, mismatch: float = 0.0, beta: float = 0.01,
              loss: str = "squared_error") -> Chip:
    """Noise-free, 24-bit DACs and ADC, float64: the hardware's quantisation is far below the
    quantities compared."""
    oim = model == "oim"
    spec = load_spec({
        "cells": {"model": model, "layers": [5, 3], "inputs": 4,
                  "params": {} if oim else {"J2": 0.5, "J4": 0.1}},
        "topology": {"kind": "layered", "feedforward": feedforward},
        "couplings": {"init": {"kind": "random", "std": 0.5}, "asymmetric": asymmetric,
                      "dac": {"bits": 24, "full_scale": 4}},
        "fields": {"init": {"S": 0.3} if oim else {}, "dac": {"bits": 24, "full_scale": 4}},
        "noise": {"mismatch": {"coupler_gain": mismatch}},
        "delays": {"interconnect": delay},
        "adc": {"bits": 24, "full_scale": 4, "mode": "iq" if oim else "value",
                "sample_rate": "1 GHz"},
        "integrator": {"dt": "1 ns", "steps": 10,
                       "initial_state": {"kind": "constant", "value": 1.2 if oim else 0.1}},
        "learner": {"rule": rule, "beta": beta, "free_steps": SETTLE, "nudged_steps": SETTLE,
                    "window": 1, "update_every": 2, "loss": loss, "softmax_gain": GAIN},
        "train": {"eval_replicas": 2}, "run": {"dtype": "float64", "seed": 3}})
    return Chip.from_spec(spec)


GAIN = 3.0  # cross_entropy's softmax gain in these tests


def free_loss(chip: Chip, loss: str = "squared_error") -> float:
    """The batch mean of the loss at the free fixed point: 1/2 sum_out (readout - y)^2, or
    -log softmax(GAIN readout)_label."""
    eng = Engine(chip, replicas=2)
    r = eng.run(SETTLE, x0=eng.initial_state(), h_ext=chip.input_field(PIXELS), energy_every=0)
    out = r.x[:, -3:]
    out = np.cos(out) if chip.model.name == "oim" else out
    if loss == "cross_entropy":
        log_p = GAIN * out - np.log(np.exp(GAIN * out).sum(axis=1, keepdims=True))
        return -log_p[[0, 1], LABELS].mean()
    y = -np.ones((2, 3))
    y[[0, 1], LABELS] = 1
    return 0.5 * ((out - y) ** 2).sum(axis=1).mean()


def fd_gradient(case: str, loss: str = "squared_error") -> dict[str, np.ndarray]:
    """Central differences (eps 1e-5) of the free loss in every coupler device (a reciprocal
    pair's one device moves both directions) and input coupler."""
    eps = 1e-5
    chip = tiny_chip("ep", **NONRECIPROCAL[case])

    def derivative(perturb):
        vals = []
        for s in (1, -1):
            c = tiny_chip("ep", **NONRECIPROCAL[case])
            perturb(c, s * eps)
            vals.append(free_loss(c, loss))
        return (vals[0] - vals[1]) / (2 * eps)

    def coupler(i, j):
        def perturb(c, e):
            couplings = c.registers.couplings
            couplings.set_values(c.J[i, j] + e, (i, j))
            if not c.directed:
                couplings.set_values(c.J[j, i] + e, (j, i))
        return perturb

    def input_coupler(p, i):
        def perturb(c, e):
            c.registers.inputs.set_values(c.input_J[p, i] + e, (p, i))
        return perturb

    grad = {}
    for name, (r0, r1, c0, c1) in coupler_blocks(chip).items():
        grad[name] = np.array([[derivative(coupler(i, j)) if chip.mask[i, j] else 0.0
                                for j in range(c0, c1)] for i in range(r0, r1)])
    grad["input"] = np.array([[derivative(input_coupler(p, i)) for i in range(5)]
                              for p in range(4)])
    return grad


def cosine(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def exact():
    return {case: fd_gradient(case) for case in NONRECIPROCAL}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(NONRECIPROCAL))
def test_asymep_and_dyadic_match_the_exact_gradient_where_ep_does_not(exact, case):
    """cos(update, exact gradient) >= 0.99 for AsymEP and Dyadic EP on every register block;
    symmetric EP's worst block points measurably elsewhere (measured: 0.65 and 0.86 for the
    OIMs' couplers; 0 for the feed-forward chip's input couplers, which its nudge never
    reaches)."""
    ref = exact[case]
    ep = make_learner(tiny_chip("ep", **NONRECIPROCAL[case]), 3).gradient(PIXELS, LABELS)
    for rule in ("asymep", "dyadic"):
        g = make_learner(tiny_chip(rule, **NONRECIPROCAL[case]), 3).gradient(PIXELS, LABELS)
        for key in ref:
            assert cosine(g[key], ref[key]) >= 0.99, (rule, key, cosine(g[key], ref[key]))
    worst = min(cosine(ep[k], ref[k]) if np.any(ep[k]) else 0.0 for k in ref)
    assert worst < 0.9, worst


@pytest.mark.parametrize("case", ["oim_delay", "softspin_feedforward"])
def test_asymep_and_dyadic_with_cross_entropy_match_its_gradient(case):
    """The cross-entropy nudge (linearised at the free read-out) through the adjoint rules:
    cos(update, exact gradient of the cross-entropy) >= 0.99 on every register block."""
    ref = fd_gradient(case, "cross_entropy")
    for rule in ("asymep", "dyadic"):
        chip = tiny_chip(rule, loss="cross_entropy", **NONRECIPROCAL[case])
        g = make_learner(chip, 3).gradient(PIXELS, LABELS)
        for key in ref:
            if np.any(ref[key]):
                assert cosine(g[key], ref[key]) >= 0.99, (rule, key, cosine(g[key], ref[key]))


def test_asymep_is_centered_ep_on_a_reciprocal_chip():
    """A = 0: the same phases, the same samples, and an update equal to centered EP's to
    rounding."""
    kw = dict(model="oim")
    ep = make_learner(tiny_chip("ep", **kw), 3).gradient(PIXELS, LABELS)
    asym = make_learner(tiny_chip("asymep", **kw), 3).gradient(PIXELS, LABELS)
    assert ep.keys() == asym.keys()
    for key in ep:
        assert np.any(ep[key]), key
        np.testing.assert_allclose(asym[key], ep[key], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", ["oim_asymmetric", "softspin_feedforward"])
def test_updates_write_each_device_of_a_directed_chip(case):
    """A directed chip's learner writes each direction's own codes: an asymmetric chip's two
    directions move apart, and a feed-forward chip never gains a backward coupler."""
    chip = tiny_chip("asymep", **NONRECIPROCAL[case])
    learner = make_learner(chip, 3)
    before = chip.J_codes.copy()
    learner.train_batch(PIXELS, LABELS, lr_scale=50.0)
    assert np.any(chip.J_codes != before)
    assert not np.any(chip.J_codes[~chip.mask])  # nothing written where no device exists
    if chip.spec.topology.feedforward:
        assert not np.any(chip.J_codes[:5, 5:])  # backward block of the 5 -> 3 chip
    else:
        step = chip.J_codes.astype(np.int64) - before
        assert np.any(step != step.T)  # a mirrored write would move both directions alike
