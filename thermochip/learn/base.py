"""The learner interface the host-side orchestration (:mod:`thermochip.training`) talks to.

The host passes pixels (what its input DACs drive) and labels (what it presents to the output
nudge circuit, as class indices) and gets back output ADC codes; it never sees a gradient.
"""

from __future__ import annotations

import abc

import numpy as np

from thermochip.chip import Chip


class AbstractLearner(abc.ABC):
    """A chip together with its on-chip learning circuit: the chip, and engines for training
    and for inference (``eval_engine``)."""

    chip: Chip

    @abc.abstractmethod
    def train_batch(self, pixels: np.ndarray, labels: np.ndarray, lr_scale: float = 1.0) -> None:
        """Present ``update_every`` samples (pixels (sample, input) as the data set scales
        them, labels (sample,) class indices) as replicas, accumulate, and write one DAC
        update."""

    @abc.abstractmethod
    def infer(self, pixels: np.ndarray) -> np.ndarray:
        """Output ADC codes (sample, class) of a free run on ``pixels``: the host's read-out.
        Larger code = more of that class."""

    def reset_inference(self) -> None:
        """Restart the inference noise, so a score depends only on the registers and the seed
        (``--couplings --eval-only`` reproduces a run's accuracy exactly)."""
        self.eval_engine.reseed()

    def settling(self) -> dict[str, float]:
        """How the phases run since the last call ended (free and nudged end velocities and
        chip time per phase, the noise's velocity bound, the fraction unsettled: see
        :mod:`thermochip.learn.settling`); empty for a learner without settling phases."""
        return {}

    def report(self) -> dict:
        """What the learner measured of the chip before training (a calibration), for the
        results file and ``--json``; empty when nothing."""
        return {}

    @abc.abstractmethod
    def registers(self) -> dict[str, np.ndarray]:
        """Learned registers that live in the learner rather than in the chip's coupling and
        field DACs (stored in results files, loaded by ``--couplings``)."""

    @abc.abstractmethod
    def load_registers(self, registers: dict[str, np.ndarray]) -> None:
        """Restore :meth:`registers`."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to resume training bit-exactly (codes, registers, RNG states)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`."""
