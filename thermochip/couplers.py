"""Where a chip's coupler devices are, and how every per-coupler array is stored.

An *entry* (i, j) is one direction of a coupler: cell j drives cell i. Two storages hold the
same chip:

- **dense** (all-to-all and layered chips): every per-coupler array is (cell, cell), indexed
  [i, j], zero where no device exists; the kernels read dense blocks (matrix products);
- **edges** (sparse chips): one value per entry, the entries sorted by (i, j) (row-major, so
  a cell's incoming couplers are contiguous: compressed sparse rows); memory and time grow
  with cells + entries, never cells squared.

:meth:`Couplers.gather` reads a stored array per entry in either storage, so what sums over
couplers (packing, energies, results, statistics) is written once. :meth:`Couplers.dense`
gives the (cell, cell) view that small-chip consumers read (learners, calibration): for an
edge-stored chip it allocates cells squared, which :mod:`thermochip.memory` budgets for the
commands that use it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Couplers:
    """The entries of a chip of ``n`` cells: ``i`` (receiving) and ``j`` (sending), (entry,)
    int64 sorted by (i, j); ``edges``: the storage (see the module docstring); ``mask``: the
    dense storage's (cell, cell) bool mask (None for edges)."""

    n: int
    i: np.ndarray
    j: np.ndarray
    edges: bool
    mask: np.ndarray | None = None

    @classmethod
    def from_mask(cls, mask: np.ndarray) -> "Couplers":
        """Dense storage of the devices ``mask[i, j]``."""
        i, j = np.nonzero(mask)
        return cls(mask.shape[0], i.astype(np.int64), j.astype(np.int64), False, mask)

    @classmethod
    def from_pairs(cls, n: int, pairs: np.ndarray) -> "Couplers":
        """Edge storage of undirected pairs (pair, 2) of distinct cells (repeats merged): both
        directions of every pair."""
        a = np.minimum(pairs[:, 0], pairs[:, 1]).astype(np.int64)
        b = np.maximum(pairs[:, 0], pairs[:, 1]).astype(np.int64)
        key = _distinct(a * n + b)
        a, b = key // n, key % n
        i, j = np.concatenate([a, b]), np.concatenate([b, a])
        order = np.argsort(i * n + j, kind="stable")
        return cls(n, i[order], j[order], True)

    @property
    def count(self) -> int:
        """Entries (directions of couplers)."""
        return len(self.i)

    @functools.cached_property
    def key(self) -> np.ndarray:
        """(entry,) i * n + j, ascending."""
        return self.i * self.n + self.j

    @functools.cached_property
    def upper(self) -> np.ndarray:
        """(entry,) index of the entry of the same pair with i < j (itself when i < j): the
        entry whose draw a reciprocal device's two directions share. Entries without a mirror
        (feed-forward) keep their own."""
        lo, hi = np.minimum(self.i, self.j), np.maximum(self.i, self.j)
        at = np.minimum(self.index(lo, hi), self.count - 1)
        return np.where(self.key[at] == lo * self.n + hi, at, np.arange(self.count))

    def index(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """(query,) position of entry (i, j) among the entries (where it would be inserted,
        if absent). The queries are looked up in sorted order: on millions of entries,
        random-order lookups spend their time in cache misses."""
        q = np.asarray(i, dtype=np.int64) * self.n + np.asarray(j, dtype=np.int64)
        order = np.argsort(q)
        at = np.empty(len(q), dtype=np.int64)
        at[order] = np.searchsorted(self.key, q[order])
        return at

    def gather(self, stored: np.ndarray) -> np.ndarray:
        """(..., entry) values of a stored per-coupler array (..., cell, cell) or (..., entry)."""
        return stored if self.edges else stored[..., self.i, self.j]

    def on_devices(self, stored: np.ndarray) -> np.ndarray:
        """A stored per-coupler array with zeros where no device exists (dense storage)."""
        return stored if self.edges else np.where(self.mask, stored, 0.0)

    def stored(self, matrix: np.ndarray) -> np.ndarray:
        """A (cell, cell) matrix that is zero off the devices (codes a learner or a file
        writes) in this storage."""
        return matrix[self.i, self.j] if self.edges else matrix

    def from_dense(self, matrix: np.ndarray) -> np.ndarray:
        """A (cell, cell) matrix in this storage: zero off the devices, or per entry."""
        return matrix[self.i, self.j] if self.edges else np.where(self.mask, matrix, 0.0)

    def dense(self, stored: np.ndarray, fill=0) -> np.ndarray:
        """(cell, cell) view of a stored per-coupler array (a copy for edge storage, ``fill``
        where no device exists)."""
        if not self.edges and np.shape(stored)[-2:] == (self.n, self.n):
            return stored
        values = np.asarray(stored)
        out = np.full((self.n, self.n), fill, dtype=values.dtype)
        out[self.i, self.j] = values
        return out

    def draw(self, rng: np.random.Generator, directed: bool) -> np.ndarray:
        """One standard normal per device, per entry: per direction if ``directed``, else one
        per pair shared by its two directions (drawn in entry order, for entries i < j)."""
        if directed:
            return rng.standard_normal(self.count)
        own = self.upper == np.arange(self.count)
        z = np.zeros(self.count)
        z[own] = rng.standard_normal(int(own.sum()))
        return z[self.upper]

    def pairs(self) -> np.ndarray:
        """(pair, 2) the coupled cells (i < j), each pair once, ascending."""
        key = _distinct(np.minimum(self.i, self.j) * self.n + np.maximum(self.i, self.j))
        return np.stack([key // self.n, key % self.n], axis=1)

    def degree(self) -> np.ndarray:
        """(cell,) incoming couplers of each cell."""
        return np.bincount(self.i, minlength=self.n)


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an int64 array (a sort: faster than np.unique's hashing on
    millions of keys)."""
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys
