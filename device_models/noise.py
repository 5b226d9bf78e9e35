"""Noise amplitudes of Langevin cells, in dimensionless time t~ = rate * t.

- Thermal noise of temperature kT on a cell of gain g: ``sqrt(2 g kT) dW~`` (the stationary
  law is exp(-V/kT)).
- Oscillator phase noise, white frequency noise of Lorentzian linewidth (FWHM) Delta f: phase
  diffusion D = pi Delta f (rad^2/s), ``sqrt(2 D / rate) dW~``.
- Flicker (1/f) noise: a sum of Ornstein--Uhlenbeck processes with corner frequencies spaced
  evenly in log over [f_min, f_max]; each pole's stationary std is amplitude / sqrt(poles), so
  the total has rms ``amplitude``.
"""

from __future__ import annotations

import numpy as np


def white_std(gain, kT: float, linewidth: float, rate: float):
    """Std of a cell's white noise per unit dimensionless time: sqrt(2 g kT + 2 pi Delta f /
    rate). gain (cell,); kT in the model's energy units; linewidth (Hz); rate (1/s)."""
    return np.sqrt(2.0 * gain * kT + 2.0 * np.pi * linewidth / rate)


def per_step_kT(sigma: float, dt: float) -> float:
    """The kT whose thermal noise moves a cell of gain 1 as a noise of ``sigma * dt`` rms added
    at every Euler step of dimensionless length dt (the convention of Gower's OIM code:
    phi += dt * F + dt * sigma * N(0, 1), not sqrt(dt)-scaled): sqrt(2 kT dt) = sigma dt, so
    kT = sigma^2 dt / 2. The same step at another dt is another temperature."""
    return 0.5 * sigma ** 2 * dt


def per_step_linewidth(sigma: float, dt: float, rate: float) -> float:
    """The Lorentzian linewidth (Hz) whose phase diffusion gives the same per-step noise
    ``sigma * dt`` (see :func:`per_step_kT`): sqrt(2 pi linewidth dt / rate) = sigma dt, so
    linewidth = rate sigma^2 dt / (2 pi). ``rate``: the oscillator's coupling rate (1/s)."""
    return rate * sigma ** 2 * dt / (2.0 * np.pi)


def flicker_poles(amplitude: float, f_min: float, f_max: float, poles_per_decade: int,
                  rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(dimensionless rate, stationary std) of each Ornstein--Uhlenbeck pole of 1/f noise
    between f_min and f_max (Hz), for cells of rate ``rate`` (1/s)."""
    decades = np.log10(f_max / f_min)
    n = max(1, int(round(decades * poles_per_decade)) + 1)
    f = np.logspace(np.log10(f_min), np.log10(f_max), n)
    return 2 * np.pi * f / rate, np.full(n, amplitude / np.sqrt(n))
