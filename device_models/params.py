"""How a device declares its parameters: dataclass fields carrying their documentation, SI
unit and constraint as data (checked by the spec loader, exported to the JSON Schema)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Interval:
    """A numeric range; ``None`` leaves a side open."""

    lo: float | None = None
    hi: float | None = None
    lo_closed: bool = True
    hi_closed: bool = True

    def contains(self, v: float) -> bool:
        if self.lo is not None and (v < self.lo or (v == self.lo and not self.lo_closed)):
            return False
        if self.hi is not None and (v > self.hi or (v == self.hi and not self.hi_closed)):
            return False
        return True

    def describe(self) -> str:
        lo = "-inf" if self.lo is None else _bound(self.lo)
        hi = "inf" if self.hi is None else _bound(self.hi)
        return f"{'[' if self.lo_closed and self.lo is not None else '('}{lo}, {hi}" \
               f"{']' if self.hi_closed and self.hi is not None else ')'}"


def _bound(v: float) -> str:
    """A range bound as written: integers without a decimal point."""
    return str(int(v)) if v == int(v) else f"{v:g}"


@dataclass(frozen=True)
class OneOf:
    """A choice among fixed strings."""

    choices: tuple[str, ...]


def spec_field(default: Any = dataclasses.MISSING, *, doc: str, unit: str | None = None,
               check: Interval | OneOf | None = None, default_factory: Any = dataclasses.MISSING):
    """A dataclass field with its documentation, SI unit and constraint in metadata."""
    meta = {"doc": doc, "unit": unit, "check": check}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


POSITIVE = Interval(0, None, lo_closed=False)
NON_NEGATIVE = Interval(0, None)
