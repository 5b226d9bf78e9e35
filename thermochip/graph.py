"""The coupling graph: which cells may update at the same instant without either seeing the
other's old state. Cells i and j conflict when a device joins them in either direction; a
colouring puts no two conflicting cells in one class, so a sampler that updates one class at
a time, each from the current states, is exact (chromatic Gibbs)."""

from __future__ import annotations

import heapq

import numpy as np


def colour_classes(mask: np.ndarray) -> list[np.ndarray]:
    """Colour classes (ascending cell indices in each) of the graph whose edges are ``mask |
    mask.T`` (mask (cell, cell) bool, no diagonal), by DSATUR (Brelaz 1979): the next cell is
    the one whose neighbours already use the most colours, ties to the highest degree, then the
    lowest index; it takes the smallest colour none of its neighbours has. DSATUR colours a
    bipartite graph (a layered chip) with two classes and a complete graph (an all-to-all chip)
    with one class per cell; on sparse graphs it is near the fewest classes."""
    adj = mask | mask.T
    n = adj.shape[0]
    if n == 0:
        return []
    degree = adj.sum(axis=1)
    if degree.min() == n - 1:  # complete: every cell alone, in index order
        return [np.array([i]) for i in range(n)]
    neighbours = [np.flatnonzero(adj[i]) for i in range(n)]
    colour = np.full(n, -1, dtype=np.int64)
    seen: list[set[int]] = [set() for _ in range(n)]
    heap = [(0, -int(degree[i]), i) for i in range(n)]
    heapq.heapify(heap)
    while heap:
        _, _, i = heapq.heappop(heap)
        if colour[i] >= 0:
            continue
        c = 0
        while c in seen[i]:
            c += 1
        colour[i] = c
        for j in neighbours[i]:
            if colour[j] < 0 and c not in seen[j]:
                seen[j].add(c)
                heapq.heappush(heap, (-len(seen[j]), -int(degree[j]), int(j)))
    return [np.flatnonzero(colour == c) for c in range(colour.max() + 1)]
