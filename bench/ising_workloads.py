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

When the simulated-bifurcation package is installed (optional, never required: it needs
PyTorch), each instance is also solved by its discrete SB with as many agents as the chip has
replicas, and its best, P(success) and TTS (99 %, in its steps and in seconds) are printed
beside the chip's (`--sb-steps` caps its iterations; its early stop is left on).
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


def g22(replicas: int, sb_steps: int, target: int) -> None:
    from thermochip.solve import solve
    from thermochip.spec_io import load_spec

    spec = yaml.safe_load((ROOT / "examples/maxcut_gset.yaml").read_text())
    spec["cells"]["n"] = 2000
    spec["topology"]["edges_file"] = "data/gset/G22.txt"
    result = solve(load_spec(spec, base_dir=ROOT / "examples"), base_dir=ROOT / "examples",
                   replicas=replicas, target=target)  # the example's own run and anneal
    report("G22", result, f"best-known 13359: {result.best / 13359:.2%}")
    from thermochip.problems import cut_value, read_gset

    n, edges = read_gset(ROOT / "examples/data/gset/G22.txt")
    A = np.zeros((n, n))
    A[edges[:, 0].astype(int), edges[:, 1].astype(int)] = edges[:, 2]
    # cut = (sum w - sum_{i<j} w s_i s_j) / 2: minimise s^T (A + A^T) s / 2
    sb_compare("G22", (A + A.T) / 2, replicas, sb_steps, lambda s: cut_value(edges, s), target,
               maximise=True)


def sk(n: int, replicas: int, steps: int, sb_steps: int) -> None:
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
    # E(s) = -sum_{i<j} W_ij s_i s_j = s^T Q s with Q = -(W + W^T) / 2
    sb_compare(f"SK N={n}", -(W + W.T) / 2, replicas, sb_steps,
               lambda s: -np.einsum("ij,ai,aj->a", W, s, s), result.best, maximise=False,
               per_spin=n ** 1.5)


def sb_compare(name: str, Q: np.ndarray, agents: int, steps: int, score, target: float,
               maximise: bool, per_spin: float | None = None) -> None:
    """Discrete simulated bifurcation (the package, if installed) on min s^T Q s, s in +-1:
    its agents' spins scored by ``score`` (cut or energy), success = reaching ``target``
    (the best-known cut; for SK the chip's best energy)."""
    import time

    try:
        import simulated_bifurcation as sb
        import torch
    except ImportError:
        print(f"{name}: simulated-bifurcation is not installed: no comparison", flush=True)
        return
    from thermochip.problems import tts

    torch.manual_seed(0)  # its agents' random start
    start = time.perf_counter()
    spins, _ = sb.minimize(torch.tensor(Q, dtype=torch.float32), domain="spin", agents=agents,
                           max_steps=steps, mode="discrete", best_only=False,
                           verbose=False)
    seconds = time.perf_counter() - start
    values = score(np.asarray(spins.cpu().numpy(), dtype=np.float64).reshape(agents, -1))
    hit = values >= target if maximise else values <= target
    best = values.max() if maximise else values.min()
    p = float(hit.mean())
    scaled = f" (E/N^1.5 {best / per_spin:.4f})" if per_spin else ""
    print(f"{name}, simulated bifurcation (dSB, {agents} agents, <= {steps} steps): "
          f"best {best:g}{scaled}, mean {values.mean():g}; P(reach {target:g}) {p:.3f}; "
          f"TTS99 {tts(p, seconds):.4g} s (at most {tts(p, steps):.4g} of its steps: it stops "
          f"early once its agents settle); run {seconds:.1f} s", flush=True)


def report(name: str, result, extra: str) -> None:
    s = result.summary()
    per_step = s["seconds"] / max(s["steps_run"], 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name}: best {s['best']:g}; {extra}; P(success) {s['success_probability']:.3f}; "
          f"TTS99 {s['tts99_steps']:.4g} steps, "
          f"{s['tts99_steps'] * per_step:.4g} s; {s['replicas']} replicas x "
          f"{s['steps_run']} steps in {s['seconds']:.1f} s ({per_step * 1e3:.2f} ms per "
          f"step); peak {peak:.0f} MiB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("g22", "sk"), action="append")
    ap.add_argument("--replicas", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4000, help="SK steps")
    ap.add_argument("--sk-n", type=int, default=1000)
    ap.add_argument("--g22-target", type=int, default=13359,
                    help="the cut a G22 run must reach to succeed (default: the best known)")
    ap.add_argument("--sb-steps", type=int, default=10000,
                    help="simulated bifurcation's iteration cap, when installed")
    args = ap.parse_args()
    which = args.only or ["g22", "sk"]
    if "g22" in which:
        g22(args.replicas, args.sb_steps, args.g22_target)
    if "sk" in which:
        sk(args.sk_n, args.replicas, args.steps, args.sb_steps)


if __name__ == "__main__":
    main()
