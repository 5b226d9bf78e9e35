"""Checks that span spec sections (the loader checks each field alone). Each problem is a
``(dotted YAML path, message)`` pair; :func:`thermochip.spec_io.load_spec` reports them together
with the structural ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import device_models
from thermochip.checks_solver import anneal_problems, choices_text, problem_problems
from thermochip.datasets import SHAPES
from thermochip.errors import ThermochipError
from thermochip.spec import (
    ChipSpec,
    EdgesInit,
    FileInit,
    Layered,
    ProblemInit,
    Sparse,
    ValuesInit,
)
from thermochip.spec_build import build_dataclass
from thermochip.spec_files import read_edges, read_matrix, resolve_path


def spec_problems(spec: ChipSpec, base_dir: Path | None = None) -> list[tuple[str, str]]:

    out: list[tuple[str, str]] = []
    cells, topo = spec.cells, spec.topology

    # -- model, preset, parameters
    if cells.model not in device_models.list_models():
        out.append(("cells.model", f"unknown model '{cells.model}'; "
                                   f"{choices_text(cells.model, device_models.list_models())}"))
        return out
    model = device_models.get_model(cells.model)
    if cells.preset is not None and cells.preset not in device_models.list_presets(model.name):
        presets = device_models.list_presets(model.name)
        out.append(("cells.preset", f"unknown preset '{cells.preset}' for model "
                                    f"{model.name}; {choices_text(cells.preset, presets)}"))
    params, param_problems = build_dataclass(model.params, _merged_params(spec, model),
                                             "cells.params")
    out += param_problems

    # -- cell counts and topology
    layered = isinstance(topo, Layered)
    if layered:
        if not cells.layers or len(cells.layers) < 2:
            out.append(("cells.layers", "a layered topology needs at least 2 layers, e.g. "
                                        "[500, 10]"))
        elif any(n < 1 for n in cells.layers):
            out.append(("cells.layers", f"every layer needs at least 1 cell; got {cells.layers}"))
        if cells.n is not None:
            out.append(("cells.n", "give cells.layers (not n) for a layered topology"))
    else:
        if cells.n is None:
            out.append(("cells.n", f"required for a {topo.kind} topology"))
        if cells.layers is not None:
            out.append(("cells.layers", f"only for a layered topology (topology.kind is "
                                        f"{topo.kind})"))
        if cells.inputs:
            out.append(("cells.inputs", "input fields need a layered topology"))
    if any(p[0].startswith("cells.") for p in out):
        return out
    n = sum(cells.layers) if layered else cells.n

    if isinstance(topo, Sparse):
        if (topo.edges is None) == (topo.edges_file is None):
            out.append(("topology", "give exactly one of edges, edges_file"))
        elif topo.edges is not None and topo.edges_format != "csv":
            out.append(("topology.edges_format", "describes edges_file; inline edges are "
                                                 "[i, j] or [i, j, w] from 0"))
        else:
            where = "topology.edges" if topo.edges is not None else "topology.edges_file"
            try:
                e = read_edges(topo, base_dir)
                if topo.edges_format == "gset" and topo.edges_file is not None:
                    from thermochip.problems import read_gset
                    vertices = read_gset(resolve_path(topo.edges_file, base_dir))[0]
                    if vertices != n:
                        raise ValueError(f"the G-set file has {vertices} vertices; the chip "
                                         f"has {n} cells (cells.n)")
            except (OSError, ValueError, ThermochipError) as err:
                out.append((where, f"cannot read edges: {err}"))
            else:
                source = (f" of {resolve_path(topo.edges_file, base_dir)}"
                          if topo.edges_file is not None else "")
                bad = np.flatnonzero(~np.isfinite(e).all(axis=1))
                i, j = e[:, 0], e[:, 1]
                if topo.edges is not None and any(len(r) not in (2, 3) for r in topo.edges):
                    out.append((where, "each edge is [i, j] or [i, j, weight]"))
                elif len(e) == 0:
                    out.append((where, f"no edges{source}: a sparse chip needs at least one "
                                       f"coupler"))
                elif len(bad):
                    out.append((where, f"edge {bad[0] + 1}{source} is not finite: "
                                       f"{', '.join(f'{v:g}' for v in e[bad[0]])}"))
                elif np.any((i != np.round(i)) | (j != np.round(j))):
                    out.append((where, "cell indices must be integers"))
                elif np.any((e[:, :2] < 0) | (e[:, :2] >= n)):
                    out.append((where, f"cell indices must be in [0, {n - 1}]"))
                elif np.any(i == j):
                    out.append((where, "an edge must join two different cells"))

    # -- couplings
    init = spec.couplings.init
    if isinstance(init, EdgesInit) and not isinstance(topo, Sparse):
        out.append(("couplings.init.kind", "'edges' takes its weights from a sparse topology"))
    if isinstance(init, (ValuesInit, FileInit)):
        where = "couplings.init.J" if isinstance(init, ValuesInit) else "couplings.init.path"
        try:
            J = (np.array(init.J, dtype=float) if isinstance(init, ValuesInit)
                 else read_matrix(resolve_path(init.path, base_dir)))
        except (OSError, ValueError) as err:
            out.append((where, f"cannot read the coupling matrix: {err}"))
        else:
            bad = np.argwhere(~np.isfinite(J))
            if J.shape != (n, n):
                out.append((where, f"must be {n} x {n}; got {' x '.join(map(str, J.shape))}"))
            elif len(bad):
                out.append((where, f"not finite at row {bad[0][0] + 1}, column {bad[0][1] + 1}"
                                   f": {J[tuple(bad[0])]:g}"))
            elif spec.directed:  # each direction is its own device: any J_ij, J_ji
                if np.any(np.diag(J) != 0):
                    out.append((where, "must have a zero diagonal"))
            elif not np.allclose(J, J.T) or np.any(np.diag(J) != 0):
                out.append((where, "must be symmetric with a zero diagonal (or set "
                                   "couplings.asymmetric: true for directed couplers)"))

    if isinstance(init, ProblemInit):
        out += problem_problems(spec, model, n, base_dir)

    if spec.anneal is not None:
        out += anneal_problems(spec, model)

    # -- fields
    names = [f for f in model.field_names if f is not None]
    for name, value in spec.fields.init.items():
        where = f"fields.init.{name}"
        if name not in names:
            out.append((where, f"model {model.name} has no field '{name}'; "
                               f"{choices_text(name, names)}"))
            continue
        arr = np.asarray(value, dtype=object)
        if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != n):
            out.append((where, f"a number or a list of {n} numbers (one per cell)"))
        elif not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                     for v in np.atleast_1d(arr)):
            out.append((where, "values must be numbers"))
        elif not np.all(np.isfinite(np.atleast_1d(arr).astype(float))):
            out.append((where, "values must be finite numbers"))

    # -- noise and delays that need a carrier
    if not model.carrier:
        if spec.noise.phase is not None:
            out.append(("noise.phase", f"phase noise applies to oscillator cells; "
                                       f"{model.name} has no carrier"))
        for name in ("interconnect", "interconnect_jitter"):
            if getattr(spec.delays, name) > 0:
                out.append((f"delays.{name}", f"acts at a carrier frequency; {model.name} "
                                              f"cells have none (use delays.loop_latency)"))
    fl = spec.noise.flicker
    it = spec.integrator
    if fl is not None:
        if fl.f_min >= fl.f_max:
            out.append(("noise.flicker.f_max", f"must exceed f_min = {fl.f_min:g} Hz"))
        if fl.f_max * it.dt * 2 * np.pi > 1:
            out.append(("noise.flicker.f_max", f"must be below 1/(2 pi dt) = "
                                               f"{1 / (2 * np.pi * it.dt):.4g} Hz"))

    # -- integrator
    if it.duration is not None and it.steps is not None:
        out.append(("integrator", "give one of duration, steps, not both"))
    elif it.duration is None and it.steps is None and spec.learner is None:
        out.append(("integrator", "give the run's length: duration or steps"))
    if it.method is not None and it.method not in model.kind.methods:
        out.append(("integrator.method", f"{model.name} cells ({model.kind.name} dynamics) "
                                         f"update by {', '.join(model.kind.methods)}; got "
                                         f"{it.method!r}"))
    steps = it.steps if it.steps is not None else (
        int(round(it.duration / it.dt)) if it.duration else None)
    if it.duration is not None and it.steps is None and it.duration < it.dt:
        out.append(("integrator.duration", f"{it.duration:g} s is shorter than one step "
                                           f"(integrator.dt {it.dt:g} s)"))

    # -- ADC
    a = spec.adc
    if a is not None:
        modes = [m for m, _ in model.readouts]
        if a.mode is not None and a.mode not in modes:
            out.append(("adc.mode", f"model {model.name} reads out {', '.join(modes)}; "
                                    f"got '{a.mode}'"))
        if (a.sample_rate is None) == (a.sample_times is None):
            out.append(("adc", "give exactly one of sample_rate, sample_times"))
        else:
            window = a.window_steps(it.dt)
            if a.sample_times is not None:
                s = np.rint(np.asarray(a.sample_times) / it.dt).astype(int)
                if len(s) == 0:
                    out.append(("adc.sample_times", "needs at least one time"))
                elif np.any(s < 1) or (steps is not None and np.any(s > steps)):
                    out.append(("adc.sample_times", f"times must lie in [dt, {steps * it.dt:g} s]"))
                elif np.any(np.diff(s) < window) or s[0] < window:
                    out.append(("adc.sample_times", "samples must be increasing and at least "
                                                    "one window (and one step) apart"))
            else:
                period = a.period_steps(it.dt)
                if window > period:
                    out.append(("adc.window", f"the averaging window ({window} steps) must not "
                                              f"exceed the sample period ({period} steps)"))
    data = _data_problems(spec, base_dir)
    if spec.train.patience is not None and (spec.data is None or spec.data.validation == 0):
        out.append(("train.patience", "early stopping watches the validation accuracy: hold "
                                      "out data.validation (e.g. 0.1)"))
    # the learner's needs of the data are checked once the data can be read
    return out + data + (_learner_problems(spec, model, params, base_dir) if not data else [])


def directed_where(spec: ChipSpec) -> str:
    """The YAML path that makes a chip directed (for messages)."""
    return "couplings.asymmetric" if spec.couplings.asymmetric else "topology.feedforward"




def _merged_params(spec: ChipSpec, model) -> dict:
    """The cell parameters the spec gives: its preset's (if it names a known one), then
    ``cells.params`` over them."""
    merged = {}
    if spec.cells.preset in device_models.list_presets(model.name):
        merged.update(device_models.load_preset(model.name, spec.cells.preset)
                      .get("params", {}))
    return {**merged, **spec.cells.params}


#: The data fields only ``dataset: file`` reads, with their defaults.
FILE_ONLY = {"task": "classification", "targets": 1, "test_path": None, "test_fraction": 0.2,
             "scale": "column", "classes": None}


def _data_problems(spec: ChipSpec, base_dir: Path | None) -> list[tuple[str, str]]:
    """An explicit data.path must be a folder (what it must hold is checked on loading); a
    file data set's paths must exist; the file-only fields are refused for the others."""
    data = spec.data
    if data is None:
        return []
    if data.dataset == "file":
        out = []
        if data.task == "classification" and data.targets != 1:
            out.append(("data.targets", "classification reads one label column"))
        if data.task == "regression" and data.classes is not None:
            out.append(("data.classes", "regression has targets, not classes"))
        for name in ("path", "test_path"):
            value = getattr(data, name)
            if value is not None and not resolve_path(str(Path(value).expanduser()),
                                                      base_dir).exists():
                out.append((f"data.{name}", f"no such file or folder: "
                                            f"{resolve_path(value, base_dir)}"))
        return out
    out = [(f"data.{name}", f"only dataset: file reads it (this is {data.dataset})")
           for name, default in FILE_ONLY.items() if getattr(data, name) != default]
    if data.path is None or data.dataset == "digits":
        return out
    folder = resolve_path(str(Path(data.path).expanduser()), base_dir)
    if not folder.exists():
        return out + [("data.path", f"no such folder: {folder}")]
    if not folder.is_dir():
        return out + [("data.path", f"not a folder: {folder} (give the folder holding the "
                                    f"IDX files)")]
    return out


def data_shape(data, base_dir: Path | None) -> tuple[str, int, int]:
    """(data set name, features, classes) of a data section (None for a file data set
    without a path: arrays from Python); a user's file is read for it."""
    if data.dataset != "file":
        return (data.dataset, *SHAPES[data.dataset][1:])
    if data.path is None:
        return None
    from thermochip.data import load_dataset
    ds = load_dataset(data, base_dir)
    return ds.name, ds.n_features, ds.n_classes


def data_fit_problems(spec: ChipSpec, name: str, features: int,
                      classes: int) -> list[tuple[str, str]]:
    """What the learner needs of the chip for data of ``features`` inputs and ``classes``
    classes (data passed from Python, checked as a spec's data section is)."""
    model = device_models.get_model(spec.cells.model)
    params, _ = build_dataclass(model.params, _merged_params(spec, model), "cells.params")
    return spec.learner.requirements(spec, model, params, (name, features, classes))


def _learner_problems(spec: ChipSpec, model, params,
                      base_dir: Path | None = None) -> list[tuple[str, str]]:
    """What the learner's rule needs of the chip and the data (its section's
    ``requirements``), caught at validation time; without a data section only the chip's
    part is checked (a chip driven from Python)."""
    if spec.learner is None or params is None:
        return []
    data, shape, out = spec.data, None, []
    if data is not None:  # -> (name, features, classes), or None: the chip's part only
        try:
            shape = data_shape(data, base_dir)
        except ThermochipError as err:
            return [("data.path", str(err))]
        if data.task == "regression":
            out += regression_problems(spec)
    return out + spec.learner.requirements(spec, model, params, shape)


def regression_problems(spec: ChipSpec) -> list[tuple[str, str]]:
    """What regression needs of the learner: a rule that nudges toward real targets (its
    section's ``takes_regression``) with the squared error."""
    learner = spec.learner
    if not getattr(learner, "takes_regression", False):
        return [("data.task", f"learner rule {learner.rule} learns classes; regression needs "
                              f"ep, asymep, dyadic or bptt")]
    if learner.loss != "squared_error":
        return [("learner.loss", "regression's read-out is a value: squared_error")]
    return []


# ---------------------------------------------------------------------------------------------
# what each command reads

#: Spec fields a command does not read, and why; reported (as warnings) only where the YAML
#: sets them, so that no field is ignored silently.
UNUSED: dict[str, tuple[tuple[str, str], ...]] = {
    "simulate": (("data", "it trains nothing (thermochip run does)"),
                 ("learner", "it trains nothing (thermochip run does)"),
                 ("train", "it trains nothing (thermochip run does)")),
    "run": (("integrator.steps", "each learner phase sets its own length (learner section)"),
            ("integrator.duration", "each learner phase sets its own length (learner "
                                    "section)"),
            ("integrator.energy_every", "training records no energies"),
            ("run.replicas", "training runs learner.update_every replicas, evaluation "
                             "train.eval_replicas")),
    "solve": (("data", "it trains nothing (thermochip run does)"),
              ("learner", "it trains nothing (thermochip run does)"),
              ("train", "it trains nothing (thermochip run does)"),
              ("adc", "it reads each replica's spins (the sign of its first channel) "
                      "directly"),
              ("integrator.energy_every", "it records cuts, not energies")),
    "calibrate": (("data", "it trains nothing (thermochip run does)"),
                  ("learner", "it trains nothing (thermochip run does)"),
                  ("train", "it trains nothing (thermochip run does)")),
}


def _given(mapping: object, path: str) -> bool:
    for key in path.split("."):
        if not isinstance(mapping, dict) or key not in mapping:
            return False
        mapping = mapping[key]
    return True


def command_problems(spec: ChipSpec, command: str, given: dict | None = None
                     ) -> tuple[list[tuple[str, str]], list[tuple[str, str]],
                                list[tuple[str, str]]]:
    """(refusals, unused fields, advice) of ``spec`` for ``command`` (a verb of the command
    line): what it cannot honour, the fields it does not read that the YAML mapping ``given``
    sets (all of :data:`UNUSED` when ``given`` is None), and what it will do less well than
    the user may expect (:func:`step_bias`, for the commands that sample)."""
    refusals = calibrate_problems(spec) if command == "calibrate" else []
    if command in ("run", "calibrate") and spec.anneal is not None:
        refusals.append(("anneal", f"thermochip {command} runs fixed learner or calibration "
                                   f"phases; annealing is for simulate and solve"))
    if command == "solve" and not isinstance(spec.topology, Sparse) \
            and not isinstance(spec.couplings.init, ProblemInit):
        refusals.append(("topology", "solve scores a MAX-CUT of the chip's graph (a sparse "
                                     "topology) or a problem file (couplings.init kind "
                                     "problem)"))
    if command in ("run", "sweep") and spec.data is not None and spec.data.dataset == "file" \
            and spec.data.path is None:  # from Python, arrays may stand in for the file
        refusals.append(("data.path", "dataset file needs the file (a .npz, a CSV or a "
                                      "folder of IDX files)"))
    unused = [(path, why) for path, why in UNUSED.get(command, ())
              if given is None or _given(given, path)]
    advice = unstable_step(spec) + (step_bias(spec) if command in ("simulate", "validate")
                                    else [])
    return refusals, unused, advice


def unstable_step(spec: ChipSpec) -> list[tuple[str, str]]:
    """An Euler step beyond the stability bound of the stiffest cell's well (its deviations
    grow by |1 - stiffness dt~| > 1 a step): a warning, since one coarse step can be meant."""
    found = stiffness_step(spec)
    if found is None or found[0] * found[1] < 2:
        return []
    return [("integrator.dt", f"too coarse: the stiffest cell (curvature {found[0]:.3g}) "
                              f"is unstable at dt~ = {found[1]:.3g} (stiffness x dt~ must "
                              f"stay below 2)")]


#: Stationary bias of Euler--Maruyama (relative, in a cell's variance) above which a sampling
#: command warns.
STEP_BIAS_WARNING = 0.02


def stiffness_step(spec: ChipSpec) -> tuple[float, float] | None:
    """(the stiffest cell's curvature, dt~) of a spec whose cells declare their stiffness."""
    model = device_models.get_model(spec.cells.model)
    if model.stiffness is None:
        return None
    params, _ = build_dataclass(model.params, _merged_params(spec, model), "cells.params")
    rate = getattr(params, "rate", None)
    if params is None or rate is None:
        return None
    n = sum(spec.cells.layers) if spec.cells.layers else spec.cells.n
    fields = [np.broadcast_to(np.asarray(spec.fields.init.get(name, default), dtype=float),
                              (n,)) for name, default in zip(model.field_names,
                                                             model.field_defaults)]
    kappa = float(np.max(model.stiffness(model.to_kernel(params, np.float64), *fields)))
    return kappa, rate * spec.integrator.dt


def step_bias(spec: ChipSpec) -> list[tuple[str, str]]:
    """Euler--Maruyama samples a law whose variance is off by about stiffness * dt~ / 2 (for a
    cell of curvature ``stiffness``: the exact stationary variance of its Euler chain is
    kT / stiffness / (1 - stiffness dt~ / 2)); a warning when that exceeds
    :data:`STEP_BIAS_WARNING` on a noisy chip that samples (no learner)."""
    model = device_models.get_model(spec.cells.model)
    it, noise = spec.integrator, spec.noise
    hot = (noise.thermal is not None and noise.thermal.kT > 0) or noise.phase is not None
    method = it.method or model.kind.methods[0]
    found = stiffness_step(spec)
    if found is None or not hot or method != "euler_maruyama" \
            or spec.learner is not None:  # a learner's phases are dynamics, not samples
        return []
    kappa, dt = found
    bias = 0.5 * kappa * dt
    if bias <= STEP_BIAS_WARNING:
        return []
    return [("integrator.dt", f"Euler-Maruyama's stationary law is off by about "
                              f"{bias:.0%} in the cells' variance at this step (stiffness "
                              f"{kappa:.3g}, dt~ {dt:.3g}; couplings add to it): to sample "
                              f"it, set integrator.method: leimkuhler_matthews (second order "
                              f"at the same cost; calibrate and OM learning need "
                              f"euler_maruyama) or a smaller dt")]


def calibrate_problems(spec: ChipSpec) -> list[tuple[str, str]]:
    """What the linear OM model of ``thermochip calibrate`` cannot describe."""
    model = device_models.get_model(spec.cells.model)
    out = []
    if spec.integrator.method not in (None, "euler_maruyama"):
        out.append(("integrator.method", "the calibration's likelihood is that of "
                                         "Euler-Maruyama steps: give euler_maruyama"))
    if not model.affine_drift:
        out.append(("cells.model", f"calibrate needs cells whose drift is linear in the "
                                   f"couplings and fields (softspin); got {model.name!r}"))
    if spec.noise.thermal is None or spec.noise.thermal.kT <= 0:
        out.append(("noise.thermal.kT", "calibrate learns from thermal fluctuations: set "
                                        "noise.thermal.kT > 0"))
    if spec.directed:
        where = directed_where(spec)
        out.append((where, f"calibrate fits one coupling per reciprocal pair (J_ij = J_ji) "
                           f"and needs reciprocal couplers; set {where}: false"))
    a, dt = spec.adc, spec.integrator.dt
    if a is None:
        out.append(("adc", "calibrate reads the cells through the ADC: add an adc section"))
    else:
        if a.window_steps(dt) > 1:
            out.append(("adc.window", "calibrate needs point samples: set adc.window to 0 "
                                      "(one step)"))
        if a.period_steps(dt) != 1:
            out.append(("adc.sample_times" if a.sample_rate is None else "adc.sample_rate",
                        f"calibrate needs a sample every step: set adc.sample_rate to 1/dt "
                        f"= {1 / dt:g} Hz"))
    d = spec.delays
    for name in ("loop_latency", "latency_jitter", "interconnect", "interconnect_jitter"):
        if getattr(d, name):
            out.append((f"delays.{name}", "calibrate assumes instantaneous couplings: remove "
                                          "the delay"))
    return out
