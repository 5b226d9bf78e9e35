"""Onsager--Machlup residual learning: the action's gradients, the residual law under the
chip's own dynamics, in-situ calibration, locality of the updates, and the per-class-well
classifier on the bundled digits.

Statistical tolerances are derived in comments from the standard error of each estimate for
the stated sample size (about 5 sigma). Seeds are fixed, so every test is deterministic; the
bounds say how unlikely a failure would be for another seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy import stats

import device_models
from thermochip import host
from thermochip.calibration import _Moments, _normal_equations, calibrate
from thermochip.chip import Chip
from thermochip.commands.calibrate import add_arguments as calibrate_arguments
from thermochip.commands.calibrate import run as calibrate_run
from thermochip.engine import Engine
from thermochip.errors import IncompatibleModelError, SpecError
from thermochip.learn import make_learner
from thermochip.learn.onsager_machlup import (
    OmLearnerCircuit,
    action,
    class_actions,
    om_gradients,
    residuals,
)
from thermochip.reference import reference_simulate
from thermochip.spec_io import load_spec

ROOT = Path(__file__).resolve().parent.parent
SOFTSPIN = device_models.get_model("softspin")


def kernel_params(J2, J4):
    return SOFTSPIN.to_kernel(SOFTSPIN.params(J2=J2, J4=J4), np.float64)


def random_couplings(rng, n, std=0.3):
    J = np.triu(rng.normal(0.0, std, (n, n)), 1)
    return J + J.T


# ---------------------------------------------------------------------------------------------
# (a) closed-form gradients against finite differences of the discretised action


@pytest.mark.parametrize("J2, J4", [(0.5, 0.0), (-1.0, 1.0)])
def test_gradients_match_finite_differences(J2, J4):
    """dL/db_i = sum_k r_i/(2kT) and dL/dJ_ij = sum_k (r_i x_j + r_j x_i)/(2kT) (J_ij and J_ji
    moved together) against central differences of L = sum |r|^2/(4 kT dt). L is quadratic in
    b and J, so central differences are exact up to rounding: with |L| ~ 1e3 and eps = 1e-3
    the rounding error is ~ 1e-16 * 1e3 / 1e-3 = 1e-10, hence atol 1e-6."""
    rng = np.random.default_rng(0)
    K, B, N, dt, kT = 7, 3, 5, 0.05, 0.2
    p = kernel_params(J2, J4)
    X = rng.normal(0.0, 0.7, (K, B, N))
    J = random_couplings(rng, N)
    f0 = rng.normal(0.0, 0.3, (B, N))          # per-replica bias (the class models)
    f1 = rng.normal(0.0, 0.2, N)                # stiffness field a
    dJ, db = om_gradients(SOFTSPIN, p, X, J, f0, f1, dt, kT, per_replica=True)
    assert np.array_equal(dJ, dJ.T) and np.all(np.diag(dJ) == 0)

    def L(J_, f0_):
        return action(SOFTSPIN, p, X, J_, f0_, f1, dt, kT)

    eps = 1e-3
    for i in range(N):
        for j in range(i + 1, N):
            E = np.zeros((N, N))
            E[i, j] = E[j, i] = eps
            fd = (L(J + E, f0) - L(J - E, f0)) / (2 * eps)
            assert dJ[i, j] == pytest.approx(fd, abs=1e-6)
    for b in range(B):
        for i in range(N):
            E = np.zeros((B, N))
            E[b, i] = eps
            fd = (L(J, f0 + E) - L(J, f0 - E)) / (2 * eps)
            assert db[b, i] == pytest.approx(fd, abs=1e-6)
    # the stated closed forms
    r = residuals(SOFTSPIN, p, X, J, f0, f1, dt)
    x = X[:-1]
    closed = np.einsum("kbi,kbj->ij", r, x) / (2 * kT)
    closed = closed + closed.T
    np.fill_diagonal(closed, 0.0)
    np.testing.assert_allclose(dJ, closed, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, r.sum(axis=0) / (2 * kT), rtol=1e-12, atol=1e-12)
    _, db_total = om_gradients(SOFTSPIN, p, X, J, f0, f1, dt, kT)
    np.testing.assert_allclose(db_total, db.sum(axis=0), rtol=1e-12)


def test_action_is_minus_log_transition_density():
    """L differs from -sum log N(x_{k+1}; x_k + f(x_k) dt, 2 kT dt) only by a parameter-free
    constant: the difference is the same for two different coupling matrices and biases."""
    rng = np.random.default_rng(1)
    K, B, N, dt, kT = 6, 2, 4, 0.1, 0.3
    p = kernel_params(-1.0, 1.0)
    X = rng.normal(0.0, 0.7, (K, B, N))
    gaps = []
    for _ in range(2):
        J, f0 = random_couplings(rng, N), rng.normal(0.0, 0.5, N)
        r = residuals(SOFTSPIN, p, X, J, f0, 0.0, dt)
        nll = -stats.norm.logpdf(r, scale=np.sqrt(2 * kT * dt)).sum()
        gaps.append(nll - action(SOFTSPIN, p, X, J, f0, 0.0, dt, kT))
    assert gaps[0] == pytest.approx(gaps[1], rel=1e-12)
    assert gaps[0] == pytest.approx(0.5 * X[1:].size * np.log(2 * np.pi * 2 * kT * dt),
                                    rel=1e-12)


def test_class_actions_equal_one_action_per_class():
    """The classifier's read-out (all class models from one residual pass) equals the action
    of each class model computed on its own."""
    rng = np.random.default_rng(8)
    K, B, N, C, dt, kT = 6, 4, 5, 3, 0.1, 0.05
    p = kernel_params(-1.0, 1.0)
    X = rng.normal(0.0, 0.7, (K, B, N))
    J, f0, f1 = random_couplings(rng, N), rng.normal(0.0, 0.3, N), rng.normal(0.0, 0.2, N)
    biases = rng.normal(0.0, 0.5, (C, N))
    got = class_actions(SOFTSPIN, p, X, J, f0, f1, biases, dt, kT)
    want = np.stack([action(SOFTSPIN, p, X, J, f0 + biases[c], f1, dt, kT, per_replica=True)
                     for c in range(C)], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-10)


# ---------------------------------------------------------------------------------------------
# (b) the residual law under the chip's own dynamics


def softspin_spec(n, *, kT=0.2, J_std=0.3, steps=100, replicas=4, seed=0, dtype="float64",
                  adc_bits=24, full_scale=4.0, mismatch=None, preset="seed000_double_well",
                  fields=None, dac_bits=16):
    spec = {
        "cells": {"model": "softspin", "preset": preset, "n": n},
        "couplings": {"init": {"kind": "random", "std": J_std},
                      "dac": {"bits": dac_bits, "full_scale": 1.0, "rounding": "nearest"}},
        "fields": {"init": fields or {"b": 0.0}},
        "noise": {"thermal": {"kT": kT}, "mismatch": mismatch or {}},
        "adc": {"bits": adc_bits, "full_scale": full_scale, "mode": "value",
                "sample_rate": "20 GHz"},
        "integrator": {"dt": "50 ps", "steps": steps,
                       "initial_state": {"kind": "normal", "mean": 0.0, "std": 0.5}},
        "run": {"replicas": replicas, "seed": seed, "dtype": dtype},
    }
    return load_spec(spec)


def test_residuals_are_the_injected_noise():
    """With injected noise the float64 reference trajectory's residuals are exactly
    sqrt(2 kT dt) times the noise (Euler--Maruyama with the model's own drift)."""
    rng = np.random.default_rng(2)
    spec = softspin_spec(5, fields={"b": [0.1, -0.2, 0.0, 0.3, -0.1], "a": 0.2})
    chip = Chip.from_spec(spec)
    B, K = 3, 50
    noise = rng.standard_normal((B, K, chip.n))
    x0 = rng.normal(0.0, 0.5, (B, chip.n))
    traj = reference_simulate(chip, x0, noise)                  # (step+1, replica, cell)
    p = SOFTSPIN.to_kernel(chip.params, np.float64)
    r = residuals(SOFTSPIN, p, traj, chip.J, chip.fields[0], chip.fields[1], chip.dt)
    kT = spec.noise.thermal.kT
    np.testing.assert_allclose(r, np.sqrt(2 * kT * chip.dt) * noise.transpose(1, 0, 2),
                               atol=1e-12)


@pytest.mark.statistical
def test_residual_mean_and_variance_under_own_dynamics():
    """The engine (float64) runs the chip with its own noise streams and a 24-bit ADC samples
    every step. The residuals of consecutive samples are i.i.d. N(0, 2 kT dt) per cell (each is
    one step's noise increment, independent of the past), so no autocorrelation correction is
    needed. With n = B (S - 1) residuals per cell:
    - mean: SE sqrt(sigma^2 / n); bound 5 SE plus the ADC error, at most LSB (1 + dt |f'|)
      per residual with LSB = 8 / 2^24 = 4.8e-7 (|f'| < 30 here);
    - variance: SE of the sample variance sigma^2 sqrt(2 / (n-1)); bound 5 SE (relative);
    - lag-1 correlation: SE 1 / sqrt(n); bound 5 SE."""
    spec = softspin_spec(6, kT=0.2, steps=4000, replicas=16, seed=3)
    chip = Chip.from_spec(spec)
    res = Engine(chip).run(sample_steps=np.arange(1, chip.steps + 1), energy_every=chip.steps)
    assert res.adc_saturated.sum() == 0
    X = res.adc_values[..., 0].transpose(1, 0, 2)               # (sample, replica, cell)
    p = SOFTSPIN.to_kernel(chip.params, np.float64)
    r = residuals(SOFTSPIN, p, X, chip.J, chip.fields[0], chip.fields[1], chip.dt)
    n = r.shape[0] * r.shape[1]
    var = 2 * 0.2 * chip.dt
    lsb = 2 * 4.0 / 2 ** 24
    mean = r.mean(axis=(0, 1))
    assert np.all(np.abs(mean) < 5 * np.sqrt(var / n) + lsb * (1 + chip.dt * 30))
    ratio = r.var(axis=(0, 1), ddof=1) / var
    assert np.all(np.abs(ratio - 1) < 5 * np.sqrt(2 / (n - 1)))
    lag1 = (r[1:] * r[:-1]).mean(axis=(0, 1)) / r.var(axis=(0, 1))
    assert np.all(np.abs(lag1) < 5 / np.sqrt(n))


# ---------------------------------------------------------------------------------------------
# (c) calibration recovers the analog couplings within the predicted standard error


@pytest.mark.statistical
def test_calibration_recovers_mismatched_couplings():
    """examples/calibrate_softspin.yaml (12 cells, 10 % coupler gain mismatch, 12-bit ADC whose
    quantisation noise is 5e-6 of the thermal step noise) with an additive coupler offset
    added. The estimate is Gaussian with the predicted covariance Cov, so with R the
    correlation matrix of the m coupler estimates:
    - z-scores: mean(z) has variance 1^T R 1 / m^2; bound 5 sigma;
    - mean(z^2) has variance 2 sum_ij R_ij^2 / m^2 (Isserlis); bound 5 sigma around 1;
    - chi2 = d^T Cov^-1 d over all p parameters is chi-square(p): |chi2 - p| < 5 sqrt(2p);
    - kT from the residual variance: relative SE sqrt(2 / dof); bound 5 SE.
    Calibration must beat the nominal DAC values clearly: by 3x (the predicted SE is ~7x
    below the nominal error for this run)."""
    import dataclasses

    spec = load_spec(ROOT / "examples/calibrate_softspin.yaml")
    mismatch = dataclasses.replace(spec.noise.mismatch, coupler_offset=0.01)
    spec = dataclasses.replace(spec, noise=dataclasses.replace(spec.noise, mismatch=mismatch))
    rep = calibrate(spec)
    assert rep.adc_saturated == 0 and rep.not_modelled == []
    m = rep.n_couplers
    assert m == 66 and rep.covariance.shape == (78, 78)
    sd = np.sqrt(np.diag(rep.covariance))
    R = (rep.covariance / np.outer(sd, sd))[:m, :m]
    z = rep.z_scores
    assert abs(z.mean()) < 5 * np.sqrt(R.sum()) / m
    assert abs(np.mean(z * z) - 1) < 5 * np.sqrt(2 * (R * R).sum()) / m
    p = rep.covariance.shape[0]
    assert abs(rep.chi2 - p) < 5 * np.sqrt(2 * p)
    s = rep.summary()
    assert s["rms_error_calibrated"] < s["rms_error_nominal"] / 3
    dof = rep.replicas * (rep.steps - 1) * rep.n_cells - p
    assert abs(rep.kT_estimate / rep.kT - 1) < 5 * np.sqrt(2 / dof)


def test_calibration_is_the_om_maximum_likelihood():
    """At the least-squares estimate the closed-form OM gradients of the same trajectory
    vanish (relative to their size at the nominal couplings)."""
    spec = softspin_spec(5, kT=0.3, steps=400, replicas=4, seed=6, adc_bits=16,
                         mismatch={"coupler_gain": 0.2})
    chip = Chip.from_spec(spec)
    res = Engine(chip).run(sample_steps=np.arange(1, chip.steps + 1), energy_every=chip.steps)
    X = res.adc_values[..., 0]                                  # (replica, sample, cell)
    p = SOFTSPIN.to_kernel(chip.params, np.float64)
    xs, dx = X[:, :-1].reshape(-1, chip.n), np.diff(X, axis=1).reshape(-1, chip.n)
    mom = _Moments(chip.n)
    mom.add(xs, dx - SOFTSPIN.local_force(p, xs, 0.0, 0.0) * chip.dt)
    A, c, (iu, ju) = _normal_equations(mom, chip.mask, chip.dt)
    theta = np.linalg.solve(A, c)
    J_hat = np.zeros((chip.n, chip.n))
    J_hat[iu, ju] = theta[:len(iu)]
    J_hat = J_hat + J_hat.T
    b_hat = theta[len(iu):]
    T = X.transpose(1, 0, 2)
    gJ, gb = om_gradients(SOFTSPIN, p, T, J_hat, b_hat, 0.0, chip.dt, 0.3)
    gJ0, gb0 = om_gradients(SOFTSPIN, p, T, chip.J, chip.fields[0] * 0, 0.0, chip.dt, 0.3)
    assert np.abs(gJ).max() < 1e-8 * np.abs(gJ0).max()
    assert np.abs(gb).max() < 1e-8 * np.abs(gb0).max()
    # and the action is lower there than at the true (or nominal) parameters
    assert action(SOFTSPIN, p, T, J_hat, b_hat, 0.0, chip.dt, 0.3) <= \
        action(SOFTSPIN, p, T, chip.J, 0.0, 0.0, chip.dt, 0.3)


def test_calibrate_cli_and_errors(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    calibrate_arguments(parser)
    out = tmp_path / "cal.h5"
    args = parser.parse_args([str(ROOT / "examples/calibrate_softspin.yaml"), "--steps", "3000",
                              "--replicas", "4", "--seed", "2", "--json", "--out", str(out)])
    assert calibrate_run(args) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["replicas"] == 4 and s["steps"] == 3000 and s["couplers"] == 66
    with h5py.File(out) as f:
        for name in ("J_true", "J_nominal", "J_estimate", "J_std_error"):
            assert f[name].shape == (12, 12)
        assert json.loads(f.attrs["summary"])["couplers"] == 66
    assert [p.name for p in tmp_path.iterdir()] == ["cal.h5"]   # no temporary left behind
    args = parser.parse_args([str(ROOT / "examples/calibrate_softspin.yaml"), "--steps", "500"])
    assert calibrate_run(args) == 0
    assert "RMS error" in capsys.readouterr().out
    oim = load_spec({"cells": {"model": "oim", "n": 3}, "integrator": {"dt": "1 ns", "steps": 5},
                     "noise": {"thermal": {"kT": 0.1}}, "adc": {"bits": 8, "sample_rate": "1 GHz"}})
    with pytest.raises(IncompatibleModelError, match="softspin"):
        calibrate(oim)
    with pytest.raises(IncompatibleModelError, match="thermal"):
        calibrate(softspin_spec(3, kT=0.0))


# ---------------------------------------------------------------------------------------------
# (d) locality


def test_coupler_update_is_local():
    """The update of coupler (i, j) uses only the samples of cells i and j and their residuals.
    A residual r_i is cell i's velocity minus its own force, which includes the coupling current
    G_i = sum_l J_il x_l arriving at cell i. So: (1) perturbing the other cells' samples in any
    way that leaves the currents at i and j unchanged leaves the (i, j) update and the bias
    updates of i and j exactly unchanged, while other couplers' updates do change; (2) where i
    and j are coupled to nobody else, any perturbation of the other cells leaves them
    unchanged."""
    rng = np.random.default_rng(7)
    K, B, N, dt, kT = 8, 3, 7, 0.05, 0.2
    p = kernel_params(-1.0, 1.0)
    X = rng.normal(0.0, 0.7, (K, B, N))
    f0 = rng.normal(0.0, 0.3, N)
    i, j, others = 0, 1, np.arange(2, N)
    J = random_couplings(rng, N)
    # (1) perturbations of the other cells in the null space of J[[i, j], others]
    _, _, vt = np.linalg.svd(J[[i, j]][:, others])
    null = vt[2:]                                               # (N-4, N-2)
    Y = X.copy()
    Y[..., others] += rng.normal(0.0, 0.5, (K, B, len(null))) @ null
    assert np.abs(Y - X).max() > 0.1
    gJ, gb = om_gradients(SOFTSPIN, p, X, J, f0, 0.0, dt, kT)
    hJ, hb = om_gradients(SOFTSPIN, p, Y, J, f0, 0.0, dt, kT)
    assert hJ[i, j] == pytest.approx(gJ[i, j], rel=1e-12, abs=1e-12)
    assert hb[[i, j]] == pytest.approx(gb[[i, j]], rel=1e-12, abs=1e-12)
    assert np.abs(hJ[2:, 2:] - gJ[2:, 2:]).max() > 1.0         # the test is not vacuous
    # (2) i and j coupled only to each other: arbitrary perturbations of the others
    J2 = J.copy()
    J2[[i, j]] = 0.0
    J2[:, [i, j]] = 0.0
    J2[i, j] = J2[j, i] = 0.4
    Y = X.copy()
    Y[..., others] += rng.normal(0.0, 0.5, (K, B, len(others)))
    gJ, gb = om_gradients(SOFTSPIN, p, X, J2, f0, 0.0, dt, kT)
    hJ, hb = om_gradients(SOFTSPIN, p, Y, J2, f0, 0.0, dt, kT)
    assert hJ[i, j] == pytest.approx(gJ[i, j], rel=1e-12, abs=1e-12)
    assert hb[[i, j]] == pytest.approx(gb[[i, j]], rel=1e-12, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# (e) the per-class-well classifier on the bundled digits


def digits_spec(**learner):
    spec = load_spec(ROOT / "examples/digits_om.yaml")
    if learner:
        import dataclasses
        spec = dataclasses.replace(spec, learner=dataclasses.replace(spec.learner, **learner))
    return spec


def test_digits_one_epoch_reaches_nearest_class_mean():
    """examples/digits_om.yaml, one epoch (1437 training samples), scored on the 360 test
    samples. With coupling learning off the learner converges to nearest-class-mean in well
    space, which scores 90.3 % on this split (computed below; about 90 % on any split). The
    binomial SE of an accuracy near 0.9 on 360 samples is sqrt(0.9 * 0.1 / 360) = 0.016: the
    chip's accuracy must be within 5 SE of nearest-class-mean (it also carries the chip's
    thermal noise), far above chance (10 %); and every class's bias register must have
    converged next to its own class mean's well field, -2 J2 (2 mean - 1), rather than any
    other class's."""
    from thermochip.data import load_dataset

    spec = digits_spec()
    data = load_dataset(spec.data)
    chip = Chip.from_spec(spec)
    learner = make_learner(chip, data.n_classes)
    assert isinstance(learner, OmLearnerCircuit)
    order = host.epoch_order(len(data.train_x), spec.data.shuffle_seed, 0)
    host.train_epoch(learner, data.train_x, data.train_y, spec.learner.update_every, order, 1.0)
    score = host.evaluate(learner, data.test_x, data.test_y, data.n_classes,
                          spec.train.eval_replicas)

    means = np.stack([data.train_x[data.train_y == c].mean(axis=0) for c in range(10)])
    d2 = ((data.test_x[:, None, :] - means[None]) ** 2).sum(axis=-1)
    ncm = float(np.mean(np.argmin(d2, axis=1) == data.test_y))
    assert ncm > 0.85
    se = np.sqrt(0.9 * 0.1 / len(data.test_y))
    assert score.accuracy > ncm - 5 * se
    assert score.accuracy > 0.5
    wells = -2 * chip.params.J2 * (2 * means - 1)
    dist = ((learner.bias[:, None, :] - wells[None]) ** 2).sum(axis=-1)
    assert np.array_equal(np.argmin(dist, axis=1), np.arange(10))


# adam's rate is a step in register units per write: a few LSB
@pytest.mark.parametrize("step, lr", [("sgd", 2e-4), ("adam", 0.05)])
def test_resume_is_bit_exact(tmp_path, step, lr):
    """Train two batches, checkpoint (through HDF5), train two more; a fresh chip that loads
    the checkpoint and trains the same two batches ends with identical codes, analog couplings
    and inference outputs. Coupling learning is on (with write noise), so every register and
    random stream is exercised; with adam, the writers' running means too."""
    import dataclasses

    from thermochip.data import load_dataset

    spec = digits_spec(lr=[lr], update_every=8)
    spec = dataclasses.replace(spec, learner=dataclasses.replace(
        spec.learner, write=dataclasses.replace(spec.learner.write, step=step),
        lr_fields=max(lr, spec.learner.lr_fields)))
    spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, eval_replicas=8),
                               couplings=dataclasses.replace(
                                   spec.couplings, dac=dataclasses.replace(
                                       spec.couplings.dac, write_noise=0.3)))
    data = load_dataset(spec.data)
    x, y = data.train_x[:32], data.train_y[:32]

    def fresh():
        return OmLearnerCircuit(Chip.from_spec(spec), 10)

    a = fresh()
    for k in range(2):
        a.train_batch(x[8 * k:8 * k + 8], y[8 * k:8 * k + 8])
    a.infer(data.test_x[:8])
    path = tmp_path / "ckpt.h5"
    with h5py.File(path, "w") as f:
        for k, v in a.state_dict().items():
            f[k] = v
    for k in range(2, 4):
        a.train_batch(x[8 * k:8 * k + 8], y[8 * k:8 * k + 8])
    out_a = a.infer(data.test_x[:8])

    b = fresh()
    with h5py.File(path) as f:
        b.load_state_dict({k: f[k][()] for k in f})
    for k in range(2, 4):
        b.train_batch(x[8 * k:8 * k + 8], y[8 * k:8 * k + 8])
    out_b = b.infer(data.test_x[:8])
    assert np.array_equal(a.bias_codes, b.bias_codes)
    assert np.array_equal(a.chip.J_codes, b.chip.J_codes)
    assert np.array_equal(a.chip.J, b.chip.J)
    assert np.array_equal(out_a, out_b)
    # the registers and couplings moved, on their grids, symmetric, on the topology
    codes = a.chip.J_codes
    L = 2 ** (spec.couplings.dac.bits - 1) - 1
    assert np.any(codes != 0) and np.any(a.bias_codes != 0)
    assert np.array_equal(codes, codes.T) and np.all(np.diag(codes) == 0)
    assert np.abs(codes).max() <= L
    assert np.array_equal(a.chip.J, a.chip.J.T)


def test_spec_check_refuses_chips_the_om_rule_cannot_use():
    """The rule's requirements are checked once, when the spec loads, each with its path."""
    import yaml
    base = yaml.safe_load((ROOT / "examples/digits_om.yaml").read_text())
    cases = [({"cells": {**base["cells"], "preset": "seed000_double_well"}},
              "cells.params", "J2 > 0"),
             ({"adc": None}, "adc", "reads trajectories through the ADC"),
             ({"learner": {**base["learner"], "lr": [0.0, 0.1]}}, "learner.lr",
              "one coupling layer"),
             ({"cells": {"model": "oim", "n": 64}}, "cells", "linear drift")]
    for change, path, message in cases:
        with pytest.raises(SpecError) as info:
            load_spec({**base, **change}, base_dir=ROOT / "examples")
        assert any(p == path and message in m for p, m in info.value.problems), \
            info.value.problems


def test_learner_refuses_data_of_another_pixel_count():
    learner = OmLearnerCircuit(Chip.from_spec(digits_spec()), 10)
    with pytest.raises(IncompatibleModelError, match="cells.n = 64, data has 784 pixels"):
        learner.infer(np.zeros((2, 784)))
