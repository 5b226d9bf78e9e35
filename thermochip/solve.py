"""A chip as a combinatorial solver: ``thermochip solve``. Every replica is an independent run
from its own initial state; the run is cut into records, and after each the spins each
replica holds (sign of its first channel: an oscillator's cos phi, a soft spin's x, a p-bit's
m) are scored on the problem: a MAX-CUT of the sparse topology's graph (its edge weights,
whatever the couplings' scale or DAC; larger is better) or, for ``couplings.init: problem``,
the problem file's own value (its Ising energy or QUBO value, unscaled; smaller is better).
Reported: the best and mean values, the probability that a run reaches the target (the
best known, or without one the best any replica found) and the time to solution at 99 %,
TTS(t) = t ln(0.01) / ln(1 - P(t)) minimised over the record times t, in steps and in chip
time. The run stops early once every replica has kept its spins for ``patience`` records
(not before its annealing schedules have ended).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.errors import ThermochipError
from thermochip.problems import cut_value, ising_energy, problem_ising, read_problem, tts
from thermochip.progress import progress_bar
from thermochip.spec import ChipSpec, ProblemInit, Sparse
from thermochip.spec_files import read_edges, resolve_path


@dataclass(frozen=True)
class Objective:
    """What a replica's spins score: ``name`` (maxcut, ising, qubo), ``value(spins (..., n))``
    and ``sense`` (+1: larger is better, -1: smaller is better)."""

    name: str
    value: Callable[[np.ndarray], np.ndarray]
    sense: float


def objective(spec: ChipSpec, base_dir: Path | None) -> Objective:
    """The spec's problem: its problem file's value, or a MAX-CUT of its sparse graph."""
    init = spec.couplings.init
    if isinstance(init, ProblemInit):
        W = read_problem(resolve_path(init.path, base_dir), spec.n_cells)
        J, h, offset = problem_ising(W, init.form)
        return Objective(init.form, lambda s: ising_energy(J, h, s) + offset, -1.0)
    if not isinstance(spec.topology, Sparse):
        raise ThermochipError("solve scores a MAX-CUT of the chip's graph (a sparse "
                              "topology) or a problem file (couplings.init kind problem)")
    edges = read_edges(spec.topology, base_dir)
    return Objective("maxcut", lambda s: cut_value(edges, s), 1.0)


@dataclass
class SolveResult:
    """What :func:`solve` returns: values in the objective's units; steps of the integrator."""

    objective: str              # maxcut, ising or qubo
    sense: float                # +1: larger is better (a cut), -1: smaller (an energy)
    target: float               # the value counted as a success
    target_given: bool          # False: the best any replica found
    best: float
    best_spins: np.ndarray      # (cell,) +-1 of a replica that reached ``best``
    final: np.ndarray           # (replica,) value held at the end
    best_each: np.ndarray       # (replica,) best value held at any record
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
        return {"objective": self.objective, "target": self.target,
                "target_given": self.target_given, "best": self.best,
                "mean_final": float(self.final.mean()),
                "mean_best": float(self.best_each.mean()),
                "success_probability": float(self.success[-1]) if len(self.success) else 0.0,
                "tts99_steps": self.tts_steps, "tts99_seconds": self.tts_steps * self.dt,
                "tts99_at_steps": self.tts_at, "steps_run": self.steps_run,
                "stopped_early": self.stopped_early, "replicas": len(self.final),
                "seconds": self.seconds}


def save_solution(path: Path, spec: ChipSpec, result: SolveResult) -> None:
    """A solve's results file (atomically): the resolved spec, the summary (``attrs``) and its
    arrays (record steps, success curve, each replica's final and best value, the best
    spins)."""
    import h5py

    from thermochip import strict_json
    from thermochip.atomic import atomic_path
    from thermochip.spec_io import dump_spec

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["summary"] = strict_json.dumps(result.summary())
        f["spec"] = dump_spec(spec)
        for name in ("record_steps", "success", "final", "best_each", "best_spins"):
            f[name] = getattr(result, name)


def solve_point(spec: ChipSpec, base_dir: Path, target: float | None) -> dict:
    """One sweep point: :func:`solve`'s metrics and its results file as bytes."""
    import tempfile

    result = solve(spec, base_dir=base_dir, target=target)
    with tempfile.TemporaryDirectory(prefix="thermochip-solve-") as tmp:
        path = Path(tmp) / "point.h5"
        save_solution(path, spec, result)
        data = path.read_bytes()
    return {"best": result.best, "success_probability": float(result.success[-1]),
            "tts99_steps": result.tts_steps, "seconds": result.seconds, "h5": data}


def solve(spec: ChipSpec, *, base_dir: Path | None = None, replicas: int | None = None,
          steps: int | None = None, target: float | None = None, records: int = 50,
          patience: int = 5, progress: bool = False) -> SolveResult:
    """Run ``replicas`` independent copies of the chip for ``steps`` (default: the spec's) in
    ``records`` pieces and score their spins (see the module docstring)."""
    goal = objective(spec, base_dir)
    chip = Chip.from_spec(spec, base_dir=base_dir)
    engine = Engine(chip, replicas=replicas or spec.run.replicas)
    total = chip.steps if steps is None else steps
    per = max(1, math.ceil(total / records))
    p = chip.model.to_kernel(chip.params, np.float64)
    x = engine.initial_state()
    best_spins = np.ones((engine.B, chip.n))
    record_steps, history, held, done, still = [], [], None, 0, 0
    annealed = engine.schedule.end if engine.schedule is not None else 0.0
    settled = int(math.ceil(annealed / spec.integrator.dt))  # no early stop mid-anneal
    bar = progress_bar(total, progress, unit="step", desc="solve")
    t0 = time.perf_counter()
    try:
        while done < total and still < patience:
            k = min(per, total - done)
            x = engine.run(k, x0=x, energy_every=0).x
            done += k
            bar.update(k)
            spins = np.where(chip.model.channel(p, x, 0) >= 0, 1.0, -1.0)
            score = goal.sense * goal.value(spins)   # larger is better
            better = score > np.max(history, axis=0) if history else np.ones(engine.B, bool)
            best_spins[better] = spins[better]
            record_steps.append(done)
            history.append(score)
            still = (still + 1 if held is not None and np.array_equal(spins, held)
                     and done >= settled else 0)
            held = spins
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    S = np.array(history)                          # (record, replica)
    best = S.max(axis=0)
    given = target is not None
    goal_score = goal.sense * float(target) if given else float(best.max())
    success = np.logical_or.accumulate(S >= goal_score, axis=0).mean(axis=1)
    times = [(tts(P, t), t) for P, t in zip(success, record_steps) if P > 0]
    tts_steps, tts_at = min(times) if times else (float("inf"), 0)
    return SolveResult(objective=goal.name, sense=goal.sense, target=goal.sense * goal_score,
                       target_given=given, best=goal.sense * float(best.max()),
                       best_spins=best_spins[int(np.argmax(best))], final=goal.sense * S[-1],
                       best_each=goal.sense * best, record_steps=np.array(record_steps),
                       success=success, tts_steps=float(tts_steps), tts_at=int(tts_at),
                       steps_run=done, stopped_early=done < total, dt=spec.integrator.dt,
                       seconds=seconds)
