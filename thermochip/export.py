"""``thermochip export``: a run's DAC codes in forms that hardware tools load.

One export holds the integer code of every coupling matrix and field register of a chip, with
what is needed to use them: each DAC's bit width, full scale, LSB (value = code x LSB) and
rounding, the topology, the layer sizes, the index order, the SHA-256 of the stored spec text,
the package version that made the run and its seed.

Matrices (all row-major: element ``[r][c]`` of an R x C matrix is word ``r*C + c``; the first
index is the row):

- layered chips: ``W0`` (input x layer0: the input couplers; absent when the chip has no
  inputs) and ``Wk`` (layer k-1 x layer k, k >= 1: the block of the N x N coupling matrix
  between those layers; chip cell indices ``offset[k-1] + r`` and ``offset[k] + c``). The
  mirror block is the transpose (one device per coupler), so it is not repeated.
- other topologies: ``J`` (cell x cell, symmetric), ``mask`` (cell x cell, 1 where a coupler
  exists) and ``edges`` (edge x 2: ``(i, j)``, ``i < j``, in row-major order of the upper
  triangle).
- directed chips (``couplings.asymmetric`` or ``topology.feedforward``: one device per
  direction) carry ``directed: true`` and store both directions: ``Wk[r][c]`` is the device
  from layer k-1 cell r into layer k cell c, ``Wk_back[r][c]`` (layer k x layer k-1; absent
  for feed-forward chips) the device from layer k cell r into layer k-1 cell c; ``J[i][j]`` is
  the device from cell j into cell i and ``edges`` lists every device ``(i, j)`` in row-major
  order. Reciprocal exports carry no ``directed`` key and are as before.
- field registers, one code per cell, named as the device model names them (``h``, ``S`` for
  oscillators; ``b``, ``a`` for soft spins), and learner registers (e.g. ``bias_codes``,
  class x cell), which are written through the field DAC.

Formats: ``h5`` (one HDF5 file), ``hex`` (a folder: one Verilog ``$readmemh`` file per matrix,
two's complement at the DAC width, plus ``manifest.json`` and ``spec.yaml``), ``c`` (one C
header), ``csv`` (a folder: one CSV of integer codes per matrix, plus ``manifest.json`` and
``spec.yaml``) and ``json`` (one file). Every write is atomic: a file is written to a temporary
name and renamed; a folder is written complete beside the target and then swapped in.

:func:`load_export` reads any of them (and results files) back; :func:`codes_for_chip` returns
the arrays a :class:`~thermochip.chip.Chip` loads, from a results file or any export.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import yaml

import thermochip
from thermochip.errors import ThermochipError
from thermochip.results import atomic_path

FORMATS = ("h5", "hex", "c", "csv", "json")
FORMAT_VERSION = 1
#: Marker key in every export (HDF5 attribute, JSON key, manifest key; C: TC_FORMAT_VERSION).
MARKER = "thermochip_export"
C_ARRAY_PREFIX = "tc_"
C_MACRO_PREFIX = "TC_"
ORDER = ("row-major (C order): element [r][c] of an R x C matrix is word r*C + c; the first "
         "index is the row. W0[r][c]: input r to layer-0 cell c. Wk[r][c] (k >= 1): layer k-1 "
         "cell r (chip cell offset[k-1] + r) to layer k cell c (chip cell offset[k] + c); the "
         "mirror block of the symmetric N x N matrix is its transpose. J[i][j]: cell i to cell "
         "j (symmetric). mask[i][j] = 1 where a coupler exists. edges[e] = (i, j), i < j, in "
         "row-major order of the upper triangle. Field registers: one code per cell. "
         "value = code * lsb of the matrix's DAC.")
ORDER_DIRECTED = (
    "row-major (C order): element [r][c] of an R x C matrix is word r*C + c; the first index "
    "is the row. Directed couplers: one device per direction. W0[r][c]: input r into layer-0 "
    "cell c. Wk[r][c] (k >= 1): the device from layer k-1 cell r (chip cell offset[k-1] + r) "
    "into layer k cell c (chip cell offset[k] + c), i.e. J[offset[k] + c][offset[k-1] + r]. "
    "Wk_back[r][c]: the device from layer k cell r into layer k-1 cell c, i.e. "
    "J[offset[k-1] + c][offset[k] + r] (absent for feed-forward chips). J[i][j]: the device "
    "from cell j into cell i. mask[i][j] = 1 where that device exists. edges[e] = (i, j) for "
    "every device J[i][j], in row-major order. Field registers: one code per cell. "
    "value = code * lsb of the matrix's DAC.")
META_KEYS = ("name", "model", "seed", "thermochip_version", "exported_by", "source",
             "spec_sha256", "topology", "layers", "cell_offsets", "n_cells", "field_names",
             "test_accuracy", "order")
#: Present only when true (so reciprocal exports are unchanged): one device per direction.
DIRECTED = "directed"
DAC_KEYS = ("bits", "full_scale", "lsb", "rounding")
#: kind -> the DAC whose codes it holds (None: structure, not codes).
KIND_DAC = {"coupling": "coupling", "field": "field", "register": "field", "mask": None,
            "edges": None}
KNOWN_AXES = {"bias_codes": ("class", "cell")}
#: Names a register may not take: its C macros would collide with the DAC macros.
RESERVED = {"COUPLING", "FIELD"}
SPEC_FILE = "spec.yaml"
MANIFEST = "manifest.json"
#: A folder export's companion HDF5 file with every matrix (same codes, one file).
COMPANION_H5 = "couplings.h5"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass
class Matrix:
    """One exported array of integer codes."""

    name: str
    kind: str                  # coupling, field, register, mask, edges
    codes: np.ndarray          # int32, any shape with ndim >= 1
    bits: int                  # word width (the DAC's, or the width of a structural array)
    axes: tuple[str, ...]      # what each index counts

    @property
    def signed(self) -> bool:
        return KIND_DAC[self.kind] is not None

    @property
    def dac(self) -> str | None:
        return KIND_DAC[self.kind]


@dataclass
class Export:
    """Everything an export holds, independent of the format."""

    meta: dict
    dacs: dict[str, dict]                      # "coupling" / "field" -> bits, full_scale, ...
    matrices: dict[str, Matrix] = field(default_factory=dict)
    spec: str | None = None

    def attrs(self, m: Matrix) -> dict:
        """JSON-ready description of a matrix (everything but its codes)."""
        d = self.dacs.get(m.dac, {}) if m.dac else {}
        return {"name": m.name, "kind": m.kind, "shape": list(m.codes.shape), "bits": m.bits,
                "signed": m.signed, "dac": m.dac, "lsb": d.get("lsb"),
                "full_scale": d.get("full_scale"), "rounding": d.get("rounding"),
                "axes": list(m.axes)}


# -- small helpers ------------------------------------------------------------------------------
def _plain(value):
    """numpy / bytes values as plain Python (JSON-ready)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _signed_range(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _unsigned_bits(max_value: int) -> int:
    return max(1, int(max_value).bit_length())


def hex_digits(bits: int) -> int:
    """Hex digits of one ``bits``-wide word."""
    return (bits + 3) // 4


def to_word(code: int, bits: int, signed: bool = True) -> str:
    """``code`` as a ``bits``-wide hex word: two's complement when ``signed``."""
    code = int(code)
    lo, hi = _signed_range(bits) if signed else (0, 2 ** bits - 1)
    if not lo <= code <= hi:
        raise ThermochipError(f"code {code} does not fit {bits} "
                              f"{'signed' if signed else 'unsigned'} bits")
    return format(code & (2 ** bits - 1), f"0{hex_digits(bits)}x")


def from_word(value: int, bits: int, signed: bool = True) -> int:
    """Inverse of :func:`to_word` on the word's integer value."""
    if not 0 <= value < 2 ** bits:
        raise ValueError(f"word {value:x} is wider than {bits} bits")
    return value - 2 ** bits if signed and value >= 2 ** (bits - 1) else value


def _check_fits(m: Matrix, where: str) -> None:
    if m.codes.size == 0:
        return
    lo, hi = _signed_range(m.bits) if m.signed else (0, 2 ** m.bits - 1)
    bad = (m.codes < lo) | (m.codes > hi)
    if bad.any():
        raise ThermochipError(f"{where}: {m.name} holds code {int(m.codes[bad].flat[0])}, "
                              f"outside {m.bits}-bit {'signed' if m.signed else 'unsigned'} "
                              f"range [{lo}, {hi}]")


def _spec_info(spec_text: str) -> dict:
    try:
        spec = yaml.safe_load(spec_text)
    except yaml.YAMLError:
        spec = None
    return spec if isinstance(spec, dict) else {}


def _field_names(model: str | None) -> list[str]:
    try:
        import device_models
        names = device_models.get_model(model).field_names
    except (KeyError, TypeError):  # unknown or missing model: generic names
        names = (None, None)
    return [n if n else f"field{k}" for k, n in enumerate(names)]


def _int_codes(array, where: str) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype.kind not in "iub":
        raise ThermochipError(f"{where}: expected integer codes, found {a.dtype}")
    return a.astype(np.int32)


# -- reading a results file -----------------------------------------------------------------------
def _open_h5(path: Path):
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ThermochipError(f"cannot read {path}: {err}") from None


def _dac_attrs(group) -> dict:
    a = group.attrs
    try:
        bits = int(a["bits"])
        full_scale = float(a["full_scale"])
    except KeyError as err:
        raise ThermochipError(f"{group.file.filename}: {group.name} has no {err} "
                              "attribute") from None
    lsb = float(a["lsb"]) if "lsb" in a else full_scale / (2 ** (bits - 1) - 1)
    return {"bits": bits, "full_scale": full_scale, "lsb": lsb,
            "rounding": _plain(a.get("rounding", "nearest"))}


def _raw_results(f: h5py.File, path: Path) -> dict:
    """The arrays a results file stores for a chip, as they are."""
    for key in ("couplings/codes", "fields/codes"):
        if key not in f:
            raise ThermochipError(f"{path} is not a thermochip results file (no {key})")
    return {"couplings": _int_codes(f["couplings/codes"][()], str(path)),
            "fields": _int_codes(f["fields/codes"][()], str(path)),
            "input_codes": (_int_codes(f["couplings/input_codes"][()], str(path))
                            if "couplings/input_codes" in f else None),
            "mask": (np.asarray(f["couplings/mask"][()]).astype(bool)
                     if "couplings/mask" in f else None),
            "registers": {k: _int_codes(f[f"learner/{k}"][()], str(path))
                          for k in f.get("learner", {})}}


def _results_directed(f: h5py.File, spec: dict) -> bool:
    """Whether a results file's chip has one coupler device per direction: its ``directed``
    attribute, else its spec (``couplings.asymmetric``, ``topology.feedforward``)."""
    if "couplings" in f and "directed" in f["couplings"].attrs:
        return bool(f["couplings"].attrs["directed"])
    couplings, topo = spec.get("couplings"), spec.get("topology")
    return bool((isinstance(couplings, dict) and couplings.get("asymmetric"))
                or (isinstance(topo, dict) and topo.get("feedforward")))


def _from_results(f: h5py.File, path: Path) -> Export:
    raw = _raw_results(f, path)
    spec_text = _plain(f["spec"][()]) if "spec" in f else None
    spec = _spec_info(spec_text) if spec_text is not None else {}
    cells = spec.get("cells") or {}
    topo = spec.get("topology")
    topology = topo.get("kind") if isinstance(topo, dict) else topo
    directed = _results_directed(f, spec)
    J = raw["couplings"]
    n = J.shape[0]
    if J.ndim != 2 or J.shape != (n, n) or raw["fields"].shape != (2, n):
        raise ThermochipError(f"{path}: couplings/codes {J.shape} and fields/codes "
                              f"{raw['fields'].shape} do not describe one chip")
    layers = None
    if "layers" in f["couplings"].attrs:
        layers = [int(v) for v in np.ravel(f["couplings"].attrs["layers"])]
    elif topology == "layered" and cells.get("layers"):
        layers = [int(cells.get("inputs") or 0)] + [int(v) for v in cells["layers"]]
    if layers is not None:
        topology = "layered"
    model = _plain(f.attrs.get("model", cells.get("model")))
    names = _field_names(model)
    meta = {"name": spec.get("name"), "model": model,
            "seed": int(f.attrs["seed"]) if "seed" in f.attrs else None,
            "thermochip_version": _plain(f.attrs.get("thermochip_version")),
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
    exp = Export(meta=meta, dacs={"coupling": _dac_attrs(f["couplings"]),
                                  "field": _dac_attrs(f["fields"])}, spec=spec_text)
    cb = exp.dacs["coupling"]["bits"]
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
        if not np.array_equal(_layered_matrix(exp, n), J):
            raise ThermochipError(f"{path}: couplings/codes has codes outside the blocks "
                                  "between adjacent layers" + (
                                      "" if directed else ", or is not symmetric"))
    else:
        if not directed and not np.array_equal(J, J.T):
            raise ThermochipError(f"{path}: couplings/codes is not symmetric, but the chip's "
                                  "couplers are reciprocal (no couplings.asymmetric)")
        mask = raw["mask"] if raw["mask"] is not None else J != 0
        exp.matrices["J"] = Matrix("J", "coupling", J, cb, ("cell", "cell"))
        exp.matrices["mask"] = Matrix("mask", "mask", mask.astype(np.int32), 1, ("cell", "cell"))
        edges = np.argwhere(mask if directed else np.triu(mask, 1))
        edges = edges.astype(np.int32).reshape(-1, 2)
        exp.matrices["edges"] = Matrix("edges", "edges", edges, _unsigned_bits(max(n - 1, 1)),
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
    _validate(exp, str(path))
    return exp


def _validate(exp: Export, where: str) -> None:
    upper = set()
    for m in exp.matrices.values():
        if not _IDENT.match(m.name):
            raise ThermochipError(f"{where}: register name {m.name!r} is not an identifier")
        if m.name.upper() in RESERVED:
            raise ThermochipError(f"{where}: a register may not be named {m.name!r}")
        if any(", " in a for a in m.axes):
            raise ThermochipError(f"{where}: {m.name}: axis names may not contain ', '")
        if m.name.upper() in upper:
            raise ThermochipError(f"{where}: two registers are named {m.name!r} (ignoring case)")
        upper.add(m.name.upper())
        if m.codes.ndim == 0 or m.codes.size == 0:
            raise ThermochipError(f"{where}: {m.name} is empty")
        _check_fits(m, where)


def _layered_matrix(exp: Export, n: int) -> np.ndarray:
    """The N x N coupling codes of a layered chip from its W1, W2, ... blocks (and, for a
    directed chip, W1_back, W2_back, ...; absent ones are feed-forward: no devices)."""
    offsets = list(exp.meta["cell_offsets"]) + [n]
    directed = bool(exp.meta.get(DIRECTED))
    J = np.zeros((n, n), dtype=np.int32)

    def block(name: str, shape: tuple[int, int]) -> np.ndarray:
        W = exp.matrices[name].codes
        if W.shape != shape:
            raise ThermochipError(f"{name} is {W.shape}; layers need {shape}")
        return W

    for k in range(1, len(offsets) - 1):
        name = f"W{k}"
        a, b, c = offsets[k - 1], offsets[k], offsets[k + 1]
        if name not in exp.matrices:
            raise ThermochipError(f"{exp.meta.get('source')}: the export has no {name}")
        W = block(name, (b - a, c - b))
        if not directed:
            J[a:b, b:c] = W
            J[b:c, a:b] = W.T
            continue
        J[b:c, a:b] = W.T                       # layer k-1 cell r into layer k cell c
        if f"{name}_back" in exp.matrices:      # layer k cell r into layer k-1 cell c
            J[a:b, b:c] = block(f"{name}_back", (c - b, b - a)).T
    return J


# -- writers ---------------------------------------------------------------------------------------
def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system syncs folders
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _is_export_folder(path: Path) -> bool:
    if not any(path.iterdir()):
        return True
    try:
        return MARKER in json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    return renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0


@contextlib.contextmanager
def atomic_folder(path: str | Path):
    """Yield a new empty folder beside ``path``; on success it replaces ``path`` (an older
    export folder there is removed only after the new folder is in place). On failure the new
    folder is removed and ``path`` is left as it was."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ThermochipError(f"cannot write {path}: it exists and is not a folder")
    if path.is_dir() and not _is_export_folder(path):
        raise ThermochipError(f"cannot write {path}: the folder exists and is not a thermochip "
                              "export; choose another --out")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, _mode(folder=True))
        yield tmp
        for p in tmp.iterdir():
            _fsync(p)
        _fsync_dir(tmp)
        if not path.exists():
            os.replace(tmp, path)
        elif _exchange(tmp, path):
            shutil.rmtree(tmp, ignore_errors=True)  # now the old folder
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old",
                                        dir=path.parent))
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _mode(folder: bool = False) -> int:
    """Permissions a plain ``open`` / ``mkdir`` would give (temporary names are private)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


@contextlib.contextmanager
def _atomic_file(path: Path):
    """:func:`~thermochip.results.atomic_path` with the usual permissions on the result."""
    with atomic_path(path) as tmp:
        yield tmp
        os.chmod(tmp, _mode())


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def _write_h5(exp: Export, out: Path) -> None:
    with _atomic_file(out) as tmp, h5py.File(tmp, "w") as f:
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


def _manifest(exp: Export, fmt: str, folder: Path, files: list[tuple[str, Matrix | None]]
              ) -> dict:
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
            if fmt == "hex":
                entry.update(words=int(m.codes.size), digits=hex_digits(m.bits),
                             encoding=_encoding(m))
            else:
                entry.update(rows=int(m.codes.shape[0]) if m.codes.ndim > 1 else 1,
                             layout="one CSV row per matrix row (a vector is one row); "
                                    "integer codes")
        entry.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
        entries.append(entry)
    return {MARKER: FORMAT_VERSION, "format": fmt, **exp.meta, "dacs": exp.dacs,
            "files": entries}


def _encoding(m: Matrix) -> str:
    kind = "two's complement" if m.signed else "unsigned"
    return f"{kind}, {hex_digits(m.bits)} hex digits per word"


def hex_text(exp: Export, m: Matrix) -> str:
    """One ``$readmemh`` file: a ``//`` header of ``key: value`` lines, then one word a line."""
    shape = m.codes.shape
    cols = shape[-1] if len(shape) > 1 else 1
    idx = f"{m.name}[r][c]" if len(shape) == 2 else f"{m.name}[i]"
    where = f"word r*{cols} + c holds {idx}" if len(shape) == 2 else \
        f"word i holds {idx}" if len(shape) == 1 else "C order over all indices"
    lines = ["// thermochip export (Verilog $readmemh, one word per line)",
             f"// name: {m.name}", f"// kind: {m.kind}",
             f"// shape: {' '.join(str(s) for s in shape)}",
             f"// order: row-major; {where}", f"// axes: {', '.join(m.axes)}",
             f"// bits: {m.bits}", f"// encoding: {_encoding(m)}"]
    if m.dac:
        d = exp.dacs[m.dac]
        lines += [f"// dac: {m.dac}", f"// lsb: {d['lsb']!r}",
                  f"// full_scale: {d['full_scale']!r}", f"// rounding: {d['rounding']}",
                  "// value: code * lsb"]
    for key in ("name", "spec_sha256", "thermochip_version", "seed", "topology"):
        if exp.meta.get(key) is not None:
            lines.append(f"// {'chip' if key == 'name' else key}: {exp.meta[key]}")
    if exp.meta.get(DIRECTED):
        lines.append("// directed: true (one device per direction)")
    if exp.meta.get("layers") is not None:
        lines.append(f"// layers: {' '.join(str(v) for v in exp.meta['layers'])} "
                     "(inputs first)")
    bits, signed = m.bits, m.signed
    lines += [to_word(v, bits, signed) for v in m.codes.ravel().tolist()]
    return "\n".join(lines) + "\n"


def csv_text(m: Matrix) -> str:
    rows = m.codes.reshape(1, -1) if m.codes.ndim == 1 else m.codes.reshape(m.codes.shape[0], -1)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows.tolist())
    return buf.getvalue()


def _write_folder(exp: Export, out: Path, fmt: str) -> None:
    ext = {"hex": ".hex", "csv": ".csv"}[fmt]
    render = (lambda m: hex_text(exp, m)) if fmt == "hex" else csv_text
    with atomic_folder(out) as tmp:
        files: list[tuple[str, Matrix | None]] = []
        for m in exp.matrices.values():
            fname = m.name + ext
            _write_text(tmp / fname, render(m))
            files.append((fname, m))
        if exp.spec is not None:
            _write_text(tmp / SPEC_FILE, exp.spec)
            files.append((SPEC_FILE, None))
        # the same codes as one HDF5 file, for `thermochip run --couplings FOLDER/couplings.h5`
        _write_h5(exp, tmp / COMPANION_H5)
        files.append((COMPANION_H5, None))
        _write_text(tmp / MANIFEST, json.dumps(_manifest(exp, fmt, tmp, files), indent=1) + "\n")


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


def _write_json(exp: Export, out: Path) -> None:
    arrays = {f"@@codes:{m.name}@@": m.codes for m in exp.matrices.values()}
    doc = {MARKER: FORMAT_VERSION, "format": "json", **exp.meta, "dacs": exp.dacs,
           "spec": exp.spec,
           "matrices": {m.name: {**exp.attrs(m), "codes": f"@@codes:{m.name}@@"}
                        for m in exp.matrices.values()}}
    text = _json_text(doc, arrays)
    with _atomic_file(out) as tmp:
        _write_text(tmp, text)


# -- C header -----------------------------------------------------------------------------------
_C_TYPES = {"int8_t": (8, True), "int16_t": (16, True), "int32_t": (32, True),
            "int64_t": (64, True), "uint8_t": (8, False), "uint16_t": (16, False),
            "uint32_t": (32, False), "uint64_t": (64, False)}


def c_type(bits: int, signed: bool) -> str:
    """The smallest ``<stdint.h>`` type holding a ``bits``-wide code."""
    for width in (8, 16, 32):
        if bits <= width:
            return f"{'' if signed else 'u'}int{width}_t"
    raise ThermochipError(f"{bits}-bit codes do not fit a 32-bit C integer")


def _c_string(s: str) -> str:
    out = []
    for byte in str(s).encode("utf-8"):
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _c_float(x: float) -> str:
    text = repr(float(x))
    if not np.isfinite(x):
        raise ThermochipError(f"cannot write {x} as a C constant")
    return text if any(c in text for c in ".e") else text + ".0"


def _comment(text: str) -> str:
    return str(text).replace("*/", "* /")


def _wrap(items: list[str], indent: str, width: int = 100) -> list[str]:
    lines, line = [], indent
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if len(line) + len(piece) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += piece + " "
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _c_initializer(codes: np.ndarray, indent: str, width: int = 100) -> list[str]:
    """Lines of the brace initializer of ``codes``, outer braces excluded."""
    if codes.ndim == 1:
        return _wrap([str(v) for v in codes.tolist()], indent, width)
    lines = []
    for i, sub in enumerate(codes):
        comma = "," if i < len(codes) - 1 else ""
        if sub.ndim == 1:
            one = indent + "{" + ", ".join(str(v) for v in sub.tolist()) + "}" + comma
            if len(one) <= width:
                lines.append(one)
                continue
        lines.append(indent + "{")
        lines += _c_initializer(sub, indent + "  ", width)
        lines.append(indent + "}" + comma)
    return lines


def c_text(exp: Export, guard: str) -> str:
    """A C header: provenance comment, include guard, ``#define``s and ``const`` arrays."""
    meta, P, p = exp.meta, C_MACRO_PREFIX, C_ARRAY_PREFIX
    head = ["/*", (f" * thermochip export of {_comment(meta.get('source'))} "
                   f"(chip {_comment(meta.get('name'))}, model {_comment(meta.get('model'))})"),
            (f" * made by thermochip {meta.get('thermochip_version')}, seed "
             f"{meta.get('seed')}; exported by thermochip {meta.get('exported_by')}"),
            f" * spec sha256: {meta.get('spec_sha256')}",
            f" * topology: {meta.get('topology')}" + (
                f"; layers (inputs first): {meta['layers']}" if meta.get("layers") else "")
            + ("; directed couplers (one device per direction)" if meta.get(DIRECTED) else ""),
            " *"]
    order = ORDER_DIRECTED if meta.get(DIRECTED) else ORDER
    head += [" * " + line for line in _wrap_words(_comment(order), 92)]
    head += [" * Arrays are " + p + "<name>; macros " + P + "<NAME>_...; every code is an "
             "integer DAC code.", " */"]
    out = head + [f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", ""]

    def define(name: str, value) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, str):
            text = _c_string(value)
        elif isinstance(value, float):
            text = _c_float(value)
        else:
            text = str(int(value))
        out.append(f"#define {P}{name} {text}")

    define("FORMAT_VERSION", FORMAT_VERSION)
    for key in ("name", "model", "seed", "thermochip_version", "exported_by", "source",
                "spec_sha256", "topology", "n_cells", "test_accuracy", DIRECTED):
        define(key.upper(), meta.get(key))
    for k, name in enumerate(meta.get("field_names") or []):
        define(f"FIELD{k}_NAME", name)
    if meta.get("layers") is not None:
        define("N_INPUTS", meta["layers"][0])
        define("N_LAYERS", len(meta["layers"]) - 1)
        for k, size in enumerate(meta["layers"][1:]):
            define(f"LAYER{k}_SIZE", size)
            define(f"LAYER{k}_OFFSET", meta["cell_offsets"][k])
    out.append("")
    for dac, d in exp.dacs.items():
        out.append(f"/* {dac} DAC: value = code * {P}{dac.upper()}_LSB */")
        for key in DAC_KEYS:
            define(f"{dac.upper()}_{key.upper()}", d[key])
        out.append("")
    for m in exp.matrices.values():
        N = m.name.upper()
        shape = m.codes.shape
        dims = (["LEN"] if len(shape) == 1 else ["ROWS", "COLS"] if len(shape) == 2
                else [f"DIM{i}" for i in range(len(shape))])
        desc = f"{m.name}: {m.kind}, {' x '.join(m.axes)}"
        if m.dac:
            desc += f", value = code * {P}{m.dac.upper()}_LSB"
        out.append(f"/* {_comment(desc)} */")
        define(f"{N}_KIND", m.kind)
        define(f"{N}_AXES", ", ".join(m.axes))
        for dim, size in zip(dims, shape):
            define(f"{N}_{dim}", size)
        define(f"{N}_BITS", m.bits)
        brackets = "".join(f"[{P}{N}_{dim}]" for dim in dims)
        out.append(f"static const {c_type(m.bits, m.signed)} {p}{m.name}{brackets} = {{")
        out += _c_initializer(m.codes, "  ")
        out += ["};", ""]
    out += [f"#endif /* {guard} */", ""]
    return "\n".join(out)


def _wrap_words(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([line] if line else [])


def _guard(out: Path) -> str:
    return "THERMOCHIP_" + re.sub(r"[^A-Za-z0-9]", "_", out.name).upper()


def _write_c(exp: Export, out: Path) -> None:
    for m in exp.matrices.values():
        c_type(m.bits, m.signed)  # refuse before writing anything
    text = c_text(exp, _guard(out))
    with _atomic_file(out) as tmp:
        _write_text(tmp, text)


# -- public: export -------------------------------------------------------------------------------
def default_out(source: str | Path, fmt: str) -> Path:
    """Default ``--out``: in the current folder, named after the source."""
    stem = Path(source).stem
    return Path({"h5": f"{stem}_export.h5", "hex": f"{stem}_hex", "c": f"{stem}.h",
                 "csv": f"{stem}_csv", "json": f"{stem}_export.json"}[fmt])


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
    try:
        if fmt in ("hex", "csv"):
            _write_folder(exp, out, fmt)
        else:
            if out.is_dir():
                raise ThermochipError(f"cannot write {out}: it is a folder; {fmt} export "
                                      "writes one file")
            {"h5": _write_h5, "c": _write_c, "json": _write_json}[fmt](exp, out)
    except OSError as err:
        raise ThermochipError(f"cannot write {err.filename or out}: "
                              f"{err.strerror or err}") from None
    return exp


# -- readers --------------------------------------------------------------------------------------
def _detect(path: Path) -> str:
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
        if fmt not in ("hex", "csv"):
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
        with _open_h5(path) as f:
            if MARKER in f.attrs:
                return _read_h5_export(f, path), "h5"
            if "couplings" in f and "fields" in f:
                return _from_results(f, path), "results"
        raise ThermochipError(f"{path} is not a thermochip results or export file")
    reader = {"json": _read_json, "c": _read_c, "hex": _read_folder, "csv": _read_folder}[fmt]
    return reader(path), fmt


def _meta_from(doc, where: str) -> dict:
    meta = {k: _plain(doc[k]) if k in doc else None for k in META_KEYS}
    if DIRECTED in doc and _plain(doc[DIRECTED]):
        meta[DIRECTED] = True
    if meta["n_cells"] is None:
        raise ThermochipError(f"{where}: not a thermochip export (no n_cells)")
    return meta


def _matrix_from(attrs: dict, codes, where: str) -> Matrix:
    try:
        kind = str(attrs["kind"])
        if kind not in KIND_DAC:
            raise ThermochipError(f"{where}: unknown kind {kind!r}")
        m = Matrix(str(attrs["name"]), kind, _int_codes(codes, where), int(attrs["bits"]),
                   tuple(str(a) for a in _plain(attrs.get("axes", ()))))
    except KeyError as err:
        raise ThermochipError(f"{where}: missing {err}") from None
    if "shape" in attrs and list(m.codes.shape) != [int(s) for s in attrs["shape"]]:
        raise ThermochipError(f"{where}: {m.name} has shape {list(m.codes.shape)}, the "
                              f"description says {list(attrs['shape'])}")
    if "signed" in attrs and bool(attrs["signed"]) != m.signed:
        raise ThermochipError(f"{where}: {m.name} is marked "
                              f"{'signed' if attrs['signed'] else 'unsigned'}; kind {kind} "
                              f"is not")
    return m


def _dacs_from(dacs, where: str) -> dict:
    try:
        return {name: {"bits": int(d["bits"]), "full_scale": float(d["full_scale"]),
                       "lsb": float(d["lsb"]), "rounding": str(_plain(d["rounding"]))}
                for name, d in dacs.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ThermochipError(f"{where}: bad DAC description ({err})") from None


def _read_h5_export(f: h5py.File, path: Path) -> Export:
    where = str(path)
    try:
        exp = Export(meta=_meta_from(f.attrs, where),
                     dacs=_dacs_from({k: dict(g.attrs) for k, g in f["dacs"].items()}, where),
                     spec=_plain(f["spec"][()]) if "spec" in f else None)
        g = f["matrices"]
        for name in _plain(g.attrs["names"]):
            ds = g[name]
            exp.matrices[name] = _matrix_from({"name": name, **dict(ds.attrs)}, ds[()], where)
    except KeyError as err:
        raise ThermochipError(f"{where}: incomplete export ({err})") from None
    _validate(exp, where)
    return exp


def _read_json(path: Path) -> Export:
    where = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ThermochipError(f"{path}: not a thermochip JSON export ({err})") from None
    if not isinstance(doc, dict) or MARKER not in doc:
        raise ThermochipError(f"{path} is not a thermochip export (no {MARKER} key)")
    exp = Export(meta=_meta_from(doc, where), dacs=_dacs_from(doc.get("dacs", {}), where),
                 spec=doc.get("spec"))
    for name, entry in (doc.get("matrices") or {}).items():
        try:
            codes = np.array(entry["codes"])
        except (KeyError, ValueError, TypeError) as err:
            raise ThermochipError(f"{path}: {name} has no rectangular codes ({err})") from None
        exp.matrices[name] = _matrix_from({"name": name, **entry}, codes, where)
    _validate(exp, where)
    return exp


def parse_hex(text: str, where: str = "<hex>") -> tuple[np.ndarray, dict]:
    """Parse a ``$readmemh`` file written by :func:`hex_text`: the ``// key: value`` header
    gives the shape, width and encoding; words may carry ``_`` separators and ``@address``
    jumps, as Verilog allows. Returns (codes, header)."""
    header: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"\s*//\s*([A-Za-z_]\w*):\s*(.*?)\s*$", line)
        if m:
            header.setdefault(m.group(1), m.group(2))
    try:
        shape = tuple(int(s) for s in header["shape"].split())
        bits = int(header["bits"])
    except (KeyError, ValueError):
        raise ThermochipError(f"{where}: no '// shape:' and '// bits:' header") from None
    signed = not header.get("encoding", "two's complement").startswith("unsigned")
    # block comments become blank lines, so line numbers stay right
    body = re.sub(r"/\*.*?\*/", lambda mt: "\n" * mt.group(0).count("\n"), text, flags=re.DOTALL)
    n = int(np.prod(shape)) if shape else 0
    words: dict[int, int] = {}
    address = 0
    for lineno, line in enumerate(body.splitlines(), 1):
        for token in line.split("//", 1)[0].split():
            try:
                if token.startswith("@"):
                    address = int(token[1:].replace("_", ""), 16)
                    continue
                if not re.fullmatch(r"[0-9a-fA-F_]+", token):
                    raise ValueError
                value = int(token.replace("_", ""), 16)
                code = from_word(value, bits, signed)
            except ValueError:
                raise ThermochipError(f"{where}:{lineno}: {token!r} is not a {bits}-bit hex "
                                      "word") from None
            if not 0 <= address < n:
                raise ThermochipError(f"{where}:{lineno}: word at address {address} is "
                                      f"outside the {n} words of shape {shape}")
            words[address] = code
            address += 1
    if len(words) != n:
        raise ThermochipError(f"{where}: {len(words)} words for shape {shape} ({n} words)")
    codes = np.array([words[i] for i in range(n)], dtype=np.int64).reshape(shape)
    return codes.astype(np.int32), header


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


def _read_folder(path: Path) -> Export:
    where = str(path / MANIFEST)
    try:
        doc = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ThermochipError(f"{where}: cannot read ({err})") from None
    if MARKER not in doc:
        raise ThermochipError(f"{path} is not a thermochip export folder")
    fmt = doc.get("format")
    exp = Export(meta=_meta_from(doc, where), dacs=_dacs_from(doc.get("dacs", {}), where))
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
        if fmt == "hex":
            codes, header = parse_hex(text, str(fpath))
            for key, want in (("name", entry.get("name")), ("bits", str(entry.get("bits")))):
                if header.get(key) != want:
                    raise ThermochipError(f"{fpath}: header says {key} {header.get(key)}, the "
                                          f"manifest {want}")
        else:
            codes = parse_csv(text, tuple(int(s) for s in entry["shape"]), str(fpath))
        exp.matrices[entry["name"]] = _matrix_from(entry, codes, str(fpath))
    _validate(exp, str(path))
    return exp


# C header parsing
_C_COMMENT = re.compile(r'"(?:\\.|[^"\\\n])*"|/\*.*?\*/|//[^\n]*', re.DOTALL)
_C_DECL = re.compile(r"\b((?:(?:static|const)\s+)+)(u?int(?:8|16|32|64)_t)\s+([A-Za-z_]\w*)\s*"
                     r"((?:\[[^\]]*\]\s*)+)=\s*")
_C_TOKEN = re.compile(r"\s*(?:(?P<p>[{},;])|(?P<n>[-+]?\s*(?:0[xX][0-9a-fA-F]+|\d+)[uUlL]*)"
                      r"|(?P<other>\S))")


def _strip_c_comments(text: str) -> str:
    def repl(m):
        s = m.group(0)
        return s if s.startswith('"') else " " + "\n" * s.count("\n")
    return _C_COMMENT.sub(repl, text)


def _c_unescape(body: str) -> str:
    out, i = bytearray(), 0
    raw = body.encode("utf-8")
    simple = {ord("n"): 10, ord("t"): 9, ord("r"): 13, ord("0"): 0, ord("\\"): 92,
              ord('"'): 34, ord("'"): 39}
    while i < len(raw):
        b = raw[i]
        if b == 92 and i + 1 < len(raw):
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            out.append(simple.get(raw[i + 1], raw[i + 1]))
            i += 2
            continue
        out.append(b)
        i += 1
    return out.decode("utf-8", errors="replace")


def _c_value(text: str):
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    m = re.fullmatch(r'"((?:\\.|[^"\\])*)"', text)
    if m:
        return _c_unescape(m.group(1))
    m = re.fullmatch(r"([-+]?)\s*(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", text)
    if m:
        return int(m.group(1) + m.group(2), 0) if m.group(2).lower().startswith("0x") \
            else int(m.group(1) + m.group(2))
    try:
        return float(text.rstrip("fFlL"))
    except ValueError:
        return text


def _c_defines(text: str) -> tuple[dict, str]:
    """(#define name -> value, the text with preprocessor lines blanked)."""
    lines = text.replace("\\\n", " ").split("\n")  # join continued lines
    defines, rest = {}, []
    for line in lines:
        m = re.match(r"\s*#\s*define\s+([A-Za-z_]\w*)(?:\s+(.*))?$", line)
        if m:
            defines[m.group(1)] = _c_value(m.group(2) or "")
        rest.append("" if line.lstrip().startswith("#") else line)
    return defines, "\n".join(rest)


def _c_init(text: str, pos: int, where: str):
    """Parse a brace initializer at ``pos``; return (nested lists / int, new pos)."""
    def token(p):
        m = _C_TOKEN.match(text, p)
        if not m:
            raise ThermochipError(f"{where}: initializer ends early")
        if m.group("other"):
            line = text.count("\n", 0, m.start("other")) + 1
            raise ThermochipError(f"{where}:{line}: unexpected {m.group('other')!r} in an "
                                  "array initializer")
        return m, m.end()

    m, pos = token(pos)
    if m.group("n"):
        return _c_value(m.group("n")), pos
    if m.group("p") != "{":
        raise ThermochipError(f"{where}: expected '{{' or a number, found {m.group('p')!r}")
    items = []
    while True:
        m, after = token(pos)
        if m.group("p") == "}":
            return items, after
        value, pos = _c_init(text, pos, where)
        items.append(value)
        m, pos = token(pos)
        if m.group("p") == "}":
            return items, pos
        if m.group("p") != ",":
            raise ThermochipError(f"{where}: expected ',' or '}}' in an array initializer")


def parse_c(text: str, where: str = "<header>") -> tuple[dict, dict[str, tuple[str, np.ndarray]]]:
    """Parse a C header: its ``#define``s and its integer ``const`` arrays.
    Returns (defines, {array name: (C type, codes)})."""
    clean = _strip_c_comments(text)
    defines, body = _c_defines(clean)
    arrays = {}
    for m in _C_DECL.finditer(body):
        if "const" not in m.group(1).split():
            continue
        ctype, name = m.group(2), m.group(3)
        dims = []
        for d in re.findall(r"\[([^\]]*)\]", m.group(4)):
            d = d.strip()
            value = _c_value(d) if d else None
            if isinstance(value, str):
                value = defines.get(value)
            if value is not None and not isinstance(value, int):
                raise ThermochipError(f"{where}: {name}: array size {d!r} is not an integer")
            dims.append(value)
        values, _ = _c_init(body, m.end(), f"{where}: {name}")
        codes = np.array(values, dtype=object)
        if any(isinstance(v, list) for v in codes.ravel()) or codes.ndim != len(dims):
            raise ThermochipError(f"{where}: {name}: initializer does not match "
                                  f"{len(dims)} dimension(s) (ragged rows?)")
        if any(d is not None and d != s for d, s in zip(dims, codes.shape)):
            raise ThermochipError(f"{where}: {name} is declared {dims}, initialized "
                                  f"{list(codes.shape)}")
        width, signed = _C_TYPES[ctype]
        lo, hi = _signed_range(width) if signed else (0, 2 ** width - 1)
        codes = codes.astype(np.int64)
        if codes.size and (codes.min() < lo or codes.max() > hi):
            raise ThermochipError(f"{where}: {name} holds values outside {ctype}")
        arrays[name] = (ctype, codes)
    return defines, arrays


def _read_c(path: Path) -> Export:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ThermochipError(f"cannot read {path}: {err}") from None
    defines, arrays = parse_c(text, where)
    P = C_MACRO_PREFIX
    if f"{P}FORMAT_VERSION" not in defines:
        raise ThermochipError(f"{path} is not a thermochip export header (no "
                              f"{P}FORMAT_VERSION)")

    def get(name, default=None):
        return defines.get(P + name, default)

    meta = {k: get(k.upper()) for k in META_KEYS}
    if get(DIRECTED.upper()):
        meta[DIRECTED] = True
    meta["order"] = ORDER_DIRECTED if meta.get(DIRECTED) else ORDER
    meta["field_names"] = [get(f"FIELD{k}_NAME") for k in range(2)] \
        if get("FIELD0_NAME") is not None else None
    if get("N_LAYERS") is not None:
        n_layers = int(get("N_LAYERS"))
        meta["layers"] = [int(get("N_INPUTS"))] + [int(get(f"LAYER{k}_SIZE"))
                                                   for k in range(n_layers)]
        meta["cell_offsets"] = [int(get(f"LAYER{k}_OFFSET")) for k in range(n_layers)]
    if meta["n_cells"] is None:
        raise ThermochipError(f"{path}: no {P}N_CELLS")
    dacs = {}
    for dac in ("coupling", "field"):
        if get(f"{dac.upper()}_BITS") is not None:
            dacs[dac] = {key: get(f"{dac.upper()}_{key.upper()}") for key in DAC_KEYS}
    exp = Export(meta=meta, dacs=_dacs_from(dacs, where))
    for cname, (ctype, codes) in arrays.items():
        if not cname.startswith(C_ARRAY_PREFIX):
            continue
        name = cname[len(C_ARRAY_PREFIX):]
        N = name.upper()
        attrs = {"name": name, "kind": get(f"{N}_KIND"), "bits": get(f"{N}_BITS"),
                 "axes": [a for a in str(get(f"{N}_AXES", "")).split(", ") if a]}
        if attrs["kind"] is None or attrs["bits"] is None:
            raise ThermochipError(f"{path}: array {cname} has no {P}{N}_KIND / {P}{N}_BITS")
        m = _matrix_from(attrs, codes, where)
        if _C_TYPES[ctype][1] != m.signed:
            raise ThermochipError(f"{path}: {cname} is {ctype}; kind {m.kind} codes are "
                                  f"{'signed' if m.signed else 'unsigned'}")
        exp.matrices[name] = m
    _validate(exp, where)
    return exp


# -- public: import --------------------------------------------------------------------------------
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
    [receiving cell, sending cell]), ``fields`` (2 x N int32), ``input_codes`` (inputs x first
    layer, or None), ``registers`` (learner registers, name -> int32 array), plus
    ``coupling_dac`` / ``field_dac`` (bits, full_scale, lsb, rounding), ``layers``,
    ``directed``, ``spec_sha256`` and ``format``."""
    path = Path(path)
    fmt = _detect(path)
    if fmt == "h5":
        with _open_h5(path) as f:
            if MARKER not in f.attrs:  # a results file: its arrays as they are
                raw = _raw_results(f, path)
                spec = _plain(f["spec"][()]) if "spec" in f else None
                return {"couplings": raw["couplings"], "fields": raw["fields"],
                        "input_codes": raw["input_codes"], "registers": raw["registers"],
                        "coupling_dac": _dac_attrs(f["couplings"]),
                        "field_dac": _dac_attrs(f["fields"]),
                        "layers": ([int(v) for v in np.ravel(f["couplings"].attrs["layers"])]
                                   if "layers" in f["couplings"].attrs else None),
                        DIRECTED: _results_directed(
                            f, _spec_info(spec) if spec is not None else {}),
                        "spec_sha256": (hashlib.sha256(spec.encode("utf-8")).hexdigest()
                                        if spec is not None else None),
                        "format": "results"}
    exp, fmt = _load(path)
    n = int(exp.meta["n_cells"])
    mats = exp.matrices
    if exp.meta.get("layers") is not None:
        if exp.meta.get("cell_offsets") is None:
            raise ThermochipError(f"{path}: layered export without cell offsets")
        J = _layered_matrix(exp, n)
        inputs = mats["W0"].codes if "W0" in mats else None
    else:
        if "J" not in mats:
            raise ThermochipError(f"{path}: the export has no coupling matrix J")
        J = mats["J"].codes
        inputs = None
    names = exp.meta.get("field_names") or [m.name for m in mats.values() if m.kind == "field"]
    try:
        fields = np.stack([mats[name].codes for name in names]).astype(np.int32)
    except KeyError as err:
        raise ThermochipError(f"{path}: the export has no field register {err}") from None
    if J.shape != (n, n) or fields.shape != (2, n):
        raise ThermochipError(f"{path}: couplings {J.shape} / fields {fields.shape} do not "
                              f"fit {n} cells")
    return {"couplings": J.astype(np.int32), "fields": fields,
            "input_codes": None if inputs is None else inputs.astype(np.int32),
            "registers": {m.name: m.codes for m in mats.values() if m.kind == "register"},
            "coupling_dac": exp.dacs.get("coupling"), "field_dac": exp.dacs.get("field"),
            "layers": exp.meta.get("layers"), DIRECTED: bool(exp.meta.get(DIRECTED)),
            "spec_sha256": exp.meta.get("spec_sha256"), "format": fmt}


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
    if codes["couplings"].shape != chip.J_codes.shape:
        raise ThermochipError(f"{source}: the couplings are {codes['couplings'].shape}, the "
                              f"chip needs {chip.J_codes.shape}")
    J = codes["couplings"]
    if not chip.directed and not np.array_equal(J, J.T):
        raise ThermochipError(f"{source}: the coupling codes are directed (J_ij != J_ji); "
                              "this chip's couplers are reciprocal (one device per pair; "
                              "couplings.asymmetric is false)")
    if np.any(J[~chip.mask] != 0):
        i, j = np.argwhere((J != 0) & ~chip.mask)[0]
        raise ThermochipError(f"{source}: code {int(J[i, j])} for a coupler from cell {j} "
                              f"into cell {i}, which this chip's topology does not have")
    if codes["fields"].shape != chip.field_codes.shape:
        raise ThermochipError(f"{source}: the fields are {codes['fields'].shape}, the chip "
                              f"needs {chip.field_codes.shape}")
    inputs = codes.get("input_codes")
    has_inputs = chip.input_codes is not None and chip.input_codes.size > 0
    if has_inputs and (inputs is None or inputs.shape != chip.input_codes.shape):
        raise ThermochipError(f"{source}: the chip needs input couplings of shape "
                              f"{chip.input_codes.shape}; the file has "
                              f"{None if inputs is None else inputs.shape}")
    chip.registers.couplings.write(codes["couplings"])
    chip.registers.fields.write(codes["fields"])
    if has_inputs:
        chip.registers.inputs.write(inputs)


# -- command line ----------------------------------------------------------------------------------
def add_arguments(parser) -> None:
    parser.add_argument("run", metavar="RUN.h5", help="results file of thermochip run or "
                                                      "simulate (or an export to convert)")
    parser.add_argument("--format", choices=FORMATS, default="h5",
                        help="h5: one HDF5 file; hex: folder of Verilog $readmemh files; c: C "
                             "header; csv: folder of CSV files; json: one JSON file "
                             "(default h5)")
    parser.add_argument("--out", metavar="PATH", help="file (h5, c, json) or folder (hex, csv) "
                                                      "to write (default: named after RUN)")


def run(args) -> int:
    """Export a run's DAC codes for hardware: HDF5, Verilog hex, C header, CSV or JSON."""
    out = Path(args.out) if args.out else default_out(args.run, args.format)
    exp = write_export(args.run, args.format, out)
    parts = [f"{m.name} {'x'.join(str(s) for s in m.codes.shape)}"
             for m in exp.matrices.values()]
    print(f"wrote {out} ({args.format}: {', '.join(parts)})")
    return 0
