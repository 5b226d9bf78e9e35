"""Whether phases settle: the engine's watch of a run's end (exact against the trajectory, and
without touching it), a settling run lengthened exactly as its rule says, the noise's bound
against free diffusion, and the figures a training run reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from thermochip.chip import Chip
from thermochip.engine import Engine, Settle
from thermochip.errors import SpecError
from thermochip.learn import make_learner
from thermochip.reference import reference_simulate
from thermochip.spec_io import load_spec

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parent.parent


def relaxing_chip(kT: float = 0.0) -> Chip:
    """Four uncoupled Ornstein--Uhlenbeck cells relaxing from x0 towards 0 (no couplers)."""
    return Chip.from_spec(load_spec({
        "cells": {"model": "softspin", "preset": "linear_ou", "n": 4},
        "couplings": {"init": {"kind": "constant", "value": 0.0}},
        "noise": {"thermal": {"kT": kT}},
        "integrator": {"dt": "100 ps", "steps": 40},
        "adc": {"bits": 12, "full_scale": 4.0, "mode": "value", "sample_rate": "10 GHz"},
        "run": {"replicas": 3, "seed": 4, "dtype": "float64"}}))


X0 = np.array([[1.0, -2.0, 0.5, 3.0], [0.2, 0.1, -0.3, 1.0], [2.0, 2.0, 2.0, 2.0]])


def rms(a, b):
    return np.sqrt(((a - b) ** 2).mean(axis=1))


def test_the_watch_reads_the_end_without_touching_the_run():
    """end_change is the RMS change of the last lag steps of the reference trajectory, and the
    watched run's state and samples are bit-identical to an unwatched one."""
    chip = relaxing_chip(kT=0.3)
    plain = Engine(chip).run(40, x0=X0, energy_every=0)
    watched = Engine(chip).run(40, x0=X0, energy_every=0, settle=Settle(lag=6))
    np.testing.assert_array_equal(watched.x, plain.x)
    np.testing.assert_array_equal(watched.adc_analog, plain.adc_analog)
    noise = np.random.default_rng(0).standard_normal((3, 40, 4))
    traj = reference_simulate(chip, X0, noise)
    injected = Engine(chip).run(40, x0=X0, noise=noise, energy_every=0, settle=Settle(lag=6))
    np.testing.assert_allclose(injected.end_change, rms(traj[40], traj[34]),
                               rtol=1e-12)


def test_a_settling_run_is_lengthened_until_its_motion_falls_below_the_tolerance():
    """Noise-free relaxation x_k = x0 (1 - dt~)^k: the run is checked before the ADC's window
    (its last sample minus lag), lengthened lag steps at a time while the change over the lag
    before the check exceeds the tolerance, and its samples move with its end."""
    chip = relaxing_chip()
    lag, tolerance, cap = 4, 1e-4, 200
    traj = reference_simulate(chip, X0, np.zeros((3, cap, 4)))
    n = 40
    while n + lag <= cap and rms(traj[n - lag], traj[n - 2 * lag]).max() > tolerance:
        n += lag
    assert 60 < n < cap   # the case lengthens, and stops before the cap
    samples = np.arange(37, 41)
    r = Engine(chip).run(40, x0=X0, energy_every=0, sample_steps=samples,
                         settle=Settle(lag, tolerance, cap))
    assert r.steps == n
    np.testing.assert_array_equal(r.sample_steps, samples + n - 40)
    np.testing.assert_allclose(r.x, traj[n], rtol=1e-12)
    np.testing.assert_allclose(r.adc_analog[:, -1, :, 0], traj[n], rtol=1e-12)
    capped = Engine(chip).run(40, x0=X0, energy_every=0, sample_steps=samples,
                              settle=Settle(lag, tolerance, 52))
    assert capped.steps == 52


def test_the_noise_bound_holds_for_cells_in_a_well():
    """Stationary Euler OU cells, x' = a x + s xi: E (x_{k+L} - x_k)^2 = 2 v (1 - a^L), v = s^2 /
    (1 - a^2); the engine's end changes match it (64 replicas x 64 cells: mean square within
    5 SE, SE = sqrt(2 / 4096)), and lie below the monitor's bound s^2 L (free diffusion)."""
    chip = Chip.from_spec(load_spec({
        "cells": {"model": "softspin", "preset": "linear_ou", "n": 64},
        "couplings": {"init": {"kind": "constant", "value": 0.0}},
        "noise": {"thermal": {"kT": 0.5}},
        "integrator": {"dt": "100 ps", "steps": 1},
        "run": {"replicas": 64, "seed": 5, "dtype": "float64"}}))
    a = Engine(chip).run(1, x0=np.ones((64, 64)), noise=np.zeros((64, 1, 64)),
                         energy_every=0).x[0, 0]
    s2 = float(chip.noise_std[0] ** 2 * chip.dt)
    v, lag = s2 / (1 - a * a), 5
    x0 = np.sqrt(v) * np.random.default_rng(2).standard_normal((64, 64))   # stationary
    r = Engine(chip).run(200, x0=x0, energy_every=0, settle=Settle(lag))
    want = 2 * v * (1 - a ** lag)
    assert abs(np.mean(r.end_change ** 2) / want - 1) < 5 * np.sqrt(2 / 4096)
    assert want < s2 * lag


def test_the_monitor_reports_the_noise_bound_in_state_units_per_ns():
    from thermochip.learn.settling import SettlingMonitor
    spec = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    chip = Chip.from_spec(load_spec(spec, base_dir=ROOT / "examples"))
    window, dt = chip.spec.learner.window, chip.spec.integrator.dt
    want = np.sqrt(np.mean(chip.noise_std ** 2) * window * chip.dt) / (window * dt * 1e9)
    assert SettlingMonitor(chip, chip.spec.learner).noise_velocity == pytest.approx(want)


def test_training_reports_settling_and_warns_when_phases_still_move(tmp_path):
    """The quickstart's 30-step free phases end before the untrained chip settles (about half
    still move at twice the noise's bound): --json carries the figures, stderr one warning
    line per such epoch. Settled: a 120-step cap lengthens the free phases."""
    spec = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    spec["data"] = {"dataset": "digits", "train_size": 200, "test_size": 50}
    spec["learner"]["settle"] = None
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = subprocess.run([sys.executable, "-m", "thermochip", "run", path, "--epochs", "1",
                          "--json", "--out", tmp_path / "q.h5"], capture_output=True,
                         text=True, cwd=ROOT / "examples")
    assert out.returncode == 0, out.stderr
    settling = json.loads(out.stdout)["settling"]
    assert settling["free_ns"] == [30.0] and settling["nudged_ns"] == [6.0]
    assert settling["free_velocity"][0] > 2 * settling["noise_velocity"][0]
    assert settling["unsettled"][0] > 0.1
    warnings = [line for line in out.stderr.splitlines() if "unsettled" in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: epoch 1:")

    spec["learner"]["settle"] = {"tolerance": 0.001, "max_steps": 120}
    chip = Chip.from_spec(load_spec(spec, base_dir=ROOT / "examples"))
    learner = make_learner(chip, 10)
    pixels = np.random.default_rng(0).uniform(0, 1, (8, 64))
    learner.train_batch(pixels, np.arange(8))
    figures = learner.settling()
    assert figures["free_ns"] > 40 and figures["unsettled"] < settling["unsettled"][0]


def test_settle_needs_continuous_cells_and_room_above_the_phases():
    spec = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    spec["learner"]["settle"] = {"tolerance": 0.01, "max_steps": 20}
    with pytest.raises(SpecError, match=r"learner\.settle\.max_steps"):
        load_spec(spec, base_dir=ROOT / "examples")
    pbit = yaml.safe_load((ROOT / "examples/pbit_quickstart.yaml").read_text())
    pbit["learner"]["settle"] = {"tolerance": 0.01, "max_steps": 500}
    with pytest.raises(SpecError, match=r"learner\.settle"):
        load_spec(pbit, base_dir=ROOT / "examples")
