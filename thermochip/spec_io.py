"""YAML <-> :class:`~thermochip.spec.ChipSpec`, with errors that name the YAML path and line.

The loader composes the YAML into a node tree with a safe loader (no Python tags, bounded
aliases and size), turns the nodes into plain values while recording the line of every dotted
path, and then walks the dataclasses of :mod:`thermochip.spec`, checking types and the
constraints declared in field metadata. Every problem is collected; one
:class:`~thermochip.errors.SpecError` lists them all, e.g.::

    2 problems in chip.yaml
      cells.n (line 3): must be an int in [1, inf); got 0
      noize (line 9): unknown key 'noize'; did you mean 'noise'? valid keys: cells, ...

Paths are dotted, list items are written ``name[i]`` (``adc.sample_times[2]``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import importlib
import importlib.util
import math
import numbers
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from thermochip.errors import SpecError
from thermochip.spec import UNION_TAGS, ChipSpec, Interval, OneOf
from thermochip.units import parse_quantity, quantity_pattern

#: Alias (``*name``) uses allowed in one YAML document; more is treated as an alias bomb.
MAX_ALIASES = 64
#: YAML nodes allowed in one document, counted after expanding aliases.
MAX_NODES = 100_000

Problem = tuple[str, str]

# Marks a value that already produced a problem, so that it is not reported twice.
_BAD = object()


# ---------------------------------------------------------------------------------------------
# Reading YAML safely


class _LimitError(Exception):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


class SpecLoader(yaml.SafeLoader):
    """A SafeLoader that refuses alias bombs while composing and reads ``1e-9`` as a float
    (plain PyYAML follows YAML 1.1 and keeps it a string)."""

    def __init__(self, stream):
        super().__init__(stream)
        self.alias_count = 0
        self.node_count = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                raise _LimitError(f"more than {MAX_ALIASES} aliases (*name); refusing a "
                                  f"possible alias bomb", self.peek_event().start_mark.line + 1)
        else:
            self.node_count += 1
            if self.node_count > MAX_NODES:
                raise _LimitError(_too_many_nodes(), self.peek_event().start_mark.line + 1)
        return super().compose_node(parent, index)


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)

_YAML = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_YAML + t for t in ("null", "bool", "int", "float", "str", "seq", "map")}
_MERGE_TAG = _YAML + "merge"


def _too_many_nodes() -> str:
    return (f"more than {MAX_NODES} YAML values (aliases expanded); put large matrices in a "
            f"file (couplings.init: {{kind: file, path: ...}})")


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _yaml_error(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    detail = f" ({_one_line(context)})" if context else ""
    return f"YAML syntax error{where}: {_one_line(problem)}{detail}"


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=SpecLoader)
    except _LimitError as err:
        raise SpecError(source, [("", f"{err.message} (line {err.line})")]) from None
    except yaml.YAMLError as err:
        raise SpecError(source, [("", _yaml_error(err))]) from None
    except RecursionError:
        raise SpecError(source, [("", "YAML nesting is too deep")]) from None


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_expanded_size(root: yaml.Node, source: str) -> None:
    """Refuse recursive aliases and documents that grow past MAX_NODES once aliases are
    expanded (a few aliases nested in each other can stand for billions of values)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_path:
            raise _LimitError("recursive alias (a value that contains itself)",
                              node.start_mark.line + 1)
        on_path.add(key)
        total = 1 + sum(size(child) for child in _node_children(node))
        on_path.discard(key)
        sizes[key] = total
        return total

    try:
        if size(root) > MAX_NODES:
            raise _LimitError(_too_many_nodes(), root.start_mark.line + 1)
    except _LimitError as err:
        raise SpecError(source, [("", f"{err.message} (line {err.line})")]) from None


class _NodeReader:
    """Turns a composed node tree into plain Python values, recording the line of each path."""

    def __init__(self):
        self.constructor = yaml.constructor.SafeConstructor()
        self.lines: dict[str, int] = {}
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str):
        self.problems.append((_where(path, self.lines), message))
        return _BAD

    def value(self, node: yaml.Node, path: str):
        if node.tag == _YAML + "timestamp":
            return node.value  # a spec has no date fields; '2024-01-01' is a label
        if node.tag not in _PLAIN_TAGS:
            return self.fail(path, f"tag {_short_tag(node.tag)} is not allowed; a spec holds "
                                   f"only mappings, lists, strings, numbers, booleans and null")
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.constructor.construct_object(node)
            except (yaml.YAMLError, ValueError, TypeError):
                return self.fail(path, f"cannot read {node.value!r} as {_short_tag(node.tag)}")
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, child in enumerate(node.value):
                child_path = f"{path}[{i}]"
                self.lines.setdefault(child_path, child.start_mark.line + 1)
                items.append(self.value(child, child_path))
            return items
        return self.mapping(node, path)

    def mapping(self, node: yaml.MappingNode, path: str) -> dict:
        out: dict = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.extend(value_node.value if isinstance(value_node, yaml.SequenceNode)
                              else [value_node])
                continue
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append((_where(path, self.lines) or f"(line {line})",
                                      "mapping keys must be plain strings"))
                continue
            key = self.value(key_node, path)
            if key is _BAD:
                continue
            if not isinstance(key, str):
                # YAML 1.1 reads unquoted on/off/yes/no/null/numbers as non-strings.
                self.problems.append((f"{_join(path, _yaml_text(key))} (line {line})",
                                      f"key {key_node.value!r} is read as "
                                      f"{_yaml_text(key)}; quote it to make it a string"))
                continue
            child_path = _join(path, key)
            if key in out:
                self.problems.append((f"{child_path} (line {line})",
                                      f"duplicate key {key!r} (first given at line "
                                      f"{self.lines.get(child_path, '?')})"))
                continue
            self.lines[child_path] = line
            out[key] = self.value(value_node, child_path)
        # '<<: *base' merges: keys given explicitly win, then earlier merge sources.
        for source in merges:
            if not isinstance(source, yaml.MappingNode):
                self.fail(path, "'<<' (merge) takes a mapping or a list of mappings")
                continue
            merged = self.mapping(source, path)
            for key, value in merged.items():
                out.setdefault(key, value)
        return out


def _read_yaml_file(path: Path, source: str) -> tuple[object, dict[str, int], list[Problem]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(source, [("", "file not found")]) from None
    except IsADirectoryError:
        raise SpecError(source, [("", "is a directory, not a YAML file")]) from None
    except OSError as err:
        raise SpecError(source, [("", f"cannot read the file: {err.strerror or err}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SpecError(source, [("", f"not UTF-8 text (bad byte at offset {err.start})")]) \
            from None
    empty = "the file is empty; a chip spec needs at least 'cells' and 'integrator'"
    if not text.strip():
        raise SpecError(source, [("", empty)])
    root = _compose(text, source)
    if root is None:  # comments only
        raise SpecError(source, [("", empty)])
    _check_expanded_size(root, source)
    reader = _NodeReader()
    data = reader.value(root, "")
    if data is _BAD:
        raise SpecError(source, reader.problems)
    if not isinstance(data, dict):
        raise SpecError(source, [("", f"the top level must be a mapping of sections (cells, "
                                      f"integrator, ...); got {_show(data)}")])
    return data, reader.lines, reader.problems


# ---------------------------------------------------------------------------------------------
# Messages


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _where(path: str, lines: dict[str, int] | None) -> str:
    line = lines.get(path) if lines else None
    return f"{path} (line {line})" if line is not None and path else path


def _line_of(problem: Problem) -> float:
    """Sort key: problems in file order, those without a line last."""
    match = re.search(r"\(line (\d+)\)$", problem[0])
    return int(match.group(1)) if match else math.inf


def _yaml_text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _show(value: object) -> str:
    """A short description of a bad value, for messages."""
    if value is None or isinstance(value, (bool, numbers.Number)):
        return _yaml_text(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    return f"a {type(value).__name__}"


def _did_you_mean(word: object, choices: typing.Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _is_required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _doc(f: dataclasses.Field) -> str:
    doc = f.metadata.get("doc") or ""
    unit = f.metadata.get("unit")
    return f"{doc}, {unit}" if doc and unit else doc or (unit or "")


def _noun(hint: Any) -> str:
    """Plural name of a list element type, e.g. 'numbers', 'lists of numbers'."""
    if typing.get_origin(hint) is list:
        return f"lists of {_noun(typing.get_args(hint)[0])}"
    return {int: "ints", float: "numbers", str: "strings", bool: "booleans"}.get(hint, "values")


def _expected(hint: Any, meta: typing.Mapping) -> str:
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
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


_UNIONS: dict[frozenset, dict[str, type]] = {
    frozenset(typing.get_args(union)): tags for union, tags in UNION_TAGS.items()}
_TAG_OF: dict[type, str] = {cls: tag for tags in UNION_TAGS.values() for tag, cls in tags.items()}


class _Walker:
    def __init__(self, lines: dict[str, int] | None, problems: list[Problem]):
        self.lines = lines or {}
        self.problems = problems

    def fail(self, path: str, message: str):
        self.problems.append((_where(path, self.lines), message))
        return _BAD

    def dataclass(self, cls: type, data: object, path: str):
        if data is _BAD:
            return _BAD
        if not isinstance(data, dict):
            hint = ""
            if data is None and not any(_is_required(f) for f in dataclasses.fields(cls)):
                hint = " (write {} for all defaults)"
            return self.fail(path, f"must be {_expected(cls, {})}; got {_show(data)}{hint}")
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        hints = _hints(cls)
        ok = True
        for key in data:
            if key not in fields:
                ok = False
                shown = repr(key) if isinstance(key, str) else _yaml_text(key)
                self.fail(_join(path, key), f"unknown key {shown}{_did_you_mean(key, fields)} "
                                            f"(valid keys: {', '.join(fields)})")
        kwargs = {}
        for name, f in fields.items():
            if name not in data:
                if _is_required(f):
                    ok = False
                    doc = _doc(f)
                    self.fail(path, f"missing required key {name!r}" + (f": {doc}" if doc else ""))
                continue
            value = self.convert(hints[name], data[name], _join(path, name), f.metadata)
            if value is _BAD:
                ok = False
            else:
                kwargs[name] = value
        if not ok:
            return _BAD
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:  # a __post_init__ check of the dataclass
            return self.fail(path, _one_line(err))

    def convert(self, hint: Any, value: object, path: str, meta: typing.Mapping):
        if value is _BAD:
            return _BAD
        origin = typing.get_origin(hint)
        if origin in (typing.Union, types.UnionType):
            args = typing.get_args(hint)
            options = tuple(a for a in args if a is not type(None))
            if value is None and len(options) < len(args):
                return None
            if len(options) == 1:
                return self.convert(options[0], value, path, meta)
            tags = _UNIONS.get(frozenset(options))
            if tags is None:
                raise TypeError(f"unsupported type {hint!r} for {path}; add it to UNION_TAGS")
            return self.tagged(tags, value, path)
        if dataclasses.is_dataclass(hint):
            return self.dataclass(hint, value, path)
        if origin is list:
            if not isinstance(value, (list, tuple)):
                return self.fail(path, f"must be {_expected(hint, meta)}; got {_show(value)}")
            (item,) = typing.get_args(hint)
            items = [self.convert(item, v, f"{path}[{i}]", meta) for i, v in enumerate(value)]
            return _BAD if any(v is _BAD for v in items) else items
        if origin is dict:
            if not isinstance(value, dict):
                return self.fail(path, f"must be a mapping; got {_show(value)}")
            bad_keys = [k for k in value if not isinstance(k, str)]
            for key in bad_keys:
                self.fail(_join(path, key), f"key {_yaml_text(key)} must be a string")
            # Values are checked by their consumer (e.g. the device model's parameters).
            return _BAD if bad_keys else copy.deepcopy(value)
        if hint is Any:
            return copy.deepcopy(value)
        if hint is bool:
            if not isinstance(value, bool):
                return self.fail(path, f"must be true or false; got {_show(value)}")
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
                return self.fail(path, f"must be {_expected(int, meta)}; got {_show(value)}{tip}")
            number = int(value)
        else:
            if isinstance(value, str) and unit:
                try:
                    number = parse_quantity(value, unit)
                except ValueError as err:
                    return self.fail(path, str(err))
                quantity = value
            elif isinstance(value, bool) or not isinstance(value, numbers.Real):
                return self.fail(path, f"must be {_expected(float, meta)}; got {_show(value)}")
            else:
                try:
                    number = float(value)
                except OverflowError:
                    number = math.inf
            if not math.isfinite(number):
                return self.fail(path, f"must be a finite number; got {_show(value)}")
        if isinstance(check, Interval) and not check.contains(number):
            if unit:
                origin = f" (from {quantity!r})" if quantity is not None else ""
                return self.fail(path, f"must be in {check.describe()} {unit}; "
                                       f"got {number:g} {unit}{origin}")
            kind = "an int" if hint is int else "a number"
            return self.fail(path, f"must be {kind} in {check.describe()}; got {_show(value)}")
        return number

    def string(self, value: object, path: str, meta: typing.Mapping):
        check = meta.get("check")
        if not isinstance(value, str):
            return self.fail(path, f"must be {_expected(str, meta)}; got {_show(value)}")
        if isinstance(check, OneOf) and value not in check.choices:
            return self.fail(path, f"must be one of {', '.join(check.choices)}; got {value!r}"
                                   f"{_did_you_mean(value, check.choices)}")
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
            kind, kind_path = value[key], _join(path, key)
            data = {k: v for k, v in value.items() if k != key}
        else:
            return self.fail(path, f"must be a {label} {key} ({choices}) or a mapping with "
                                   f"'{key}'; got {_show(value)}")
        if kind is _BAD:
            return _BAD
        if not isinstance(kind, str) or kind not in tags:
            shown = repr(kind) if isinstance(kind, str) else _show(kind)
            return self.fail(kind_path, f"unknown {label} {key} {shown}; choices: {choices}"
                                        f"{_did_you_mean(kind, tags)}")
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
    if obj is _BAD or problems:
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


# ---------------------------------------------------------------------------------------------
# Loading


def _cross_section_problems(spec: ChipSpec, base_dir: Path,
                            lines: dict[str, int]) -> list[Problem]:
    """Problems found by :mod:`thermochip.checks` (checks that span sections), if present."""
    if importlib.util.find_spec("thermochip.checks") is None:
        return []
    checks = importlib.import_module("thermochip.checks")
    problems = checks.spec_problems(spec, base_dir)
    return [(_where(path, lines), message) for path, message in problems]


def load_spec(source: str | os.PathLike | dict, *, base_dir: str | os.PathLike | None = None
              ) -> ChipSpec:
    """Load and check a chip spec from a YAML file path or an already parsed mapping.

    ``base_dir`` resolves relative file names in the spec (edge lists, matrices); it defaults
    to the YAML file's folder, or the current directory for a mapping. Raises
    :class:`~thermochip.errors.SpecError` listing every problem found.
    """
    if isinstance(source, dict):
        name = "<spec mapping>"
        data, lines, problems = source, {}, []
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = os.fspath(source)
        data, lines, problems = _read_yaml_file(path, name)
        base = Path(base_dir) if base_dir is not None else path.parent
    else:
        raise TypeError(f"load_spec takes a path or a dict, not {type(source).__name__}")
    spec, walk_problems = build_dataclass(ChipSpec, data, "", lines)
    problems = problems + walk_problems
    if spec is not None and not problems:
        problems = _cross_section_problems(spec, base, lines)
    if problems:
        raise SpecError(name, sorted(problems, key=_line_of))
    return spec


# ---------------------------------------------------------------------------------------------
# Writing


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, object] = {}
        names = [f.name for f in dataclasses.fields(value) if f.init]
        key = dataclasses.fields(value)[0].name
        if key not in names and type(value) in _TAG_OF:
            out[key] = _TAG_OF[type(value)]
        for name in names:
            out[name] = _plain(getattr(value, name))
        return out
    if isinstance(value, dict):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def spec_to_dict(spec: object) -> dict:
    """The spec (or any spec section) as plain YAML-able values; every field is written,
    defaults included, and tagged-union variants carry their ``kind``."""
    out = _plain(spec)
    if not isinstance(out, dict):
        raise TypeError(f"spec_to_dict takes a spec dataclass, not {type(spec).__name__}")
    return out


class _SpecDumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    # Rows of numbers on one line each (edges, J), nested structure in block style.
    flow = not any(isinstance(v, (list, dict)) for v in data)
    return dumper.represent_sequence(_YAML + "seq", data, flow_style=flow)


_SpecDumper.add_representer(list, _represent_list)


def dump_spec(spec: ChipSpec) -> str:
    """The spec as YAML text, every field written (defaults included)."""
    return yaml.dump(spec_to_dict(spec), Dumper=_SpecDumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True)


def with_overrides(spec_dict: dict, dotted: str, value: object) -> dict:
    """A deep copy of ``spec_dict`` with the key at ``dotted`` (e.g. ``"couplings.dac.bits"``)
    set to ``value``; missing intermediate mappings are created. A bare union kind on the way
    (``topology: sparse``) becomes ``{kind: sparse}``. The result is not checked; load it."""
    keys = dotted.split(".")
    if not dotted or any(not key for key in keys):
        raise SpecError("overrides", [(dotted, "not a dotted key such as couplings.dac.bits")])
    out = copy.deepcopy(spec_dict)
    node = out
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = {}
        elif isinstance(child, str):
            child = {"kind": child}
        elif not isinstance(child, dict):
            where = ".".join(keys[:depth + 1])
            raise SpecError("overrides", [(dotted, f"cannot set a key inside {where}: it holds "
                                                   f"{_show(child)}, not a mapping")])
        node[key] = child
        node = child
    node[keys[-1]] = copy.deepcopy(value)
    return out


# ---------------------------------------------------------------------------------------------
# JSON Schema


def _class_doc(cls: type) -> str:
    doc = cls.__doc__ or ""
    if doc.startswith(cls.__name__ + "("):  # the signature dataclasses writes when none given
        return ""
    return _one_line(doc.strip().split("\n\n")[0])


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
                 else _union_schema(_UNIONS[frozenset(options)], defs))
        return {"anyOf": [inner, {"type": "null"}]} if len(options) < len(args) else inner
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
            if not any(_is_required(f) for f in dataclasses.fields(cls) if f.name != key)]
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
    value = _plain(value)
    return isinstance(value, (type(None), bool, int, float, str, list, dict)), value


def _object_schema(cls: type, defs: dict, tag: str | None = None) -> dict:
    hints = _hints(cls)
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
