"""The JSON Schema (draft 2020-12) of chip specs, generated from the spec's dataclasses:
descriptions with units, bounds, enums, variants, required keys (``thermochip schema``)."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from thermochip.spec import ChipSpec, Interval, OneOf
from thermochip.spec_build import UNIONS, field_hints, is_required, plain, plugged_variants, tag_key
from thermochip.spec_yaml import one_line
from thermochip.units import quantity_pattern


def _class_doc(cls: type) -> str:
    doc = cls.__doc__ or ""
    if doc.startswith(cls.__name__ + "("):  # the signature dataclasses writes when none given
        return ""
    return one_line(doc.strip().split("\n\n")[0])


def _bounds(check: object) -> dict:
    out: dict[str, float] = {}
    if isinstance(check, Interval):
        if check.lo is not None:
            out["minimum" if check.lo_closed else "exclusiveMinimum"] = check.lo
        if check.hi is not None:
            out["maximum" if check.hi_closed else "exclusiveMaximum"] = check.hi
    return out


def _ref(cls: type, defs: dict, tag: str | None = None) -> dict:
    name = cls.__name__
    if name not in defs:
        defs[name] = {}  # placeholder first: guards against recursion
        defs[name] = _object_schema(cls, defs, tag)
    return {"$ref": f"#/$defs/{name}"}


def _type_schema(hint: Any, meta: typing.Mapping, defs: dict) -> dict:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        options = tuple(a for a in args if a is not type(None))
        inner = (_type_schema(options[0], meta, defs) if len(options) == 1
                 else _union_schema(UNIONS[frozenset(options)], defs))
        return {"anyOf": [inner, {"type": "null"}]} if len(options) < len(args) else inner
    variants = plugged_variants(hint)
    if variants is not None:
        return _union_schema(variants.tags(), defs)
    if dataclasses.is_dataclass(hint):
        return _ref(hint, defs)
    if origin is list:
        return {"type": "array", "items": _type_schema(typing.get_args(hint)[0], meta, defs)}
    if origin is dict or hint is Any:
        return {"type": "object"} if origin is dict else {}
    check, unit = meta.get("check"), meta.get("unit")
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer", **_bounds(check)}
    if hint is float:
        number = {"type": "number", **_bounds(check)}
        if unit:
            return {"anyOf": [number, {"type": "string", "pattern": quantity_pattern(unit)}]}
        return number
    if hint is str:
        if isinstance(check, OneOf):
            return {"type": "string", "enum": list(check.choices)}
        return {"type": "string"}
    raise TypeError(f"no JSON Schema for {hint!r}")


def _union_schema(tags: dict[str, type], defs: dict) -> dict:
    # A bare kind string is accepted for variants that need no other field.
    key = tag_key(tags)
    bare = [tag for tag, cls in tags.items()
            if not any(is_required(f) for f in dataclasses.fields(cls) if f.name != key)]
    branches = [{"type": "string", "enum": bare}] if bare else []
    branches += [_ref(cls, defs, tag) for tag, cls in tags.items()]
    return {"oneOf": branches}


def _default(f: dataclasses.Field) -> tuple[bool, object]:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        return False, None
    value = plain(value)
    return isinstance(value, (type(None), bool, int, float, str, list, dict)), value


def _object_schema(cls: type, defs: dict, tag: str | None = None) -> dict:
    hints = field_hints(cls)
    properties: dict[str, dict] = {}
    required: list[str] = []
    key = dataclasses.fields(cls)[0].name
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if tag is not None and f.name == key:
            properties[key] = {"const": tag, "description": "variant tag"}
            required.append(key)
            continue
        prop = dict(_type_schema(hints[f.name], f.metadata, defs))
        doc, unit = f.metadata.get("doc"), f.metadata.get("unit")
        if unit:
            doc = (f"{doc} [{unit}; a number in {unit}, or a string with an SI prefix such as "
                   f"'1 n{unit}']")
        if doc:
            prop["description"] = doc
        has_default, default = _default(f)
        if has_default:
            prop["default"] = default
        else:
            required.append(f.name)
        properties[f.name] = prop
    if tag is not None and key not in properties:
        properties[key] = {"const": tag, "description": "variant tag"}
        required.append(key)
    schema: dict[str, object] = {"type": "object"}
    description = _class_doc(cls)
    if description:
        schema["description"] = description
    schema["properties"] = properties
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def json_schema() -> dict:
    """A JSON Schema (draft 2020-12) of :class:`~thermochip.spec.ChipSpec`, generated from
    the dataclasses: descriptions with units, bounds, enums, variants, required keys."""
    defs: dict[str, dict] = {}
    root = _object_schema(ChipSpec, defs)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "thermochip chip spec", **root, "$defs": defs}
