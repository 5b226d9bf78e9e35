"""The learner interface the host-side orchestration (:mod:`thermochip.run`) talks to.

The host passes pixels (what its input DACs drive) and labels (what it presents to the output
nudge circuit, as class indices) and gets back output ADC codes; it never sees a gradient.
"""

from __future__ import annotations

import abc

import numpy as np

from device_models import dac
from thermochip._kernels.write import adam_step, add_rounded
from thermochip.chip import Chip
from thermochip.spec import WriteSpec


class DacWriter:
    """Writes updates of one register array through a DAC: straight to the b-bit codes, or
    into a wider shadow register whose value is re-rounded to the DAC grid (small updates
    accumulate there instead of being rounded away). With ``write.step: adam`` each register
    also keeps running means of its estimate and of its square, and moves by the
    bias-corrected ratio of the two (times the rate) instead of by the estimate."""

    ADAM_EPS = 1e-8
    """Added to sqrt(v): a register whose estimates are all zero does not move."""
    ADAM_STATE = ("mean", "square", "mean_weight", "square_weight")

    def __init__(self, codes: np.ndarray, bits: int, full_scale: float, write: WriteSpec,
                 rng: np.random.Generator):
        self.bits, self.full_scale, self.rounding, self.rng = bits, full_scale, write.rounding, rng
        self.lsb = dac.lsb(bits, full_scale)
        self.shadow_bits = write.shadow_bits
        if self.shadow_bits is not None:
            self.shadow_lsb = dac.lsb(self.shadow_bits, full_scale)
            self.shadow = np.rint(codes * (self.lsb / self.shadow_lsb)).astype(np.int64)
        self.adam = write.step == "adam"
        if self.adam:
            self.decay = (write.mean_decay, write.square_decay)
            # float32 registers: the write of the 784 x 500 input couplers is memory-bound
            self.mean, self.square = (np.zeros(codes.shape, np.float32) for _ in range(2))
            # the running means of a constant 1 (= 1 - decay^writes): the bias corrections,
            # per register since blocks and rows are written separately
            self.mean_weight, self.square_weight = (np.zeros(codes.shape, np.float32)
                                                    for _ in range(2))

    def apply(self, codes: np.ndarray, delta: np.ndarray, index=..., scale: float = 1.0):
        """New codes of the registers ``codes[index]`` after adding ``scale * delta`` (value
        units; float32 or float64), or with adam ``scale * m / (sqrt(v) + eps)`` after
        ``delta`` has entered the running means."""
        if self.adam:
            delta = self._adam_step(delta, index)
        key = np.uint64(self.rng.integers(2**62))  # from the chip's stream: resumable
        if self.shadow_bits is None:
            reg = np.array(codes[index], dtype=np.int64)
            unit, bits, ratio = self.lsb, self.bits, 1.0
        else:
            reg = self.shadow[index]  # a view: updated in place
            unit, bits, ratio = self.shadow_lsb, self.shadow_bits, self.shadow_lsb / self.lsb
        shape = reg.shape
        reg = reg.reshape((1, -1)) if reg.ndim == 1 else reg  # still a view
        out = np.empty(reg.shape, dtype=np.int32)
        delta = np.asarray(delta)
        if delta.dtype not in (np.float32, np.float64):
            delta = delta.astype(np.float64)
        add_rounded(reg, delta.reshape(reg.shape), scale / unit, self.rounding == "stochastic",
                    key, dac.levels(bits), ratio, out)
        return out.reshape(shape)

    def _adam_step(self, delta: np.ndarray, index) -> np.ndarray:
        """Fold ``delta`` into the running means at ``index`` (views: updated in place) and
        return the bias-corrected m / (sqrt(v) + eps)."""
        views = [a[index] for a in (self.mean, self.square, self.mean_weight,
                                    self.square_weight)]
        shape = views[0].shape
        views = [v.reshape((1, -1)) if v.ndim == 1 else v for v in views]  # still views
        step = np.empty(views[0].shape, np.float32)
        adam_step(np.asarray(delta).reshape(step.shape), *views, *self.decay, self.ADAM_EPS,
                  step)
        return step.reshape(shape)

    def state_dict(self, name: str) -> dict[str, np.ndarray]:
        """The writer's digital registers (shadow, adam means), keyed ``{name}_...``."""
        keys = (["shadow"] if self.shadow_bits is not None else []) + \
               (list(self.ADAM_STATE) if self.adam else [])
        return {f"{name}_{k}": getattr(self, k).copy() for k in keys}

    def load_state_dict(self, name: str, state: dict[str, np.ndarray]) -> None:
        for k in ("shadow",) + self.ADAM_STATE:
            if f"{name}_{k}" in state:
                setattr(self, k, np.array(state[f"{name}_{k}"]))


class AbstractLearner(abc.ABC):
    """A chip together with its on-chip learning circuit."""

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

    def registers(self) -> dict[str, np.ndarray]:
        """Learned registers that live in the learner rather than in the chip's coupling and
        field DACs (stored in results files, loaded by ``--couplings``)."""
        return {}

    def load_registers(self, registers: dict[str, np.ndarray]) -> None:
        """Restore :meth:`registers`."""

    @abc.abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to resume training bit-exactly (codes, registers, RNG states)."""

    @abc.abstractmethod
    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict`."""


def make_learner(chip: Chip, n_classes: int) -> AbstractLearner:
    """The learner the chip's spec asks for."""
    from thermochip.spec import AsymEpLearner, DyadicEpLearner, EpLearner
    if isinstance(chip.spec.learner, DyadicEpLearner):
        from thermochip.learn.asymep import DyadicEpLearnerCircuit
        return DyadicEpLearnerCircuit(chip, n_classes)
    if isinstance(chip.spec.learner, AsymEpLearner):
        from thermochip.learn.asymep import AsymEpLearnerCircuit
        return AsymEpLearnerCircuit(chip, n_classes)
    if isinstance(chip.spec.learner, EpLearner):
        from thermochip.learn.eqprop import EpLearnerCircuit
        return EpLearnerCircuit(chip, n_classes)
    from thermochip.learn.onsager_machlup import OmLearnerCircuit
    return OmLearnerCircuit(chip, n_classes)
