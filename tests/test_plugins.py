"""Parts plug in: a new device of an existing dynamics kind is one module (no edit elsewhere),
a new learner rule is one module. Each is written to a scratch folder, added to its package's
search path and imported, in a child process that runs the kernels' Python bodies
(NUMBA_DISABLE_JIT), so nothing is compiled into the shared kernel cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TOY_DEVICE = '''
"""A linear Langevin cell, V = k/2 x^2 + b x + (a/2) x^2 + 1/2 sum J_ij x_i x_j."""
from dataclasses import dataclass
from typing import NamedTuple

from device_models.base import CellModel, register
from device_models.params import POSITIVE, spec_field


@dataclass(frozen=True)
class ToyParams:
    rate: float = spec_field(1.0e9, doc="mobility rate (1/s)", unit="Hz", check=POSITIVE)
    k: float = spec_field(1.0, doc="stiffness", check=POSITIVE)


class ToyKernel(NamedTuple):
    k: float
    half: float


def to_kernel(params, dtype):
    return ToyKernel(dtype(params.k), dtype(0.5))


def local_energy(p, x, b, a):
    return p.half * (p.k + a) * x * x + b * x


def local_force_ch(p, x, ch0, ch1, b, a):
    return -((p.k + a) * x + b)


def channel(p, x, c):
    return x


def channel_deriv_ch(p, x, ch0, ch1, c):
    return p.half + p.half + (x - x)


def readout(p, x, mode, r):
    return x


def field_grad_ch(p, ch, k):
    return ch[0] if k == 0 else p.half * ch[0] * ch[0]


MODEL = register(CellModel(
    name="toy_linear", doc=__doc__, params=ToyParams, kernel_params=ToyKernel,
    to_kernel=to_kernel, field_names=("b", "a"), field_defaults=(0.0, 0.0), pair_sign=1.0,
    n_channels=1, carrier=False, periodic=None, init_range=(-1.0, 1.0),
    readouts=(("value", 1),), local_energy=local_energy, local_force_ch=local_force_ch,
    channel=channel, channel_deriv_ch=channel_deriv_ch, readout=readout,
    from_channels=lambda p, ch: ch[0], field_grad_ch=field_grad_ch,
    nudge=lambda p, beta, target: (-beta * target, beta)))
'''

TOY_RULE = '''
"""Rule toy_ep: the one-sided EP contrast, written as a rule module of its own."""
from dataclasses import dataclass

from thermochip.learn.ep_circuit import (AbstractEstimator, EpCircuit, EpSection, ep_problems,
                                         pair_terms)
from thermochip.learn.rules import register_rule


@dataclass(frozen=True, kw_only=True)
class ToyEpLearner(EpSection):
    """One-sided EP."""

    rule: str = "toy_ep"

    def requirements(self, spec, model, params, data_shape):
        return ep_problems(self, spec, model, params, data_shape)


class ToyEstimator(AbstractEstimator):
    def betas(self, section):
        return (section.beta,)

    def gradient(self, circuit, pixels, labels):
        h_in, x_free, U_free = circuit.free(pixels)
        (U,) = circuit.nudged(x_free, h_in, labels, U_free)
        return circuit.contrast(U, U_free, pixels, 1.0 / circuit.cfg.beta)

    def coupler_terms(self, circuit, ch):
        return pair_terms(circuit, ch)


RULE = register_rule(ToyEpLearner, lambda chip, n: EpCircuit(chip, n, ToyEstimator()))
'''

SCRIPT = '''
import dataclasses, importlib, sys
import numpy as np
plugins = sys.argv[1]

import device_models
device_models.__path__.append(plugins)
importlib.import_module("device_models.toy_linear")
import thermochip.learn
thermochip.learn.__path__.append(plugins)
importlib.import_module("thermochip.learn.toy_rule")

from thermochip import Chip, load_spec, simulate
from thermochip.learn import make_learner

# the new device, against the soft spin it equals (V = J2 x^2 with J2 = k/2, J4 = 0)
base = {"couplings": {"init": {"kind": "random", "std": 0.3}},
        "noise": {"thermal": {"kT": 0.2}}, "integrator": {"dt": "50 ps", "steps": 60},
        "run": {"replicas": 3, "seed": 2, "dtype": "float64"}}
toy = simulate(Chip.from_spec(load_spec({**base, "cells": {
    "model": "toy_linear", "n": 5, "params": {"k": 1.5}}})))
ref = simulate(Chip.from_spec(load_spec({**base, "cells": {
    "model": "softspin", "n": 5, "params": {"J2": 0.75, "J4": 0.0}}})))
print("device", np.abs(toy.x - ref.x).max(), np.abs(ref.x).max())

# the new rule, against rule ep's one-sided estimator on the same chip
spec = {"cells": {"model": "softspin", "preset": "seed000_double_well", "layers": [4, 3],
                  "inputs": 5},
        "topology": "layered", "couplings": {"init": {"kind": "random", "std": 0.5}},
        "noise": {"thermal": {"kT": 0.01}},
        "adc": {"bits": 12, "full_scale": 2.0, "mode": "value", "sample_rate": "10 GHz"},
        "integrator": {"dt": "100 ps", "steps": 10},
        "learner": {"rule": "toy_ep", "estimator": "one_sided", "beta": 0.5, "free_steps": 10,
                    "nudged_steps": 5, "window": 2, "update_every": 4},
        "run": {"seed": 3, "dtype": "float64"}}
pixels = np.random.default_rng(0).uniform(0, 1, (4, 5))
labels = np.array([0, 1, 2, 1])
g_toy = make_learner(Chip.from_spec(load_spec(spec)), 3).gradient(pixels, labels)
spec["learner"]["rule"] = "ep"
g_ep = make_learner(Chip.from_spec(load_spec(spec)), 3).gradient(pixels, labels)
print("rule", max(np.abs(g_toy[k] - g_ep[k]).max() for k in g_ep),
      max(np.abs(g_ep[k]).max() for k in g_ep), sorted(g_toy) == sorted(g_ep))
'''


def test_a_device_module_and_a_rule_module_plug_in_without_edits(tmp_path):
    (tmp_path / "toy_linear.py").write_text(textwrap.dedent(TOY_DEVICE))
    (tmp_path / "toy_rule.py").write_text(textwrap.dedent(TOY_RULE))
    env = dict(os.environ, NUMBA_DISABLE_JIT="1", PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True,
                       text=True, cwd=tmp_path, env=env, check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    device, rule = [line.split() for line in r.stdout.splitlines()]
    # the same dynamics written two ways: equal to rounding (float64, 60 steps)
    assert float(device[1]) < 1e-12 < float(device[2])
    # the same estimator in another module: the same numbers
    assert float(rule[1]) == 0.0 < float(rule[2]) and rule[3] == "True"
