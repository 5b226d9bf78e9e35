"""MAX-CUT, QUBO and Ising energies, G-set input and ``thermochip solve``: the conversions are
exact on every state of small problems; the solver finds a small graph's maximum cut and its
success probability and time to solution follow their definitions."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from thermochip.chip import Chip
from thermochip.errors import SpecError, ThermochipError
from thermochip.problems import (
    cut_value,
    ising_energy,
    ising_to_qubo,
    maxcut_to_ising,
    problem_ising,
    qubo_to_ising,
    read_gset,
    tts,
)
from thermochip.solve import solve
from thermochip.spec_io import load_spec

ROOT = Path(__file__).resolve().parent.parent
MAXCUT = yaml.safe_load((ROOT / "examples/oim_maxcut.yaml").read_text())


def all_spins(n: int) -> np.ndarray:
    return np.array(list(itertools.product((-1.0, 1.0), repeat=n)))


def test_maxcut_is_an_affine_function_of_the_ising_energy():
    rng = np.random.default_rng(0)
    n = 9
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < 0.5]
    edges = np.array([(i, j, rng.choice([-1.0, 1.0, 2.5])) for i, j in pairs])
    s = all_spins(n)
    J, h, a, b = maxcut_to_ising(n, edges)
    np.testing.assert_allclose(cut_value(edges, s), a + b * ising_energy(J, h, s), atol=1e-12)
    # the largest cut is the lowest energy
    assert np.argmax(cut_value(edges, s)) == np.argmin(ising_energy(J, h, s))


def test_qubo_and_ising_convert_exactly_both_ways():
    rng = np.random.default_rng(1)
    n = 7
    Q = rng.normal(size=(n, n))  # not symmetric: only its symmetric part counts
    s = all_spins(n)
    x = (1 + s) / 2
    f = np.einsum("ki,ij,kj->k", x, Q, x)
    J, h, offset = qubo_to_ising(Q)
    np.testing.assert_allclose(f, ising_energy(J, h, s) + offset, atol=1e-10)
    Q2, offset2 = ising_to_qubo(J, h)
    np.testing.assert_allclose(ising_energy(J, h, s),
                               np.einsum("ki,ij,kj->k", x, Q2, x) + offset2, atol=1e-10)


def test_time_to_solution_by_hand():
    # 100 steps succeed half the time: ln(0.01) / ln(0.5) = 6.644 runs
    assert tts(0.5, 100) == pytest.approx(664.3856189774724, rel=1e-12)
    assert tts(0.995, 100) == 100 and tts(0.0, 100) == float("inf")
    assert tts(0.9, 40) == pytest.approx(40 * 2.0, rel=1e-12)  # ln 0.01 / ln 0.1 = 2


GSET = "5 6\n1 2 1\n1 3 1\n2 3 -1\n3 4 1\n4 5 1\n2 5 1\n"


def test_gset_file_reads_one_based_edges(tmp_path):
    (tmp_path / "g.txt").write_text(GSET)
    n, edges = read_gset(tmp_path / "g.txt")
    assert n == 5 and edges.shape == (6, 3)
    np.testing.assert_array_equal(edges[2], [1, 2, -1])


@pytest.mark.parametrize("text, words", [
    ("5\n1 2 1\n", ["line 1", "'n m'"]),
    ("5 2\n1 2 1\n", ["announces 2 edges", "has 1"]),
    ("5 1\n1 6 1\n", ["line 2", "in 1..5", "1 6"]),
    ("5 1\n2 2 1\n", ["line 2", "two different"]),
    ("5 1\n1 2 x\n", ["line 2", "'i j w'"]),
])
def test_bad_gset_files_get_one_line(tmp_path, text, words):
    (tmp_path / "g.txt").write_text(text)
    with pytest.raises(ThermochipError) as err:
        read_gset(tmp_path / "g.txt")
    assert "\n" not in str(err.value) and "g.txt" in str(err.value)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_a_gset_topology_is_the_chip_of_its_edges(tmp_path):
    """The same graph given as a G-set file and as inline edges (from 0) builds the same chip;
    a file of another vertex count than cells.n is refused with its path."""
    (tmp_path / "g.txt").write_text(GSET)
    spec = {**MAXCUT, "cells": {**MAXCUT["cells"], "n": 5},
            "topology": {"kind": "sparse", "edges_file": "g.txt", "edges_format": "gset"}}
    from_file = Chip.from_spec(load_spec(spec, base_dir=tmp_path), base_dir=tmp_path)
    inline = {**spec, "topology": {"kind": "sparse", "edges": [
        [int(i) - 1, int(j) - 1, float(w)] for i, j, w in
        (line.split() for line in GSET.splitlines()[1:])]}}
    np.testing.assert_array_equal(from_file.J, Chip.from_spec(load_spec(inline)).J)
    with pytest.raises(SpecError, match="topology.edges_file.*5 vertices.*6 cells"):
        load_spec({**spec, "cells": {**spec["cells"], "n": 6}}, base_dir=tmp_path)


def test_solve_finds_the_maximum_cut_with_its_success_rate():
    """The 12-node example: its maximum cut by enumeration is reached, P(success) is the
    fraction of replicas that held it by each record, and TTS is the smallest
    t ln(0.01) / ln(1 - P(t))."""
    spec = load_spec(ROOT / "examples/oim_maxcut.yaml")
    edges = np.array([list(e) + [1.0] for e in MAXCUT["topology"]["edges"]])
    best = cut_value(edges, all_spins(12)).max()
    result = solve(spec, base_dir=ROOT / "examples", replicas=32, target=best)
    assert result.best == best and result.success[-1] > 0.5 and result.objective == "maxcut"
    assert np.all(np.diff(result.success) >= 0)
    assert np.mean(result.best_each >= best) == result.success[-1]
    times = [tts(p, t) for p, t in zip(result.success, result.record_steps) if p > 0]
    assert result.tts_steps == min(times)
    assert cut_value(edges, result.best_spins) == best


def test_a_converged_chip_stops_early():
    """Without noise every replica settles into a cut and keeps it: the run stops after
    `patience` unchanged records instead of running all its steps."""
    spec = load_spec({**MAXCUT, "noise": {}})
    result = solve(spec, base_dir=ROOT / "examples", replicas=8, steps=20000, records=100,
                   patience=3)
    assert result.stopped_early and result.steps_run < 20000


def test_solve_command_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "thermochip", "solve",
                          ROOT / "examples/oim_maxcut.yaml", "--replicas", "16", "--json"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["best"] == 18 and not out["target_given"] and out["replicas"] == 16
    bad = subprocess.run([sys.executable, "-m", "thermochip", "solve",
                          ROOT / "examples/quickstart.yaml"], capture_output=True, text=True)
    assert bad.returncode == 2 and "topology" in bad.stderr and "Traceback" not in bad.stderr


def problem_spec(model: str, path: str, form: str, n: int, **extra) -> dict:
    """A chip whose couplings and linear field come from a problem file (16-bit DACs)."""
    oim = model == "oim"
    return {"cells": {"model": model, "n": n, **({} if oim else {"params": {"J2": -1.0,
                                                                          "J4": 1.0}})},
            "topology": "all_to_all",
            "couplings": {"init": {"kind": "problem", "path": path, "form": form,
                                   "scale": 0.25},
                          "dac": {"bits": 16, "full_scale": 2.0}},
            "fields": {"init": {"S": 0.5} if oim else {}, "dac": {"bits": 16,
                                                                  "full_scale": 2.0}},
            "noise": {"thermal": {"kT": 0.02}},
            "integrator": {"dt": "1 ns" if oim else "0.05 ns", "duration": "2 us"
                           if oim else "0.1 us"},
            "run": {"replicas": 16, "seed": 2}, **extra}


@pytest.mark.parametrize("model", ["oim", "softspin"])
def test_a_problem_file_makes_the_chip_energy_its_ising_energy(tmp_path, model):
    """At the spin states (phases 0 / pi; soft spins at +-1) the chip's energy is scale x the
    problem's E(s) plus a constant, for every state: couplings and field signed for the
    device."""
    rng = np.random.default_rng(3)
    n = 6
    W = np.triu(rng.normal(size=(n, n)))  # upper triangle: each pair once; diagonal: h
    np.save(tmp_path / "w.npy", W)
    chip = Chip.from_spec(load_spec(problem_spec(model, "w.npy", "ising", n),
                                    base_dir=tmp_path), base_dir=tmp_path)
    s = all_spins(n)
    x = np.where(s > 0, 0.0, np.pi) if model == "oim" else s
    m, p = chip.model, chip.model.to_kernel(chip.params, np.float64)
    ch = np.stack([m.channel(p, x, c) for c in range(m.n_channels)])
    V = (m.local_energy(p, x, chip.fields[0], chip.fields[1]).sum(axis=1)
         + 0.5 * m.pair_sign * np.einsum("cki,ij,ckj->k", ch, chip.J, ch))
    J, h, _ = problem_ising(W, "ising")
    E = 0.25 * ising_energy(J, h, s)
    lsb = 2.0 / (2 ** 15 - 1)
    np.testing.assert_allclose(V - V.mean(), E - E.mean(), atol=n * n * lsb)


def test_solve_finds_the_qubo_optimum_from_triplets(tmp_path):
    """A QUBO given as .npz triplets: solve minimises x^T Q x and reaches its optimum (by
    enumeration), reporting the QUBO's own value."""
    rng = np.random.default_rng(4)
    n = 8
    Q = np.triu(rng.integers(-3, 4, size=(n, n))).astype(float)
    i, j = np.nonzero(Q)
    np.savez(tmp_path / "q.npz", i=i, j=j, w=Q[i, j])
    x = (1 + all_spins(n)) / 2
    optimum = np.einsum("ki,ij,kj->k", x, Q, x).min()
    spec = load_spec(problem_spec("oim", "q.npz", "qubo", n), base_dir=tmp_path)
    result = solve(spec, base_dir=tmp_path, replicas=32, target=optimum)
    assert result.objective == "qubo" and result.best == optimum
    assert result.success[-1] > 0
    xb = (1 + result.best_spins) / 2
    assert xb @ Q @ xb == optimum


@pytest.mark.parametrize("change, where", [
    ({"fields": {"init": {"h": 0.1, "S": 0.5}}}, "fields.init.h"),
    ({"cells": {"model": "oim", "n": 5}}, "couplings.init.path"),
    ({"topology": {"kind": "sparse", "edges": [[0, 1], [1, 2]]}}, "couplings.init.path"),
])
def test_problem_files_are_checked_against_the_chip(tmp_path, change, where):
    np.save(tmp_path / "w.npy", np.triu(np.ones((6, 6))))
    spec = {**problem_spec("oim", "w.npy", "ising", 6), **change}
    with pytest.raises(SpecError) as err:
        load_spec(spec, base_dir=tmp_path)
    assert any(p.startswith(where) for p, _ in err.value.problems), err.value.problems


def test_a_sweep_of_a_spec_without_a_learner_solves_each_point(tmp_path):
    """Each point is solved (as thermochip solve): the rows carry best value, P(success)
    against --target and TTS, and the plots show the best value; training options are
    refused by name."""
    from thermochip.plots import plot_sweep
    from thermochip.sweep import run_sweep
    spec = ROOT / "examples/oim_maxcut.yaml"
    rows = run_sweep(spec, ["fields.init.S=0.2,0.4"], repeats=1, out=tmp_path / "s",
                     workers=1, target=18)
    assert [r["fields.init.S"] for r in rows] == [0.2, 0.4]
    for r in rows:
        assert r["best"] == 18 and 0 < r["success_probability"] <= 1
        assert r["tts99_steps"] >= 1 and "test_accuracy" not in r
    names = sorted(p.name for p in plot_sweep(tmp_path / "s"))
    assert names == ["best_vs_fields.init.S.png"]
    with pytest.raises(ThermochipError, match="--epochs"):
        run_sweep(spec, ["fields.init.S=0.2"], out=tmp_path / "t", epochs=2)
    with pytest.raises(ThermochipError, match="--target"):
        run_sweep(ROOT / "examples/quickstart.yaml", ["learner.beta=1.0"],
                  out=tmp_path / "u", target=3)
