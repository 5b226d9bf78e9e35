r"""Rule ``dyadic``: Dyadic EP, the doubled state (Scurria et al. 2026, seed 002; the update:
:mod:`thermochip.learn.adjoint`).

After the free phase, each sample runs on twin copies s+- = m +- d of the chip, nudged by
+beta and -beta and coupled through -2 A(m) (s - m) at their live midpoint m, so no free state
has to be held. Their midpoint and half-difference follow m' = F(m) + O(d^2) and
d' = J_F(m)^T d - beta grad C(m) + O(d^3) (exact as beta -> 0): m stays at s0 while
lambda = d / beta relaxes to the adjoint. The twins start together at the free state (d = 0):
started apart, on a multistable chip they could settle in different basins, where no
linearisation holds. Sample b runs on replica b (+beta) of the nudge engine and its twin on
replica b + update_every (-beta).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thermochip.engine import Correction
from thermochip.learn.adjoint import AbstractAdjointEstimator, AdjointSection
from thermochip.learn.ep_circuit import EpCircuit
from thermochip.learn.rules import register_rule


@dataclass(frozen=True, kw_only=True)
class DyadicEpLearner(AdjointSection):
    """Dyadic EP (seed 002): after the free phase, every sample runs on twin copies
    s+- = m +- d of the chip, nudged by +beta and -beta and coupled by -2A(m)(s - m) at their
    live midpoint m (no held free state); lambda = d/beta. Same update as asymep."""

    rule: str = "dyadic"


class DyadicEstimator(AbstractAdjointEstimator):
    """Twin replicas coupled at their live midpoint (see the module docstring)."""

    def gradient(self, circuit: EpCircuit, pixels: np.ndarray,
                 labels: np.ndarray) -> dict[str, np.ndarray]:
        h_in, x_free, U_free = circuit.free(pixels)
        U_plus, U_minus = circuit.nudged(x_free, h_in, labels, U_free, Correction(twins=True))
        s_plus = self.update.mean_state(circuit, U_plus)
        s_minus = self.update.mean_state(circuit, U_minus)
        m = s_minus + 0.5 * self.update.wrap(circuit, s_plus - s_minus)
        return self.update.update(circuit, pixels, U_plus, U_minus, m)


RULE = register_rule(DyadicEpLearner, lambda chip, n_classes: EpCircuit(
    chip, n_classes, DyadicEstimator(chip)))
