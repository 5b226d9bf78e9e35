"""A user's own data (``data.dataset: file``, or arrays passed from Python): reading ``.npz``,
CSV and IDX files into raw arrays, and describing their shape without reading them whole.

- ``.npz``: arrays ``X`` (sample, ...) and ``y`` (sample,) of integer labels from 0 (for
  regression real targets, (sample,) or (sample, target)), optionally ``X_test`` and
  ``y_test``.
- CSV (``.csv``, ``.tsv``, ``.txt``): one sample per row, comma-, tab- or space-separated, an
  optional header row; the last column is the label, an integer or a class name (sorted
  names become classes 0, 1, ...), or for regression the last ``data.targets`` columns are
  real targets.
- a folder of IDX files: the four files of :data:`thermochip.idx.IDX_FILES`, images of any
  shape and any number of classes.

:func:`own_data` turns them into a scaled train / test split (features to [0, 1] by their
training range, regression targets to [-1, 1]); :func:`thermochip.data.load_dataset` then
shuffles, truncates and holds out validation samples as for every set. Host-side plain numpy.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thermochip.errors import ThermochipError
from thermochip.idx import IDX_FILES, idx_files_in, read_idx
from thermochip.memory import check_read
from thermochip.spec import DataSpec

#: File name endings read as CSV (the delimiter is sniffed).
CSV_SUFFIXES = (".csv", ".tsv", ".txt")


@dataclass
class Table:
    """Raw samples read from a user's files: ``x`` (sample, feature...) as stored, ``y``
    (sample,) labels, the test set when the files hold one (else None), the
    class names when labels were given by name, and where they came from."""

    x: np.ndarray
    y: np.ndarray
    test_x: np.ndarray | None
    test_y: np.ndarray | None
    class_names: list[str] | None
    source: str


def read_table(path: Path, targets: int = 1, task: str = "classification") -> Table:
    """The samples of ``path`` (a ``.npz``, a CSV whose last ``targets`` columns are the
    targets, or a folder of IDX files); ``task``: how a CSV's target column reads."""
    if path.is_dir():
        return _read_idx_folder(path)
    if not path.is_file():
        raise ThermochipError(f"no such file or folder: {path}")
    if path.suffix == ".npz":
        return _read_npz(path)
    if path.suffix.lower() in CSV_SUFFIXES:
        x, y, names = read_csv(path, targets, task)
        return Table(x, y, None, None, names, str(path))
    raise ThermochipError(f"cannot read {path}: expected a .npz, a CSV "
                          f"({', '.join(CSV_SUFFIXES)}) or a folder of IDX files")


def _read_npz(path: Path) -> Table:
    check_read(path, path.stat().st_size)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("X", "y", "X_test", "y_test") if k in z.files}
            keys = z.files
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ThermochipError(f"cannot read {path}: {err}") from None
    for need in ("X", "y"):
        if need not in arrays:
            raise ThermochipError(f"{path} has no array {need!r} (it holds "
                                  f"{', '.join(keys) or 'nothing'}; expected X, y and "
                                  f"optionally X_test, y_test)")
    if ("X_test" in arrays) != ("y_test" in arrays):
        raise ThermochipError(f"{path} holds only one of X_test and y_test")
    return Table(arrays["X"], arrays["y"], arrays.get("X_test"), arrays.get("y_test"), None,
                 str(path))


def read_csv(path: Path, targets: int = 1, task: str = "classification"
             ) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """(features (sample, feature), targets, class names or None) of a CSV file: its last
    ``targets`` columns are the targets (classification: one column of labels, integers or
    class names; regression: real numbers, (sample,) or (sample, target)); a first row whose
    features are not all numbers is a header."""
    check_read(path, 2 * path.stat().st_size)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ThermochipError(f"cannot read {path}: {err}") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ThermochipError(f"{path} is empty")
    delimiter = "\t" if "\t" in lines[0] else "," if "," in lines[0] else None
    rows = [[c.strip() for c in row] for row in
            (csv.reader(lines, delimiter=delimiter) if delimiter else
             (line.split() for line in lines))]
    first = 0 if all(_is_number(c) for c in rows[0][:-targets]) else 1
    body = rows[first:]
    if not body:
        raise ThermochipError(f"{path} has a header and no data rows")
    width = len(body[0])
    if width <= targets:
        raise ThermochipError(f"{path}: rows need feature columns before the {targets} "
                              f"target column(s) (data.targets); found {width} columns")
    for i, row in enumerate(body, start=first + 1):
        if len(row) != width:
            raise ThermochipError(f"{path}, row {i}: {len(row)} columns, the first data row "
                                  f"has {width}")
    x = _numbers(path, [row[:-targets] for row in body], first)
    if task == "regression":
        y = _numbers(path, [row[-targets:] for row in body], first, width - targets)
        return x, (y[:, 0] if targets == 1 else y), None
    column = [row[-1] for row in body]
    if all(_is_number(c) for c in column):
        return x, _numbers(path, [[c] for c in column], first, width - 1)[:, 0], None
    names = sorted(set(column))  # class names, numbered from 0 in sorted order
    index = {name: k for k, name in enumerate(names)}
    return x, np.array([index[c] for c in column], dtype=np.int64), names


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _numbers(path: Path, rows: list[list[str]], first: int, column0: int = 0) -> np.ndarray:
    """The finite numbers of ``rows`` (file rows from ``first + 1``, columns from
    ``column0 + 1``), or one line naming the row and column of the first that is not."""
    try:
        a = np.array(rows, dtype=np.float64)
    except ValueError:
        a = None
    for i, row in enumerate(rows, start=first + 1):
        for j, c in enumerate(row, start=1):
            if not _is_number(c) or (a is not None and not np.isfinite(a[i - first - 1, j - 1])):
                raise ThermochipError(f"{path}, row {i}, column {column0 + j}: {c!r} is not "
                                      f"a finite number")
    return a


def _read_idx_folder(folder: Path) -> Table:
    files = idx_files_in(folder)
    if files is None:
        raise ThermochipError(f"data.path {folder} does not hold the four IDX files "
                              f"({', '.join(IDX_FILES.values())}; .gz allowed)")
    arrays = {role: read_idx(p) for role, p in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if labels.ndim != 1 or len(labels) != len(images):
            raise ThermochipError(f"{files[split + '_labels']}: labels of shape {labels.shape} "
                                  f"do not match the {len(images)} images of "
                                  f"{files[split + '_images'].name}")
    return Table(arrays["train_images"], arrays["train_labels"], arrays["test_images"],
                 arrays["test_labels"], None, str(folder))


#: Seed of the fixed split that holds out a file's test samples (data.test_fraction).
FILE_SPLIT_SEED = 0


def own_data(spec: DataSpec, base_dir: Path | None = None, arrays=None) -> dict:
    """A user's data as :class:`Dataset` fields (``train_x``, ``train_y``, ``test_x``,
    ``test_y``, ``shape``, ``source``, ``n_classes``, ``class_names``, ``feature_range``,
    ``target_range``): ``arrays`` from Python ((X, y) or (X, y, X_test, y_test)) or the files
    ``spec.path`` (and ``spec.test_path``) name; features scaled as ``spec.scale`` says,
    regression targets to [-1, 1] by their training range."""
    from thermochip.spec_files import resolve_path

    if arrays is not None:
        if len(arrays) not in (2, 4):
            raise ThermochipError(f"data: give (X, y) or (X, y, X_test, y_test), not "
                                  f"{len(arrays)} arrays")
        table = Table(*(np.asarray(a) for a in arrays[:2]),
                      *((np.asarray(a) for a in arrays[2:]) if len(arrays) == 4
                        else (None, None)), None, "arrays")
    elif spec.path is None:
        raise ThermochipError("data.path: dataset file needs the file (a .npz, a CSV or a "
                              "folder of IDX files)")
    else:
        table = read_table(resolve_path(str(Path(spec.path).expanduser()), base_dir),
                           spec.targets, spec.task)
    x, y, test_x, test_y = table.x, table.y, table.test_x, table.test_y
    source, names = table.source, table.class_names
    regression = spec.task == "regression"
    if spec.test_path is not None and arrays is None:
        if test_x is not None:
            raise ThermochipError(f"data.test_path: {source} holds its own test set")
        test = read_table(resolve_path(str(Path(spec.test_path).expanduser()), base_dir),
                          spec.targets, spec.task)
        if (test.class_names is None) != (names is None):
            raise ThermochipError(f"data.test_path: {test.source} labels its classes "
                                  f"{'by name' if names is None else 'by number'}, "
                                  f"{source} does not")
        if names is not None:  # one numbering of the names of both files
            names = sorted(set(names) | set(test.class_names))
            y = np.searchsorted(names, np.asarray(table.class_names)[y])
            test.y = np.searchsorted(names, np.asarray(test.class_names)[test.y])
        test_x, test_y = test.x, test.y
        source += f" (test: {test.source})"
    for what, a, b in (("train", x, y), ("test", test_x, test_y)):
        if a is not None and (a.ndim < 2 or b.ndim not in (1, 1 + regression)
                              or len(a) != len(b)):
            raise ThermochipError(f"{source}: the {what} samples need X (sample, feature...) "
                                  f"and y (sample,{' or (sample, target)' * regression}) "
                                  f"with one row per sample; got X {a.shape}, y {b.shape}")
    x = _features(x, source, "X")
    test_x = None if test_x is None else _features(test_x, source, "X_test")
    if test_x is None:  # a fixed split: the same samples are held out whatever the seed
        order = np.random.default_rng(FILE_SPLIT_SEED).permutation(len(x))
        cut = len(x) - max(1, int(round(spec.test_fraction * len(x))))
        if cut < 1:
            raise ThermochipError(f"{source}: {len(x)} sample(s) are too few to hold out a "
                                  f"test set (data.test_fraction {spec.test_fraction})")
        x, y, test_x, test_y = x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]
    if x.shape[1:] != test_x.shape[1:]:
        raise ThermochipError(f"{source}: training samples of {x.shape[1]} features, test "
                              f"samples of {test_x.shape[1]}")
    feature_range = _range(spec.scale, x)
    train_x, test_x = (scale_features(a, feature_range) for a in (x, test_x))
    out = dict(train_x=train_x, test_x=test_x, shape=table.x.shape[1:], source=source,
               class_names=names, feature_range=feature_range, target_range=None)
    if regression:
        train_t, test_t = (_targets(a, source, what) for a, what in ((y, "y"), (test_y,
                                                                              "y_test")))
        if train_t.shape[1] != test_t.shape[1]:
            raise ThermochipError(f"{source}: {train_t.shape[1]} training targets, "
                                  f"{test_t.shape[1]} test targets")
        target_range = np.stack([train_t.min(axis=0), train_t.max(axis=0)])
        return {**out, "train_y": scale_targets(train_t, target_range),
                "test_y": scale_targets(test_t, target_range), "n_classes": train_t.shape[1],
                "target_range": target_range}
    labels = [_labels(a, source, what) for a, what in ((y, "y"), (test_y, "y_test"))]
    classes = spec.classes or int(max(a.max(initial=0) for a in labels)) + 1
    if names is not None and spec.classes is None:
        classes = len(names)
    for a, what in zip(labels, ("y", "y_test")):
        if a.size and a.max() >= classes:
            raise ThermochipError(f"{source}: {what} has label {int(a.max())}, outside the "
                                  f"{classes} classes of data.classes")
    if classes < 2:
        raise ThermochipError(f"{source}: the labels name one class; a classifier needs two "
                              f"or more")
    return {**out, "train_y": labels[0], "test_y": labels[1], "n_classes": classes}


def _targets(a: np.ndarray, source: str, what: str) -> np.ndarray:
    """(sample, target) float64 regression targets, refusing non-finite ones by row."""
    return _finite(a, source, what, "target")


def scale_targets(t: np.ndarray, target_range: np.ndarray) -> np.ndarray:
    """Regression targets (sample, target) to the outputs' read-out range: [-1, 1] over the
    training range (a constant target becomes 0)."""
    lo, hi = target_range
    return ((2 * t - lo - hi) / np.where(hi > lo, hi - lo, np.inf)).astype(np.float32)


def unscale_targets(r: np.ndarray, target_range: np.ndarray) -> np.ndarray:
    """Read-outs (sample, target) back in the targets' units (:func:`scale_targets`'s
    inverse)."""
    lo, hi = target_range
    return 0.5 * (lo + hi) + 0.5 * (hi - lo) * np.asarray(r, dtype=np.float64)


def _features(a: np.ndarray, source: str, what: str) -> np.ndarray:
    """(sample, feature) float64 of any numeric array, refusing non-finite values by row."""
    return _finite(a, source, what, "feature")


def _finite(a: np.ndarray, source: str, what: str, kind: str) -> np.ndarray:
    """``a`` as (sample, kind) float64; one line naming ``what`` and the row and column of a
    value that is not a number or not finite."""
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise ThermochipError(f"{source}: {what} holds {a.dtype} values, not numbers")
    flat = a.reshape(len(a), -1).astype(np.float64)
    bad = ~np.isfinite(flat)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ThermochipError(f"{source}: {what} row {row} {kind} {col} is {flat[row, col]} "
                              f"({kind}s must be finite)")
    return flat


def _labels(a: np.ndarray, source: str, what: str) -> np.ndarray:
    """Integer class labels from 0 (whole numbers stored as floats are accepted)."""
    if a.dtype.kind not in "iub" and not (a.dtype.kind == "f" and np.all(np.isfinite(a))
                                          and np.all(a == np.round(a))):
        raise ThermochipError(f"{source}: {what} holds {a.dtype} values; class labels are "
                              f"integers 0, 1, ... (or names in a CSV)")
    labels = a.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ThermochipError(f"{source}: {what} has label {int(labels.min())}; class labels "
                              f"are integers 0, 1, ...")
    return labels


def _range(how: str, train: np.ndarray) -> np.ndarray | None:
    """(2, feature) minimum and maximum of the training features (``column``: each its own;
    ``global``: one for all), or None (``none``: no scaling)."""
    if how == "none" or not len(train):
        return None
    axis = 0 if how == "column" else None
    lo, hi = (np.broadcast_to(f(train, axis=axis), train.shape[1:]) for f in (np.min, np.max))
    return np.stack([lo, hi])


def scale_features(x: np.ndarray, feature_range: np.ndarray | None) -> np.ndarray:
    """(sample, feature) float32 input-DAC values: [0, 1] over the training range
    ``feature_range`` (a constant feature becomes 0), or as given when it is None."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if feature_range is not None:
        lo, hi = feature_range
        x = (x - lo) / np.where(hi > lo, hi - lo, np.inf)
    return x.astype(np.float32)
