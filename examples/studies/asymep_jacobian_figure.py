"""The figure of the three-Jacobian AsymEP study: accuracy against interconnect delay for AsymEP
and Dyadic EP with A from the nominal codes, the chip's calibration and the true analog values,
beside symmetric EP, from two sweeps (examples/studies/README.md gives their commands):

    python examples/studies/asymep_jacobian_figure.py study_jac study_jac_ep \
        docs/figures/study_asymep_jacobian.png

Prints the table of means and standard deviations over seeds (%) and writes the CSV of both
sweeps' points beside the figure.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from thermochip.sweep import read_results
from thermochip.units import parse_quantity

JACOBIANS = ("nominal", "calibrated", "true")
STYLE = {"nominal": ":", "calibrated": "--", "true": "-"}


def main(adjoint_sweep: str, ep_sweep: str, out: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, rows = read_results(adjoint_sweep)
    _, ep_rows = read_results(ep_sweep)
    for r in rows:  # a bare YAML true in --set reads as a boolean
        r["learner.jacobian"] = str(r["learner.jacobian"]).lower()
    for r in ep_rows:
        r["learner.jacobian"] = "-"
    acc = defaultdict(list)
    for r in rows + ep_rows:
        tau = parse_quantity(str(r["delays.interconnect"]), "s")
        acc[r["learner.rule"], r["learner.jacobian"], tau].append(100 * r["test_accuracy"])
    delays = sorted({k[2] for k in acc})
    x = [t * 1e12 for t in delays]

    def curve(rule, jacobian):
        m = [np.mean(acc[rule, jacobian, t]) for t in delays]
        s = [np.std(acc[rule, jacobian, t]) for t in delays]
        return m, s

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, rule, name in zip(axes, ("asymep", "dyadic"), ("AsymEP", "Dyadic EP")):
        m, s = curve("ep", "-")
        ax.errorbar(x, m, s, color="grey", marker="o", capsize=3, label="symmetric EP")
        for jacobian in JACOBIANS:
            m, s = curve(rule, jacobian)
            ax.errorbar(x, m, s, ls=STYLE[jacobian], marker="o", capsize=3,
                        label=f"{name}, A {jacobian}")
        ax.set_xlabel("interconnect delay (ps; 5 GHz carrier: 40 ps = 1.26 rad)")
        ax.set_title(f"{name}, 20 % coupler gain mismatch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("test accuracy (%)")
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=120)
    with open(out.with_suffix(".csv"), "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["learner.rule", "learner.jacobian", "delays.interconnect", "seed",
                    "test_accuracy"])
        for r in rows + ep_rows:
            w.writerow([r["learner.rule"], r["learner.jacobian"], r["delays.interconnect"],
                        r["seed"], r["test_accuracy"]])
    print("rule, jacobian | " + " | ".join(f"{t * 1e12:g} ps" for t in delays))
    for rule, jacobian in [("ep", "-")] + [(r, j) for r in ("asymep", "dyadic")
                                           for j in JACOBIANS]:
        m, s = curve(rule, jacobian)
        print(f"{rule}, {jacobian} | " + " | ".join(f"{a:.1f} ± {b:.1f}" for a, b in zip(m, s)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
