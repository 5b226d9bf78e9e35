"""YAML <-> :class:`~thermochip.spec.ChipSpec`: :func:`load_spec` reads and checks a spec
(the YAML with its lines, :mod:`thermochip.spec_yaml`; the dataclasses,
:mod:`thermochip.spec_build`; the checks that span sections, :mod:`thermochip.checks`) and
raises one :class:`~thermochip.errors.SpecError` listing every problem, e.g.::

    2 problems in chip.yaml
      cells.n (line 3): must be an int in [1, inf); got 0
      noize (line 9): unknown key 'noize'; did you mean 'noise'? valid keys: cells, ...

:func:`dump_spec` writes a spec back (every field, defaults included).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Callable

import yaml

from thermochip import checks
from thermochip.errors import SpecError
from thermochip.spec import ChipSpec
from thermochip.spec_build import build_dataclass, plain
from thermochip.spec_yaml import Problem, line_of, read_yaml_file, show, where

# ---------------------------------------------------------------------------------------------
# Loading


def _cross_section_problems(spec: ChipSpec, base_dir: Path,
                            lines: dict[str, int]) -> list[Problem]:
    """Problems found by :mod:`thermochip.checks` (checks that span sections)."""
    return [(where(path, lines), message) for path, message in checks.spec_problems(spec, base_dir)]


def load_spec(source: str | os.PathLike | dict, *, base_dir: str | os.PathLike | None = None,
              command: str | None = None, warn: Callable[[str], None] | None = None
              ) -> ChipSpec:
    """Load and check a chip spec from a YAML file path or an already parsed mapping.

    ``base_dir`` resolves relative file names in the spec (edge lists, matrices); it defaults
    to the YAML file's folder, or the current directory for a mapping. ``command``: the verb
    that will use the spec; what it cannot honour is a problem too, and each field the spec
    sets that it does not read goes to ``warn`` as one line
    (:func:`thermochip.checks.command_problems`). Raises
    :class:`~thermochip.errors.SpecError` listing every problem found.
    """
    if isinstance(source, dict):
        name = "<spec mapping>"
        data, lines, problems = source, {}, []
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = os.fspath(source)
        data, lines, problems = read_yaml_file(path, name)
        base = Path(base_dir) if base_dir is not None else path.parent
    else:
        raise TypeError(f"load_spec takes a path or a dict, not {type(source).__name__}")
    spec, walk_problems = build_dataclass(ChipSpec, data, "", lines)
    problems = problems + walk_problems
    if spec is not None and not problems:
        problems = _cross_section_problems(spec, base, lines)
    unused, advice = [], []
    if command is not None and spec is not None and not problems:
        refusals, unused, advice = checks.command_problems(spec, command, data)
        problems = [(where(path, lines), why) for path, why in refusals]
    if problems:
        raise SpecError(name, sorted(problems, key=line_of))
    reasons: dict[str, list[str]] = {}
    for path, why in unused:
        reasons.setdefault(why, []).append(where(path, lines))
    if warn is not None:
        for why, paths in reasons.items():
            warn(f"warning: {name}: {', '.join(paths)}: not used by thermochip {command}: "
                 f"{why}")
        for path, why in advice:
            warn(f"warning: {name}: {where(path, lines)}: {why}")
    # remembered beside the fields (not one: a spec's content does not depend on its place),
    # so training and evaluation from Python resolve relative paths as validation did
    object.__setattr__(spec, "_base_dir", base)
    return spec


def spec_dir(spec: ChipSpec) -> Path | None:
    """The folder relative paths of ``spec`` resolve in: where :func:`load_spec` found it (None
    for a spec built otherwise or changed since with ``dataclasses.replace``)."""
    return getattr(spec, "_base_dir", None)


# ---------------------------------------------------------------------------------------------
# Writing


def spec_to_dict(spec: object) -> dict:
    """The spec (or any spec section) as plain YAML-able values; every field is written,
    defaults included, and tagged-union variants carry their ``kind``."""
    out = plain(spec)
    if not isinstance(out, dict):
        raise TypeError(f"spec_to_dict takes a spec dataclass, not {type(spec).__name__}")
    return out


class _SpecDumper(yaml.SafeDumper):
    def ignore_aliases(self, data):
        return True


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    # Rows of numbers on one line each (edges, J), nested structure in block style.
    flow = not any(isinstance(v, (list, dict)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


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
                                                   f"{show(child)}, not a mapping")])
        node[key] = child
        node = child
    node[keys[-1]] = copy.deepcopy(value)
    return out
