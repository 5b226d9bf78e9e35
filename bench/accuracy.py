"""Accuracy runs on the full Fashion-MNIST split (60k train / 10k test), with timing and memory.

    python bench/accuracy.py                       # every run below (hours on 2 cores)
    python bench/accuracy.py --only oim_ep --epochs 1
    python bench/accuracy.py --train-size 6000     # a quicker look on a subset
    python bench/accuracy.py --only oim_ep --epochs 5 --set learner.beta=0.5   # a probe

Runs: oscillator EP (examples/fashion_oim_ep.yaml: 784-500-10, T1 = 20 free / T2 = 10 nudged
steps at Euler step 0.1, +-beta, batch 20, 8-bit couplings, 8-bit I/Q ADC, thermal noise, adam
steps), the same chip trained by backpropagation through its free phase (rule bptt, the
off-chip reference: examples/fashion_oim_bptt.yaml), one epoch of the same chip at Gower's
default dynamics (T2 = 4, beta = 1, plain
lr * estimate steps: the speed figure), soft-spin EP (examples/fashion_softspin_ep.yaml) and
one epoch of OM learning with per-class wells (examples/mnist_om.yaml's circuit on
Fashion-MNIST: MNIST itself is not installable here) and contrastive learning on p-bits
(examples/fashion_pbit_ep.yaml).
Prints test accuracy, epochs, seconds per epoch, training samples per second and the peak
resident memory of each run (each in its own process, so peaks do not mix).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RUNS = {
    "oim_ep": ("examples/fashion_oim_ep.yaml", {}),
    # the same chip, data and optimiser trained by backpropagation through the free phase
    "oim_bptt": ("examples/fashion_oim_bptt.yaml", {}),
    # Gower's dynamics and plain SGD steps (his code's update)
    "oim_ep_gower": ("examples/fashion_oim_ep.yaml", {"learner.nudged_steps": 4,
                                                      "learner.beta": 1.0, "train.epochs": 1,
                                                      "learner.write.step": "sgd",
                                                      "learner.lr": [0.2, 0.05]}),
    "softspin_ep": ("examples/fashion_softspin_ep.yaml", {}),
    "om": ("examples/mnist_om.yaml", {"data.dataset": "fashion_mnist"}),
    "pbit_contrastive": ("examples/fashion_pbit_ep.yaml", {}),
}


def one_run(spec_path: str, overrides: dict, epochs: int | None) -> dict:
    """Train in this process and return the summary plus peak memory."""
    from thermochip.spec_io import load_spec, with_overrides
    from thermochip.training import train

    data = yaml.safe_load((ROOT / spec_path).read_text())
    for key, value in overrides.items():
        data = with_overrides(data, key, value)
    result = train(load_spec(data), base_dir=ROOT / "examples", epochs=epochs, progress=True,
                   log=lambda s: print(s, file=sys.stderr, flush=True))
    summary = result.summary()
    summary["peak_memory_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(RUNS), action="append")
    ap.add_argument("--epochs", type=int, help="override each example's epochs")
    ap.add_argument("--train-size", type=int, help="train on the first N samples only")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a spec field (YAML value), e.g. learner.lr=[0.4,0.1]")
    ap.add_argument("--child", nargs=2, metavar=("NAME", "JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        name, extra = args.child
        spec_path, overrides = RUNS[name]
        out = one_run(spec_path, {**overrides, **json.loads(extra)}, args.epochs)
        print(json.dumps(out))
        return
    extra = {"data.train_size": args.train_size} if args.train_size else {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key] = yaml.safe_load(value)
    for name in args.only or RUNS:
        cmd = [sys.executable, __file__, "--child", name, json.dumps(extra)]
        if args.epochs:
            cmd += ["--epochs", str(args.epochs)]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if proc.returncode:
            print(f"{name}: failed (exit {proc.returncode})")
            continue
        s = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{name}: test {s['test_accuracy']:.2%}, train {s['train_accuracy']:.2%}, "
              f"{s['epochs']} epochs, {s['seconds_per_epoch']:.1f} s/epoch, "
              f"{s['samples_per_second']:.0f} samples/s, peak {s['peak_memory_mib']:.0f} MiB",
              flush=True)


if __name__ == "__main__":
    main()
