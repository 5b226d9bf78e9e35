"""A user's own task: data from .npz, CSV and IDX files or from Python arrays, any feature and
class count, checked against the chip; the public train / evaluate API on it."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import yaml

import thermochip as tc
from thermochip.data import load_dataset
from thermochip.errors import SpecError, ThermochipError
from thermochip.spec import DataSpec

ROOT = Path(__file__).resolve().parent.parent
WINE = yaml.safe_load((ROOT / "examples/wine_oim_ep.yaml").read_text())


def blobs(n=240, features=4, classes=3, seed=0):
    """Gaussian blobs, one per class, well apart: a task any working learner solves."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    return centres[y] + rng.normal(size=(n, features)), y


def write_csv(path, x, y, header=True, sep=",", names=None):
    rows = [sep.join([*(repr(float(v)) for v in row), str(names[c] if names else c)])
            for row, c in zip(x, y)]
    head = [sep.join([f"f{k}" for k in range(x.shape[1])] + ["label"])] if header else []
    path.write_text("\n".join(head + rows) + "\n")


def small_spec(features, classes, **data):
    spec = yaml.safe_load(yaml.safe_dump(WINE))
    spec["cells"].update(inputs=features, layers=[12, classes])
    spec["data"] = {"dataset": "file", **data}
    spec["learner"].update(lr=[1.0, 0.3])
    spec["train"] = {"epochs": 6, "eval_replicas": 64}
    return spec


def test_npz_split_and_scaling(tmp_path):
    x, y = blobs()
    np.savez(tmp_path / "d.npz", X=x, y=y)
    ds = load_dataset(DataSpec(dataset="file", path="d.npz", test_fraction=0.25), tmp_path)
    assert (len(ds.train_x), len(ds.test_x)) == (180, 60)
    assert ds.n_classes == 3 and ds.shape == (4,) and ds.name == "d.npz"
    # every feature spans exactly [0, 1] over the training samples
    np.testing.assert_array_equal(ds.train_x.min(axis=0), 0)
    np.testing.assert_array_equal(ds.train_x.max(axis=0), 1)
    # the split is fixed and partitions the samples: each row is found once, with its label
    both = np.concatenate([ds.train_x, ds.test_x])
    lo, hi = ds.feature_range
    raw = (x - lo) / (hi - lo)
    for row, label in zip(both, np.concatenate([ds.train_y, ds.test_y])):
        match = np.flatnonzero(np.all(np.abs(raw - row) < 1e-6, axis=1))
        assert len(match) == 1 and y[match[0]] == label
    again = load_dataset(DataSpec(dataset="file", path="d.npz", test_fraction=0.25,
                                  shuffle_seed=5), tmp_path)
    np.testing.assert_array_equal(np.sort(again.test_x, axis=0), np.sort(ds.test_x, axis=0))


def test_csv_reads_as_the_npz(tmp_path):
    """A CSV (header, named classes) and a headerless tab-separated one give the npz's data."""
    x, y = blobs()
    np.savez(tmp_path / "d.npz", X=x, y=y)
    names = ["cat", "dog", "eel"]  # sorted, so the names number as the integers do
    write_csv(tmp_path / "d.csv", x, y, names=names)
    write_csv(tmp_path / "d.tsv", x, y, header=False, sep="\t")
    ref = load_dataset(DataSpec(dataset="file", path="d.npz"), tmp_path)
    for name in ("d.csv", "d.tsv"):
        ds = load_dataset(DataSpec(dataset="file", path=name), tmp_path)
        for part in ("train_x", "train_y", "test_x", "test_y"):
            np.testing.assert_array_equal(getattr(ds, part), getattr(ref, part))
    assert load_dataset(DataSpec(dataset="file", path="d.csv"), tmp_path).class_names == names


def test_idx_folder_of_any_shape_and_classes(tmp_path):
    rng = np.random.default_rng(1)

    def idx(name, a):
        header = bytes([0, 0, 8, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
        with gzip.open(tmp_path / f"{name}.gz", "wb") as f:
            f.write(header + a.astype(np.uint8).tobytes())
    idx("train-images-idx3-ubyte", rng.integers(0, 256, (30, 5, 3)))
    idx("train-labels-idx1-ubyte", rng.integers(0, 4, 30))
    idx("t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 5, 3)))
    idx("t10k-labels-idx1-ubyte", np.arange(10) % 4)
    ds = load_dataset(DataSpec(dataset="file", path=".", scale="global"), tmp_path)
    assert ds.shape == (5, 3) and ds.n_features == 15 and ds.n_classes == 4
    assert len(ds.train_x) == 30 and len(ds.test_x) == 10
    np.testing.assert_array_equal(ds.test_y, np.arange(10) % 4)  # the file's own test set


def test_test_path_and_declared_classes(tmp_path):
    x, y = blobs()
    write_csv(tmp_path / "train.csv", x[:200], y[:200])
    write_csv(tmp_path / "test.csv", x[200:], y[200:])
    ds = load_dataset(DataSpec(dataset="file", path="train.csv", test_path="test.csv",
                               classes=5), tmp_path)
    assert len(ds.train_x) == 200 and len(ds.test_x) == 40 and ds.n_classes == 5
    np.testing.assert_array_equal(ds.test_y, y[200:])


@pytest.mark.parametrize("content, words", [
    ("a,b,label\n1,2,0\n3,x,1\n", ["row 3, column 2", "'x' is not a finite number"]),
    ("a,b,label\n1,2,0\n3,4\n", ["row 3", "2 columns", "has 3"]),
    ("a,b,label\n1,2,0\n3,nan,1\n", ["row 3, column 2", "'nan'"]),
    ("a,b,label\n1,2,0\n3,4,-1\n", ["label -1"]),
    ("a,b,label\n1,2,0\n3,4,0.5\n", ["class labels are integers"]),
    ("a,b,label\n", ["no data rows"]),
    ("a,b,label\n1,2,0\n", ["too few"]),
])
def test_bad_files_get_one_line(tmp_path, content, words):
    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(ThermochipError) as err:
        load_dataset(DataSpec(dataset="file", path="d.csv", test_fraction=0.5), tmp_path)
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "d.csv") in message
    for word in words:
        assert word in message, (word, message)


def test_npz_without_y_and_labels_beyond_classes(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((10, 2)))
    with pytest.raises(ThermochipError, match="no array 'y'.*holds X"):
        load_dataset(DataSpec(dataset="file", path="d.npz"), tmp_path)
    np.savez(tmp_path / "d.npz", X=np.zeros((10, 2)), y=np.arange(10) % 4)
    with pytest.raises(ThermochipError, match="label 3, outside the 3 classes"):
        load_dataset(DataSpec(dataset="file", path="d.npz", classes=3), tmp_path)


def test_the_spec_check_names_what_does_not_fit(tmp_path):
    x, y = blobs(features=4, classes=3)
    np.savez(tmp_path / "d.npz", X=x, y=y)
    path = tmp_path / "spec.yaml"
    for cells, where in (({"inputs": 5, "layers": [12, 3]}, "cells.inputs"),
                         ({"inputs": 4, "layers": [12, 10]}, "cells.layers")):
        spec = small_spec(4, 3, path="d.npz")
        spec["cells"].update(cells)
        path.write_text(yaml.safe_dump(spec))
        with pytest.raises(SpecError) as err:
            tc.load_spec(path)
        assert [p for p, _ in err.value.problems][0].startswith(where), err.value.problems
        assert "d.npz" in str(err.value) or "regression target (3)" in str(err.value)
    spec = small_spec(4, 3, path="missing.npz")
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match="data.path.*no such file or folder"):
        tc.load_spec(path)


def test_file_only_fields_are_refused_for_the_bundled_sets():
    spec = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    spec["data"]["test_path"] = "x.csv"
    with pytest.raises(SpecError, match="data.test_path.*only dataset: file reads it"):
        tc.load_spec(spec)


def test_train_on_arrays_then_evaluate_reproduces_the_score(tmp_path):
    """Arrays from Python train the chip well above chance; evaluating the result's codes on
    the same raw test arrays gives exactly its test score (same scaling, same read-out
    noise); callbacks see every epoch."""
    x, y = blobs(n=300)
    cut = 240
    spec = tc.load_spec(small_spec(4, 3))
    seen = []
    result = tc.train(spec, data=(x[:cut], y[:cut], x[cut:], y[cut:]), epochs=4,
                      callbacks=[seen.append])
    assert [r.epoch for r in seen] == [1, 2, 3, 4] and seen[-1].epochs == 4
    assert seen[-1].test_accuracy == result.history.test_accuracy[-1]
    assert result.test.accuracy >= 0.85, result.test.accuracy  # chance: 1/3
    score = tc.evaluate(spec, result.codes, data=(x[cut:], y[cut:]))
    assert score.accuracy == result.test.accuracy
    np.testing.assert_array_equal(score.confusion, result.test.confusion)
    from thermochip.results import save_run
    save_run(tmp_path / "run.h5", result)  # the results file carries the scaling too
    again = tc.evaluate(spec, tmp_path / "run.h5", data=(x[cut:], y[cut:]))
    np.testing.assert_array_equal(again.confusion, result.test.confusion)


def test_arrays_that_do_not_fit_the_chip_are_refused():
    x, y = blobs(features=6)
    with pytest.raises(SpecError, match="cells.inputs.*inputs: 6"):
        tc.train(tc.load_spec(small_spec(4, 3)), data=(x, y), epochs=1)
    with pytest.raises(ThermochipError, match="feature_range"):
        tc.evaluate(tc.load_spec(small_spec(4, 3)), {"couplings": None, "fields": None,
                                                     "input_codes": None}, data=(x, y))


def test_wine_example_learns(tmp_path):
    """The shipped non-image task trains in seconds, well above chance (1/3)."""
    result = tc.train(tc.load_spec(ROOT / "examples/wine_oim_ep.yaml"))
    assert result.test.accuracy >= 0.9, result.test.accuracy


def test_early_stopping_keeps_the_best_validation_epoch(tmp_path):
    """With train.patience the run ends once validation accuracy has not improved for that
    many epochs and the chip keeps its best epoch's registers: the final test score is that
    epoch's (same registers, same read-out noise). The best state survives a checkpoint."""
    from thermochip.checkpoints import EarlyStop, load_checkpoint, save_checkpoint
    from thermochip.learn import make_learner

    x, y = blobs(n=300, seed=4)
    np.savez(tmp_path / "d.npz", X=x, y=y)
    spec = small_spec(4, 3, path=str(tmp_path / "d.npz"), validation=0.3)
    spec["train"].update(epochs=30, patience=2)
    spec["learner"].update(lr=[3.0, 1.0])  # a rate high enough to wander off its best
    result = tc.train(tc.load_spec(spec))
    h, best = result.history, result.best_epoch
    val = np.array(h.val_accuracy)
    assert best == 1 + int(np.argmax(val))  # the first epoch of the highest accuracy
    assert len(h.epoch) == min(30, best + 2)
    assert result.test.accuracy == h.test_accuracy[best - 1]
    assert result.summary()["best_epoch"] == best

    learner = result.learner
    stop = EarlyStop(2)
    stop.record(3, 0.75, learner)
    save_checkpoint(tmp_path / "c.ckpt", 4, learner, h, {"spec_sha256": "x"}, stop)
    again = EarlyStop(2)
    load_checkpoint(tmp_path / "c.ckpt", make_learner(result.chip, 3), again)
    assert (again.epoch, again.score) == (3, 0.75) and again.done(5)
    for k, v in stop.state.items():
        np.testing.assert_array_equal(again.state[k], v)


def test_patience_needs_a_validation_set():
    spec = small_spec(4, 3, path="x.npz")
    spec["train"]["patience"] = 3
    with pytest.raises(SpecError, match="train.patience.*data.validation"):
        tc.load_spec(spec)


def test_mnist_example_runs_on_idx_files(tmp_path, monkeypatch):
    """The MNIST example end to end on four IDX files of the MNIST layout (random images: the
    real set is not needed to check the pipeline), found through $THERMOCHIP_DATA/mnist."""
    import dataclasses
    rng = np.random.default_rng(2)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, a in (("train-images-idx3-ubyte", rng.integers(0, 256, (60, 28, 28))),
                    ("train-labels-idx1-ubyte", np.arange(60) % 10),
                    ("t10k-images-idx3-ubyte", rng.integers(0, 256, (20, 28, 28))),
                    ("t10k-labels-idx1-ubyte", np.arange(20) % 10)):
        header = bytes([0, 0, 8, a.ndim]) + np.asarray(a.shape, ">u4").tobytes()
        (folder / name).write_bytes(header + a.astype(np.uint8).tobytes())
    monkeypatch.setenv("THERMOCHIP_DATA", str(tmp_path))
    spec = tc.load_spec(ROOT / "examples/mnist_oim_ep.yaml")
    spec = dataclasses.replace(spec, data=dataclasses.replace(spec.data, train_size=40))
    result = tc.train(spec, epochs=1)
    assert result.history.epoch == [1] and result.test.confusion.sum() == 20


def test_regression_targets_are_scaled_and_scored_in_their_units(tmp_path):
    """Regression: a CSV's last data.targets columns are real targets, scaled to [-1, 1] by
    the training range; a chip learns a smooth function of its inputs far better than the
    mean does (R^2 well above 0), reports RMSE in the targets' units, and evaluate gives
    the same score from raw arrays."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (300, 3))
    y = np.stack([40 + 30 * np.tanh(x[:, 0] - x[:, 1]), 5 * x[:, 2] ** 2], axis=1)
    np.savetxt(tmp_path / "r.csv", np.hstack([x, y]), delimiter=",", comments="",
               header="f0,f1,f2,t0,t1")
    ds = load_dataset(DataSpec(dataset="file", path="r.csv", task="regression", targets=2),
                      tmp_path)
    assert ds.train_y.shape == (240, 2) and ds.n_classes == 2
    np.testing.assert_allclose(ds.train_y.min(axis=0), -1, atol=1e-6)
    np.testing.assert_allclose(ds.train_y.max(axis=0), 1, atol=1e-6)

    spec = small_spec(3, 2, path=str(tmp_path / "r.csv"), task="regression", targets=2)
    spec["train"]["epochs"] = 15
    spec["learner"]["update_every"] = 4
    result = tc.train(tc.load_spec(spec))
    s = result.summary()
    assert s["test_accuracy"] is None and s["test_rmse"] == result.test.rmse
    spread = np.sqrt(((y - y.mean(axis=0)) ** 2).mean())  # the mean's RMSE, targets' units
    assert result.test.rmse < 0.6 * spread and result.test.r2 > 0.5, (result.test, spread)
    again = tc.evaluate(tc.load_spec(spec), result.codes, data=(x, y))  # every row, raw
    assert np.isfinite(again.rmse) and again.rmse < 0.6 * spread


@pytest.mark.parametrize("change, where", [
    ({"learner": {"loss": "cross_entropy"}}, "learner.loss"),
    ({"data": {"classes": 3}}, "data.classes"),
])
def test_regression_refuses_what_has_no_value_read_out(tmp_path, change, where):
    x, y = blobs()
    np.savez(tmp_path / "d.npz", X=x, y=y.astype(float))
    spec = small_spec(4, 1, path=str(tmp_path / "d.npz"), task="regression")
    for section, fields in change.items():
        spec[section].update(fields)
    with pytest.raises(SpecError) as err:
        tc.load_spec(spec)
    assert any(path.startswith(where) for path, _ in err.value.problems), err.value.problems


def test_a_regression_sweep_records_rmse(tmp_path):
    """A sweep over a regression spec: each point's RMSE and R^2 in the table, RMSE plotted."""
    from thermochip.plots import plot_sweep
    from thermochip.sweep import run_sweep
    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, (120, 3))
    np.savez(tmp_path / "r.npz", X=x, y=np.tanh(x[:, 0] - x[:, 1]))
    spec = small_spec(3, 1, path="r.npz", task="regression")
    spec["train"]["epochs"] = 2
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    rows = run_sweep(tmp_path / "spec.yaml", ["learner.beta=0.5,1.0"], out=tmp_path / "s",
                     workers=1)
    for r in rows:
        assert r["test_rmse"] > 0 and np.isfinite(r["test_r2"]) and "test_accuracy" not in r
    assert [p.name for p in plot_sweep(tmp_path / "s")] == ["rmse_vs_learner.beta.png"]
