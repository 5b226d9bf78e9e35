"""The Langevin dynamics kind: Euler--Maruyama integration of B chip replicas x N cells.

One call advances a chunk of K steps. Two layouts of the same step, chosen by chip size:

- :func:`integrate` (large chips): each step computes the coupling sums of all replicas as
  matrix-matrix products, one per coupling block (all-to-all: one; layered: the blocks between
  adjacent layers), so every coupling is read once per step; then the cells update in
  parallel. Arrays are cell-major so each block is a contiguous row range. A sparse chip's
  couplings are neighbour lists (``couplings.lists``): each cell sums its incoming edges.
- :func:`integrate_replicas` (small chips, couplings in cache): parallel over replicas, each
  thread runs its replica's whole time loop with plain loops over the blocks or neighbour
  lists, with no barrier per step.

Both take the arguments of :mod:`thermochip._kernels.args`. Each step, in dimensionless time:

1. coupling fields ``G_c,i = sum_j J_ij ch_c(x_j(t - d_ij))`` for every channel c, with the
   delay d_ij of the coupler's delay line; at a carrier the received I/Q are rotated by each
   coupler's phase offset (:func:`device_models.carrier.rotate`, from the products with
   J cos alpha and J sin alpha);
2. the cell update
   ``x += dt [g_i (F_local + F_coupling) + offset_i + drift_noise] + sigma_i sqrt(dt) xi``
   (sigma_i = ``cells.noise``);
3. the ADC: read-outs are averaged over each sample's window into ``adc.buf``
   (replica, sample, cell, readout); ``adc.steps`` (sample,) holds each sample's state index,
   ``adc.cursor`` (1,) the next sample.
4. optionally, the adjoint correction of AsymEP / Dyadic EP, ``c_i = -2 sum_j A_ij (x_j - r_j)``
   with A the antisymmetric part of the coupling Jacobian at the reference state r (see
   :func:`thermochip.engine.Engine.run`): computed like the coupling fields, as products of the
   packed matrices ``Q^{kl} = M^{lk}.T - M^{kl}`` (M^{kl}: channel l's contribution to field k)
   with ``w_l,j = channel_deriv_l(r_j) (x_j - r_j)``, then ``c_i = coupling_force(r_i, H_i)``.
   The reference is a fixed state per replica, or (twins) the live midpoint of replicas b and
   b + B/2.

They return 0, or 1 when a state became non-finite (the chunk stops there; ``status`` says
where). The ring buffer ``hist`` keeps the channels of state index k in slot k % n_slots; a
call from state index 0 fills every slot with the initial state's (constant history).

White noise: ``xi`` of replica b, chunk step k, cell i is normal ``(counter0 + k) * N + i`` of
the stream ``keys[b]`` (:mod:`thermochip._kernels.rng`), or the injected value when
``random.injected`` (replica, step, cell) is not empty. Update schemes (``steps.method``): 0
Euler--Maruyama, each step's own normal; 1 Leimkuhler--Matthews, (xi_k + xi_{k+1}) / 2 at the
same amplitude (an injected block then holds one step more).
"""

from __future__ import annotations

import numpy as np

from device_models.carrier import rotate
from thermochip._kernels import Layout
from thermochip._kernels.adc import accumulate, advance, open_until
from thermochip._kernels.dispatch import cell_force, channel, channel_deriv, coupling_force
from thermochip._kernels.jit import kernel, prange, reduction, scalar
from thermochip._kernels.rng import mean_of_two, normal_as


@scalar
def _wrap(d, period, half):
    """A state difference folded into [-period/2, period/2) (period 0: not periodic)."""
    if period > 0:
        return d - period * np.floor(d / period + half)
    return d


@scalar
def _reference(x, xref, i, b, twin, period, half):
    """(reference state r, displacement x - r) of cell i of replica b, from the caller's
    (cell, replica) view of the state: a fixed reference, or the midpoint of twin replicas."""
    if twin == 0:
        return xref[i, b], _wrap(x[i, b] - xref[i, b], period, half)
    q = b + twin if b < twin else b - twin      # the partner replica
    d = _wrap(x[i, b] - x[i, q], period, half) * half
    return x[i, b] - d, d


@scalar
def _channels_into(p, xs, out0, out_last, last):
    """Channels 0 and ``last`` of a row of states into two rows of the delay line: a
    straight-line loop (one cos_sin per state for an oscillator, shared by both calls)."""
    for j in range(xs.shape[0]):
        out0[j] = channel(p, xs[j], 0)
        out_last[j] = channel(p, xs[j], last)


@reduction
def _dot2(a, u, v):
    """(a . u, a . v) of three equally long vectors."""
    su = a[0] - a[0]
    sv = su
    for j in range(a.shape[0]):
        su += a[j] * u[j]
        sv += a[j] * v[j]
    return su, sv


@scalar
def _first_nonfinite(xs):
    for j in range(xs.shape[0]):
        if not np.isfinite(xs[j]):
            return j
    return -1


@scalar
def _cell_update(p, xi, ch0, ch1, f0, f1, g0, g1, gain, offset, drift, dt, std_sqdt, xi_noise):
    """One cell's Euler--Maruyama step given its channels, fields and channel sums."""
    force = gain * cell_force(p, xi, ch0, ch1, f0, f1, g0, g1) + offset + drift
    return xi + dt * force + std_sqdt * xi_noise


@kernel(parallel=True)
def integrate(p, x, hist, steps, couplings, cells, random, adc, adjoint, status):
    """Batched layout. State arrays are cell-major so that every coupling block is a contiguous
    row range: x (cell, replica), hist (slot, channel, cell, replica), h_ext (field, cell,
    replica) per-replica changes of field 0 (and field 1 if given), or (0, 0, 0); drift stays
    as drawn, (replica, step, cell), or (0, 0, 0). blocks (block, 8) int64 rows
    [r0, r1, c0, c1, offset, delay, first, 1]: J[r0:r1, c0:c1] stored row-major at
    Jflat[offset:], applied to the channels of cells c0:c1 from `delay` steps ago, written
    straight into the fields if `first` (the first block of its rows), else added; Jsflat (same
    offsets, or empty) holds the quadrature part J sin(alpha). Correction (skipped when qpairs
    is empty): qblocks (block, 5) [r0, r1, c0, c1, offset] into the rows of Qflat (pair, ...),
    one row per (k, l) channel pair of qpairs (pair, 2); xref (cell, replica) the fixed
    reference (twin 0) or twin > 0 the replica offset of each twin."""
    k0, K, dt, method, _ = steps  # threads split the cells
    blocks, Jflat, Jsflat, lists = couplings
    lrows, lcols, lvals, lsvals, ldelays, _, _ = lists
    fields, h_ext, gain, offset, noise_std = cells
    noise, keys, counter0, drift = random
    adc_steps, adc_win, adc_mode, adc_buf, cursor = adc
    qblocks, qpairs, Qflat, xref, twin, period, half = adjoint
    N, B = x.shape
    n_slots, nc = hist.shape[0], hist.shape[1]
    injected = noise.shape[0] > 0
    lm = method == 1  # Leimkuhler--Matthews: the mean of this and the next step's normals
    quad = Jsflat.shape[0] > 0
    n_lines, lquad = lrows.shape[0], lsvals.shape[0] > 0
    n_ext = h_ext.shape[0]
    has_drift = drift.shape[0] > 0
    corr = qpairs.shape[0] > 0
    zero = dt - dt  # a zero of the engine dtype (a literal 0.0 would be float64)
    sqdt = np.sqrt(dt)
    one = dt - dt + 1
    G = np.zeros((2, N, B), dtype=x.dtype)  # rows no block writes stay zero
    tmp = np.empty((N, B), dtype=x.dtype)
    tmp2 = np.empty((N if quad else 0, B), dtype=x.dtype)
    Z = np.empty((N, B), dtype=x.dtype)                       # one step's normals
    D = np.empty((N if has_drift else 0, B), dtype=x.dtype)   # one step's drift
    CC = np.empty((N if corr else 0, B), dtype=x.dtype)       # one step's correction force
    none = np.zeros(B, dtype=x.dtype)                         # stands in for an absent drive
    amp = noise_std * sqdt
    bad = np.full(N, -1, dtype=np.int64)
    if k0 == 0:  # the history before t = 0 holds the initial state
        for i in prange(N):
            for b in range(B):
                for c in range(nc):
                    v = channel(p, x[i, b], c)
                    for slot in range(n_slots):
                        hist[slot, c, i, b] = v
    nq = N if corr else 0
    R = np.zeros((nq, B), dtype=x.dtype)       # reference state
    W = np.zeros((2, nq, B), dtype=x.dtype)    # channel_deriv(r) * (x - r)
    H = np.zeros((2, nq, B), dtype=x.dtype)    # correction fields

    for k in range(K):
        kk = k0 + k
        # 1. coupling fields: one matrix product per block, channel (and quadrature part)
        for q in range(blocks.shape[0]):
            r0, r1, c0, c1, off, delay, first, _ = blocks[q]
            slot = (kk - delay) % n_slots
            JB = Jflat[off:off + (r1 - r0) * (c1 - c0)].reshape((r1 - r0, c1 - c0))
            out = tmp[r0:r1]
            for c in range(nc):
                if first:  # no zeroing and no extra pass over the fields
                    np.dot(JB, hist[slot, c, c0:c1], G[c, r0:r1])
                else:
                    np.dot(JB, hist[slot, c, c0:c1], out)
                    G[c, r0:r1] += out
            if quad:  # the received I/Q rotated by each coupler's phase offset
                JS = Jsflat[off:off + (r1 - r0) * (c1 - c0)].reshape((r1 - r0, c1 - c0))
                s0, s1 = out, tmp2[r0:r1]
                np.dot(JS, hist[slot, 0, c0:c1], s0)
                np.dot(JS, hist[slot, 1, c0:c1], s1)
                for i in prange(r1 - r0):
                    for b in range(B):
                        G[0, r0 + i, b], G[1, r0 + i, b] = rotate(
                            G[0, r0 + i, b], G[1, r0 + i, b], s0[i, b], s1[i, b])
        # 1'. an edge-stored chip's neighbour lists: each cell sums its incoming couplers
        if n_lines > 0:
            for i in prange(N):
                g0, g1 = G[0, i], G[nc - 1, i]
                for b in range(B):
                    g0[b] = zero
                    g1[b] = zero
                for line in range(n_lines):
                    slot = (kk - ldelays[line]) % n_slots
                    for e in range(lrows[line, i], lrows[line, i + 1]):
                        v, u0, u1 = lvals[e], hist[slot, 0, lcols[e]], hist[slot, nc - 1, lcols[e]]
                        if lquad:
                            sv = lsvals[e]
                            for b in range(B):
                                g0[b], g1[b] = rotate(g0[b] + v * u0[b], g1[b] + v * u1[b],
                                                      sv * u0[b], sv * u1[b])
                            continue
                        for b in range(B):
                            g0[b] += v * u0[b]
                        if nc > 1:
                            for b in range(B):
                                g1[b] += v * u1[b]
        # 4. the adjoint correction's fields, from the displacements of the current state
        if corr:
            for i in prange(N):
                for b in range(B):
                    r, d = _reference(x, xref, i, b, twin, period, half)
                    R[i, b] = r
                    for c in range(nc):
                        W[c, i, b] = channel_deriv(p, r, c) * d
            H[:] = zero
            for q in range(qblocks.shape[0]):
                r0, r1, c0, c1, off = qblocks[q]
                out = tmp[r0:r1]
                for pq in range(qpairs.shape[0]):
                    kc, lc = qpairs[pq]
                    QB = Qflat[pq, off:off + (r1 - r0) * (c1 - c0)].reshape((r1 - r0, c1 - c0))
                    np.dot(QB, W[lc, c0:c1], out)
                    H[kc, r0:r1] += out
        # 3. (prepared) is the new state inside the next ADC sample's window?
        kn = kk + 1
        s = cursor[0]
        s_end = open_until(adc_steps, s, kn, adc_win)
        cur, nslot = kk % n_slots, kn % n_slots  # slots of the current and the new state
        # 2. cell update, parallel over cells; each cell's replicas are contiguous in the
        # cell-major arrays, so after the normals (the ziggurat branches) the update and the
        # channels are straight-line loops LLVM vectorises
        cn = np.uint64((counter0 + k) * N)
        for i in prange(N):
            z, ex, cc = Z[i], none, none
            if injected:
                for b in range(B):
                    z[b] = noise[b, k, i]
                if lm:
                    for b in range(B):
                        z[b] = half * (z[b] + noise[b, k + 1, i])
            elif lm:  # with the next step's normal, the number that step draws
                for b in range(B):
                    z[b] = mean_of_two(keys[b], cn + np.uint64(i), np.uint64(N))
            else:
                for b in range(B):
                    z[b] = normal_as(keys[b], cn + np.uint64(i), zero)
            if has_drift:
                ex = D[i]
                for b in range(B):
                    ex[b] = drift[b, k, i]
            if corr:
                cc = CC[i]
                for b in range(B):
                    cc[b] = coupling_force(p, R[i, b], H[0, i, b], H[1, i, b])
            e0 = h_ext[0, i] if n_ext > 0 else none
            e1 = h_ext[1, i] if n_ext > 1 else none
            xr, ch0, ch1 = x[i], hist[cur, 0, i], hist[cur, nc - 1, i]
            g0, g1 = G[0, i], G[1, i]
            f0, f1, gi, oi, ai = fields[0, i], fields[1, i], gain[i], offset[i], amp[i]
            nonfinite = 0
            for b in range(B):
                xn = _cell_update(p, xr[b], ch0[b], ch1[b], f0 + e0[b], f1 + e1[b], g0[b],
                                  g1[b], gi, oi, ex[b] + cc[b], dt, ai, z[b])
                nonfinite += not np.isfinite(xn)
                xr[b] = xn
            _channels_into(p, xr, hist[nslot, 0, i], hist[nslot, nc - 1, i], nc - 1)
            if nonfinite:
                bad[i] = _first_nonfinite(xr)
            if s_end > s:
                n0, n1 = hist[nslot, 0, i], hist[nslot, nc - 1, i]
                for b in range(B):
                    accumulate(p, xr[b], n0[b], n1[b], adc_buf, b, i, adc_mode, s, s_end, kn,
                               adc_steps, adc_win, one)
        cursor[0] = advance(adc_steps, s, kn)
        for i in range(N):
            if bad[i] >= 0:
                status[0] = kn
                status[1] = bad[i]
                status[2] = i
                return 1
    return 0


@kernel(parallel=True)
def integrate_replicas(p, x, hist, steps, couplings, cells, random, adc, adjoint, status):
    """Replica layout: x (replica, cell), hist (slot, channel, replica, cell), drift
    (replica, step, cell) or (0, 0, 0), h_ext (field, replica, cell) (1 or 2 fields) or
    (0, 0, 0). blocks as in :func:`integrate`, with an eighth column ``rows``: a block with
    fewer rows than columns is stored row-major (rows = 1) and each row's coupling sum is one
    dot product; the others are stored transposed, J[r0:r1, c0:c1].T row-major at
    JTflat[offset:] (JsTflat likewise, or empty), so a column j's couplings are contiguous and
    the sums are vectorisable updates ``G[r0:r1] += J[r0:r1, j] ch(x_j)``. Correction
    (skipped when qpairs is empty): qblocks and QTflat (pair, ...) as in :func:`integrate`,
    blocks transposed; xref (replica, cell). Twins (twin > 0) share a thread and step in
    lockstep, since each one's correction reads the other's state."""
    k0, K, dt, method, _ = steps  # threads split the cells
    blocks, JTflat, JsTflat, lists = couplings
    lrows, lcols, lvals, lsvals, ldelays, _, _ = lists
    fields, h_ext, gain, offset, noise_std = cells
    noise, keys, counter0, drift = random
    adc_steps, adc_win, adc_mode, adc_buf, cursor = adc
    qblocks, qpairs, QTflat, xref, twin, period, half = adjoint
    B, N = x.shape
    n_slots, nc = hist.shape[0], hist.shape[1]
    injected = noise.shape[0] > 0
    lm = method == 1  # Leimkuhler--Matthews: the mean of this and the next step's normals
    quad = JsTflat.shape[0] > 0
    n_lines, lquad = lrows.shape[0], lsvals.shape[0] > 0
    n_ext = h_ext.shape[0]
    has_drift = drift.shape[0] > 0
    corr = qpairs.shape[0] > 0
    zero = dt - dt
    sqdt = np.sqrt(dt)
    one = dt - dt + 1
    G = np.zeros((B, 2, N), dtype=x.dtype)  # rows no block writes stay zero
    nq = N if corr else 0
    R = np.zeros((B, nq), dtype=x.dtype)
    W = np.zeros((B, 2, nq), dtype=x.dtype)
    H = np.zeros((B, 2, nq), dtype=x.dtype)
    C = np.zeros((B, nq), dtype=x.dtype)
    xv, rv = x.T, xref.T                         # (cell, replica) views for _reference
    Z = np.empty((B, N), dtype=x.dtype)          # each replica's normals of one step
    none = np.zeros(N, dtype=x.dtype)            # stands in for an absent drive
    amp = noise_std * sqdt
    bad_step = np.full(B, -1, dtype=np.int64)
    bad_cell = np.zeros(B, dtype=np.int64)
    s_start = cursor[0]
    members = 2 if twin > 0 else 1
    for g in prange(B // members):
        s = s_start
        if k0 == 0:  # the history before t = 0 holds the initial state
            for m in range(members):
                b = g + m * twin
                _channels_into(p, x[b], hist[0, 0, b], hist[0, nc - 1, b], nc - 1)
                for slot in range(1, n_slots):
                    hist[slot, :, b] = hist[0, :, b]
        for k in range(K):
            kk = k0 + k
            for m in range(members):
                b = g + m * twin
                for q in range(blocks.shape[0]):
                    r0, r1, c0, c1, off, delay, first, rows = blocks[q]
                    slot = (kk - delay) % n_slots
                    nr, ncol = r1 - r0, c1 - c0
                    if first:
                        for c in range(nc):
                            for i in range(r0, r1):
                                G[b, c, i] = zero
                    # views indexed from 0 by loop counters: no negative-index wraparound test
                    # per element, so the loops vectorise
                    g0, g1 = G[b, 0, r0:r1], G[b, nc - 1, r0:r1]
                    if rows:  # few long rows: one dot product per row and channel
                        u0, u1 = hist[slot, 0, b, c0:c1], hist[slot, nc - 1, b, c0:c1]
                        for i in range(nr):
                            row = off + i * ncol
                            d0, d1 = _dot2(JTflat[row:row + ncol], u0, u1)
                            if quad:
                                s0, s1 = _dot2(JsTflat[row:row + ncol], u0, u1)
                                d0, d1 = rotate(d0, d1, s0, s1)
                            g0[i] += d0
                            if nc > 1:
                                g1[i] += d1
                        continue
                    for j in range(c0, c1):
                        col = off + (j - c0) * nr
                        jt = JTflat[col:col + nr]
                        u0, u1 = hist[slot, 0, b, j], hist[slot, nc - 1, b, j]
                        if quad:  # the received I/Q rotated by each coupler's phase offset
                            js = JsTflat[col:col + nr]
                            for i in range(nr):
                                g0[i], g1[i] = rotate(g0[i] + jt[i] * u0, g1[i] + jt[i] * u1,
                                                      js[i] * u0, js[i] * u1)
                            continue
                        for i in range(nr):
                            g0[i] += jt[i] * u0
                        if nc > 1:
                            for i in range(nr):
                                g1[i] += jt[i] * u1
                for i in range(N if n_lines > 0 else 0):  # an edge-stored chip's lists
                    a0, a1 = zero, zero
                    for line in range(n_lines):
                        slot = (kk - ldelays[line]) % n_slots
                        u0s, u1s = hist[slot, 0, b], hist[slot, nc - 1, b]
                        for e in range(lrows[line, i], lrows[line, i + 1]):
                            v, u0, u1 = lvals[e], u0s[lcols[e]], u1s[lcols[e]]
                            if lquad:
                                a0, a1 = rotate(a0 + v * u0, a1 + v * u1, lsvals[e] * u0,
                                                lsvals[e] * u1)
                            else:
                                a0 += v * u0
                                a1 += v * u1
                    G[b, 0, i] = a0
                    if nc > 1:
                        G[b, 1, i] = a1
            if corr:  # every member's displacement first: a twin's update moves the midpoint
                for m in range(members):
                    b = g + m * twin
                    for i in range(N):
                        r, dd = _reference(xv, rv, i, b, twin, period, half)
                        R[b, i] = r
                        for c in range(nc):
                            W[b, c, i] = channel_deriv(p, r, c) * dd
                for m in range(members):
                    b = g + m * twin
                    for c in range(nc):
                        for i in range(N):
                            H[b, c, i] = zero
                    for q in range(qblocks.shape[0]):
                        r0, r1, c0, c1, off = qblocks[q]
                        nr = r1 - r0
                        for pq in range(qpairs.shape[0]):
                            kc, lc = qpairs[pq]
                            h = H[b, kc, r0:r1]
                            for j in range(c0, c1):
                                col = off + (j - c0) * nr
                                qt = QTflat[pq, col:col + nr]
                                w = W[b, lc, j]
                                for i in range(nr):
                                    h[i] += qt[i] * w
                    for i in range(N):
                        C[b, i] = coupling_force(p, R[b, i], H[b, 0, i], H[b, 1, i])
            kn = kk + 1
            s_end = open_until(adc_steps, s, kn, adc_win)
            cur, nslot = kk % n_slots, kn % n_slots
            for m in range(members):
                b = g + m * twin
                # the cell update in passes over the replica's cells: the normals (the
                # ziggurat branches), then straight-line loops LLVM vectorises
                z = Z[b]
                if injected:
                    z[:] = noise[b, k]
                    if lm:
                        for i in range(N):
                            z[i] = half * (z[i] + noise[b, k + 1, i])
                else:
                    c0 = np.uint64((counter0 + k) * N)
                    if lm:  # with the next step's normal, the number that step draws
                        for i in range(N):
                            z[i] = mean_of_two(keys[b], c0 + np.uint64(i), np.uint64(N))
                    else:
                        for i in range(N):
                            z[i] = normal_as(keys[b], c0 + np.uint64(i), zero)
                e0 = h_ext[0, b] if n_ext > 0 else none
                e1 = h_ext[1, b] if n_ext > 1 else none
                ex = drift[b, k] if has_drift else none
                cc = C[b] if corr else none
                xb, ch0, ch1 = x[b], hist[cur, 0, b], hist[cur, nc - 1, b]
                g0, g1 = G[b, 0], G[b, 1]
                nonfinite = 0
                for i in range(N):
                    xn = _cell_update(p, xb[i], ch0[i], ch1[i], fields[0, i] + e0[i],
                                      fields[1, i] + e1[i], g0[i], g1[i], gain[i], offset[i],
                                      ex[i] + cc[i], dt, amp[i], z[i])
                    nonfinite += not np.isfinite(xn)
                    xb[i] = xn
                _channels_into(p, xb, hist[nslot, 0, b], hist[nslot, nc - 1, b], nc - 1)
                if nonfinite and bad_step[b] < 0:
                    bad_step[b] = kn
                    bad_cell[b] = _first_nonfinite(xb)
                if s_end > s:
                    n0, n1 = hist[nslot, 0, b], hist[nslot, nc - 1, b]
                    for i in range(N):
                        accumulate(p, xb[i], n0[i], n1[i], adc_buf, b, i, adc_mode, s, s_end, kn,
                                   adc_steps, adc_win, one)
            s = advance(adc_steps, s, kn)
            if bad_step[g] >= 0 or bad_step[g + (members - 1) * twin] >= 0:
                break
    cursor[0] = advance(adc_steps, s_start, k0 + K)
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


#: This kind's kernels, by layout (see the module docstring), and the coupling form they read.
LAYOUTS = {"batched": Layout(integrate, "blocks", cell_major=True),
           "replicas": Layout(integrate_replicas, "blocks", cell_major=False)}

#: Runs of fewer than SMALL_BATCH replicas on chips with at most SMALL_COUPLINGS coupling
#: entries (over all blocks and delay lines) use one time loop per replica (couplings stay in
#: each core's cache; no barrier per step; the update vectorises over cells); the others use
#: matrix products over all replicas each step (the update vectorises over replicas).
#: Measured with bench/engine.py (c) and the 784-500-10 learner chip at 20-500 replicas.
SMALL_COUPLINGS = 1 << 15
SMALL_BATCH = 256


def choose_layout(cells: int, couplers: int, entries: int, lines: int, replicas: int) -> str:
    """The faster layout for a chip of ``cells`` cells, ``couplers`` devices, ``entries``
    coupling-block entries per delay line and ``lines`` delay lines, run with ``replicas``."""
    small = entries * lines <= SMALL_COUPLINGS and replicas < SMALL_BATCH
    return "replicas" if small else "batched"
