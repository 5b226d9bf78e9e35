"""Ising-machine workloads on oscillator chips (not run by CI): the G-set graph G22 against its
best-known cut, and a dense Sherrington--Kirkpatrick +-1 instance against the Parisi limit.

    python bench/ising_workloads.py                 # both (a few minutes on 2 cores)
    python bench/ising_workloads.py --only sk --replicas 8

G22 (2,000 vertices, 19,990 edges, best known 13,359; examples/data/gset/G22.txt) runs the
annealed chip of examples/maxcut_gset.yaml. SK: N spins, J_ij = +-1 (seed 0), E(s) =
-sum_{i<j} J_ij s_i s_j, whose ground state per spin tends to -0.7633 N^{1/2} (Parisi); the
chip holds J / sqrt(N) (a problem file, `scale`) so each cell's field is of order one, and
anneals S and kT. Prints the best value, P(success), TTS (99 %), time per step and the peak
resident memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
PARISI = -0.7633


def g22(replicas: int) -> None:
    from thermochip.solve import solve
    from thermochip.spec_io import load_spec

    spec = yaml.safe_load((ROOT / "examples/maxcut_gset.yaml").read_text())
    spec["cells"]["n"] = 2000
    spec["topology"]["edges_file"] = "data/gset/G22.txt"
    result = solve(load_spec(spec, base_dir=ROOT / "examples"), base_dir=ROOT / "examples",
                   replicas=replicas, target=13359)  # the example's own run and anneal
    report("G22", result, f"best-known 13359: {result.best / 13359:.2%}")


def sk(n: int, replicas: int, steps: int) -> None:
    from thermochip.solve import solve
    from thermochip.spec_io import load_spec

    rng = np.random.default_rng(0)
    W = np.triu(rng.choice([-1.0, 1.0], size=(n, n)), 1)  # each pair once: J_ij = W_ij
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "sk.npy", W)
        scale = 1 / np.sqrt(n)
        spec = {"name": f"sk_{n}", "cells": {"model": "oim", "preset": "lc_shil_1ghz", "n": n},
                "topology": "all_to_all",
                "couplings": {"init": {"kind": "problem", "path": "sk.npy", "form": "ising",
                                       "scale": float(scale)},
                              "dac": {"bits": 4, "full_scale": float(scale),
                                      "rounding": "nearest"}},
                "fields": {"init": {"S": 0.0}},
                # each cell's coupling fields sum about sqrt(N) terms of 1/sqrt(N): the
                # largest Hessian eigenvalue is a few units, so dt~ = 0.05 is stable
                "integrator": {"dt": "0.5 ns", "steps": steps},
                "anneal": {"fields": {"S": [[0, 0.0], [f"{0.7 * steps * 0.5} ns", 0.5]]},
                           "kT": [[0, 0.3], [f"{0.9 * steps * 0.5} ns", 0.0]]},
                "run": {"replicas": replicas, "seed": 3, "dtype": "float32"}}
        result = solve(load_spec(spec, base_dir=Path(tmp)), base_dir=Path(tmp), steps=steps)
    report(f"SK N={n}", result, f"E/N^1.5 = {result.best / n ** 1.5:.4f} (Parisi limit "
                                f"{PARISI}; mean over replicas "
                                f"{result.best_each.mean() / n ** 1.5:.4f})")


def report(name: str, result, extra: str) -> None:
    s = result.summary()
    per_step = s["seconds"] / max(s["steps_run"], 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name}: best {s['best']:g}; {extra}; P(success) {s['success_probability']:.3f}; "
          f"TTS99 {s['tts99_steps']:.4g} steps; {s['replicas']} replicas x "
          f"{s['steps_run']} steps in {s['seconds']:.1f} s ({per_step * 1e3:.2f} ms per "
          f"step); peak {peak:.0f} MiB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("g22", "sk"), action="append")
    ap.add_argument("--replicas", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4000, help="SK steps")
    ap.add_argument("--sk-n", type=int, default=1000)
    args = ap.parse_args()
    which = args.only or ["g22", "sk"]
    if "g22" in which:
        g22(args.replicas)
    if "sk" in which:
        sk(args.sk_n, args.replicas, args.steps)


if __name__ == "__main__":
    main()
