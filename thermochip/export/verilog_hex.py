"""Format ``hex``: a folder of Verilog ``$readmemh`` files, one word per line, two's
complement at the DAC width, each opening with a ``//`` header of ``key: value`` lines (name,
shape, order, bits, encoding, DAC, provenance); see :mod:`thermochip.export.folders`."""

from __future__ import annotations

import re

import numpy as np

from thermochip.errors import ThermochipError
from thermochip.export.folders import FolderFormat
from thermochip.export.model import DIRECTED, Export, Matrix, signed_range

NAME = "hex"
FOLDER = True
DEFAULT_OUT = "{stem}_hex"


def hex_digits(bits: int) -> int:
    """Hex digits of one ``bits``-wide word."""
    return (bits + 3) // 4


def to_word(code: int, bits: int, signed: bool = True) -> str:
    """``code`` as a ``bits``-wide hex word: two's complement when ``signed``."""
    code = int(code)
    lo, hi = signed_range(bits) if signed else (0, 2 ** bits - 1)
    if not lo <= code <= hi:
        raise ThermochipError(f"code {code} does not fit {bits} "
                              f"{'signed' if signed else 'unsigned'} bits")
    return format(code & (2 ** bits - 1), f"0{hex_digits(bits)}x")


def from_word(value: int, bits: int, signed: bool = True) -> int:
    """Inverse of :func:`to_word` on the word's integer value."""
    if not 0 <= value < 2 ** bits:
        raise ValueError(f"word {value:x} is wider than {bits} bits")
    return value - 2 ** bits if signed and value >= 2 ** (bits - 1) else value


def encoding(m: Matrix) -> str:
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
             f"// bits: {m.bits}", f"// encoding: {encoding(m)}"]
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


def _parse(text: str, entry: dict, where: str) -> np.ndarray:
    codes, header = parse_hex(text, where)
    for key, want in (("name", entry.get("name")), ("bits", str(entry.get("bits")))):
        if header.get(key) != want:
            raise ThermochipError(f"{where}: header says {key} {header.get(key)}, the "
                                  f"manifest {want}")
    return codes


def _describe(m: Matrix) -> dict:
    return {"words": int(m.codes.size), "digits": hex_digits(m.bits), "encoding": encoding(m)}


FORMAT = FolderFormat(NAME, ".hex", hex_text, _parse, _describe)
write, read = FORMAT.write, FORMAT.read
