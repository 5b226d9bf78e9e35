"""SI quantities written as text: ``"50 ps"``, ``"1.2 GHz"``, ``"1e-9"``.

Spec fields that declare a ``unit`` accept either a plain number (already in that SI unit) or
a string with an optional SI prefix. The unit symbol must be the field's own, so a time field
rejects ``"5 Hz"`` instead of silently reading 5.
"""

from __future__ import annotations

import math
import numbers
import re
from decimal import Decimal, InvalidOperation

#: SI prefix -> power of ten. Both the micro sign (U+00B5) and Greek mu (U+03BC) mean micro.
PREFIXES: dict[str, int] = {
    "y": -24, "z": -21, "a": -18, "f": -15, "p": -12, "n": -9, "u": -6, "\u00b5": -6,
    "\u03bc": -6, "m": -3, "c": -2, "d": -1, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15,
}

_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_QUANTITY = re.compile(rf"^\s*({_NUMBER})\s*([^\s\d.+-]*)\s*$")


def quantity_pattern(unit: str) -> str:
    """A regular expression (JSON Schema dialect) for the strings :func:`parse_quantity`
    accepts for ``unit``: a number, optionally followed by ``[prefix]unit``."""
    prefixes = "".join(sorted(PREFIXES))
    return rf"^\s*{_NUMBER}\s*(?:[{prefixes}]?{re.escape(unit)})?\s*$"


def parse_quantity(value: object, unit: str) -> float:
    """Return ``value`` in the SI unit ``unit`` as a float.

    ``value`` is an int or float (taken as already in ``unit``) or a string such as
    ``"50 ps"``, ``"2.5ns"``, ``"3 µs"`` or a bare number ``"1e-9"``. Raises ``ValueError``
    with a one-line message otherwise (booleans, non-finite values, a different unit).
    """
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, str)):
        raise ValueError(f"expected a number or a string like '1 {unit}'; "
                         f"got {type(value).__name__} {value!r}")
    if not isinstance(value, str):
        result = float(value)
    else:
        result = _parse_text(value, unit)
    if not math.isfinite(result):
        raise ValueError(f"must be finite; got {value!r}")
    return result


def _parse_text(text: str, unit: str) -> float:
    match = _QUANTITY.match(text)
    if match is None:
        raise ValueError(f"cannot read {text!r} as a quantity in {unit}; "
                         f"write a number with an optional SI prefix, e.g. '1.5 n{unit}'")
    number, symbol = match.groups()
    if symbol == "" or symbol == unit:
        exponent = 0
    elif symbol[1:] == unit and symbol[0] in PREFIXES:
        exponent = PREFIXES[symbol[0]]
    else:
        raise ValueError(_wrong_unit_message(text, symbol, unit))
    try:
        # Decimal keeps '50 ps' == 5e-11 exactly as the float literal would be.
        return float(Decimal(number).scaleb(exponent))
    except InvalidOperation:  # pragma: no cover - the regex only lets valid numbers through
        raise ValueError(f"cannot read {text!r} as a number") from None


def _wrong_unit_message(text: str, symbol: str, unit: str) -> str:
    # The usual slip is the case ('ghz', 'mhz'): symbols and prefixes are case-sensitive.
    candidates = [unit] + [prefix + unit for prefix in PREFIXES]
    same_letters = [c for c in candidates if c.lower() == symbol.lower()]
    hint = f"; did you mean {' or '.join(repr(c) for c in same_letters)}?" if same_letters else ""
    return (f"unit {symbol!r} in {text!r} is not {unit!r} with an SI prefix "
            f"(e.g. '1 n{unit}', '2 k{unit}'){hint}")
