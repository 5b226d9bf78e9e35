"""Sparse chips at scale (not run by CI): time per step and peak memory of `thermochip
simulate` for oscillator chips of 10^4, 10^5 and 10^6 cells on random graphs of bounded
degree, with the growth exponents of both.

    python bench/scale.py                              # 1e4, 1e5, 1e6 cells, degree <= 8
    python bench/scale.py --cells 10000 100000 --degree 4 --steps 100

Each graph is the union of degree/2 random permutations (pairs (i, p(i)), self-pairs and
repeats dropped), so no cell has more than ``degree`` couplers and the mean is just below it;
it is written as an edge CSV (the spec's ``topology.edges_file``). Each size runs in its own
process (so peaks do not mix) through the command's own path: the memory check, the chip
built from the spec, the simulation (thermal noise, 16 replicas, float32, energies every
step block) and the results file. Time per step is the simulation's wall time over its
steps (chip building and writing apart, printed beside it); the peak is the process's
resident maximum (getrusage).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml


def write_graph(path: Path, n: int, degree: int, seed: int) -> int:
    """A random graph of max degree ``degree`` as an edge CSV; returns the edge count."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(degree // 2):
        p = rng.permutation(n)
        i = np.arange(n)
        keep = i != p
        pairs.append(np.stack([np.minimum(i, p)[keep], np.maximum(i, p)[keep]], axis=1))
    key = np.unique(np.concatenate(pairs) @ np.array([n, 1], dtype=np.int64))
    np.savetxt(path, np.stack([key // n, key % n], axis=1), fmt="%d", delimiter=",")
    return len(key)


def spec_for(n: int, replicas: int, steps: int) -> dict:
    return {"name": f"scale_{n}",
            "cells": {"model": "oim", "preset": "lc_shil_1ghz", "n": n},
            "topology": {"kind": "sparse", "edges_file": "graph.csv"},
            "couplings": {"init": {"kind": "edges", "scale": -1.0},
                          "dac": {"bits": 4, "full_scale": 1.0}},
            "fields": {"init": {"S": 0.4}},
            "noise": {"thermal": {"kT": 0.05}},
            "integrator": {"dt": "0.25 ns", "steps": steps, "energy_every": steps},
            "run": {"replicas": replicas, "seed": 0, "dtype": "float32"}}


def one_size(folder: str, steps: int) -> dict:
    """In a child process: simulate the spec in ``folder`` and measure it."""
    from thermochip.chip import Chip
    from thermochip.engine import simulate
    from thermochip.memory import check_simulation
    from thermochip.results import save_simulation
    from thermochip.simulation import statistics
    from thermochip.spec_io import dump_spec, load_spec

    folder = Path(folder)
    t0 = time.perf_counter()
    spec = load_spec(folder / "spec.yaml")
    check_simulation(spec, steps, base_dir=folder)
    chip = Chip.from_spec(spec, base_dir=folder)
    built = time.perf_counter() - t0
    simulate(chip, steps=2)  # compile (cached after the first size) outside the timing
    result = simulate(chip)
    t1 = time.perf_counter()
    save_simulation(folder / "out.h5", chip, result, dump_spec(spec), spec.run.seed,
                    statistics(chip, result))
    return {"cells": chip.couplers.n, "entries": chip.couplers.count, "built_s": built,
            "per_step_s": result.seconds / result.steps, "steps": result.steps,
            "write_s": time.perf_counter() - t1,
            "file_mib": (folder / "out.h5").stat().st_size / 2 ** 20,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def exponent(x: list[float], y: list[float]) -> float:
    """Slope of log y against log x (least squares)."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--degree", type=int, default=8, help="most couplers of a cell (even)")
    ap.add_argument("--replicas", type=int, default=16)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_size(args.child, args.steps)))
        return
    rows = []
    print(f"{'cells':>9} {'couplers':>9} {'build s':>8} {'ms/step':>9} {'ns/cell-step':>13} "
          f"{'write s':>8} {'file MiB':>9} {'peak MiB':>9}", flush=True)
    for n in args.cells:
        with tempfile.TemporaryDirectory() as tmp:
            edges = write_graph(Path(tmp) / "graph.csv", n, args.degree, seed=n)
            (Path(tmp) / "spec.yaml").write_text(
                yaml.safe_dump(spec_for(n, args.replicas, args.steps)))
            out = subprocess.run([sys.executable, __file__, "--child", tmp, "--steps",
                                  str(args.steps)], capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{n} cells failed:\n{out.stderr}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{n:>9,} {edges:>9,} {r['built_s']:>8.2f} {r['per_step_s'] * 1e3:>9.3f} "
              f"{r['per_step_s'] / (n * args.replicas) * 1e9:>13.3f} {r['write_s']:>8.2f} "
              f"{r['file_mib']:>9.1f} {r['peak_mib']:>9.0f}", flush=True)
    if len(rows) > 1:
        n = [r["cells"] for r in rows]
        print(f"growth with cells ({args.replicas} replicas, degree <= {args.degree}): time "
              f"per step ~ N^{exponent(n, [r['per_step_s'] for r in rows]):.2f}, peak memory "
              f"~ N^{exponent(n, [r['peak_mib'] for r in rows]):.2f} (with the interpreter's "
              f"fixed ~200 MiB)")


if __name__ == "__main__":
    main()
