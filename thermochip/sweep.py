"""Sweeps (``thermochip sweep``): train one spec over a grid of overridden fields and seeds.

The grid is the cartesian product of the ``--set dotted.path=v1,v2,...`` lists times R seeds
(``run.seed`` = the spec's seed + r). Every point is validated before anything runs. Points run
in worker processes (:class:`concurrent.futures.ProcessPoolExecutor`) or on a Dask distributed
cluster (``--scheduler ADDRESS``); the worker returns the point's HDF5 results file as bytes and
the main process writes it to ``OUT/points/<point-id>.h5`` and rewrites ``OUT/results.csv``
atomically, one row more per finished point. A sweep run again skips the points already in
``results.csv`` whose file exists, so an interrupted sweep loses no finished point. The
figures are :func:`thermochip.plots.plot_sweep`'s.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import numbers
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from thermochip.atomic import atomic_path
from thermochip.errors import SpecError, ThermochipError
from thermochip.memory import simulation_parts, training_parts
from thermochip.progress import progress_bar
from thermochip.spec_io import load_spec, with_overrides
from thermochip.spec_yaml import SpecLoader

#: What a point of a training sweep reports, and of a solve sweep (a spec without a learner).
TRAIN_METRICS = ("test_accuracy", "train_accuracy")
REGRESSION_METRICS = ("test_rmse", "test_r2", "train_rmse")  # data.task: regression
SOLVE_METRICS = ("best", "success_probability", "tts99_steps")
#: Numeric result columns (the rest after the swept fields: seed, point_id, result_file).
NUMERIC = (*TRAIN_METRICS, *REGRESSION_METRICS, *SOLVE_METRICS, "seconds")


@dataclass
class Point:
    """One grid point: swept values (parsed YAML scalars, in ``--set`` order), its seed, the
    full spec mapping to run and its stable id."""

    values: dict[str, object]
    seed: int
    spec: dict
    point_id: str


@dataclass
class Grid:
    spec_path: Path
    fields: list[str]
    values: dict[str, list[object]]
    points: list[Point]


# ---------------------------------------------------------------------------------------------
# Grid expansion


def _parse_value(text: str, item: str) -> object:
    try:
        value = yaml.load(text, Loader=SpecLoader)
    except yaml.YAMLError:
        value = None
    if value is None or isinstance(value, (list, dict)):
        message = (f"cannot read {text!r} as one value; write a number, a quantity such as "
                   "20ps, true/false or a word")
        raise SpecError(f"--set {item}", [("", message)])
    return value


def parse_sets(sets: list[str]) -> dict[str, list[object]]:
    """``["a.b=1,2", "c=x"]`` -> ``{"a.b": [1, 2], "c": ["x"]}`` (values as YAML scalars)."""
    out: dict[str, list[object]] = {}
    for item in sets:
        path, sep, rest = item.partition("=")
        path = path.strip()
        if not sep or not path or not rest.strip():
            raise SpecError(f"--set {item}", [("", ("write --set dotted.path=v1,v2,... such as "
                                                    "--set couplings.dac.bits=4,6,8"))])
        if path in out:
            raise SpecError(f"--set {item}",
                            [(path, "is set twice; give all its values in one --set")])
        if path == "run.seed":
            raise SpecError(f"--set {item}", [(path, ("seeds come from the spec's run.seed and "
                                                      "--repeats; do not sweep run.seed"))])
        texts = [t.strip() for t in rest.split(",")]
        if any(not t for t in texts):
            raise SpecError(f"--set {item}", [(path, "empty value in the list")])
        values = [_parse_value(t, item) for t in texts]
        if len({_key(v) for v in values}) != len(values):
            raise SpecError(f"--set {item}", [(path, "a value is listed twice")])
        out[path] = values
    return out


def _key(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def point_id(values: dict[str, object], seed: int) -> str:
    """A short stable hash of the swept values and the seed."""
    text = json.dumps({"values": values, "seed": seed}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _read_spec_dict(spec_path: Path) -> dict:
    # load_spec first: a broken spec file is reported with its lines, not by the sweep.
    load_spec(spec_path)
    with open(spec_path, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=SpecLoader)


def _check(spec_dict: dict, base_dir: Path, source: str):
    try:
        return load_spec(spec_dict, base_dir=base_dir)
    except SpecError as err:
        raise SpecError(source, err.problems) from None


def expand_grid(spec_path: str | os.PathLike, sets: list[str], repeats: int = 1) -> Grid:
    """Every grid point of ``sets`` x ``repeats`` seeds, each validated; raises
    :class:`~thermochip.errors.SpecError` naming the ``--set`` at fault before anything runs.
    The points are in the order of the ``--set`` lists (the last varies fastest), seeds
    innermost."""
    spec_path = Path(spec_path)
    if repeats < 1:
        raise ThermochipError(f"--repeats must be >= 1; got {repeats}")
    if not sets:
        raise ThermochipError("give at least one --set dotted.path=v1,v2,...")
    base_dir = spec_path.resolve().parent
    base = _read_spec_dict(spec_path)
    grid_values = parse_sets(sets)
    # Each value alone first, so that a problem names its own --set.
    for item, (path, values) in zip(sets, grid_values.items()):
        for value in values:
            _check(with_overrides(base, path, value), base_dir, f"--set {item}")
    seed0 = load_spec(spec_path).run.seed
    fields = list(grid_values)
    points = []
    for combo in itertools.product(*grid_values.values()):
        values = dict(zip(fields, combo))
        spec = base
        for path, value in values.items():
            spec = with_overrides(spec, path, value)
        shown = ", ".join(f"{p}={v}" for p, v in values.items())
        _check(spec, base_dir, f"--set point {shown}")
        for r in range(repeats):
            seed = seed0 + r
            points.append(Point(values=values, seed=seed,
                                spec=with_overrides(spec, "run.seed", seed),
                                point_id=point_id(values, seed)))
    return Grid(spec_path=spec_path, fields=fields, values=grid_values, points=points)


def _resolved(spec, dotted: str) -> tuple[object, str | None]:
    """The loaded value at ``dotted`` and its field's unit (None when it has none)."""
    obj, unit = spec, None
    for key in dotted.split("."):
        if dataclasses.is_dataclass(obj):
            meta = {f.name: f.metadata for f in dataclasses.fields(obj)}.get(key, {})
            unit = meta.get("unit")
            obj = getattr(obj, key, None)
        elif isinstance(obj, dict):
            obj, unit = obj.get(key), None
        else:
            return None, None
    return obj, unit


def _axes(grid: Grid, base_dir: Path) -> dict:
    """Per swept field: its unit and each value's number (SI) or None (categorical)."""
    base = _read_spec_dict(grid.spec_path)
    out = {}
    for path, values in grid.values.items():
        numeric, unit = {}, None
        for value in values:
            resolved, unit = _resolved(load_spec(with_overrides(base, path, value),
                                                 base_dir=base_dir), path)
            ok = isinstance(resolved, numbers.Real) and not isinstance(resolved, bool)
            numeric[str(value)] = float(resolved) if ok else None
        out[path] = {"unit": unit, "numeric": numeric}
    return out


# ---------------------------------------------------------------------------------------------
# Running one point (in a worker)


def run_point(spec_dict: dict, base_dir: str, options: dict) -> dict:
    """Train and score one point (or, for a spec without a learner, solve it) on one engine
    thread; return its metrics and its HDF5 results file as bytes. ``options``: ``epochs``
    (training) or ``target`` (solving). Pure: writes only to a private temporary folder."""
    from thermochip._kernels.jit import set_num_threads
    from thermochip.results import save_run
    from thermochip.training import train

    set_num_threads(1)
    spec = load_spec(spec_dict, base_dir=base_dir)
    if spec.learner is None:
        from thermochip.solve import solve_point
        return solve_point(spec, Path(base_dir), options.get("target"))
    result = train(spec, base_dir=Path(base_dir), epochs=options.get("epochs"))
    with tempfile.TemporaryDirectory(prefix="thermochip-sweep-") as tmp:
        path = Path(tmp) / "point.h5"
        save_run(path, result)
        data = path.read_bytes()
    return {"test_accuracy": float(result.test.accuracy),
            "train_accuracy": float(result.train_accuracy), "test_rmse": result.test.rmse,
            "test_r2": result.test.r2, "train_rmse": result.train_rmse,
            "seconds": float(result.seconds), "h5": data}


# ---------------------------------------------------------------------------------------------
# The results table


def _columns(fields: list[str], metrics: tuple[str, ...]) -> list[str]:
    return [*fields, "seed", *metrics, "seconds", "point_id", "result_file"]


def read_results(out: str | os.PathLike) -> tuple[list[str], list[dict]]:
    """``(columns, rows)`` of ``OUT/results.csv``; ``([], [])`` when there is none."""
    path = Path(out) / "results.csv"
    if not path.exists():
        return [], []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), [_typed(row) for row in reader]


def _typed(row: dict) -> dict:
    # The types run_sweep stores: swept values as YAML scalars, numbers as numbers.
    out = {}
    for column, text in row.items():
        if column == "seed":
            out[column] = int(text)
        elif column in NUMERIC:
            out[column] = float(text)
        elif column in ("point_id", "result_file"):
            out[column] = text
        else:
            try:
                out[column] = yaml.load(text, Loader=SpecLoader)
            except yaml.YAMLError:
                out[column] = text
    return out


def _write_results(out: Path, columns: list[str], rows: list[dict]) -> None:
    with atomic_path(out / "results.csv") as tmp, \
            open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _store_point(out: Path, columns: list[str], rows: list[dict], point: Point,
                 result: dict) -> dict:
    """Write the point's HDF5 file, then the results table with its row added."""
    rel = f"points/{point.point_id}.h5"
    with atomic_path(out / rel) as tmp:
        tmp.write_bytes(result["h5"])
    row = {**{p: v for p, v in point.values.items()}, "seed": point.seed,
           **{m: result[m] for m in columns if m in NUMERIC and m != "seconds"},
           "seconds": round(result["seconds"], 3), "point_id": point.point_id,
           "result_file": rel}
    rows.append(row)
    _write_results(out, columns, rows)
    return row


def _write_meta(out: Path, grid: Grid, axes: dict) -> None:
    path = out / "sweep.json"
    meta = {"spec": str(grid.spec_path), "fields": grid.fields, "axes": axes}
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            old = {}
        for field, axis in old.get("axes", {}).items():
            if field in axes:
                axes[field]["numeric"] = {**axis.get("numeric", {}), **axes[field]["numeric"]}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(meta, indent=2))


# ---------------------------------------------------------------------------------------------
# The sweep


def run_sweep(spec_path: str | os.PathLike, sets: list[str], repeats: int = 1,
              out: str | os.PathLike = "sweep", *, workers: int | None = None,
              scheduler: str | None = None, epochs: int | None = None,
              target: float | None = None, progress: bool = False) -> list[dict]:
    """Run every grid point not already in ``OUT/results.csv``; return the rows (dicts) of
    all the grid's points, in grid order. A spec with a learner trains each point (test and
    train accuracy, or for regression RMSE and R^2; ``epochs`` overrides its own); one
    without solves it
    (:func:`thermochip.solve.solve`: best value, success probability against ``target``,
    TTS). ``workers``: local processes (default: one per point, at most one per core);
    ``scheduler``: a Dask distributed scheduler address, used instead. Points that fail are
    reported together in one error after the others finish."""
    if epochs is not None and epochs < 1:
        raise ThermochipError(f"--epochs must be >= 1; got {epochs}")
    if workers is not None and workers < 1:
        raise ThermochipError(f"--workers must be >= 1; got {workers}")
    grid = expand_grid(spec_path, sets, repeats)
    solving = load_spec(spec_path).learner is None
    if solving and epochs is not None:
        raise ThermochipError("--epochs: this spec has no learner; its points are solved "
                              "(thermochip solve), not trained")
    if solving:  # a spec that can be solved: a sparse graph or a problem file
        from thermochip.solve import objective
        objective(load_spec(spec_path), Path(spec_path).resolve().parent)
    if not solving and target is not None:
        raise ThermochipError("--target: this spec trains its points; --target is for specs "
                              "without a learner (solved)")
    data = load_spec(spec_path).data
    regression = data is not None and data.task == "regression"
    out = Path(out)
    base_dir = str(Path(spec_path).resolve().parent)
    columns = _columns(grid.fields, SOLVE_METRICS if solving else
                       REGRESSION_METRICS if regression else TRAIN_METRICS)
    old_columns, rows = read_results(out)
    if old_columns and old_columns != columns:
        raise ThermochipError(f"{out / 'results.csv'} holds another sweep (columns "
                              f"{', '.join(old_columns)}); use another --out")
    rows = [r for r in rows if (out / r["result_file"]).is_file()]
    done = {r["point_id"] for r in rows}
    todo = [p for p in grid.points if p.point_id not in done]
    out.mkdir(parents=True, exist_ok=True)
    _write_meta(out, grid, _axes(grid, Path(base_dir)))
    _write_results(out, columns, rows)  # drops rows whose file is gone
    bar = progress_bar(len(grid.points), progress, unit="point", desc="sweep",
                       initial=len(grid.points) - len(todo))
    failures: list[str] = []
    try:
        if todo:
            options = {"target": target} if solving else {"epochs": epochs}
            runner = (_run_dask if scheduler else _run_local)(todo, base_dir, options,
                                                              workers, scheduler)
            try:
                for point, result, error in runner:
                    if error is not None:
                        failures.append(f"{point.point_id} ({_describe(point)}): {error}")
                    else:
                        _store_point(out, columns, rows, point, result)
                    bar.update(1)
            finally:
                runner.close()  # an interrupt cancels the points not yet started
    finally:
        bar.close()
    if failures:
        raise ThermochipError(f"{len(failures)} of {len(todo)} points failed (run the sweep "
                              f"again to retry them): " + "; ".join(failures))
    by_id = {r["point_id"]: r for r in rows}
    return [by_id[p.point_id] for p in grid.points]


def _describe(point: Point) -> str:
    return ", ".join(f"{p}={v}" for p, v in point.values.items()) + f", seed={point.seed}"


def _error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".splitlines()[0]


def _run_local(todo, base_dir, options, workers, scheduler):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n = workers or min(len(todo), os.cpu_count() or 1)
    first = load_spec(todo[0].spec, base_dir=Path(base_dir))
    require(simulation_parts(first, first_steps(first)) if first.learner is None
            else training_parts(first), n)
    # spawn: the parent may already run numba / OpenMP threads, which fork does not copy.
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"),
                               initializer=watch_parent, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(run_point, p.spec, base_dir, options): p for p in todo}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as err:  # noqa: BLE001 - reported per point
                yield futures[future], None, _error_text(err)
    except BaseException:  # an interrupt: the points running now are stopped too
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def first_steps(spec) -> int:
    """The steps a solved point runs (its spec's length)."""
    from thermochip.chip import run_steps
    return run_steps(spec)


def require(parts: dict[str, float], workers: int) -> None:
    """The local workers run side by side: all of them must fit."""
    from thermochip import memory
    memory.require({k: workers * v for k, v in parts.items()}, f"{workers} sweep workers")


def watch_parent(parent: int) -> None:
    """A worker's start: it dies with the sweep that started it, however that one ends (the
    kernel's parent-death signal where there is one, and a watch of the parent's id)."""
    import ctypes
    import signal
    import threading

    try:
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _run_dask(todo, base_dir, options, workers, scheduler):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ThermochipError("--scheduler needs Dask distributed: pip install "
                              "'thermochip[sweep]'") from None
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as err:
        raise ThermochipError(f"cannot reach the Dask scheduler {scheduler}: {err}") from None
    futures = {}
    try:
        for p in todo:
            future = client.submit(run_point, p.spec, base_dir, options, pure=False,
                                   key=f"thermochip-point-{p.point_id}-{time.time_ns()}")
            futures[future] = p
        for future in as_completed(list(futures)):
            try:
                yield futures[future], future.result(), None
            except Exception as err:  # noqa: BLE001 - reported per point
                yield futures[future], None, _error_text(err)
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
