"""Format ``h5``: one HDF5 file; attributes hold the provenance, ``dacs/<dac>`` each DAC's
bits, full scale, LSB and rounding, ``matrices/<name>`` the int32 codes with their
description."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thermochip.atomic import atomic_path
from thermochip.errors import ThermochipError
from thermochip.export.model import (
    FORMAT_VERSION,
    MARKER,
    Export,
    dacs_from,
    matrix_from,
    meta_from,
    plain_value,
    validate,
)

NAME = "h5"
FOLDER = False
DEFAULT_OUT = "{stem}_export.h5"


def write(exp: Export, out: Path) -> None:
    import h5py

    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs[MARKER] = FORMAT_VERSION
        f.attrs["format"] = "h5"
        for k, v in exp.meta.items():
            if v is not None:
                f.attrs[k] = v
        if exp.spec is not None:
            f["spec"] = exp.spec
        for name, d in exp.dacs.items():
            f.create_group(f"dacs/{name}").attrs.update(d)
        g = f.create_group("matrices")
        g.attrs["names"] = list(exp.matrices)
        for m in exp.matrices.values():
            ds = g.create_dataset(m.name, data=m.codes.astype(np.int32))
            ds.attrs.update({k: v for k, v in exp.attrs(m).items()
                             if v is not None and k not in ("name", "shape")})


def read_open(f, path: Path) -> Export:
    """The export in the open HDF5 file ``f`` (its attributes carry the export marker)."""
    where = str(path)
    try:
        exp = Export(meta=meta_from(f.attrs, where),
                     dacs=dacs_from({k: dict(g.attrs) for k, g in f["dacs"].items()}, where),
                     spec=plain_value(f["spec"][()]) if "spec" in f else None)
        g = f["matrices"]
        for name in plain_value(g.attrs["names"]):
            ds = g[name]
            exp.matrices[name] = matrix_from({"name": name, **dict(ds.attrs)}, ds[()], where)
    except KeyError as err:
        raise ThermochipError(f"{where}: incomplete export ({err})") from None
    validate(exp, where)
    return exp


def read(path: Path) -> Export:
    import h5py

    with h5py.File(path, "r") as f:
        return read_open(f, path)
