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
from thermochip.chip import Chip
from thermochip.errors import ThermochipError
from thermochip.learn import AbstractLearner, make_learner
from thermochip.memory import check_training
from thermochip.progress import progress_bar
from thermochip.spec import ChipSpec

#: Training samples scored each epoch for the training accuracy (a fixed prefix).
TRAIN_SCORE_SAMPLES = 10_000
#: Fraction of phases ending unsettled above which an epoch warns.
UNSETTLED_WARNING = 0.01


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

    @property
    def codes(self) -> dict[str, np.ndarray]:
        """The learned DAC codes: the chip's registers and the learner's own."""
        registers = self.chip.registers
        return {"couplings": registers.couplings.codes, "fields": registers.fields.codes,
                "input_codes": registers.inputs.codes, **self.learner.registers()}

    def summary(self) -> dict:
        h = self.history
        per_epoch = float(np.mean(h.seconds)) if h.seconds else 0.0
        samples = h.samples_seen[-1] if h.samples_seen else 0
        val = h.val_accuracy[-1] if h.val_accuracy else float("nan")
        return {"test_accuracy": self.test.accuracy, "train_accuracy": self.train_accuracy,
                "val_accuracy": None if np.isnan(val) else val,
                **({} if not np.isnan(val) else
                   {"val_accuracy_why": "no validation set (data.validation is 0)"}),
                "epochs": len(h.epoch), "seconds": self.seconds,
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


def load_couplings(chip: Chip, path: str | Path) -> dict[str, np.ndarray]:
    """Write the DAC codes stored in a results file or any export into the chip; return the
    learner registers the file holds."""
    from thermochip.export import codes_for_chip, write_to_chip
    codes = codes_for_chip(path)
    write_to_chip(chip, codes, path)
    return codes["registers"]


def run_identity(spec: ChipSpec) -> dict:
    """What a checkpoint must share with the run that resumes it: the resolved spec (its
    SHA-256, epochs left out) and the schedule (total epochs, learning-rate decay)."""
    import hashlib

    from thermochip.spec_io import dump_spec

    text = dump_spec(dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=1)))
    return {"spec_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "epochs": spec.train.epochs, "lr_decay": spec.train.lr_decay}


def _save_checkpoint(path: Path, epoch: int, learner, history: host.History,
                     identity: dict) -> None:
    import h5py

    from thermochip.atomic import atomic_path

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["epoch"] = epoch
        f.attrs.update(identity)
        for k, v in learner.state_dict().items():
            f[f"learner/{k}"] = v
        for k, v in history.as_arrays().items():
            f[f"history/{k}"] = v


def checkpoint_identity(path: Path) -> dict:
    """The run a checkpoint belongs to (:func:`run_identity`); empty for a file without one."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return {k: (v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item")
                        else v) for k, v in f.attrs.items() if k != "epoch"}
    except OSError as err:
        raise ThermochipError(f"cannot resume from {path}: {err}") from None


def resume_problem(path: Path, spec: ChipSpec, epochs_given: bool) -> str | None:
    """Why the run of ``spec`` cannot continue from checkpoint ``path`` (None: it can)."""
    saved, now = checkpoint_identity(path), run_identity(spec)
    if saved.get("spec_sha256") != now["spec_sha256"]:
        return (f"cannot resume from {path}: it belongs to another spec (or one saved before "
                f"checkpoints named their run); remove it or give another --out")
    if epochs_given and saved["epochs"] != now["epochs"] and saved["lr_decay"] != "none":
        return (f"cannot resume from {path} with --epochs {now['epochs']}: its run has "
                f"{saved['epochs']} epochs under lr_decay {saved['lr_decay']}, whose schedule "
                f"another total would change; resume without --epochs")
    return None


def _load_checkpoint(path: Path, learner) -> tuple[int, host.History]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            learner.load_state_dict({k: f[f"learner/{k}"][()] for k in f["learner"]})
            return int(f.attrs["epoch"]), host.History.from_arrays(
                {k: f[f"history/{k}"][()] for k in f["history"]})
    except (OSError, KeyError, ValueError) as err:
        raise ThermochipError(f"cannot resume from {path}: {err}") from None


def train(spec: ChipSpec, *, base_dir: Path | None = None, epochs: int | None = None,
          couplings: str | Path | None = None, eval_only: bool = False,
          checkpoint: Path | None = None, resume: bool = False, progress: bool = False,
          log=None, warn=None) -> TrainResult:
    """Train the chip ``spec`` describes with its on-chip learner (unless ``eval_only``) and
    score it on the test set. ``base_dir``: where the spec's relative paths start;
    ``epochs``: overrides ``train.epochs``; ``couplings``: a results or export file whose codes
    are loaded first; ``checkpoint``: a file rewritten after every epoch, which ``resume``
    continues from (its own total epochs unless ``epochs`` is given: another total is refused
    when the learning-rate schedule depends on it; a checkpoint of another spec is refused);
    ``progress``:
    progress bars on a terminal; ``log``: called with one line per epoch; ``warn``: called
    with a one-line warning (phases that end unsettled)."""
    from thermochip.data import load_dataset

    if spec.data is None or spec.learner is None:
        raise ThermochipError("thermochip run needs a data section and a learner section")
    resuming = resume and checkpoint is not None and checkpoint.exists()
    if resuming and epochs is None:  # the run continues as it was started
        epochs = checkpoint_identity(checkpoint).get("epochs")
    if epochs is not None:
        spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=epochs))
    if resuming:
        problem = resume_problem(checkpoint, spec, epochs_given=epochs is not None)
        if problem:
            raise ThermochipError(problem)
    check_training(spec)
    data = load_dataset(spec.data, base_dir)
    chip = Chip.from_spec(spec, base_dir=base_dir)
    registers = load_couplings(chip, couplings) if couplings is not None else None
    learner = make_learner(chip, data.n_classes)
    if registers is not None:
        learner.load_registers(registers)
    history, start = host.History(), 0
    if resuming:
        start, history = _load_checkpoint(checkpoint, learner)
        if log:
            log(f"resumed from {checkpoint} after epoch {start}")
    elif resume and log:
        log(f"no checkpoint {checkpoint}: starting from the first epoch")
    batch = spec.learner.update_every
    eval_batch = spec.train.eval_replicas
    score_x, score_y = data.train_x[:TRAIN_SCORE_SAMPLES], data.train_y[:TRAIN_SCORE_SAMPLES]

    def score(x, y, what):
        learner.reset_inference()
        bar = progress_bar(len(x), progress, unit="sample", unit_scale=True,
                           desc=f"scoring {what}")
        try:
            return host.evaluate(learner, x, y, data.n_classes, eval_batch, bar.update)
        finally:
            bar.close()

    identity = run_identity(spec)
    t0 = time.perf_counter()
    n_epochs = 0 if eval_only else spec.train.epochs
    for epoch in range(start, n_epochs):
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
        history.train_accuracy.append(train.accuracy)
        history.test_accuracy.append(test.accuracy)
        history.val_accuracy.append(val.accuracy if val else float("nan"))
        history.seconds.append(train_seconds)
        history.samples_seen.append((history.samples_seen[-1] if history.samples_seen else 0)
                                    + seen)
        settling = learner.settling()
        history.add_settling(settling)
        if log:
            log(f"epoch {epoch + 1}/{n_epochs}: train {train.accuracy:.2%}, test "
                f"{test.accuracy:.2%}" + (f", val {val.accuracy:.2%}" if val else "")
                + f" ({train_seconds:.1f} s training, {seen / train_seconds:,.0f} samples/s)")
        if settling.get("unsettled", 0) > UNSETTLED_WARNING and warn:
            warn(unsettled_warning(epoch + 1, settling))
        if checkpoint is not None:
            _save_checkpoint(checkpoint, epoch + 1, learner, history, identity)
    test = score(data.test_x, data.test_y, "test")  # the last epoch's again: same noise
    train_acc = (history.train_accuracy[-1] if history.train_accuracy else
                 score(score_x, score_y, "train").accuracy)
    return TrainResult(spec=spec, history=history, test=test, train_accuracy=train_acc,
                       seconds=time.perf_counter() - t0, epochs_run=n_epochs - start,
                       chip=chip, learner=learner)
