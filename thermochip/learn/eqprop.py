r"""Rule ``ep``: Equilibrium Propagation with per-coupler accumulators (the circuit:
:mod:`thermochip.learn.ep_circuit`).

Update, written through the DACs, from the accumulators a of the phases:

.. math::
    \Delta\theta = -\frac{\eta}{\beta}\,(a^{+\beta} - a^{0}) \quad\text{(one-sided)},\qquad
    \Delta\theta = -\frac{\eta}{2\beta}\,(a^{+\beta} - a^{-\beta})
    \quad\text{(symmetric = centered: two names for the same estimator)}.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thermochip.learn.ep_circuit import (
    AbstractEstimator,
    EpCircuit,
    EpSection,
    ep_problems,
    pair_terms,
)
from thermochip.learn.rules import register_rule


@dataclass(frozen=True, kw_only=True)
class EpLearner(EpSection):
    """Equilibrium Propagation with per-coupler accumulators: a free phase, then nudged phases
    (+beta; and -beta for symmetric/centered) from the free state; each phase's accumulator
    time-averages the coupler's local term dV/dJ over the last `window` steps, sampled by the
    ADC. Update: dJ = -(lr/beta)(a_beta - a_0) (one-sided) or -(lr/2beta)(a_+ - a_-); with
    `write.step: adam`, -lr times the per-register adam ratio of that estimate."""

    rule: str = "ep"

    def requirements(self, spec, model, params, data_shape) -> list[tuple[str, str]]:
        return ep_problems(self, spec, model, params, data_shape)


class EpEstimator(AbstractEstimator):
    """The contrast of the nudged phase(s) with the free phase (one-sided) or with each other
    (symmetric), each coupler's local term the model's pair term dV/dJ_ij."""

    def betas(self, section: EpSection) -> tuple[float, ...]:
        if section.estimator == "one_sided":
            return (section.beta,)
        return (section.beta, -section.beta)

    def gradient(self, circuit: EpCircuit, pixels: np.ndarray,
                 labels: np.ndarray) -> dict[str, np.ndarray]:
        cfg = circuit.cfg
        h_in, x_free, U_free = circuit.free(pixels)
        U = circuit.nudged(x_free, h_in, labels, U_free)
        if cfg.estimator == "one_sided":
            return circuit.contrast(U[0], U_free, pixels, 1.0 / cfg.beta)
        return circuit.contrast(U[0], U[1], pixels, 0.5 / cfg.beta)

    def coupler_terms(self, circuit: EpCircuit, ch: np.ndarray) -> dict[str, np.ndarray]:
        return pair_terms(circuit, ch)


RULE = register_rule(EpLearner, lambda chip, n_classes: EpCircuit(chip, n_classes,
                                                                  EpEstimator()))
