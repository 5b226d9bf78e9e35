"""A user's own data (``data.dataset: file``, or arrays passed from Python): reading ``.npz``,
CSV and IDX files into raw arrays, and describing their shape without reading them whole.

- ``.npz``: arrays ``X`` (sample, ...) and ``y`` (sample,) of integer labels from 0,
  optionally ``X_test`` and ``y_test``.
- CSV (``.csv``, ``.tsv``, ``.txt``): one sample per row, comma-, tab- or space-separated, an
  optional header row; the last column is the label, an integer or a class name (sorted
  names become classes 0, 1, ...).
- a folder of IDX files: the four files of :data:`thermochip.data.IDX_FILES`, images of any
  shape and any number of classes.

Everything here is host-side plain numpy; scaling and splitting are :mod:`thermochip.data`'s.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thermochip.errors import ThermochipError
from thermochip.memory import check_read

#: File name endings read as CSV (the delimiter is sniffed).
CSV_SUFFIXES = (".csv", ".tsv", ".txt")


@dataclass
class Table:
    """Raw samples read from a user's files: ``x`` (sample, feature...) as stored, ``y``
    (sample,) labels, the test set when the files hold one (else None), the
    class names when labels were given by name, and where they came from."""

    x: np.ndarray
    y: np.ndarray
    test_x: np.ndarray | None
    test_y: np.ndarray | None
    class_names: list[str] | None
    source: str


def read_table(path: Path) -> Table:
    """The samples of ``path`` (a ``.npz``, a CSV or a folder of IDX files)."""
    if path.is_dir():
        return _read_idx_folder(path)
    if not path.is_file():
        raise ThermochipError(f"no such file or folder: {path}")
    if path.suffix == ".npz":
        return _read_npz(path)
    if path.suffix.lower() in CSV_SUFFIXES:
        x, y, names = read_csv(path)
        return Table(x, y, None, None, names, str(path))
    raise ThermochipError(f"cannot read {path}: expected a .npz, a CSV "
                          f"({', '.join(CSV_SUFFIXES)}) or a folder of IDX files")


def _read_npz(path: Path) -> Table:
    check_read(path, path.stat().st_size)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("X", "y", "X_test", "y_test") if k in z.files}
            keys = z.files
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ThermochipError(f"cannot read {path}: {err}") from None
    for need in ("X", "y"):
        if need not in arrays:
            raise ThermochipError(f"{path} has no array {need!r} (it holds "
                                  f"{', '.join(keys) or 'nothing'}; expected X, y and "
                                  f"optionally X_test, y_test)")
    if ("X_test" in arrays) != ("y_test" in arrays):
        raise ThermochipError(f"{path} holds only one of X_test and y_test")
    return Table(arrays["X"], arrays["y"], arrays.get("X_test"), arrays.get("y_test"), None,
                 str(path))


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """(features (sample, feature), labels (sample,), class names or None) of a CSV file: its
    last column is the label (an integer or a class name); a first row whose features are not
    all numbers is a header."""
    check_read(path, 2 * path.stat().st_size)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ThermochipError(f"cannot read {path}: {err}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ThermochipError(f"{path} is empty")
    delimiter = "\t" if "\t" in lines[0] else "," if "," in lines[0] else None
    rows = [[c.strip() for c in row] for row in
            (csv.reader(lines, delimiter=delimiter) if delimiter else
             (line.split() for line in lines))]
    first = 0 if all(_is_number(c) for c in rows[0][:-1]) else 1
    body = rows[first:]
    if not body:
        raise ThermochipError(f"{path} has a header and no data rows")
    width = len(body[0])
    if width < 2:
        raise ThermochipError(f"{path}: rows need feature columns and a last label column; "
                              f"found {width} column")
    for i, row in enumerate(body, start=first + 1):
        if len(row) != width:
            raise ThermochipError(f"{path}, row {i}: {len(row)} columns, the first data row "
                                  f"has {width}")
    x = _numbers(path, [row[:-1] for row in body], first)
    column = [row[-1] for row in body]
    if all(_is_number(c) for c in column):
        return x, _numbers(path, [[c] for c in column], first)[:, 0], None
    names = sorted(set(column))  # class names, numbered from 0 in sorted order
    index = {name: k for k, name in enumerate(names)}
    return x, np.array([index[c] for c in column], dtype=np.int64), names


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _numbers(path: Path, rows: list[list[str]], first: int) -> np.ndarray:
    """The finite numbers of ``rows`` (file rows from ``first + 1``), or one line naming the
    row and column of the first that is not."""
    try:
        a = np.array(rows, dtype=np.float64)
    except ValueError:
        a = None
    for i, row in enumerate(rows, start=first + 1):
        for j, c in enumerate(row, start=1):
            if not _is_number(c) or (a is not None and not np.isfinite(a[i - first - 1, j - 1])):
                raise ThermochipError(f"{path}, row {i}, column {j}: {c!r} is not a finite "
                                      f"number")
    return a


def _read_idx_folder(folder: Path) -> Table:
    from thermochip.data import IDX_FILES, _idx_files_in, read_idx
    files = _idx_files_in(folder)
    if files is None:
        raise ThermochipError(f"data.path {folder} does not hold the four IDX files "
                              f"({', '.join(IDX_FILES.values())}; .gz allowed)")
    arrays = {role: read_idx(p) for role, p in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if labels.ndim != 1 or len(labels) != len(images):
            raise ThermochipError(f"{files[split + '_labels']}: labels of shape {labels.shape} "
                                  f"do not match the {len(images)} images of "
                                  f"{files[split + '_images'].name}")
    return Table(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                 arrays["test_labels"], None, str(folder))
