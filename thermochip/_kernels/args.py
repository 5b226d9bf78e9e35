"""The arguments every dynamics kind's kernels take, grouped into named tuples (built by the
engine, :mod:`thermochip.engine`; read by the kernels, which unpack them before their parallel
loops). A kernel's signature is

    step(p, x, hist, steps, couplings, cells, noise, adc, adjoint, status) -> int

with ``p`` the device's kernel parameters, ``x`` the state, ``hist`` the delay line of the
cells' channels, ``couplings`` the form the kind's layout reads (:class:`Couplings` blocks,
:class:`Neighbours` lists or :class:`Dense` matrices, as its module's ``COUPLINGS`` says)
and ``status`` (3,) int64 receiving (step, replica, cell) of the first non-finite state.
Layouts differ in axis order only: the batched layout holds per-replica arrays cell-major
(cell, replica), the replica layout replica-major (replica, cell) (a kind may keep one order
in both); see the kind's module docstring.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Steps(NamedTuple):
    """K steps of dimensionless length dt, from state index k0, by update scheme ``method``
    (the index of ``integrator.method`` in the dynamics kind's methods), on ``threads``
    threads (a kernel that splits replicas into chunks sizes them by it; results never
    depend on it)."""

    k0: int
    count: int
    dt: np.floating
    method: int
    threads: int


class Neighbours(NamedTuple):
    """The couplings as each cell's incoming neighbour lists (the form kinds that update one
    cell at a time read, and an edge-stored chip's): for delay line l, cell i's couplers are
    entries ``rows[l, i] .. rows[l, i + 1]`` of ``cols`` (the sending cell, ascending),
    ``vals`` (J_ij cos alpha_ij) and ``svals`` (J_ij sin alpha_ij, or empty when no coupler
    rotates the carrier); ``delays`` (line,) each line's delay in steps; ``order`` (cell,) the
    cells grouped by update class, class c being ``order[starts[c]:starts[c + 1]]`` (no two
    cells of a class are coupled; empty where no kernel reads them). See
    :func:`thermochip.packing.pack_rows`."""

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    svals: np.ndarray
    delays: np.ndarray
    order: np.ndarray
    starts: np.ndarray


class Couplings(NamedTuple):
    """Packed couplings: ``blocks`` (block, 8) int64 rows [r0, r1, c0, c1, offset, delay,
    first, rows]; ``J`` the flat blocks (J cos alpha), ``Js`` their quadrature part (J sin
    alpha) or empty (see :func:`thermochip.packing.pack_blocks`); ``lists`` the
    :class:`Neighbours` of an edge-stored chip (then no blocks), or empty lists (no lines)."""

    blocks: np.ndarray
    J: np.ndarray
    Js: np.ndarray
    lists: Neighbours


class Dense(NamedTuple):
    """The couplings as whole matrices (the form a kind reads when its coupling sums are
    matrix products): ``J`` (line, cell, cell) J_ij of each delay line, ``delays``, ``order``
    and ``starts`` as in :class:`Neighbours`. See :func:`thermochip.packing.pack_dense`."""

    J: np.ndarray
    delays: np.ndarray
    order: np.ndarray
    starts: np.ndarray


class Cells(NamedTuple):
    """Per-cell drives: ``fields`` (2, cell) the field registers' analog values, ``h_ext``
    (field, replica, cell) or (field, cell, replica) per-replica field changes (1 or 2 fields,
    or (0, 0, 0)), ``gain`` and ``offset`` (cell,) mismatch, ``noise`` (cell,) the kind's
    noise amplitude (Langevin: white-noise std per unit dimensionless time)."""

    fields: np.ndarray
    h_ext: np.ndarray
    gain: np.ndarray
    offset: np.ndarray
    noise: np.ndarray


class Noise(NamedTuple):
    """Random numbers: ``injected`` (replica, step, cell) given in place of the streams, or
    empty; ``keys`` (replica,) uint64 stream keys; ``counter0`` the stream position of the
    chunk's first step; ``drift`` (replica, step, cell) an extra force per step (1/f noise),
    or empty."""

    injected: np.ndarray
    keys: np.ndarray
    counter0: int
    drift: np.ndarray


class Adc(NamedTuple):
    """The ADC's sampling: ``steps`` (sample,) state index of each sample, ``window`` steps
    averaged per sample, read-out ``mode``, ``buf`` (replica, sample, cell, readout) the
    window averages, ``cursor`` (1,) the next sample."""

    steps: np.ndarray
    window: int
    mode: int
    buf: np.ndarray
    cursor: np.ndarray


class Adjoint(NamedTuple):
    """AsymEP / Dyadic EP's correction drive (skipped when ``pairs`` is empty): ``blocks``
    (block, 5) [r0, r1, c0, c1, offset] into the rows of ``Q`` (pair, ...), one row per
    channel pair (k, l) of ``pairs`` (pair, 2); ``ref`` the fixed reference state, or with
    ``twin`` > 0 the replica offset of each twin; ``period`` of a periodic state (0: none),
    ``half`` = 1/2 in the engine's dtype."""

    blocks: np.ndarray
    pairs: np.ndarray
    Q: np.ndarray
    ref: np.ndarray
    twin: int
    period: np.floating
    half: np.floating
