"""How much signal an EP-circuit learner's estimate carries, before and after training: for
each register, the rms of the batch estimate's mean over repeated draws (the signal) against
the rms spread of one draw (the sampling noise), the hidden cells' |<read-out>| quantiles
(how saturated they are) and the rms input field of the first hidden layer.

    python bench/learning_signal.py examples/fashion_pbit_ep.yaml --train-size 20000
    python bench/learning_signal.py examples/pbit_quickstart.yaml --epochs 4 --set adc.bits=2

The same batch (the first ``update_every`` training samples) is estimated ``--draws`` times;
the noise variance is the mean over registers of the draws' variance, the signal variance
the variance of their mean less noise / draws. Training runs between the two reports.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent


def report(tag: str, learner, pixels: np.ndarray, labels: np.ndarray, draws: int) -> None:
    estimates = [learner.gradient(pixels, labels) for _ in range(draws)]
    for name in estimates[0]:
        g = np.stack([e[name].ravel() for e in estimates])
        noise = g.var(axis=0, ddof=1).mean()
        if noise == 0:
            continue
        signal = max(g.mean(axis=0).var() - noise / draws, 0.0)
        print(f"{tag} {name:>6}: signal rms {np.sqrt(signal):.3g}, noise rms "
              f"{np.sqrt(noise):.3g} ({g.shape[1]} registers)")
    h_in, _, samples = learner.free(pixels)
    first = learner.chip.spec.cells.layers[0]
    m = np.abs(samples[..., 0].mean(axis=1)[:, :first])
    q = np.quantile(m, [0.1, 0.5, 0.9])
    print(f"{tag} hidden |<m>| 10/50/90 %: {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}; input field "
          f"rms {np.sqrt((h_in[:, :first] ** 2).mean()):.2f}", flush=True)


def main() -> None:
    from thermochip import Chip, load_spec, train
    from thermochip.data import load_dataset
    from thermochip.learn import make_learner
    from thermochip.spec_io import with_overrides

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("--epochs", type=int, default=1, help="training between the reports")
    ap.add_argument("--train-size", type=int, help="train on the first N samples only")
    ap.add_argument("--draws", type=int, default=12)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    data = yaml.safe_load(Path(args.spec).read_text())
    for item in args.set + ([f"data.train_size={args.train_size}"] if args.train_size else []):
        key, _, value = item.partition("=")
        data = with_overrides(data, key, yaml.safe_load(value))
    spec = load_spec(data)
    base = Path(args.spec).resolve().parent
    dataset = load_dataset(spec.data, base)
    batch = spec.learner.update_every
    pixels, labels = dataset.train_x[:batch], dataset.train_y[:batch]
    report("start", make_learner(Chip.from_spec(spec, base_dir=base), dataset.n_classes),
           pixels, labels, args.draws)
    result = train(spec, base_dir=base, epochs=args.epochs, log=print)
    report(f"after {args.epochs}", result.learner, pixels, labels, args.draws)


if __name__ == "__main__":
    main()
