"""Format ``json``: one JSON file holding the provenance, the DACs, the spec text and every
matrix with its description and codes (each matrix row on one line)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from thermochip.atomic import atomic_path, write_text
from thermochip.errors import ThermochipError
from thermochip.export.model import (
    FORMAT_VERSION,
    MARKER,
    Export,
    dacs_from,
    matrix_from,
    meta_from,
    validate,
)

NAME = "json"
FOLDER = False
DEFAULT_OUT = "{stem}_export.json"


def _json_text(doc: dict, arrays: dict[str, np.ndarray]) -> str:
    """JSON with each matrix row on one line (``arrays``: placeholder -> codes)."""
    text = json.dumps(doc, indent=1)
    for key, codes in arrays.items():
        if codes.ndim == 1:
            body = json.dumps(codes.tolist(), separators=(",", ":"))
        else:
            rows = [json.dumps(r, separators=(",", ":")) for r in codes.tolist()]
            body = "[\n    " + ",\n    ".join(rows) + "\n   ]"
        text = text.replace(json.dumps(key), body, 1)
    return text + "\n"


def write(exp: Export, out: Path) -> None:
    arrays = {f"@@codes:{m.name}@@": m.codes for m in exp.matrices.values()}
    doc = {MARKER: FORMAT_VERSION, "format": "json", **exp.meta, "dacs": exp.dacs,
           "spec": exp.spec,
           "matrices": {m.name: {**exp.attrs(m), "codes": f"@@codes:{m.name}@@"}
                        for m in exp.matrices.values()}}
    text = _json_text(doc, arrays)
    with atomic_path(out) as tmp:
        write_text(tmp, text)


def read(path: Path) -> Export:
    where = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ThermochipError(f"{path}: not a thermochip JSON export ({err})") from None
    if not isinstance(doc, dict) or MARKER not in doc:
        raise ThermochipError(f"{path} is not a thermochip export (no {MARKER} key)")
    exp = Export(meta=meta_from(doc, where), dacs=dacs_from(doc.get("dacs", {}), where),
                 spec=doc.get("spec"))
    for name, entry in (doc.get("matrices") or {}).items():
        try:
            codes = np.array(entry["codes"])
        except (KeyError, ValueError, TypeError) as err:
            raise ThermochipError(f"{path}: {name} has no rectangular codes ({err})") from None
        exp.matrices[name] = matrix_from({"name": name, **entry}, codes, where)
    validate(exp, where)
    return exp
