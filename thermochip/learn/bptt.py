r"""Rule ``bptt``: a reference trainer that is explicitly *not* on-chip. It computes the exact
gradient of the learner's loss through the chip's discretised free phase (backpropagation
through time) and writes it with EP's optimiser and DAC writes, so a reader sees how far an
on-chip rule is from what backpropagation would do on the same hardware.

The free phase runs in the chip's own engine, one step per call so that every state is kept:
x_{k+1} = x_k + dt~ F(x_k) + noise_k, F_i = g_i (local_force(x_i, f_i) + coupling_force(x_i,
G_i)) + offset_i, G_ic = sum_j J_ij ch_c(x_j) (the device's declared physics, with the chip's
analog couplings, mismatch and noise). The loss is taken on the outputs' read-out at the ADC's
sample steps of the phase's last ``window`` (the states themselves: quantisation has no
gradient, so the ADC is passed straight through). The adjoint runs backwards in float64 from
the device's declared derivatives:

.. math::
    \lambda_k = \lambda_{k+1} + dt~\,(\partial F/\partial x)(x_k)^T \lambda_{k+1}
                + \partial L/\partial x_k,\qquad
    \partial L/\partial\theta = \sum_k dt~\,(\partial F/\partial\theta)(x_k)^T\lambda_{k+1},

with dF_i/dx_j = g_i (-pair_sign) sum_c ch_c'(x_i) J_ij ch_c'(x_j) and the diagonal
g_i (-V_local''(x_i) - pair_sign sum_c ch_c''(x_i) G_ic) (``local_curvature_ch``,
``channel_curvature_ch``). Fields enter V linearly (as EP's accumulators also assume), so
dF/df_k is the difference of the local force at unit and zero field. A coupler register's
gradient carries its device's gain (d J_analog / d written value).

Scope: Langevin cells that declare their curvatures, and chips whose couplings act at once
(no loop latency, no interconnect delay: the adjoint of a delay line is not written here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device_models.params import spec_field
from thermochip.learn import losses
from thermochip.learn.ep_circuit import (
    AbstractEstimator,
    EpCircuit,
    EpSection,
    coupler_blocks,
    ep_problems,
    phase_samples,
)
from thermochip.learn.rules import register_rule


@dataclass(frozen=True, kw_only=True)
class BpttLearner(EpSection):
    """Backpropagation through the free phase (a reference, not an on-chip rule): the exact
    gradient of the loss of the outputs' read-out at the end of `free_steps`, through the
    chip's discretised dynamics, written with EP's optimiser and DAC writes (`lr`, `write`,
    `update_every`, `loss`). There is no nudged phase."""

    rule: str = "bptt"
    estimator: str | None = spec_field(None, doc="not used: bptt has no nudged phase")
    beta: float | None = spec_field(None, doc="not used: bptt has no nudged phase")
    nudged_steps: int | None = spec_field(None, doc="not used: bptt has no nudged phase")

    def requirements(self, spec, model, params, data_shape) -> list[tuple[str, str]]:
        out = ep_problems(self, spec, model, params, data_shape)
        for name in ("estimator", "beta", "nudged_steps"):
            if getattr(self, name) is not None:
                out.append((f"learner.{name}", "bptt has no nudged phase: leave it out"))
        if not model.kind.drift or model.local_curvature_ch is None \
                or model.channel_curvature_ch is None:
            out.append(("cells.model", f"bptt differentiates the cells' drift: {model.name} "
                                       f"cells declare no curvature (local_curvature_ch, "
                                       f"channel_curvature_ch)"))
        delays = spec.delays
        if delays.loop_latency > 0 or delays.interconnect > 0:
            out.append(("delays", "bptt differentiates couplings that act at once: no "
                                  "loop_latency or interconnect delay"))
        if self.settle is not None:
            out.append(("learner.settle", "bptt differentiates a phase of fixed length: "
                                          "leave settle out"))
        return out


class BpttEstimator(AbstractEstimator):
    """Backpropagation through the free phase (see the module docstring)."""

    def betas(self, section: EpSection) -> tuple[float, ...]:
        return ()

    def coupler_terms(self, circuit: EpCircuit, ch: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError("bptt has no accumulators")

    def gradient(self, circuit: EpCircuit, pixels: np.ndarray,
                 labels: np.ndarray) -> dict[str, np.ndarray]:
        chip, cfg = circuit.chip, circuit.cfg
        engine = circuit.train_engine
        h_in = chip.input_field(pixels)
        xs = [np.array(engine.initial_state())]
        for _ in range(cfg.free_steps):  # one call a step: every state is kept
            xs.append(engine.run(1, x0=xs[-1], h_ext=h_in, energy_every=0).x)
        return backpropagate(circuit, [x.astype(np.float64) for x in xs], h_in, pixels,
                             labels)


def backpropagate(circuit: EpCircuit, xs: list[np.ndarray], h_in: np.ndarray,
                  pixels: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """dL/d(register value) of the batch-mean loss of the trajectory ``xs`` (free_steps + 1
    states (replica, cell), float64) driven by the input field ``h_in``, in the layout of EP's
    estimates (:meth:`~thermochip.learn.ep_circuit.EpCircuit.gradient`)."""
    chip, model, p, cfg = circuit.chip, circuit.model, circuit.p64, circuit.cfg
    B, out, sign = len(pixels), circuit.out, -model.pair_sign
    channels = range(model.n_channels)
    J, dt, gain = chip.J, chip.dt, chip.gain
    f0, f1 = chip.fields[0] + h_in, np.broadcast_to(chip.fields[1], h_in.shape)
    samples = phase_samples(chip.spec, cfg, cfg.free_steps)
    readout = np.mean([model.channel(p, xs[s][:, out], 0) for s in samples], axis=0)
    slope = losses.slope(cfg.loss, cfg.softmax_gain, readout, labels) / (B * len(samples))
    blocks = [(slice(r0, r1), slice(c0, c1)) for r0, r1, c0, c1 in chip.coupling_blocks()]
    lam = np.zeros_like(xs[0])
    gJ, gf0, gf1 = np.zeros_like(J), np.zeros_like(lam), np.zeros_like(lam)
    for k in range(len(xs) - 1, 0, -1):
        if k in samples:  # the read-out's samples feed the loss
            lam[:, out] += slope * model.channel_deriv(p, xs[k][:, out], 0)
        x = xs[k - 1]  # the step x_{k-1} -> x_k
        mu = dt * gain * lam
        ch = [model.channel(p, x, c) for c in channels]
        ends = (ch[0], ch[-1])  # what the *_ch physics takes: no second cosine
        dch = [model.channel_deriv_ch(p, x, *ends, c) for c in channels]
        zero = np.zeros_like(x)
        force = model.local_force_ch
        gf0 += mu * (force(p, x, *ends, zero + 1, f1) - force(p, x, *ends, zero, f1))
        gf1 += mu * (force(p, x, *ends, f0, zero + 1) - force(p, x, *ends, f0, zero))
        step = mu * -model.local_curvature_ch(p, x, *ends, f0, f1)
        for c in channels:  # block by block: a layered chip's couplers fill few of N x N
            G, back, weighted = np.zeros_like(x), np.zeros_like(x), mu * dch[c]
            for rows, cols in blocks:
                G[:, rows] += ch[c][:, cols] @ J[rows, cols].T  # sum_j J_ij ch_c(x_j)
                gJ[rows, cols] += sign * weighted[:, rows].T @ ch[c][:, cols]
                back[:, cols] += weighted[:, rows] @ J[rows, cols]
            step += sign * (mu * model.channel_curvature_ch(p, x, *ends, c) * G + dch[c] * back)
        lam = lam + step
    return _registers(circuit, gJ * chip.coupler_gain, gf0, gf1, pixels)


def _registers(circuit: EpCircuit, gJ: np.ndarray, gf0: np.ndarray, gf1: np.ndarray,
               pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Per-device coupling gradients (cell, cell) and per-replica field gradients as EP's
    register estimates: a reciprocal pair's one device gets both directions."""
    chip = circuit.chip
    grad = {}
    for name, (r0, r1, c0, c1) in coupler_blocks(chip).items():
        block = gJ[r0:r1, c0:c1]
        grad[name] = block if chip.directed else block + gJ[c0:c1, r0:r1].T
    first = chip.spec.cells.layers[0]
    grad["input"] = pixels.T @ gf0[:, :first]
    grad["h"], grad["S"] = gf0.sum(axis=0), gf1.sum(axis=0)
    return grad


RULE = register_rule(BpttLearner, lambda chip, n_classes: EpCircuit(chip, n_classes,
                                                                    BpttEstimator()))
