"""``thermochip run SPEC``: train a chip with its on-chip learner and report accuracy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thermochip import strict_json
from thermochip.atomic import check_output
from thermochip.commands import add_memory_option, apply_memory_option, at_least
from thermochip.errors import ThermochipError

ORDER = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC", help="chip spec YAML with data and learner")
    parser.add_argument("--epochs", type=int, help="epochs (overrides train.epochs)")
    parser.add_argument("--out", metavar="RUN.h5", help="results file (default: SPEC's name "
                                                       "with .h5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", metavar="DIR", help="write learning-curve and confusion PNGs")
    parser.add_argument("--couplings", metavar="FILE", help="load DAC codes from a results or "
                                                            "export file first")
    parser.add_argument("--eval-only", action="store_true", help="score without training")
    parser.add_argument("--resume", action="store_true", help="continue from OUT's checkpoint "
                                                              "(OUT.ckpt)")
    parser.add_argument("--threads", type=int, help="engine threads (default: all cores)")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT")
    parser.add_argument("--keep-checkpoint", action="store_true",
                        help="keep OUT.ckpt when the run completes (it is removed by default)")

    add_memory_option(parser)

def run(args: argparse.Namespace) -> int:
    """Train a chip with its on-chip learner and report accuracy."""
    apply_memory_option(args)
    from thermochip.results import is_training_result, save_run
    from thermochip.spec_io import load_spec
    from thermochip.training import train

    at_least(args, epochs=1, threads=1)
    if args.threads is not None:
        from thermochip._kernels.jit import set_num_threads
        set_num_threads(args.threads)
    spec_path = Path(args.spec)
    spec = load_spec(spec_path, command="run", warn=lambda line: print(line, file=sys.stderr))
    # a score is written beside the training result, never over it
    suffix = ".eval.h5" if args.eval_only else ".h5"
    out = Path(args.out) if args.out else Path(spec_path.stem + suffix)
    if args.eval_only and out.exists() and is_training_result(out):
        raise ThermochipError(f"{out} holds a training result; --eval-only writes its score "
                              f"to another --out (default {spec_path.stem}.eval.h5)")
    checkpoint = out.with_name(out.name + ".ckpt")
    if args.resume and not checkpoint.exists() and out.exists():
        print(f"nothing to resume: {out} is a finished run (no {checkpoint})", file=sys.stderr)
        return 0
    if checkpoint.exists() and not (args.resume or args.force or args.eval_only):
        raise ThermochipError(f"{checkpoint} holds an unfinished run: give --resume to "
                              f"continue it or --force to start over")
    check_output(out, force=args.force or args.resume)
    if args.plot:
        check_output(Path(args.plot), folder=True)

    def stderr(line):
        print(line, file=sys.stderr)
    result = train(spec, base_dir=spec_path.resolve().parent, epochs=args.epochs,
                   couplings=args.couplings, eval_only=args.eval_only, checkpoint=checkpoint,
                   resume=args.resume, progress=not args.json,
                   log=None if args.json else stderr, warn=stderr)
    try:
        save_run(out, result)
        if checkpoint.exists() and not args.keep_checkpoint and not args.eval_only:
            checkpoint.unlink()  # the run is complete and written
        figures = []
        if args.plot:
            from thermochip.plots import plot_run
            figures = plot_run(args.plot, result)
    except OSError as err:
        raise ThermochipError(f"cannot write {err.filename or out}: {err.strerror or err}") \
            from None
    s = result.summary()
    if args.json:
        print(strict_json.dumps(s))
    else:
        score = (f"test RMSE {s['test_rmse']:.4g} (R^2 {s['test_r2']:.3f}), train RMSE "
                 f"{s['train_rmse']:.4g}" if s["test_accuracy"] is None and "test_rmse" in s
                 else f"test accuracy {s['test_accuracy']:.2%}, train accuracy "
                      f"{s['train_accuracy']:.2%}")
        print(f"{score} after {s['epochs']} epochs "
              f"({s['seconds']:.1f} s; {s['seconds_per_epoch']:.1f} s per epoch)")
        print(f"wrote {out}" + (f" and {len(figures)} figures" if figures else ""))
    return 0
