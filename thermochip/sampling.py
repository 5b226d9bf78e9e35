"""What a run says about the law a chip samples: from the ADC samples of a simulation (read-out
channel 0: a p-bit's state, a soft spin's value, an oscillator's cos phi), each cell's mean
("magnetisation"), the pair correlations, and how correlated successive samples are: the
integrated autocorrelation time of each replica's mean read-out and the effective number of
independent samples, per second of wall time. The first ``burn_in`` fraction of the samples is
left out (the chains start far from equilibrium)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Chips with more cells keep pair correlations per coupler only (a full matrix would not fit).
FULL_CORRELATIONS = 2048


@dataclass
class SamplingStats:
    """Axes: cell (N). Times in samples unless named."""

    samples: int                 # samples kept per replica (after the burn-in)
    replicas: int
    magnetisation: np.ndarray    # (cell,) mean read-out
    correlation: np.ndarray | None  # (cell, cell) mean of products, or None (large chips)
    coupler_correlation: np.ndarray  # (coupler,) mean of m_i m_j over the couplers i < j
    tau_int: float               # integrated autocorrelation time of the mean read-out
    tau_int_seconds: float       # the same in chip time (s)
    ess: float                   # effective independent samples, all replicas
    ess_per_second: float        # per second of wall time

    def summary(self) -> dict:
        return {"samples": self.samples, "replicas": self.replicas,
                "mean_abs_magnetisation": float(np.abs(self.magnetisation).mean()),
                "mean_coupler_correlation": (float(self.coupler_correlation.mean())
                                             if self.coupler_correlation.size else None),
                "tau_int_samples": self.tau_int, "tau_int_seconds": self.tau_int_seconds,
                "effective_samples": self.ess, "effective_samples_per_second":
                self.ess_per_second}


def integrated_autocorrelation(series: np.ndarray, c: float = 5.0) -> float:
    """tau = 1 + 2 sum_{t=1}^{W} rho(t) of series (replica, sample), rho averaged over the
    replicas, with Sokal's window: the smallest W >= c tau(W). 1 for uncorrelated samples."""
    x = series - series.mean(axis=1, keepdims=True)
    n = x.shape[1]
    if n < 4 or not np.any(x):
        return 1.0
    f = np.fft.rfft(x, n=2 * n, axis=1)
    acf = np.fft.irfft(f * np.conj(f), axis=1)[:, :n].mean(axis=0)
    rho = acf / acf[0]
    tau = 1.0 + 2.0 * np.cumsum(rho[1:])
    window = np.arange(1, n)
    ok = window >= c * tau
    return float(max(tau[np.argmax(ok)] if ok.any() else tau[-1], 1.0))


def sampling_stats(readout: np.ndarray, pairs: np.ndarray, sample_period: float,
                   wall_seconds: float, burn_in: float = 0.1) -> SamplingStats | None:
    """Statistics of read-out samples (replica, sample, cell) taken ``sample_period`` seconds
    apart; ``pairs`` (pair, 2) the coupled cells (i < j, ascending). None without samples."""
    B, S, N = readout.shape
    x = readout[:, int(burn_in * S):]
    kept = x.shape[1]
    if kept == 0:
        return None
    flat = x.reshape(-1, N)
    magnetisation = flat.mean(axis=0)
    i, j = pairs[:, 0], pairs[:, 1]
    coupler = (flat[:, i] * flat[:, j]).mean(axis=0) if len(i) else np.zeros(0)
    correlation = flat.T @ flat / len(flat) if N <= FULL_CORRELATIONS else None
    tau = integrated_autocorrelation(x.mean(axis=2))
    ess = B * kept / tau
    return SamplingStats(samples=kept, replicas=B, magnetisation=magnetisation,
                         correlation=correlation, coupler_correlation=coupler, tau_int=tau,
                         tau_int_seconds=tau * sample_period, ess=ess,
                         ess_per_second=ess / wall_seconds if wall_seconds > 0 else float("inf"))
