"""A chip as a MAX-CUT solver: ``thermochip solve``. Every replica is an independent run
from its own initial state; the run is cut into records, and after each the spins each
replica holds (sign of its first channel: an oscillator's cos phi, a soft spin's x, a p-bit's
m) are scored on the graph of the sparse topology (its edge weights, whatever the couplings'
scale or DAC). Reported: the best and mean cuts, the probability that a run reaches the
target cut (the best-known cut, or without one the best any replica found) and the time to
solution at 99 %, TTS(t) = t ln(0.01) / ln(1 - P(t)) minimised over the record times t, in
steps and in chip time. The run stops early once every replica has kept its spins for
``patience`` records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.errors import ThermochipError
from thermochip.problems import cut_value, tts
from thermochip.progress import progress_bar
from thermochip.spec import ChipSpec, Sparse
from thermochip.spec_files import read_edges


@dataclass
class SolveResult:
    """What :func:`solve` returns. Cuts in the graph's weight units; steps of the integrator."""

    target: float               # the cut counted as a success
    target_given: bool          # False: the best cut any replica found
    best_cut: float
    best_spins: np.ndarray      # (cell,) +-1 of a replica that reached best_cut
    final_cuts: np.ndarray      # (replica,) cut held at the end
    best_cuts: np.ndarray       # (replica,) best cut held at any record
    record_steps: np.ndarray    # (record,) steps run at each record
    success: np.ndarray         # (record,) fraction of replicas that reached the target by then
    tts_steps: float            # TTS at 99 %, steps (inf: no replica reached the target)
    tts_at: int                 # the record time (steps) it is taken at (0: none)
    steps_run: int
    stopped_early: bool
    dt: float                   # seconds per step
    seconds: float

    def summary(self) -> dict:
        """Plain values for ``--json`` (inf becomes null there)."""
        return {"target": self.target, "target_given": self.target_given,
                "best_cut": self.best_cut, "mean_final_cut": float(self.final_cuts.mean()),
                "mean_best_cut": float(self.best_cuts.mean()),
                "success_probability": float(self.success[-1]) if len(self.success) else 0.0,
                "tts99_steps": self.tts_steps, "tts99_seconds": self.tts_steps * self.dt,
                "tts99_at_steps": self.tts_at, "steps_run": self.steps_run,
                "stopped_early": self.stopped_early, "replicas": len(self.final_cuts),
                "seconds": self.seconds}


def solve(spec: ChipSpec, *, base_dir: Path | None = None, replicas: int | None = None,
          steps: int | None = None, target: float | None = None, records: int = 50,
          patience: int = 5, progress: bool = False) -> SolveResult:
    """Run ``replicas`` independent copies of the chip for ``steps`` (default: the spec's) in
    ``records`` pieces and score their cuts (see the module docstring)."""
    import time

    if not isinstance(spec.topology, Sparse):
        raise ThermochipError("solve scores a MAX-CUT of the chip's graph: give a sparse "
                              "topology (edges or edges_file)")
    edges = read_edges(spec.topology, base_dir)
    chip = Chip.from_spec(spec, base_dir=base_dir)
    engine = Engine(chip, replicas=replicas or spec.run.replicas)
    total = chip.steps if steps is None else steps
    per = max(1, math.ceil(total / records))
    p = chip.model.to_kernel(chip.params, np.float64)
    x = engine.initial_state()
    best_spins = np.ones((engine.B, chip.n))
    record_steps, cut_history, held, done, still = [], [], None, 0, 0
    bar = progress_bar(total, progress, unit="step", desc="solve")
    t0 = time.perf_counter()
    try:
        while done < total and still < patience:
            k = min(per, total - done)
            x = engine.run(k, x0=x, energy_every=0).x
            done += k
            bar.update(k)
            spins = np.where(chip.model.channel(p, x, 0) >= 0, 1.0, -1.0)
            cuts = cut_value(edges, spins)
            if cut_history:
                better = cuts > np.max(cut_history, axis=0)
                best_spins[better] = spins[better]
            else:
                best_spins[:] = spins
            record_steps.append(done)
            cut_history.append(cuts)
            still = still + 1 if held is not None and np.array_equal(spins, held) else 0
            held = spins
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    C = np.array(cut_history)                      # (record, replica)
    best = C.max(axis=0)
    given = target is not None
    target = float(target) if given else float(best.max())
    success = np.logical_or.accumulate(C >= target, axis=0).mean(axis=1)
    times = [(tts(P, t), t) for P, t in zip(success, record_steps) if P > 0]
    tts_steps, tts_at = min(times) if times else (float("inf"), 0)
    winner = int(np.argmax(best))
    return SolveResult(target=target, target_given=given, best_cut=float(best.max()),
                       best_spins=best_spins[winner], final_cuts=C[-1], best_cuts=best,
                       record_steps=np.array(record_steps), success=success,
                       tts_steps=float(tts_steps), tts_at=int(tts_at), steps_run=done,
                       stopped_early=done < total, dt=spec.integrator.dt, seconds=seconds)
