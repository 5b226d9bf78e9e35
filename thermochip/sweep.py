"""``thermochip sweep``: train one spec over a grid of overridden fields and seeds.

The grid is the cartesian product of the ``--set dotted.path=v1,v2,...`` lists times R seeds
(``run.seed`` = the spec's seed + r). Every point is validated before anything runs. Points run
in worker processes (:class:`concurrent.futures.ProcessPoolExecutor`) or on a Dask distributed
cluster (``--scheduler ADDRESS``); the worker returns the point's HDF5 results file as bytes and
the main process writes it to ``OUT/points/<point-id>.h5`` and rewrites ``OUT/results.csv``
atomically, one row more per finished point. A sweep run again skips the points already in
``results.csv`` whose file exists, so an interrupted sweep loses no finished point.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import math
import numbers
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from thermochip.errors import SpecError, ThermochipError
from thermochip.progress import progress_bar
from thermochip.results import atomic_path
from thermochip.spec_io import load_spec, with_overrides
from thermochip.spec_yaml import SpecLoader

#: Result columns after the swept fields, in ``results.csv`` order.
RESULT_COLUMNS = ("seed", "test_accuracy", "train_accuracy", "seconds", "point_id",
                  "result_file")


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


def run_point(spec_dict: dict, base_dir: str, epochs: int | None) -> dict:
    """Train and score one point on one engine thread; return its summary and its HDF5
    results file as bytes. Pure: writes only to a private temporary folder."""
    from thermochip._kernels.jit import set_num_threads
    from thermochip.run import save_run, train_and_evaluate

    set_num_threads(1)
    spec = load_spec(spec_dict, base_dir=base_dir)
    result, chip, learner = train_and_evaluate(spec, base_dir=Path(base_dir), epochs=epochs)
    with tempfile.TemporaryDirectory(prefix="thermochip-sweep-") as tmp:
        path = Path(tmp) / "point.h5"
        save_run(path, result, chip, learner)
        data = path.read_bytes()
    return {"test_accuracy": float(result.test.accuracy),
            "train_accuracy": float(result.train_accuracy),
            "seconds": float(result.seconds), "h5": data}


# ---------------------------------------------------------------------------------------------
# The results table


def _columns(fields: list[str]) -> list[str]:
    return [*fields, *RESULT_COLUMNS]


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
        elif column in ("test_accuracy", "train_accuracy", "seconds"):
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
           "test_accuracy": result["test_accuracy"],
           "train_accuracy": result["train_accuracy"],
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
              progress: bool = False) -> list[dict]:
    """Run every grid point not already in ``OUT/results.csv``; return the rows (dicts) of
    all the grid's points, in grid order. ``workers``: local processes (default: one per
    point, at most one per core); ``scheduler``: a Dask distributed scheduler address, used
    instead. Points that fail are reported together in one error after the others finish."""
    if epochs is not None and epochs < 1:
        raise ThermochipError(f"--epochs must be >= 1; got {epochs}")
    if workers is not None and workers < 1:
        raise ThermochipError(f"--workers must be >= 1; got {workers}")
    grid = expand_grid(spec_path, sets, repeats)
    out = Path(out)
    base_dir = str(Path(spec_path).resolve().parent)
    columns = _columns(grid.fields)
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
            runner = (_run_dask if scheduler else _run_local)(todo, base_dir, epochs, workers,
                                                              scheduler)
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


def _run_local(todo, base_dir, epochs, workers, scheduler):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    n = workers or min(len(todo), os.cpu_count() or 1)
    # spawn: the parent may already run numba / OpenMP threads, which fork does not copy.
    pool = ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(run_point, p.spec, base_dir, epochs): p for p in todo}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as err:  # noqa: BLE001 - reported per point
                yield futures[future], None, _error_text(err)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_dask(todo, base_dir, epochs, workers, scheduler):
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
            future = client.submit(run_point, p.spec, base_dir, epochs, pure=False,
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


# ---------------------------------------------------------------------------------------------
# Plots

_PREFIX = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G",
           12: "T"}


def _scale(values: list[float], unit: str | None) -> tuple[float, str]:
    """A power of 1000 and axis unit so that the largest |value| reads between 1 and 1000."""
    if not unit:
        return 1.0, ""
    top = max((abs(v) for v in values), default=0.0)
    exp = 0 if top == 0 else int(math.floor(math.log10(top) / 3) * 3)
    exp = min(max(exp, -15), 12)
    return 10.0 ** exp, f" ({_PREFIX[exp]}{unit})"


def _stats(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def plot_sweep(out: str | os.PathLike) -> list[Path]:
    """``accuracy_vs_<field>.png`` for each swept field (one line per combination of the
    other fields, error bars: standard deviation over seeds) and ``heatmap.png`` of the
    mean test accuracy when exactly two fields are swept. Returns the files written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    meta_path = out / "sweep.json"
    _, rows = read_results(out)
    if not rows or not meta_path.exists():
        raise ThermochipError(f"no sweep results in {out}")
    meta = json.loads(meta_path.read_text())
    fields = meta["fields"]
    axes = meta["axes"]
    rows = [{**r, **{f: str(r[f]) for f in fields}} for r in rows]  # as keyed in sweep.json
    paths = []

    def order(field):
        seen = list(dict.fromkeys(r[field] for r in rows))
        numeric = axes[field]["numeric"]
        if all(numeric.get(v) is not None for v in seen):
            return sorted(seen, key=lambda v: numeric[v]), True
        return seen, False

    for field in fields:
        others = [f for f in fields if f != field]
        values, is_numeric = order(field)
        numeric = axes[field]["numeric"]
        factor, label_unit = _scale([numeric[v] for v in values] if is_numeric else [],
                                    axes[field]["unit"] if is_numeric else None)
        groups: dict[tuple, dict[str, list[float]]] = {}
        for r in rows:
            key = tuple(r[o] for o in others)
            groups.setdefault(key, {}).setdefault(r[field], []).append(
                float(r["test_accuracy"]))
        fig, ax = plt.subplots(figsize=(6, 3.8))
        for key in sorted(groups, key=lambda k: [str(x) for x in k]):
            xs, ys, es = [], [], []
            for i, v in enumerate(values):
                if v in groups[key]:
                    mean, std = _stats(groups[key][v])
                    xs.append(numeric[v] / factor if is_numeric else i)
                    ys.append(mean * 100)
                    es.append(std * 100)
            label = ", ".join(f"{o}={k}" for o, k in zip(others, key)) or None
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=label)
        if not is_numeric:
            ax.set_xticks(range(len(values)), values)
        ax.set_xlabel(field + label_unit)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"test accuracy against {field} (bars: std over seeds)", fontsize=10)
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out / f"accuracy_vs_{field}.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)

    if len(fields) == 2:
        (ys_, _), (xs_, _) = order(fields[0]), order(fields[1])
        grid = [[float("nan")] * len(xs_) for _ in ys_]
        cells: dict[tuple, list[float]] = {}
        for r in rows:
            cells.setdefault((r[fields[0]], r[fields[1]]), []).append(float(r["test_accuracy"]))
        for (a, b), accs in cells.items():
            grid[ys_.index(a)][xs_.index(b)] = _stats(accs)[0] * 100
        fig, ax = plt.subplots(figsize=(1.2 * len(xs_) + 3, 0.8 * len(ys_) + 2))
        im = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
        ax.set_xticks(range(len(xs_)), xs_)
        ax.set_yticks(range(len(ys_)), ys_)
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                if not math.isnan(value):
                    ax.text(j, i, f"{value:.1f}", ha="center", va="center", color="w",
                            fontsize=8)
        ax.set_xlabel(fields[1])
        ax.set_ylabel(fields[0])
        ax.set_title("mean test accuracy (%)")
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        paths.append(out / "heatmap.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


# ---------------------------------------------------------------------------------------------
# Command line


def add_arguments(parser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="chip spec YAML with data and learner")
    parser.add_argument("--set", dest="sets", action="append", required=True,
                        metavar="PATH=V1,V2,...",
                        help="a swept field and its values (YAML scalars; repeatable)")
    parser.add_argument("--repeats", type=int, default=1, help="seeds per point (run.seed + r)")
    parser.add_argument("--epochs", type=int, help="epochs (overrides train.epochs)")
    parser.add_argument("--workers", type=int, help="local worker processes (default: one "
                                                    "per point, at most one per core)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask distributed "
                                                               "scheduler instead")
    parser.add_argument("--out", required=True, metavar="DIR", help="results folder")
    parser.add_argument("--plot", action="store_true", help="write accuracy PNGs into DIR")


def run(args) -> int:
    """Train a spec over a grid of fields and seeds; results.csv and one HDF5 file per point."""
    rows = run_sweep(args.spec, args.sets, args.repeats, args.out, workers=args.workers,
                     scheduler=args.scheduler, epochs=args.epochs, progress=True)
    figures = plot_sweep(args.out) if args.plot else []
    print(f"{len(rows)} points in {Path(args.out) / 'results.csv'}"
          + (f"; {len(figures)} figures" if figures else ""), file=sys.stdout)
    return 0
