"""DAC register writes: add an update, rounded to the register's grid, and clip to its range.
The learners write every register of a layer after each batch (784 x 500 input couplers in
the Fashion-MNIST chip), so this loop is hot: one parallel pass does the rounding, the clip
and the DAC codes a shadow register drives."""

from __future__ import annotations

import numpy as np

from device_models.dac import round_code
from thermochip._kernels import dispatch  # noqa: F401 (compiles the device helpers)
from thermochip._kernels.jit import kernel, prange
from thermochip._kernels.rng import uniform


@kernel(parallel=True)
def add_rounded(registers, delta, scale, stochastic, key, limit, ratio, codes):
    """registers (row, col) int64 += round(delta * scale) (delta float32 or float64, scale:
    registers per unit of delta), clipped to [-limit, limit]; codes (row, col) int32 =
    rint(registers * ratio), the DAC codes the registers drive (ratio 1: the registers are the
    codes). Stochastic rounding floor(v + u) is unbiased; u is uniform number
    (row * cols + col) of the stream ``key`` (uint64), so the result depends on the key only,
    not on the thread count. Returns how many registers were clipped."""
    rows, cols = registers.shape
    clipped = 0
    for r in prange(rows):
        for c in range(cols):
            v = np.float64(delta[r, c]) * scale
            u = uniform(key, np.uint64(r * cols + c)) if stochastic else 0.0
            q = round_code(v, u, stochastic)
            reg = registers[r, c] + np.int64(q)
            if reg > limit:
                reg = limit
                clipped += 1
            elif reg < -limit:
                reg = -limit
                clipped += 1
            registers[r, c] = reg
            codes[r, c] = np.int32(np.rint(reg * ratio))
    return clipped


@kernel(parallel=True)
def adam_step(delta, mean, square, mean_weight, square_weight, d1, d2, eps, step):
    """Per register (row, col): fold the estimate delta into its running mean (decay d1) and
    running mean square (decay d2), in place; the weights are the running means of a constant
    1 (1 - d^writes, the bias corrections). step (row, col) = m / (sqrt(v) + eps) with the
    bias-corrected means (Kingma & Ba 2015). Arithmetic in float64 whatever the arrays hold."""
    rows, cols = delta.shape
    for r in prange(rows):
        for c in range(cols):
            g = np.float64(delta[r, c])
            m = d1 * np.float64(mean[r, c]) + (1.0 - d1) * g
            v = d2 * np.float64(square[r, c]) + (1.0 - d2) * g * g
            wm = d1 * np.float64(mean_weight[r, c]) + (1.0 - d1)
            wv = d2 * np.float64(square_weight[r, c]) + (1.0 - d2)
            mean[r, c], square[r, c] = m, v
            mean_weight[r, c], square_weight[r, c] = wm, wv
            step[r, c] = (m / wm) / (np.sqrt(v / wv) + eps)
