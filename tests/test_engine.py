"""The engine against the float64 reference integrator, and its reproducibility guarantees.

Main check (STYLE 2.5, layer 2): the same standard normals are fed to the compiled kernels
(both layouts) and to :func:`thermochip.reference.reference_simulate`; the whole trajectory is
compared through an ADC that samples every step with a one-step window (``adc_analog`` is the
read-out before quantisation), the final state and the recorded energies too.
"""

from __future__ import annotations

import re

import numba
import numpy as np
import pytest

from thermochip._kernels import langevin as integrate_module
from thermochip._kernels.jit import get_num_threads, set_num_threads
from thermochip.chip import Chip
from thermochip.engine import Engine, simulate
from thermochip.errors import NumericalError
from thermochip.reference import reference_simulate
from thermochip.spec_io import load_spec

LAYOUTS = ["replicas", "batched"]


pytestmark = pytest.mark.usefixtures("one_thread")


def make_chip(spec_dict: dict) -> Chip:
    return Chip.from_spec(load_spec(spec_dict))


def f32(a):
    """float64 values that float32 represents exactly (same inputs for both precisions)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


# Chips each exercising a different part of the step. Every one samples its read-out at
# every step (sample_rate = 1/dt, window 0 = one step) so the trajectory can be compared, and
# records energies every 7 steps, so the kernels run chunks of several steps (delay lines and
# ADC windows cross chunk boundaries).
CASES = {
    # all-to-all OIM with thermal noise; a per-replica input field is passed to simulate
    "oim_thermal_hext": {
        "cells": {"model": "oim", "preset": "gower2025", "n": 5},
        "couplings": {"init": {"kind": "random", "std": 0.5}, "dac": {"bits": 16}},
        "fields": {"init": {"h": 0.2, "S": 0.8}},
        "noise": {"thermal": {"kT": 0.05}},
        "integrator": {"dt": "1 ns", "steps": 60, "energy_every": 7},
        "adc": {"bits": 8, "mode": "iq", "sample_rate": "1 GHz"},
    },
    # interconnect delay (carrier phase offset) with per-coupler jitter
    "oim_interconnect": {
        "cells": {"model": "oim", "preset": "gower2025", "n": 5},
        "couplings": {"init": {"kind": "random", "std": 0.5}, "dac": {"bits": 16}},
        "noise": {"thermal": {"kT": 0.05}},
        "delays": {"interconnect": "50 ps", "interconnect_jitter": "20 ps"},
        "integrator": {"dt": "1 ns", "steps": 60, "energy_every": 7},
        "adc": {"bits": 8, "mode": "iq", "sample_rate": "1 GHz"},
    },
    # soft spins with a jittered loop latency in 2 delay lines and cell gain/offset mismatch
    "softspin_latency_mismatch": {
        "cells": {"model": "softspin", "preset": "seed000_double_well", "n": 5},
        "couplings": {"init": {"kind": "random", "std": 0.3}, "dac": {"bits": 16}},
        "fields": {"init": {"b": 0.1}},
        "noise": {"thermal": {"kT": 0.1},
                  "mismatch": {"cell_gain": 0.1, "cell_offset": 0.05}},
        "delays": {"loop_latency": "300 ps", "latency_jitter": "150 ps", "bins": 2},
        "integrator": {"dt": "50 ps", "steps": 60, "energy_every": 7},
        "adc": {"bits": 8, "mode": "value", "sample_rate": "20 GHz"},
    },
    # layered topology (couplers between adjacent layers only) with both kinds of delay:
    # coupling blocks x delay lines
    "oim_layered_delays": {
        "cells": {"model": "oim", "preset": "gower2025", "layers": [3, 2, 2]},
        "topology": {"kind": "layered"},
        "couplings": {"init": {"kind": "random", "std": 0.6}, "dac": {"bits": 16}},
        "noise": {"thermal": {"kT": 0.05}},
        "delays": {"interconnect": "50 ps", "interconnect_jitter": "20 ps",
                   "loop_latency": "3 ns", "latency_jitter": "1.5 ns", "bins": 2},
        "integrator": {"dt": "1 ns", "steps": 60, "energy_every": 7},
        "adc": {"bits": 8, "mode": "iq", "sample_rate": "1 GHz"},
    },
}


def case_chip(name: str, dtype: str) -> Chip:
    return make_chip({**CASES[name], "run": {"dtype": dtype, "replicas": 3, "seed": 4}})


def check_case_preconditions(name: str, chip: Chip) -> None:
    """The features a case is meant to exercise are really switched on."""
    if name == "oim_interconnect":
        a = chip.alpha[chip.mask]
        assert np.all(a > 0) and np.std(a) > 0.02  # 2 pi f0 tau ~ 0.31 rad +- 0.13
    if name == "softspin_latency_mismatch":
        assert len(chip.latency_steps) == 2 and chip.latency_steps.min() >= 1
        assert np.std(chip.gain) > 0.01 and np.std(chip.offset) > 0.005
    if name == "oim_layered_delays":
        assert len(chip.latency_steps) == 2 and chip.latency_steps.max() >= 2
        assert not chip.mask[:3, :3].any() and not chip.mask[:3, 5:].any()
        assert chip.mask[:3, 3:5].all() and chip.mask[3:5, 5:].all()


def readout_trajectory(chip: Chip, traj: np.ndarray) -> np.ndarray:
    """(replica, step, cell, readout) read-outs of reference states 1..K."""
    mode = chip.model.readout_index(chip.spec.adc.mode)
    R = chip.model.readouts[mode][1]
    p = chip.model.to_kernel(chip.params, np.float64)
    ro = np.stack([chip.model.readout(p, traj[1:], mode, r) for r in range(R)], axis=-1)
    return ro.transpose(1, 0, 2, 3)


def reference_energy(chip: Chip, traj: np.ndarray, h_ext) -> np.ndarray:
    """(step+1, replica) energy of the reciprocal couplings J cos(alpha) along the reference."""
    p = chip.model.to_kernel(chip.params, np.float64)
    f0 = chip.fields[0] if h_ext is None else chip.fields[0] + h_ext
    Jr = chip.J * np.cos(chip.alpha)
    return np.stack([chip.model.energy(p, s, Jr, f0, chip.fields[1]) for s in traj])


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kernel_matches_reference(name, layout, dtype):
    chip = case_chip(name, dtype)
    check_case_preconditions(name, chip)
    B, K, N = 3, chip.steps, chip.n
    rng = np.random.default_rng(100)
    lo, hi = chip.model.init_range
    x0 = f32(rng.uniform(lo, hi, (B, N)))
    noise = f32(rng.standard_normal((B, K, N)))
    h_ext = f32(rng.normal(0.0, 0.3, (B, N))) if name == "oim_thermal_hext" else None

    res = simulate(chip, x0=x0.copy(), noise=noise, h_ext=h_ext, layout=layout)
    traj = reference_simulate(chip, x0, noise, h_ext=h_ext)

    # Tolerances. float64: both integrators do the same arithmetic up to summation order
    # (~1e-16 per step); over 60 steps of these mildly contracting dynamics that stays far
    # below 1e-9. float32: inputs are float32-exact, each step rounds a few times at
    # eps32 = 6e-8 relative; after 60 steps the measured error is <= 3e-6 (O(1) values), so
    # 1e-4 leaves a 30x margin, while a missing or misplaced term of size ~0.1 changes the
    # state by dt x 0.1 >= 5e-3 within one step.
    tol = 1e-9 if dtype == "float64" else 1e-4
    assert np.all(res.sample_steps == np.arange(1, K + 1))
    want = readout_trajectory(chip, traj)
    scale = max(1.0, np.abs(want).max())
    np.testing.assert_allclose(res.adc_analog, want, rtol=0, atol=tol * scale)
    if chip.model.periodic is not None:
        # the engine wraps phases mod 2 pi; the reference does not
        assert np.all((res.x >= 0) & (res.x <= 2 * np.pi))
        np.testing.assert_allclose(np.cos(res.x), np.cos(traj[-1]), rtol=0, atol=tol)
        np.testing.assert_allclose(np.sin(res.x), np.sin(traj[-1]), rtol=0, atol=tol)
    else:
        np.testing.assert_allclose(res.x, traj[-1], rtol=0, atol=tol * scale)
    e_ref = reference_energy(chip, traj, h_ext)[res.energy_steps]
    np.testing.assert_allclose(res.energies, e_ref, rtol=0,
                               atol=tol * max(1.0, np.abs(e_ref).max()) * N)


# Directed chips: the coupling field of cell i is sum_j J_ij x_j with J not symmetric.
DIRECTED_CASES = {
    # all-to-all, a non-symmetric `values` matrix (each direction its own device)
    "asymmetric_values": {
        "cells": {"model": "softspin", "preset": "seed000_double_well", "n": 5},
        "couplings": {"init": {"kind": "values", "J": [[0.0, 0.6, -0.3, 0.0, 0.2],
                                                        [-0.5, 0.0, 0.4, 0.1, 0.0],
                                                        [0.3, 0.2, 0.0, -0.6, 0.5],
                                                        [0.0, -0.4, 0.3, 0.0, 0.7],
                                                        [-0.2, 0.0, 0.1, -0.7, 0.0]]},
                      "dac": {"bits": 16}, "asymmetric": True},
        "fields": {"init": {"b": [0.1, -0.2, 0.0, 0.15, -0.05]}},
    },
    # feed-forward layers [2, 3, 2]: random init with coupler gain / offset mismatch
    "feedforward_mismatch": {
        "cells": {"model": "softspin", "preset": "seed000_double_well", "layers": [2, 3, 2]},
        "topology": {"kind": "layered", "feedforward": True},
        "couplings": {"init": {"kind": "random", "std": 0.6}, "dac": {"bits": 16}},
        "fields": {"init": {"b": 0.1}},
        "noise": {"mismatch": {"coupler_gain": 0.2, "coupler_offset": 0.05}},
    },
}


def numpy_euler(J, b, x0, dt, K):
    """dx = -(2 J2 x + 4 J4 x^3 + b + sum_j J_ij x_j) dt with J2 = -1, J4 = 1 (the preset),
    written out here: no noise, no mismatch of the cells."""
    x = np.array(x0, dtype=np.float64)
    for _ in range(K):
        x = x + dt * -(-2.0 * x + 4.0 * x**3 + b + x @ J.T)
    return x


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(DIRECTED_CASES))
def test_directed_chip_matches_numpy_euler(name, layout):
    """No noise, float64: the engine on a directed soft-spin chip equals a direct Euler
    integration with the chip's non-symmetric J. The transposed J (what a symmetric-assuming
    engine would use on a feed-forward chip) gives a different trajectory, so the test can
    tell the directions apart."""
    spec = {**DIRECTED_CASES[name], "integrator": {"dt": "50 ps", "steps": 40},
            "run": {"dtype": "float64", "replicas": 3, "seed": 2}}
    chip = make_chip(spec)
    assert chip.directed and np.abs(chip.J - chip.J.T).max() > 0.1
    rng = np.random.default_rng(3)
    x0 = rng.uniform(-1.0, 1.0, (3, chip.n))
    res = simulate(chip, x0=x0.copy(), noise=np.zeros((3, chip.steps, chip.n)), layout=layout)
    want = numpy_euler(chip.J, chip.fields[0], x0, chip.dt, chip.steps)
    # float64, same arithmetic up to summation order: ~1e-16 per step over 40 steps
    np.testing.assert_allclose(res.x, want, rtol=0, atol=1e-10)
    wrong = numpy_euler(chip.J.T, chip.fields[0], x0, chip.dt, chip.steps)
    assert np.abs(wrong - want).max() > 1e-3


def test_simulate_does_not_modify_x0():
    """The caller's initial state is an input: a float64 C-contiguous x0 must not be
    integrated in place (np.ascontiguousarray would return the same array)."""
    chip = case_chip("oim_thermal_hext", "float64")
    x0 = np.random.default_rng(1).uniform(0, 2 * np.pi, (3, chip.n))
    before = x0.copy()
    simulate(chip, x0=x0, steps=5)
    np.testing.assert_array_equal(x0, before)


# ---------------------------------------------------------------------------------------------
# reproducibility


REPRO_SPEC = {
    "cells": {"model": "oim", "preset": "gower2025", "n": 6},
    "couplings": {"init": {"kind": "random", "std": 0.5}},
    "noise": {"thermal": {"kT": 0.05}, "mismatch": {"cell_gain": 0.05}},
    "delays": {"interconnect": "30 ps"},
    "integrator": {"dt": "1 ns", "steps": 150, "energy_every": 25},
    "adc": {"bits": 8, "mode": "iq", "sample_rate": "100 MHz", "window": "3 ns",
            "noise": 0.01},
    "run": {"replicas": 5, "seed": 3},
}


def _same(a, b):
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.energies, b.energies)
    np.testing.assert_array_equal(a.adc_analog, b.adc_analog)
    np.testing.assert_array_equal(a.adc_codes, b.adc_codes)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_bitwise_identical_across_thread_counts(layout):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has fewer than 2 threads here")
    chip = make_chip(REPRO_SPEC)
    saved = get_num_threads()
    try:
        set_num_threads(1)
        one = simulate(chip, layout=layout)
        set_num_threads(2)
        two = simulate(chip, layout=layout)
    finally:
        set_num_threads(saved)
    _same(one, two)
    assert np.ptp(one.x) > 0 and one.adc_codes.any()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_replica_trajectory_independent_of_replica_count(layout):
    """Replica b draws its initial state and noise from its own stream: running 2 or 5
    replicas gives the first 2 replicas bit for bit (ADC noise included)."""
    chip = make_chip(REPRO_SPEC)
    two = simulate(chip, replicas=2, layout=layout)
    five = simulate(chip, replicas=5, layout=layout)
    np.testing.assert_array_equal(two.x, five.x[:2])
    np.testing.assert_array_equal(two.energies, five.energies[:, :2])
    np.testing.assert_array_equal(two.adc_analog, five.adc_analog[:2])
    np.testing.assert_array_equal(two.adc_codes, five.adc_codes[:2])
    # and the replicas are not copies of each other
    assert not np.array_equal(five.x[0], five.x[1])


def test_layouts_draw_the_same_noise():
    """The white noise is keyed by (replica, step, cell), not by how a kernel walks the chip:
    both layouts run the same trajectory (to rounding: their coupling sums add in different
    orders)."""
    chip = make_chip({**CASES["oim_thermal_hext"],
                      "run": {"replicas": 3, "seed": 2, "dtype": "float64"}})
    a, b = (simulate(chip, layout=layout) for layout in LAYOUTS)
    np.testing.assert_allclose(a.adc_analog, b.adc_analog, rtol=0, atol=1e-9)
    assert np.ptp(a.adc_analog) > 0.1


def test_engine_runs_continue_the_noise_and_checkpoint_it():
    """Consecutive runs of one engine continue each replica's noise stream (two runs of 30
    steps are one run of 60), and the state blob carries the stream position to a new engine.
    (Soft spins without latency: no phase wrap or delay history at the cut.)"""
    chip = make_chip({"cells": {"model": "softspin", "preset": "seed000_double_well", "n": 5},
                      "couplings": {"init": {"kind": "random", "std": 0.3}},
                      "noise": {"thermal": {"kT": 0.1}}, "integrator": {"dt": "50 ps", "steps": 60},
                      "run": {"replicas": 3, "seed": 2}})
    whole = Engine(chip).run(60, energy_every=0)
    first = Engine(chip)
    half = first.run(30, energy_every=0)
    second = first.run(30, x0=half.x, energy_every=0)
    np.testing.assert_array_equal(second.x, whole.x)
    resumed = Engine(chip)
    resumed.load_state_blob(Engine(chip).state_blob())  # a fresh blob rewinds nothing
    resumed.load_state_blob(first.state_blob())
    third = first.run(30, x0=second.x, energy_every=0)
    np.testing.assert_array_equal(resumed.run(30, x0=second.x, energy_every=0).x, third.x)
    assert not np.array_equal(third.x, second.x)


FLICKER = {"thermal": {"kT": 0.1},
           "flicker": {"amplitude": 0.05, "f_min": "1 MHz", "f_max": "1 GHz"}}


@pytest.mark.parametrize("noise", [
    {"thermal": {"kT": 0.1}},
    FLICKER,
], ids=["thermal", "thermal+flicker"])
def test_trajectory_independent_of_recording_interval(noise):
    """energy_every only says when energies are recorded (it sets the chunk length): the
    trajectory, the energies at common record steps and the ADC samples must not change."""
    chip = make_chip({**CASES["softspin_latency_mismatch"], "noise": noise,
                      "run": {"replicas": 2, "seed": 1}})
    a = simulate(chip, energy_every=5)
    b = simulate(chip, energy_every=10)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.adc_analog, b.adc_analog)
    np.testing.assert_array_equal(a.energies[::2], b.energies)


@pytest.mark.parametrize("shapes", [
    {"x0": (3, 0), "noise": (3, 30, 0)},   # too few noise steps (0: the chip's cell count)
    {"x0": (3, 0), "noise": (2, 60, 0)},   # too few replicas of noise
    {"x0": (5, 0)},                        # more initial states than replicas
    {"x0": (2, 0)},                        # fewer
    {"h_ext": (3, 1)},                     # one cell too many (1: cell count + 1)
], ids=["noise_steps", "noise_replicas", "x0_more", "x0_fewer", "h_ext"])
def test_wrong_array_shapes_are_rejected(shapes):
    """Wrong shapes would make the kernels read or write past their arrays."""
    chip = case_chip("softspin_latency_mismatch", "float64")
    kwargs = {k: np.zeros(s[:-1] + (chip.n + s[-1],)) for k, s in shapes.items()}
    with pytest.raises(ValueError, match="must have shape"):
        simulate(chip, replicas=3, steps=60, **kwargs)


def test_seed_changes_trajectory_and_same_seed_repeats():
    chip = make_chip(REPRO_SPEC)
    a, b = simulate(chip, seed=11), simulate(chip, seed=11)
    _same(a, b)
    c = simulate(chip, seed=12)
    assert not np.array_equal(a.x, c.x)


# ---------------------------------------------------------------------------------------------
# precision guard


def _float_types(t):
    """Every float type inside a numba argument type (array dtypes, scalars, tuple members)."""
    if isinstance(t, numba.types.Array):
        return _float_types(t.dtype)
    if isinstance(t, numba.types.Float):
        return [t]
    if isinstance(t, numba.types.BaseTuple):
        return [f for m in t.types for f in _float_types(m)]
    return []


def _kernels():
    return [obj for obj in vars(integrate_module).values()
            if isinstance(obj, numba.core.dispatcher.Dispatcher)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("spec", [CASES["oim_interconnect"],
                                  {**CASES["softspin_latency_mismatch"],
                                   "noise": {"thermal": {"kT": 0.1},
                                             "flicker": {"amplitude": 0.05, "f_min": "1 MHz",
                                                         "f_max": "1 GHz"},
                                             "mismatch": {"cell_gain": 0.1}}}],
                         ids=["oim", "softspin_flicker"])
def test_float32_run_compiles_float32_only(spec, layout):
    """After a float32 run, the kernel specialisation that took the float32 state has no
    float64 argument anywhere: not in the state, noise, drift, couplings, fields, scratch,
    ADC buffer, the step size, nor the model's parameter tuple. (Integer arrays are fine.)"""
    chip = make_chip({**spec, "run": {"dtype": "float32", "replicas": 2}})
    simulate(chip, layout=layout, steps=20)
    checked = 0
    for disp in _kernels():
        for sig in disp.nopython_signatures:
            x_type = sig.args[1]
            if not (isinstance(x_type, numba.types.Array) and x_type.dtype == numba.float32):
                continue
            checked += 1
            for k, arg in enumerate(sig.args):
                bad = [f for f in _float_types(arg) if f != numba.float32]
                assert not bad, f"{disp.py_func.__name__} argument {k} is {arg}"
    assert checked >= 1


# ---------------------------------------------------------------------------------------------
# non-finite states


def _blowup_chip(dtype):
    """Uncoupled double-well cells at dimensionless step 0.05: stable near the wells, but a
    cell started far out (|x| >~ 5) overshoots further at each step (x -> x - 0.2 x^3) and
    overflows in a few steps."""
    return make_chip({"cells": {"model": "softspin", "preset": "seed000_double_well", "n": 4},
                      "couplings": {"init": {"kind": "constant", "value": 0.0}},
                      "integrator": {"dt": "50 ps", "steps": 40, "energy_every": 5},
                      "run": {"dtype": dtype, "replicas": 3}})


def _first_nonfinite(traj):
    """(state index, replica, cell) of the first non-finite state, replicas then cells in
    order among those that fail at that index."""
    bad = ~np.isfinite(traj)
    k = int(np.argmax(bad.any(axis=(1, 2))))
    b = int(np.argmax(bad[k].any(axis=1)))
    return k, b, int(np.argmax(bad[k, b]))


MESSAGE = re.compile(r"non-finite state at step (\d+)\b.*\breplica (\d+), cell (\d+)")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_nonfinite_state_raises_with_step_replica_cell(layout):
    chip = _blowup_chip("float64")
    x0 = np.full((3, 4), 0.5)
    x0[2, 3] = 40.0   # overflows first
    x0[1, 2] = 6.0    # overflows later: must not be the one reported
    noise = np.zeros((3, 40, 4))
    with np.errstate(all="ignore"):
        traj = reference_simulate(chip, x0, noise)
    want = _first_nonfinite(traj)
    assert want[1:] == (2, 3) and 1 <= want[0] < 40
    assert not np.isfinite(traj[-1, 1, 2])  # the second cell does blow up within the run
    with pytest.raises(NumericalError) as info, np.errstate(all="ignore"):
        simulate(chip, x0=x0.copy(), noise=noise, layout=layout)
    m = MESSAGE.search(str(info.value))
    assert m, str(info.value)
    assert tuple(int(g) for g in m.groups()) == want


def test_nonfinite_state_raises_in_float32_with_random_noise():
    chip = _blowup_chip("float32")
    x0 = np.zeros((3, 4))
    x0[1, 0] = 20.0
    with pytest.raises(NumericalError, match=r"step \d+ .*replica 1, cell 0"), \
            np.errstate(all="ignore"):
        simulate(chip, x0=x0)


# ---------------------------------------------------------------------------------------------
# mismatch is part of the chip, drawn once from the seed


MISMATCH_SPEC = {
    "cells": {"model": "oim", "n": 8},
    "couplings": {"init": {"kind": "random", "std": 0.3}},
    "noise": {"mismatch": {"cell_gain": 0.05, "cell_offset": 0.02, "coupler_gain": 0.1,
                           "coupler_offset": 0.01}},
    "delays": {"interconnect_jitter": "10 ps", "latency_jitter": "2 ns", "bins": 3},
    "integrator": {"dt": "1 ns", "steps": 20},
}
MISMATCH_ARRAYS = ["gain", "offset", "coupler_gain", "coupler_offset", "J", "alpha",
                   "latency_bin"]


def _mismatch_chip(seed):
    return make_chip({**MISMATCH_SPEC, "run": {"seed": seed, "replicas": 2}})


def test_mismatch_same_seed_same_chip_different_seed_different_chip():
    a, b, c = _mismatch_chip(5), _mismatch_chip(5), _mismatch_chip(6)
    for name in MISMATCH_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ["gain", "offset", "coupler_gain", "coupler_offset", "J", "alpha"]:
        assert not np.array_equal(getattr(a, name), getattr(c, name)), name


def test_mismatch_symmetric_per_coupler_and_untouched_by_runs():
    chip = _mismatch_chip(5)
    for name in ["coupler_gain", "coupler_offset", "J", "alpha"]:
        m = getattr(chip, name)
        np.testing.assert_array_equal(m, m.T, err_msg=name)
    np.testing.assert_array_equal(chip.latency_bin[chip.mask], chip.latency_bin.T[chip.mask])
    before = {name: getattr(chip, name).copy() for name in MISMATCH_ARRAYS}
    simulate(chip, seed=1)
    simulate(chip, seed=2)
    for name in MISMATCH_ARRAYS:
        np.testing.assert_array_equal(getattr(chip, name), before[name], err_msg=name)


def test_mismatch_magnitudes():
    """Sample std of the drawn mismatch against the spec. For M iid normal draws the sample
    variance has relative std sqrt(2/(M-1)); 5 sigma: |s/sigma - 1| < 2.5 sqrt(2/(M-1))
    (half, since s = sqrt(s^2)). N = 300 cells, N(N-1)/2 = 44850 couplers."""
    N = 300
    chip = make_chip({"cells": {"model": "softspin", "n": N},
                      "couplings": {"init": {"kind": "constant", "value": 0.5}},
                      "noise": {"mismatch": {"cell_gain": 0.05, "cell_offset": 0.02,
                                             "coupler_gain": 0.1, "coupler_offset": 0.01}},
                      "integrator": {"dt": "50 ps", "steps": 1},
                      "run": {"seed": 9}})
    iu = np.triu_indices(N, 1)
    for values, sigma in [(chip.gain - 1, 0.05), (chip.offset, 0.02),
                          (chip.coupler_gain[iu] - 1, 0.1),
                          (chip.coupler_offset[iu] / chip.spec.couplings.dac.full_scale, 0.01)]:
        M = values.size
        assert abs(values.mean()) < 5 * sigma / np.sqrt(M)
        assert abs(np.sqrt(np.mean(values**2)) / sigma - 1) < 2.5 * np.sqrt(2 / (M - 1))
