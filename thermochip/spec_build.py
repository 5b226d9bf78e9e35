"""From plain YAML values to the spec's frozen dataclasses: types, units and the constraints
declared in field metadata are checked, and every problem is collected with its YAML path
and line (never the first one only)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import math
import numbers
import re
import types
import typing
from typing import Any

from thermochip.errors import SpecError
from thermochip.spec import UNION_TAGS, ChipSpec, Interval, OneOf, Variants
from thermochip.spec_yaml import (
    BAD,
    Problem,
    did_you_mean,
    join_path,
    one_line,
    show,
    where,
    yaml_text,
)
from thermochip.units import parse_quantity

# ---------------------------------------------------------------------------------------------
# Fields in words


def is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def field_doc(f: dataclasses.Field) -> str:
    doc = f.metadata.get("doc") or ""
    unit = f.metadata.get("unit")
    return f"{doc}, {unit}" if doc and unit else doc or (unit or "")


def _noun(hint: Any) -> str:
    """Plural name of a list element type, e.g. 'numbers', 'lists of numbers'."""
    if typing.get_origin(hint) is list:
        return f"lists of {_noun(typing.get_args(hint)[0])}"
    return {int: "ints", float: "numbers", str: "strings", bool: "booleans"}.get(hint, "values")


def expected(hint: Any, meta: typing.Mapping) -> str:
    """What a field accepts, in words: 'an int in [1, inf)', 'a number (s) or ...'."""
    check, unit = meta.get("check"), meta.get("unit")
    bounds = f" in {check.describe()}" if isinstance(check, Interval) else ""
    if hint is int:
        return "an int" + bounds
    if hint is float:
        if unit:
            return f"a number{bounds} (in {unit}) or a string such as '1 n{unit}'"
        return "a number" + bounds
    if hint is str:
        if isinstance(check, OneOf):
            return "one of " + ", ".join(check.choices)
        return "a string"
    if hint is bool:
        return "true or false"
    origin = typing.get_origin(hint)
    if origin is list:
        return f"a list of {_noun(typing.get_args(hint)[0])}"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(hint):
        names = [f.name for f in dataclasses.fields(hint) if f.init]
        return "a mapping with keys " + ", ".join(names) if names else "a mapping"
    return "a value"


# ---------------------------------------------------------------------------------------------
# The dataclass walker


@functools.lru_cache(maxsize=None)
def field_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def plugged_variants(hint: Any) -> Variants | None:
    """The :class:`~thermochip.spec.Variants` of an ``Annotated[Any, variants]`` hint."""
    if typing.get_origin(hint) is not typing.Annotated:
        return None
    return next((m for m in hint.__metadata__ if isinstance(m, Variants)), None)


UNIONS: dict[frozenset, dict[str, type]] = {
    frozenset(typing.get_args(union)): tags for union, tags in UNION_TAGS.items()}
TAG_OF: dict[type, str] = {cls: tag for tags in UNION_TAGS.values() for tag, cls in tags.items()}


class _Walker:
    def __init__(self, lines: dict[str, int] | None, problems: list[Problem]):
        self.lines = lines or {}
        self.problems = problems

    def fail(self, path: str, message: str):
        self.problems.append((where(path, self.lines), message))
        return BAD

    def dataclass(self, cls: type, data: object, path: str):
        if data is BAD:
            return BAD
        if not isinstance(data, dict):
            hint = ""
            if data is None and not any(is_required(f) for f in dataclasses.fields(cls)):
                hint = " (write {} for all defaults)"
            return self.fail(path, f"must be {expected(cls, {})}; got {show(data)}{hint}")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        hints = field_hints(cls)
        ok = True
        for key in data:
            if key not in fields:
                ok = False
                shown = repr(key) if isinstance(key, str) else yaml_text(key)
                self.fail(join_path(path, key), f"unknown key {shown}{did_you_mean(key, fields)} "
                                            f"(valid keys: {', '.join(fields)})")
        kwargs = {}
        for name, f in fields.items():
            if name not in data:
                if is_required(f):
                    ok = False
                    doc = field_doc(f)
                    self.fail(path, f"missing required key {name!r}" + (f": {doc}" if doc else ""))
                continue
            value = self.convert(hints[name], data[name], join_path(path, name), f.metadata)
            if value is BAD:
                ok = False
            else:
                kwargs[name] = value
        if not ok:
            return BAD
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:  # a __post_init__ check of the dataclass
            return self.fail(path, one_line(err))

    def convert(self, hint: Any, value: object, path: str, meta: typing.Mapping):
        if value is BAD:
            return BAD
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            args = typing.get_args(hint)
            options = tuple(a for a in args if a is not type(None))
            if value is None and len(options) < len(args):
                return None
            if len(options) == 1:
                return self.convert(options[0], value, path, meta)
            tags = UNIONS.get(frozenset(options))
            if tags is None:
                raise TypeError(f"unsupported type {hint!r} for {path}; add it to UNION_TAGS")
            return self.tagged(tags, value, path)
        variants = plugged_variants(hint)
        if variants is not None:
            return self.tagged(variants.tags(), value, path)
        if dataclasses.is_dataclass(hint):
            return self.dataclass(hint, value, path)
        if origin is list:
            if not isinstance(value, (list, tuple)):
                return self.fail(path, f"must be {expected(hint, meta)}; got {show(value)}")
            (item,) = typing.get_args(hint)
            items = [self.convert(item, v, f"{path}[{i}]", meta) for i, v in enumerate(value)]
            return BAD if any(v is BAD for v in items) else items
        if origin is dict:
            if not isinstance(value, dict):
                return self.fail(path, f"must be a mapping; got {show(value)}")
            bad_keys = [k for k in value if not isinstance(k, str)]
            for key in bad_keys:
                self.fail(join_path(path, key), f"key {yaml_text(key)} must be a string")
            # Values are checked by their consumer (e.g. the device model's parameters).
            return BAD if bad_keys else copy.deepcopy(value)
        if hint is Any:
            return copy.deepcopy(value)
        if hint is bool:
            if not isinstance(value, bool):
                return self.fail(path, f"must be true or false; got {show(value)}")
            return value
        if hint is int or hint is float:
            return self.number(hint, value, path, meta)
        if hint is str:
            return self.string(value, path, meta)
        raise TypeError(f"unsupported type {hint!r} for {path}")

    def number(self, hint: type, value: object, path: str, meta: typing.Mapping):
        check, unit = meta.get("check"), meta.get("unit")
        quantity = None  # the original text of a unit string, for messages
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                tip = ""
                if isinstance(value, float) and value.is_integer():
                    tip = " (write it without a decimal point or exponent)"
                return self.fail(path, f"must be {expected(int, meta)}; got {show(value)}{tip}")
            number = int(value)
        else:
            if isinstance(value, str) and unit:
                try:
                    number = parse_quantity(value, unit)
                except ValueError as err:
                    return self.fail(path, str(err))
                quantity = value
            elif isinstance(value, bool) or not isinstance(value, numbers.Real):
                return self.fail(path, f"must be {expected(float, meta)}; got {show(value)}")
            else:
                try:
                    number = float(value)
                except OverflowError:
                    number = math.inf
            if not math.isfinite(number):
                return self.fail(path, f"must be a finite number; got {show(value)}")
        if isinstance(check, Interval) and not check.contains(number):
            if unit:
                origin = f" (from {quantity!r})" if quantity is not None else ""
                return self.fail(path, f"must be in {check.describe()} {unit}; "
                                       f"got {number:g} {unit}{origin}")
            kind = "an int" if hint is int else "a number"
            return self.fail(path, f"must be {kind} in {check.describe()}; got {show(value)}")
        return number

    def string(self, value: object, path: str, meta: typing.Mapping):
        check = meta.get("check")
        if isinstance(value, bool) and isinstance(check, OneOf) \
                and str(value).lower() in check.choices:
            value = str(value).lower()  # YAML reads a bare true / false as a boolean
        if not isinstance(value, str):
            return self.fail(path, f"must be {expected(str, meta)}; got {show(value)}")
        if isinstance(check, OneOf) and value not in check.choices:
            return self.fail(path, f"must be one of {', '.join(check.choices)}; got {value!r}"
                                   f"{did_you_mean(value, check.choices)}")
        return value

    def tagged(self, tags: dict[str, type], value: object, path: str):
        label = re.sub(r"\[\d+\]$", "", path.rsplit(".", 1)[-1]) or "variant"
        choices = ", ".join(tags)
        key = tag_key(tags)
        if isinstance(value, str):  # shorthand: 'topology: all_to_all'
            kind, data, kind_path = value, {}, path
        elif isinstance(value, dict):
            if key not in value:
                return self.fail(path, f"missing '{key}'; choices: {choices}")
            kind, kind_path = value[key], join_path(path, key)
            data = {k: v for k, v in value.items() if k != key}
        else:
            return self.fail(path, f"must be a {label} {key} ({choices}) or a mapping with "
                                   f"'{key}'; got {show(value)}")
        if kind is BAD:
            return BAD
        if not isinstance(kind, str) or kind not in tags:
            shown = repr(kind) if isinstance(kind, str) else show(kind)
            return self.fail(kind_path, f"unknown {label} {key} {shown}; choices: {choices}"
                                        f"{did_you_mean(kind, tags)}")
        cls = tags[kind]
        if any(f.name == key and f.init for f in dataclasses.fields(cls)):
            data = {key: kind, **data}
        return self.dataclass(cls, data, path)


def tag_key(tags: dict[str, type]) -> str:
    """The key that names a union's variant: the variants' shared first field (``kind``;
    ``rule`` for learners)."""
    return dataclasses.fields(next(iter(tags.values())))[0].name


def build_dataclass(cls: type, data: dict, path: str = "",
                    lines: dict[str, int] | None = None) -> tuple[object | None, list[Problem]]:
    """Build ``cls`` (a dataclass using ``spec_field`` metadata) from plain values.

    ``path`` is the dotted path of ``data`` in the spec (e.g. ``"cells.params"``), used in
    messages; ``lines`` maps dotted paths to YAML line numbers where known. Returns
    ``(object, [])`` or ``(None, problems)`` with every ``(path, message)`` problem found.
    """
    problems: list[Problem] = []
    obj = _Walker(lines, problems).dataclass(cls, data, path)
    if obj is BAD or problems:
        return None, problems
    return obj, problems


def model_params(spec: ChipSpec):
    """The cell model's parameter object: preset values, then the spec's overrides."""
    import device_models

    model = device_models.get_model(spec.cells.model)
    merged = {}
    if spec.cells.preset is not None:
        merged.update(device_models.load_preset(model.name, spec.cells.preset).get("params", {}))
    merged.update(spec.cells.params)
    params, problems = build_dataclass(model.params, merged, "cells.params")
    if problems:
        raise SpecError("cells.params", problems)
    return params


def plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, object] = {}
        names = [f.name for f in dataclasses.fields(value) if f.init]
        key = dataclasses.fields(value)[0].name
        if key not in names and type(value) in TAG_OF:
            out[key] = TAG_OF[type(value)]
        for name in names:
            out[name] = plain(getattr(value, name))
        return out
    if isinstance(value, dict):
        return {key: plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
