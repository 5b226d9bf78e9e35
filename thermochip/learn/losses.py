r"""The losses the EP output nudge circuit can add to the chip's energy, as field changes on
the output cells during the nudged phases (``learner.loss``).

- ``squared_error``: l = 1/2 sum_i (r_i - y_i)^2 of each output cell's read-out r_i (oim:
  cos phi; soft spin: x; p-bit: m), y = +1 for the label's cell and -1 for the others (for
  regression, y the targets, scaled to [-1, 1]). It is
  quadratic in r and enters exactly, through the model's ``nudge`` (a linear and a quadratic
  field change).
- ``cross_entropy``: l = -log softmax(g r)_y, ``g`` the read-out's gain
  (``learner.softmax_gain``; r lies in [-1, 1], so g sets how sure a logit can get). The
  output circuit forms c_i = dl/dr_i = g (softmax(g r^0)_i - [i = y]) from the free phase's
  read-out r^0 (the window average of its ADC samples, what the host reads) and nudges with
  the linear term beta sum_i c_i r_i: the loss to first order about the free state, which is
  all EP's gradient (beta -> 0; the symmetric estimator's bias stays O(beta^2)) uses. The
  field change is the model's squared-error nudge at target -c without its quadratic part
  (that nudge's linear part is -beta y r).
"""

from __future__ import annotations

import numpy as np

#: The values of ``learner.loss``.
LOSSES = ("squared_error", "cross_entropy")


def one_hot_targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(sample, class) squared-error targets: +1 for the label's cell, -1 for the others;
    regression's targets ((sample, target) reals, already in the read-out's range) as they
    are."""
    if labels.ndim == 2:
        return np.asarray(labels, dtype=np.float64)
    target = -np.ones((len(labels), n_classes))
    target[np.arange(len(labels)), labels] = 1.0
    return target


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by each row's maximum (no overflow)."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def cross_entropy_slope(readout: np.ndarray, labels: np.ndarray, gain: float) -> np.ndarray:
    """(sample, class) dl/dr of l = -log softmax(gain r)_label at read-out r."""
    slope = softmax(gain * readout)
    slope[np.arange(len(labels)), labels] -= 1.0
    return gain * slope


def slope(loss: str, gain: float, readout: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(sample, class) dl/dr of ``loss`` at read-out r (what backpropagation starts from)."""
    if loss == "squared_error":
        return readout - one_hot_targets(labels, readout.shape[1])
    return cross_entropy_slope(readout, labels, gain)


def nudge(model, p, loss: str, gain: float, beta: float, labels: np.ndarray,
          free_readout: np.ndarray) -> tuple:
    """The output cells' field changes (first field, second field) that add beta * loss to
    the energy (``free_readout``: (sample, class) read-out of the free phase)."""
    n_classes = free_readout.shape[1]
    if loss == "squared_error":
        return model.nudge(p, beta, one_hot_targets(labels, n_classes))
    first, _ = model.nudge(p, beta, -cross_entropy_slope(free_readout, labels, gain))
    return first, 0.0
