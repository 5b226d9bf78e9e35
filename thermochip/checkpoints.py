"""Training checkpoints: the file a run rewrites after every epoch, which names its run (the
resolved spec's hash and the schedule) so that only that run resumes from it."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from thermochip import host
from thermochip.errors import ThermochipError
from thermochip.spec import ChipSpec


@dataclass
class EarlyStop:
    """Early stopping (``train.patience``): the best validation epoch so far (by its score:
    accuracy, or -RMSE for regression; higher is better) and the learner's state after it,
    which the run ends with."""

    patience: int
    epoch: int = 0
    score: float = -math.inf
    state: dict[str, np.ndarray] | None = field(default=None, repr=False)

    def record(self, epoch: int, score: float, learner) -> None:
        """After ``epoch`` (from 1): keep the learner's state if its score is the best."""
        if score > self.score:
            self.epoch, self.score = epoch, score
            self.state = {k: np.array(v) for k, v in learner.state_dict().items()}

    def done(self, epoch: int) -> bool:
        """Whether ``patience`` epochs have passed since the best one."""
        return self.state is not None and epoch - self.epoch >= self.patience


def run_identity(spec: ChipSpec) -> dict:
    """What a checkpoint must share with the run that resumes it: the resolved spec (its
    SHA-256, epochs left out) and the schedule (total epochs, learning-rate decay)."""
    import hashlib

    from thermochip.spec_io import dump_spec

    text = dump_spec(dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=1)))
    return {"spec_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
            "epochs": spec.train.epochs, "lr_decay": spec.train.lr_decay}


def save_checkpoint(path: Path, epoch: int, learner, history: host.History,
                    identity: dict, best: "EarlyStop | None" = None) -> None:
    import h5py

    from thermochip.atomic import atomic_path

    """Everything a resumed run needs after ``epoch`` epochs (atomically: a killed write
    leaves the previous checkpoint): the run's identity, the learner's state, the learning
    curve and, with early stopping, the best epoch's state."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["epoch"] = epoch
        f.attrs.update(identity)
        for k, v in learner.state_dict().items():
            f[f"learner/{k}"] = v
        for k, v in history.as_arrays().items():
            f[f"history/{k}"] = v
        if best is not None and best.state is not None:
            g = f.create_group("best")
            g.attrs.update(epoch=best.epoch, score=best.score)
            for k, v in best.state.items():
                g[k] = v


def checkpoint_identity(path: Path) -> dict:
    """The run a checkpoint belongs to (:func:`run_identity`) and ``epoch``, the epochs it has
    done; empty for a file without them."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return {k: (v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item")
                        else v) for k, v in f.attrs.items()}
    except OSError as err:
        raise ThermochipError(f"cannot resume from {path}: {err}") from None


def resume_problem(path: Path, spec: ChipSpec, epochs_given: bool) -> str | None:
    """Why the run of ``spec`` cannot continue from checkpoint ``path`` (None: it can)."""
    saved, now = checkpoint_identity(path), run_identity(spec)
    if saved.get("spec_sha256") != now["spec_sha256"]:
        return (f"cannot resume from {path}: it belongs to another spec (or one saved before "
                f"checkpoints named their run); remove it or give another --out")
    if epochs_given and now["epochs"] < saved.get("epoch", 0):
        return (f"cannot resume from {path} with --epochs {now['epochs']}: it has already run "
                f"{saved['epoch']} epochs; give at least that many, or leave --epochs out")
    if epochs_given and saved["epochs"] != now["epochs"] and saved["lr_decay"] != "none":
        return (f"cannot resume from {path} with --epochs {now['epochs']}: its run has "
                f"{saved['epochs']} epochs under lr_decay {saved['lr_decay']}, whose schedule "
                f"another total would change; resume without --epochs")
    return None


def load_checkpoint(path: Path, learner, best: "EarlyStop | None" = None
                    ) -> tuple[int, host.History]:
    import h5py

    """Restore :func:`save_checkpoint`'s learner state (and ``best``'s); return the epochs
    done and the learning curve."""
    try:
        with h5py.File(path, "r") as f:
            learner.load_state_dict({k: f[f"learner/{k}"][()] for k in f["learner"]})
            if best is not None and "best" in f:
                g = f["best"]
                best.epoch, best.score = int(g.attrs["epoch"]), float(g.attrs["score"])
                best.state = {k: g[k][()] for k in g}
            return int(f.attrs["epoch"]), host.History.from_arrays(
                {k: f[f"history/{k}"][()] for k in f["history"]})
    except (OSError, KeyError, ValueError) as err:
        raise ThermochipError(f"cannot resume from {path}: {err}") from None
