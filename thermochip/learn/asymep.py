r"""Rule ``asymep``: AsymEP, Equilibrium Propagation on non-reciprocal chips (Scurria et al.
2026, seed 002; the update: :mod:`thermochip.learn.adjoint`).

After the free phase, the nudged phases (+beta and -beta, from s0) add ``-2 A (s - s0)`` to
every cell's drive, A = (J_F - J_F^T)/2 at the free state s0. Linearised about s0 the nudged
drift becomes J_F^T (s - s0) - beta grad C, so lambda = (s^{+beta} - s^{-beta}) / 2 beta.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thermochip.engine import Correction
from thermochip.learn.adjoint import AbstractAdjointEstimator, AdjointSection
from thermochip.learn.ep_circuit import EpCircuit
from thermochip.learn.rules import register_rule


@dataclass(frozen=True, kw_only=True)
class AsymEpLearner(AdjointSection):
    """AsymEP (Scurria et al. 2026, seed 002) for non-reciprocal chips: the EP phases, with the
    nudged phases (always +beta and -beta) adding -2A(s - s0) to each cell's drive, A the
    antisymmetric part of the coupling Jacobian at the free state s0 (from the chip's own
    couplers); lambda = (s+ - s-)/2beta; each coupler's update is the local form of
    dC/dtheta = -lambda^T dF/dtheta. Equals centered EP on a reciprocal chip."""

    rule: str = "asymep"


class AsymEpEstimator(AbstractAdjointEstimator):
    """Nudged phases about the held free state (see the module docstring)."""

    def gradient(self, circuit: EpCircuit, pixels: np.ndarray,
                 labels: np.ndarray) -> dict[str, np.ndarray]:
        h_in, x_free, U_free = circuit.free(pixels)
        s0 = self.update.mean_state(circuit, U_free)
        both = Correction(ref=np.concatenate([s0, s0]))  # one reference per nudged replica
        U_plus, U_minus = circuit.nudged(x_free, h_in, labels, U_free, both)
        return self.update.update(circuit, pixels, U_plus, U_minus, s0)


RULE = register_rule(AsymEpLearner, lambda chip, n_classes: EpCircuit(
    chip, n_classes, AsymEpEstimator(chip)))
