"""``thermochip sweep SPEC --set PATH=V1,V2 ...``: train a spec over a grid of fields and
seeds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thermochip.atomic import check_output
from thermochip.commands import add_memory_option, apply_memory_option

ORDER = 6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="chip spec YAML: with data and learner "
                                                     "(each point trained), or without "
                                                     "(each point solved, as thermochip "
                                                     "solve)")
    parser.add_argument("--set", dest="sets", action="append", required=True,
                        metavar="PATH=V1,V2,...",
                        help="a swept field and its values (YAML scalars; repeatable)")
    parser.add_argument("--repeats", type=int, default=1, help="seeds per point (run.seed + r)")
    parser.add_argument("--epochs", type=int, help="epochs (overrides train.epochs)")
    parser.add_argument("--target", type=float, help="solved points: the value that counts "
                                                     "as solved (default: each point's best)")
    parser.add_argument("--workers", type=int, help="local worker processes (default: one "
                                                    "per point, at most one per core)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run on this Dask distributed "
                                                               "scheduler instead")
    parser.add_argument("--out", required=True, metavar="DIR", help="results folder")
    parser.add_argument("--plot", action="store_true", help="write accuracy (or best value) "
                                                            "PNGs into DIR")

    add_memory_option(parser)

def run(args: argparse.Namespace) -> int:
    """Train (or solve) a spec over a grid of fields and seeds; results.csv and one HDF5 file
    per point."""
    apply_memory_option(args)
    from thermochip.spec_io import load_spec
    from thermochip.sweep import run_sweep

    # each point is a training run (or a solve): say once which fields it does not read
    verb = "run" if load_spec(args.spec).learner is not None else "solve"
    load_spec(args.spec, command=verb, warn=lambda line: print(line, file=sys.stderr))

    check_output(Path(args.out), folder=True)  # a sweep folder is continued, not clobbered
    rows = run_sweep(args.spec, args.sets, args.repeats, args.out, workers=args.workers,
                     scheduler=args.scheduler, epochs=args.epochs, target=args.target,
                     progress=True)
    figures = []
    if args.plot:
        from thermochip.plots import plot_sweep
        figures = plot_sweep(args.out)
    print(f"{len(rows)} points in {Path(args.out) / 'results.csv'}"
          + (f"; {len(figures)} figures" if figures else ""))
    return 0
