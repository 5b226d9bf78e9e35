r"""In-situ calibration of a soft-spin chip: recover the couplings the analog couplers actually
apply (DAC value times mismatch gain, plus offset) from the chip's own thermal trajectories.

The chip runs ``replicas`` x ``steps`` with its noise; the ADC samples every cell at every step
(``adc.sample_rate`` = 1/dt, ``adc.bits`` over ``adc.full_scale``; point samples: ``adc.window``
one step; :func:`thermochip.checks.calibrate_problems` refuses the rest). For soft
spins the drift is linear in the unknowns,
``f_i(x) = local_force(x_i, 0, a_i) - b_i - sum_j J_ij x_j``, so the Euler--Maruyama residual
``r_k = dx_k - f(x_k) dt`` is linear in ``theta = (J_ij for every existing coupler i < j,
b_i for every cell)``: ``y_k = dx_k - local_force(x_k, 0, a) dt = Phi_k theta + r_k`` with
``Phi`` the columns ``-dt x_j`` (in cell i's row) and ``-dt x_i`` (in cell j's row) for coupler
(i, j), and ``-dt`` for ``b_i``. Minimising the Onsager--Machlup action
``sum_k |r_k|^2 / (4 kT dt)`` is least squares:

.. math::
    \hat\theta = \Big(\sum_k \Phi_k^T\Phi_k\Big)^{-1} \sum_k \Phi_k^T y_k,
    \qquad \operatorname{Cov}\hat\theta = 2\,kT\,dt\,\Big(\sum_k \Phi_k^T\Phi_k\Big)^{-1}

(the inverse Fisher information of the Gaussian transition density; at the estimate the OM
gradients of :mod:`thermochip.learn.onsager_machlup` vanish). Both sums are built from
sufficient statistics (second moments of the samples and of the residual targets), chunk by
chunk, so memory does not grow with the run. ``b_i`` is the effective bias: the field register
minus the cell's constant force offset (mismatch).

**ADC quantisation.** A step Delta = 2 full_scale / 2^bits acts as read-out noise e of
variance Delta^2/12 (for Delta much smaller than the thermal spread). It inflates the residual
variance per cell by Delta^2/6 (reported as ``quantisation_ratio`` = (Delta^2/6)/(2 kT dt)), and,
because the same e_k appears in the regressor x_k and (with a minus sign) in dx_k, it biases the
couplings by about ``(Delta^2/12)/dt * (Sigma_x^-1)_ij`` (Sigma_x the covariance of the
states): negligible when Delta^2/12 << kT dt, e.g. 12 bits over +-2 at kT dt = 0.01. Saturated
samples (outside the ADC range) are counted; they break the model and should be zero.

Not modelled (they bias the estimate; the report says which are present): per-cell gain
mismatch (``cell_gain`` scales the whole drift and the noise of a cell), 1/f flicker noise,
ADC input noise beyond quantisation, loop latency and interconnect delay (rejected), and
directed couplers (``couplings.asymmetric``, ``topology.feedforward``: rejected; the model
has one parameter per reciprocal pair).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device_models import adc as adc_model
from device_models import dac
from thermochip import memory, strict_json
from thermochip.checks import calibrate_problems
from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.errors import IncompatibleModelError, ThermochipError
from thermochip.spec import ChipSpec

__all__ = ["CalibrationReport", "calibrate"]

#: Largest ADC buffer (replica x step x cell samples) one engine call fills.
MAX_CHUNK_SAMPLES = 1 << 21


@dataclass
class CalibrationReport:
    """What calibration found. Matrices are (cell, cell), symmetric, zero off the topology;
    per-coupler statistics are over the existing couplers (i < j)."""

    name: str
    n_cells: int
    n_couplers: int
    replicas: int
    steps: int
    dt: float                   # dimensionless time between samples
    kT: float                   # the spec's temperature (normalised energy units)
    adc_bits: int
    adc_lsb: float
    adc_saturated: int          # samples outside the ADC range, all cells and replicas
    mask: np.ndarray            # (cell, cell) bool: which couplers exist
    J_true: np.ndarray          # the analog couplings the chip applies (mismatch included)
    J_nominal: np.ndarray       # DAC codes x LSB: what you would believe without calibration
    J_estimate: np.ndarray
    J_std_error: np.ndarray     # predicted standard error (inverse Fisher information)
    b_true: np.ndarray          # (cell,) effective bias: field register - constant offset
    b_estimate: np.ndarray
    b_std_error: np.ndarray
    covariance: np.ndarray      # (parameter, parameter): couplers (i < j, row-major), then b
    kT_estimate: float          # from the residual variance (checks the noise model)
    seconds: float
    not_modelled: list[str]

    # -- per-coupler statistics --------------------------------------------------------------
    @property
    def coupler_index(self) -> tuple[np.ndarray, np.ndarray]:
        return np.nonzero(np.triu(self.mask, 1))

    @property
    def z_scores(self) -> np.ndarray:
        """(coupler,) (estimate - true) / predicted standard error."""
        i, j = self.coupler_index
        return (self.J_estimate[i, j] - self.J_true[i, j]) / self.J_std_error[i, j]

    def rms(self, J: np.ndarray) -> float:
        i, j = self.coupler_index
        return float(np.sqrt(np.mean((J[i, j] - self.J_true[i, j]) ** 2)))

    @property
    def chi2(self) -> float:
        """(theta_hat - theta)^T Cov^-1 (theta_hat - theta) over all parameters: chi-square
        with ``len(theta)`` degrees of freedom when the estimate is unbiased and the predicted
        covariance right."""
        i, j = self.coupler_index
        d = np.concatenate([self.J_estimate[i, j] - self.J_true[i, j],
                            self.b_estimate - self.b_true])
        return float(d @ np.linalg.solve(self.covariance, d))

    def summary(self) -> dict:
        z = self.z_scores
        return {
            "name": self.name, "cells": self.n_cells, "couplers": self.n_couplers,
            "replicas": self.replicas, "steps": self.steps, "dt": self.dt, "kT": self.kT,
            "adc_bits": self.adc_bits, "adc_lsb": self.adc_lsb,
            "adc_saturated": self.adc_saturated,
            "rms_error_calibrated": self.rms(self.J_estimate),
            "rms_error_nominal": self.rms(self.J_nominal),
            "rms_std_error": float(np.sqrt(np.mean(self.J_std_error[self.coupler_index] ** 2))),
            "z_mean": float(z.mean()), "z_rms": float(np.sqrt(np.mean(z * z))),
            "z_max_abs": float(np.abs(z).max()),
            "chi2": self.chi2, "chi2_dof": int(self.covariance.shape[0]),
            "bias_rms_error": float(np.sqrt(np.mean((self.b_estimate - self.b_true) ** 2))),
            "kT_estimate": self.kT_estimate,
            "quantisation_ratio": (self.adc_lsb ** 2 / 6) / (2 * self.kT * self.dt),
            "seconds": self.seconds, "not_modelled": list(self.not_modelled),
        }

    def table(self) -> str:
        s = self.summary()
        lines = [
            (f"calibration of {s['name']}: {s['cells']} softspin cells, {s['couplers']} "
             f"couplers, {s['replicas']} replicas x {s['steps']} steps (dt {s['dt']:.3g}), "
             f"ADC {s['adc_bits']} bits (LSB {s['adc_lsb']:.2g}), {s['seconds']:.1f} s"),
            f"  {'couplings J':<34}{'RMS error vs analog J':>22}",
            f"  {'nominal (DAC codes x LSB)':<34}{s['rms_error_nominal']:>22.4g}",
            f"  {'calibrated (OM least squares)':<34}{s['rms_error_calibrated']:>22.4g}",
            f"  {'predicted standard error':<34}{s['rms_std_error']:>22.4g}",
            (f"  z-scores: mean {s['z_mean']:+.3f}, rms {s['z_rms']:.3f}, max |z| "
             f"{s['z_max_abs']:.2f}; chi2 {s['chi2']:.1f} for {s['chi2_dof']} parameters"),
            (f"  biases: RMS error {s['bias_rms_error']:.3g}; kT from residuals "
             f"{s['kT_estimate']:.4g} (spec {s['kT']:.4g}); ADC noise / thermal "
             f"{s['quantisation_ratio']:.2g}"),
        ]
        if s["adc_saturated"]:
            lines.append(f"  warning: {s['adc_saturated']} ADC samples saturated; raise "
                         f"adc.full_scale")
        if s["not_modelled"]:
            lines.append(f"  not modelled (biases the estimate): {', '.join(s['not_modelled'])}")
        return "\n".join(lines)

    def save(self, path: str | Path, spec_yaml: str | None = None) -> None:
        """HDF5 file, written atomically: the matrices, the covariance and the summary."""
        import h5py

        import thermochip
        from thermochip.results import atomic_path

        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            f.attrs.update(thermochip_version=thermochip.__version__,
                           summary=strict_json.dumps(self.summary()))
            if spec_yaml is not None:
                f["spec"] = spec_yaml
            f["mask"] = self.mask.astype(np.uint8)
            for name in ("J_true", "J_nominal", "J_estimate", "J_std_error", "b_true",
                         "b_estimate", "b_std_error", "covariance"):
                f[name] = getattr(self, name)
            f["covariance"].attrs["order"] = "couplers (i < j, row-major), then biases"


def _check(chip: Chip) -> list[str]:
    """Reject what the linear model cannot describe; list what it ignores."""
    spec = chip.spec
    refused = calibrate_problems(spec)
    if refused:
        raise IncompatibleModelError("; ".join(f"{path}: {why}" for path, why in refused))
    ignored = []
    if spec.noise.mismatch.cell_gain > 0:
        ignored.append("noise.mismatch.cell_gain")
    if spec.noise.flicker is not None and spec.noise.flicker.amplitude > 0:
        ignored.append("noise.flicker")
    if spec.adc.noise > 0:
        ignored.append("adc.noise")
    return ignored


class _Moments:
    """Running sums over residual rows (replica, step): z = (x_0 .. x_{N-1}, 1) and the
    targets y = dx - local_force(x, 0, a) dt."""

    def __init__(self, n: int):
        self.zz = np.zeros((n + 1, n + 1))
        self.yz = np.zeros((n, n + 1))
        self.yy = np.zeros(n)
        self.rows = 0

    def add(self, x: np.ndarray, y: np.ndarray) -> None:
        """x, y: (row, cell)."""
        z = np.concatenate([x, np.ones((len(x), 1))], axis=1)
        self.zz += z.T @ z
        self.yz += y.T @ z
        self.yy += (y * y).sum(axis=0)
        self.rows += len(x)


def _normal_equations(mom: _Moments, mask: np.ndarray, dt: float):
    """A = sum Phi^T Phi and c = sum Phi^T y for theta = (J_ij (i < j on the mask), b_i).

    Cell i's row has the regressors -dt x_j (coupler (i, j), j a neighbour) and -dt (b_i):
    its block of Phi^T Phi is dt^2 times the second moments of those regressors."""
    n = mask.shape[0]
    iu, ju = np.nonzero(np.triu(mask, 1))
    n_c = len(iu)
    index = -np.ones((n, n + 1), dtype=np.int64)   # (cell, regressor) -> parameter
    index[iu, ju] = np.arange(n_c)
    index[ju, iu] = np.arange(n_c)
    index[np.arange(n), n] = n_c + np.arange(n)    # regressor n is the constant (bias)
    p = n_c + n
    A = np.zeros((p, p))
    c = np.zeros(p)
    for i in range(n):
        regs = np.nonzero(index[i] >= 0)[0]
        ids = index[i, regs]
        A[np.ix_(ids, ids)] += dt * dt * mom.zz[np.ix_(regs, regs)]
        c[ids] += -dt * mom.yz[i, regs]
    return A, c, (iu, ju)


def calibrate(spec: ChipSpec, base_dir: Path | None = None) -> CalibrationReport:
    """Simulate ``spec.run.replicas`` x ``integrator.steps`` of the chip with the ADC sampling
    every step, and estimate its analog couplings and effective biases by maximum likelihood
    of the OM action (see the module docstring). Raises
    :class:`~thermochip.errors.IncompatibleModelError` for chips the model cannot describe."""
    t0 = time.perf_counter()
    n = memory.cells(spec)
    unknowns = n * (n - 1) / 2 + n
    chip_bytes = memory.chip_bytes(spec, base_dir, dense_views=True)
    memory.require({"couplings (cell x cell arrays)": chip_bytes,
                    "ADC chunk": float(MAX_CHUNK_SAMPLES) * memory.PER_SAMPLE,
                    "normal equations": 2 * 8 * unknowns ** 2},
                   "this calibration")
    chip = Chip.from_spec(spec, base_dir=base_dir)
    not_modelled = _check(chip)
    model, a = chip.model, spec.adc
    p = model.to_kernel(chip.params, np.float64)
    engine = Engine(chip)
    B, N, steps, dt = engine.B, chip.n, chip.steps, chip.dt
    fd = spec.fields.dac
    stiffness = dac.to_values(chip.field_codes[1], fd.bits, fd.full_scale)

    mom = _Moments(N)
    saturated = 0
    x = engine.initial_state()
    last = None                                   # last ADC sample of the previous chunk
    chunk = max(2, MAX_CHUNK_SAMPLES // (B * N))
    done = 0
    while done < steps:
        K = min(chunk, steps - done)
        r = engine.run(K, x0=x, sample_steps=np.arange(1, K + 1), energy_every=K)
        x = r.x
        saturated += int(r.adc_saturated.sum())
        X = r.adc_values[..., 0]                  # (replica, sample, cell)
        if last is not None:
            X = np.concatenate([last[:, None], X], axis=1)
        last = X[:, -1]
        xs, dx = X[:, :-1].reshape(-1, N), np.diff(X, axis=1).reshape(-1, N)
        mom.add(xs, dx - model.local_force(p, xs, 0.0, stiffness) * dt)
        done += K

    A, c, (iu, ju) = _normal_equations(mom, chip.mask, dt)
    try:
        if mom.rows * N <= len(c):
            raise np.linalg.LinAlgError
        theta = np.linalg.solve(A, c)
    except np.linalg.LinAlgError:
        raise ThermochipError(f"calibrate: {mom.rows} residuals per cell cannot determine "
                              f"{len(c)} parameters; run more steps or replicas") from None
    kT = spec.noise.thermal.kT
    cov = 2.0 * kT * dt * np.linalg.inv(A)
    cov = 0.5 * (cov + cov.T)
    se = np.sqrt(np.diag(cov))
    rss = mom.yy.sum() - 2.0 * theta @ c + theta @ A @ theta
    kT_hat = rss / (2.0 * dt * (mom.rows * N - len(theta)))

    n_c = len(iu)

    def sym(values):
        M = np.zeros((N, N))
        M[iu, ju] = values
        return M + M.T

    cd = spec.couplings.dac
    nominal = np.where(chip.mask, dac.to_values(chip.J_codes, cd.bits, cd.full_scale), 0.0)
    return CalibrationReport(
        name=spec.name, n_cells=N, n_couplers=n_c, replicas=B, steps=steps, dt=dt, kT=kT,
        adc_bits=a.bits, adc_lsb=adc_model.lsb(a.bits, a.full_scale), adc_saturated=saturated,
        mask=chip.mask.copy(), J_true=chip.J.copy(), J_nominal=nominal,
        J_estimate=sym(theta[:n_c]), J_std_error=sym(se[:n_c]),
        b_true=chip.fields[0] - chip.offset, b_estimate=theta[n_c:], b_std_error=se[n_c:],
        covariance=cov, kT_estimate=float(kT_hat), seconds=time.perf_counter() - t0,
        not_modelled=not_modelled)
