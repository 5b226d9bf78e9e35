"""DAC register writes: add an update, rounded to the register's grid, and clip to its range.
The learners write every register of a layer after each batch (784 x 500 input couplers in
the Fashion-MNIST chip), so this loop is hot."""

from __future__ import annotations

import numpy as np

from thermochip._kernels.jit import kernel


@kernel
def add_rounded(registers, steps, stochastic, seed, limit):
    """registers (n,) int64 += round(steps) (steps in LSB, float64), clipped to
    [-limit, limit]. Stochastic rounding floor(v + u), u ~ U[0, 1), is unbiased; its uniforms
    come from numba's generator seeded with ``seed``, in a serial loop, so the result depends
    only on the seed. Returns how many registers were clipped."""
    np.random.seed(seed)
    clipped = 0
    for i in range(registers.shape[0]):
        v = steps[i]
        q = np.floor(v + np.random.random()) if stochastic else np.rint(v)
        r = registers[i] + np.int64(q)
        if r > limit:
            r = limit
            clipped += 1
        elif r < -limit:
            r = -limit
            clipped += 1
        registers[i] = r
    return clipped
