r"""AsymEP and Dyadic EP: Equilibrium Propagation on non-reciprocal chips (Scurria et al.
2026, seed 002).

A chip's drift F(s) is a gradient flow only while its couplers are reciprocal. An interconnect
delay (the carrier phase offset alpha adds J sin(alpha) cos(phi_j - phi_i)), asymmetric
couplers (J_ij != J_ji) and a feed-forward topology break that, and symmetric EP then
estimates a biased gradient. At the free fixed point s0, with lambda solving
J_F^T lambda = grad C, the exact gradient of the loss is

.. math::
    \frac{dC}{d\theta} = \frac{\partial C}{\partial\theta}
                         - \lambda^T \frac{\partial F}{\partial\theta}(s_0).

**AsymEP.** After the free phase, the nudged phases (+beta and -beta, from s0) add
``-2 A (s - s0)`` to every cell's drive, A = (J_F - J_F^T)/2 at s0 (the engine's
:class:`~thermochip.engine.Correction`). Linearised about s0 the nudged drift becomes
J_F^T (s - s0) - beta grad C, so lambda = (s^{+beta} - s^{-beta}) / 2 beta.

**Dyadic EP.** The doubled state: after the free phase, each sample runs on twin copies
s+- = m +- d of the chip, nudged by +beta and -beta and coupled through -2 A(m) (s - m) at
their live midpoint m, so no free state has to be held. Their midpoint and half-difference
follow m' = F(m) + O(d^2) and d' = J_F(m)^T d - beta grad C(m) + O(d^3) (exact as
beta -> 0): m stays at s0 while lambda = d / beta relaxes to the adjoint. The twins start
together at the free state (d = 0): started apart, on a multistable chip they could settle in
different basins, where no linearisation holds.

**Where A comes from.** It is modelled, not measured: the chip's own couplers (their codes,
mismatch and write noise as the analog values carry them, and each coupler's carrier phase
offset) give the coupling Jacobian; loop latency does not change a fixed point's Jacobian and
cell rate mismatch is not modelled in A. The term between cells i and j needs only their two
states and their couplers, so the correction stays local: each coupler drives the adjoint
current of its own two cells.

**Update**, per coupler device J_ij (it drives cell i from cell j; a reciprocal pair's one
device sums both directions). Split the coupling drift into its reciprocal part -grad V_rec
and the rest F_nr; with sigma = -pair_sign and the carrier rotation R^{kl} (R^{kk} = cos
alpha, R^{01} = -R^{10} = sin alpha):

.. math::
    \frac{\partial V_{rec}}{\partial J_{ij}} = -\frac{\sigma}{2}\sum_{kl} R^{kl}_{ij}\,
        ch_k(x_i)\,ch_l(x_j),\qquad
    \frac{dC}{dJ_{ij}} = \frac{\langle \partial_{J} V_{rec}\rangle_{+\beta}
        - \langle \partial_{J} V_{rec}\rangle_{-\beta}}{2\beta}
        - \frac{\sigma}{2}\sum_{kl} R^{kl}_{ij}\big[\lambda_i ch'_k(s_{0,i})\,ch_l(s_{0,j})
        - ch_k(s_{0,i})\,\lambda_j ch'_l(s_{0,j})\big].

The first term is the EP accumulator contrast of the reciprocal part (the time averages of the
two nudged phases); the second, -lambda^T dF_nr/dJ_ij, is a product of the coupler's two cells'
held free-state channels and their lambda. Input couplers and field registers act through the
cells' local energy, which is reciprocal: their updates are EP's. On a reciprocal chip A = 0,
the second term vanishes, R^{kk} = 1, and AsymEP is centered EP.
"""

from __future__ import annotations

import numpy as np

from device_models import carrier

from thermochip.chip import Chip
from thermochip.engine import Correction
from thermochip.learn.eqprop import EpLearnerCircuit


class AsymEpLearnerCircuit(EpLearnerCircuit):
    """EP accumulators plus the adjoint correction and term (see the module docstring)."""

    both_signs = True

    def __init__(self, chip: Chip, n_classes: int):
        super().__init__(chip, n_classes)
        self.sigma = -self.model.pair_sign
        cos, sin = np.cos(chip.alpha), np.sin(chip.alpha)
        # the carrier's rotation of the received I/Q (unit coupling)
        self.R = carrier.mixing(cos, sin) if self.model.carrier else {(0, 0): cos}

    # -- the phases ----------------------------------------------------------------------------
    def gradient(self, pixels: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
        cfg, chip, engine = self.cfg, self.chip, self.train_engine
        h_in = chip.input_field(pixels)
        target = self.targets(labels)
        x_free, U_free = self._phase(engine, cfg.free_steps, engine.initial_state(), h_in)
        s0 = self._mean_state(U_free)
        both = Correction(ref=np.concatenate([s0, s0]))  # one reference per nudged replica
        U_plus, U_minus = self._nudged(x_free, h_in, target, both)
        return self._update(pixels, U_plus, U_minus, s0)

    def _mean_state(self, U: np.ndarray) -> np.ndarray:
        """(replica, cell) state of the window-averaged channels of ADC samples U."""
        return self.model.from_channels(self.p64, np.moveaxis(U.mean(axis=1), -1, 0))

    def _wrap(self, d: np.ndarray) -> np.ndarray:
        period = self.model.periodic
        return d if period is None else (d + period / 2) % period - period / 2

    def _update(self, pixels, U_plus, U_minus, s0) -> dict[str, np.ndarray]:
        """dC/dtheta from the two nudged phases' ADC samples and the free state s0."""
        beta = self.cfg.beta
        grad = self._contrast(U_plus, U_minus, pixels, 0.5 / beta)
        if self.train_engine.reciprocal:
            return grad
        lam = self._wrap(self._mean_state(U_plus) - self._mean_state(U_minus)) / (2 * beta)
        model, p = self.model, self.p64
        ch = model.channels(p, s0)                                    # (channel, replica, cell)
        lch = lam * np.stack([model.channel_deriv(p, s0, c) for c in range(model.n_channels)])
        adjoint = self._device_terms(lch, ch)
        mirror = self._device_terms(ch, lch)
        for name in grad.keys() & adjoint.keys():
            grad[name] = grad[name] + adjoint[name] - mirror[name]
        return grad

    # -- the coupler terms ---------------------------------------------------------------------
    def _coupler_terms(self, ch: np.ndarray) -> dict[str, np.ndarray]:
        """Accumulators of dV_rec/dJ from channel samples (channel, sample, cell)."""
        return self._device_terms(ch, ch)

    def _device_terms(self, left: np.ndarray, right: np.ndarray) -> dict[str, np.ndarray]:
        """Per coupler register, the sample mean of
        ``-sigma/2 sum_kl R^{kl}_ij left_k[i] right_l[j]`` (left, right: (channel, sample,
        cell)); a reciprocal pair's one device sums its two directions."""
        M = left.shape[1]

        def term(r0, r1, c0, c1):
            rows, cols = slice(r0, r1), slice(c0, c1)
            return -0.5 * self.sigma / M * sum(
                R[rows, cols] * (left[k][:, rows].T @ right[l][:, cols])
                for (k, l), R in self.R.items())

        out = {}
        for name, (r0, r1, c0, c1) in self.blocks.items():
            out[name] = term(r0, r1, c0, c1)
            if not self.chip.directed:
                out[name] = out[name] + term(c0, c1, r0, r1).T
        return out


class DyadicEpLearnerCircuit(AsymEpLearnerCircuit):
    """Dyadic EP: the doubled state as twin replicas (see the module docstring): after the free
    phase, sample b runs on replica b (+beta) of the nudge engine and its twin on replica
    b + update_every (-beta)."""

    def gradient(self, pixels: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
        cfg, chip, engine = self.cfg, self.chip, self.train_engine
        h_in = chip.input_field(pixels)
        x_free, _ = self._phase(engine, cfg.free_steps, engine.initial_state(), h_in)
        U_plus, U_minus = self._nudged(x_free, h_in, self.targets(labels),
                                       Correction(twins=True))
        s_plus, s_minus = self._mean_state(U_plus), self._mean_state(U_minus)
        m = s_minus + 0.5 * self._wrap(s_plus - s_minus)
        return self._update(pixels, U_plus, U_minus, m)
