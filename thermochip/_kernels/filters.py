"""First-order recursive filters of noise blocks (the 1/f noise's Ornstein--Uhlenbeck poles)."""

from __future__ import annotations

from thermochip._kernels.jit import kernel


@kernel
def ar1(x, b, a, y0, out):
    """out[r, k, i] = b x[r, k, i] + a out[r, k - 1, i], starting from out[r, -1, i] = y0[r, i]:
    the exact discrete-time update of an Ornstein--Uhlenbeck process driven by the normals x
    (row, step, cell), float64."""
    rows, steps, cells = x.shape
    for r in range(rows):
        for i in range(cells):
            y = y0[r, i]
            for k in range(steps):
                y = b * x[r, k, i] + a * y
                out[r, k, i] = y
