"""How a learner's update becomes DAC codes: the ``write`` section of a learner and the
writer that keeps each register's digital state (a wider shadow register, adam's running
means) beside its DAC."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device_models import dac
from device_models.params import NON_NEGATIVE, Interval, OneOf, spec_field
from thermochip._kernels.write import adam_step, add_rounded


@dataclass(frozen=True, kw_only=True)
class WriteSpec:
    """How a learner's update becomes DAC codes: straight to the b-bit codes (nearest or
    stochastic rounding), or into a wider digital shadow register of `shadow_bits` whose top
    bits drive the DAC (small updates accumulate instead of being rounded away). With
    `step: adam` the learning rate is a step size in register units: each register moves by
    about lr per write whatever the scale of its estimate."""

    rounding: str = spec_field("stochastic", doc="rounding of each write",
                               check=OneOf(("nearest", "stochastic")))
    shadow_bits: int | None = spec_field(None, doc="bits of a digital shadow register "
                                                   "(null: write the DAC codes directly)",
                                         check=Interval(2, 32))
    step: str = spec_field("sgd", doc="sgd: add -lr * estimate; adam: add -lr * m/(sqrt(v) + "
                                      "1e-8), m and v running means of each register's "
                                      "estimate and of its square, bias-corrected (Kingma & "
                                      "Ba 2015), held in digital registers beside each DAC",
                           check=OneOf(("sgd", "adam")))
    mean_decay: float = spec_field(0.9, doc="adam: decay of the running mean m per write",
                                   check=Interval(0, 1, hi_closed=False))
    square_decay: float = spec_field(0.999, doc="adam: decay of the running mean square v "
                                                "per write",
                                     check=Interval(0, 1, hi_closed=False))
    weight_decay: float = spec_field(0.0, doc="each write also moves a register by -lr * "
                                              "weight_decay * (w - w_anchor), w its value "
                                              "(regularisation; with adam decoupled from "
                                              "the step, as AdamW)", check=NON_NEGATIVE)
    decay_to: str = spec_field("zero", doc="the anchor weight_decay pulls toward: zero, or "
                                           "initial (each register's value when training "
                                           "started, kept in a digital register beside it)",
                               check=OneOf(("zero", "initial")))


class DacWriter:
    """Writes updates of one register array through a DAC: straight to the b-bit codes, or
    into a wider shadow register whose value is re-rounded to the DAC grid (small updates
    accumulate there instead of being rounded away). With ``write.step: adam`` each register
    also keeps running means of its estimate and of its square, and moves by the
    bias-corrected ratio of the two (times the rate) instead of by the estimate. With
    ``write.weight_decay`` each write also pulls the register toward zero or toward its
    initial value (its own state only: a local rule)."""

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
        self.weight_decay = write.weight_decay
        if self.weight_decay > 0:
            self.anchor = (codes * self.lsb if write.decay_to == "initial"
                           else np.zeros(codes.shape))

    def apply(self, codes: np.ndarray, delta: np.ndarray, index=..., scale: float = 1.0):
        """New codes of the registers ``codes[index]`` after adding ``scale * delta`` (value
        units; float32 or float64), or with adam ``scale * m / (sqrt(v) + eps)`` after
        ``delta`` has entered the running means; weight decay adds
        ``scale * weight_decay * (w - anchor)`` (``scale`` is -lr)."""
        if self.adam:
            delta = self._adam_step(delta, index)
        if self.weight_decay > 0:
            value = (self.shadow[index] * self.shadow_lsb if self.shadow_bits is not None
                     else np.asarray(codes[index]) * self.lsb)
            delta = delta + self.weight_decay * (value - self.anchor[index])
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
               (list(self.ADAM_STATE) if self.adam else []) + \
               (["anchor"] if self.weight_decay > 0 else [])
        return {f"{name}_{k}": getattr(self, k).copy() for k in keys}

    def load_state_dict(self, name: str, state: dict[str, np.ndarray]) -> None:
        for k in ("shadow", "anchor") + self.ADAM_STATE:
            if f"{name}_{k}" in state:
                setattr(self, k, np.array(state[f"{name}_{k}"]))
