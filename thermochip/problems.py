r"""Combinatorial problems an Ising machine solves, and the exact conversions between them
(host side, plain numpy).

Spins s_i = +-1; binary variables x_i = (1 + s_i) / 2 in {0, 1}.

- **Ising**: E(s) = -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i (J symmetric, zero diagonal),
  the energy a chip minimises: an oscillator's V at phases 0 / pi is exactly E with the
  chip's J and h (``pair_sign`` -1); a soft spin's, with -J and -h (``pair_sign`` +1).
- **MAX-CUT** of a graph with edge weights w_ij: cut(s) = sum_{(i,j)} w_ij (1 - s_i s_j) / 2.
  With J = -w, h = 0: cut(s) = W / 2 - E(s) / 2, W = sum of the weights, so the lowest
  energy is the largest cut.
- **QUBO**: f(x) = x^T Q x (any square Q; only its symmetric part matters). With
  Qs = (Q + Q^T) / 2: f = E(s) + offset for J_ij = -Qs_ij / 2 (i != j),
  h_i = -(1/2) sum_j Qs_ij and offset = (sum_ij Qs_ij + trace Qs) / 4.

G-set / rudy files: a first line ``n m`` (vertices, edges), then one edge ``i j w`` a line,
vertices numbered from 1 (Helmberg & Rendl 1997; the files of Y. Ye's G-set collection).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thermochip.errors import ThermochipError


def read_gset(path: str | Path) -> tuple[int, np.ndarray]:
    """(vertices n, edges (m, 3) float64 rows i, j, w with i, j from 0) of a G-set / rudy
    file; a malformed file is one line naming it and the line."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ThermochipError(f"cannot read {path}: {err}") from None
    rows = [(k, line.split()) for k, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith(("#", "c ", "%"))]
    if not rows:
        raise ThermochipError(f"{path} is empty: a G-set file starts with 'n m'")
    (k, head), body = rows[0], rows[1:]
    try:
        n, m = (int(v) for v in head[:2])
        if len(head) != 2 or n < 1 or m < 0:
            raise ValueError
    except ValueError:
        raise ThermochipError(f"{path}, line {k}: expected 'n m' (vertices, edges), got "
                              f"{' '.join(head)!r}") from None
    if len(body) != m:
        raise ThermochipError(f"{path}: the first line announces {m} edges, the file has "
                              f"{len(body)}")
    edges = np.empty((m, 3))
    for e, (k, fields) in enumerate(body):
        try:
            i, j = int(fields[0]), int(fields[1])
            w = float(fields[2]) if len(fields) > 2 else 1.0
            if len(fields) not in (2, 3) or not np.isfinite(w):
                raise ValueError
        except (ValueError, IndexError):
            raise ThermochipError(f"{path}, line {k}: expected 'i j w', got "
                                  f"{' '.join(fields)!r}") from None
        if not (1 <= i <= n and 1 <= j <= n) or i == j:
            raise ThermochipError(f"{path}, line {k}: vertices must be two different numbers "
                                  f"in 1..{n}; got {i} {j}")
        edges[e] = (i - 1, j - 1, w)
    return n, edges


def cut_value(edges: np.ndarray, spins: np.ndarray) -> np.ndarray:
    """The weight of the edges (rows i, j, w) whose ends have opposite spins, for spins
    (..., n) of +-1: shape (...)."""
    i, j, w = edges[:, 0].astype(int), edges[:, 1].astype(int), edges[:, 2]
    return ((1 - spins[..., i] * spins[..., j]) / 2) @ w


def ising_energy(J: np.ndarray, h: np.ndarray, spins: np.ndarray) -> np.ndarray:
    """E(s) = -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i for J (n, n) symmetric with zero
    diagonal, spins (..., n): shape (...)."""
    return -0.5 * np.einsum("...i,ij,...j->...", spins, J, spins) - spins @ h


def maxcut_to_ising(n: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(J, h, a, b) with cut(s) = a + b E(s): J = -w (symmetric; parallel edges add), h = 0,
    a = W / 2, b = -1/2."""
    J = np.zeros((n, n))
    i, j = edges[:, 0].astype(int), edges[:, 1].astype(int)
    np.add.at(J, (i, j), -edges[:, 2])
    np.add.at(J, (j, i), -edges[:, 2])
    return J, np.zeros(n), float(edges[:, 2].sum()) / 2, -0.5


def qubo_to_ising(Q: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(J, h, offset) with x^T Q x = E(s) + offset for s = 2x - 1."""
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim != 2 or Q.shape[0] != Q.shape[1]:
        raise ThermochipError(f"a QUBO matrix is square; got shape {Q.shape}")
    Qs = (Q + Q.T) / 2
    J = -Qs / 2
    np.fill_diagonal(J, 0.0)
    return J, -Qs.sum(axis=1) / 2, float(Qs.sum() + np.trace(Qs)) / 4


def ising_to_qubo(J: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, float]:
    """(Q, offset) with E(s) = x^T Q x + offset for x = (1 + s) / 2 (Q symmetric)."""
    J, h = np.asarray(J, dtype=np.float64), np.asarray(h, dtype=np.float64)
    # s_i s_j = 4 x_i x_j - 2 x_i - 2 x_j + 1 and s_i = 2 x_i - 1
    Q = -2.0 * J
    np.fill_diagonal(Q, 2.0 * J.sum(axis=1) - 2.0 * h)
    return Q, float(-J.sum() / 2 + h.sum())


def tts(p: float, steps: float, target: float = 0.99) -> float:
    """Time to solution: the run length ``steps`` times the repeats that find the solution
    with probability ``target`` when one run does with probability ``p``:
    steps * ln(1 - target) / ln(1 - p) (``steps`` when p >= target, inf when p = 0)."""
    if p >= target:
        return float(steps)
    if p <= 0:
        return float("inf")
    return float(steps) * np.log(1 - target) / np.log(1 - p)


def read_problem(path: str | Path, n: int | None = None) -> np.ndarray:
    """The matrix W (n, n) of a problem file: a ``.npy`` dense matrix, a ``.npz`` with a
    dense ``W`` or triplets ``i``, ``j``, ``w``, or CSV rows ``i,j,w`` (from 0; repeated
    entries add). ``n``: the size for triplets (default: the largest index + 1). One-line
    errors name the file."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            W = np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "W" in z.files:
                    W = z["W"]
                elif {"i", "j", "w"} <= set(z.files):
                    W = _from_triplets(path, z["i"], z["j"], z["w"], n)
                else:
                    raise ThermochipError(f"{path} holds {', '.join(z.files) or 'nothing'}; "
                                          f"expected a dense 'W' or triplets 'i', 'j', 'w'")
        else:
            rows = np.loadtxt(path, delimiter=",", ndmin=2, comments="#")
            if rows.shape[1] != 3:
                raise ThermochipError(f"{path}: rows are i,j,w; got {rows.shape[1]} columns")
            W = _from_triplets(path, rows[:, 0], rows[:, 1], rows[:, 2], n)
    except (OSError, ValueError) as err:
        raise ThermochipError(f"cannot read {path}: {str(err).splitlines()[0]}") from None
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ThermochipError(f"{path}: a problem matrix is square; got shape {W.shape}")
    if not np.all(np.isfinite(W)):
        i, j = np.argwhere(~np.isfinite(W))[0]
        raise ThermochipError(f"{path}: entry ({i}, {j}) is {W[i, j]} (must be finite)")
    return W


def _from_triplets(path: Path, i, j, w, n: int | None) -> np.ndarray:
    i, j = np.asarray(i), np.asarray(j)
    if len(i) and (np.any(i != np.round(i)) or np.any(j != np.round(j))
                   or min(i.min(), j.min()) < 0):
        raise ThermochipError(f"{path}: indices i, j are whole numbers from 0")
    size = n if n is not None else int(max(i.max(initial=-1), j.max(initial=-1))) + 1
    if len(i) and max(i.max(), j.max()) >= size:
        raise ThermochipError(f"{path}: index {int(max(i.max(), j.max()))} outside the "
                              f"{size} cells")
    W = np.zeros((size, size))
    np.add.at(W, (i.astype(int), j.astype(int)), np.asarray(w, dtype=np.float64))
    return W


def problem_ising(W: np.ndarray, form: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(J, h, offset) of a problem matrix: the problem's value is E(s) + offset. ``ising``:
    E = -sum_{i != j} W_ij s_i s_j - sum_i W_ii s_i, so J_ij = W_ij + W_ji, h = diag W;
    ``qubo``: x^T W x (:func:`qubo_to_ising`)."""
    if form == "qubo":
        return qubo_to_ising(W)
    J = W + W.T
    np.fill_diagonal(J, 0.0)
    return J, np.diag(W).copy(), 0.0


def chip_form(model, J: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(couplings, field 0) that make a chip of ``model``'s cells hold the Ising energy E(s)
    at its spin states: V's pair term is (pair_sign / 2) J_chip ch ch, so J_chip =
    -pair_sign J; field 0 enters as f0 * dV/df0, whose sign at the spin +1 state
    (channel 0 = 1) sets f0's."""
    p = model.to_kernel(model.params(), np.float64)
    up = np.array([[1.0], [0.0]])[:model.n_channels]
    slope = float(np.ravel(model.field_grad_ch(p, up, 0))[0])
    return -model.pair_sign * J, -np.sign(slope) * h
