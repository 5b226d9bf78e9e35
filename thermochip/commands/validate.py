"""``thermochip validate SPEC...``: check chip spec files."""

from __future__ import annotations

import argparse
import sys

ORDER = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC", help="chip spec YAML file(s)")


def run(args: argparse.Namespace) -> int:
    """Check chip spec files; print 'ok: PATH' for each valid one."""
    from thermochip.errors import ThermochipError
    from thermochip.spec_io import load_spec

    status = 0
    for path in args.specs:
        try:
            load_spec(path, command="validate", warn=lambda line: print(line, file=sys.stderr))
        except ThermochipError as err:
            # Keep going: one run reports every broken file.
            print(f"error: {err}", file=sys.stderr)
            status = max(status, err.exit_code)
        else:
            print(f"ok: {path}")
    return status
