"""thermochip sweep: grid expansion and its errors, local and Dask runs, resuming, plots."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from thermochip import cli, sweep
from thermochip.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def small_spec(tmp_path_factory) -> Path:
    """The quickstart, cut down so that one point trains and scores in about a second."""
    spec = yaml.safe_load((ROOT / "examples" / "quickstart.yaml").read_text())
    spec["data"].update(train_size=96, test_size=60)
    spec["train"].update(epochs=1, eval_replicas=60)
    spec["learner"]["free_steps"] = 10
    spec["run"]["seed"] = 5
    path = tmp_path_factory.mktemp("spec") / "small.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _csv_rows(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


# ---------------------------------------------------------------------------------------------
# Grid expansion


def test_grid_counts_seeds_and_parsed_values(small_spec):
    grid = sweep.expand_grid(small_spec, ["couplings.dac.bits=4,6,8",
                                          "delays.interconnect=0,10ps,2e-11"], repeats=3)
    assert grid.fields == ["couplings.dac.bits", "delays.interconnect"]
    assert len(grid.points) == 3 * 3 * 3
    assert grid.values["couplings.dac.bits"] == [4, 6, 8]          # ints, not strings
    assert grid.values["delays.interconnect"] == [0, "10ps", 2e-11]
    assert [p.seed for p in grid.points[:3]] == [5, 6, 7]           # run.seed + r
    assert all(p.spec["run"]["seed"] == p.seed for p in grid.points)
    first = grid.points[0]
    assert first.values == {"couplings.dac.bits": 4, "delays.interconnect": 0}
    assert first.spec["couplings"]["dac"]["bits"] == 4
    ids = [p.point_id for p in grid.points]
    assert len(set(ids)) == len(ids)
    again = sweep.expand_grid(small_spec, ["couplings.dac.bits=4,6,8",
                                           "delays.interconnect=0,10ps,2e-11"], repeats=3)
    assert [p.point_id for p in again.points] == ids                # stable


def test_unit_strings_resolve_to_numbers(small_spec):
    grid = sweep.expand_grid(small_spec, ["delays.interconnect=0,10ps,20 ps",
                                          "learner.write.rounding=nearest,stochastic"], 1)
    axes = sweep._axes(grid, small_spec.parent)
    delay = axes["delays.interconnect"]
    assert delay["unit"] == "s"
    assert delay["numeric"] == {"0": 0.0, "10ps": pytest.approx(1e-11),
                                "20 ps": pytest.approx(2e-11)}
    assert set(axes["learner.write.rounding"]["numeric"].values()) == {None}  # categorical


@pytest.mark.parametrize("sets, words", [
    (["couplings.dac.bitz=4,6"], ["--set couplings.dac.bitz=4,6", "bitz", "did you mean"]),
    (["couplings.dac.bits=4,1"], ["--set couplings.dac.bits=4,1", "couplings.dac.bits"]),
    (["delays.interconnect=0,10Hz"], ["--set delays.interconnect=0,10Hz", "Hz"]),
    (["couplings.dac.bits"], ["--set couplings.dac.bits", "dotted.path=v1,v2"]),
    (["couplings.dac.bits=4,,6"], ["empty value"]),
    (["run.seed=1,2"], ["--repeats"]),
    (["couplings.dac.bits=4", "couplings.dac.bits=6"], ["set twice"]),
])
def test_bad_set_is_an_error_before_anything_runs(small_spec, tmp_path, capsys, sets, words):
    with pytest.raises(SpecError) as err:
        sweep.expand_grid(small_spec, sets, 2)
    for word in words:
        assert word in str(err.value)
    out = tmp_path / "study"
    argv = ["sweep", str(small_spec), "--out", str(out)]
    for item in sets:
        argv += ["--set", item]
    capsys.readouterr()
    assert cli.main(argv) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith("error: ") and words[0] in stderr
    assert not out.exists()                                         # nothing written


# ---------------------------------------------------------------------------------------------
# Running


SETS = ["couplings.dac.bits=5,8"]


@pytest.fixture(scope="module")
def local_sweep(small_spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "study"
    rows = sweep.run_sweep(small_spec, SETS, 2, out, workers=2)
    return out, rows


def test_local_sweep_writes_one_row_and_file_per_point(local_sweep):
    out, rows = local_sweep
    table = _csv_rows(out)
    assert len(rows) == len(table) == 4
    assert list(table[0]) == ["couplings.dac.bits", "seed", "test_accuracy", "train_accuracy",
                              "seconds", "point_id", "result_file"]
    assert sorted((r["couplings.dac.bits"], r["seed"]) for r in table) == [
        ("5", "5"), ("5", "6"), ("8", "5"), ("8", "6")]
    assert sorted(p.name for p in (out / "points").iterdir()) == sorted(
        f"{r['point_id']}.h5" for r in table)
    import h5py
    for r in table:
        with h5py.File(out / r["result_file"], "r") as f:
            assert f.attrs["test_accuracy"] == pytest.approx(float(r["test_accuracy"]))
            assert f.attrs["seed"] == int(r["seed"])
            spec = yaml.safe_load(f["spec"][()].decode())
            assert spec["couplings"]["dac"]["bits"] == int(r["couplings.dac.bits"])
    assert not list(out.rglob(".*.tmp"))


def test_rerun_does_nothing_new(local_sweep, small_spec):
    out, rows = local_sweep
    before = (out / "results.csv").read_text()
    stamps = {p: p.stat().st_mtime_ns for p in (out / "points").iterdir()}
    again = sweep.run_sweep(small_spec, SETS, 2, out, workers=2)
    assert again == rows
    assert (out / "results.csv").read_text() == before
    assert {p: p.stat().st_mtime_ns for p in (out / "points").iterdir()} == stamps


def test_lost_row_is_rerun_alone(local_sweep, small_spec, tmp_path):
    import shutil
    out = tmp_path / "study"
    shutil.copytree(local_sweep[0], out)
    table = _csv_rows(out)
    lost = table.pop(1)
    with open(out / "results.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(lost))
        writer.writeheader()
        writer.writerows(table)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "points").iterdir()}
    rows = sweep.run_sweep(small_spec, SETS, 2, out, workers=1)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "points").iterdir()}
    changed = {name for name in after if after[name] != stamps[name]}
    assert changed == {f"{lost['point_id']}.h5"}
    assert len(_csv_rows(out)) == 4
    redone = next(r for r in rows if r["point_id"] == lost["point_id"])
    assert float(redone["test_accuracy"]) == pytest.approx(float(lost["test_accuracy"]))


def test_interrupted_sweep_keeps_finished_points_and_resumes(small_spec, tmp_path,
                                                             monkeypatch):
    out = tmp_path / "study"
    store = sweep._store_point
    stored = []

    def store_then_die(*args):
        row = store(*args)
        stored.append(row["point_id"])
        if len(stored) == 2:
            raise KeyboardInterrupt  # killed right after the second point was written
        return row

    monkeypatch.setattr(sweep, "_store_point", store_then_die)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_sweep(small_spec, SETS, 2, out, workers=1)
    table = _csv_rows(out)
    assert sorted(r["point_id"] for r in table) == sorted(stored)
    assert all((out / r["result_file"]).is_file() for r in table)
    stored.clear()
    monkeypatch.setattr(sweep, "_store_point",
                        lambda *args: stored.append(args[3].point_id) or store(*args))
    rows = sweep.run_sweep(small_spec, SETS, 2, out, workers=2)
    assert len(stored) == 2 and not set(stored) & {r["point_id"] for r in table}
    assert len(rows) == len(_csv_rows(out)) == 4


def test_dask_local_cluster_gives_the_same_results(local_sweep, small_spec, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        rows = sweep.run_sweep(small_spec, SETS, 2, tmp_path / "dask",
                               scheduler=cluster.scheduler_address)
    local = {r["point_id"]: r for r in local_sweep[1]}
    assert len(rows) == 4
    for r in rows:
        assert float(r["test_accuracy"]) == float(local[r["point_id"]]["test_accuracy"])
        assert float(r["train_accuracy"]) == float(local[r["point_id"]]["train_accuracy"])


def test_cli_sweep_with_plots(small_spec, tmp_path, capsys):
    out = tmp_path / "study"
    argv = ["sweep", str(small_spec), "--set", "delays.interconnect=0,20ps",
            "--set", "learner.write.rounding=nearest,stochastic", "--repeats", "1",
            "--workers", "2", "--out", str(out), "--plot"]
    assert cli.main(argv) == 0
    assert "4 points" in capsys.readouterr().out
    assert len(_csv_rows(out)) == 4
    for name in ("accuracy_vs_delays.interconnect.png",
                 "accuracy_vs_learner.write.rounding.png", "heatmap.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
