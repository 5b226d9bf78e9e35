"""``thermochip simulate SPEC``: simulate a chip, write its results and figures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thermochip.atomic import check_output
from thermochip.commands import add_memory_option, apply_memory_option, at_least

ORDER = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="chip spec YAML file")
    parser.add_argument("--steps", type=int, help="number of steps (overrides the spec)")
    parser.add_argument("--replicas", type=int, help="replicas (overrides run.replicas)")
    parser.add_argument("--seed", type=int, help="seed (overrides run.seed)")
    parser.add_argument("--out", metavar="RUN.h5", help="HDF5 result file (default: SPEC's "
                                                       "name with .h5, in the current folder)")
    parser.add_argument("--plot", metavar="DIR", help="write PNG figures into DIR")
    parser.add_argument("--threads", type=int, help="engine threads (default: all cores)")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT")

    add_memory_option(parser)

def run(args: argparse.Namespace) -> int:
    """Simulate a chip spec and write ADC traces, states and energies to HDF5."""
    apply_memory_option(args)
    from thermochip.simulation import run_simulation

    at_least(args, steps=1, replicas=1, seed=0, threads=1)
    overrides = {"steps": args.steps, "replicas": args.replicas, "seed": args.seed}
    out = check_output(Path(args.out) if args.out else Path(Path(args.spec).stem + ".h5"),
                       force=args.force)
    if args.plot:
        check_output(Path(args.plot), folder=True)
    summary = run_simulation(args.spec, out, plot_dir=args.plot, threads=args.threads,
                             progress=True, warn=lambda line: print(line, file=sys.stderr),
                             **overrides)
    print(summary)
    return 0
