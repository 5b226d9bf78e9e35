"""The ``thermochip`` command line: ``validate``, ``schema``, ``simulate``.

Each subcommand is a pair of functions in :data:`COMMANDS`: one adds its arguments to an
argparse subparser, the other runs it and returns the exit status. User mistakes arrive as
:class:`~thermochip.errors.ThermochipError` and are printed as ``error: ...`` lines, without
a traceback, with the error's own exit code.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

import thermochip
from thermochip import calibrate
from thermochip import export as export_command
from thermochip import run as run_command
from thermochip import sweep as sweep_command
from thermochip.errors import ThermochipError

EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT


def _add_validate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="chip spec YAML file(s)")


def _run_validate(args: argparse.Namespace) -> int:
    """Check chip spec files; print 'ok: PATH' for each valid one."""
    from thermochip.spec_io import load_spec

    status = 0
    for path in args.specs:
        try:
            load_spec(path)
        except ThermochipError as err:
            # Keep going: one run reports every broken file.
            print(f"error: {err}", file=sys.stderr)
            status = max(status, err.exit_code)
        else:
            print(f"ok: {path}")
    return status


def _add_schema(parser: argparse.ArgumentParser) -> None:
    pass


def _run_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema (draft 2020-12) of chip spec files."""
    from thermochip.spec_schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _add_simulate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="chip spec YAML file")
    parser.add_argument("--steps", type=int, help="number of steps (overrides the spec)")
    parser.add_argument("--replicas", type=int, help="replicas (overrides run.replicas)")
    parser.add_argument("--seed", type=int, help="seed (overrides run.seed)")
    parser.add_argument("--out", metavar="RUN.h5", help="HDF5 result file (default: SPEC's "
                                                       "name with .h5, in the current folder)")
    parser.add_argument("--plot", metavar="DIR", help="write PNG figures into DIR")
    parser.add_argument("--threads", type=int, help="engine threads (default: all cores)")


def _run_simulate(args: argparse.Namespace) -> int:
    """Simulate a chip spec and write ADC traces, states and energies to HDF5."""
    from pathlib import Path

    from thermochip.simulate import run_simulation

    overrides = {"steps": args.steps, "replicas": args.replicas, "seed": args.seed}
    for flag, value in overrides.items():
        if value is not None and value < (0 if flag == "seed" else 1):
            raise ThermochipError(f"--{flag} must be {'>= 0' if flag == 'seed' else '>= 1'}; "
                                  f"got {value}")
    out = Path(args.out) if args.out else Path(Path(args.spec).stem + ".h5")
    summary = run_simulation(args.spec, out, plot_dir=args.plot, threads=args.threads,
                             progress=True, **overrides)
    print(summary)
    return 0


#: Subcommand name -> (add its arguments, run it). The run function's docstring is its help.
COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None],
                          Callable[[argparse.Namespace], int]]] = {
    "validate": (_add_validate, _run_validate),
    "schema": (_add_schema, _run_schema),
    "simulate": (_add_simulate, _run_simulate),
    "run": (run_command.add_arguments, run_command.run),
    "calibrate": (calibrate.add_arguments, calibrate.run),
    "export": (export_command.add_arguments, export_command.run),
    "sweep": (sweep_command.add_arguments, sweep_command.run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thermochip",
        description="Simulate analog thermodynamic chips described by YAML chip specs.")
    parser.add_argument("--version", action="version",
                        version=f"thermochip {thermochip.__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_arguments, run) in COMMANDS.items():
        summary = (run.__doc__ or "").strip().splitlines()[0] if run.__doc__ else None
        sub = subparsers.add_parser(name, help=summary, description=summary)
        add_arguments(sub)
        sub.set_defaults(_run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args._run(args)
    except ThermochipError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
