"""``thermochip solve SPEC``: use the chip as a MAX-CUT or Ising / QUBO solver and report the
best value, success probability and time to solution."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thermochip import strict_json
from thermochip.commands import add_memory_option, apply_memory_option, at_least

ORDER = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="chip spec YAML: a sparse topology (a "
                                                     "MAX-CUT of its graph) or couplings.init "
                                                     "kind problem (an Ising / QUBO file)")
    parser.add_argument("--replicas", type=int, help="independent runs (overrides "
                                                     "run.replicas)")
    parser.add_argument("--steps", type=int, help="steps per run (overrides the spec)")
    parser.add_argument("--target", type=float, help="the value that counts as solved (e.g. "
                                                     "the best-known cut or energy; default: "
                                                     "the best found)")
    parser.add_argument("--records", type=int, default=50,
                        help="times the replicas' cuts are read during the run (default 50)")
    parser.add_argument("--patience", type=int, default=5,
                        help="stop once no replica changed its spins for this many records")
    parser.add_argument("--seed", type=int, help="seed (overrides run.seed)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--threads", type=int, help="engine threads (default: all cores)")
    add_memory_option(parser)


def run(args: argparse.Namespace) -> int:
    """Use the chip as a solver: best value, success probability, time to solution."""
    apply_memory_option(args)
    import dataclasses

    from thermochip.memory import check_simulation
    from thermochip.solve import solve
    from thermochip.spec_io import load_spec

    at_least(args, replicas=1, steps=1, records=1, patience=1, seed=0, threads=1)
    if args.threads is not None:
        from thermochip._kernels.jit import set_num_threads
        set_num_threads(args.threads)
    spec_path = Path(args.spec)
    spec = load_spec(spec_path, command="solve",
                     warn=lambda line: print(line, file=sys.stderr))
    run_spec = dataclasses.replace(
        spec.run, **{k: v for k, v in (("replicas", args.replicas), ("seed", args.seed))
                     if v is not None})
    spec = dataclasses.replace(spec, run=run_spec)
    steps = args.steps
    check_simulation(spec, steps if steps is not None else 1, spec_path.resolve().parent)
    result = solve(spec, base_dir=spec_path.resolve().parent, steps=steps,
                   target=args.target, records=args.records, patience=args.patience,
                   progress=not args.json)
    s = result.summary()
    if args.json:
        print(strict_json.dumps(s))
        return 0
    ns = result.dt * 1e9
    what = "cut" if s["objective"] == "maxcut" else f"{s['objective']} value"
    tts = ("not reached" if s["tts99_steps"] == float("inf") else
           f"{s['tts99_steps']:.4g} steps = {s['tts99_steps'] * ns / 1e3:.4g} us of chip time "
           f"(runs of {s['tts99_at_steps']} steps)")
    print(f"best {what} {s['best']:g} (target {s['target']:g}"
          f"{'' if s['target_given'] else ', the best found'}); mean {s['mean_final']:.4g} "
          f"at the end, {s['mean_best']:.4g} at best; P(success) "
          f"{s['success_probability']:.3f} over {s['replicas']} replicas; TTS(99 %) {tts}; "
          f"{s['steps_run']} steps{' (stopped early: converged)' if s['stopped_early'] else ''}"
          f", {s['seconds']:.1f} s")
    return 0
