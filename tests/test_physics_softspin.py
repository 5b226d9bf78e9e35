"""Stationary laws of soft-spin chips: the engine's own noise must sample exp(-V/kT).

Every statistical tolerance below is derived in a comment from the standard error of the
estimate for the stated sample size (about 5 sigma) and from the Euler--Maruyama step bias,
which is chosen to be well below the statistical error. Seeds are fixed, so the tests are
deterministic; the bounds say how unlikely a failure would be for another seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from thermochip.chip import Chip
from thermochip.engine import simulate
from thermochip.spec_io import load_spec

pytestmark = pytest.mark.statistical

# chi-square quantile with the tail probability of a one-sided 5 sigma normal deviation
P_5SIGMA = stats.norm.sf(5.0)  # 2.9e-7


def softspin_chip(n, params, dt, steps, *, kT=None, couplings=None, adc_times=None,
                  replicas=16, seed=0, dtype="float64", flicker=None, x0=None):
    """A soft-spin chip whose ADC (16 bits, window of one step) records the state at
    ``adc_times`` (seconds); the pre-quantisation ``adc_analog`` values are the states."""
    spec = {
        "cells": {"model": "softspin", "n": n, "params": params},
        "integrator": {"dt": dt, "steps": steps},
        "couplings": couplings or {"init": {"kind": "constant", "value": 0.0}},
        "run": {"dtype": dtype, "replicas": replicas, "seed": seed},
        "noise": {},
    }
    if kT is not None:
        spec["noise"]["thermal"] = {"kT": kT}
    if flicker is not None:
        spec["noise"]["flicker"] = flicker
    if adc_times is not None:
        spec["adc"] = {"bits": 16, "full_scale": 8.0, "mode": "value",
                       "sample_times": [float(t) for t in adc_times]}
    if x0 is not None:
        spec["integrator"]["initial_state"] = {"kind": "constant", "value": x0}
    return Chip.from_spec(load_spec(spec))


def sampled_states(chip):
    """Run the chip once; returns the ADC's analog samples (replica, sample, cell)."""
    res = simulate(chip, energy_every=chip.steps)
    return res.adc_analog[..., 0]


# ---------------------------------------------------------------------------------------------
# 1. one double-well cell against the Boltzmann density


def double_well_cdf(J2, J4, kT):
    """Boltzmann CDF of V = J2 x^2 + J4 x^4 on a grid over [-4, 4] (spacing 4e-5), by
    trapezoid quadrature: its error is far below 1e-6 per bin."""
    x = np.linspace(-4.0, 4.0, 200_001)
    w = np.exp(-(J2 * x**2 + J4 * x**4) / kT)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(x))])
    return x, cdf / cdf[-1]


def equal_probability_edges(J2, J4, kT, n_bins):
    """Edges of ``n_bins`` bins of equal Boltzmann probability."""
    x, cdf = double_well_cdf(J2, J4, kT)
    inner = np.interp(np.arange(1, n_bins) / n_bins, cdf, x)
    return np.concatenate([[-np.inf], inner, [np.inf]])


def chi2_against(samples, J2, J4, kT, edges):
    """Pearson chi-square of the samples against the Boltzmann probabilities of ``edges``."""
    x, cdf = double_well_cdf(J2, J4, kT)
    probs = np.diff(np.interp(edges, x, cdf, left=0.0, right=1.0))
    counts = np.histogram(samples, bins=edges)[0]
    expected = probs * samples.size
    return float(np.sum((counts - expected) ** 2 / expected))


def test_double_well_histogram_matches_boltzmann():
    J2, J4, kT = -1.0, 1.0, 0.4
    # dt = 0.01 (10 ps at rate 1 GHz). Relaxation: within a well V'' = 4 (rate 4); between
    # wells the Kramers rate is k ~ (omega_min omega_b / 2 pi) exp(-dV/kT) = (2 * sqrt(2) /
    # 2 pi) exp(-0.25 / 0.4) = 0.24, so the well populations relax at 2k ~ 0.48. The initial
    # state (uniform on [-1, 1], symmetric) is forgotten by t~ = 15 to exp(-0.48 * 15) ~ 1e-3
    # (and the populations start symmetric anyway). The 3 samples per replica are t~ = 10
    # apart, so their correlation is at most exp(-0.48 * 10) ~ 0.008: the 12 000 samples are
    # independent for the chi-square test (the measured lag correlation is asserted below).
    B = 4000
    times = np.array([1500, 2500, 3500]) * 10e-12
    chip = softspin_chip(1, {"J2": J2, "J4": J4}, "10 ps", 3500, kT=kT, adc_times=times,
                         replicas=B, seed=11)
    assert chip.dt == pytest.approx(0.01)
    x = sampled_states(chip)[:, :, 0]  # (replica, sample)
    assert x.shape == (B, 3)

    # Independence of successive samples of one replica: the correlation of the well index
    # sign(x) and of x^2 between samples t~ = 10 apart. Under independence each estimate has
    # standard error 1/sqrt(2 B) (two lag pairs per replica) = 0.011; 5 sigma = 0.056.
    lag = 5.0 / np.sqrt(2 * B)
    a, b = x[:, :-1].ravel(), x[:, 1:].ravel()
    assert abs(np.corrcoef(np.sign(a), np.sign(b))[0, 1]) < lag
    assert abs(np.corrcoef(a**2, b**2)[0, 1]) < lag

    # Chi-square over 40 bins of equal Boltzmann probability (300 expected counts each), 39
    # degrees of freedom; reject above the quantile of tail probability 2.9e-7 (5 sigma),
    # chi2 = 100.1. Step bias: the exact stationary law of the Euler--Maruyama chain at
    # dt = 0.01 (computed by iterating its Gaussian transition kernel on a grid of 2 601
    # points) differs from exp(-V/kT) by a chi-square non-centrality of n * sum (dp)^2 / p
    # ~ 5 for n = 12 000 samples (~0.6 sd of the chi2(39) statistic, against a rejection
    # margin of ~6.5 sd), so the step bias is well below the statistical error.
    samples = x.ravel()
    edges = equal_probability_edges(J2, J4, kT, 40)
    chi2 = chi2_against(samples, J2, J4, kT, edges)
    limit = stats.chi2.isf(P_5SIGMA, df=39)
    assert chi2 < limit, f"chi2 = {chi2:.1f} >= {limit:.1f}"

    # The test has power: the same samples reject the laws at twice and half the
    # temperature (a noise variance off by a factor 2).
    for wrong_kT in (2 * kT, kT / 2):
        assert chi2_against(samples, J2, J4, wrong_kT, edges) > limit

    # Symmetry of the double well: the fraction of samples in x > 0 is 1/2 with standard
    # error 1/(2 sqrt(n)) = 0.0046; 5 sigma = 0.023.
    assert abs(np.mean(samples > 0) - 0.5) < 5 * 0.5 / np.sqrt(samples.size)


# ---------------------------------------------------------------------------------------------
# 2. two coupled double-well cells against the 2-D Boltzmann density


@pytest.mark.parametrize("dt, method", [(10e-12, "euler_maruyama"),
                                        (50e-12, "leimkuhler_matthews")])
def test_two_coupled_cells_match_boltzmann_2d(dt, method):
    """At dt~ = 0.01 by Euler--Maruyama, and at the examples' dt~ = 0.05 by
    Leimkuhler--Matthews (where Euler--Maruyama's <x1 x2> is several percent off)."""
    J2, J4, kT, J12 = -1.0, 1.0, 0.5, 0.4
    # 16-bit coupling DAC: J12 = 0.4 lands within LSB/2 = 1.5e-5 of 0.4; the test uses the
    # analog chip.J actually applied. J12 > 0 is antiferromagnetic: V has + J12 x1 x2.
    B = 4000
    steps = int(round(35e-9 / dt))
    times = np.array([15e-9, 25e-9, 35e-9])
    chip = softspin_chip(2, {"J2": J2, "J4": J4}, f"{dt * 1e12:g} ps", steps, kT=kT,
                         adc_times=times, replicas=B, seed=12,
                         couplings={"init": {"kind": "constant", "value": J12},
                                    "dac": {"bits": 16, "full_scale": 1.0}})
    chip = Chip.from_spec(dataclasses.replace(chip.spec, integrator=dataclasses.replace(
        chip.spec.integrator, method=method)))
    J = chip.J[0, 1]
    assert J == pytest.approx(J12, abs=2e-5)
    # Relaxation as in the 1-cell test (barrier 0.25, kT = 0.5: inter-well rate ~ 0.6; the
    # coupling changes it by at most a factor ~2), so samples t~ = 10 apart are independent.
    x = sampled_states(chip).reshape(-1, 2)  # (B * 3, cell)
    n = x.shape[0]

    # Boltzmann density by 2-D quadrature on a grid of spacing 0.005 (trapezoid error of the
    # moments < 1e-6): p(x1, x2) ~ w(x1) w(x2) exp(-J x1 x2 / kT).
    g = np.linspace(-3.0, 3.0, 1201)
    w = np.exp(-(J2 * g**2 + J4 * g**4) / kT)
    P = w[:, None] * w[None, :] * np.exp(-J * g[:, None] * g[None, :] / kT)
    P /= P.sum()
    m_x1x2 = np.sum(P * g[:, None] * g[None, :])
    m_x2 = np.sum(P * g[:, None] ** 2)
    m_x4 = np.sum(P * g[:, None] ** 4)
    assert m_x1x2 < -0.05  # antiferromagnetic: anti-correlated

    # Moments: standard error = sample std / sqrt(n) (n independent samples), 5 sigma. The
    # <x^2> and <x^4> estimators average the two cells within each sample, so they too are
    # n independent values. Step bias of the moments at dt = 0.01 is O(dt), ~0.5 % of <x^2>
    # (the exact EM stationary law of one cell at kT = 0.4 gives <x^2> = 0.4304 against
    # Boltzmann's 0.4323), well below the 5-sigma bound of ~3 %.
    prod = x[:, 0] * x[:, 1]
    sq = 0.5 * (x[:, 0] ** 2 + x[:, 1] ** 2)
    qu = 0.5 * (x[:, 0] ** 4 + x[:, 1] ** 4)
    for est, exact, name in ((prod, m_x1x2, "<x1 x2>"), (sq, m_x2, "<x^2>"),
                             (qu, m_x4, "<x^4>")):
        se = est.std() / np.sqrt(n)
        assert abs(est.mean() - exact) < 5 * se, f"{name}: {est.mean():.4f} vs {exact:.4f}"

    # Coarse 2-D histogram: 4 x 4 bins with edges (-inf, -0.7, 0, 0.7, inf) per axis, 16
    # cells (expected counts >= 150), chi-square with 15 degrees of freedom, 5-sigma quantile.
    e = np.array([-np.inf, -0.7, 0.0, 0.7, np.inf])
    idx = np.clip(np.searchsorted(e, g, side="right") - 1, 0, 3)
    probs = np.zeros((4, 4))
    np.add.at(probs, (idx[:, None], idx[None, :]), P)
    counts = np.histogram2d(x[:, 0], x[:, 1], bins=[e, e])[0]
    expected = probs * n
    assert expected.min() > 50
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    limit = stats.chi2.isf(P_5SIGMA, df=15)
    assert chi2 < limit, f"chi2 = {chi2:.1f} >= {limit:.1f}"

    # Power: the uncoupled law (J12 ignored) is rejected by the same samples.
    P0 = w[:, None] * w[None, :]
    P0 /= P0.sum()
    probs0 = np.zeros((4, 4))
    np.add.at(probs0, (idx[:, None], idx[None, :]), P0)
    assert np.sum((counts - probs0 * n) ** 2 / (probs0 * n)) > limit


# ---------------------------------------------------------------------------------------------
# 3. linear (Ornstein--Uhlenbeck) cells: the exact discrete stationary variance


def test_linear_cell_exact_discrete_variance():
    kT, dt = 0.5, 0.2
    # preset linear_ou: J2 = 1/2, J4 = 0, so the force is -2 J2 x = -theta x with theta = 1,
    # and sigma^2 = 2 kT. The EM chain x' = (1 - theta dt) x + sigma sqrt(dt) xi has the exact
    # stationary variance sigma^2 dt / (1 - (1 - theta dt)^2) = 0.2 / 0.36 = 0.5556, 11 %
    # above the continuum kT / (2 J2) = 0.5 at this deliberately coarse dt = 0.2.
    spec = load_spec({
        "cells": {"model": "softspin", "n": 16, "preset": "linear_ou"},
        "couplings": {"init": {"kind": "constant", "value": 0.0}},
        "noise": {"thermal": {"kT": kT}},
        "integrator": {"dt": "200 ps", "steps": 480,
                       "initial_state": {"kind": "constant", "value": 0.0}},
        # samples every 20 steps, from step 80 on
        "adc": {"bits": 16, "full_scale": 8.0, "sample_times":
                [k * 200e-12 for k in range(80, 481, 20)]},
        "run": {"replicas": 256, "seed": 5},  # float32: the production precision
    })
    chip = Chip.from_spec(spec)
    assert chip.dt == pytest.approx(dt)
    theta, sigma2 = 2 * 0.5 * chip.gain[0], 2 * kT
    exact = sigma2 * dt / (1 - (1 - theta * dt) ** 2)
    continuum = kT / (2 * 0.5)

    x = sampled_states(chip)  # (replica, sample, cell), 256 x 21 x 16
    # Independence: x^2 at lag m steps has correlation (1 - theta dt)^(2m) = 0.64^20 = 1e-4,
    # and the initial state x = 0 is forgotten by step 80 to 0.64^80 ~ 1e-16. Cells are
    # uncoupled (J = 0 exactly), so all n = 86 016 values are independent draws of N(0, var).
    # The variance estimate has relative standard error sqrt(2 / n) = 0.48 %; 5 sigma = 2.4 %.
    v = np.mean(x.astype(np.float64) ** 2)
    rel_tol = 5 * np.sqrt(2 / x.size)
    assert abs(v / exact - 1) < rel_tol, f"var {v:.4f} vs exact EM {exact:.4f}"
    # The same tolerance rejects the continuum value: the test pins the EM convention.
    assert abs(v / continuum - 1) > rel_tol
    # The mean is 0 (standard error sqrt(var / n)).
    assert abs(np.mean(x)) < 5 * np.sqrt(exact / x.size)


# ---------------------------------------------------------------------------------------------
# 8. flicker noise: a 1/f force with the stated rms


FLICKER = {"amplitude": 0.3, "f_min": "1 MHz", "f_max": "100 MHz", "poles_per_decade": 2}


def flicker_force(steps, replicas, seed, x0=0.0):
    """The flicker force acting on free cells (J2 = J4 = 0, no thermal noise, J = 0): then
    x_{k+1} = x_k + dt * drift_k exactly, so the drift is recovered from the state sampled at
    every step. Returns (sequence, step) float64 drift values; 4 cells per replica."""
    chip = softspin_chip(4, {"J2": 0.0, "J4": 0.0}, "100 ps", steps, flicker=FLICKER,
                         replicas=replicas, seed=seed, x0=x0,
                         adc_times=np.arange(1, steps + 1) * 100e-12)
    res = simulate(chip, energy_every=steps)
    x = res.adc_analog[..., 0]  # (replica, step, cell), states 1 .. steps
    x = np.concatenate([np.full((replicas, 1, 4), x0), x], axis=1)
    drift = np.diff(x, axis=1) / chip.dt
    return chip, drift.transpose(0, 2, 1).reshape(-1, steps)


def test_flicker_force_is_one_over_f_with_stated_rms():
    steps, warm = 40_000, 4_000
    chip, f = flicker_force(steps, replicas=32, seed=21)
    rates, stds = chip.flicker_poles()
    # Poles: 2 per decade over [1, 100] MHz -> 5 OU processes with dimensionless rates
    # gamma = 2 pi f / rate in [0.0063, 0.63], each with variance A^2 / 5.
    assert len(rates) == 5 and np.sum(stds**2) == pytest.approx(FLICKER["amplitude"] ** 2)
    # The bank starts at zero; the slowest pole's variance is within exp(-2 gamma_min t~) =
    # exp(-2 * 0.0063 * 400) = 0.7 % of stationary after the first 4000 steps (t~ = 400).
    f = f[:, warm:]
    n_seq, T = f.shape  # 128 sequences of 36 000 steps

    # Stationary variance = A^2 (sum of the pole variances). Each sequence's time-averaged
    # variance is one estimate; the 128 sequences are independent, so the standard error is
    # their spread / sqrt(128) (batch means: no model of the correlation is needed); 5 sigma,
    # plus the 0.7 % warm-up deficit of the slowest pole (0.14 % of the total).
    v_seq = np.mean(f**2, axis=1)
    se = v_seq.std(ddof=1) / np.sqrt(n_seq)
    A2 = FLICKER["amplitude"] ** 2
    assert abs(v_seq.mean() - A2) < 5 * se + 0.002 * A2, f"{v_seq.mean():.4f} vs {A2:.4f}"

    # Spectrum: the periodogram averaged over the 128 sequences, in 10 log-spaced frequency
    # bands between 2 gamma_min and gamma_max / 2, inside the pole band. There the exact
    # spectrum of the bank, sum_q 2 sigma_q^2 gamma_q / (gamma_q^2 + omega^2), has a
    # least-squares log-log slope of -1.000 with a ripple of 0.12 peak to peak in log S.
    # Each band mean averages >= 128 periodogram ordinates (chi2 with 2 dof each), so its log
    # has standard error <= 1/sqrt(128) = 0.09; over 10 bands spanning 1.4 decades the slope
    # then has standard error <= 0.03, so |slope + 1| < 0.2 is a 5-sigma bound with room for
    # the ripple. A white force (slope 0) or a random walk (slope -2) fails it.
    spec = np.mean(np.abs(np.fft.rfft(f - f.mean(axis=1, keepdims=True), axis=1)) ** 2, axis=0)
    omega = 2 * np.pi * np.fft.rfftfreq(T, d=chip.dt)  # angular frequency per unit t~
    lo, hi = 2 * rates.min(), rates.max() / 2
    edges = np.geomspace(lo, hi, 11)
    centres, levels = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        sel = (omega >= a) & (omega < b)
        assert sel.sum() >= 1
        centres.append(np.sqrt(a * b))
        levels.append(spec[sel].mean())
    slope = np.polyfit(np.log(centres), np.log(levels), 1)[0]
    assert abs(slope + 1) < 0.2, f"periodogram slope {slope:.3f}"

    # Above the band the spectrum falls faster than 1/f (the fastest pole's Lorentzian tail
    # 1/omega^2): the slope between 2 gamma_max and 4 gamma_max is below -1.5 (exact: -1.84;
    # each of the two band means averages > 100 x 128 ordinates, log error < 0.01).
    g = rates.max()
    sel1 = (omega > 1.8 * g) & (omega < 2.2 * g)
    sel2 = (omega > 3.6 * g) & (omega < 4.4 * g)
    tail = np.log(spec[sel2].mean() / spec[sel1].mean()) / np.log(2.0)
    assert tail < -1.5, f"tail slope {tail:.2f}"


def test_flicker_force_is_stationary_from_the_start():
    # The spec defines `amplitude` as the rms of the flicker force; a stationary noise source
    # has that rms at every step, including the first. Over the first 20 steps (t~ = 2, much
    # shorter than the slowest pole's 1/gamma_min = 160) the force of one sequence is strongly
    # correlated, so count only the 1024 sequences (256 replicas x 4 cells) as independent:
    # the mean square then has relative standard error <= sqrt(2 / 1024) = 4.4 %; 5 sigma =
    # 22 %. A bank started at zero has mean square sum_q A^2/5 (1 - a_q^(2(k+1))) averaged
    # over k < 20, i.e. 0.23 A^2 here, far outside the bound.
    _, f = flicker_force(20, replicas=256, seed=22)
    ms = np.mean(f**2)
    A2 = FLICKER["amplitude"] ** 2
    rel = 5 * np.sqrt(2 / f.shape[0])
    assert abs(ms / A2 - 1) < rel, f"mean square {ms:.4f} vs A^2 = {A2:.4f}"


# ---------------------------------------------------------------------------------------------
# 6. Leimkuhler--Matthews steps: the stationary law at a coarse step


def test_leimkuhler_matthews_is_euler_with_averaged_successive_normals():
    """Same injected normals xi (K + 1 per replica): an LM run equals an Euler--Maruyama run
    driven by (xi_k + xi_{k+1}) / 2, bit for bit; and a run cut into chunks equals one call."""
    def chip(method, steps=60):
        spec = {"cells": {"model": "softspin", "n": 3, "params": {"J2": -1.0, "J4": 1.0}},
                "couplings": {"init": {"kind": "random", "std": 0.3},
                              "dac": {"bits": 16, "full_scale": 1.0}},
                "noise": {"thermal": {"kT": 0.4}},
                "integrator": {"dt": "50 ps", "steps": steps, "method": method},
                "run": {"dtype": "float64", "replicas": 4, "seed": 2}}
        return Chip.from_spec(load_spec(spec))
    xi = np.random.default_rng(3).standard_normal((4, 61, 3))
    x0 = np.zeros((4, 3))
    lm = simulate(chip("leimkuhler_matthews"), x0=x0, noise=xi, energy_every=60)
    em = simulate(chip("euler_maruyama"), x0=x0, noise=0.5 * (xi[:, :-1] + xi[:, 1:]),
                  energy_every=60)
    np.testing.assert_array_equal(lm.x, em.x)
    whole = simulate(chip("leimkuhler_matthews"), energy_every=60).x
    chunked = simulate(chip("leimkuhler_matthews"), energy_every=7).x
    np.testing.assert_array_equal(whole, chunked)


@pytest.mark.parametrize("method, passes", [("leimkuhler_matthews", True),
                                            ("euler_maruyama", False)])
def test_double_well_law_at_a_coarse_step(method, passes):
    """At dt~ = 0.05 (the step of examples/softspin_sampler.yaml) Euler--Maruyama's O(dt)
    stationary bias is visible in 12 000 samples (chi-square above the 5-sigma quantile of 39
    degrees of freedom: its non-centrality is ~25x the ~5 it has at dt~ = 0.01), while
    Leimkuhler--Matthews' O(dt^2) bias is not. Samples t~ = 10 apart (see the first test)."""
    J2, J4, kT, B = -1.0, 1.0, 0.4, 4000
    times = np.array([300, 500, 700]) * 50e-12
    chip = softspin_chip(1, {"J2": J2, "J4": J4}, "50 ps", 700, kT=kT, adc_times=times,
                         replicas=B, seed=21)
    spec = dataclasses.replace(chip.spec, integrator=dataclasses.replace(
        chip.spec.integrator, method=method))
    chip = Chip.from_spec(spec)
    assert chip.dt == pytest.approx(0.05)
    samples = sampled_states(chip).ravel()
    edges = equal_probability_edges(J2, J4, kT, 40)
    chi2 = chi2_against(samples, J2, J4, kT, edges)
    limit = stats.chi2.isf(P_5SIGMA, df=39)
    assert (chi2 < limit) == passes, f"{method}: chi2 = {chi2:.1f}, limit {limit:.1f}"
