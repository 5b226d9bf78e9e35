"""The learner interface the host-side orchestration (:mod:`thermochip.run`) talks to.

The host passes pixels (what its input DACs drive) and labels (what it presents to the output
nudge circuit, as class indices) and gets back output ADC codes; it never sees a gradient.
"""

from __future__ import annotations

import abc

import numpy as np

from thermochip.chip import Chip


class AbstractLearner(abc.ABC):
    """A chip together with its on-chip learning circuit."""

    chip: Chip

    @abc.abstractmethod
    def train_batch(self, pixels: np.ndarray, labels: np.ndarray, lr_scale: float = 1.0) -> None:
        """Present ``update_every`` samples (pixels (sample, input) in [0, 1], labels (sample,)
        class indices) as replicas, accumulate, and write one DAC update."""

    @abc.abstractmethod
    def infer(self, pixels: np.ndarray) -> np.ndarray:
        """Output ADC codes (sample, class) of a free run on ``pixels``: the host's read-out.
        Larger code = more of that class."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to resume training bit-exactly (codes, registers, RNG states)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`."""


def make_learner(chip: Chip, n_classes: int) -> AbstractLearner:
    """The learner the chip's spec asks for."""
    from thermochip.spec import EpLearner
    if isinstance(chip.spec.learner, EpLearner):
        from thermochip.learn.eqprop import EpLearnerCircuit
        return EpLearnerCircuit(chip, n_classes)
    from thermochip.learn.onsager_machlup import OmLearnerCircuit
    return OmLearnerCircuit(chip, n_classes)
