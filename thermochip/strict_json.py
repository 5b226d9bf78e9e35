"""JSON that strict parsers read: no NaN or Infinity (RFC 8259 has neither)."""

from __future__ import annotations

import json
import math


def finite(obj):
    """``obj`` with every non-finite float (and numpy scalar) replaced by None."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):  # numpy scalars
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj, **kwargs) -> str:
    """``json.dumps`` of :func:`finite` ``(obj)``, refusing any NaN left."""
    return json.dumps(finite(obj), allow_nan=False, **kwargs)
