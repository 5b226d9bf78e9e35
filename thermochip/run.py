"""``thermochip run``: wires the host (data, scoring) to a chip with its on-chip learner, trains
epoch by epoch with a checkpoint after each, and writes the results file.

This module is the only place where the host and the learner meet, so "the host does no
learning maths" holds by structure: :mod:`thermochip.host` never imports the learner.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

import thermochip
from thermochip import host
from thermochip.chip import Chip
from thermochip.errors import ThermochipError
from thermochip.learn import make_learner
from thermochip.progress import progress_bar
from thermochip.results import atomic_path, write_registers
from thermochip.spec import ChipSpec
from thermochip.spec_io import dump_spec, load_spec

#: Training samples scored each epoch for the training accuracy (a fixed prefix).
TRAIN_SCORE_SAMPLES = 10_000


@dataclass
class RunResult:
    spec: ChipSpec
    history: host.History
    test: host.Score
    train_accuracy: float
    seconds: float
    epochs_run: int

    def summary(self) -> dict:
        h = self.history
        per_epoch = float(np.mean(h.seconds)) if h.seconds else 0.0
        samples = h.samples_seen[-1] if h.samples_seen else 0
        return {"test_accuracy": self.test.accuracy, "train_accuracy": self.train_accuracy,
                "val_accuracy": h.val_accuracy[-1] if h.val_accuracy else None,
                "epochs": len(h.epoch), "seconds": self.seconds,
                "seconds_per_epoch": per_epoch,
                "samples_per_second": (samples / sum(h.seconds)) if h.seconds and
                sum(h.seconds) > 0 else None,
                "learning_curve": {"epoch": h.epoch, "test_accuracy": h.test_accuracy,
                                   "train_accuracy": h.train_accuracy}}


def load_couplings(chip: Chip, path: str | Path) -> None:
    """Write the DAC codes stored in a results file or any export into the chip."""
    from thermochip.export import codes_for_chip, write_to_chip
    write_to_chip(chip, codes_for_chip(path), path)


def _read_registers(path: str | Path) -> dict[str, np.ndarray]:
    from thermochip.export import codes_for_chip
    return codes_for_chip(path)["registers"]


def _save_checkpoint(path: Path, epoch: int, learner, history: host.History) -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["epoch"] = epoch
        for k, v in learner.state_dict().items():
            f[f"learner/{k}"] = v
        for k, v in history.as_arrays().items():
            f[f"history/{k}"] = v


def _load_checkpoint(path: Path, learner) -> tuple[int, host.History]:
    try:
        with h5py.File(path, "r") as f:
            learner.load_state_dict({k: f[f"learner/{k}"][()] for k in f["learner"]})
            return int(f.attrs["epoch"]), host.History.from_arrays(
                {k: f[f"history/{k}"][()] for k in f["history"]})
    except (OSError, KeyError) as err:
        raise ThermochipError(f"cannot resume from {path}: {err}") from None


def train_and_evaluate(spec: ChipSpec, *, base_dir: Path | None = None,
                       epochs: int | None = None, couplings: str | Path | None = None,
                       eval_only: bool = False, checkpoint: Path | None = None,
                       resume: bool = False, progress: bool = False,
                       log=None) -> tuple[RunResult, Chip, object]:
    """Train (unless ``eval_only``) and score the chip. ``checkpoint``: file rewritten after
    every epoch; ``resume`` continues from it."""
    from thermochip.data import load_dataset

    if spec.data is None or spec.learner is None:
        raise ThermochipError("thermochip run needs a data section and a learner section")
    if epochs is not None:
        spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=epochs))
    data = load_dataset(spec.data, base_dir)
    chip = Chip.from_spec(spec, base_dir=base_dir)
    if couplings is not None:
        load_couplings(chip, couplings)
    learner = make_learner(chip, data.n_classes)
    if couplings is not None:
        learner.load_registers(_read_registers(couplings))
    history, start = host.History(), 0
    if resume and checkpoint is not None and checkpoint.exists():
        start, history = _load_checkpoint(checkpoint, learner)
        if log:
            log(f"resumed from {checkpoint} after epoch {start}")
    batch = spec.learner.update_every
    eval_batch = spec.train.eval_replicas
    score_x, score_y = data.train_x[:TRAIN_SCORE_SAMPLES], data.train_y[:TRAIN_SCORE_SAMPLES]

    def score(x, y):
        learner.reset_inference()
        return host.evaluate(learner, x, y, data.n_classes, eval_batch)

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
        train, test = score(score_x, score_y), score(data.test_x, data.test_y)
        val = score(data.val_x, data.val_y) if len(data.val_x) else None
        history.epoch.append(epoch + 1)
        history.train_accuracy.append(train.accuracy)
        history.test_accuracy.append(test.accuracy)
        history.val_accuracy.append(val.accuracy if val else float("nan"))
        history.seconds.append(train_seconds)
        history.samples_seen.append((history.samples_seen[-1] if history.samples_seen else 0)
                                    + seen)
        if log:
            log(f"epoch {epoch + 1}/{n_epochs}: train {train.accuracy:.2%}, test "
                f"{test.accuracy:.2%}" + (f", val {val.accuracy:.2%}" if val else "")
                + f" ({train_seconds:.1f} s training, {seen / train_seconds:,.0f} samples/s)")
        if checkpoint is not None:
            _save_checkpoint(checkpoint, epoch + 1, learner, history)
    test = score(data.test_x, data.test_y)  # the same as the last epoch's: same noise
    train_acc = (history.train_accuracy[-1] if history.train_accuracy else
                 score(score_x, score_y).accuracy)
    result = RunResult(spec=spec, history=history, test=test, train_accuracy=train_acc,
                       seconds=time.perf_counter() - t0, epochs_run=n_epochs - start)
    return result, chip, learner


def save_run(path: str | Path, result: RunResult, chip: Chip, learner) -> None:
    """Results file: resolved spec, provenance, learning curve, confusion matrix, final codes."""
    spec = result.spec
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(thermochip_version=thermochip.__version__, model=chip.model.name,
                       seed=spec.run.seed, test_accuracy=result.test.accuracy,
                       train_accuracy=result.train_accuracy, seconds=result.seconds,
                       summary=json.dumps(result.summary()))
        f["spec"] = dump_spec(spec)
        for k, v in result.history.as_arrays().items():
            f[f"learning_curve/{k}"] = v
        f["confusion"] = result.test.confusion
        write_registers(f, chip)
        for k, v in learner.registers().items():
            f[f"learner/{k}"] = v
        if spec.cells.layers:
            f["couplings"].attrs["layers"] = [spec.cells.inputs] + list(spec.cells.layers)


def plot_run(out_dir: str | Path, result: RunResult) -> list[Path]:
    """learning_curve.png and confusion.png."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h = result.history
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if h.epoch:
        ax.plot(h.epoch, np.array(h.train_accuracy) * 100, "o-", label="train")
        ax.plot(h.epoch, np.array(h.test_accuracy) * 100, "s-", label="test")
        if not np.all(np.isnan(h.val_accuracy)):
            ax.plot(h.epoch, np.array(h.val_accuracy) * 100, "^-", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{result.spec.name}: {result.spec.learner.rule} learning curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    paths = [out / "learning_curve.png"]
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    c = result.test.confusion
    fig, ax = plt.subplots(figsize=(5, 4.4))
    im = ax.imshow(c / np.maximum(c.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0,
                   vmax=1)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"test accuracy {result.test.accuracy:.2%}")
    fig.colorbar(im, ax=ax, label="fraction of true class")
    fig.tight_layout()
    paths.append(out / "confusion.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def add_arguments(parser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="chip spec YAML with data and learner")
    parser.add_argument("--epochs", type=int, help="epochs (overrides train.epochs)")
    parser.add_argument("--out", metavar="RUN.h5", help="results file (default: SPEC's name "
                                                       "with .h5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", metavar="DIR", help="write learning-curve and confusion PNGs")
    parser.add_argument("--couplings", metavar="FILE", help="load DAC codes from a results or "
                                                            "export file first")
    parser.add_argument("--eval-only", action="store_true", help="score without training")
    parser.add_argument("--resume", action="store_true", help="continue from OUT's checkpoint "
                                                              "(OUT.ckpt)")
    parser.add_argument("--threads", type=int, help="engine threads (default: all cores)")


def run(args) -> int:
    """Train a chip with its on-chip learner and report accuracy."""
    import sys

    if args.epochs is not None and args.epochs < 1:
        raise ThermochipError(f"--epochs must be >= 1; got {args.epochs}")
    if args.threads is not None:
        from thermochip._kernels.jit import set_num_threads
        set_num_threads(max(1, args.threads))
    spec_path = Path(args.spec)
    spec = load_spec(spec_path)
    out = Path(args.out) if args.out else Path(spec_path.stem + ".h5")
    checkpoint = out.with_name(out.name + ".ckpt")
    log = None if args.json else (lambda s: print(s, file=sys.stderr))
    result, chip, learner = train_and_evaluate(
        spec, base_dir=spec_path.resolve().parent, epochs=args.epochs,
        couplings=args.couplings, eval_only=args.eval_only, checkpoint=checkpoint,
        resume=args.resume, progress=not args.json, log=log)
    try:
        save_run(out, result, chip, learner)
        figures = plot_run(args.plot, result) if args.plot else []
    except OSError as err:
        raise ThermochipError(f"cannot write {err.filename or out}: {err.strerror or err}") \
            from None
    s = result.summary()
    if args.json:
        print(json.dumps(s))
    else:
        print(f"test accuracy {s['test_accuracy']:.2%}, train accuracy "
              f"{s['train_accuracy']:.2%} after {s['epochs']} epochs "
              f"({s['seconds']:.1f} s; {s['seconds_per_epoch']:.1f} s per epoch)")
        print(f"wrote {out}" + (f" and {len(figures)} figures" if figures else ""))
    return 0
