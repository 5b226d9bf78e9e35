"""Sparse chips store every per-coupler array per edge (thermochip.couplers): the same chip
held as (cell, cell) arrays simulates bit for bit alike in the replica layout (each cell's
coupling sum adds the same products in the same order) and to rounding in the batched one
(BLAS products against per-edge loops), and building a large sparse chip never allocates
cells squared."""

from __future__ import annotations

import dataclasses
import tracemalloc

import numpy as np
import pytest

from thermochip.chip import Chip, ChipRegisters
from thermochip.couplers import Couplers
from thermochip.engine import Engine
from thermochip.registers import Devices, Register
from thermochip.spec_io import load_spec

RING = [[i, (i + 1) % 9] for i in range(9)] + [[0, 4], [2, 7], [3, 8]]

CHIPS = {
    # carriers with interconnect jitter (every coupler its own phase offset: the quadrature
    # part) and latency jitter (several delay lines)
    "oim_delays": {"cells": {"model": "oim", "n": 9},
                   "couplings": {"init": {"kind": "random", "std": 0.6},
                                 "dac": {"bits": 6, "full_scale": 1.5}},
                   "noise": {"thermal": {"kT": 0.05},
                             "mismatch": {"coupler_gain": 0.05, "coupler_offset": 0.01}},
                   "delays": {"interconnect": "20 ps", "interconnect_jitter": "5 ps",
                              "loop_latency": "0.3 ns", "latency_jitter": "0.1 ns",
                              "bins": 3},
                   "integrator": {"dt": "0.05 ns", "steps": 120}},
    "softspin": {"cells": {"model": "softspin", "n": 9},
                 "couplings": {"init": {"kind": "random", "std": 0.4},
                               "dac": {"bits": 8, "full_scale": 1.0}},
                 "noise": {"thermal": {"kT": 0.3}},
                 "integrator": {"dt": "50 ps", "steps": 120}},
    "pbit": {"cells": {"model": "pbit", "n": 9},
             "couplings": {"init": {"kind": "random", "std": 0.5},
                           "dac": {"bits": 8, "full_scale": 1.0}},
             "noise": {"thermal": {"kT": 1.0}}, "integrator": {"dt": "1 ns", "steps": 120}},
}


def _spec(name: str, **run):
    return load_spec({"name": name, **CHIPS[name], "topology": {"kind": "sparse",
                                                                 "edges": RING},
                      "run": {"replicas": 4, "seed": 3, "dtype": "float64", **run}})


def dense_twin(chip: Chip) -> Chip:
    """The same chip with every per-coupler array as (cell, cell)."""
    c, reg = chip.couplers, chip.registers.couplings
    mask = chip.mask
    devices = Devices(mask=mask, gain=c.dense(reg.devices.gain, 1.0),
                      offset=c.dense(reg.devices.offset), reciprocal=reg.devices.reciprocal)
    couplings = Register("J", chip.J_codes, reg.dac, np.random.default_rng(0), devices)
    couplings.set_values(chip.J)
    return dataclasses.replace(
        chip, couplers=Couplers.from_mask(mask),
        registers=ChipRegisters(couplings, chip.registers.fields, chip.registers.inputs),
        alpha=c.dense(chip.alpha), latency_bin=c.dense(chip.latency_bin))


def _run(chip: Chip, layout: str) -> tuple[np.ndarray, np.ndarray]:
    result = Engine(chip, layout=layout).run(steps=120)
    return result.x, np.asarray(result.energies)


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_edge_and_dense_storage_of_one_chip_simulate_alike(name):
    chip = Chip.from_spec(_spec(name))
    twin = dense_twin(chip)
    assert chip.couplers.edges and not twin.couplers.edges
    assert chip.couplers.count == 2 * len(RING)
    if name == "oim_delays":  # the case exercises the quadrature part and delay lines
        assert np.ptp(chip.alpha) > 0 and len(chip.latency_steps) > 1
    layouts = ["replicas", "batched"]
    for layout in layouts:
        x_edges, e_edges = _run(chip, layout)
        x_dense, e_dense = _run(twin, layout)
        if layout == "replicas" or name == "pbit":
            assert np.array_equal(x_edges, x_dense), layout
        else:  # BLAS sums in another order
            np.testing.assert_allclose(x_edges, x_dense, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(e_edges, e_dense, rtol=1e-9, atol=1e-9)


def test_a_reciprocal_sparse_chip_draws_once_per_pair():
    spec = _spec("oim_delays")
    chip = Chip.from_spec(spec)
    for stored in (chip.J_codes, chip.J, chip.coupler_gain, chip.coupler_offset,
                   chip.couplers.dense(chip.alpha), chip.couplers.dense(chip.latency_bin)):
        assert np.array_equal(stored, stored.T)
    # every pair its own draw: the off-diagonal values are distinct
    upper = chip.coupler_offset[np.triu(chip.mask, 1)]
    assert len(np.unique(upper)) == len(RING)


def test_a_large_sparse_chip_is_built_without_cells_squared(tmp_path):
    n = 200_000  # (cell, cell) float64 arrays would be 320 GB
    edges = np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1)
    np.savetxt(tmp_path / "ring.csv", edges, fmt="%d", delimiter=",")
    spec = load_spec({"name": "ring", "cells": {"model": "softspin", "n": n},
                      "topology": {"kind": "sparse", "edges_file": "ring.csv"},
                      "couplings": {"init": {"kind": "edges", "scale": 0.3}},
                      "noise": {"thermal": {"kT": 0.2}},
                      "run": {"replicas": 2, "dtype": "float32"},
                      "integrator": {"dt": "50 ps", "steps": 5}}, base_dir=tmp_path)
    tracemalloc.start()
    chip = Chip.from_spec(spec, base_dir=tmp_path)
    result = Engine(chip).run(steps=5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # per entry a few int64 / float64 arrays: 400,000 entries are ~3 MB each
    assert peak < 150e6, peak
    assert chip.couplers.count == 2 * n and np.isfinite(result.x).all()
    assert np.allclose(chip.couplers.gather(chip.registers.couplings.values)[:4], 0.3,
                       atol=chip.registers.couplings.dac.lsb)


def test_the_memory_estimate_of_a_sparse_chip_grows_with_its_couplers(tmp_path, monkeypatch):
    from thermochip import memory
    from thermochip.errors import ThermochipError

    n = 100_000
    edges = np.stack([np.arange(n), (np.arange(n) + 1) % n], axis=1)
    np.savetxt(tmp_path / "ring.csv", edges, fmt="%d", delimiter=",")
    spec = load_spec({"name": "ring", "cells": {"model": "softspin", "n": n},
                      "topology": {"kind": "sparse", "edges_file": "ring.csv"},
                      "couplings": {"init": {"kind": "edges"}},
                      "integrator": {"dt": "50 ps", "steps": 5}}, base_dir=tmp_path)
    assert memory.sparse_entries(spec, tmp_path) == 2 * (n + 1)  # lines + 1: an upper bound
    assert memory.chip_bytes(spec, tmp_path) == pytest.approx(memory.PER_ENTRY * 2 * (n + 1)
                                                              + memory.PER_CELL * n)
    # commands that read (cell, cell) views (training, calibration) pay cells squared
    assert memory.chip_bytes(spec, tmp_path, dense_views=True) > memory.PER_PAIR * n * n
    monkeypatch.setenv("THERMOCHIP_MAX_MEMORY", "1GB")
    memory.check_simulation(spec, 5, tmp_path)  # ~66 MB of couplers: fits
    monkeypatch.setenv("THERMOCHIP_MAX_MEMORY", "250MB")  # the interpreter's 200 MiB + them
    with pytest.raises(ThermochipError, match="couplings .* lower cells.n, the layer sizes "
                                              "or the edges"):
        memory.check_simulation(spec, 5, tmp_path)


@pytest.mark.parametrize("step, lr", [("sgd", 0.002), ("adam", 0.05)])
def test_om_learning_on_a_sparse_chip_writes_per_pair_as_its_dense_twin(step, lr):
    """The OM rule's coupling writes on an edge-stored chip (registers, adam means and shadow
    per pair, so its checkpoint holds no cell x cell array) give the codes its dense twin's
    (cell, cell) writes give."""
    from pathlib import Path

    from thermochip.learn.onsager_machlup import OmLearnerCircuit

    grid = [[r * 8 + c, r * 8 + c + 1] for r in range(8) for c in range(7)] + \
           [[r * 8 + c, r * 8 + c + 8] for r in range(7) for c in range(8)]
    path = Path(__file__).parents[1] / "examples/digits_om.yaml"
    spec = load_spec({**yaml_of(path), "topology": {"kind": "sparse", "edges": grid},
                      "learner": {**yaml_of(path)["learner"], "lr": [lr], "update_every": 8,
                                  "write": {"rounding": "nearest", "shadow_bits": 16,
                                            "step": step}},
                      "train": {"epochs": 1, "eval_replicas": 8}})
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (16, 64)), rng.integers(0, 10, 16)
    sparse = OmLearnerCircuit(Chip.from_spec(spec), 10)
    dense = OmLearnerCircuit(dense_twin(Chip.from_spec(spec)), 10)
    for learner in (sparse, dense):
        for k in range(2):
            learner.train_batch(x[8 * k:8 * k + 8], y[8 * k:8 * k + 8])
    assert np.any(sparse.chip.J_codes != 0)
    assert np.array_equal(sparse.chip.J_codes, dense.chip.J_codes)
    state = sparse.state_dict()
    for name in ("coupling_shadow", "J_codes") + (("coupling_mean",) if step == "adam" else ()):
        assert state[name].shape in ((len(grid),), (2 * len(grid),)), name


def yaml_of(path):
    import yaml
    return yaml.safe_load(path.read_text())
