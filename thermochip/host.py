"""The host: presents data to the chip and scores what comes back. It drives input DACs with
pixels, presents labels to the output nudge circuit (as class indices) and reads output ADC
codes. It does no learning maths, and imports nothing from :mod:`thermochip.learn`: it talks to
any object with ``train_batch(pixels, labels, lr_scale)`` and ``infer(pixels) -> codes``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np


class ChipIO(Protocol):
    def train_batch(self, pixels: np.ndarray, labels: np.ndarray,
                    lr_scale: float = 1.0) -> None: ...

    def infer(self, pixels: np.ndarray) -> np.ndarray: ...


@dataclass
class Score:
    """How a chip did on a set of samples: classification's accuracy and confusion matrix
    (true class, predicted class) counts, or regression's root-mean-square error (in the
    targets' units, over every target) and coefficient of determination R^2 (NaN where the
    other task's)."""

    accuracy: float
    confusion: np.ndarray
    rmse: float = float("nan")
    r2: float = float("nan")


@dataclass
class History:
    """Learning curve: one entry per finished epoch."""

    epoch: list[int] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    # regression's RMSE (targets' units; NaN for classification, whose accuracies are NaN
    # for regression)
    train_rmse: list[float] = field(default_factory=list)
    val_rmse: list[float] = field(default_factory=list)
    test_rmse: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    samples_seen: list[int] = field(default_factory=list)
    # how the learner's phases ended (NaN where a learner has none): mean end velocity of
    # free and nudged phases and the noise's bound (state units per ns), the fraction of
    # phases unsettled, chip time per free and nudged phase (ns)
    free_velocity: list[float] = field(default_factory=list)
    nudged_velocity: list[float] = field(default_factory=list)
    noise_velocity: list[float] = field(default_factory=list)
    unsettled: list[float] = field(default_factory=list)
    free_ns: list[float] = field(default_factory=list)
    nudged_ns: list[float] = field(default_factory=list)

    SETTLING = ("free_velocity", "nudged_velocity", "noise_velocity", "unsettled", "free_ns",
                "nudged_ns")

    def add_settling(self, figures: dict[str, float]) -> None:
        for k in self.SETTLING:
            getattr(self, k).append(figures.get(k, float("nan")))

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "History":
        """From :meth:`as_arrays` (a checkpoint written before the settling figures existed
        gets NaN for them)."""
        n = len(np.asarray(arrays["epoch"]))
        return cls(**{k: list(np.asarray(arrays[k] if k in arrays else np.full(n, np.nan))
                              .tolist()) for k in cls().__dict__})


def evaluate(chip: ChipIO, x: np.ndarray, y: np.ndarray, n_classes: int,
             batch: int, progress: Callable[[int], None] | None = None,
             unscale: Callable[[np.ndarray], np.ndarray] | None = None) -> Score:
    """Accuracy and confusion matrix from the output codes (argmax over output cells), or
    with ``unscale`` (regression: y are (sample, target) targets as the chip reads them, and
    ``unscale`` maps read-outs back to the targets' units) RMSE and R^2 of the read-outs;
    ``progress`` is called with the samples scored after each batch."""
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    predicted = []
    for start in range(0, len(x), batch):
        codes = chip.infer(x[start:start + batch])
        if unscale is not None:
            predicted.append(codes)
        else:
            np.add.at(confusion, (y[start:start + batch], np.argmax(codes, axis=1)), 1)
        if progress is not None:
            progress(len(codes))
    if unscale is not None:
        truth, guess = unscale(y), unscale(np.concatenate(predicted))
        sse = float(((guess - truth) ** 2).sum())
        sst = float(((truth - truth.mean(axis=0)) ** 2).sum())
        return Score(accuracy=float("nan"), confusion=confusion[:0, :0],
                     rmse=float(np.sqrt(sse / truth.size)) if truth.size else float("nan"),
                     r2=1 - sse / sst if sst > 0 else float("nan"))
    total = confusion.sum()
    return Score(accuracy=float(np.trace(confusion) / total) if total else float("nan"),
                 confusion=confusion)


def lr_scale(schedule: str, epoch: int, epochs: int) -> float:
    """Learning-rate multiplier of epoch ``epoch`` (0-based)."""
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    return 1.0


def epoch_order(n: int, shuffle_seed: int, epoch: int) -> np.ndarray:
    """The training order of one epoch: a function of the seed and epoch only, so a resumed
    run presents the same samples in the same order."""
    return np.random.default_rng((shuffle_seed, epoch)).permutation(n)


def train_epoch(chip: ChipIO, x: np.ndarray, y: np.ndarray, batch: int, order: np.ndarray,
                scale: float, progress: Callable[[int], None] | None = None) -> int:
    """Present one epoch in ``batch``-sized groups (a last partial group is dropped: every
    DAC write averages the same number of samples). Returns the samples presented."""
    n = (len(order) // batch) * batch
    for start in range(0, n, batch):
        idx = order[start:start + batch]
        chip.train_batch(x[idx], y[idx], scale)
        if progress is not None:
            progress(batch)
    return n
