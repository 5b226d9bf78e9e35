"""The ``thermochip`` command line: one verb per module of :mod:`thermochip.commands`.

User mistakes arrive as :class:`~thermochip.errors.ThermochipError` and are printed as
``error: ...`` lines, without a traceback, with the error's own exit code.
"""

from __future__ import annotations

import argparse
import sys

import thermochip
from thermochip.commands import commands
from thermochip.errors import ThermochipError

EXIT_INTERRUPTED = 130  # the shell's convention for SIGINT


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thermochip",
        description="Simulate analog thermodynamic chips described by YAML chip specs.")
    parser.add_argument("--version", action="version",
                        version=f"thermochip {thermochip.__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in commands().items():
        summary = next(iter((module.run.__doc__ or "").strip().splitlines()), None)
        sub = subparsers.add_parser(name, help=summary, description=summary)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
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
    except MemoryError:
        print("error: out of memory: the work needs more than this machine has (lower the "
              "replicas, cells or ADC samples, or see --max-memory)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
