r"""Rule ``contrastive``: contrastive Boltzmann learning (Ackley, Hinton & Sejnowski 1985) on the
EP circuit (:mod:`thermochip.learn.ep_circuit`): the label clamped against the label free.

A free phase (inputs driven, outputs free: the negative phase), then a clamped phase from the
free state (the output cells held at the label by the field ``beta`` y: the positive phase).
Each coupler's accumulator time-averages its local term dV/dJ over the last ``window`` steps
of each phase, as EP's does, and the update is

.. math::
    \Delta\theta = -\eta\,\big(\langle \partial_\theta V\rangle_{clamped}
                              - \langle \partial_\theta V\rangle_{free}\big),

the gradient of -log P(label | input) of a Boltzmann machine at temperature kT (times kT):
the beta -> infinity limit of one-sided EP without the 1/beta (Litman 2025 for the finite
nudge). With ``beta`` large against the outputs' other inputs, P(output = y) -> 1 in the
clamped phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device_models.params import POSITIVE, spec_field
from thermochip.learn.ep_circuit import (
    AbstractEstimator,
    EpCircuit,
    EpSection,
    ep_problems,
    pair_terms,
)
from thermochip.learn.rules import register_rule


@dataclass(frozen=True, kw_only=True)
class ContrastiveLearner(EpSection):
    """Contrastive Boltzmann learning: a free phase, then a phase with the outputs clamped to
    the label by the field beta y (nudged_steps long, from the free state); each coupler's
    accumulator time-averages dV/dJ over the last `window` steps of each phase; update
    dJ = -lr (a_clamped - a_free). `estimator` must be one_sided (the free phase is the
    contrast)."""

    rule: str = "contrastive"
    takes_regression = False  # the clamped phase holds the outputs at +-1
    estimator: str = spec_field("one_sided", doc="one_sided: the clamped phase against the "
                                                 "free phase (the only estimator of this "
                                                 "rule)")
    beta: float = spec_field(10.0, doc="clamping field on each output cell, beta * label (in "
                                       "units of the cells' inputs)", check=POSITIVE)

    def requirements(self, spec, model, params, data_shape) -> list[tuple[str, str]]:
        out = ep_problems(self, spec, model, params, data_shape)
        if self.estimator != "one_sided":
            out.append(("learner.estimator", "contrastive learning contrasts the clamped "
                                             "phase with the free phase: one_sided"))
        if self.loss != "squared_error":
            out.append(("learner.loss", "contrastive learning clamps the outputs at the label "
                                        "(+-1): squared_error"))
        return out


class ContrastiveEstimator(AbstractEstimator):
    """The clamped phase against the free phase (see the module docstring)."""

    def betas(self, section: EpSection) -> tuple[float, ...]:
        return (section.beta,)

    def gradient(self, circuit: EpCircuit, pixels: np.ndarray,
                 labels: np.ndarray) -> dict[str, np.ndarray]:
        h_in, x_free, U_free = circuit.free(pixels)
        (U_clamped,) = circuit.nudged(x_free, h_in, labels, U_free)
        return circuit.contrast(U_clamped, U_free, pixels, 1.0)

    def coupler_terms(self, circuit: EpCircuit, ch: np.ndarray) -> dict[str, np.ndarray]:
        return pair_terms(circuit, ch)


RULE = register_rule(ContrastiveLearner, lambda chip, n_classes: EpCircuit(
    chip, n_classes, ContrastiveEstimator()))
