"""p-bit chips sample exactly: every sampled state distribution against the Boltzmann law by
enumeration of all 2^N states (chi-square), for the exact schemes (chromatic, asynchronous)
and both layouts; the synchronous scheme and a loop latency past the flip time measurably off;
the colouring, the entropy source, mismatch and zero temperature as declared.

Statistics. Replicas are independent and samples are taken ``THIN`` sweeps apart, several
integrated autocorrelation times for these chips (kT = 1, |J| <= 0.6 per coupler, fields
<= 0.4), so the counts of the 2^N states are multinomial and
chi^2 = sum (n_s - n p_s)^2 / (n p_s) has 2^N - 1 degrees of freedom. Thresholds: the
chi-square quantile at 1 - 1e-6 (a correct sampler fails one seed in a million); the
"measurably off" cases must exceed 10 times that quantile. Fixed seeds make each test
deterministic.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from device_models.pbit import exp_clamped
from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.graph import colour_classes
from thermochip.spec_io import load_spec

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT_DIR = Path(__file__).resolve().parent.parent

THIN, SAMPLES, REPLICAS = 8, 160, 128


def spec_for(n, method: str, *, topology=None, couplings=None, fields=None, kT=1.0,
             seed=1, extra=None) -> dict:
    """A p-bit chip of n cells (a list: layer sizes), sampled every THIN steps."""
    layers = n if isinstance(n, list) else None
    n = sum(layers) if layers else n
    spec = {"cells": ({"model": "pbit", "preset": "smtj_ns", "layers": layers} if layers
                      else {"model": "pbit", "preset": "smtj_ns", "n": n}),
            "couplings": couplings or {"init": {"kind": "random", "std": 0.6},
                                       "dac": {"bits": 8, "full_scale": 1.0}},
            "fields": {"init": {"h": fields if fields is not None
                                else list(np.round(np.linspace(-0.4, 0.4, n), 3))}},
            "noise": {"thermal": {"kT": kT}},
            "adc": {"bits": 2, "full_scale": 2.0, "mode": "value",
                    "sample_rate": f"{1 / (8e-9 * THIN):.9g} Hz"},
            "integrator": {"dt": "8 ns", "steps": THIN * SAMPLES, "method": method},
            "run": {"replicas": REPLICAS, "seed": seed, "dtype": "float64"}}
    if topology is not None:
        spec["topology"] = topology
    spec.update(extra or {})
    return spec


def boltzmann(chip: Chip, kT: float) -> tuple[np.ndarray, np.ndarray]:
    """(states (2^N, N) of +-1, their probabilities) of E = -1/2 m J m - h m."""
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=chip.n)))
    E = -0.5 * np.einsum("si,ij,sj->s", states, chip.J, states) - states @ chip.fields[0]
    w = np.exp(-(E - E.min()) / kT)
    return states, w / w.sum()


def sampled(chip: Chip, layout: str = "auto", threads=None) -> np.ndarray:
    """(sample, cell) states, every THIN steps of every replica."""
    r = Engine(chip, layout=layout).run(energy_every=0)
    return np.sign(r.adc_analog[..., 0]).reshape(-1, chip.n)


def chi_square(chip: Chip, samples: np.ndarray, kT: float = 1.0) -> tuple[float, float]:
    """(chi^2 of the state counts against the Boltzmann law, its 1 - 1e-6 quantile)."""
    _, p = boltzmann(chip, kT)
    index = ((samples > 0) * 2 ** np.arange(chip.n - 1, -1, -1)).sum(axis=1)
    counts = np.bincount(index, minlength=len(p))
    expected = p * len(samples)
    return float(((counts - expected) ** 2 / expected).sum()), stats.chi2.ppf(1 - 1e-6,
                                                                                len(p) - 1)


CHIPS = {
    "dense": dict(n=7),
    "sparse": dict(n=10, topology={"kind": "sparse", "edges": [
        [0, 1], [1, 2], [2, 3], [3, 4], [4, 0], [0, 5], [5, 6], [6, 7], [7, 8], [8, 9],
        [9, 5], [2, 7]]}),
    "layered": dict(n=[4, 3, 3], topology={"kind": "layered"}),
    "strong fields": dict(n=6, fields=[0.8, -0.6, 0.0, 0.3, -0.2, 0.5]),
    "4-bit couplings": dict(n=8, couplings={"init": {"kind": "random", "std": 0.8},
                                           "dac": {"bits": 4, "full_scale": 1.0}}),
}


@pytest.mark.statistical
@pytest.mark.parametrize("method", ["chromatic", "asynchronous"])
@pytest.mark.parametrize("chip_kind", CHIPS)
def test_exact_schemes_sample_the_boltzmann_law(chip_kind, method):
    chip = Chip.from_spec(load_spec(spec_for(method=method, **CHIPS[chip_kind])))
    for layout in ("replicas", "batched"):
        chi2, limit = chi_square(chip, sampled(chip, layout))
        assert chi2 < limit, f"{layout}: chi2 {chi2:.1f} >= {limit:.1f}"


@pytest.mark.statistical
def test_synchronous_updates_are_measurably_off_on_a_frustrated_triangle():
    """Three antiferromagnetic cells: updating all at once makes them oscillate together
    (a period-2 cycle the exact sampler never has), which a chi-square sees at once."""
    triangle = {"init": {"kind": "constant", "value": -1.0}, "dac": {"bits": 8}}
    for method, off in (("chromatic", False), ("synchronous", True)):
        chip = Chip.from_spec(load_spec(spec_for(3, method, couplings=triangle,
                                                 fields=0.0, kT=0.5)))
        chi2, limit = chi_square(chip, sampled(chip), kT=0.5)
        assert (chi2 > 10 * limit) if off else (chi2 < limit), (method, chi2, limit)


@pytest.mark.statistical
def test_loop_latency_past_the_flip_time_biases_the_correlations():
    """Asynchronous updates at one update attempt per step (rate * dt = 1): a loop latency of
    0 samples exactly; 3 steps (past the flip time) measurably biases the nearest-neighbour
    correlation of a ferromagnetic ring and the state law."""
    ring = {"kind": "sparse", "edges": [[i, (i + 1) % 6] for i in range(6)]}
    couplings = {"init": {"kind": "edges", "scale": 0.7}, "dac": {"bits": 8}}
    results = {}
    for latency in ("0 s", "24 ns"):
        chip = Chip.from_spec(load_spec(spec_for(6, "asynchronous", topology=ring,
                                                 couplings=couplings, fields=0.0,
                                                 extra={"delays": {"loop_latency": latency}})))
        x = sampled(chip)
        results[latency] = (chi_square(chip, x), np.mean(x[:, 0] * x[:, 1]))
        states, p = boltzmann(chip, 1.0)
        exact = p @ (states[:, 0] * states[:, 1])
    (chi2, limit), c = results["0 s"]
    assert chi2 < limit and abs(c - exact) < 5 * np.sqrt((1 - exact ** 2) / (SAMPLES * REPLICAS))
    (chi2, limit), c = results["24 ns"]
    assert chi2 > 10 * limit and abs(c - exact) > 0.05


def test_layouts_agree_bit_for_bit_on_dac_grid_couplings_in_float64():
    """Couplings on the DAC grid and +-1 states: every coupling sum is exact in float64
    whatever its order, so the matrix-product layout and the neighbour-list layout draw
    the same states (and so on any thread count)."""
    chip = Chip.from_spec(load_spec(spec_for(9, "chromatic")))
    a = Engine(chip, layout="batched").run(200, energy_every=0).x
    b = Engine(chip, layout="replicas").run(200, energy_every=0).x
    assert np.array_equal(a, b)


@pytest.mark.parametrize("layout", ["replicas", "batched"])
def test_overlapping_adc_windows_average_the_states_they_hold(layout):
    """A sample every step with a 5-step window (a learner's phase samples): each sample is the
    mean of the 5 states ending at it (fewer at the start), the same states a 1-step window
    reads (the ADC does not touch the dynamics); 7-step chunks cross the windows."""
    base = spec_for(6, "chromatic")
    runs = {}
    for window in ("8 ns", "40 ns"):
        spec = {**base, "adc": {**base["adc"], "window": window, "sample_rate": "25 MHz"}}
        spec["integrator"]["steps"] = 60
        chip = Chip.from_spec(load_spec(spec))
        runs[window] = Engine(chip, layout=layout).run(
            sample_steps=np.arange(1, 61), energy_every=7).adc_analog[..., 0]
    states, averaged = runs["8 ns"], runs["40 ns"]
    want = np.stack([states[:, max(0, k - 5):k].mean(axis=1) for k in range(1, 61)], axis=1)
    assert np.ptp(states) > 0
    np.testing.assert_allclose(averaged, want, rtol=0, atol=1e-12)


def test_results_do_not_depend_on_the_thread_count():
    from thermochip._kernels.jit import set_num_threads

    chip = Chip.from_spec(load_spec(spec_for(9, "asynchronous", extra={
        "noise": {"thermal": {"kT": 1.0}, "mismatch": {"cell_gain": 0.1, "cell_offset": 0.1}},
        "run": {"replicas": 40, "seed": 3, "dtype": "float32"}})))
    runs = []
    for threads in (1, 2):
        set_num_threads(threads)
        runs += [Engine(chip, layout=layout).run(300, energy_every=0).adc_analog
                 for layout in ("batched", "replicas")]
    set_num_threads(1)
    assert np.array_equal(runs[0], runs[2]) and np.array_equal(runs[1], runs[3])


@pytest.mark.parametrize("seed", range(5))
def test_a_colouring_never_puts_two_coupled_cells_in_one_class(seed):
    rng = np.random.default_rng(seed)
    n = 60
    masks = {"random": rng.random((n, n)) < 0.08,
             "directed": np.triu(rng.random((n, n)) < 0.2, 1),
             "complete": ~np.eye(n, dtype=bool)}
    layers = np.zeros((n, n), dtype=bool)
    layers[:20, 20:45] = layers[20:45, 45:] = True
    masks["layered"] = layers
    for name, mask in masks.items():
        np.fill_diagonal(mask, False)
        classes = colour_classes(n, *np.nonzero(mask))
        assert sorted(np.concatenate(classes).tolist()) == list(range(n)), name
        adj = mask | mask.T
        for c in classes:
            assert not adj[np.ix_(c, c)].any(), name
    assert len(colour_classes(n, *np.nonzero(masks["layered"]))) == 2    # bipartite: two
    assert len(colour_classes(n, *np.nonzero(masks["complete"]))) == n   # complete: one each


def _single_cells(fields, kT=1.0, params=None, mismatch=None, steps=400):
    """Uncoupled cells: (chip, fraction of +1 per cell over every replica and step)."""
    n = len(fields)
    spec = spec_for(n, "chromatic", couplings={"init": {"kind": "constant", "value": 0.0}},
                    fields=list(fields), kT=kT)
    spec["cells"]["params"] = params or {}
    spec["integrator"]["steps"] = steps
    spec["adc"]["sample_rate"] = "125 MHz"  # every step: uncoupled cells forget at once
    spec["fields"]["dac"] = {"bits": 16, "full_scale": 2.0}
    if mismatch:
        spec["noise"]["mismatch"] = mismatch
    chip = Chip.from_spec(load_spec(spec))
    x = sampled(chip)
    return chip, (x > 0).mean(axis=0), len(x)


@pytest.mark.statistical
def test_each_cell_fires_up_with_the_sigmoid_of_its_input():
    """P(m = +1) = sigma(2 beta (g h + o)): ideal cells, and cells with tanh gain and offset
    mismatch (read back from the chip), within 5 binomial standard errors."""
    fields = np.linspace(-1.5, 1.5, 7)
    for mismatch in (None, {"cell_gain": 0.2, "cell_offset": 0.2}):
        chip, up, n = _single_cells(fields, kT=0.8, mismatch=mismatch)
        p = 1 / (1 + np.exp(-2 * (chip.gain * chip.fields[0] + chip.offset) / 0.8))
        assert np.all(np.abs(up - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-9), (mismatch, up, p)


@pytest.mark.statistical
def test_a_biased_entropy_source_shifts_the_threshold():
    """r = 2u - 1 + bias: P(+1) = sigma(2 beta h) - bias/2 (clipped to [0, 1])."""
    fields = np.array([-0.5, 0.0, 0.5, 2.0])
    chip, up, n = _single_cells(fields, params={"entropy_bias": 0.3})
    p = np.clip(1 / (1 + np.exp(-2 * chip.fields[0])) - 0.15, 0, 1)
    assert np.all(np.abs(up - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-9), (up, p)


@pytest.mark.statistical
def test_flicker_noise_wanders_each_cells_threshold():
    """1/f noise of rms 1 with corners at 1-10 Hz is frozen over a 3.2 us run, so each
    replica's cell sits at input eps ~ N(0, 1) and its mean read-out is tanh(eps) plus
    binomial noise: the variance of the 512 (replica, cell) means is E[tanh(eps)^2] +
    E[1 - tanh(eps)^2] / 400 (quadrature), against 1 / 400 without flicker. Tolerance 15 %:
    the variance of 512 such means has a relative spread of about 5 %."""
    eps, w = np.polynomial.hermite_e.hermegauss(80)
    t2 = (w * np.tanh(eps) ** 2).sum() / w.sum()
    for flicker, expected in ((None, 1 / 400), ({"amplitude": 1.0, "f_min": 1.0,
                                                 "f_max": 10.0}, t2 + (1 - t2) / 400)):
        spec = spec_for(4, "chromatic", couplings={"init": {"kind": "constant", "value": 0.0}},
                        fields=0.0)
        spec["integrator"]["steps"] = 400
        spec["adc"]["sample_rate"] = "125 MHz"
        if flicker:
            spec["noise"]["flicker"] = flicker
        chip = Chip.from_spec(load_spec(spec))
        x = Engine(chip).run(energy_every=0).adc_analog[..., 0]    # (replica, sample, cell)
        means = np.sign(x).mean(axis=1)
        assert abs(means.var() / expected - 1) < 0.15, (flicker, means.var(), expected)


def test_cells_sharing_an_entropy_source_draw_together():
    """Two sources for four equal cells: cells 0 and 2 (source 0) are always equal, as are 1
    and 3; with a source each they are not."""
    chip, _, _ = _single_cells([0.1] * 4, params={"entropy_sources": 2}, steps=100)
    x = sampled(chip)
    assert np.array_equal(x[:, 0], x[:, 2]) and np.array_equal(x[:, 1], x[:, 3])
    assert not np.array_equal(x[:, 0], x[:, 1])
    chip, _, _ = _single_cells([0.1] * 4, steps=100)
    assert not np.array_equal(sampled(chip)[:, 0], sampled(chip)[:, 2])


@pytest.mark.statistical
def test_asynchronous_cells_update_at_their_rate():
    """An uncoupled cell at zero input under asynchronous updates at rate 125 MHz, 1 ns
    steps: it fires with probability q = 1 - exp(-0.125) per step and then draws +-1 evenly,
    so <m_t m_{t+1}> = 1 - q = exp(-rate dt) = 0.8825. Over 128 replicas x 4 cells x 1599
    step pairs the standard error is below sqrt(1 / 8e5) ~ 0.0011 (times a few for the
    chain's correlation): tolerance 0.01."""
    spec = spec_for(4, "asynchronous", couplings={"init": {"kind": "constant", "value": 0.0}},
                    fields=0.0)
    spec["integrator"].update(dt="1 ns", steps=1600)
    spec["adc"]["sample_rate"] = "1 GHz"
    r = Engine(Chip.from_spec(load_spec(spec))).run(energy_every=0)
    m = np.sign(r.adc_analog[..., 0])
    corr = np.mean(m[:, 1:] * m[:, :-1])
    assert abs(corr - np.exp(-0.125)) < 0.01, corr


def test_zero_temperature_is_the_deterministic_sign():
    """kT = 0: every update is sign(I); a ferromagnetic pair with a field settles to the
    field's sign in every replica, and a cell with I = 0 draws an even coin."""
    chip, up, _ = _single_cells([0.3, -0.3, 0.0], kT=0.0)
    assert up[0] == 1.0 and up[1] == 0.0 and 0.45 < up[2] < 0.55


def test_exp_is_accurate_and_clamped():
    z = np.linspace(-60, 60, 20001)
    got = np.array([exp_clamped(v) for v in z])
    np.testing.assert_allclose(got, np.exp(z), rtol=1e-12)
    assert exp_clamped(1000.0) == exp_clamped(60.0) and exp_clamped(float("nan")) == 1.0


# ---------------------------------------------------------------------------------------------
# learning, exports and sweeps on p-bit chips


#: rule: (beta, the nudges of the two phases it contrasts)
RULES = {"ep": (0.5, (0.5, -0.5)), "contrastive": (6.0, (6.0, 0.0))}


@pytest.mark.statistical
@pytest.mark.parametrize("rule", RULES)
def test_the_learners_estimate_the_exact_gradient_by_enumeration(rule):
    """The accumulators' estimate on a 2-3-2 p-bit chip (a comparator ADC reads +-1 exactly)
    against the same quantity by enumeration of the 32 states: ``ep``, the symmetric
    (<dE/dtheta>_{+beta} - <dE/dtheta>_{-beta}) / 2 beta, which for Boltzmann states is the
    gradient of the free-energy difference at any beta (Litman 2025); ``contrastive``,
    <dE/dtheta>_clamped - <dE/dtheta>_free, the gradient of -log P(label | input) once the
    clamp holds the outputs (beta = 6: P(outputs = label) = 0.9998 here). Cosine >= 0.99.
    Sampling error: 256 replicas x 1900 sweeps per phase, tau ~ 1-2 sweeps, so each
    <m_i m_j> is within about 0.002 of its mean, against gradient entries up to 0.25."""
    from thermochip.learn import make_learner

    beta, (nudge_a, nudge_b) = RULES[rule]
    spec = {"cells": {"model": "pbit", "preset": "smtj_ns", "layers": [3, 2], "inputs": 2},
            "topology": "layered",
            "couplings": {"init": {"kind": "random", "std": 0.8},
                          "dac": {"bits": 12, "full_scale": 2.0}},
            "fields": {"init": {"h": [0.2, -0.1, 0.3, -0.2, 0.1]},
                       "dac": {"bits": 12, "full_scale": 2.0}},
            "noise": {"thermal": {"kT": 1.0}},
            "adc": {"bits": 1, "full_scale": 2.0, "mode": "value", "sample_rate": "125 MHz"},
            "integrator": {"dt": "8 ns", "steps": 10},
            "learner": {"rule": rule, "beta": beta, "free_steps": 2000, "nudged_steps": 2000,
                        "window": 1900, "update_every": 256},
            "run": {"seed": 3, "dtype": "float64"}}
    chip = Chip.from_spec(load_spec(spec))
    pixels = np.tile([[0.7, 0.3]], (256, 1))
    got = make_learner(chip, 2).gradient(pixels, np.zeros(256, dtype=int))
    states = np.array(list(itertools.product([-1.0, 1.0], repeat=5)))
    h = chip.fields[0] + np.concatenate([pixels[0] @ chip.input_J, [0, 0]])
    y = np.array([1.0, -1.0])

    def averages(nudge):  # the nudge adds -nudge y m_out to E (EP: nudge * loss + const)
        E = (-0.5 * np.einsum("si,ij,sj->s", states, chip.J, states) - states @ h
             - nudge * states[:, 3:] @ y)
        p = np.exp(-(E - E.min()))
        p /= p.sum()
        return np.einsum("s,si,sj->ij", p, states, states), p @ states

    (mm_a, m_a), (mm_b, m_b) = averages(nudge_a), averages(nudge_b)
    exact = {"J0": -(mm_a - mm_b)[:3, 3:], "input": -np.outer(pixels[0], (m_a - m_b)[:3]),
             "h": -(m_a - m_b)}
    if rule == "ep":
        exact = {k: v / (2 * beta) for k, v in exact.items()}
    a = np.concatenate([got[k].ravel() for k in exact])
    b = np.concatenate([exact[k].ravel() for k in exact])
    assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) > 0.99
    # the scale too: the estimate is the gradient, not only parallel to it
    assert abs(np.linalg.norm(a) / np.linalg.norm(b) - 1) < 0.05


def test_the_adjoint_rules_refuse_pbits():
    spec = {"cells": {"model": "pbit", "layers": [4, 10], "inputs": 64},
            "topology": "layered", "integrator": {"dt": "1 ns", "steps": 5},
            "adc": {"bits": 1, "full_scale": 2.0, "mode": "value", "sample_rate": "1 GHz"},
            "data": {"dataset": "digits"}, "learner": {"rule": "asymep"}}
    with pytest.raises(Exception, match="cells.model.*asymep adds its adjoint correction"):
        load_spec(spec)


def test_a_pbit_run_exports_reloads_and_sweeps(tmp_path):
    """The p-bit quickstart, cut down: trains above chance in one epoch, every export format
    reloads to the same codes and an eval-only run from the export scores exactly as the run
    did; a sweep over the loop latency runs its points."""
    import yaml

    from thermochip import export, sweep
    from thermochip.results import save_run
    from thermochip.training import train

    root = ROOT_DIR
    d = yaml.safe_load((root / "examples/pbit_quickstart.yaml").read_text())
    d["data"].update(train_size=400, test_size=200)
    d["train"].update(epochs=1)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(d))
    result = train(load_spec(path), base_dir=root / "examples")
    assert result.test.accuracy > 0.3            # chance is 0.1
    save_run(tmp_path / "run.h5", result)
    for fmt in export.FORMATS:
        out = tmp_path / f"exp_{fmt}"
        export.write_export(tmp_path / "run.h5", fmt, out)
        codes = export.codes_for_chip(out)
        assert np.array_equal(codes["couplings"], result.chip.J_codes), fmt
        assert np.array_equal(codes["input_codes"], result.chip.input_codes), fmt
    again = train(load_spec(path), base_dir=root / "examples", couplings=tmp_path / "exp_c",
                  eval_only=True)
    assert again.test.accuracy == result.test.accuracy
    rows = sweep.run_sweep(path, ["delays.loop_latency=0,67ns"], 1, tmp_path / "study",
                           workers=1)
    assert len(rows) == 2 and all(0 <= r["test_accuracy"] <= 1 for r in rows)


def test_the_sampler_example_reports_a_correlated_ferromagnet(tmp_path, capsys):
    """examples/pbit_sampler.yaml: 256 p-bits on a periodic lattice just above the critical
    coupling: neighbours strongly correlated, no net magnetisation, and the statistics
    stored."""
    import h5py

    from thermochip.cli import main

    out = tmp_path / "s.h5"
    assert main(["simulate", str(ROOT_DIR / "examples/pbit_sampler.yaml"), "--replicas", "8",
                 "--steps", "400", "--out", str(out)]) == 0
    assert "effective samples" in capsys.readouterr().out
    with h5py.File(out) as f:
        g = f["sampling"]
        assert g["coupler_correlation"].shape == (512,)
        assert 0.3 < g.attrs["mean_coupler_correlation"] < 0.9
        assert g.attrs["mean_abs_magnetisation"] < 0.2
