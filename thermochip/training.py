"""Training a chip with its on-chip learner: the host (data, scoring) wired to the chip's
learning circuit, epoch by epoch, with a checkpoint after each.

This module is the only place where the host and the learner meet, so "the host does no
learning maths" holds by structure: :mod:`thermochip.host` never imports the learner.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thermochip import host
from thermochip.checkpoints import (
    EarlyStop,
    checkpoint_identity,
    load_checkpoint,
    resume_problem,
    run_identity,
    save_checkpoint,
)
from thermochip.chip import Chip
from thermochip.data_files import unscale_targets
from thermochip.errors import ThermochipError
from thermochip.learn import AbstractLearner, make_learner
from thermochip.memory import check_training
from thermochip.progress import progress_bar
from thermochip.spec import ChipSpec
from thermochip.spec_io import spec_dir

#: Training samples scored each epoch for the training accuracy (a fixed prefix).
TRAIN_SCORE_SAMPLES = 10_000
#: Fraction of phases ending unsettled above which an epoch warns.
UNSETTLED_WARNING = 0.01


@dataclass
class EpochReport:
    """What a training callback gets after each epoch: the epoch (from 1) of ``epochs``,
    accuracies (validation NaN without a validation set; all NaN for regression, which has
    its RMSEs instead, in the targets' units), seconds spent training in it, samples
    presented so far, and the settling figures (empty for a learner without phases)."""

    epoch: int
    epochs: int
    train_accuracy: float
    test_accuracy: float
    val_accuracy: float
    seconds: float
    samples_seen: int
    settling: dict
    train_rmse: float = float("nan")
    test_rmse: float = float("nan")
    val_rmse: float = float("nan")


@dataclass
class TrainResult:
    """What training returns: the resolved spec, the learning curve (``history``), the test
    score (accuracy, confusion matrix), the chip with its learned registers and its learner,
    and timings (seconds)."""

    spec: ChipSpec
    history: host.History
    test: host.Score
    train_accuracy: float
    seconds: float
    epochs_run: int
    chip: Chip
    learner: AbstractLearner
    #: (2, feature) training range the host scaled a user's features by (None: not scaled)
    feature_range: np.ndarray | None = None
    #: with early stopping (train.patience): the epoch whose registers the chip kept
    best_epoch: int | None = None
    #: regression: (2, target) training range of the targets (read-outs map back by it)
    target_range: np.ndarray | None = None
    #: regression: the training samples' RMSE (targets' units)
    train_rmse: float = float("nan")

    @property
    def codes(self) -> dict[str, np.ndarray]:
        """The learned DAC codes: the chip's registers and the learner's own; with a user's
        data also ``feature_range`` (and for regression ``target_range``), the host's
        scaling (not chip registers), which :func:`evaluate` applies to new samples."""
        registers = self.chip.registers
        host_side = {k: v for k, v in (("feature_range", self.feature_range),
                                       ("target_range", self.target_range)) if v is not None}
        return {"couplings": registers.couplings.codes, "fields": registers.fields.codes,
                "input_codes": registers.inputs.codes, **self.learner.registers(), **host_side}

    def save(self, path: str | Path) -> Path:
        """Write the results file ``thermochip run --out`` writes (atomically); return it."""
        from thermochip.results import save_run
        save_run(path, self)
        return Path(path)

    def summary(self) -> dict:
        """The run's figures as plain values (``--json``; the results file's ``summary``)."""
        if self.target_range is not None:
            return self._regression_summary()
        h = self.history
        val = h.val_accuracy[-1] if h.val_accuracy else float("nan")
        return {"test_accuracy": self.test.accuracy, "train_accuracy": self.train_accuracy,
                "val_accuracy": None if np.isnan(val) else val,
                **({} if not np.isnan(val) else
                   {"val_accuracy_why": "no validation set (data.validation is 0)"}),
                **self._common()}

    def _regression_summary(self) -> dict:
        h = self.history
        val = h.val_rmse[-1] if h.val_rmse else float("nan")
        return {"test_accuracy": None, "test_accuracy_why": "regression (data.task)",
                "test_rmse": self.test.rmse, "test_r2": self.test.r2,
                "train_rmse": self.train_rmse, "val_rmse": None if np.isnan(val) else val,
                **{**self._common(),
                   "learning_curve": {"epoch": h.epoch, "test_rmse": h.test_rmse,
                                      "train_rmse": h.train_rmse}}}

    def _common(self) -> dict:
        """The summary's entries of either task."""
        h = self.history
        per_epoch = float(np.mean(h.seconds)) if h.seconds else 0.0
        samples = h.samples_seen[-1] if h.samples_seen else 0
        return {"epochs": len(h.epoch), "seconds": self.seconds,
                **({} if self.best_epoch is None else {"best_epoch": self.best_epoch}),
                "seconds_per_epoch": per_epoch,
                "samples_per_second": (samples / sum(h.seconds)) if h.seconds and
                sum(h.seconds) > 0 else None,
                "learning_curve": {"epoch": h.epoch, "test_accuracy": h.test_accuracy,
                                   "train_accuracy": h.train_accuracy},
                **self._settling(),
                "learner": self.learner.report()}

    def _settling(self) -> dict:
        """The settling figures per epoch (None where an epoch has none), or None and why."""
        h = self.history
        if not h.free_velocity:
            return {"settling": None, "settling_why": "no training epochs"}
        if all(np.isnan(v) for v in h.free_velocity):
            return {"settling": None,
                    "settling_why": f"rule {self.spec.learner.rule} has no settling phases"}
        return {"settling": {k: [None if np.isnan(v) else v for v in getattr(h, k)]
                             for k in h.SETTLING}}


def unsettled_warning(epoch: int, figures: dict[str, float]) -> str:
    """One line: how many phases still moved at their end, and how fast."""
    return (f"warning: epoch {epoch}: {figures['unsettled']:.1%} of phases ended unsettled "
            f"(end velocity free {figures['free_velocity']:.3g}, nudged "
            f"{figures['nudged_velocity']:.3g} per ns; noise alone "
            f"{figures['noise_velocity']:.3g}): the accumulators sampled a chip still moving "
            f"(learner.settle lengthens the phases)")


def load_couplings(chip: Chip, source) -> dict[str, np.ndarray]:
    """Write DAC codes into the chip: ``source`` a results file or any export, or a
    :attr:`TrainResult.codes` dict; return the learner registers it holds."""
    from thermochip.export import codes_for_chip, write_to_chip
    if isinstance(source, dict):
        chip_keys = ("couplings", "fields", "input_codes")
        missing = [k for k in chip_keys if k not in source]
        if missing:
            raise ThermochipError(f"codes: no {', '.join(missing)} (give a TrainResult's "
                                  f"codes or a results file)")
        codes = {**{k: source[k] for k in chip_keys},
                 "registers": {k: v for k, v in source.items()
                               if k not in chip_keys
                               and k not in ("feature_range", "target_range")}}
        write_to_chip(chip, codes, "codes")
        return codes["registers"]
    codes = codes_for_chip(source)
    write_to_chip(chip, codes, source)
    return codes["registers"]


def _dataset(spec: ChipSpec, data, base_dir: Path | None):
    """(spec, data set) of a run: the spec's data section, or ``data`` from Python (arrays
    (X, y) / (X, y, X_test, y_test), or a :class:`~thermochip.data.Dataset`), checked against
    the chip as the spec's own data is at validation."""
    from thermochip.data import Dataset, load_dataset
    from thermochip.spec import DataSpec

    if data is None:
        if spec.data is None:
            raise ThermochipError("training needs data: a data section in the spec or data= "
                                  "from Python")
        return spec, load_dataset(spec.data, base_dir)
    if spec.data is None:  # arrays are a user's own data, read as dataset: file reads files
        spec = dataclasses.replace(spec, data=DataSpec(dataset="file"))
    dataset = data if isinstance(data, Dataset) else load_dataset(spec.data, base_dir,
                                                                  arrays=data)
    _check_fit(spec, dataset.name, dataset.n_features, dataset.n_classes)
    return spec, dataset


def _check_fit(spec: ChipSpec, name: str, features: int, classes: int) -> None:
    """Refuse data from Python that does not fit the chip, as validation refuses a spec's."""
    from thermochip.checks import data_fit_problems
    from thermochip.errors import SpecError

    problems = data_fit_problems(spec, name, features, classes)
    if problems:
        raise SpecError(f"the chip for data {name}", problems)


def train(spec: ChipSpec, *, data=None, base_dir: Path | None = None,
          epochs: int | None = None, couplings=None, eval_only: bool = False,
          checkpoint: Path | None = None, resume: bool = False, progress: bool = False,
          callbacks=(), log=None, warn=None) -> TrainResult:
    """Train the chip ``spec`` describes with its on-chip learner (unless ``eval_only``) and
    score it on the test set.

    ``data``: arrays (X, y) or (X, y, X_test, y_test), or a :class:`~thermochip.data.Dataset`,
    instead of the spec's data section (scaled and split as ``dataset: file`` is);
    ``base_dir``: where the spec's relative paths start (default: the folder
    :func:`~thermochip.spec_io.load_spec` read it from); ``epochs``: overrides
    ``train.epochs``; ``couplings``: a results or export file, or a :attr:`TrainResult.codes`
    dict, whose codes are loaded first; ``checkpoint``: a file rewritten after every epoch,
    which ``resume`` continues from (its own total epochs unless ``epochs`` is given: another
    total is refused when the learning-rate schedule depends on it; a checkpoint of another
    spec is refused); ``progress``: progress bars on a terminal; ``callbacks``: each called
    with an :class:`EpochReport` after every epoch; ``log``: called with one line per epoch;
    ``warn``: called with a one-line warning (phases that end unsettled)."""
    if spec.learner is None:
        raise ThermochipError("training needs a learner section in the spec")
    if spec.anneal is not None:
        raise ThermochipError("anneal: training runs fixed learner phases; annealing is for "
                              "simulate and solve")
    base_dir = base_dir if base_dir is not None else spec_dir(spec)
    spec, data = _dataset(spec, data, base_dir)
    resuming = resume and checkpoint is not None and checkpoint.exists()
    if resuming and epochs is None:  # the run continues as it was started
        epochs = checkpoint_identity(checkpoint).get("epochs")
    if epochs is not None:
        spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=epochs))
    if resuming:
        problem = resume_problem(checkpoint, spec, epochs_given=epochs is not None)
        if problem:
            raise ThermochipError(problem)
    check_training(spec, base_dir)
    chip = Chip.from_spec(spec, base_dir=base_dir)
    registers = load_couplings(chip, couplings) if couplings is not None else None
    learner = make_learner(chip, data.n_classes)
    if registers is not None:
        learner.load_registers(registers)
    history, start = host.History(), 0
    patience = spec.train.patience
    best = EarlyStop(patience) if patience is not None and not eval_only else None
    if resuming:
        start, history = load_checkpoint(checkpoint, learner, best)
        if log:
            log(f"resumed from {checkpoint} after epoch {start}")
    elif resume and log:
        log(f"no checkpoint {checkpoint}: starting from the first epoch")
    batch = spec.learner.update_every
    eval_batch = spec.train.eval_replicas
    score_x, score_y = data.train_x[:TRAIN_SCORE_SAMPLES], data.train_y[:TRAIN_SCORE_SAMPLES]

    regression = data.task == "regression"
    unscale = (lambda r: unscale_targets(r, data.target_range)) if regression else None

    def score(x, y, what):
        learner.reset_inference()
        bar = progress_bar(len(x), progress, unit="sample", unit_scale=True,
                           desc=f"scoring {what}")
        try:
            return host.evaluate(learner, x, y, data.n_classes, eval_batch, bar.update,
                                 unscale)
        finally:
            bar.close()

    def figure(s: host.Score) -> str:
        return f"RMSE {s.rmse:.4g}" if regression else f"{s.accuracy:.2%}"

    nan = float("nan")
    identity = run_identity(spec)
    t0 = time.perf_counter()
    n_epochs = 0 if eval_only else spec.train.epochs
    for epoch in range(start, n_epochs):
        if best is not None and best.done(epoch):
            break
        t = time.perf_counter()
        order = host.epoch_order(len(data.train_x), spec.data.shuffle_seed, epoch)
        bar = progress_bar(len(order), progress, unit="sample", unit_scale=True,
                           desc=f"epoch {epoch + 1}/{n_epochs}")
        seen = host.train_epoch(learner, data.train_x, data.train_y, batch, order,
                                host.lr_scale(spec.train.lr_decay, epoch, n_epochs),
                                bar.update)
        bar.close()
        train_seconds = time.perf_counter() - t
        train, test = score(score_x, score_y, "train"), score(data.test_x, data.test_y, "test")
        val = score(data.val_x, data.val_y, "validation") if len(data.val_x) else None
        history.epoch.append(epoch + 1)
        for kind, s in (("train", train), ("test", test), ("val", val)):
            getattr(history, f"{kind}_accuracy").append(s.accuracy if s else nan)
            getattr(history, f"{kind}_rmse").append(s.rmse if s else nan)
        history.seconds.append(train_seconds)
        history.samples_seen.append((history.samples_seen[-1] if history.samples_seen else 0)
                                    + seen)
        settling = learner.settling()
        history.add_settling(settling)
        if log:
            log(f"epoch {epoch + 1}/{n_epochs}: train {figure(train)}, test {figure(test)}"
                + (f", val {figure(val)}" if val else "")
                + f" ({train_seconds:.1f} s training, {seen / train_seconds:,.0f} samples/s)")
        report = EpochReport(epoch=epoch + 1, epochs=n_epochs, train_accuracy=train.accuracy,
                             test_accuracy=test.accuracy,
                             val_accuracy=history.val_accuracy[-1], seconds=train_seconds,
                             samples_seen=history.samples_seen[-1], settling=settling,
                             train_rmse=train.rmse, test_rmse=test.rmse,
                             val_rmse=history.val_rmse[-1])
        for callback in callbacks:
            callback(report)
        if settling.get("unsettled", 0) > UNSETTLED_WARNING and warn:
            warn(unsettled_warning(epoch + 1, settling))
        if best is not None:
            best.record(epoch + 1, -val.rmse if regression else val.accuracy, learner)
            if best.done(epoch + 1) and log:
                kept = host.Score(history.val_accuracy[best.epoch - 1], test.confusion,
                                  history.val_rmse[best.epoch - 1])
                log(f"early stop after epoch {epoch + 1}: validation best at epoch "
                    f"{best.epoch} ({figure(kept)}), whose registers the chip keeps")
        if checkpoint is not None:
            save_checkpoint(checkpoint, epoch + 1, learner, history, identity, best)
    last = len(history.epoch)
    if best is not None and best.state is not None and best.epoch != last:
        learner.load_state_dict(best.state)
        last = best.epoch
    test = score(data.test_x, data.test_y, "test")  # the kept epoch's again: same noise
    train = (host.Score(history.train_accuracy[last - 1], test.confusion[:0, :0],
                        history.train_rmse[last - 1]) if history.epoch
             else score(score_x, score_y, "train"))
    return TrainResult(spec=spec, history=history, test=test, train_accuracy=train.accuracy,
                       seconds=time.perf_counter() - t0,
                       epochs_run=len(history.epoch) - start, chip=chip, learner=learner,
                       feature_range=data.feature_range,
                       best_epoch=best.epoch if best is not None and best.state else None,
                       target_range=data.target_range, train_rmse=train.rmse)


def _host_range(codes, name: str) -> np.ndarray | None:
    """The host's scaling ``name`` (feature_range, target_range) that ``codes`` (a dict or a
    results file) carry, if any."""
    if isinstance(codes, dict):
        return codes.get(name)
    import h5py
    try:
        with h5py.File(codes, "r") as f:
            return f[f"host/{name}"][()] if f"host/{name}" in f else None
    except OSError:  # not a results file: an export, which holds chip codes only
        return None


def evaluate(spec: ChipSpec, codes, data=None, *, base_dir: Path | None = None,
             progress: bool = False) -> host.Score:
    """Score a chip holding ``codes`` (a :attr:`TrainResult.codes` dict, or a results or
    export file) on ``data`` (arrays (X, y), scaled by the ``feature_range`` and, for
    regression, ``target_range`` the codes or results file carry, as in training) or, without
    it, on the test set of the spec's data section. Returns the accuracy and confusion
    matrix, or for regression the RMSE (targets' units) and R^2."""
    from thermochip.data import drive
    from thermochip.data_files import scale_features, scale_targets

    if spec.learner is None:
        raise ThermochipError("evaluate needs the spec's learner section (its read-out)")
    base_dir = base_dir if base_dir is not None else spec_dir(spec)
    if data is None:
        spec, dataset = _dataset(spec, None, base_dir)
        x, y, n_classes = dataset.test_x, dataset.test_y, dataset.n_classes
        targets = dataset.target_range
    else:
        x, y = (np.asarray(a) for a in data)
        scaling, targets = _host_range(codes, "feature_range"), _host_range(codes,
                                                                           "target_range")
        data_spec = spec.data
        if scaling is None and (data_spec is None or data_spec.scale != "none"):
            raise ThermochipError("evaluate: these codes carry no feature_range to scale the "
                                  "samples as in training (give a TrainResult's codes, or "
                                  "set data.scale: none and pass input-DAC values)")
        x = drive(scale_features(x, scaling), data_spec.pixels if data_spec else "unit")
        if targets is not None:  # regression: targets as the chip reads them
            y = scale_targets(y.reshape(len(y), -1).astype(np.float64), targets)
            n_classes = y.shape[1]
        else:
            n_classes = int(spec.cells.layers[-1]) if spec.cells.layers else \
                (data_spec.classes if data_spec and data_spec.classes else int(y.max()) + 1)
            if y.shape != (len(x),) or (y.size and (y.min() < 0 or y.max() >= n_classes)):
                raise ThermochipError(f"evaluate: y must hold one class label in "
                                      f"0..{n_classes - 1} per sample of X")
            y = y.astype(np.int64)
        _check_fit(spec, "arrays", x.shape[1], n_classes)
    chip = Chip.from_spec(spec, base_dir=base_dir)
    registers = load_couplings(chip, codes)
    learner = make_learner(chip, n_classes)
    learner.load_registers(registers)
    learner.reset_inference()
    unscale = None if targets is None else (lambda r: unscale_targets(r, targets))
    bar = progress_bar(len(x), progress, unit="sample", unit_scale=True, desc="scoring")
    try:
        return host.evaluate(learner, x, y, n_classes, spec.train.eval_replicas, bar.update,
                             unscale)
    finally:
        bar.close()
