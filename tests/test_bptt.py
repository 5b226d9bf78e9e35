"""The reference trainer ``learner.rule: bptt``: its gradient is the exact derivative of the
loss through the chip's discretised free phase (central finite differences of the same
engine run), for both losses, reciprocal and directed chips; it trains; it refuses what it
cannot differentiate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.errors import SpecError
from thermochip.learn import make_learner
from thermochip.learn.ep_circuit import coupler_blocks, phase_samples
from thermochip.learn.losses import one_hot_targets, softmax
from thermochip.spec_io import load_spec

STEPS, WINDOW, GAIN = 12, 3, 3.0
PIXELS = np.random.default_rng(1).random((2, 4))
LABELS = np.array([0, 2])


def tiny_chip(model: str = "oim", loss: str = "squared_error", feedforward: bool = False,
              mismatch: float = 0.0) -> Chip:
    """4 inputs -> 5 -> 3 cells, noise-free, float64, 24-bit DACs and ADC; a free phase of 12
    steps, far from settled (bptt differentiates the transient exactly)."""
    oim = model == "oim"
    spec = load_spec({
        "cells": {"model": model, "layers": [5, 3], "inputs": 4,
                  "params": {} if oim else {"J2": 0.5, "J4": 0.1}},
        "topology": {"kind": "layered", "feedforward": feedforward},
        "couplings": {"init": {"kind": "random", "std": 0.8},
                      "dac": {"bits": 24, "full_scale": 4}},
        "fields": {"init": {"S": 0.3, "h": 0.1} if oim else {"b": 0.1},
                   "dac": {"bits": 24, "full_scale": 4}},
        "noise": {"mismatch": {"coupler_gain": mismatch, "cell_gain": mismatch}},
        "adc": {"bits": 24, "full_scale": 4, "mode": "iq" if oim else "value",
                "sample_rate": "1 GHz" if oim else "5 GHz"},
        "integrator": {"dt": "1 ns" if oim else "0.2 ns",  # dt~ = 0.1 and 0.2
                       "initial_state": {"kind": "constant",
                                                       "value": 1.2 if oim else 0.1}},
        "learner": {"rule": "bptt", "free_steps": STEPS, "window": WINDOW,
                    "update_every": 2, "loss": loss, "softmax_gain": GAIN},
        "train": {"eval_replicas": 2}, "run": {"dtype": "float64", "seed": 3}})
    return Chip.from_spec(spec)


def loss_of(chip: Chip) -> float:
    """The batch-mean loss of the outputs' read-out averaged over the ADC's samples in the
    phase's last WINDOW steps, from the engine's own run (stopped at each sample)."""
    engine = Engine(chip, replicas=2)
    x, h = engine.initial_state(), chip.input_field(PIXELS)
    samples = phase_samples(chip.spec, chip.spec.learner, STEPS)
    read, done = [], 0
    for s in samples:
        x = engine.run(int(s) - done, x0=x, h_ext=h, energy_every=0).x
        done = int(s)
        out = x[:, -3:]
        read.append(np.cos(out) if chip.model.name == "oim" else out)
    r = np.mean(read, axis=0)
    if chip.spec.learner.loss == "cross_entropy":
        return float(-np.log(softmax(GAIN * r)[[0, 1], LABELS]).mean())
    return float(0.5 * ((r - one_hot_targets(LABELS, 3)) ** 2).sum(axis=1).mean())


def finite_differences(build) -> dict[str, np.ndarray]:
    """Central differences (eps 1e-6) of the loss in every coupler device's written value (a
    reciprocal pair's one device moves both directions, each through its own gain), every
    input coupler and both field registers of every cell."""
    eps = 1e-6

    def derivative(perturb):
        vals = []
        for s in (1, -1):
            chip = build()
            perturb(chip, s * eps)
            vals.append(loss_of(chip))
        return (vals[0] - vals[1]) / (2 * eps)

    def coupler(i, j):
        def perturb(c, e):
            couplings = c.registers.couplings
            couplings.set_values(c.J[i, j] + e * c.coupler_gain[i, j], (i, j))
            if not c.directed:
                couplings.set_values(c.J[j, i] + e * c.coupler_gain[j, i], (j, i))
        return perturb

    def register(name, index):
        def perturb(c, e):
            reg = getattr(c.registers, name)
            reg.set_values(reg.values[index] + e, index)
        return perturb

    chip = build()
    grad = {name: np.array([[derivative(coupler(i, j)) if chip.mask[i, j] else 0.0
                             for j in range(c0, c1)] for i in range(r0, r1)])
            for name, (r0, r1, c0, c1) in coupler_blocks(chip).items()}
    grad["input"] = np.array([[derivative(register("inputs", (p, i))) for i in range(5)]
                              for p in range(4)])
    grad["h"], grad["S"] = (np.array([derivative(register("fields", (k, i)))
                                      for i in range(8)]) for k in (0, 1))
    return grad


CASES = {"oim squared error": dict(model="oim"),
         "oim cross-entropy, mismatch": dict(model="oim", loss="cross_entropy", mismatch=0.2),
         "softspin feed-forward": dict(model="softspin", feedforward=True)}


@pytest.mark.parametrize("case", list(CASES))
def test_bptt_gradient_is_the_derivative_of_the_discretised_phase(case):
    """Every register's gradient equals the finite differences to 1e-5 of the largest (the
    differences are exact to ~eps^2; what is left is rounding)."""
    build = lambda: tiny_chip(**CASES[case])  # noqa: E731
    fd = finite_differences(build)
    got = make_learner(build(), 3).gradient(PIXELS, LABELS)
    assert got.keys() == fd.keys()
    for key in fd:
        scale = np.abs(fd[key]).max()
        if scale == 0:  # a feed-forward chip's hidden cells never feel the outputs' loss
            np.testing.assert_array_equal(got[key], 0.0)
            continue
        np.testing.assert_allclose(got[key], fd[key], rtol=0, atol=1e-5 * scale, err_msg=key)


def bptt_quickstart(**learner) -> dict:
    """The quickstart spec with rule bptt (its nudge fields left out)."""
    spec = yaml.safe_load((Path(__file__).resolve().parent.parent
                           / "examples/quickstart.yaml").read_text())
    spec["learner"] = {k: v for k, v in spec["learner"].items()
                       if k not in ("estimator", "beta", "nudged_steps")}
    spec["learner"].update(rule="bptt", **learner)
    return spec


@pytest.mark.parametrize("change, where", [
    ({"learner": {"beta": 1.0}}, "learner.beta"),
    ({"delays": {"interconnect": "10 ps"}}, "delays"),
    ({"learner": {"settle": {"tolerance": 0.01, "max_steps": 60}}}, "learner.settle"),
    ({"cells": {"model": "pbit", "preset": None}}, "cells.model"),
])
def test_bptt_refuses_what_it_cannot_differentiate(change, where):
    spec = bptt_quickstart()
    for section, fields in change.items():
        spec[section] = {**spec.get(section, {}), **fields}
    if spec["cells"]["model"] == "pbit":
        spec.pop("noise")
        spec["adc"]["mode"] = "value"
    with pytest.raises(SpecError) as err:
        load_spec(spec, base_dir=".")
    assert any(path.startswith(where) for path, _ in err.value.problems), err.value.problems


@pytest.mark.slow  # convergence
def test_bptt_trains_the_quickstart_chip():
    """The reference trainer learns the digits (its gradients are ~5-70x EP's estimates on
    this chip, hence the smaller rates)."""
    import thermochip as tc
    result = tc.train(load_spec(bptt_quickstart(lr=[0.01, 0.05])), epochs=2)
    assert result.test.accuracy >= 0.85, result.test.accuracy
    assert result.summary()["settling"] is None  # no phases watched: it runs its own steps
