"""The couplings as the kernels read them: every non-zero coupling block of every delay line,
flattened into one array with a table of where each block lives (:class:`thermochip.
_kernels.args.Couplings`), and the matrices of AsymEP's adjoint correction
(:class:`thermochip._kernels.args.Adjoint`). Built from a chip's analog couplings; the engine
keeps them until the couplings are written again."""

from __future__ import annotations

import numpy as np

from device_models import carrier
from thermochip.chip import Chip


def adjoint_matrices(model, Jc: np.ndarray, Js: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The channel pairs (k, l) (pair, 2) and matrices Q^{kl} (pair, cell, cell) of the adjoint
    correction, non-zero ones only (none on a reciprocal chip).

    The coupling force is ``f_i = -pair_sign sum_kl ch'_k(x_i) sum_j M^{kl}_ij ch_l(x_j)``
    with M^{kk} = J cos(alpha), and for carriers M^{01} = J sin(alpha) = -M^{10} (the
    kernels' quadrature part); summed over delay lines, since a latency does not change a fixed
    point's Jacobian. Then ``-2 A_ij = -pair_sign sum_kl ch'_k(x_i) Q^{kl}_ij ch'_l(x_j)`` with
    ``Q^{kl} = M^{lk}.T - M^{kl}``, so the kernels evaluate the correction as a coupling force
    with fields ``H_k = sum_l Q^{kl} (ch'_l(r) (x - r))``."""
    nc = model.n_channels
    C = Jc.sum(axis=0)
    S = Js.sum(axis=0) if len(Js) else np.zeros_like(C)
    M = carrier.mixing(C, S) if model.carrier else {(0, 0): C}
    pairs, Q = [], []
    for k in range(nc):
        for l in range(nc):
            q = M[l, k].T - M[k, l]
            if np.any(q):
                pairs.append((k, l))
                Q.append(q)
    n = C.shape[0]
    return (np.array(pairs, dtype=np.int64).reshape(-1, 2),
            np.array(Q, dtype=np.float64).reshape(-1, n, n))


def _flat(block: np.ndarray, transposed: bool) -> np.ndarray:
    """A block as the kernels store it: row-major, or its transpose row-major (the replica
    layout's column-contiguous form)."""
    return (block.T if transposed else block).ravel()


def pack_adjoint(chip: Chip, Q: np.ndarray, dtype, transposed: bool = False):
    """The kernels' correction matrices: (block, 5) table [r0, r1, c0, c1, offset] of the
    chip's coupling blocks and their mirrors (Q has the transpose's entries too: a
    feed-forward chip's correction runs backwards) and, per channel pair, the flat
    Q[r0:r1, c0:c1] (see :func:`_flat`)."""
    blocks = chip.coupling_blocks()
    blocks += [(c0, c1, r0, r1) for r0, r1, c0, c1 in blocks if (c0, c1, r0, r1) not in blocks]
    table, offset = [], 0
    for r0, r1, c0, c1 in blocks:
        table.append((r0, r1, c0, c1, offset))
        offset += (r1 - r0) * (c1 - c0)
    flat = np.array([np.concatenate([_flat(q[r0:r1, c0:c1], transposed)
                                     for r0, r1, c0, c1 in blocks]) for q in Q],
                    dtype=dtype).reshape(len(Q), offset)
    return np.array(table, dtype=np.int64).reshape(-1, 5), flat


def pack_blocks(chip: Chip, Jc: np.ndarray, Js: np.ndarray, dtype, transposed: bool = False):
    """The kernels' couplings: (block, 8) table [r0, r1, c0, c1, offset, delay, first, rows]
    and the flat J[r0:r1, c0:c1] (and J sin alpha) of every non-zero block and delay line.
    ``first`` marks the first block of its row range (the chip's blocks span whole layers, so
    row ranges are equal or disjoint): its product is written straight into the coupling
    fields, the others are added to them. ``rows``: the block is stored row-major; with
    ``transposed`` (the replica layout) only blocks with fewer rows than columns are, the
    others transposed (see :func:`_flat`)."""
    table, parts, sparts = [], [], []
    offset = 0
    for b, delay in enumerate(chip.latency_steps):
        for r0, r1, c0, c1 in chip.coupling_blocks():
            J = Jc[b, r0:r1, c0:c1]
            S = Js[b, r0:r1, c0:c1] if len(Js) else None
            if not J.any() and (S is None or not S.any()):
                continue
            first = all(row[:2] != (r0, r1) for row in table)
            rows = not transposed or r1 - r0 < c1 - c0
            table.append((r0, r1, c0, c1, offset, int(delay), int(first), int(rows)))
            parts.append(_flat(J, not rows))
            if S is not None:
                sparts.append(_flat(S, not rows))
            offset += J.size
    flat = np.concatenate(parts) if parts else np.zeros(0)
    sflat = np.concatenate(sparts) if sparts else np.zeros(0)
    return (np.array(table, dtype=np.int64).reshape(-1, 8), flat.astype(dtype),
            sflat.astype(dtype))


def pack_rows(chip: Chip, dtype, classes: bool = True) -> tuple:
    """The couplings as incoming neighbour lists (:class:`thermochip._kernels.args.Neighbours`
    fields, in order): per delay line l, cell i's couplers, CSR-style, with their cos parts
    J cos alpha and sin parts J sin alpha (empty without a phase offset), read per entry in
    either storage (:meth:`thermochip.chip.Chip.coupler_parts`); each line's delay; and,
    with ``classes``, the chip's update classes, flattened (else empty)."""
    C, S, line = chip.coupler_parts()
    c, n, n_lines = chip.couplers, chip.n, len(chip.latency_steps)
    by_line = np.argsort(line, kind="stable")  # each line's entries stay in (i, j) order
    starts = np.concatenate([[0], np.cumsum(np.bincount(line[by_line] * n + c.i[by_line],
                                                        minlength=n_lines * n))])
    rows = np.stack([starts[k * n:(k + 1) * n + 1] for k in range(n_lines)])
    order = _update_order(chip) if classes else (np.zeros(0, dtype=np.int64),) * 2
    return (rows.astype(np.int64), c.j[by_line].astype(np.int64),
            C[by_line].astype(dtype), (S[by_line] if len(S) else S).astype(dtype),
            np.asarray(chip.latency_steps, dtype=np.int64), *order)


def energy_matrix(chip: Chip):
    """The couplings the energy reads: the reciprocal part 0.5 (C + C^T) of the cos parts,
    summed over delay lines; a scipy sparse matrix for an edge-stored chip (memory grows with
    its couplers), else a (cell, cell) array."""
    if chip.couplers.edges:
        from scipy import sparse
        C = sparse.csr_array((chip.coupler_parts()[0], (chip.couplers.i, chip.couplers.j)),
                             shape=(chip.n, chip.n))
        return (0.5 * (C + C.T)).tocsr()
    C = chip.delay_matrices()[0].sum(axis=0)
    return 0.5 * (C + C.T)


def no_rows(n: int, dtype) -> tuple:
    """:func:`pack_rows`' fields with no delay line (a chip whose kernels read blocks)."""
    empty = np.zeros(0, dtype=np.int64)
    return (np.zeros((0, n + 1), dtype=np.int64), empty, np.zeros(0, dtype=dtype),
            np.zeros(0, dtype=dtype), empty, empty, empty)


def kernel_array(a, dtype) -> np.ndarray:
    """``a`` as the kernels take it: C-contiguous and writable, copied only when it is not. A
    read-only view (a register's values, a cached matrix) is another numba type than a fresh
    array: passing both would compile every kernel twice."""
    return np.require(a, dtype=dtype, requirements=("C", "W"))


def pack_dense(chip: Chip, dtype) -> tuple:
    """The couplings as whole matrices (:class:`thermochip._kernels.args.Dense` fields, in
    order): J^l (line, cell, cell) in ``dtype`` (J cos alpha of that line; no carrier
    rotation), each line's delay, and the chip's update classes, flattened."""
    if chip.couplers.edges:
        C, _, line = chip.coupler_parts()
        Jc = np.zeros((len(chip.latency_steps), chip.n, chip.n))
        Jc[line, chip.couplers.i, chip.couplers.j] = C
    else:
        Jc = chip.delay_matrices()[0]
    return (kernel_array(Jc, dtype), np.asarray(chip.latency_steps, dtype=np.int64),
            *_update_order(chip))


def _update_order(chip: Chip) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): the cells grouped by update class, class c being
    ``order[starts[c]:starts[c + 1]]``."""
    classes = chip.update_classes
    order = np.concatenate(classes) if classes else np.zeros(0, dtype=np.int64)
    starts = np.cumsum([0] + [len(c) for c in classes])
    return order.astype(np.int64), starts.astype(np.int64)
