"""IDX files (the MNIST family's format): their names and a strict reader. Host side, plain
numpy; :mod:`thermochip.data` finds and splits the bundled sets, :mod:`thermochip.data_files`
reads a user's folder of them."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from thermochip.errors import ThermochipError
from thermochip.memory import check_read

#: The four IDX files of a set, by role; each may also be spelled with ``.`` before ``idx``
#: (``train-images.idx3-ubyte``) and may carry ``.gz``.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: The element type code of unsigned bytes, the only one read.
IDX_UBYTE = 0x08


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes (type 0x08), plain or gzip-compressed (name ending
    in ``.gz``), and return its array with the dimensions from the header.

    Strict: the magic number must be ``00 00 08 <ndim>`` with ``ndim >= 1``, and the payload
    must hold exactly ``prod(dims)`` bytes. A corrupt, truncated or unreadable file raises a
    one-line :class:`ThermochipError` that names the file."""
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                # the header says how much the payload inflates to: bound it before reading
                header = f.read(4)
                header += f.read(4 * header[3]) if len(header) == 4 else b""
                if len(header) >= 8 and len(header) == 4 + 4 * header[3]:
                    dims = np.frombuffer(header, ">u4", offset=4).astype(np.float64)
                    check_read(path, int(np.prod(dims)))
                raw = header + f.read()
        else:
            check_read(path, path.stat().st_size)
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; a truncated gzip stream raises EOFError.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ThermochipError(f"cannot read IDX file {path}: {reason}") from None

    if len(raw) < 4:
        raise ThermochipError(f"corrupt IDX file {path}: {len(raw)} bytes, too short for the "
                              "4-byte magic number")
    zero0, zero1, dtype_code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0 or ndim == 0:
        raise ThermochipError(f"corrupt IDX file {path}: bad magic number 0x{raw[:4].hex()} "
                              "(expected 0x0000 08 <ndim>)")
    if dtype_code != IDX_UBYTE:
        raise ThermochipError(f"unsupported IDX file {path}: element type 0x{dtype_code:02x}, "
                              "only unsigned bytes (0x08) are supported")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ThermochipError(f"truncated IDX file {path}: {len(raw)} bytes, the header of "
                              f"{ndim} dimensions needs {header}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "corrupt"
        raise ThermochipError(f"{what} IDX file {path}: dimensions {'x'.join(map(str, dims))} "
                              f"need {expected} data bytes, found {got}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def find_idx_file(folder: Path, stem: str) -> Path | None:
    """The file of ``stem`` in ``folder`` (plain preferred over .gz), or None."""
    dotted = stem.replace("-idx", ".idx", 1)
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = folder / name
        if p.is_file():
            return p
    return None


def idx_files_in(folder: Path) -> dict[str, Path] | None:
    """The four IDX files in ``folder`` by role, or None unless all four are there."""
    if not folder.is_dir():
        return None
    found = {role: find_idx_file(folder, stem) for role, stem in IDX_FILES.items()}
    if any(p is None for p in found.values()):
        return None
    return found  # type: ignore[return-value]
