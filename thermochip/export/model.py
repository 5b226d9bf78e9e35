"""What an export holds, whatever its format: the integer code of every coupling matrix and
field register of a chip, with each DAC's bit width, full scale, LSB (value = code x LSB) and
rounding, the topology, the layer sizes, the index order, the SHA-256 of the stored spec text,
the package version that made the run and its seed. The formats (one module each in this
package) write and read an :class:`Export`; the checks every reader applies are here.

Matrices (all row-major: element ``[r][c]`` of an R x C matrix is word ``r*C + c``; the first
index is the row):

- layered chips: ``W0`` (input x layer0: the input couplers; absent when the chip has no
  inputs) and ``Wk`` (layer k-1 x layer k, k >= 1: the block of the N x N coupling matrix
  between those layers; chip cell indices ``offset[k-1] + r`` and ``offset[k] + c``). The
  mirror block is the transpose (one device per coupler), so it is not repeated.
- all-to-all chips: ``J`` (cell x cell, symmetric), ``mask`` (cell x cell, 1 where a coupler
  exists) and ``edges`` (edge x 2: ``(i, j)``, ``i < j``, in row-major order of the upper
  triangle).
- sparse chips (couplers stored per edge): ``edges`` as above and ``J_edges`` (edge,): the
  code of the device ``edges[e]``; no cell x cell array, so size grows with the edges.
- directed chips (``couplings.asymmetric`` or ``topology.feedforward``: one device per
  direction) carry ``directed: true`` and store both directions: ``Wk[r][c]`` is the device
  from layer k-1 cell r into layer k cell c, ``Wk_back[r][c]`` (layer k x layer k-1; absent
  for feed-forward chips) the device from layer k cell r into layer k-1 cell c; ``J[i][j]`` is
  the device from cell j into cell i and ``edges`` lists every device ``(i, j)`` in row-major
  order (``J_edges[e]`` its code, on sparse chips). Reciprocal exports carry no ``directed`` key.
- field registers, one code per cell, named as the device model names them (``h``, ``S`` for
  oscillators; ``b``, ``a`` for soft spins), and learner registers (e.g. ``bias_codes``,
  class x cell), which are written through the field DAC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import yaml

from thermochip.errors import ThermochipError

FORMAT_VERSION = 1
#: Marker key in every export (HDF5 attribute, JSON key, manifest key; C: TC_FORMAT_VERSION).
MARKER = "thermochip_export"
ORDER = ("row-major (C order): element [r][c] of an R x C matrix is word r*C + c; the first "
         "index is the row. W0[r][c]: input r to layer-0 cell c. Wk[r][c] (k >= 1): layer k-1 "
         "cell r (chip cell offset[k-1] + r) to layer k cell c (chip cell offset[k] + c); the "
         "mirror block of the symmetric N x N matrix is its transpose. J[i][j]: cell i to cell "
         "j (symmetric). mask[i][j] = 1 where a coupler exists. edges[e] = (i, j), i < j, in "
         "row-major order of the upper triangle; J_edges[e]: the code of edges[e] (sparse "
         "chips, which have no J or mask). Field registers: one code per cell. "
         "value = code * lsb of the matrix's DAC.")
ORDER_DIRECTED = (
    "row-major (C order): element [r][c] of an R x C matrix is word r*C + c; the first index "
    "is the row. Directed couplers: one device per direction. W0[r][c]: input r into layer-0 "
    "cell c. Wk[r][c] (k >= 1): the device from layer k-1 cell r (chip cell offset[k-1] + r) "
    "into layer k cell c (chip cell offset[k] + c), i.e. J[offset[k] + c][offset[k-1] + r]. "
    "Wk_back[r][c]: the device from layer k cell r into layer k-1 cell c, i.e. "
    "J[offset[k-1] + c][offset[k] + r] (absent for feed-forward chips). J[i][j]: the device "
    "from cell j into cell i. mask[i][j] = 1 where that device exists. edges[e] = (i, j) for "
    "every device J[i][j], in row-major order; J_edges[e]: the code of the device edges[e] "
    "(sparse chips, which have no J or mask). Field registers: one code per cell. "
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


def plain_value(value):
    """numpy / bytes values as plain Python (JSON-ready)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return [plain_value(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    return value


def signed_range(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def unsigned_bits(max_value: int) -> int:
    return max(1, int(max_value).bit_length())


def check_fits(m: Matrix, where: str) -> None:
    if m.codes.size == 0:
        return
    lo, hi = signed_range(m.bits) if m.signed else (0, 2 ** m.bits - 1)
    bad = (m.codes < lo) | (m.codes > hi)
    if bad.any():
        raise ThermochipError(f"{where}: {m.name} holds code {int(m.codes[bad].flat[0])}, "
                              f"outside {m.bits}-bit {'signed' if m.signed else 'unsigned'} "
                              f"range [{lo}, {hi}]")


def spec_info(spec_text: str) -> dict:
    try:
        spec = yaml.safe_load(spec_text)
    except yaml.YAMLError:
        spec = None
    return spec if isinstance(spec, dict) else {}


def field_names(model: str | None) -> list[str]:
    try:
        import device_models
        names = device_models.get_model(model).field_names
    except (KeyError, TypeError):  # unknown or missing model: generic names
        names = (None, None)
    return [n if n else f"field{k}" for k, n in enumerate(names)]


def int_codes(array, where: str) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype.kind not in "iub":
        raise ThermochipError(f"{where}: expected integer codes, found {a.dtype}")
    return a.astype(np.int32)


def validate(exp: Export, where: str) -> None:
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
        check_fits(m, where)


def layered_matrix(exp: Export, n: int) -> np.ndarray:
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


def meta_from(doc, where: str) -> dict:
    meta = {k: plain_value(doc[k]) if k in doc else None for k in META_KEYS}
    if DIRECTED in doc and plain_value(doc[DIRECTED]):
        meta[DIRECTED] = True
    if meta["n_cells"] is None:
        raise ThermochipError(f"{where}: not a thermochip export (no n_cells)")
    return meta


def matrix_from(attrs: dict, codes, where: str) -> Matrix:
    try:
        kind = str(attrs["kind"])
        if kind not in KIND_DAC:
            raise ThermochipError(f"{where}: unknown kind {kind!r}")
        m = Matrix(str(attrs["name"]), kind, int_codes(codes, where), int(attrs["bits"]),
                   tuple(str(a) for a in plain_value(attrs.get("axes", ()))))
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


def dacs_from(dacs, where: str) -> dict:
    try:
        return {name: {"bits": int(d["bits"]), "full_scale": float(d["full_scale"]),
                       "lsb": float(d["lsb"]), "rounding": str(plain_value(d["rounding"]))}
                for name, d in dacs.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ThermochipError(f"{where}: bad DAC description ({err})") from None
