r"""Where AsymEP's and Dyadic EP's coupling Jacobian comes from (``learner.jacobian``).

The adjoint correction and the update need each coupler's couplings as the chip applies them:
C_ij = J_ij cos(alpha_ij) and S_ij = J_ij sin(alpha_ij) (the carrier phase offset alpha of an
interconnect delay). A chip knows them only as well as it can measure them:

- ``true``: the analog values the simulated devices apply (codes through the DAC, mismatch,
  write noise, each coupler's drawn delay). No hardware knows these: an upper bound.
- ``nominal``: the DAC codes times the LSB and the spec's nominal delay (2 pi f0 tau, no
  jitter): what the designer knows, blind to mismatch.
- ``calibrated``: the chip's own Onsager--Machlup calibration, once, before training. The chip
  relaxes from random states with its inputs off; its ADC samples every cell every step; each
  cell's drift regressed on its neighbours' channels gives C_ij and S_ij for every coupler
  into it (least squares: the minimum of the OM action, as in
  :mod:`thermochip.calibration`). Each coupler keeps its measured gain g = |(C, S)| / J_nom
  and phase alpha = atan2(S, C); during training J = g x (nominal value of its current code).
  A reciprocal device's two directions are averaged. Biases: the ADC's quantisation enters
  both the regressor and the difference, a cell's gain mismatch scales its row, and loop
  latency is not modelled (refused).
"""

from __future__ import annotations

import numpy as np

from device_models import carrier
from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.streams import derived_seed

JACOBIANS = ("nominal", "calibrated", "true")

#: The calibration run: replicas relaxing from random states, steps each.
CALIBRATION_REPLICAS, CALIBRATION_STEPS = 256, 50


def jacobian_problems(spec, source: str) -> list[tuple[str, str]]:
    """A calibration reads every cell at every step through a one-step ADC window, and has
    no model of loop latency."""
    if source != "calibrated":
        return []
    a, dt = spec.adc, spec.integrator.dt
    out = []
    if a is not None and (a.period_steps(dt) != 1 or a.window_steps(dt) != 1):
        out.append(("learner.jacobian", "calibrated: the calibration samples every step "
                                        "through a one-step window (adc.sample_rate = "
                                        "1/integrator.dt, adc.window at most one step)"))
    if spec.delays.loop_latency > 0 or spec.delays.latency_jitter > 0:
        out.append(("learner.jacobian", "calibrated: the calibration has no model of loop "
                                        "latency (delays.loop_latency)"))
    return out


class CouplingEstimate:
    """The couplings a learner builds A from: ``matrices()`` gives (Jc, Js) in the form of
    :meth:`Chip.delay_matrices` for the current codes, ``alpha`` each coupler's phase offset.
    ``report``: what the calibration measured (empty otherwise)."""

    def __init__(self, chip: Chip, source: str):
        self.chip, self.name = chip, source
        self.report: dict[str, float] = {}
        if source == "true":
            self.alpha, self.gain = chip.alpha, None
        elif source == "nominal":
            self.alpha = np.where(chip.mask, self._nominal_alpha(), 0.0)
            self.gain = np.ones(chip.mask.shape)
        else:
            self.gain, self.alpha = self._calibrate()

    def nominal(self) -> np.ndarray:
        """(cell, cell) each coupler's code times its DAC's LSB."""
        reg = self.chip.registers.couplings
        return np.where(self.chip.mask, reg.codes * reg.dac.lsb, 0.0)

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        if self.gain is None:
            return self.chip.delay_matrices()
        J = self.gain * self.nominal()
        if not np.any(self.alpha):
            return J[None], np.zeros((0,) + J.shape)
        return (J * np.cos(self.alpha))[None], (J * np.sin(self.alpha))[None]

    def _calibrate(self) -> tuple[np.ndarray, np.ndarray]:
        """Gain and phase offset of every coupler from the chip's relaxation (module
        docstring)."""
        chip, model = self.chip, self.chip.model
        p = model.to_kernel(chip.params, np.float64)
        engine = Engine(chip, replicas=CALIBRATION_REPLICAS,
                        seed=derived_seed(chip.spec.run.seed, "calibration"))
        lo, hi = model.init_range
        x0 = np.random.default_rng(engine.seed).uniform(lo, hi, (engine.B, chip.n))
        K = CALIBRATION_STEPS
        r = engine.run(K, x0=x0, sample_steps=np.arange(1, K + 1), energy_every=0)
        values = np.moveaxis(r.adc_values, -1, 0)          # (readout, replica, step, cell)
        state_read = chip.spec.adc.mode is not None and chip.spec.adc.mode == model.state_readout
        x = values[0] if state_read else model.from_channels(p, values)
        x_now = x[:, :-1].reshape(-1, chip.n)              # (row, cell)
        step = (x[:, 1:] - x[:, :-1]).reshape(-1, chip.n)
        if model.periodic is not None:
            step = (step + model.periodic / 2) % model.periodic - model.periodic / 2
        zero = np.zeros_like(x_now)
        base = model.local_force(p, x_now, zero, zero)
        y = step / chip.dt - base
        # per-cell field columns (the local force is linear in both fields) and an offset
        fields = [model.local_force(p, x_now, zero + 1, zero) - base,
                  model.local_force(p, x_now, zero, zero + 1) - base]
        ch = model.channels(p, x_now)                      # (channel, row, cell)
        nc = model.n_channels
        # the coupling force per unit field of each channel (it is linear in the fields)
        D = np.stack([-model.pair_sign * model.channel_deriv(p, x_now, c) for c in range(nc)])
        # a phase offset is fitted where the design has a delay (it cannot know the true one)
        delays = chip.spec.delays
        carrier_phase = model.carrier and (delays.interconnect > 0
                                           or delays.interconnect_jitter > 0)
        C = np.zeros(chip.mask.shape)
        S = np.zeros(chip.mask.shape)
        residual = []
        for i in range(chip.n):
            js = np.flatnonzero(chip.mask[i])
            cols = [self._columns(D[:, :, i], ch[:, :, j], carrier_phase) for j in js]
            Phi = np.column_stack([c for pair in cols for c in pair]
                                  + [f[:, i] for f in fields] + [np.ones(len(y))])
            theta, *_ = np.linalg.lstsq(Phi, y[:, i], rcond=None)
            width = 2 if carrier_phase else 1
            C[i, js] = theta[0:width * len(js):width]
            if carrier_phase:
                S[i, js] = theta[1:2 * len(js):2]
            residual.append(np.sqrt(np.mean((y[:, i] - Phi @ theta) ** 2)))
        if not chip.directed:  # one device per pair: its two directions are one measurement
            C, S = 0.5 * (C + C.T), 0.5 * (S + S.T)
        nominal = self.nominal()
        measured = np.hypot(C, S)
        known = chip.mask & (np.abs(nominal) > 0)
        gain = np.where(known, measured / np.where(known, np.abs(nominal), 1.0), 1.0)
        # the phase relative to the code's sign, so a negative coupling is not read as +pi
        alpha = np.where(chip.mask, np.arctan2(S * np.sign(nominal), C * np.sign(nominal)), 0.0)
        alpha = np.where(known, alpha, np.where(chip.mask, self._nominal_alpha(), 0.0))
        true = chip.J
        self.report = {
            "chip_ns": K * chip.spec.integrator.dt * 1e9, "replicas": engine.B,
            "gain_error_rms": float(np.sqrt(np.mean(
                (gain * np.abs(nominal) - np.abs(true))[known] ** 2))
                / np.sqrt(np.mean(true[known] ** 2))),
            "alpha_error_rms": float(np.sqrt(np.mean(
                (alpha - self.chip.alpha)[known] ** 2))),
            "residual_rms": float(np.mean(residual))}
        return gain, alpha

    def _nominal_alpha(self) -> float:
        f0 = getattr(self.chip.params, "f0", 0.0) if self.chip.model.carrier else 0.0
        return 2 * np.pi * f0 * self.chip.spec.delays.interconnect

    @staticmethod
    def _columns(Di: np.ndarray, chj: np.ndarray, carrier_phase: bool):
        """The regressors of C_ij (and S_ij): cell i's coupling force per unit coupling from
        cell j's channels, received through the carrier rotation (cos part, sin part)."""
        if Di.shape[0] == 1:
            return (Di[0] * chj[0],)
        zero = np.zeros_like(chj[0])
        cos_part = carrier.rotate(chj[0], chj[1], zero, zero)
        out = (Di[0] * cos_part[0] + Di[1] * cos_part[1],)
        if carrier_phase:
            sin_part = carrier.rotate(zero, zero, chj[0], chj[1])
            out += (Di[0] * sin_part[0] + Di[1] * sin_part[1],)
        return out
