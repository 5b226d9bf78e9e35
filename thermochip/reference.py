"""A slow, obvious float64 integrator: the oracle the engine's kernels are tested against.

It loops over couplers and keeps the whole trajectory, so delays are plain look-ups into the
past. Same dynamics and step as :mod:`thermochip._kernels.langevin`, written independently.
"""

from __future__ import annotations

import numpy as np

from device_models import carrier
from thermochip.chip import Chip


def reference_simulate(chip: Chip, x0: np.ndarray, noise: np.ndarray,
                       h_ext: np.ndarray | None = None) -> np.ndarray:
    """Trajectory (step+1, replica, cell) from x0 (replica, cell) driven by the standard
    normals ``noise`` (replica, step, cell)."""
    model = chip.model
    p = model.to_kernel(chip.params, np.float64)
    B, K, N = noise.shape
    latency = chip.couplers.dense(chip.latency_steps[chip.latency_bin])
    f0 = chip.fields[0] + (0.0 if h_ext is None else h_ext)
    traj = [np.array(x0, dtype=np.float64)]
    for k in range(K):
        x = traj[-1]
        G = _coupling_fields(chip, lambda i, j: traj[max(k - latency[i, j], 0)][:, j], B)
        force = chip.gain * (model.local_force(p, x, f0, chip.fields[1])
                             + model.coupling_force(p, x, G[:model.n_channels])) + chip.offset
        traj.append(x + chip.dt * force + chip.noise_std * np.sqrt(chip.dt) * noise[:, k])
    return np.array(traj)


def reference_drift(chip: Chip, x: np.ndarray, f0: np.ndarray, f1: np.ndarray) -> np.ndarray:
    """The deterministic drift F(x) (replica, cell) of a chip whose history is constant (at a
    fixed point a loop latency changes nothing), with fields f0, f1 (cell,) or (replica,
    cell)."""
    model = chip.model
    p = model.to_kernel(chip.params, np.float64)
    G = _coupling_fields(chip, lambda i, j: x[:, j], x.shape[0])
    return chip.gain * (model.local_force(p, x, f0, f1)
                        + model.coupling_force(p, x, G[:model.n_channels])) + chip.offset


def _coupling_fields(chip: Chip, source, B: int) -> np.ndarray:
    """(channel, replica, cell) fields G_ci = sum_j J_ij ch_c(x_j), x_j = source(i, j)."""
    model = chip.model
    p = model.to_kernel(chip.params, np.float64)
    G = np.zeros((2, B, chip.n))
    c = chip.couplers
    for i, j, a, J in zip(c.i, c.j, c.gather(chip.alpha), c.gather(chip.registers.couplings
                                                                     .values)):
        xj = source(i, j)
        if model.n_channels == 1:
            G[0, :, i] += J * model.channel(p, xj, 0)
        else:  # received I/Q rotated by the carrier phase offset alpha
            c0, c1 = model.channel(p, xj, 0), model.channel(p, xj, 1)
            C, S = J * np.cos(a), J * np.sin(a)
            i_part, q_part = carrier.rotate(C * c0, C * c1, S * c0, S * c1)
            G[0, :, i] += i_part
            G[1, :, i] += q_part
    return G
