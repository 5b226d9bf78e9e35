"""OM against EP on the bundled digits: test accuracy against training samples seen (one pass
over the first N samples), and against the simulated chip time those samples took.

Seed 000 claims that Onsager--Machlup learning needs no equilibration and learns in one epoch;
this measures it next to Equilibrium Propagation on an oscillator chip. Chip time per sample:
EP runs a free phase and two nudged phases, (free + 2 nudged) steps; OM observes one
trajectory of (trajectory_steps x spacing) steps; times dt of each spec.

    python examples/studies/om_vs_ep.py            # writes out/om_vs_ep.png and .csv
    python examples/studies/om_vs_ep.py --small    # a quick check
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from thermochip.spec_io import load_spec
from thermochip.sweep import run_sweep

HERE = Path(__file__).resolve().parent
SPECS = {"EP (oscillators)": HERE / "digits_oim_ep.yaml",
         "OM (soft spins)": HERE.parent / "digits_om.yaml"}


def chip_seconds_per_sample(spec) -> float:
    """Simulated chip time one training sample takes (s)."""
    learner, dt = spec.learner, spec.integrator.dt
    if learner.rule == "ep":
        phases = 1 if learner.estimator == "one_sided" else 2
        return (learner.free_steps + phases * learner.nudged_steps) * dt
    return learner.trajectory_steps * learner.spacing * dt


def main(small: bool = False, out: Path = Path("out")) -> Path:
    sizes = [48, 96, 192] if small else [48, 96, 192, 384, 768, 1436]
    repeats = 1 if small else 2
    curves = {}
    for label, spec_path in SPECS.items():
        rows = run_sweep(spec_path, [f"data.train_size={','.join(map(str, sizes))}",
                                     "train.epochs=1"],
                         repeats=repeats, out=out / f"om_vs_ep_{label.split()[0]}", workers=2)
        per_sample = chip_seconds_per_sample(load_spec(spec_path))
        acc = {n: [r["test_accuracy"] for r in rows if r["data.train_size"] == n] for n in sizes}
        curves[label] = (np.array(sizes), np.array([np.mean(acc[n]) for n in sizes]),
                         np.array([np.std(acc[n]) for n in sizes]), per_sample)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for label, (n, mean, std, per_sample) in curves.items():
        a1.errorbar(n, mean * 100, std * 100, marker="o", capsize=3, label=label)
        a2.errorbar(n * per_sample * 1e6, mean * 100, std * 100, marker="o", capsize=3,
                    label=f"{label}: {per_sample * 1e9:.1f} ns/sample")
    a1.set_xscale("log")
    a2.set_xscale("log")
    a1.set_xlabel("training samples seen (one pass)")
    a2.set_xlabel("simulated chip time of training (us)")
    a1.set_ylabel("test accuracy (%)")
    for ax in (a1, a2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("OM vs EP on digits (bars: std over seeds)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    png = out / "om_vs_ep.png"
    fig.savefig(png, dpi=120)
    plt.close(fig)
    with open(out / "om_vs_ep.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "samples", "test_accuracy_mean", "test_accuracy_std",
                    "chip_seconds_per_sample"])
        for label, (n, mean, std, per_sample) in curves.items():
            for row in zip(n, mean, std):
                w.writerow([label, *row, per_sample])
    return png


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("out"))
    args = ap.parse_args()
    print(f"wrote {main(small=args.small, out=args.out)}")
