"""``thermochip export RUN.h5``: a run's DAC codes in forms that hardware tools load."""

from __future__ import annotations

import argparse
from pathlib import Path

from thermochip.atomic import check_output

ORDER = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from thermochip.export import FORMATS

    parser.add_argument("run", metavar="RUN.h5", help="results file of thermochip run or "
                                                      "simulate (or an export to convert)")
    parser.add_argument("--format", choices=FORMATS, default="h5",
                        help="h5: one HDF5 file; hex: folder of Verilog $readmemh files; c: C "
                             "header; csv: folder of CSV files; json: one JSON file "
                             "(default h5)")
    parser.add_argument("--out", metavar="PATH", help="file (h5, c, json) or folder (hex, csv) "
                                                      "to write (default: named after RUN)")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT")


def run(args: argparse.Namespace) -> int:
    """Export a run's DAC codes for hardware: HDF5, Verilog hex, C header, CSV or JSON."""
    from thermochip.export import FORMATS, default_out, write_export

    out = Path(args.out) if args.out else default_out(args.run, args.format)
    if args.format in FORMATS and out.resolve() != Path(args.run).resolve():
        check_output(out, force=args.force, folder=FORMATS[args.format].FOLDER)
    exp = write_export(args.run, args.format, out)
    parts = [f"{m.name} {'x'.join(str(s) for s in m.codes.shape)}"
             for m in exp.matrices.values()]
    print(f"wrote {out} ({args.format}: {', '.join(parts)})")
    return 0
