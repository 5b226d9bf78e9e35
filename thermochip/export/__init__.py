"""``thermochip export``'s library: a run's DAC codes in forms that hardware tools load, and
back. One module per format, each with ``NAME``, ``FOLDER`` (writes a folder, not a file),
``DEFAULT_OUT`` and ``write(export, out)`` / ``read(path)``; they are discovered here. What an
export holds is :mod:`thermochip.export.model`; every write is atomic.

:func:`load_export` reads any format (and results files) back; :func:`codes_for_chip` returns
the arrays a :class:`~thermochip.chip.Chip` loads, from a results file or any export, and
:func:`write_to_chip` loads them.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
from pathlib import Path

import numpy as np

from thermochip.errors import ThermochipError
from thermochip.export.model import (
    DIRECTED,
    MANIFEST,
    MARKER,
    Export,
    layered_matrix,
    plain_value,
    spec_info,
)

#: Format name -> its module.
FORMATS = {}
for _info in pkgutil.iter_modules(__path__):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    if hasattr(_module, "NAME"):
        FORMATS[_module.NAME] = _module


def default_out(source: str | Path, fmt: str) -> Path:
    """Default ``--out``: in the current folder, named after the source."""
    return Path(FORMATS[fmt].DEFAULT_OUT.format(stem=Path(source).stem))


def write_export(source: str | Path, fmt: str, out: str | Path) -> Export:
    """Export the codes of ``source`` (a results file, or any export) as ``fmt`` to ``out``."""
    if fmt not in FORMATS:
        raise ThermochipError(f"unknown export format {fmt!r}; choose one of "
                              f"{', '.join(FORMATS)}")
    out = Path(out)
    src = Path(source)
    exp = _load(src)[0]
    if out.exists() and src.exists() and out.resolve() == src.resolve():
        raise ThermochipError(f"--out {out} is the input file; choose another path")
    fmt_module = FORMATS[fmt]
    try:
        if not fmt_module.FOLDER and out.is_dir():
            raise ThermochipError(f"cannot write {out}: it is a folder; {fmt} export writes "
                                  "one file")
        fmt_module.write(exp, out)
    except OSError as err:
        raise ThermochipError(f"cannot write {err.filename or out}: "
                              f"{err.strerror or err}") from None
    return exp


def _detect(path: Path) -> str:
    """The format of ``path``: a folder's manifest names it; a file is told by its bytes."""
    import h5py

    if not path.exists():
        raise ThermochipError(f"{path}: no such file or folder")
    if path.is_dir():
        try:
            fmt = json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("format")
        except FileNotFoundError:
            raise ThermochipError(f"{path} is not a thermochip export folder (no "
                                  f"{MANIFEST})") from None
        except (OSError, ValueError, AttributeError) as err:
            raise ThermochipError(f"{path / MANIFEST}: not a thermochip manifest "
                                  f"({err})") from None
        if fmt not in FORMATS or not FORMATS[fmt].FOLDER:
            raise ThermochipError(f"{path / MANIFEST}: unknown export format {fmt!r}")
        return fmt
    try:
        if h5py.is_hdf5(path):
            return "h5"
        head = path.read_bytes()[:4096].decode("utf-8", errors="replace").lstrip()
    except OSError as err:
        raise ThermochipError(f"cannot read {path}: {err.strerror or err}") from None
    if head.startswith("{"):
        return "json"
    if path.suffix == ".h" or "#define" in head or head.startswith("/*"):
        return "c"
    raise ThermochipError(f"{path} is not a thermochip file (expected a results or export "
                          "HDF5 file, JSON, a C header, or an export folder)")


def _load(path: Path) -> tuple[Export, str]:
    fmt = _detect(path)
    if fmt == "h5":
        from thermochip.export.results_file import from_results, open_h5

        with open_h5(path) as f:
            if MARKER in f.attrs:
                return FORMATS["h5"].read_open(f, path), "h5"
            if "couplings" in f and "fields" in f:
                return from_results(f, path), "results"
        raise ThermochipError(f"{path} is not a thermochip results or export file")
    return FORMATS[fmt].read(path), fmt


def load_export(path: str | Path) -> dict:
    """Read an export of any format (or a results file) back. Returns a dict: ``format``
    (h5, hex, c, csv, json or results), ``path``, the provenance keys (``name``, ``model``,
    ``seed``, ``thermochip_version``, ``exported_by``, ``source``, ``spec_sha256``,
    ``topology``, ``layers`` = [inputs, layer sizes...] or None, ``cell_offsets``,
    ``n_cells``, ``field_names``, ``test_accuracy``, ``order``), ``directed`` (True when each
    direction of a coupler is its own device), ``dacs`` (coupling / field:
    bits, full_scale, lsb, rounding), ``spec`` (the spec text, None for C headers) and
    ``matrices``: name -> {codes (int32), kind, shape, bits, signed, dac, lsb, full_scale,
    rounding, axes}."""
    path = Path(path)
    exp, fmt = _load(path)
    return {"format": fmt, "path": str(path), **exp.meta,
            DIRECTED: bool(exp.meta.get(DIRECTED)), "dacs": exp.dacs, "spec": exp.spec,
            "matrices": {name: {**exp.attrs(m), "codes": m.codes}
                         for name, m in exp.matrices.items()}}


def codes_for_chip(path: str | Path) -> dict:
    """The codes a chip loads, from a results file or any export: ``couplings`` (N x N int32,
    [receiving cell, sending cell]; or, from a sparse chip, one code per entry of
    ``entries``), ``entries`` ((entry, 2) int64 (receiving, sending) cells, every direction of
    every device; None for (cell, cell) codes), ``fields`` (2 x N int32), ``input_codes``
    (inputs x first layer, or None), ``registers`` (learner registers, name -> int32 array),
    plus ``coupling_dac`` / ``field_dac`` (bits, full_scale, lsb, rounding), ``layers``,
    ``directed``, ``spec_sha256`` and ``format``."""
    path = Path(path)
    fmt = _detect(path)
    if fmt == "h5":
        from thermochip.export.results_file import dac_attrs, open_h5, raw_results, results_directed

        with open_h5(path) as f:
            if MARKER not in f.attrs:  # a results file: its arrays as they are
                raw = raw_results(f, path)
                spec = plain_value(f["spec"][()]) if "spec" in f else None
                return {"couplings": raw["couplings"], "entries": raw["entries"],
                        "fields": raw["fields"],
                        "input_codes": raw["input_codes"], "registers": raw["registers"],
                        "coupling_dac": dac_attrs(f["couplings"]),
                        "field_dac": dac_attrs(f["fields"]),
                        "layers": ([int(v) for v in np.ravel(f["couplings"].attrs["layers"])]
                                   if "layers" in f["couplings"].attrs else None),
                        DIRECTED: results_directed(
                            f, spec_info(spec) if spec is not None else {}),
                        "spec_sha256": (hashlib.sha256(spec.encode("utf-8")).hexdigest()
                                        if spec is not None else None),
                        "format": "results"}
    exp, fmt = _load(path)
    n = int(exp.meta["n_cells"])
    mats = exp.matrices
    directed = bool(exp.meta.get(DIRECTED))
    entries, inputs = None, None
    if exp.meta.get("layers") is not None:
        if exp.meta.get("cell_offsets") is None:
            raise ThermochipError(f"{path}: layered export without cell offsets")
        J = layered_matrix(exp, n)
        inputs = mats["W0"].codes if "W0" in mats else None
    elif "J_edges" in mats:
        J, entries = _export_entries(mats, n, directed, path)
    elif "J" in mats:
        J = mats["J"].codes
    else:
        raise ThermochipError(f"{path}: the export has no coupling matrix J or J_edges")
    names = exp.meta.get("field_names") or [m.name for m in mats.values() if m.kind == "field"]
    try:
        fields = np.stack([mats[name].codes for name in names]).astype(np.int32)
    except KeyError as err:
        raise ThermochipError(f"{path}: the export has no field register {err}") from None
    if (entries is None and J.shape != (n, n)) or fields.shape != (2, n):
        raise ThermochipError(f"{path}: couplings {J.shape} / fields {fields.shape} do not "
                              f"fit {n} cells")
    return {"couplings": J.astype(np.int32), "entries": entries, "fields": fields,
            "input_codes": None if inputs is None else inputs.astype(np.int32),
            "registers": {m.name: m.codes for m in mats.values() if m.kind == "register"},
            "coupling_dac": exp.dacs.get("coupling"), "field_dac": exp.dacs.get("field"),
            "layers": exp.meta.get("layers"), DIRECTED: directed,
            "spec_sha256": exp.meta.get("spec_sha256"), "format": fmt}


def _export_entries(mats: dict, n: int, directed: bool,
                    path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(codes, entries) of a sparse export's ``edges`` / ``J_edges``: a reciprocal pair's code
    on both of its directions."""
    if "edges" not in mats:
        raise ThermochipError(f"{path}: J_edges without the edges it codes")
    edges = mats["edges"].codes.astype(np.int64)
    codes = mats["J_edges"].codes
    if edges.ndim != 2 or edges.shape[1] != 2 or codes.shape != (len(edges),):
        raise ThermochipError(f"{path}: edges {edges.shape} and J_edges {codes.shape} do not "
                              "give one code per edge")
    if len(edges) and (edges.min() < 0 or edges.max() >= n):
        raise ThermochipError(f"{path}: edges name cells outside the chip's {n}")
    if not directed:
        if np.any(edges[:, 0] >= edges[:, 1]):
            raise ThermochipError(f"{path}: a reciprocal chip's edges are (i, j) with i < j")
        edges, codes = np.concatenate([edges, edges[:, ::-1]]), np.concatenate([codes, codes])
    return codes, edges


def _stored_couplings(chip, codes: dict, source) -> np.ndarray:
    """The coupling codes of :func:`codes_for_chip` in ``chip``'s storage, after checking that
    each is a device of the chip and that a reciprocal device's two directions agree."""
    c = chip.couplers
    J, entries = codes["couplings"], codes.get("entries")
    if entries is None:  # (cell, cell): its nonzero codes, per entry
        if J.shape != (c.n, c.n):
            raise ThermochipError(f"{source}: the couplings are {J.shape}, the chip needs "
                                  f"{(c.n, c.n)}")
        entries = np.argwhere(J)
        J = J[entries[:, 0], entries[:, 1]]
    i, j = entries[:, 0], entries[:, 1]
    if len(i) and (i.min() < 0 or j.min() < 0 or max(i.max(), j.max()) >= c.n):
        raise ThermochipError(f"{source}: couplers between cells outside the chip's {c.n}")
    at = np.minimum(c.index(i, j), max(c.count - 1, 0))
    absent = (c.key[at] != i * c.n + j) if c.count else np.ones(len(i), dtype=bool)
    if np.any(absent & (J != 0)):
        k = int(np.argmax(absent & (J != 0)))
        raise ThermochipError(f"{source}: code {int(J[k])} for a coupler from cell {j[k]} "
                              f"into cell {i[k]}, which this chip's topology does not have")
    stored = np.zeros(c.count, dtype=np.int32)
    stored[at[~absent]] = J[~absent]
    if not chip.directed and np.any(stored != stored[c.upper]):
        raise ThermochipError(f"{source}: the coupling codes are directed (J_ij != J_ji); "
                              "this chip's couplers are reciprocal (one device per pair; "
                              "couplings.asymmetric is false)")
    return stored if c.edges else c.dense(stored)


def write_to_chip(chip, codes: dict, source: str | Path = "couplings") -> None:
    """Load :func:`codes_for_chip`'s ``codes`` into ``chip`` (couplings, fields, input
    couplers), after checking that the shapes and the DACs match the chip's spec."""
    spec = chip.spec
    for key, want in (("coupling_dac", spec.couplings.dac), ("field_dac", spec.fields.dac)):
        have = codes.get(key)
        if have is not None and (int(have["bits"]) != want.bits
                                 or float(have["full_scale"]) != float(want.full_scale)):
            raise ThermochipError(
                f"{source}: {key.split('_')[0]} codes are {have['bits']}-bit, full scale "
                f"{have['full_scale']}; the chip's DAC is {want.bits}-bit, full scale "
                f"{want.full_scale}")
    couplings = _stored_couplings(chip, codes, source)
    if codes["fields"].shape != chip.field_codes.shape:
        raise ThermochipError(f"{source}: the fields are {codes['fields'].shape}, the chip "
                              f"needs {chip.field_codes.shape}")
    inputs = codes.get("input_codes")
    has_inputs = chip.input_codes is not None and chip.input_codes.size > 0
    if has_inputs and (inputs is None or inputs.shape != chip.input_codes.shape):
        raise ThermochipError(f"{source}: the chip needs input couplings of shape "
                              f"{chip.input_codes.shape}; the file has "
                              f"{None if inputs is None else inputs.shape}")
    chip.registers.couplings.write(couplings)
    chip.registers.fields.write(codes["fields"])
    if has_inputs:
        chip.registers.inputs.write(inputs)
