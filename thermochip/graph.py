"""The coupling graph: which cells may update at the same instant without either seeing the
other's old state. Cells i and j conflict when a device joins them in either direction; a
colouring puts no two conflicting cells in one class, so a sampler that updates one class at
a time, each from the current states, is exact (chromatic Gibbs)."""

from __future__ import annotations

import heapq

import numpy as np


def colour_classes(n: int, i: np.ndarray, j: np.ndarray) -> list[np.ndarray]:
    """Colour classes (ascending cell indices in each) of the graph of ``n`` cells whose edges
    are the coupler entries (i, j) in either direction (no i == j), by DSATUR (Brelaz 1979):
    the next cell is the one whose neighbours already use the most colours, ties to the
    highest degree, then the lowest index; it takes the smallest colour none of its
    neighbours has. DSATUR colours a bipartite graph (a layered chip) with two classes and a
    complete graph (an all-to-all chip) with one class per cell; on sparse graphs it is near
    the fewest classes."""
    if n == 0:
        return []
    key = np.unique(np.concatenate([i * n + j, j * n + i]))  # both directions, once
    a, b = key // n, key % n
    degree = np.bincount(a, minlength=n)
    if degree.min() == n - 1:  # complete: every cell alone, in index order
        return [np.array([c]) for c in range(n)]
    neighbours = np.split(b, np.cumsum(degree)[:-1])
    colour = np.full(n, -1, dtype=np.int64)
    seen: list[set[int]] = [set() for _ in range(n)]
    heap = [(0, -int(degree[c]), c) for c in range(n)]
    heapq.heapify(heap)
    while heap:
        _, _, cell = heapq.heappop(heap)
        if colour[cell] >= 0:
            continue
        c = 0
        while c in seen[cell]:
            c += 1
        colour[cell] = c
        for other in neighbours[cell]:
            if colour[other] < 0 and c not in seen[other]:
                seen[other].add(c)
                heapq.heappush(heap, (-len(seen[other]), -int(degree[other]), int(other)))
    return [np.flatnonzero(colour == c) for c in range(colour.max() + 1)]
