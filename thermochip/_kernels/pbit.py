"""The ``pbit`` dynamics kind: binary stochastic cells updated one at a time by the Gibbs /
Glauber rule of their device (``sample(p, a, beta, u)``, e.g. :func:`device_models.pbit.
sample`; the device's kernel parameters carry its entropy source: ``shift`` and ``sources``).

Both layouts are cell-major, x (cell, replica), and update each cell for a chunk of replicas
in a loop that vectorises (the threshold draws, the new states); results do not depend on
the chunking (each replica's arithmetic is the same whatever chunk it is in).

- ``replicas`` (sparse and layered chips, :func:`update_rows`): each thread runs its chunk of
  replicas through the whole time loop (no barrier per step); a cell's coupling sum is one
  AXPY over the chunk per incoming coupler (the :class:`~thermochip._kernels.args.
  Neighbours` lists).
- ``batched`` (dense chips, :func:`update_dense`): a group of consecutive cells' coupling sums
  over all replicas are one matrix product (BLAS), then the group's cells update one after
  another from the current states.

Each step, by ``steps.method`` (the index in ``device_models.pbit.PBIT.methods``):

- 0 ``chromatic``: the update classes in order, every cell of a class from the current states
  (no two cells of a class are coupled): one Gibbs sweep, exact;
- 1 ``asynchronous``: the cells in index order, each firing with probability
  q = 1 - exp(-dt) (dt = rate * step), a fired cell updated from the current states: every
  update is a Gibbs update, so the Boltzmann law is kept exactly; as dt -> 0 this is
  continuous-time Glauber dynamics;
- 2 ``synchronous``: every cell from the step's initial states (all at once: inexact).

A coupler of delay line l reads its sending cell's state from ``delays[l]`` steps ago: delay 0
is the current state (the states being updated this step), delay d >= 1 the state at the end
of step k - d, kept in the ring buffer ``hist`` (slot, 1, cell, replica); synchronous updates
read every line at least one step back. Random numbers: the threshold uniform of cell i in
replica b at chunk step k is number ``2 ((counter0 + k) N + src_i)`` of stream ``keys[b]``
(src_i = i, or i mod sources with shared sources), its firing uniform number
``2 ((counter0 + k) N + i) + 1``; ``random.injected`` (replica, step, cell), when given,
replaces the threshold uniforms. ``random.drift`` adds to each cell's input I (1/f noise).
"""

from __future__ import annotations

import numpy as np

from thermochip._kernels import Layout
from thermochip._kernels.adc import accumulate, advance, open_until
from thermochip._kernels.dispatch import sample
from thermochip._kernels.jit import kernel, prange, scalar
from thermochip._kernels.rng import uniform

CHROMATIC, ASYNCHRONOUS, SYNCHRONOUS = 0, 1, 2


@scalar
def _activation(a, h, g, o, h_ext, drift, i, k, b0):
    """a[t] <- g (a[t] + h + h_ext[0, i, b] + drift[b, k, i]) + o over a chunk of replicas
    from b0 (absent drives: empty arrays). Separate passes: each loop vectorises."""
    w = a.shape[0]
    for t in range(w):
        a[t] += h
    if h_ext.shape[0] > 0:
        ext = h_ext[0, i, b0:b0 + w]
        for t in range(w):
            a[t] += ext[t]
    if drift.shape[0] > 0:
        for t in range(w):
            a[t] += drift[b0 + t, k, i]
    for t in range(w):
        a[t] = g * a[t] + o


@scalar
def _draw(p, a, bi, xi, out, u, keys, b0, cu, cf, fire, injected, k, i):
    """out <- the new states of cell i over a chunk of replicas from b0: threshold uniforms u
    (injected, or number cu of each replica's stream), the device's draw from activation a
    at inverse temperature bi; with fire < 1 a cell keeps its state xi unless its firing
    uniform (number cf) is below fire."""
    w = a.shape[0]
    if injected.shape[0] > 0:
        for t in range(w):
            u[t] = injected[b0 + t, k, i]
    else:
        for t in range(w):
            u[t] = uniform(keys[b0 + t], cu)
    for t in range(w):
        out[t] = sample(p, a[t], bi, u[t])
    if fire < 1.0:
        for t in range(w):
            out[t] = out[t] if uniform(keys[b0 + t], cf) < fire else xi[t]


@scalar
def _schedule(delays, method, dt):
    """(each delay line's lag in steps, the firing probability per step) of update scheme
    ``method``: synchronous updates read the previous step's states (a lag of at least one);
    asynchronous cells fire with probability 1 - exp(-dt), the others every step."""
    lags = delays.copy()
    if method == SYNCHRONOUS:
        for line in range(delays.shape[0]):
            lags[line] = max(lags[line], 1)
    fire = 1.0 - 1.0 / np.exp(np.float64(dt)) if method == ASYNCHRONOUS else 1.0
    return lags, fire


@kernel(parallel=True)
def update_rows(p, x, hist, steps, neighbours, cells, random, adc, adjoint, status):
    """The ``replicas`` layout (see the module docstring): replica chunks in parallel, each
    cell's coupling sum over its neighbour lists. x (cell, replica); hist (slot, 1, cell,
    replica); h_ext (field, cell, replica) or (0, 0, 0); beta = ``cells.noise`` (cell,)
    inverse temperature; ``adjoint`` is not used (a p-bit has no drift to correct). Returns
    0."""
    k0, K, dt, method, threads = steps
    rows, cols, vals, _, delays, order, starts = neighbours
    fields, h_ext, gain, offset, beta = cells
    injected, keys, counter0, drift = random
    adc_steps, adc_win, adc_mode, adc_buf, cursor = adc
    N, B = x.shape
    n_slots, n_lines = hist.shape[0], delays.shape[0]
    one = dt - dt + 1
    lags, fire = _schedule(delays, method, dt)
    delayed = lags.max() > 0 if n_lines > 0 else False  # the history is read only by them
    chromatic = method == CHROMATIC
    n_classes = starts.shape[0] - 1 if chromatic else 1
    sources = p.sources
    width = max(8, -(-B // threads))
    width = -(-width // 8) * 8            # a whole number of vectors
    n_chunks = -(-B // width)
    s_start = cursor[0]
    for chunk in prange(n_chunks):
        b0 = chunk * width
        b1 = min(B, b0 + width)
        w = b1 - b0
        acc = np.empty(w, dtype=x.dtype)
        new = np.empty(w, dtype=x.dtype)
        u = np.empty(w, dtype=np.float64)
        if k0 == 0 and delayed:  # the history before t = 0 holds the initial state
            for slot in range(n_slots):
                for i in range(N):
                    hist[slot, 0, i, b0:b1] = x[i, b0:b1]
        s = s_start
        for k in range(K):
            kk = k0 + k
            cn = (counter0 + k) * N
            for c in range(n_classes):
                lo = starts[c] if chromatic else 0
                hi = starts[c + 1] if chromatic else N
                for idx in range(lo, hi):
                    i = order[idx] if chromatic else idx
                    for t in range(w):
                        acc[t] = x[i, b0] - x[i, b0]  # a zero of the state's dtype
                    for line in range(n_lines):
                        lag = lags[line]
                        src = x if lag == 0 else hist[(kk + 1 - lag) % n_slots, 0]
                        for e in range(rows[line, i], rows[line, i + 1]):
                            wgt = vals[e]
                            row = src[cols[e], b0:b1]
                            for t in range(w):
                                acc[t] += wgt * row[t]
                    _activation(acc, fields[0, i], gain[i], offset[i], h_ext, drift, i, k, b0)
                    src_i = i % sources if sources > 0 else i
                    xi = x[i, b0:b1]
                    out = xi if fire >= 1.0 else new  # firing reads the old states
                    _draw(p, acc, beta[i], xi, out, u, keys, b0, np.uint64(2 * (cn + src_i)),
                          np.uint64(2 * (cn + i) + 1), fire, injected, k, i)
                    if fire < 1.0:
                        for t in range(w):
                            xi[t] = new[t]
            kn = kk + 1
            if delayed:  # the history is read only through delayed couplers
                nslot = kn % n_slots
                for i in range(N):
                    hist[nslot, 0, i, b0:b1] = x[i, b0:b1]
            s_end = open_until(adc_steps, s, kn, adc_win)
            if s_end > s:
                for t in range(w):
                    b = b0 + t
                    for i in range(N):
                        accumulate(p, x[i, b], x[i, b], x[i, b], adc_buf, b, i, adc_mode, s,
                                   s_end, kn, adc_steps, adc_win, one)
            s = advance(adc_steps, s, kn)
    cursor[0] = advance(adc_steps, s_start, k0 + K)
    return 0


@kernel(parallel=True)
def update_dense(p, x, hist, steps, dense, cells, random, adc, adjoint, status):
    """The ``batched`` layout (dense chips; see the module docstring): the cells in update
    order, in groups of up to GROUP consecutive cells; a group's coupling sums over all
    replicas are one matrix product per delay line from the states before the group (BLAS),
    then each cell of the group, one after another, adds its couplers' changes from the
    group's earlier cells (so every update still sees the current states) and draws its new
    state, the replicas in parallel chunks. Arguments as :func:`update_rows`'s, with the
    couplings as :class:`~thermochip._kernels.args.Dense` matrices. Returns 0."""
    k0, K, dt, method, threads = steps
    J, delays, order, starts = dense
    fields, h_ext, gain, offset, beta = cells
    injected, keys, counter0, drift = random
    adc_steps, adc_win, adc_mode, adc_buf, cursor = adc
    N, B = x.shape
    n_slots, n_lines = hist.shape[0], delays.shape[0]
    one = dt - dt + 1
    lags, fire = _schedule(delays, method, dt)
    chromatic = method == CHROMATIC
    sources = p.sources
    width = max(8, -(-B // threads))
    width = -(-width // 8) * 8
    n_chunks = -(-B // width)
    # the groups: runs of consecutive cells in the update order, and their couplers that see
    # current states (the same every step)
    group_start = np.empty(N, dtype=np.int64)
    group_size = np.empty(N, dtype=np.int64)
    n_groups, pos = 0, 0
    while pos < N:
        g0 = order[pos] if chromatic else pos
        size = 1
        while (pos + size < N and size < GROUP
               and (order[pos + size] if chromatic else pos + size) == g0 + size):
            size += 1
        group_start[n_groups], group_size[n_groups] = g0, size
        n_groups += 1
        pos += size
    within = np.zeros((n_groups, GROUP, GROUP), dtype=x.dtype)
    for g in range(n_groups):
        g0, size = group_start[g], group_size[g]
        for line in range(n_lines):
            if lags[line] == 0:
                for r in range(size):
                    for q in range(r):
                        within[g, r, q] += J[line, g0 + r, g0 + q]
    acc = np.empty((GROUP, B), dtype=x.dtype)
    tmp = np.empty((GROUP if n_lines > 1 else 0, B), dtype=x.dtype)
    change = np.zeros((GROUP, B), dtype=x.dtype)
    delayed = lags.max() > 0 if n_lines > 0 else False  # the history is read only by them
    if k0 == 0 and delayed:
        for slot in range(n_slots):
            hist[slot, 0] = x
    s = cursor[0]
    for k in range(K):
        kk = k0 + k
        cn = (counter0 + k) * N
        for g in range(n_groups):
            g0, size = group_start[g], group_size[g]
            for line in range(n_lines):
                lag = lags[line]
                src = x if lag == 0 else hist[(kk + 1 - lag) % n_slots, 0]
                if line == 0:
                    np.dot(J[line, g0:g0 + size], src, acc[:size])
                else:
                    np.dot(J[line, g0:g0 + size], src, tmp[:size])
                    acc[:size] += tmp[:size]
            for chunk in prange(n_chunks):
                b0 = chunk * width
                b1 = min(B, b0 + width)
                new = np.empty(b1 - b0, dtype=x.dtype)
                u = np.empty(b1 - b0, dtype=np.float64)
                for r in range(size):
                    i = g0 + r
                    a = acc[r, b0:b1]
                    for q in range(r):
                        c = within[g, r, q]
                        if c != 0:
                            dq = change[q, b0:b1]
                            for t in range(b1 - b0):
                                a[t] += c * dq[t]
                    _activation(a, fields[0, i], gain[i], offset[i], h_ext, drift, i, k, b0)
                    src_i = i % sources if sources > 0 else i
                    xi = x[i, b0:b1]
                    _draw(p, a, beta[i], xi, new, u, keys, b0, np.uint64(2 * (cn + src_i)),
                          np.uint64(2 * (cn + i) + 1), fire, injected, k, i)
                    ci = change[r, b0:b1]
                    for t in range(b1 - b0):
                        ci[t] = new[t] - xi[t]
                        xi[t] = new[t]
        kn = kk + 1
        if delayed:
            hist[kn % n_slots, 0] = x
        s_end = open_until(adc_steps, s, kn, adc_win)
        if s_end > s:
            for chunk in prange(n_chunks):
                for b in range(chunk * width, min(B, chunk * width + width)):
                    for i in range(N):
                        accumulate(p, x[i, b], x[i, b], x[i, b], adc_buf, b, i, adc_mode, s,
                                   s_end, kn, adc_steps, adc_win, one)
        s = advance(adc_steps, s, kn)
    cursor[0] = advance(adc_steps, cursor[0], k0 + K)
    return 0


@scalar
def zero_of(x):
    """A zero of the state's dtype (a literal 0.0 would be float64)."""
    return x[0, 0] - x[0, 0]


#: Cells whose coupling sums one matrix product computes in the dense layout.
GROUP = 128


#: This kind's kernels, by layout, and the coupling form each reads.
LAYOUTS = {"batched": Layout(update_dense, "dense", cell_major=True),
           "replicas": Layout(update_rows, "rows", cell_major=True)}


def choose_layout(cells: int, couplers: int, entries: int, lines: int, replicas: int) -> str:
    """Dense chips (a coupler on more than a quarter of the pairs) take matrix products;
    sparse and layered ones the neighbour lists."""
    return "batched" if couplers > cells * cells // 4 else "replicas"
