"""Engine throughput, side by side with numpy's own float32 matrix product at the same shapes.

    python bench/engine.py            # full sizes (a few minutes on 2 cores)
    python bench/engine.py --small    # quick check of the script

(a) dense all-to-all soft-spin chip, N = 1024, B = 256 replicas, 1000 steps;
(b) oscillator chip shaped 784-500-10 (784 inputs as fields, 510 oscillators), B = 256;
(c) both kernel layouts on dense chips, at 20 and 256 replicas, to place the engine's
    langevin kind's SMALL_COUPLINGS switch (thermochip/_kernels/langevin.py);
(d) p-bit chips sampled by chromatic Gibbs sweeps: a dense N = 1024 chip and a sparse
    N = 4096 chip of degree 16, B = 256 replicas: spin updates per second (one per cell,
    replica and sweep), the ratio of the dense chip's coupling MACs to numpy's float32 matrix
    product at the same shapes, and effective (independent) samples per second from the
    integrated autocorrelation time of the mean magnetisation. For scale: thrml (JAX block
    Gibbs) measured 0.86-1.8 M spin updates/s on a dense N = 1024 graph and 23-70 M on a 2-D
    lattice on this kind of machine (../shared/REFERENCES.md; not run here).
Prints cell-steps/s, coupling-MAC/s (one MAC per coupling-matrix entry, channel and replica
per step, as the dense products compute it) and the ratio to numpy's matrix-product rate
measured in the same run. Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from thermochip import Chip, load_spec, simulate
from thermochip._kernels.jit import get_num_threads


def numpy_matmul_rate(B: int, N: int, repeats: int) -> float:
    """MAC/s of numpy's float32 (B, N) @ (N, N), best of several timed batches."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((B, N), dtype=np.float32)
    J = rng.standard_normal((N, N), dtype=np.float32)
    out = np.empty((B, N), dtype=np.float32)
    np.dot(X, J, out=out)
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(repeats):
            np.dot(X, J, out=out)
        best = min(best, (time.perf_counter() - t) / repeats)
    return B * N * N / best


def run(spec: dict, layout: str = "auto", repeats: int = 2):
    chip = Chip.from_spec(load_spec(spec))
    best = None
    for _ in range(repeats):
        r = simulate(chip, layout=layout, energy_every=spec["integrator"]["steps"])
        best = r if best is None or r.seconds < best.seconds else best
    return chip, best


def report(label: str, chip, result, n_channels: int, numpy_rate: float) -> None:
    B, N = result.x.shape
    cell_steps = result.steps * B * N / result.seconds
    mac = result.steps * B * N * N * n_channels * len(chip.latency_steps) / result.seconds
    useful = result.steps * B * int(chip.mask.sum()) * n_channels / result.seconds
    print(f"{label}\n  {result.steps} steps x {B} replicas x {N} cells in {result.seconds:.3f} s:"
          f" {cell_steps:.3g} cell-steps/s, {mac:.3g} coupling-MAC/s "
          f"({useful:.3g} on existing couplers)\n"
          f"  numpy float32 ({B}x{N})@({N}x{N}): {numpy_rate:.3g} MAC/s -> ratio "
          f"{mac / numpy_rate:.2f}")


def main(small: bool = False) -> None:
    print(f"engine threads: {get_num_threads()}")
    steps = 100 if small else 1000
    N, B = (256, 64) if small else (1024, 256)
    dense = {"name": "dense_softspin",
             "cells": {"model": "softspin", "preset": "seed000_double_well", "n": N},
             "couplings": {"init": {"kind": "random", "std": 0.02}, "dac": {"bits": 8}},
             "noise": {"thermal": {"kT": 0.1}},
             "integrator": {"dt": "10 ps", "steps": steps}, "run": {"replicas": B}}
    chip, res = run(dense, layout="batched")
    report(f"(a) dense soft-spin N={N}, B={B}", chip, res, 1,
           numpy_matmul_rate(B, N, 5 if small else 20))

    hidden, out = (100, 10) if small else (500, 10)
    oim = {"name": "oim_784_500_10",
           "cells": {"model": "oim", "preset": "gower2025", "layers": [hidden, out],
                     "inputs": 784},
           "topology": "layered",
           "couplings": {"init": {"kind": "random", "std": 1.0, "fan_in_scaling": True}},
           "fields": {"init": {"S": 0.5}}, "noise": {"thermal": {"kT": 0.002}},
           "integrator": {"dt": "1 ns", "steps": steps,
                          "initial_state": {"kind": "constant", "value": 1.5707963}},
           "run": {"replicas": B}}
    chip = Chip.from_spec(load_spec(oim))
    pixels = np.random.default_rng(1).random((B, 784))
    h = chip.input_field(pixels)  # inputs enter once per sample, as fields
    simulate(chip, h_ext=h, energy_every=steps)
    res = min((simulate(chip, h_ext=h, energy_every=steps) for _ in range(2)),
              key=lambda r: r.seconds)
    report(f"(b) oscillator 784-{hidden}-{out} (inputs as fields), B={B}", chip, res, 2,
           numpy_matmul_rate(B, hidden + out, 5 if small else 20))

    print("(c) layouts on dense oscillator chips, 500 steps: steps/s replicas-layout | batched")
    for n in (16, 64, 128, 256, 512):
        for B in (20, 256):
            spec = {"cells": {"model": "oim", "n": n},
                    "couplings": {"init": {"kind": "random", "std": 0.1}},
                    "noise": {"thermal": {"kT": 0.01}},
                    "integrator": {"dt": "1 ns", "steps": 50 if small else 500},
                    "run": {"replicas": B}}
            rates = [run(spec, layout)[1].steps_per_second for layout in ("replicas", "batched")]
            print(f"  N={n:4d} ({n * n:6d} couplings), B={B:3d}: {rates[0]:8.0f} | "
                  f"{rates[1]:8.0f}  -> {'replicas' if rates[0] > rates[1] else 'batched'} "
                  f"faster")

    pbit_rates(small)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MiB (no per-step trajectory is kept)")


def sparse_edges(n: int, degree: int, seed: int = 0) -> list[list[int]]:
    """A graph of exactly ``degree`` couplers per cell: the edges (i, i + s mod n) for
    degree / 2 distinct random shifts s."""
    rng = np.random.default_rng(seed)
    shifts = rng.choice(np.arange(1, n // 2), size=degree // 2, replace=False)
    return [[i, (i + int(s)) % n] for s in shifts for i in range(n)]


def pbit_rates(small: bool) -> None:
    from thermochip.engine import Engine
    from thermochip.sampling import integrated_autocorrelation

    print("(d) p-bit chips, chromatic Gibbs sweeps, B = 256, float32")
    B = 64 if small else 256
    sweeps = 10 if small else 100
    base = {"noise": {"thermal": {"kT": 1.0}},
            "integrator": {"dt": "66.67 ns", "steps": sweeps, "method": "chromatic"},
            "run": {"replicas": B, "seed": 0}}
    n_dense = 256 if small else 1024
    n_sparse = 512 if small else 4096
    cases = [(f"dense N={n_dense}", {"cells": {"model": "pbit", "n": n_dense},
                                     "couplings": {"init": {"kind": "random",
                                                            "std": 1 / np.sqrt(n_dense)}}}),
             (f"sparse N={n_sparse}, degree 16",
              {"cells": {"model": "pbit", "n": n_sparse},
               "topology": {"kind": "sparse", "edges": sparse_edges(n_sparse, 16)},
               "couplings": {"init": {"kind": "random", "std": 0.3}}})]
    for label, spec in cases:
        chip = Chip.from_spec(load_spec({**base, **spec}))
        engine = Engine(chip)
        engine.run(2, energy_every=0)
        best = min(engine.run(energy_every=0).seconds for _ in range(3))
        rate = sweeps * chip.n * B / best
        line = f"  {label}: {rate / 1e6:.1f} M spin updates/s ({engine.layout} layout)"
        if "dense" in label:
            mac = sweeps * chip.n * chip.n * B / best
            line += (f"; coupling MAC/s {mac:.3g} vs numpy float32 ({chip.n}x{chip.n})@"
                     f"({chip.n}x{B}) {numpy_matmul_rate(B, chip.n, 5):.3g} -> ratio "
                     f"{mac / numpy_matmul_rate(B, chip.n, 5):.2f}")
        print(line)
        # effective samples: the ADC reads every sweep of 64 replicas (the buffer holds them
        # all); tau_int of each replica's mean magnetisation
        sampled = load_spec({**base, **spec, "adc": {"bits": 1, "full_scale": 2.0,
                                                     "mode": "value", "sample_rate": "15 MHz"},
                             "integrator": {**base["integrator"], "steps": 2 * sweeps},
                             "run": {"replicas": 64, "seed": 0}})
        eng = Engine(Chip.from_spec(sampled))
        eng.run(2, energy_every=0)
        r = eng.run(energy_every=0)
        m = r.adc_values[:, r.adc_values.shape[1] // 10:, :, 0].mean(axis=2)
        tau = integrated_autocorrelation(m)
        print(f"    tau_int {tau:.2f} sweeps: {64 * m.shape[1] / tau / r.seconds:,.0f} "
              f"effective samples/s (64 replicas, the ADC reading every sweep)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="small sizes: checks the script")
    main(small=ap.parse_args().small)
