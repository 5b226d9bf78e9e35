"""Annealing schedules: each drive ramps exactly as declared, step by step (against a plain
numpy Euler loop fed the same normals), and bad schedules or commands that cannot anneal are
refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.errors import SpecError
from thermochip.schedules import ramp
from thermochip.spec_io import load_spec

STEPS = 60


def wrapped(d: np.ndarray) -> np.ndarray:
    """Phase differences in (-pi, pi] (the engine keeps phases in [0, 2 pi))."""
    return (d + np.pi) % (2 * np.pi) - np.pi


def two_oscillators(anneal: dict, kT: float = 0.01) -> Chip:
    """Two coupled oscillators (J = 0.5, h = 0.2), float64, dt~ = 0.1."""
    return Chip.from_spec(load_spec({
        "cells": {"model": "oim", "n": 2}, "topology": "all_to_all",
        "couplings": {"init": {"kind": "constant", "value": 0.5},
                      "dac": {"bits": 16, "full_scale": 1.0}},
        "fields": {"init": {"h": 0.2, "S": 0.3}, "dac": {"bits": 16, "full_scale": 2.0}},
        "noise": {"thermal": {"kT": kT}},
        "integrator": {"dt": "1 ns", "steps": STEPS,
                       "initial_state": {"kind": "constant", "value": 0.4}},
        "anneal": anneal, "run": {"dtype": "float64", "replicas": 3, "seed": 1}}))


def reference(chip: Chip, anneal: dict, noise: np.ndarray) -> np.ndarray:
    """Euler--Maruyama with every drive read at each step's start, as declared."""
    m, p = chip.model, chip.model.to_kernel(chip.params, np.float64)
    S = ramp(anneal.get("fields", {}).get("S", [[0, chip.fields[1][0]]]), "S")
    kT = ramp(anneal.get("kT", [[0, 0.01]]), "kT")
    gain = ramp(anneal.get("coupling_gain", [[0, 1.0]]), "gain")
    x = np.full((3, 2), 0.4)
    for k in range(STEPS):
        t = k * 1e-9
        ch = np.stack([m.channel(p, x, c) for c in range(2)])
        G = gain.at(t) * np.einsum("ij,cbj->cbi", chip.J, ch)
        force = chip.gain * (m.local_force(p, x, chip.fields[0], S.at(t))
                             + m.coupling_force(p, x, G))
        amplitude = m.cell_noise(chip.params, chip.gain, kT.at(t), 0.0)
        x = x + chip.dt * force + amplitude * np.sqrt(chip.dt) * noise[:, k]
    return x


@pytest.mark.parametrize("anneal", [
    {"fields": {"S": [[0, 0.0], ["40 ns", 1.2]]}},
    {"kT": [[0, 0.2], ["20 ns", 0.2], ["50 ns", 0.0]]},
    {"coupling_gain": [["10 ns", 0.1], ["30 ns", 2.0]]},
    {"fields": {"S": [[0, 0.1], ["60 ns", 0.9]]}, "kT": [[0, 0.05], ["60 ns", 0.0]],
     "coupling_gain": [[0, 0.5], ["60 ns", 1.0]]},
])
def test_each_drive_ramps_as_declared(anneal):
    chip = two_oscillators(anneal)
    noise = np.random.default_rng(7).standard_normal((3, STEPS, 2))
    engine = Engine(chip)
    got = engine.run(STEPS, x0=np.full((3, 2), 0.4), noise=noise, energy_every=0).x
    assert np.abs(wrapped(got - reference(chip, anneal, noise))).max() < 1e-12
    # and the schedule matters: the chip without it ends elsewhere
    plain = Engine(chip)
    plain.schedule = None
    other = plain.run(STEPS, x0=np.full((3, 2), 0.4), noise=noise, energy_every=0).x
    assert np.abs(wrapped(other - got)).max() > 1e-3


def test_the_clock_runs_across_calls():
    """A run cut into pieces reads the schedule at the engine's own clock: the same states
    as one run (the white noise is keyed by the same clock)."""
    anneal = {"fields": {"S": [[0, 0.0], ["50 ns", 1.0]]}, "kT": [[0, 0.1], ["50 ns", 0.0]]}
    one = Engine(two_oscillators(anneal)).run(STEPS, energy_every=0).x
    cut = Engine(two_oscillators(anneal))
    x = cut.run(25, energy_every=0).x
    x = cut.run(STEPS - 25, x0=x, energy_every=0).x
    assert np.abs(wrapped(x - one)).max() < 1e-12


def test_ramp_interpolates_and_holds_its_ends():
    r = ramp([["10 ns", 1.0], ["30 ns", 3.0]], "x")
    assert [r.at(t) for t in (0, 10e-9, 20e-9, 30e-9, 1)] == [1.0, 1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize("anneal, where", [
    ({"kT": [[0, -0.1]]}, "anneal.kT"),
    ({"fields": {"Q": [[0, 1.0]]}}, "anneal.fields.Q"),
    ({"coupling_gain": [["20 ns", 1.0], ["10 ns", 2.0]]}, "anneal.coupling_gain"),
    ({"kT": [[0]]}, "anneal.kT"),
])
def test_bad_schedules_are_refused_by_name(anneal, where):
    with pytest.raises(SpecError) as err:
        two_oscillators(anneal)
    assert any(p.startswith(where) for p, _ in err.value.problems), err.value.problems


def test_training_refuses_an_annealed_chip():
    from pathlib import Path

    import yaml
    spec = yaml.safe_load((Path(__file__).resolve().parent.parent
                           / "examples/quickstart.yaml").read_text())
    spec["anneal"] = {"kT": [[0, 0.01], ["1 us", 0.0]]}
    with pytest.raises(SpecError, match="anneal"):
        load_spec(spec, command="run")


def test_solve_does_not_stop_before_its_anneal_ends():
    """A noise-free chip whose spins freeze early still runs until its last schedule point,
    then stops once they have stayed put."""
    from pathlib import Path

    import yaml

    from thermochip.solve import solve
    root = Path(__file__).resolve().parent.parent
    spec = yaml.safe_load((root / "examples/oim_maxcut.yaml").read_text())
    spec["noise"] = {}
    spec["anneal"] = {"fields": {"S": [[0, 0.4], ["1.5 us", 0.5]]}}
    result = solve(load_spec(spec, base_dir=root / "examples"), base_dir=root / "examples",
                   replicas=4, steps=3000, records=100, patience=3)
    assert result.stopped_early and 1500 <= result.steps_run < 3000
