"""Reading a results file (``thermochip run`` / ``simulate``) as an export: its coupling and
field codes, layers and provenance."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

import thermochip
from thermochip.couplers import Couplers
from thermochip.errors import ThermochipError
from thermochip.export.model import (
    DIRECTED,
    KNOWN_AXES,
    ORDER,
    ORDER_DIRECTED,
    Export,
    Matrix,
    field_names,
    int_codes,
    layered_matrix,
    plain_value,
    spec_info,
    unsigned_bits,
    validate,
)


def open_h5(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ThermochipError(f"cannot read {path}: {err}") from None


def dac_attrs(group) -> dict:
    a = group.attrs
    try:
        bits = int(a["bits"])
        full_scale = float(a["full_scale"])
    except KeyError as err:
        raise ThermochipError(f"{group.file.filename}: {group.name} has no {err} "
                              "attribute") from None
    lsb = float(a["lsb"]) if "lsb" in a else full_scale / (2 ** (bits - 1) - 1)
    return {"bits": bits, "full_scale": full_scale, "lsb": lsb,
            "rounding": plain_value(a.get("rounding", "nearest"))}


def raw_results(f, path: Path) -> dict:
    """The arrays a results file stores for a chip, as they are: ``couplings`` (cell, cell), or
    per entry with ``entries`` (entry, 2) = (receiving, sending) cells for a sparse chip."""
    for key in ("couplings/codes", "fields/codes"):
        if key not in f:
            raise ThermochipError(f"{path} is not a thermochip results file (no {key})")
    codes = int_codes(f["couplings/codes"][()], str(path))
    mask = (np.asarray(f["couplings/mask"][()]).astype(bool) if "couplings/mask" in f
            else None)
    entries = None
    if "couplings/edges" in f:
        entries = np.asarray(f["couplings/edges"][()], dtype=np.int64).reshape(-1, 2)
        if codes.shape != (len(entries),):
            raise ThermochipError(f"{path}: couplings/codes {codes.shape} does not give one "
                                  f"code per entry of couplings/edges ({len(entries)})")
    return {"couplings": codes, "entries": entries,
            "fields": int_codes(f["fields/codes"][()], str(path)),
            "input_codes": (int_codes(f["couplings/input_codes"][()], str(path))
                            if "couplings/input_codes" in f else None),
            "mask": mask,
            "registers": {k: int_codes(f[f"learner/{k}"][()], str(path))
                          for k in f.get("learner", {})}}


def edge_codes(entries: np.ndarray, codes: np.ndarray, n: int, directed: bool,
               where: str) -> tuple[np.ndarray, np.ndarray]:
    """The exported ``edges`` (edge, 2) and ``J_edges`` (edge,) of a sparse chip's entries
    (entry, 2) and their codes: every device for a directed chip; each reciprocal pair once
    (i < j), after checking that its two directions hold one code."""
    key = entries[:, 0] * n + entries[:, 1]
    if len(key) and (np.any(np.diff(key) <= 0) or entries.min() < 0 or entries.max() >= n):
        raise ThermochipError(f"{where}: couplings/edges is not a sorted list of distinct "
                              f"(cell, cell) entries of {n} cells")
    if directed:
        return entries, codes
    c = Couplers(n, entries[:, 0], entries[:, 1], True)
    lower = np.flatnonzero(c.i > c.j)  # each must find its pair's entry i < j
    if 2 * len(lower) != c.count or np.any(c.upper[lower] == lower) \
            or np.any(codes != codes[c.upper]):
        raise ThermochipError(f"{where}: couplings/codes is not symmetric, but the chip's "
                              "couplers are reciprocal (no couplings.asymmetric)")
    upper = c.i < c.j
    return entries[upper], codes[upper]


def results_directed(f, spec: dict) -> bool:
    """Whether a results file's chip has one coupler device per direction: its ``directed``
    attribute, else its spec (``couplings.asymmetric``, ``topology.feedforward``)."""
    if "couplings" in f and "directed" in f["couplings"].attrs:
        return bool(f["couplings"].attrs["directed"])
    couplings, topo = spec.get("couplings"), spec.get("topology")
    return bool((isinstance(couplings, dict) and couplings.get("asymmetric"))
                or (isinstance(topo, dict) and topo.get("feedforward")))


def from_results(f, path: Path) -> Export:
    raw = raw_results(f, path)
    spec_text = plain_value(f["spec"][()]) if "spec" in f else None
    spec = spec_info(spec_text) if spec_text is not None else {}
    cells = spec.get("cells") or {}
    topo = spec.get("topology")
    topology = topo.get("kind") if isinstance(topo, dict) else topo
    directed = results_directed(f, spec)
    J, entries = raw["couplings"], raw["entries"]
    n = int(raw["fields"].shape[-1])
    if raw["fields"].shape != (2, n) or (entries is None and J.shape != (n, n)):
        raise ThermochipError(f"{path}: couplings/codes {J.shape} and fields/codes "
                              f"{raw['fields'].shape} do not describe one chip")
    layers = None
    if "layers" in f["couplings"].attrs:
        layers = [int(v) for v in np.ravel(f["couplings"].attrs["layers"])]
    elif topology == "layered" and cells.get("layers"):
        layers = [int(cells.get("inputs") or 0)] + [int(v) for v in cells["layers"]]
    if layers is not None:
        topology = "layered"
    model = plain_value(f.attrs.get("model", cells.get("model")))
    names = field_names(model)
    meta = {"name": spec.get("name"), "model": model,
            "seed": int(f.attrs["seed"]) if "seed" in f.attrs else None,
            "thermochip_version": plain_value(f.attrs.get("thermochip_version")),
            "exported_by": thermochip.__version__, "source": Path(path).name,
            "spec_sha256": (hashlib.sha256(spec_text.encode("utf-8")).hexdigest()
                            if spec_text is not None else None),
            "topology": topology or "unknown", "layers": layers, "cell_offsets": None,
            "n_cells": n, "field_names": names,
            "test_accuracy": (float(f.attrs["test_accuracy"]) if "test_accuracy" in f.attrs
                              else None),
            "order": ORDER_DIRECTED if directed else ORDER}
    if directed:
        meta[DIRECTED] = True
    exp = Export(meta=meta, dacs={"coupling": dac_attrs(f["couplings"]),
                                  "field": dac_attrs(f["fields"])}, spec=spec_text)
    cb = exp.dacs["coupling"]["bits"]
    if layers is not None and entries is not None:
        raise ThermochipError(f"{path}: a layered chip's couplings/codes are (cell, cell), "
                              "not an edge list")
    if layers is not None:
        sizes = layers[1:]
        offsets = [int(v) for v in np.cumsum([0] + sizes)]
        if offsets[-1] != n:
            raise ThermochipError(f"{path}: layer sizes {sizes} do not add up to the {n} cells "
                                  "of couplings/codes")
        meta["cell_offsets"] = offsets[:-1]
        inputs = raw["input_codes"]
        if layers[0] > 0:
            if inputs is None or inputs.shape != (layers[0], sizes[0]):
                raise ThermochipError(f"{path}: expected couplings/input_codes of shape "
                                      f"{(layers[0], sizes[0])}")
            exp.matrices["W0"] = Matrix("W0", "coupling", inputs, cb, ("input", "layer0"))
        for k in range(1, len(sizes)):
            a, b, c = offsets[k - 1], offsets[k], offsets[k + 1]
            if not directed:
                exp.matrices[f"W{k}"] = Matrix(f"W{k}", "coupling", J[a:b, b:c].copy(), cb,
                                               (f"layer{k - 1}", f"layer{k}"))
                continue
            # one device per direction: forward (into layer k) and, unless feed-forward, back
            exp.matrices[f"W{k}"] = Matrix(f"W{k}", "coupling", J[b:c, a:b].T.copy(), cb,
                                           (f"layer{k - 1}", f"layer{k}"))
            back = (raw["mask"][a:b, b:c].any() if raw["mask"] is not None
                    else not (isinstance(topo, dict) and topo.get("feedforward")))
            if back:
                exp.matrices[f"W{k}_back"] = Matrix(f"W{k}_back", "coupling",
                                                    J[a:b, b:c].T.copy(), cb,
                                                    (f"layer{k}", f"layer{k - 1}"))
        if not np.array_equal(layered_matrix(exp, n), J):
            raise ThermochipError(f"{path}: couplings/codes has codes outside the blocks "
                                  "between adjacent layers" + (
                                      "" if directed else ", or is not symmetric"))
    elif entries is not None:  # a sparse chip: its edge list, never (cell, cell)
        edges, codes = edge_codes(entries, J, n, directed, str(path))
        exp.matrices["edges"] = Matrix("edges", "edges", edges.astype(np.int32).reshape(-1, 2),
                                       unsigned_bits(max(n - 1, 1)), ("edge", "endpoint"))
        exp.matrices["J_edges"] = Matrix("J_edges", "coupling", codes, cb, ("edge",))
    else:
        if not directed and not np.array_equal(J, J.T):
            raise ThermochipError(f"{path}: couplings/codes is not symmetric, but the chip's "
                                  "couplers are reciprocal (no couplings.asymmetric)")
        mask = raw["mask"] if raw["mask"] is not None else J != 0
        exp.matrices["J"] = Matrix("J", "coupling", J, cb, ("cell", "cell"))
        exp.matrices["mask"] = Matrix("mask", "mask", mask.astype(np.int32), 1, ("cell", "cell"))
        edges = np.argwhere(mask if directed else np.triu(mask, 1))
        edges = edges.astype(np.int32).reshape(-1, 2)
        exp.matrices["edges"] = Matrix("edges", "edges", edges, unsigned_bits(max(n - 1, 1)),
                                       ("edge", "endpoint"))
    fb = exp.dacs["field"]["bits"]
    for k, name in enumerate(names):
        exp.matrices[name] = Matrix(name, "field", raw["fields"][k].copy(), fb, ("cell",))
    for name, codes in raw["registers"].items():
        if name in exp.matrices:
            raise ThermochipError(f"{path}: learner register {name!r} has the name of a "
                                  "coupling or field matrix")
        codes = codes.reshape(-1) if codes.ndim == 0 else codes
        axes = KNOWN_AXES.get(name, tuple(f"axis{i}" for i in range(codes.ndim)))
        exp.matrices[name] = Matrix(name, "register", codes, fb, tuple(axes))
    validate(exp, str(path))
    return exp
