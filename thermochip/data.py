"""Data sets the host streams through the chip (host side, plain numpy).

``load_dataset(spec.learning.data)`` returns a :class:`Dataset` of float32 pixel vectors in
[0, 1] and int64 labels, split into train / validation / test:

- ``digits``: the 8x8 handwritten digits bundled in ``thermochip/datasets/digits.npz``; no
  download, no network. A fixed shuffle (seed 0, independent of ``shuffle_seed``) puts 360
  samples in the test set and the other 1437 in the training set.
- ``mnist`` / ``fashion_mnist``: the four IDX files (``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
  plain or ``.gz``). An explicit place is the only one looked in, and an error when it does
  not hold them: ``data.path`` (relative to ``base_dir``; the folder, or its subfolder named
  for the set: ``mnist``, ``fashion_mnist`` or ``fashion-mnist``), else ``$THERMOCHIP_DATA``
  (only its subfolder named for the set: MNIST and Fashion-MNIST files share their names, so
  a folder is never taken for another set). Without either: ``/usr/share/datasets/<name>``
  (Debian's ``dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist``), then
  the cache ``~/.cache/thermochip/data/<name>``; when neither has them and
  ``THERMOCHIP_DOWNLOAD=1`` is set, they are downloaded into the cache; otherwise a one-line
  :class:`ThermochipError` says where it looked and how to get them.

- ``file``: a user's ``.npz``, CSV or IDX folder (:mod:`thermochip.data_files`), any
  feature count and number of classes; its test samples are the file's own, those of
  ``data.test_path``, or a fixed ``data.test_fraction`` held out. Features are scaled to
  [0, 1] by the training samples' range (``data.scale``). Arrays from Python are read alike.

Then the training set is shuffled with ``shuffle_seed``, truncated to ``train_size``, and its
last ``validation`` fraction is held out; the test set keeps its order and is truncated to
``test_size``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from thermochip.errors import ThermochipError
from thermochip.idx import IDX_FILES, find_idx_file, idx_files_in, read_idx
from thermochip.spec import DataSpec

__all__ = ["Dataset", "load_dataset", "read_idx"]

#: Parent folders of system-wide data set installs (``<folder>/<system name>``).
SYSTEM_DIRS: tuple[Path, ...] = (Path("/usr/share/datasets"),)

#: Folder name of each IDX data set below the system folders (Debian's spelling).
SYSTEM_NAMES = {"mnist": "mnist", "fashion_mnist": "fashion-mnist"}

#: Public mirrors of the gzipped IDX files, tried in order when THERMOCHIP_DOWNLOAD=1.
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion_mnist": (
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
}

DOWNLOAD_TIMEOUT_S = 30.0

DIGITS_TEST_SIZE = 360
DIGITS_SPLIT_SEED = 0

_IDX_IMAGE_SHAPE = (28, 28)


@dataclass
class Dataset:
    """A labelled image data set, split. ``*_x`` are float32 ``(n, P)`` pixel vectors in
    [0, 1], or [-1, 1] with ``pixels: signed`` (``P = prod(shape)``, row-major), ``*_y`` int64
    labels in ``0 .. n_classes-1``. ``val_x`` / ``val_y`` have zero rows when no validation
    fraction is held out. ``source`` says where the samples were read from."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    n_classes: int
    name: str
    shape: tuple
    source: str
    class_names: list[str] | None = None
    #: (2, feature) training minimum and maximum the features were scaled by (None: not
    #: scaled); new samples must be scaled by the same range (:func:`scale_features`)
    feature_range: np.ndarray | None = None
    #: classification, or regression: ``*_y`` are then float32 (sample, target) targets in
    #: [-1, 1], scaled by ``target_range`` (2, target), and ``n_classes`` counts targets
    task: str = "classification"
    target_range: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        """Pixels per sample (P)."""
        return int(np.prod(self.shape))


# ---------------------------------------------------------------------------------------------
# Finding the IDX sets


def _cache_dir(name: str) -> Path:
    return Path.home() / ".cache" / "thermochip" / "data" / name


def _named_dirs(root: Path, name: str) -> list[Path]:
    """The folders below ``root`` that hold data set ``name`` by their name."""
    return list(dict.fromkeys((root / name, root / SYSTEM_NAMES[name])))


def _search_dirs(spec: DataSpec, base_dir: Path | None) -> tuple[list[Path], str | None]:
    """Folders that may hold the IDX files of ``spec.dataset``, in order, and what chose
    them: ``data.path`` (the folder itself or its subfolder named for the set) or
    ``THERMOCHIP_DATA`` (only a subfolder named for the set: MNIST and Fashion-MNIST files
    have the same names), which are then the only places looked in; else None and the
    system folders and the cache."""
    name = spec.dataset
    if spec.path:
        p = Path(spec.path).expanduser()
        if not p.is_absolute():
            p = (Path(base_dir) if base_dir is not None else Path.cwd()) / p
        return _named_dirs(p, name) + [p], f"data.path {p}"
    env = os.environ.get("THERMOCHIP_DATA")
    if env:
        root = Path(env).expanduser()
        return _named_dirs(root, name), f"THERMOCHIP_DATA={root}"
    dirs = [Path(sysdir) / SYSTEM_NAMES[name] for sysdir in SYSTEM_DIRS]
    return list(dict.fromkeys(dirs + [_cache_dir(name)])), None


def _download(name: str, dest: Path) -> dict[str, Path]:
    """Download the four gzipped IDX files of ``name`` into ``dest`` (atomic per file:
    written to a temporary file in ``dest``, then renamed)."""
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for role, stem in IDX_FILES.items():
        existing = find_idx_file(dest, stem)
        if existing is not None:
            files[role] = existing
            continue
        target = dest / (stem + ".gz")
        failures = []
        for mirror in MIRRORS[name]:
            url = mirror + target.name
            # the temporary name ends in .gz so read_idx can check the download before the rename
            fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part.gz", dir=dest)
            try:
                with os.fdopen(fd, "wb") as out, \
                        urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
                    shutil.copyfileobj(resp, out)
                read_idx(tmp)
                os.replace(tmp, target)
                break
            except ThermochipError as exc:
                failures.append(f"{url}: {exc}")
            except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                failures.append(f"{url}: {reason}")
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            raise ThermochipError(f"could not download {target.name} for {name} into {dest} "
                                  f"(tried {'; '.join(failures)}); instead "
                                  f"{_how_to_get(name, download=False)}")
        files[role] = target
    return files


def _how_to_get(name: str, download: bool = True) -> str:
    files = ", ".join(IDX_FILES.values())
    ways = [f"set data.path or THERMOCHIP_DATA to a folder with the IDX files ({files}; "
            ".gz allowed)"]
    if name == "fashion_mnist":
        ways.insert(0, "apt-get update && apt-get install dataset-fashion-mnist")
    if download:
        ways.append(f"set THERMOCHIP_DOWNLOAD=1 to download them into {_cache_dir(name)}")
    return ", or ".join(ways)


def _locate_idx(spec: DataSpec, base_dir: Path | None) -> tuple[dict[str, Path], Path]:
    dirs, chosen_by = _search_dirs(spec, base_dir)
    for d in dirs:
        files = idx_files_in(d)
        if files is not None:
            return files, d
    name = spec.dataset
    looked = ", ".join(str(d) for d in dirs)
    if chosen_by is not None:
        raise ThermochipError(f"{chosen_by} does not hold the {name} IDX files (looked in "
                              f"{looked} for {', '.join(IDX_FILES.values())}, .gz allowed)")
    if os.environ.get("THERMOCHIP_DOWNLOAD", "") == "1":
        cache = _cache_dir(name)
        return _download(name, cache), cache
    raise ThermochipError(f"{name} data not found (looked in {looked}); to get it: "
                          f"{_how_to_get(name)}")


def _load_idx_split(files: dict[str, Path], split: str, n_classes: int) -> tuple:
    images_path, labels_path = files[f"{split}_images"], files[f"{split}_labels"]
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != _IDX_IMAGE_SHAPE:
        raise ThermochipError(f"unexpected IDX images in {images_path}: shape {images.shape}, "
                              f"expected (n, {_IDX_IMAGE_SHAPE[0]}, {_IDX_IMAGE_SHAPE[1]})")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ThermochipError(f"unexpected IDX labels in {labels_path}: shape {labels.shape}, "
                              f"expected ({images.shape[0]},) to match {images_path.name}")
    if labels.size and int(labels.max()) >= n_classes:
        raise ThermochipError(f"unexpected IDX labels in {labels_path}: label "
                              f"{int(labels.max())} outside 0..{n_classes - 1}")
    x = images.reshape(images.shape[0], -1).astype(np.float32) / np.float32(255.0)
    return x, labels.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# loading and splitting


def _load_digits() -> tuple:
    ref = resources.files("thermochip.datasets") / "digits.npz"
    with resources.as_file(ref) as path, np.load(path) as z:
        images, labels = z["images"], z["labels"]
        source = str(path)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(images.shape[0])
    x = images[order].astype(np.float32) / np.float32(16.0)
    y = labels[order].astype(np.int64)
    cut = x.shape[0] - DIGITS_TEST_SIZE
    return (x[:cut], y[:cut]), (x[cut:], y[cut:]), (8, 8), source


def drive(x: np.ndarray, pixels: str) -> np.ndarray:
    """What the input DACs drive for values x in [0, 1]: x (``unit``) or 2x - 1 (``signed``)."""
    return 2 * x - 1 if pixels == "signed" else x


def load_dataset(spec: DataSpec, base_dir: Path | None = None, arrays=None) -> Dataset:
    """Load ``spec.dataset`` (or ``arrays`` passed from Python, read as ``dataset: file``
    reads its files) and split it as the module docstring describes.

    ``base_dir`` resolves a relative ``spec.path`` (usually the folder of the spec file;
    default: the current directory). Raises :class:`ThermochipError` (one line) when the files
    are missing or corrupt, or when ``train_size`` / ``test_size`` exceed what the set has."""
    name, n_classes, extra = spec.dataset, 10, {}
    if arrays is not None or name == "file":
        from thermochip.data_files import own_data
        own = own_data(spec, base_dir, arrays)
        train_x, train_y, test_x, test_y, shape, source, n_classes = (
            own.pop(k) for k in ("train_x", "train_y", "test_x", "test_y", "shape", "source",
                                 "n_classes"))
        extra = own  # class names, feature and target ranges
        name = "arrays" if arrays is not None else Path(source).name
    elif name == "digits":
        (train_x, train_y), (test_x, test_y), shape, source = _load_digits()
    elif name in SYSTEM_NAMES:
        files, folder = _locate_idx(spec, base_dir)
        train_x, train_y = _load_idx_split(files, "train", n_classes)
        test_x, test_y = _load_idx_split(files, "test", n_classes)
        shape, source = _IDX_IMAGE_SHAPE, str(folder)
    else:
        raise ThermochipError(f"unknown data set {name!r} (expected digits, mnist or "
                              "fashion_mnist)")

    # training order: shuffled with the spec's seed, truncated, validation from the end
    order = np.random.default_rng(spec.shuffle_seed).permutation(train_x.shape[0])
    if spec.train_size is not None:
        if spec.train_size > order.size:
            raise ThermochipError(f"data.train_size {spec.train_size} exceeds the {order.size} "
                                  f"training samples of {name}")
        order = order[:spec.train_size]
    n_val = int(round(spec.validation * order.size))
    if spec.validation > 0 and order.size >= 2:
        n_val = max(n_val, 1)
    n_val = min(n_val, order.size - 1) if order.size > 1 else 0
    keep, held = order[:order.size - n_val], order[order.size - n_val:]
    val_x, val_y = train_x[held], train_y[held]
    train_x, train_y = train_x[keep], train_y[keep]

    if spec.test_size is not None:
        if spec.test_size > test_x.shape[0]:
            raise ThermochipError(f"data.test_size {spec.test_size} exceeds the "
                                  f"{test_x.shape[0]} test samples of {name}")
        test_x, test_y = test_x[:spec.test_size], test_y[:spec.test_size]

    train_x, val_x, test_x = (drive(a, spec.pixels) for a in (train_x, val_x, test_x))
    return Dataset(train_x=np.ascontiguousarray(train_x), train_y=train_y,
                   val_x=np.ascontiguousarray(val_x), val_y=val_y,
                   test_x=np.ascontiguousarray(test_x), test_y=test_y,
                   n_classes=n_classes, name=name, shape=tuple(shape), source=source,
                   task=spec.task, **extra)
