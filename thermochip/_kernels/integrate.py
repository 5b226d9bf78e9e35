"""Euler--Maruyama integration of B chip replicas x N cells: the engine's hot loops.

One call advances a chunk of K steps. Two layouts of the same step, chosen by chip size:

- :func:`integrate` (large chips): each step computes the coupling sums of all replicas as
  matrix-matrix products, so every coupling matrix is read once per step, then updates the
  cells in parallel over replicas;
- :func:`integrate_replicas` (small chips, couplings in cache): parallel over replicas
  outermost, each thread runs its replica's whole time loop with plain coupling loops, with no
  barrier per step.

Each step:

1. coupling fields, for every channel c and delay line b:
   ``G_c += ch_c(x(t - d_b)) @ J_b^T`` -- matrix-matrix products over all replicas at once, so
   each coupling matrix is read once per step; an interconnect delay at the carrier adds the
   quadrature part (``G_0 += ch_1 @ Js_b^T``, ``G_1 -= ch_0 @ Js_b^T``), the rotation of the
   received I/Q signal by the phase offset;
2. the cell update, parallel over replicas:
   ``x += dt [g_i (F_local + F_coupling) + offset_i + drift_noise] + sigma_i sqrt(dt) xi``;
3. the ADC: read-outs are averaged over each sample's window into ``adc_buf``.

Arrays (``float`` is the engine dtype, float32 or float64):
    x         (replica, cell) state, updated in place
    hist      (slot, channel, replica, cell) ring buffer of channels; state index k is in slot
              k % n_slots
    delays    (bin,) int64 delay of each delay line in steps
    JT, JsT   (bin, cell, cell) transposed reciprocal / quadrature couplings (JsT may have 0 bins)
    fields    (2, cell); h_ext (replica, cell) or (0, cell): per-replica input field on field 0
    gain, offset, noise_std  (cell,)
    noise     (replica, step, cell) standard normals; drift (replica, step, cell) or (0, 0, 0)
    adc_steps (sample,) int64 state index of each sample; adc_buf (replica, sample, cell, readout)
    cursor    (1,) int64 next sample; status (3,) int64 <- (step, replica, cell) of a NaN/inf
Returns 0, or 1 when a state became non-finite (the chunk stops at that step).
"""

from __future__ import annotations

import numpy as np

from thermochip._kernels.dispatch import channel, coupling_force, local_force, readout
from thermochip._kernels.jit import kernel, prange, scalar


@scalar
def _cell_update(p, xi, f0, f1, g0, g1, gain, offset, drift, dt, std_sqdt, xi_noise):
    """One cell's Euler--Maruyama step given its fields and channel sums."""
    force = gain * (local_force(p, xi, f0, f1) + coupling_force(p, xi, g0, g1)) + offset + drift
    return xi + dt * force + std_sqdt * xi_noise


@kernel(parallel=True)
def integrate(p, x, hist, k0, delays, JT, JsT, fields, h_ext, gain, offset, noise_std, dt,
              noise, drift, adc_steps, adc_win, adc_mode, adc_buf, cursor, status):
    B, N = x.shape
    n_slots, nc = hist.shape[0], hist.shape[1]
    K = noise.shape[1]
    nb = JT.shape[0]
    quad = JsT.shape[0] > 0
    has_hext = h_ext.shape[0] > 0
    has_drift = drift.shape[0] > 0
    R = adc_buf.shape[3]
    n_samples = adc_steps.shape[0]
    zero = dt - dt  # a zero of the engine dtype (a literal 0.0 would be float64)
    sqdt = np.sqrt(dt)
    inv_win = (dt - dt + 1) / adc_win  # in the engine dtype
    G = np.empty((nc, B, N), dtype=x.dtype)
    tmp = np.empty((B, N), dtype=x.dtype)
    bad = np.full(B, -1, dtype=np.int64)

    for k in range(K):
        kk = k0 + k
        # 1. coupling fields from the (delayed) channels
        for b in range(nb):
            slot = (kk - delays[b]) % n_slots
            for c in range(nc):
                if b == 0:
                    np.dot(hist[slot, c], JT[b], G[c])
                else:
                    np.dot(hist[slot, c], JT[b], tmp)
                    G[c] += tmp
            if quad:
                np.dot(hist[slot, 1], JsT[b], tmp)
                G[0] += tmp
                np.dot(hist[slot, 0], JsT[b], tmp)
                G[1] -= tmp
        # 3. (prepared) is the new state inside the next ADC sample's window?
        kn = kk + 1
        s = cursor[0]
        in_win = s < n_samples and kn > adc_steps[s] - adc_win
        last = in_win and kn == adc_steps[s]
        nslot = kn % n_slots
        # 2. cell update, parallel over replicas
        for b in prange(B):
            for i in range(N):
                f0 = fields[0, i] + h_ext[b, i] if has_hext else fields[0, i]
                xn = _cell_update(p, x[b, i], f0, fields[1, i], G[0, b, i],
                                  G[1, b, i] if nc > 1 else zero, gain[i], offset[i],
                                  drift[b, k, i] if has_drift else zero, dt,
                                  noise_std[i] * sqdt, noise[b, k, i])
                if not np.isfinite(xn) and bad[b] < 0:
                    bad[b] = i
                x[b, i] = xn
                for c in range(nc):
                    hist[nslot, c, b, i] = channel(p, xn, c)
                if in_win:
                    for r in range(R):
                        acc = adc_buf[b, s, i, r] + readout(p, xn, adc_mode, r)
                        adc_buf[b, s, i, r] = acc * inv_win if last else acc
        if last:
            cursor[0] = s + 1
        for b in range(B):
            if bad[b] >= 0:
                status[0] = kn
                status[1] = b
                status[2] = bad[b]
                return 1
    return 0


@kernel(parallel=True)
def integrate_replicas(p, x, hist, k0, delays, JT, JsT, fields, h_ext, gain, offset, noise_std,
                       dt, noise, drift, adc_steps, adc_win, adc_mode, adc_buf, cursor, status):
    """Same arguments, effect and return value as :func:`integrate`."""
    B, N = x.shape
    n_slots, nc = hist.shape[0], hist.shape[1]
    K = noise.shape[1]
    nb = JT.shape[0]
    quad = JsT.shape[0] > 0
    has_hext = h_ext.shape[0] > 0
    has_drift = drift.shape[0] > 0
    R = adc_buf.shape[3]
    n_samples = adc_steps.shape[0]
    zero = dt - dt
    sqdt = np.sqrt(dt)
    inv_win = (dt - dt + 1) / adc_win
    G = np.zeros((B, 2, N), dtype=x.dtype)
    bad_step = np.full(B, -1, dtype=np.int64)
    bad_cell = np.zeros(B, dtype=np.int64)
    s_start = cursor[0]
    for b in prange(B):
        s = s_start
        for k in range(K):
            kk = k0 + k
            for i in range(N):
                g0 = zero
                g1 = zero
                for d in range(nb):
                    slot = (kk - delays[d]) % n_slots
                    for j in range(N):
                        Jij = JT[d, j, i]
                        if Jij != zero:
                            g0 += Jij * hist[slot, 0, b, j]
                            if nc > 1:
                                g1 += Jij * hist[slot, 1, b, j]
                        if quad:
                            Sij = JsT[d, j, i]
                            if Sij != zero:
                                g0 += Sij * hist[slot, 1, b, j]
                                g1 -= Sij * hist[slot, 0, b, j]
                G[b, 0, i] = g0
                G[b, 1, i] = g1
            kn = kk + 1
            in_win = s < n_samples and kn > adc_steps[s] - adc_win
            last = in_win and kn == adc_steps[s]
            nslot = kn % n_slots
            for i in range(N):
                f0 = fields[0, i] + h_ext[b, i] if has_hext else fields[0, i]
                xn = _cell_update(p, x[b, i], f0, fields[1, i], G[b, 0, i], G[b, 1, i],
                                  gain[i], offset[i], drift[b, k, i] if has_drift else zero, dt,
                                  noise_std[i] * sqdt, noise[b, k, i])
                if not np.isfinite(xn) and bad_step[b] < 0:
                    bad_step[b] = kn
                    bad_cell[b] = i
                x[b, i] = xn
                for c in range(nc):
                    hist[nslot, c, b, i] = channel(p, xn, c)
                if in_win:
                    for r in range(R):
                        acc = adc_buf[b, s, i, r] + readout(p, xn, adc_mode, r)
                        adc_buf[b, s, i, r] = acc * inv_win if last else acc
            if last:
                s += 1
            if bad_step[b] >= 0:
                break
    # every replica followed the same sample schedule: advance the shared cursor once
    s = s_start
    while s < n_samples and adc_steps[s] <= k0 + K:
        s += 1
    cursor[0] = s
    first = -1
    for b in range(B):
        if bad_step[b] >= 0 and (first < 0 or bad_step[b] < bad_step[first]):
            first = b
    if first >= 0:
        status[0] = bad_step[first]
        status[1] = first
        status[2] = bad_cell[first]
        return 1
    return 0
