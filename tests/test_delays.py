"""Delays: the interconnect phase offset of oscillator couplers, loop latency as a delay line,
and per-coupler latency jitter grouped into bins.

All runs here are deterministic (no noise, float64); tolerances come from the leading
Euler--Maruyama (here: Euler) error, derived in the comments.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import lambertw

from thermochip.chip import Chip
from thermochip.engine import simulate
from thermochip.spec_io import load_spec


def wrap(a):
    return np.angle(np.exp(1j * a))


# ---------------------------------------------------------------------------------------------
# interconnect delay: phase offset alpha = 2 pi f0 tau on a ferromagnetic pair

DT_OSC = 0.01  # dimensionless step: 100 ps at the default oim rate of 100 MHz


def delayed_pair(tau: float, steps: int) -> Chip:
    """Two oscillators, J12 = 1 (ferromagnetic), S = h = 0, no noise, f0 = 1 GHz, sampled
    (phase read-out) every 10 steps (t~ = 0.1)."""
    return Chip.from_spec(load_spec({
        "cells": {"model": "oim", "n": 2, "params": {"f0": "1 GHz", "rate": "100 MHz"}},
        "couplings": {"init": {"kind": "constant", "value": 1.0}},
        "fields": {"init": {"h": 0.0, "S": 0.0}},
        "delays": {"interconnect": tau},
        "integrator": {"dt": "100 ps", "steps": steps},
        "adc": {"bits": 16, "full_scale": 4.0, "mode": "phase", "sample_rate": "1 GHz"},
        "run": {"dtype": "float64"},
    }))


@pytest.mark.parametrize("tau, in_phase", [(100e-12, True), (200e-12, True),
                                           (300e-12, False), (400e-12, False)])
def test_interconnect_delay_sets_lock_phase_and_rate(tau, in_phase):
    # The received I/Q signal is rotated by alpha = 2 pi f0 tau (36, 72, 108, 144 degrees),
    # so dphi_1/dt~ = -J sin(phi_1 - phi_2 + alpha) and, for dphi = phi_1 - phi_2,
    #     d(dphi)/dt~ = -2 J cos(alpha) sin(dphi),
    # whose solution is tan(dphi/2) = tan(dphi0/2) exp(-k t~), k = 2 J cos(alpha): the pair
    # locks in phase for alpha < pi/2 (tau < T_osc/4 = 250 ps) and in anti-phase above.
    steps = 3000  # t~ = 30: |k| t~ >= 18, so the lock is complete to exp(-18) ~ 1e-8
    chip = delayed_pair(tau, steps)
    alpha = 2 * np.pi * 1e9 * tau
    np.testing.assert_allclose(chip.alpha[0, 1], alpha, rtol=1e-12)
    x0 = np.array([[1.0, 0.0], [0.3, 2.5]])  # dphi0 = 1.0 and -2.2
    res = simulate(chip, x0=x0, replicas=2, energy_every=steps)

    lock = np.cos(res.x[:, 0] - res.x[:, 1])
    np.testing.assert_allclose(lock, 1.0 if in_phase else -1.0, atol=1e-6)

    # Rate. y = log|tan(dphi/2)| falls linearly at rate k in exact time. Euler on
    # dphi' = -k sin(dphi) contracts (or expands) y by log|1 - k dt| per step near the fixed
    # points, a rate of k (1 + k dt / 2 + O(dt^2)): the leading relative error is k dt / 2
    # (0.8 % at k = 1.62). The bound on the fitted slope is twice that, |k| dt; it fails for
    # a missing factor 2 or cos(alpha). (cos is even: the sign of alpha is checked by the
    # locked frequency below.)
    k = 2 * 1.0 * np.cos(alpha)
    t = res.sample_steps * chip.dt
    ph = res.adc_analog[..., 0]  # (replica, sample, cell), wrapped to (-pi, pi]
    for b in range(2):
        dphi = wrap(ph[b, :, 0] - ph[b, :, 1])
        y = np.log(np.abs(np.tan(dphi / 2)))
        use = np.abs(y) < 10  # before the lock hits the float64 resolution of dphi
        assert use.sum() >= 50
        slope = np.polyfit(t[use], y[use], 1)[0]
        assert abs(slope / -k - 1) < abs(k) * DT_OSC, f"slope {slope:.4f} vs {-k:.4f}"
        # Closed form along the way: the y offset accumulated by the rate error is at most
        # |k| * (|k| dt) * t~ (plus the first sample's O(dt) error), checked pointwise.
        y_exact = np.log(np.abs(np.tan(wrap(x0[b, 0] - x0[b, 1]) / 2))) - k * t
        bound = k**2 * DT_OSC * t[use] + 0.01
        np.testing.assert_array_less(np.abs(y[use] - y_exact[use]), bound)

    # The phase offset also shifts the common frequency: d(phi_1 + phi_2)/dt~ =
    # -2 J sin(alpha) cos(dphi) -> -2 sin(alpha) cos(0 or pi) once locked, a check of the
    # sign of alpha (a rotation the wrong way flips it). Over the last t~ = 5 (50 samples,
    # phases unwrapped) Euler's error in this rate is O(dt) relative: bound 2 %.
    tail = slice(-51, None)
    s = np.unwrap(ph[0, tail, 0]) + np.unwrap(ph[0, tail, 1])
    omega = np.polyfit(t[tail], s, 1)[0]
    expected = -2 * np.sin(alpha) * (1.0 if in_phase else -1.0)
    assert abs(omega / expected - 1) < 0.02, f"{omega:.4f} vs {expected:.4f}"


# ---------------------------------------------------------------------------------------------
# loop latency: a delay line in the coupling


def latency_pair(lam: float, tau: float, h: float, steps: int) -> Chip:
    """Two soft-spin cells with J2 = J4 = 0 coupled by J12 = lam through a loop latency of
    tau (dimensionless; rate 1 GHz, so tau ns), no noise, x0 = 1, state sampled every step."""
    dt = h * 1e-9
    return Chip.from_spec(load_spec({
        "cells": {"model": "softspin", "n": 2, "params": {"J2": 0.0, "J4": 0.0,
                                                          "rate": "1 GHz"}},
        "couplings": {"init": {"kind": "constant", "value": lam},
                      "dac": {"bits": 16, "full_scale": 1.0}},
        "delays": {"loop_latency": tau * 1e-9},
        "integrator": {"dt": dt, "steps": steps,
                       "initial_state": {"kind": "constant", "value": 1.0}},
        "adc": {"bits": 16, "full_scale": 8.0, "sample_rate": 1.0 / dt},
        "run": {"dtype": "float64", "replicas": 1},
    }))


@pytest.mark.parametrize("lam_tau, grows", [(1.2, False), (2.0, True)])
def test_loop_latency_growth_rate_is_the_delay_equation_root(lam_tau, grows):
    # Force on x1 is -J12 x2(t - tau); from x1 = x2 = 1 with a constant history the two cells
    # stay equal, and s = x1 (= x2) obeys ds/dt~ = -lam s(t~ - tau) exactly. Its rightmost
    # characteristic root solves r + lam exp(-r tau) = 0, i.e. r = W0(-lam tau) / tau; for
    # lam tau > 1/e it is complex and Re r is the growth rate of the oscillating envelope,
    # negative below lam tau = pi/2 (1.2: decays) and positive above (2.0: grows).
    lam, h = 1.0, 0.01  # lam = 1 is the DAC's full-scale code: exact
    tau = lam_tau / lam
    T = 40.0
    steps = int(round(T / h))
    chip = latency_pair(lam, tau, h, steps)
    assert chip.latency_steps.tolist() == [round(tau / h)]  # 120 and 200 steps
    J = chip.J[0, 1]
    assert J == lam
    r = complex(lambertw(-J * tau, 0)) / tau

    res = simulate(chip, energy_every=steps)
    x = res.adc_analog[0, :, :, 0]  # (step, cell)
    np.testing.assert_array_equal(x[:, 0], x[:, 1])
    t = res.sample_steps * chip.dt
    s = x[:, 0]

    # Rate: log of the successive peaks of |s| over the late window t~ > 20, where the next
    # roots (W_{+-1}: Re = -1.56 and -0.68, 1.4 and 0.77 below Re r) have died out relative
    # to the leading pair by exp(-0.77 * 20) ~ 2e-7 or more.
    a = np.abs(s)
    peaks = np.nonzero((a[1:-1] > a[:-2]) & (a[1:-1] >= a[2:]))[0] + 1
    late = peaks[t[peaks] > T / 2]
    assert len(late) >= 4
    rate = np.polyfit(t[late], np.log(a[late]), 1)[0]
    assert (rate > 0) == grows
    assert (a[-1] > 1.0) == grows

    # Discretisation error. The Euler delay recursion s_{n+1} = s_n - h lam s_{n-d},
    # d = tau / h, has roots z = exp(rho h) with exp(rho h) - 1 = -h lam exp(-rho tau).
    # Expanding exp(rho h) - 1 = rho h (1 + rho h / 2) and writing rho = r + delta gives,
    # to first order in h, delta = -r^2 h / (2 (1 + r tau)) (|delta| = 0.0044 for 1.2 and
    # 0.0017 for 2.0 at h = 0.01). So the measured rate must be within 2 |delta| of Re r,
    # and within 0.2 |delta| of Re(r + delta) (the O(h^2) remainder is ~ |delta| |r| h).
    delta = -r**2 * h / (2 * (1 + r * tau))
    assert abs(rate - r.real) < 2 * abs(delta), f"rate {rate:.5f} vs Re r = {r.real:.5f}"
    assert abs(rate - (r + delta).real) < 0.2 * abs(delta), \
        f"rate {rate:.5f} vs first-order Euler prediction {(r + delta).real:.5f}"


def jittered_chip(bins: int) -> Chip:
    return Chip.from_spec(load_spec({
        "cells": {"model": "softspin", "n": 12},
        "integrator": {"dt": "10 ps", "steps": 10},
        "delays": {"loop_latency": "1 ns", "latency_jitter": "50 ps", "bins": bins},
        "run": {"seed": 3},
    }))


def test_latency_jitter_bins_hold_the_per_coupler_draws():
    # The per-coupler latency draws come from the chip's stream and do not depend on `bins`.
    # With 64 bins and a spread of the rounded draws below 63 steps, the equal-width bins are
    # narrower than one step, so each integer latency is its own delay line: the 64-bin chip
    # exposes every coupler's own draw, rint(latency / dt).
    fine, coarse = jittered_chip(64), jittered_chip(4)
    m = fine.mask
    own = fine.latency_steps[fine.latency_bin]
    lo, hi = own[m].min(), own[m].max()
    assert hi - lo < 63
    assert len(np.unique(own[m])) == len(fine.latency_steps)  # one line per distinct latency
    np.testing.assert_array_equal(fine.J, coarse.J)  # same chip otherwise

    # The draws: 66 couplers (one per symmetric pair), latency/dt = 100 + 5 N(0, 1) rounded.
    # Mean: standard error sqrt(25 + 1/12) / sqrt(66) = 0.62 step, 5 sigma = 3.1 steps.
    # Std: relative standard error 1/sqrt(2 * 65) = 8.8 %, 5 sigma = 44 % (loose, but it
    # catches a jitter in the wrong units or a per-chip instead of per-coupler draw).
    iu = np.triu_indices(12, 1)
    draws = own[iu]
    sd = np.sqrt(25 + 1 / 12)
    assert abs(draws.mean() - 100) < 5 * sd / np.sqrt(len(draws))
    assert abs(draws.std(ddof=1) / sd - 1) < 5 / np.sqrt(2 * (len(draws) - 1))
    np.testing.assert_array_equal(own, own.T)  # one device per coupler

    # 4 bins: each delay line sits at the mean latency of its couplers, so every coupler's
    # binned delay is within one bin width (hi - lo) / 4 of its own draw (+1/2 step for the
    # rounding of the mean), the bins keep the order of the draws, and there are <= 4 lines.
    assert 1 < len(coarse.latency_steps) <= 4
    binned = coarse.latency_steps[coarse.latency_bin]
    width = (hi - lo) / 4
    assert np.abs(binned - own)[m].max() <= width + 0.5
    assert np.all(np.diff(coarse.latency_steps) > 0)
    order = np.argsort(draws, kind="stable")
    assert np.all(np.diff(binned[iu][order]) >= 0)
    np.testing.assert_array_equal(coarse.latency_bin, coarse.latency_bin.T)
