"""Format ``csv``: a folder of CSV files of integer codes, one CSV row per matrix row (a
vector is one row); see :mod:`thermochip.export.folders`."""

from __future__ import annotations

import csv
import io

import numpy as np

from thermochip.errors import ThermochipError
from thermochip.export.folders import FolderFormat
from thermochip.export.model import Export, Matrix

NAME = "csv"
FOLDER = True
DEFAULT_OUT = "{stem}_csv"


def csv_text(exp: Export, m: Matrix) -> str:
    rows = m.codes.reshape(1, -1) if m.codes.ndim == 1 else m.codes.reshape(m.codes.shape[0], -1)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows.tolist())
    return buf.getvalue()


def parse_csv(text: str, shape: tuple[int, ...], where: str = "<csv>") -> np.ndarray:
    """Integer codes of a CSV written by :func:`csv_text`, reshaped to ``shape``."""
    rows = []
    for lineno, row in enumerate(csv.reader(io.StringIO(text)), 1):
        if not row or all(not c.strip() for c in row):
            continue
        try:
            rows.append([int(c) for c in row])
        except ValueError:
            raise ThermochipError(f"{where}:{lineno}: not a row of integers") from None
    want_rows = shape[0] if len(shape) > 1 else 1
    width = int(np.prod(shape)) // max(want_rows, 1) if shape else 0
    if len(rows) != want_rows or any(len(r) != width for r in rows):
        raise ThermochipError(f"{where}: expected {want_rows} rows of {width} codes for "
                              f"shape {list(shape)}")
    return np.array(rows, dtype=np.int64).reshape(shape).astype(np.int32)


def _describe(m: Matrix) -> dict:
    return {"rows": int(m.codes.shape[0]) if m.codes.ndim > 1 else 1,
            "layout": "one CSV row per matrix row (a vector is one row); integer codes"}


FORMAT = FolderFormat(NAME, ".csv", csv_text,
                      lambda text, entry, where: parse_csv(
                          text, tuple(int(s) for s in entry["shape"]), where),
                      _describe)
write, read = FORMAT.write, FORMAT.read
