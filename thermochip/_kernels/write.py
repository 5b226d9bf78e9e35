"""DAC register writes: add an update, rounded to the register's grid, and clip to its range.
The learners write every register of a layer after each batch (784 x 500 input couplers in
the Fashion-MNIST chip), so this loop is hot: one parallel pass does the rounding, the clip
and the DAC codes a shadow register drives."""

from __future__ import annotations

import numpy as np

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
            q = np.floor(v + uniform(key, np.uint64(r * cols + c))) if stochastic else np.rint(v)
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
