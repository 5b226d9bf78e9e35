"""Checks of the solver's inputs in a spec: problem files (``couplings.init: problem``) and
annealing schedules (``anneal``), which :mod:`thermochip.checks` runs with the rest, and the
unknown-name hint every check gives."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np

from thermochip.errors import ThermochipError
from thermochip.spec import ChipSpec, Layered, Sparse
from thermochip.spec_files import read_edges, resolve_path


def choices_text(value: str, choices: list[str]) -> str:
    """'choices: a, b, c' and the closest one to ``value`` (every check's unknown-name hint)."""
    close = difflib.get_close_matches(value, choices, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"choices: {', '.join(choices)}{hint}"


def problem_problems(spec: ChipSpec, model, n: int,
                      base_dir: Path | None) -> list[tuple[str, str]]:
    """A problem file must be n x n and finite, its pairs couplers of the topology (all to
    all, or the sparse edges), and the linear field it sets must not be set again."""
    from thermochip.problems import problem_ising, read_problem
    init, topo = spec.couplings.init, spec.topology
    try:
        W = read_problem(resolve_path(init.path, base_dir), n)
    except ThermochipError as err:
        return [("couplings.init.path", str(err))]
    if W.shape != (n, n):
        return [("couplings.init.path", f"the problem has {W.shape[0]} variables; the chip "
                                        f"has {n} cells")]
    out = []
    if model.field_names[0] in spec.fields.init:
        out.append((f"fields.init.{model.field_names[0]}", "the problem file sets the linear "
                                                           "field; leave it out"))
    if isinstance(topo, Layered) or spec.directed:
        return out + [("couplings.init.kind", "a problem's couplings are reciprocal pairs: "
                                              "give an all_to_all or sparse topology")]
    if isinstance(topo, Sparse):
        J = problem_ising(W, init.form)[0]
        allowed = np.zeros((n, n), dtype=bool)
        try:
            e = read_edges(topo, base_dir).astype(int)
        except (OSError, ValueError, ThermochipError):  # reported with the topology
            return out
        allowed[e[:, 0], e[:, 1]] = allowed[e[:, 1], e[:, 0]] = True
        missing = np.argwhere((J != 0) & ~allowed)
        if len(missing):
            i, j = missing[0]
            out.append(("couplings.init.path", f"the problem couples cells {i} and {j}, "
                                               f"which the sparse topology does not join"))
    return out


def anneal_problems(spec: ChipSpec, model) -> list[tuple[str, str]]:
    """Schedules must be [time, value] lists on the model's fields, kT never negative."""
    from thermochip.schedules import ramp
    anneal, out = spec.anneal, []
    names = [f for f in model.field_names if f is not None]
    ramps = [(f"anneal.fields.{name}", points) for name, points in anneal.fields.items()]
    ramps += [(f"anneal.{name}", getattr(anneal, name)) for name in ("kT", "coupling_gain")
              if getattr(anneal, name) is not None]
    for where, points in ramps:
        name = where.rsplit(".", 1)[1]
        if where.startswith("anneal.fields.") and name not in names:
            out.append((where, f"model {model.name} has no field '{name}'; "
                               f"{choices_text(name, names)}"))
            continue
        try:
            r = ramp(points, where)
        except ValueError as err:
            out.append((where, str(err).split(": ", 1)[1]))
            continue
        if name == "kT" and np.any(r.values < 0):
            out.append((where, "temperatures must be >= 0"))
    return out
