"""Files a spec refers to: sparse topologies' edge lists and coupling matrices. Relative paths
are relative to the spec file's folder (``base_dir``)."""

from __future__ import annotations

import csv
import functools
import warnings
from pathlib import Path

import numpy as np

from thermochip.spec import Sparse


def resolve_path(path: str, base_dir: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or base_dir is None else base_dir / p


def read_edges(topology: Sparse, base_dir: Path | None) -> np.ndarray:
    """Edge rows (i, j, w) as float64, cells from 0 (w = 1 where absent); read-only. An edge
    file is read once while it is unchanged (the checks and the chip both read it)."""
    if topology.edges is not None:
        return _padded(topology.edges)
    path = resolve_path(topology.edges_file, base_dir).resolve()
    st = path.stat()
    return _edge_file(str(path), st.st_mtime_ns, st.st_size, topology.edges_format)


@functools.lru_cache(maxsize=2)
def _edge_file(path: str, mtime_ns: int, size: int, edges_format: str) -> np.ndarray:
    """An edge file's rows (see :func:`read_edges`); mtime and size key the cache."""
    if edges_format == "gset":
        from thermochip.problems import read_gset
        e = read_gset(path)[1]
    else:
        e = _csv_edges(Path(path))
    e.setflags(write=False)
    return e


def _csv_edges(path: Path) -> np.ndarray:
    try:  # numpy's C reader: millions of rows in seconds, without a list per row
        with warnings.catch_warnings():  # an empty file is refused by the checks
            warnings.simplefilter("ignore", UserWarning)
            e = np.loadtxt(path, delimiter=",", comments="#", dtype=np.float64, ndmin=2)
        if e.shape[1] in (2, 3):
            return np.column_stack([e, np.ones((len(e), 3 - e.shape[1]))])
    except ValueError:  # rows of mixed lengths, or a bad cell: read row by row
        pass
    with open(path, newline="") as fh:
        return _padded([[float(v) for v in r] for r in csv.reader(fh)
                        if r and not r[0].startswith("#")])


def _padded(rows: list) -> np.ndarray:
    """Rows [i, j] or [i, j, w] as (row, 3) float64, w = 1 where absent."""
    return np.array([list(r) + [1.0] * (3 - len(r)) for r in rows],
                    dtype=np.float64).reshape(-1, 3)


def read_matrix(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float64)
    return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
