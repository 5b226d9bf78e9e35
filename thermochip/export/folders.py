"""Folder formats: one text file per matrix, plus ``manifest.json`` (what every file holds,
its size and SHA-256), ``spec.yaml`` (the resolved spec) and ``couplings.h5`` (the same codes
as one HDF5 export, for ``thermochip run --couplings FOLDER/couplings.h5``)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from thermochip.atomic import atomic_folder, write_text
from thermochip.errors import ThermochipError
from thermochip.export import h5
from thermochip.export.model import (
    COMPANION_H5,
    FORMAT_VERSION,
    MANIFEST,
    MARKER,
    SPEC_FILE,
    Export,
    Matrix,
    dacs_from,
    matrix_from,
    meta_from,
    validate,
)


def is_export_folder(path: Path) -> bool:
    if not any(path.iterdir()):
        return True
    try:
        return MARKER in json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


@dataclass(frozen=True)
class FolderFormat:
    """A folder format: the files' ``extension``, how a matrix is written (``render``) and
    read back (``parse(text, manifest entry, where) -> codes``), and what its manifest entry
    adds (``describe``)."""

    name: str
    extension: str
    render: Callable[[Export, Matrix], str]
    parse: Callable[[str, dict, str], np.ndarray]
    describe: Callable[[Matrix], dict]

    def write(self, exp: Export, out: Path) -> None:
        with atomic_folder(out, is_export_folder, "thermochip export") as tmp:
            files: list[tuple[str, Matrix | None]] = []
            for m in exp.matrices.values():
                fname = m.name + self.extension
                write_text(tmp / fname, self.render(exp, m))
                files.append((fname, m))
            if exp.spec is not None:
                write_text(tmp / SPEC_FILE, exp.spec)
                files.append((SPEC_FILE, None))
            h5.write(exp, tmp / COMPANION_H5)
            files.append((COMPANION_H5, None))
            write_text(tmp / MANIFEST, json.dumps(self.manifest(exp, tmp, files), indent=1)
                       + "\n")

    def manifest(self, exp: Export, folder: Path,
                 files: list[tuple[str, Matrix | None]]) -> dict:
        entries = []
        for fname, m in files:
            data = (folder / fname).read_bytes()
            entry = {"file": fname}
            if fname == COMPANION_H5:
                entry.update(kind="companion", doc="every matrix of this folder in one HDF5 "
                                                   "export (same codes)")
            elif m is None:
                entry.update(kind="spec", doc="the resolved chip spec the run used (YAML)")
            else:
                entry.update(exp.attrs(m))
                entry.update(self.describe(m))
            entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
            entries.append(entry)
        return {MARKER: FORMAT_VERSION, "format": self.name, **exp.meta, "dacs": exp.dacs,
                "files": entries}

    def read(self, path: Path) -> Export:
        where = str(path / MANIFEST)
        try:
            doc = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ThermochipError(f"{where}: cannot read ({err})") from None
        if MARKER not in doc:
            raise ThermochipError(f"{path} is not a thermochip export folder")
        exp = Export(meta=meta_from(doc, where), dacs=dacs_from(doc.get("dacs", {}), where))
        for entry in doc.get("files", []):
            fpath = path / entry.get("file", "")
            if entry.get("kind") == "companion":  # a copy of the codes read here from the text
                continue
            try:
                text = fpath.read_text(encoding="utf-8")
            except OSError as err:
                raise ThermochipError(f"cannot read {fpath}: {err.strerror or err}") from None
            if entry.get("kind") == "spec":
                exp.spec = text
                continue
            codes = self.parse(text, entry, str(fpath))
            exp.matrices[entry["name"]] = matrix_from(entry, codes, str(fpath))
        validate(exp, str(path))
        return exp
