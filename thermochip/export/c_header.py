"""Format ``c``: one C header: a provenance comment, an include guard, ``#define``s for the
provenance, each DAC and each matrix's kind, axes, shape and bits, and ``static const``
arrays of the smallest ``<stdint.h>`` type that holds the codes. The reader parses what the
writer writes (comments, ``#define``s, brace initializers)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from thermochip.atomic import atomic_path, write_text
from thermochip.errors import ThermochipError
from thermochip.export.model import (
    DAC_KEYS,
    DIRECTED,
    FORMAT_VERSION,
    META_KEYS,
    ORDER,
    ORDER_DIRECTED,
    Export,
    dacs_from,
    matrix_from,
    signed_range,
    validate,
)

NAME = "c"
FOLDER = False
DEFAULT_OUT = "{stem}.h"
C_ARRAY_PREFIX = "tc_"
C_MACRO_PREFIX = "TC_"
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


def write(exp: Export, out: Path) -> None:
    for m in exp.matrices.values():
        c_type(m.bits, m.signed)  # refuse before writing anything
    text = c_text(exp, _guard(out))
    with atomic_path(out) as tmp:
        write_text(tmp, text)


# -- reading ---------------------------------------------------------------------------------------
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
        lo, hi = signed_range(width) if signed else (0, 2 ** width - 1)
        codes = codes.astype(np.int64)
        if codes.size and (codes.min() < lo or codes.max() > hi):
            raise ThermochipError(f"{where}: {name} holds values outside {ctype}")
        arrays[name] = (ctype, codes)
    return defines, arrays


def read(path: Path) -> Export:
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
    exp = Export(meta=meta, dacs=dacs_from(dacs, where))
    for cname, (ctype, codes) in arrays.items():
        if not cname.startswith(C_ARRAY_PREFIX):
            continue
        name = cname[len(C_ARRAY_PREFIX):]
        N = name.upper()
        attrs = {"name": name, "kind": get(f"{N}_KIND"), "bits": get(f"{N}_BITS"),
                 "axes": [a for a in str(get(f"{N}_AXES", "")).split(", ") if a]}
        if attrs["kind"] is None or attrs["bits"] is None:
            raise ThermochipError(f"{path}: array {cname} has no {P}{N}_KIND / {P}{N}_BITS")
        m = matrix_from(attrs, codes, where)
        if _C_TYPES[ctype][1] != m.signed:
            raise ThermochipError(f"{path}: {cname} is {ctype}; kind {m.kind} codes are "
                                  f"{'signed' if m.signed else 'unsigned'}")
        exp.matrices[name] = m
    validate(exp, where)
    return exp
