"""Reading a chip spec's YAML safely, with the line of every value.

The loader composes the YAML into a node tree with a safe loader (no Python tags, bounded
aliases and size) and turns the nodes into plain Python values while recording the line of
every dotted path (``cells.n``; list items ``adc.sample_times[2]``), so that every problem can
name the YAML path and line. Also the words problems are written in.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
import typing
from pathlib import Path

import yaml

from thermochip.errors import SpecError

#: Alias (``*name``) uses allowed in one YAML document; more is treated as an alias bomb.
MAX_ALIASES = 64
#: YAML nodes allowed in one document, counted after expanding aliases.
MAX_NODES = 100_000

Problem = tuple[str, str]

#: Marks a value that already produced a problem, so that it is not reported twice.
BAD = object()


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


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def _yaml_error(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    detail = f" ({one_line(context)})" if context else ""
    return f"YAML syntax error{where}: {one_line(problem)}{detail}"


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
        self.problems.append((where(path, self.lines), message))
        return BAD

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
                self.problems.append((where(path, self.lines) or f"(line {line})",
                                      "mapping keys must be plain strings"))
                continue
            key = self.value(key_node, path)
            if key is BAD:
                continue
            if not isinstance(key, str):
                # YAML 1.1 reads unquoted on/off/yes/no/null/numbers as non-strings.
                self.problems.append((f"{join_path(path, yaml_text(key))} (line {line})",
                                      f"key {key_node.value!r} is read as "
                                      f"{yaml_text(key)}; quote it to make it a string"))
                continue
            child_path = join_path(path, key)
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


def read_yaml_file(path: Path, source: str) -> tuple[object, dict[str, int], list[Problem]]:
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
    if data is BAD:
        raise SpecError(source, reader.problems)
    if not isinstance(data, dict):
        raise SpecError(source, [("", f"the top level must be a mapping of sections (cells, "
                                      f"integrator, ...); got {show(data)}")])
    return data, reader.lines, reader.problems


# ---------------------------------------------------------------------------------------------
# Messages


def join_path(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def where(path: str, lines: dict[str, int] | None) -> str:
    line = lines.get(path) if lines else None
    return f"{path} (line {line})" if line is not None and path else path


def line_of(problem: Problem) -> float:
    """Sort key: problems in file order, those without a line last."""
    match = re.search(r"\(line (\d+)\)$", problem[0])
    return int(match.group(1)) if match else math.inf


def yaml_text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def show(value: object) -> str:
    """A short description of a bad value, for messages."""
    if value is None or isinstance(value, (bool, numbers.Number)):
        return yaml_text(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    return f"a {type(value).__name__}"


def did_you_mean(word: object, choices: typing.Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""
