"""Host-side data: bundled digits, the IDX reader, the search for MNIST-like sets, splits and
batch iteration."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from thermochip import data as tdata
from thermochip import host
from thermochip.data import Dataset, load_dataset, read_idx
from thermochip.errors import ThermochipError
from thermochip.spec import DataSpec

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def write_idx(path: Path, array: np.ndarray) -> None:
    """Minimal IDX writer (unsigned bytes); gzip when the name ends in .gz."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    if path.name.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def write_fake_mnist(folder: Path, n_train: int = 50, n_test: int = 20, gz: bool = False,
                     seed: int = 1) -> dict[str, np.ndarray]:
    """Write the four IDX files of a tiny MNIST-shaped set; returns the arrays."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        write_idx(folder / (name + (".gz" if gz else "")), arr)
    return arrays


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No data anywhere: no THERMOCHIP_DATA, an empty HOME, no system folders, no download;
    tests that set THERMOCHIP_DATA point it at ``tmp_path / "data"``."""
    data_dir, home = tmp_path / "data", tmp_path / "home"
    data_dir.mkdir()
    home.mkdir()
    monkeypatch.delenv("THERMOCHIP_DATA", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("THERMOCHIP_DOWNLOAD", raising=False)
    monkeypatch.setattr(tdata, "SYSTEM_DIRS", (tmp_path / "system",))
    return tmp_path


# ---------------------------------------------------------------------------------------------
# digits


def test_digits_loads_offline():
    ds = load_dataset(DataSpec())
    assert isinstance(ds, Dataset)
    assert ds.name == "digits" and ds.n_classes == 10 and ds.shape == (8, 8)
    assert ds.n_features == 64
    assert ds.train_x.shape == (1797 - 360, 64) and ds.test_x.shape == (360, 64)
    assert ds.val_x.shape == (0, 64) and ds.val_y.shape == (0,)
    for x in (ds.train_x, ds.val_x, ds.test_x):
        assert x.dtype == np.float32
    for y in (ds.train_y, ds.val_y, ds.test_y):
        assert y.dtype == np.int64
    allx = np.concatenate([ds.train_x, ds.test_x])
    assert allx.min() == 0.0 and allx.max() == 1.0
    # pixel values are k/16
    np.testing.assert_array_equal(allx * 16, np.round(allx * 16))
    counts = np.bincount(np.concatenate([ds.train_y, ds.test_y]), minlength=10)
    assert counts.sum() == 1797 and len(counts) == 10 and counts.min() >= 170
    assert set(np.unique(ds.test_y)) == set(range(10))
    assert Path(ds.source).name == "digits.npz" and Path(ds.source).is_file()


def test_digits_split_is_fixed_and_independent_of_shuffle_seed():
    a = load_dataset(DataSpec(shuffle_seed=0))
    b = load_dataset(DataSpec(shuffle_seed=7))
    np.testing.assert_array_equal(a.test_x, b.test_x)
    np.testing.assert_array_equal(a.test_y, b.test_y)
    # same training samples, different order
    assert not np.array_equal(a.train_y, b.train_y)
    assert sorted(_rows(a.train_x)) == sorted(_rows(b.train_x))


def test_signed_pixels_map_unit_range_to_plus_minus_one():
    unit = load_dataset(DataSpec(validation=0.1))
    signed = load_dataset(DataSpec(validation=0.1, pixels="signed"))
    for a, b in ((unit.train_x, signed.train_x), (unit.val_x, signed.val_x),
                 (unit.test_x, signed.test_x)):
        np.testing.assert_array_equal(b, 2 * a - 1)
    assert signed.train_x.min() == -1.0 and signed.train_x.max() == 1.0


def test_bundled_file_layout():
    with np.load(Path(tdata.__file__).parent / "datasets" / "digits.npz") as z:
        assert z["images"].dtype == np.uint8 and z["images"].shape == (1797, 64)
        assert z["labels"].dtype == np.uint8 and z["labels"].shape == (1797,)
        assert z["images"].max() == 16


# ---------------------------------------------------------------------------------------------
# IDX reader


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (0, 28, 28)])
def test_idx_round_trip(tmp_path, suffix, shape):
    arr = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / ("x-idx-ubyte" + suffix)
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == np.uint8 and back.shape == shape
    np.testing.assert_array_equal(back, arr)
    back[...] = 0  # writable


def _one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert str(path) in msg
    return msg


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_rejects_wrong_magic(tmp_path, suffix):
    path = tmp_path / ("bad-idx1-ubyte" + suffix)
    write_idx(path, np.arange(10, dtype=np.uint8))
    raw = bytearray(gzip.decompress(path.read_bytes()) if suffix else path.read_bytes())
    raw[0] = 0x12
    path.write_bytes(gzip.compress(bytes(raw)) if suffix else bytes(raw))
    with pytest.raises(ThermochipError) as exc:
        read_idx(path)
    assert "magic" in _one_line_naming(exc, path)


def test_idx_rejects_other_element_types(tmp_path):
    path = tmp_path / "f-idx1"
    path.write_bytes(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1) + b"\0\0\0\0")  # float32
    with pytest.raises(ThermochipError) as exc:
        read_idx(path)
    assert "0x0d" in _one_line_naming(exc, path)


@pytest.mark.parametrize("cut", [2, 6, 30])
def test_idx_rejects_truncated_file(tmp_path, cut):
    path = tmp_path / "t-idx3-ubyte"
    write_idx(path, np.ones((2, 4, 4), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(ThermochipError) as exc:
        read_idx(path)
    _one_line_naming(exc, path)


def test_idx_rejects_extra_bytes(tmp_path):
    path = tmp_path / "e-idx1-ubyte"
    write_idx(path, np.ones(5, dtype=np.uint8))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ThermochipError) as exc:
        read_idx(path)
    _one_line_naming(exc, path)


def test_idx_rejects_truncated_gzip(tmp_path):
    path = tmp_path / "t-idx3-ubyte.gz"
    write_idx(path, np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ThermochipError) as exc:
        read_idx(path)
    _one_line_naming(exc, path)


# ---------------------------------------------------------------------------------------------
# MNIST-like sets: search, errors, download


def test_missing_mnist_is_one_line_naming_the_places(isolated):
    with pytest.raises(ThermochipError) as exc:
        load_dataset(DataSpec(dataset="mnist"))
    msg = str(exc.value)
    assert "\n" not in msg
    for place in (isolated / "system" / "mnist",
                  isolated / "home" / ".cache" / "thermochip" / "data" / "mnist"):
        assert str(place) in msg
    assert "THERMOCHIP_DATA" in msg and "THERMOCHIP_DOWNLOAD=1" in msg


def test_missing_fashion_mnist_mentions_debian_package(isolated):
    with pytest.raises(ThermochipError) as exc:
        load_dataset(DataSpec(dataset="fashion_mnist"))
    msg = str(exc.value)
    assert "\n" not in msg and str(isolated / "system" / "fashion-mnist") in msg
    assert "apt-get update && apt-get install dataset-fashion-mnist" in msg


@pytest.mark.parametrize("where", ["nowhere", "empty", "a_file"])
def test_an_explicit_data_path_without_the_set_is_an_error_naming_it(isolated, where):
    """data.path missing, empty or a file: no fallback to the system copy (which exists)."""
    write_fake_mnist(isolated / "system" / "fashion-mnist")
    (isolated / "empty").mkdir()
    (isolated / "a_file").write_text("x")
    with pytest.raises(ThermochipError) as exc:
        load_dataset(DataSpec(dataset="fashion_mnist", path=where), base_dir=isolated)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(f"data.path {isolated / where} does not hold")
    assert str(isolated / "system") not in msg


def test_thermochip_data_is_searched_only_for_the_set_it_names(isolated, monkeypatch):
    """MNIST files in $THERMOCHIP_DATA itself are not taken for Fashion-MNIST (the files have
    the same names); its fashion_mnist/ or fashion-mnist/ subfolder is; without one, an error
    naming the variable, never the system copy."""
    write_fake_mnist(isolated / "system" / "fashion-mnist", seed=4)
    monkeypatch.setenv("THERMOCHIP_DATA", str(isolated / "data"))
    write_fake_mnist(isolated / "data", seed=3)              # an MNIST folder
    with pytest.raises(ThermochipError) as exc:
        load_dataset(DataSpec(dataset="fashion_mnist"))
    assert str(exc.value).startswith(f"THERMOCHIP_DATA={isolated / 'data'} does not hold")
    write_fake_mnist(isolated / "data" / "fashion-mnist", seed=2)
    assert load_dataset(DataSpec(dataset="fashion_mnist")).source == \
        str(isolated / "data" / "fashion-mnist")
    write_fake_mnist(isolated / "data" / "fashion_mnist", seed=1)
    assert load_dataset(DataSpec(dataset="fashion_mnist")).source == \
        str(isolated / "data" / "fashion_mnist")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_spec_path_relative_to_base_dir(isolated, gz):
    arrays = write_fake_mnist(isolated / "spec_dir" / "mnist_files", gz=gz)
    ds = load_dataset(DataSpec(dataset="mnist", path="mnist_files"),
                      base_dir=isolated / "spec_dir")
    assert ds.shape == (28, 28) and ds.n_classes == 10 and ds.name == "mnist"
    assert ds.train_x.shape == (50, 784) and ds.test_x.shape == (20, 784)
    assert ds.train_x.dtype == np.float32 and ds.test_y.dtype == np.int64
    assert ds.source == str(isolated / "spec_dir" / "mnist_files")
    # test set keeps file order; pixels scaled by 1/255
    np.testing.assert_allclose(
        ds.test_x, arrays["t10k-images-idx3-ubyte"].reshape(20, -1) / np.float32(255), rtol=1e-6)
    np.testing.assert_array_equal(ds.test_y, arrays["t10k-labels-idx1-ubyte"])
    assert 0.0 <= ds.train_x.min() and ds.train_x.max() <= 1.0


def test_search_order(isolated, monkeypatch):
    """Without an explicit place: the system folder, then the cache. data.path wins over
    THERMOCHIP_DATA, and a folder named for the set inside it over the folder itself; an
    incomplete explicit folder is an error, not a fallback."""
    write_fake_mnist(isolated / "home" / ".cache" / "thermochip" / "data" / "mnist", seed=5)
    assert load_dataset(DataSpec(dataset="mnist")).source.endswith(
        str(Path(".cache") / "thermochip" / "data" / "mnist"))
    write_fake_mnist(isolated / "system" / "mnist", seed=4)
    assert load_dataset(DataSpec(dataset="mnist")).source == str(isolated / "system" / "mnist")
    monkeypatch.setenv("THERMOCHIP_DATA", str(isolated / "data"))
    write_fake_mnist(isolated / "data" / "mnist", seed=2)
    assert load_dataset(DataSpec(dataset="mnist")).source == str(isolated / "data" / "mnist")
    write_fake_mnist(isolated / "mine", seed=1)
    ds = load_dataset(DataSpec(dataset="mnist", path=str(isolated / "mine")))
    assert ds.source == str(isolated / "mine")
    write_fake_mnist(isolated / "mine" / "mnist", seed=0)
    ds = load_dataset(DataSpec(dataset="mnist", path=str(isolated / "mine")))
    assert ds.source == str(isolated / "mine" / "mnist")
    (isolated / "mine" / "mnist" / "t10k-labels-idx1-ubyte").unlink()
    (isolated / "mine" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ThermochipError, match="does not hold the mnist IDX files"):
        load_dataset(DataSpec(dataset="mnist", path=str(isolated / "mine")))


def test_corrupt_mnist_file_is_named(isolated, monkeypatch):
    monkeypatch.setenv("THERMOCHIP_DATA", str(isolated / "data"))
    folder = isolated / "data" / "mnist"
    write_fake_mnist(folder)
    bad = folder / "train-labels-idx1-ubyte"
    bad.write_bytes(bad.read_bytes()[:-3])
    with pytest.raises(ThermochipError) as exc:
        load_dataset(DataSpec(dataset="mnist"))
    _one_line_naming(exc, bad)


def test_mismatched_label_count_is_named(isolated, monkeypatch):
    monkeypatch.setenv("THERMOCHIP_DATA", str(isolated / "data"))
    folder = isolated / "data" / "mnist"
    write_fake_mnist(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(19, dtype=np.uint8))
    with pytest.raises(ThermochipError) as exc:
        load_dataset(DataSpec(dataset="mnist"))
    _one_line_naming(exc, folder / "t10k-labels-idx1-ubyte")


def test_download_into_cache(isolated, monkeypatch):
    mirror = isolated / "mirror"
    arrays = write_fake_mnist(mirror, gz=True)
    monkeypatch.setitem(tdata.MIRRORS, "mnist", ("file:///nonexistent/", mirror.as_uri() + "/"))
    monkeypatch.setenv("THERMOCHIP_DOWNLOAD", "1")
    ds = load_dataset(DataSpec(dataset="mnist"))
    cache = isolated / "home" / ".cache" / "thermochip" / "data" / "mnist"
    assert ds.source == str(cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in arrays)
    np.testing.assert_array_equal(ds.test_y, arrays["t10k-labels-idx1-ubyte"])
    # found in the cache next time, without downloading
    monkeypatch.delenv("THERMOCHIP_DOWNLOAD")
    assert load_dataset(DataSpec(dataset="mnist")).source == str(cache)


def test_failed_download_leaves_no_partial_file(isolated, monkeypatch):
    mirror = isolated / "mirror"
    write_fake_mnist(mirror, gz=True)
    broken = mirror / "train-images-idx3-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:-50])
    monkeypatch.setitem(tdata.MIRRORS, "mnist", (mirror.as_uri() + "/",))
    monkeypatch.setenv("THERMOCHIP_DOWNLOAD", "1")
    with pytest.raises(ThermochipError) as exc:
        load_dataset(DataSpec(dataset="mnist"))
    assert "\n" not in str(exc.value) and "train-images-idx3-ubyte.gz" in str(exc.value)
    cache = isolated / "home" / ".cache" / "thermochip" / "data" / "mnist"
    assert list(cache.iterdir()) == []


def test_fashion_mnist_from_debian_package(monkeypatch):
    if not FASHION_DIR.is_dir():
        pytest.skip(f"{FASHION_DIR} not present (apt-get install dataset-fashion-mnist)")
    monkeypatch.delenv("THERMOCHIP_DATA", raising=False)
    ds = load_dataset(DataSpec(dataset="fashion_mnist", train_size=2000, test_size=500))
    assert ds.source == str(FASHION_DIR)
    assert ds.shape == (28, 28) and ds.n_classes == 10
    assert ds.train_x.shape == (2000, 784) and ds.test_x.shape == (500, 784)
    assert ds.train_x.dtype == np.float32 and ds.train_y.dtype == np.int64
    assert ds.train_x.min() >= 0.0 and ds.train_x.max() <= 1.0
    assert ds.train_x.max() == 1.0
    assert set(np.unique(ds.train_y)) == set(range(10))


# ---------------------------------------------------------------------------------------------
# splits


def _rows(x: np.ndarray) -> set:
    return {r.tobytes() for r in x}


def test_splits_are_disjoint_and_sized():
    ds = load_dataset(DataSpec(validation=0.2, shuffle_seed=3))
    n = 1797 - 360
    assert len(ds.val_y) == round(0.2 * n) and len(ds.train_y) == n - round(0.2 * n)
    assert ds.val_x.shape[1] == 64 and ds.val_x.dtype == np.float32
    # validation is the tail of the seeded training order, train the head: together they are
    # exactly the unsplit training set (so disjoint); the test set is untouched
    full = load_dataset(DataSpec(shuffle_seed=3))
    np.testing.assert_array_equal(np.concatenate([ds.train_y, ds.val_y]), full.train_y)
    np.testing.assert_array_equal(np.concatenate([ds.train_x, ds.val_x]), full.train_x)
    np.testing.assert_array_equal(ds.test_x, full.test_x)
    tr, va, te = _rows(ds.train_x), _rows(ds.val_x), _rows(ds.test_x)
    assert len(tr) == len(ds.train_x) and len(va) == len(ds.val_x)  # no repeated images here
    assert not (tr & va) and not (tr & te) and not (va & te)


def test_splits_disjoint_by_index(isolated, monkeypatch):
    monkeypatch.setenv("THERMOCHIP_DATA", str(isolated / "data"))
    # unique images: the pixel block encodes the sample index
    folder = isolated / "data" / "mnist"
    folder.mkdir(parents=True)
    n_train, n_test = 200, 40
    def imgs(start, n):  # noqa: E306
        idx = np.arange(start, start + n)
        out = np.zeros((n, 28, 28), dtype=np.uint8)
        out[:, 0, 0], out[:, 0, 1] = idx // 256, idx % 256
        return out
    write_idx(folder / "train-images-idx3-ubyte", imgs(0, n_train))
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(n_train) % 10)
    write_idx(folder / "t10k-images-idx3-ubyte", imgs(n_train, n_test))
    write_idx(folder / "t10k-labels-idx1-ubyte", np.arange(n_test) % 10)

    def ids(x):
        return set((np.round(x[:, 0] * 255) * 256 + np.round(x[:, 1] * 255)).astype(int))

    ds = load_dataset(DataSpec(dataset="mnist", validation=0.25, train_size=120, test_size=30))
    tr, va, te = ids(ds.train_x), ids(ds.val_x), ids(ds.test_x)
    assert len(tr) == 90 and len(va) == 30 and len(te) == 30
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert tr | va <= set(range(n_train))
    assert te == set(range(n_train, n_train + 30))  # first 30 test samples, in file order
    # train_size takes the first samples of the seeded shuffle
    perm = np.random.default_rng(0).permutation(n_train)[:120]
    assert tr == set(perm[:90].tolist()) and va == set(perm[90:].tolist())
    # a different seed picks a different subset
    other = load_dataset(DataSpec(dataset="mnist", train_size=120, shuffle_seed=1))
    assert ids(other.train_x) != tr | va


def test_sizes_larger_than_the_set_are_errors():
    with pytest.raises(ThermochipError, match="train_size"):
        load_dataset(DataSpec(train_size=5000))
    with pytest.raises(ThermochipError, match="test_size"):
        load_dataset(DataSpec(test_size=361))
    ds = load_dataset(DataSpec(train_size=100, test_size=50, validation=0.1))
    assert len(ds.train_y) == 90 and len(ds.val_y) == 10 and len(ds.test_y) == 50


# ---------------------------------------------------------------------------------------------
# an epoch as the host presents it


class _Recorder:
    """Stands in for a chip: records what the host presents."""

    def __init__(self):
        self.batches = []

    def train_batch(self, pixels, labels, lr_scale=1.0):
        self.batches.append((pixels.copy(), labels.copy(), lr_scale))


def test_an_epoch_presents_each_sample_at_most_once_in_full_batches():
    n, bs = 103, 10
    x = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(n)
    chip = _Recorder()
    seen = host.train_epoch(chip, x, y, bs, host.epoch_order(n, 0, 0), 0.5)
    assert seen == (n // bs) * bs == sum(len(b[1]) for b in chip.batches)
    for xb, yb, scale in chip.batches:
        assert xb.shape == (bs, 3) and scale == 0.5
        np.testing.assert_array_equal(xb[:, 0], yb)
    labels = np.concatenate([b[1] for b in chip.batches])
    assert len(set(labels.tolist())) == len(labels)
    assert host.train_epoch(_Recorder(), x[:5], y[:5], 10, host.epoch_order(5, 0, 0), 1.0) == 0


def test_the_epoch_order_is_a_function_of_seed_and_epoch():
    a, b = host.epoch_order(50, 42, 3), host.epoch_order(50, 42, 3)
    assert np.array_equal(a, b) and sorted(a.tolist()) == list(range(50))
    assert not np.array_equal(a, host.epoch_order(50, 43, 3))   # another seed
    assert not np.array_equal(a, host.epoch_order(50, 42, 4))   # another epoch


def test_a_compressed_file_is_bounded_by_its_header_before_it_inflates(tmp_path, monkeypatch):
    """A gzip'd IDX whose header says 6.3 GB of pixels is refused, naming the file, before a
    byte of it is inflated past the header (limit: THERMOCHIP_MAX_MEMORY, 1 MB here)."""
    monkeypatch.setenv("THERMOCHIP_MAX_MEMORY", "1MB")
    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb") as f:
        f.write(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 8_000_000, 28, 28) + b"\0" * 100)
    with pytest.raises(ThermochipError) as exc:
        read_idx(bomb)
    _one_line_naming(exc, bomb)
    assert "5.84 GiB" in str(exc.value) and "977 KiB is the limit" in str(exc.value)
    small = tmp_path / "t10k-labels-idx1-ubyte.gz"
    write_idx(small, np.arange(10, dtype=np.uint8))
    assert read_idx(small).tolist() == list(range(10))
