r"""The update AsymEP and Dyadic EP share: Equilibrium Propagation on non-reciprocal chips
(Scurria et al. 2026, seed 002).

A chip's drift F(s) is a gradient flow only while its couplers are reciprocal. An interconnect
delay (the carrier phase offset alpha adds J sin(alpha) cos(phi_j - phi_i)), asymmetric
couplers (J_ij != J_ji) and a feed-forward topology break that, and symmetric EP then
estimates a biased gradient. At the free fixed point s0, with lambda solving
J_F^T lambda = grad C, the exact gradient of the loss is

.. math::
    \frac{dC}{d\theta} = \frac{\partial C}{\partial\theta}
                         - \lambda^T \frac{\partial F}{\partial\theta}(s_0).

Both rules find lambda with nudged phases that carry the adjoint correction ``-2 A (s - r)``,
A = (J_F - J_F^T)/2 (the engine's :class:`~thermochip.engine.Correction`):
:mod:`thermochip.learn.asymep` about the held free state, :mod:`thermochip.learn.dyadic`
about the live midpoint of twin copies.

**Where A comes from.** It is modelled, not measured: the chip's own couplers (their codes,
mismatch and write noise as the analog values carry them, and each coupler's carrier phase
offset) give the coupling Jacobian; loop latency does not change a fixed point's Jacobian and
cell rate mismatch is not modelled in A. The term between cells i and j needs only their two
states and their couplers, so the correction stays local: each coupler drives the adjoint
current of its own two cells.

**Update**, per coupler device J_ij (it drives cell i from cell j; a reciprocal pair's one
device sums both directions). Split the coupling drift into its reciprocal part -grad V_rec
and the rest F_nr; with sigma = -pair_sign and the carrier rotation R^{kl} (R^{kk} = cos
alpha, R^{01} = -R^{10} = sin alpha; :func:`device_models.carrier.mixing`):

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
the second term vanishes, R^{kk} = 1, and the update is centered EP's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device_models import carrier
from device_models.params import OneOf, spec_field
from thermochip.chip import Chip
from thermochip.learn.ep_circuit import AbstractEstimator, EpCircuit, EpSection, ep_problems
from thermochip.learn.jacobian import JACOBIANS, CouplingEstimate, jacobian_problems


@dataclass(frozen=True, kw_only=True)
class AdjointSection(EpSection):
    """The fields AsymEP's and Dyadic EP's sections add to EP's."""

    jacobian: str = spec_field("true", doc="where A's couplings come from: nominal (DAC codes "
                                           "and nominal delay), calibrated (the chip's own OM "
                                           "calibration before training) or true (the "
                                           "simulated analog values: an upper bound)",
                               check=OneOf(JACOBIANS))

    def requirements(self, spec, model, params, data_shape) -> list[tuple[str, str]]:
        return adjoint_problems(self, spec, model, params, data_shape)


def adjoint_problems(section: AdjointSection, spec, model, params,
                     data_shape) -> list[tuple[str, str]]:
    """What AsymEP and Dyadic EP need: EP's, both nudges, and a Jacobian they can know."""
    out = ep_problems(section, spec, model, params, data_shape)
    out += jacobian_problems(spec, section.jacobian)
    if not model.kind.drift:
        out.append(("cells.model", f"{section.rule} adds its adjoint correction to the cells' "
                                   f"drift; {model.name} cells ({model.kind.name} dynamics) "
                                   f"have none (use rule ep)"))
    if section.estimator == "one_sided":
        out.append(("learner.estimator", f"{section.rule} nudges with +beta and -beta; "
                                         f"one_sided is for rule ep"))
    return out


class AdjointUpdate:
    """The accumulator terms and the update of the module docstring, for one chip."""

    def __init__(self, chip: Chip, alpha: np.ndarray):
        self.sigma = -chip.model.pair_sign
        cos, sin = np.cos(alpha), np.sin(alpha)
        # the carrier's rotation of the received I/Q (unit coupling)
        self.R = carrier.mixing(cos, sin) if chip.model.carrier else {(0, 0): cos}

    def mean_state(self, circuit: EpCircuit, U: np.ndarray) -> np.ndarray:
        """(replica, cell) state of the window-averaged channels of ADC samples U."""
        return circuit.model.from_channels(circuit.p64, np.moveaxis(U.mean(axis=1), -1, 0))

    def wrap(self, circuit: EpCircuit, d: np.ndarray) -> np.ndarray:
        """A state difference folded into one period (periodic states)."""
        period = circuit.model.periodic
        return d if period is None else (d + period / 2) % period - period / 2

    def update(self, circuit: EpCircuit, pixels, U_plus, U_minus, s0) -> dict[str, np.ndarray]:
        """dC/dtheta from the two nudged phases' ADC samples and the free state s0."""
        beta = circuit.cfg.beta
        grad = circuit.contrast(U_plus, U_minus, pixels, 0.5 / beta)
        if circuit.nudge_engine.reciprocal:
            return grad
        lam = self.wrap(circuit, self.mean_state(circuit, U_plus)
                        - self.mean_state(circuit, U_minus)) / (2 * beta)
        model, p = circuit.model, circuit.p64
        ch = model.channels(p, s0)                                    # (channel, replica, cell)
        lch = lam * np.stack([model.channel_deriv(p, s0, c) for c in range(model.n_channels)])
        adjoint = self.device_terms(circuit, lch, ch)
        mirror = self.device_terms(circuit, ch, lch)
        for name in grad.keys() & adjoint.keys():
            grad[name] = grad[name] + adjoint[name] - mirror[name]
        return grad

    def device_terms(self, circuit: EpCircuit, left: np.ndarray,
                     right: np.ndarray) -> dict[str, np.ndarray]:
        """Per coupler register, the sample mean of
        ``-sigma/2 sum_kl R^{kl}_ij left_k[i] right_l[j]`` (left, right: (channel, sample,
        cell)); a reciprocal pair's one device sums its two directions. With left = right =
        the channel samples: the accumulators of dV_rec/dJ."""
        M = left.shape[1]

        def term(r0, r1, c0, c1):
            rows, cols = slice(r0, r1), slice(c0, c1)
            return -0.5 * self.sigma / M * sum(
                R[rows, cols] * (left[k][:, rows].T @ right[l][:, cols])
                for (k, l), R in self.R.items())

        out = {}
        for name, (r0, r1, c0, c1) in circuit.blocks.items():
            out[name] = term(r0, r1, c0, c1)
            if not circuit.chip.directed:
                out[name] = out[name] + term(c0, c1, r0, r1).T
        return out


class AbstractAdjointEstimator(AbstractEstimator):
    """What AsymEP and Dyadic EP share: both nudges, and the accumulators of dV_rec/dJ; each
    rule says how its nudged phases run (:meth:`gradient`)."""

    def __init__(self, chip: Chip):
        self.couplings = CouplingEstimate(chip, chip.spec.learner.jacobian)
        self.update = AdjointUpdate(chip, self.couplings.alpha)

    @property
    def jacobian(self):
        return self.couplings.name, self.couplings.matrices

    def report(self) -> dict:
        return {"jacobian": self.couplings.name, **self.couplings.report}

    def betas(self, section: EpSection) -> tuple[float, ...]:
        return (section.beta, -section.beta)

    def coupler_terms(self, circuit: EpCircuit, ch: np.ndarray) -> dict[str, np.ndarray]:
        """Accumulators of dV_rec/dJ from channel samples (channel, sample, cell)."""
        return self.update.device_terms(circuit, ch, ch)
