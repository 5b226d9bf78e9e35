"""``thermochip calibrate SPEC``: recover a soft-spin chip's real couplings from its own
thermal trajectories (:mod:`thermochip.calibration`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thermochip import strict_json
from thermochip.atomic import check_output
from thermochip.commands import add_memory_option, apply_memory_option, at_least
from thermochip.errors import ThermochipError

ORDER = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="softspin chip spec YAML (with an adc "
                                                     "section and thermal noise)")
    parser.add_argument("--replicas", type=int, help="replicas (overrides run.replicas)")
    parser.add_argument("--steps", type=int, help="steps per replica (overrides the spec)")
    parser.add_argument("--seed", type=int, help="seed (overrides run.seed)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT")
    parser.add_argument("--out", metavar="FILE.h5", help="write the estimates, true and "
                                                         "nominal couplings to HDF5")

    add_memory_option(parser)

def run(args: argparse.Namespace) -> int:
    """Calibrate a softspin chip's analog couplings from its thermal trajectories."""
    apply_memory_option(args)
    from thermochip.calibration import calibrate
    from thermochip.simulation import resolve
    from thermochip.spec_io import dump_spec, load_spec

    at_least(args, replicas=1, steps=1, seed=0)
    if args.out:
        check_output(Path(args.out), force=args.force)
    spec_path = Path(args.spec)
    spec = resolve(load_spec(spec_path, command="calibrate",
                             warn=lambda line: print(line, file=sys.stderr)),
                   steps=args.steps, replicas=args.replicas, seed=args.seed)
    report = calibrate(spec, base_dir=spec_path.resolve().parent)
    if args.out:
        try:
            report.save(args.out, dump_spec(spec))
        except OSError as err:
            raise ThermochipError(f"cannot write {err.filename or args.out}: "
                                  f"{err.strerror or err}") from None
    if args.json:
        print(strict_json.dumps(report.summary()))
    else:
        print(report.table())
        if args.out:
            print(f"wrote {args.out}")
    return 0
