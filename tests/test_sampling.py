"""Sampling statistics: the integrated autocorrelation time against the exact value of an
autoregressive series, and a simulation's results file and summary carrying them."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from thermochip.sampling import integrated_autocorrelation, sampling_stats

ROOT = Path(__file__).resolve().parent.parent


def ar1(phi: float, replicas: int, samples: int, seed: int) -> np.ndarray:
    """(replica, sample) stationary AR(1) series x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((replicas, samples))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0]
    for t in range(1, samples):
        x[:, t] = phi * x[:, t - 1] + np.sqrt(1 - phi * phi) * e[:, t]
    return x


def test_integrated_autocorrelation_time_of_an_ar1_series():
    """tau = (1 + phi) / (1 - phi) exactly. Sokal's estimate over n = 1.02e7 samples with a
    window W ~ 5 tau has relative standard deviation sqrt(2 (2W + 1) / n) ~ 0.42 % at
    phi = 0.8: the tolerance is 6 of those."""
    for phi in (0.0, 0.5, 0.8):
        tau = integrated_autocorrelation(ar1(phi, 256, 40000, seed=3))
        exact = (1 + phi) / (1 - phi)
        assert abs(tau / exact - 1) < 0.025, (phi, tau, exact)


def test_sampling_stats_of_independent_samples():
    rng = np.random.default_rng(4)
    x = np.where(rng.random((8, 5000, 3)) < 0.75, 1.0, -1.0)    # P(+1) = 0.75
    pairs = np.array([[0, 1], [1, 2]])
    s = sampling_stats(x, pairs, sample_period=1e-9, wall_seconds=2.0)
    n = 8 * 4500  # after the 10 % burn-in
    assert s.samples == 4500 and abs(s.tau_int - 1) < 0.05
    np.testing.assert_allclose(s.magnetisation, 0.5, atol=5 * np.sqrt(0.75 / n))
    np.testing.assert_allclose(s.coupler_correlation, 0.25, atol=5 * np.sqrt(1 / n))
    assert s.correlation.shape == (3, 3) and np.allclose(np.diag(s.correlation), 1.0)
    assert abs(s.ess / (n / s.tau_int) - 1) < 1e-12 and s.ess_per_second == s.ess / 2.0


def test_simulate_reports_and_stores_the_sampling_statistics(tmp_path, capsys):
    from thermochip.cli import main

    out = tmp_path / "s.h5"
    assert main(["simulate", str(ROOT / "examples/softspin_sampler.yaml"), "--replicas", "4",
                 "--steps", "400", "--out", str(out), "--plot", str(tmp_path / "figs")]) == 0
    text = capsys.readouterr().out
    assert "integrated autocorrelation time" in text and "effective samples" in text
    with h5py.File(out) as f:
        g = f["sampling"]
        assert g["magnetisation"].shape == (16,) and g["coupler_correlation"].shape == (120,)
        assert g["correlation"].shape == (16, 16) and g.attrs["tau_int_samples"] >= 1
        assert g.attrs["effective_samples"] <= 4 * g.attrs["samples"]
    assert (tmp_path / "figs" / "sampling.png").exists()
