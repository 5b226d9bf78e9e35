"""The spec sections the host reads or runs by: the data set, the training schedule and the
annealing schedules of a run. Re-exported by :mod:`thermochip.spec`, whose ``ChipSpec``
holds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from device_models.params import NON_NEGATIVE, Interval, OneOf, spec_field


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """The data set the host streams through the chip. Pixels are scaled to [0, 1] (or
    [-1, 1], ``pixels: signed``) and drive the input couplings; labels reach the output cells
    only through the nudge circuit."""

    dataset: str = spec_field("digits", doc="digits (8x8, bundled, no download), mnist or "
                                            "fashion_mnist (IDX files), or file (your own: "
                                            "data.path names a .npz, a CSV or a folder of "
                                            "IDX files)",
                              check=OneOf(("digits", "mnist", "fashion_mnist", "file")))
    path: str | None = spec_field(None, doc="mnist / fashion_mnist: folder with the IDX files "
                                            "(default: $THERMOCHIP_DATA, then system "
                                            "folders); file: the .npz (X, y, optional X_test, "
                                            "y_test), CSV or IDX folder")
    task: str = spec_field("classification", doc="file: classification (integer or named "
                                                 "labels, one output cell per class) or "
                                                 "regression (real targets, one output cell "
                                                 "each, scaled to [-1, 1] by their training "
                                                 "range)",
                           check=OneOf(("classification", "regression")))
    targets: int = spec_field(1, doc="file, CSV: how many last columns are the targets "
                                     "(regression may have several)",
                              check=Interval(1, None))
    test_path: str | None = spec_field(None, doc="file: a second file with the test samples "
                                                 "(default: the file's own X_test / IDX test "
                                                 "set, else data.test_fraction held out)")
    test_fraction: float = spec_field(0.2, doc="file without a test set: fraction of its "
                                               "samples held out for testing (a fixed split)",
                                      check=Interval(0.01, 0.9))
    scale: str = spec_field("column", doc="file: how features become input-DAC values in "
                                          "[0, 1]: column (each feature by its training "
                                          "minimum and maximum), global (one minimum and "
                                          "maximum for all: images) or none (as given)",
                            check=OneOf(("column", "global", "none")))
    classes: int | None = spec_field(None, doc="file classification: number of classes "
                                               "(default: the largest label + 1)",
                                     check=Interval(2, None))
    train_size: int | None = spec_field(None, doc="use only the first N training samples",
                                        check=Interval(1, None))
    test_size: int | None = spec_field(None, doc="use only the first N test samples",
                                       check=Interval(1, None))
    validation: float = spec_field(0.0, doc="fraction of the training set held out",
                                   check=Interval(0, 0.5))
    shuffle_seed: int = spec_field(0, doc="seed of the training-order shuffle",
                                   check=NON_NEGATIVE)
    pixels: str = spec_field("unit", doc="how the input DACs drive a pixel p in [0, 1]: unit "
                                         "(p) or signed (2p - 1 in [-1, 1]: a dark pixel "
                                         "pushes its field the other way)",
                             check=OneOf(("unit", "signed")))


@dataclass(frozen=True, kw_only=True)
class TrainSpec:
    """The training schedule the host runs."""

    epochs: int = spec_field(1, doc="passes over the training set", check=Interval(1, None))
    lr_decay: str = spec_field("none", doc="learning-rate schedule over epochs",
                               check=OneOf(("none", "cosine")))
    eval_replicas: int = spec_field(200, doc="test samples evaluated at once",
                                    check=Interval(1, None))
    patience: int | None = spec_field(None, doc="early stopping: end training once the "
                                                "validation accuracy has not improved for "
                                                "this many epochs, and keep the registers of "
                                                "its best epoch (needs data.validation)",
                                      check=Interval(1, None))


@dataclass(frozen=True, kw_only=True)
class AnnealSpec:
    """Drives that change during a run, each piecewise-linear through [time, value] points
    (times from the run's start, a number in seconds or a string like "2 us"; the first value
    holds before the first point, the last after the last); the value at each step is the
    schedule at that step's start."""

    fields: dict[str, list[list[Any]]] = spec_field(
        default_factory=dict, doc="field name (oim: h, S) -> [[time, value], ...]: the "
                                  "field's analog value on every cell (a drive, not a DAC "
                                  "write)")
    kT: list[list[Any]] | None = spec_field(None, doc="[[time, kT], ...]: the temperature "
                                                      "(normalised energy units)")
    coupling_gain: list[list[Any]] | None = spec_field(
        None, doc="[[time, factor], ...]: a factor on every coupling")
