"""DACs and ADCs: the chip's values exist only as integer codes, and every sample passes an ADC.

DAC (device_models/dac.py, Chip couplings and fields): b bits over [-FS, FS], codes in [-L, L],
L = 2^(b-1) - 1, LSB = FS / L. ADC (device_models/adc.py): bipolar [-FS, FS), 2^b codes,
LSB = 2 FS / 2^b, reconstruction at bin centres.
"""

from __future__ import annotations

import numpy as np
import pytest

from device_models import adc, dac
from thermochip.chip import Chip
from thermochip.engine import Engine, simulate
from thermochip.reference import reference_simulate
from thermochip.spec_io import load_spec

LAYOUTS = ["replicas", "batched"]


pytestmark = pytest.mark.usefixtures("one_thread")


def make_chip(spec_dict: dict) -> Chip:
    return Chip.from_spec(load_spec(spec_dict))


# ---------------------------------------------------------------------------------------------
# coupling and field DACs on the chip


def test_dac_levels_and_lsb():
    assert dac.levels(8) == 127 and dac.levels(2) == 1
    assert dac.lsb(8, 1.5) == pytest.approx(1.5 / 127)
    # mid-tread: zero and +-full scale are exact codes
    codes, clipped = dac.to_codes([0.0, 1.5, -1.5], 8, 1.5, "nearest")
    assert codes.tolist() == [0, 127, -127] and clipped == 0


def test_chip_coupling_codes_on_grid_symmetric_and_clipping_counted():
    """Explicit target couplings, some beyond full scale: codes, analog values and the clip
    count follow from nearest rounding computed here independently."""
    N, bits, fs = 6, 5, 0.8
    L = 2 ** (bits - 1) - 1
    lsb = fs / L
    rng = np.random.default_rng(0)
    target = np.triu(rng.uniform(-1.3, 1.3, (N, N)), 1)
    # boundary cases: 0.4 LSB past full scale rounds back to L (not clipped), 0.6 LSB is
    # clipped, and an exact grid value
    target[0, 1], target[0, 2], target[0, 3] = fs + 0.4 * lsb, -(fs + 0.6 * lsb), 3 * lsb
    target = target + target.T
    chip = make_chip({"cells": {"model": "softspin", "n": N},
                      "couplings": {"init": {"kind": "values", "J": target.tolist()},
                                    "dac": {"bits": bits, "full_scale": fs}},
                      "fields": {"init": {"b": [0.5, 3.0, -2.5, 0.0, 1.0, -1.0]}},
                      "integrator": {"dt": "50 ps", "steps": 1}})
    codes = chip.J_codes
    assert np.issubdtype(codes.dtype, np.integer)
    assert np.all(np.abs(codes) <= L)
    np.testing.assert_array_equal(codes, codes.T)
    np.testing.assert_array_equal(np.diag(codes), 0)
    want = np.clip(np.rint(target / lsb), -L, L)
    np.testing.assert_array_equal(codes, want)
    assert codes[0, 1] == L and codes[0, 2] == -L and codes[0, 3] == 3
    # no mismatch and no write noise: the analog J is exactly on the grid
    np.testing.assert_array_equal(chip.J, codes * dac.lsb(bits, fs))
    # clipping: one count per coupler (upper triangle) plus the two field registers beyond
    # the default field DAC range of +-2
    iu = np.triu_indices(N, 1)
    n_couplers = int(np.count_nonzero(np.abs(np.rint(target[iu] / lsb)) > L))
    assert 0 < n_couplers < len(iu[0])
    assert chip.dac_clipped == n_couplers + 2
    assert chip.fields[0, 1] == pytest.approx(2.0) and chip.fields[0, 2] == pytest.approx(-2.0)


def test_chip_random_couplings_on_grid_and_clip_count():
    """Random targets (std 0.6, full scale 1): about 10% of couplers beyond full scale."""
    N, bits = 30, 6
    chip = make_chip({"cells": {"model": "oim", "n": N},
                      "couplings": {"init": {"kind": "random", "std": 0.6},
                                    "dac": {"bits": bits, "full_scale": 1.0}},
                      "integrator": {"dt": "1 ns", "steps": 1}})
    L = dac.levels(bits)
    np.testing.assert_array_equal(chip.J_codes, chip.J_codes.T)
    assert np.abs(chip.J_codes).max() == L
    np.testing.assert_array_equal(chip.J, chip.J_codes * dac.lsb(bits, 1.0))
    iu = np.triu_indices(N, 1)
    at_rail = int(np.count_nonzero(np.abs(chip.J_codes[iu]) == L))
    # clipped couplers sit at +-L; some couplers can round onto L without clipping
    assert 0 < chip.dac_clipped <= at_rail


def stochastic_codes(v_lsb, M, seed):
    rng = np.random.default_rng(seed)
    return dac.to_codes(np.full(M, v_lsb * dac.lsb(8, 1.0)), 8, 1.0, "stochastic", rng)[0]


@pytest.mark.parametrize("v_lsb", [3.1, -7.3, 0.5, 12.77, -0.02])
def test_stochastic_rounding_is_unbiased(v_lsb):
    """code = floor(v) + Bernoulli(f), f the fractional part of v (in LSB), so
    E[code] = v and Var[code] = f (1 - f). With M = 200000 independent roundings the mean code
    has standard error sqrt(f (1 - f) / M) <= 1.1e-3 LSB; we require |mean - v| < 5 SE.
    The sample variance of a Bernoulli(f) mean-M sample has std
    sqrt(f (1 - f) (1 - 6 f (1 - f)) / M + ...) <= sqrt(f(1-f)/M); also 5 SE."""
    M = 200_000
    codes = stochastic_codes(v_lsb, M, seed=1)
    lo = np.floor(v_lsb)
    f = v_lsb - lo
    assert set(np.unique(codes)) <= {lo, lo + 1}
    se = np.sqrt(f * (1 - f) / M)
    assert abs(codes.mean() - v_lsb) < 5 * se
    assert abs(codes.var() - f * (1 - f)) < 5 * np.sqrt(f * (1 - f) / M)
    # nearest rounding of the same value is biased by a deterministic min(f, 1 - f)
    nearest, _ = dac.to_codes(np.full(4, v_lsb * dac.lsb(8, 1.0)), 8, 1.0, "nearest")
    assert abs(nearest.mean() - v_lsb) == pytest.approx(min(f, 1 - f), abs=1e-9)
    if min(f, 1 - f) > 0.05:
        assert abs(nearest.mean() - v_lsb) > 100 * se


def test_stochastic_rounding_on_the_chip():
    """A constant target 0.3 LSB above a grid point written to N(N-1)/2 = 1225 couplers with
    stochastic rounding: the mean code is within 5 SE (SE = sqrt(0.21/1225) = 0.013 LSB) of
    the target, the codes differ from seed to seed, and J stays symmetric."""
    N, bits, fs = 50, 8, 1.0
    lsb = dac.lsb(bits, fs)
    v = 20.3 * lsb

    def chip(seed):
        return make_chip({"cells": {"model": "oim", "n": N},
                          "couplings": {"init": {"kind": "constant", "value": v},
                                        "dac": {"bits": bits, "full_scale": fs,
                                                "rounding": "stochastic"}},
                          "integrator": {"dt": "1 ns", "steps": 1}, "run": {"seed": seed}})
    a, b = chip(1), chip(2)
    iu = np.triu_indices(N, 1)
    codes = a.J_codes[iu]
    assert set(np.unique(codes)) == {20, 21}
    se = np.sqrt(0.3 * 0.7 / codes.size)
    assert abs(codes.mean() - 20.3) < 5 * se
    np.testing.assert_array_equal(a.J_codes, a.J_codes.T)
    assert not np.array_equal(a.J_codes, b.J_codes)


def test_write_noise_std():
    """Write noise w LSB rms per coupler, held after the write. With M = N(N-1)/2 = 1770
    couplers the errors e = J - code*LSB (in LSB) are iid N(0, w^2), so sum(e^2)/w^2 is
    chi-square with M degrees of freedom: relative std of the mean square sqrt(2/M) = 0.034,
    5 sigma bound 0.17; the mean has SE w/sqrt(M), 5 SE bound."""
    N, bits, fs, w = 60, 8, 1.0, 0.5
    lsb = dac.lsb(bits, fs)
    chip = make_chip({"cells": {"model": "oim", "n": N},
                      "couplings": {"init": {"kind": "constant", "value": 32 * lsb},
                                    "dac": {"bits": bits, "full_scale": fs, "write_noise": w}},
                      "integrator": {"dt": "1 ns", "steps": 1}, "run": {"seed": 3}})
    np.testing.assert_array_equal(chip.J_codes[~np.eye(N, dtype=bool)], 32)
    np.testing.assert_array_equal(chip.J, chip.J.T)  # one device per pair
    np.testing.assert_array_equal(np.diag(chip.J), 0.0)
    iu = np.triu_indices(N, 1)
    e = (chip.J[iu] - 32 * lsb) / lsb
    M = e.size
    assert abs(e.mean()) < 5 * w / np.sqrt(M)
    assert abs(np.mean(e**2) / w**2 - 1) < 5 * np.sqrt(2 / M)
    # a new write of the same codes draws new write noise
    before = chip.J.copy()
    chip.registers.couplings.write(chip.J_codes)
    assert not np.array_equal(chip.J, before)
    e2 = (chip.J[iu] - 32 * lsb) / lsb
    assert abs(np.mean(e2**2) / w**2 - 1) < 5 * np.sqrt(2 / M)


# ---------------------------------------------------------------------------------------------
# directed couplers: couplings.asymmetric and topology.feedforward


def layer_of(sizes: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def test_feedforward_mask_has_only_layer_k_into_k_plus_1():
    """mask[i, j]: a device carries cell j into cell i. Feed-forward on layers [3, 4, 2]: only
    i in layer k+1, j in layer k (3*4 + 4*2 = 20 devices); the reciprocal chip has those and
    their mirrors. Couplings exist exactly on the mask."""
    sizes = [3, 4, 2]

    def chip(feedforward):
        return make_chip({"cells": {"model": "softspin", "layers": sizes},
                          "topology": {"kind": "layered", "feedforward": feedforward},
                          "couplings": {"init": {"kind": "random", "std": 0.5},
                                        "dac": {"bits": 16}},
                          "integrator": {"dt": "1 ns", "steps": 1}})
    ff, rec = chip(True), chip(False)
    layer = layer_of(sizes)
    want = layer[:, None] == layer[None, :] + 1
    np.testing.assert_array_equal(ff.mask, want)
    np.testing.assert_array_equal(rec.mask, want | want.T)
    assert ff.directed and not rec.directed
    assert ff.n_couplers == 20 and rec.n_couplers == 20 and int(rec.mask.sum()) == 40
    assert np.all(ff.J[~want] == 0) and np.all(ff.J_codes[~want] == 0)
    assert np.all(ff.J[want] != 0)  # std 0.5 at 16 bits: no coupler rounds to zero
    # the engine's dense blocks: only the forward ones (rows in layer k+1, columns in layer k)
    assert ff.coupling_blocks() == [(3, 7, 0, 3), (7, 9, 3, 7)]
    covered = np.zeros_like(want)
    for r0, r1, c0, c1 in rec.coupling_blocks():
        covered[r0:r1, c0:c1] = True
    assert np.all(covered[rec.mask])


ASYM_SPEC = {
    "cells": {"model": "oim", "preset": "gower2025", "n": 6},
    "couplings": {"init": {"kind": "random", "std": 0.4}, "dac": {"bits": 8}},
    "noise": {"mismatch": {"cell_gain": 0.05, "cell_offset": 0.02, "coupler_gain": 0.1,
                           "coupler_offset": 0.01}},
    "delays": {"interconnect": "20 ps", "interconnect_jitter": "10 ps",
               "loop_latency": "4 ns", "latency_jitter": "2 ns", "bins": 64},
    "integrator": {"dt": "1 ns", "steps": 1},
    "run": {"seed": 11},
}


def asym_chip(asymmetric: bool, **couplings) -> Chip:
    spec = {**ASYM_SPEC, "couplings": {**ASYM_SPEC["couplings"], **couplings,
                                       "asymmetric": asymmetric}}
    return make_chip(spec)


def test_asymmetric_chip_has_independent_devices_with_equal_initial_codes():
    """couplings.asymmetric: random init writes one value per pair to both devices (equal codes
    with nearest rounding), but each direction draws its own gain / offset mismatch and delay
    jitter, so J, alpha and the latencies are not symmetric. The draws use the same numbers as
    the reciprocal chip's, so the upper triangles and the per-cell mismatch agree with it."""
    a, r = asym_chip(True), asym_chip(False)
    assert a.directed and not r.directed
    off = ~np.eye(a.n, dtype=bool)
    np.testing.assert_array_equal(a.mask, off)
    np.testing.assert_array_equal(a.J_codes, a.J_codes.T)       # one value per pair ...
    np.testing.assert_array_equal(a.J_codes, r.J_codes)
    for name in ("coupler_gain", "coupler_offset", "J", "alpha"):  # ... on two devices
        m = getattr(a, name)
        assert np.all(m[off] != m.T[off]), name
        np.testing.assert_array_equal(getattr(r, name), getattr(r, name).T, err_msg=name)
        iu = np.triu_indices(a.n, 1)
        np.testing.assert_array_equal(m[iu], getattr(r, name)[iu], err_msg=name)
    lat = a.latency_steps[a.latency_bin]
    assert np.any(lat[off] != lat.T[off])
    np.testing.assert_array_equal(a.gain, r.gain)
    np.testing.assert_array_equal(a.offset, r.offset)
    assert a.n_couplers == 30 and r.n_couplers == 15


def test_asymmetric_write_noise_and_stochastic_rounding_per_device():
    """Write noise and stochastic rounding act per device on a directed chip: after a write
    with noise the analog J is not symmetric (it is on a reciprocal chip)."""
    lsb = dac.lsb(8, 1.0)
    kw = {"init": {"kind": "constant", "value": 20.5 * lsb},
          "dac": {"bits": 8, "full_scale": 1.0, "write_noise": 0.3, "rounding": "stochastic"}}
    spec = {**ASYM_SPEC, "noise": {}, "delays": {}}
    a = make_chip({**spec, "couplings": {**kw, "asymmetric": True}})
    r = make_chip({**spec, "couplings": {**kw, "asymmetric": False}})
    off = ~np.eye(a.n, dtype=bool)
    assert set(np.unique(a.J_codes[off])) == {20, 21}
    assert np.any(a.J_codes != a.J_codes.T)                       # rounded per device
    np.testing.assert_array_equal(r.J_codes, r.J_codes.T)
    assert np.all(a.J[off] != a.J.T[off])                         # written per device
    np.testing.assert_array_equal(r.J, r.J.T)
    a.registers.couplings.write(np.full((a.n, a.n), 7) * off)
    assert np.all(a.J[off] != a.J.T[off])


def test_asymmetric_values_init_keeps_both_directions():
    """A non-symmetric `values` matrix: J[i][j] (cell j into cell i) becomes the code of the
    device from j into i, independently of J[j][i]."""
    N, bits, fs = 4, 8, 1.0
    rng = np.random.default_rng(5)
    target = rng.uniform(-0.9, 0.9, (N, N))
    np.fill_diagonal(target, 0.0)
    chip = make_chip({"cells": {"model": "softspin", "n": N},
                      "couplings": {"init": {"kind": "values", "J": target.tolist()},
                                    "dac": {"bits": bits, "full_scale": fs},
                                    "asymmetric": True},
                      "integrator": {"dt": "1 ns", "steps": 1}})
    want = np.rint(target / dac.lsb(bits, fs))
    np.testing.assert_array_equal(chip.J_codes, want)
    assert np.any(want != want.T)
    np.testing.assert_array_equal(chip.J, want * dac.lsb(bits, fs))


def test_reciprocal_chip_draws_unchanged():
    """A reciprocal chip is what it was before directed couplers existed: recompute its
    couplings from the chip stream, draw by draw (random init, then nearest rounding of the
    upper triangle, coupler gain, coupler offset, cell gain, cell offset, write noise), one
    draw per pair."""
    from thermochip.streams import chip_stream

    N, bits, fs, std, cg, co, w = 7, 6, 1.0, 0.3, 0.1, 0.02, 0.4
    chip = make_chip({"cells": {"model": "softspin", "n": N},
                      "couplings": {"init": {"kind": "random", "std": std},
                                    "dac": {"bits": bits, "full_scale": fs, "write_noise": w}},
                      "noise": {"mismatch": {"cell_gain": 0.05, "cell_offset": 0.02,
                                             "coupler_gain": cg, "coupler_offset": co}},
                      "integrator": {"dt": "1 ns", "steps": 1}, "run": {"seed": 21}})
    rng = chip_stream(21)

    def sym(a):
        a = np.triu(a, 1)
        return a + a.T

    lsb, L = dac.lsb(bits, fs), dac.levels(bits)
    target = sym(rng.standard_normal((N, N)) * std)
    codes = sym(np.clip(np.rint(target / lsb), -L, L))
    gain = 1.0 + cg * sym(rng.standard_normal((N, N)))
    offset = co * fs * sym(rng.standard_normal((N, N)))
    rng.standard_normal(N), rng.standard_normal(N)          # cell gain and offset
    written = sym(codes * lsb + w * lsb * rng.standard_normal((N, N)))
    np.testing.assert_array_equal(chip.J_codes, codes)
    np.testing.assert_allclose(chip.J, np.where(~np.eye(N, dtype=bool),
                                                written * gain + offset, 0.0),
                               rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# ADC model


@pytest.mark.parametrize("bits,fs", [(1, 1.0), (6, 1.3), (10, 0.25)])
def test_adc_error_at_most_half_lsb_inside_range(bits, fs):
    lsb = adc.lsb(bits, fs)
    assert lsb == pytest.approx(2 * fs / 2 ** bits)
    v = np.linspace(-fs, fs, 400_001)[:-1]            # dense grid over [-FS, FS)
    edges = -fs + lsb * np.arange(2 ** bits)           # every bin edge, exactly
    v = np.concatenate([v, edges, np.nextafter(edges[1:], -np.inf), [np.nextafter(fs, 0)]])
    codes, sat = adc.quantise(v, bits, fs)
    assert codes.dtype.kind == "u"
    assert codes.min() == 0 and codes.max() == 2 ** bits - 1
    assert not sat.any()
    err = adc.reconstruct(codes, bits, fs) - v
    # LSB/2 up to the rounding of (v + FS)/LSB (a few ulp of FS)
    assert np.abs(err).max() <= lsb / 2 + 8 * np.spacing(fs)
    order = np.argsort(v, kind="stable")
    assert np.all(np.diff(codes[order].astype(np.int64)) >= 0)    # monotone
    assert len(np.unique(codes)) == 2 ** bits                      # no missing code
    # a value on a bin edge opens the bin above it; exact when FS is a power of two (the edges
    # are then exact binary fractions), else up to the rounding of (v + FS) / LSB
    edge_codes = adc.quantise(edges, bits, fs)[0].astype(np.int64)
    if np.log2(fs) == round(np.log2(fs)):
        np.testing.assert_array_equal(edge_codes, np.arange(2 ** bits))
    else:
        assert np.all(np.isin(edge_codes - np.arange(2 ** bits), [-1, 0]))


def test_adc_saturation_counted_exactly():
    bits, fs = 4, 1.0
    v = np.array([-1.0, -1.0000001, -5.0, 1.0, 0.9999999, 1.5, 7.0, 0.0, -np.inf, np.inf])
    codes, sat = adc.quantise(v, bits, fs)
    np.testing.assert_array_equal(
        sat, [False, True, True, True, False, True, True, False, True, True])
    assert int(sat.sum()) == 7
    np.testing.assert_array_equal(codes[v < -fs], 0)
    np.testing.assert_array_equal(codes[v >= fs], 2 ** bits - 1)
    assert codes[0] == 0 and codes[4] == 2 ** bits - 1


# ---------------------------------------------------------------------------------------------
# ADC through the engine


def test_engine_adc_codes_and_saturation_consistent_with_analog():
    """Ornstein--Uhlenbeck cells (J2 = 1/2, kT = 1: stationary std 1) read by an ADC of full
    scale 1: a large fraction of the samples saturate. Codes, reconstructed values and
    saturation counts must follow from adc_analog exactly (no ADC noise)."""
    fs, bits = 1.0, 6
    chip = make_chip({"cells": {"model": "softspin", "preset": "linear_ou", "n": 3},
                      "couplings": {"init": {"kind": "random", "std": 0.1}},
                      "noise": {"thermal": {"kT": 1.0}},
                      "integrator": {"dt": "100 ps", "steps": 400, "energy_every": 100},
                      "adc": {"bits": bits, "full_scale": fs, "mode": "value",
                              "sample_rate": "2 GHz"},
                      "run": {"replicas": 4, "seed": 2}})
    res = simulate(chip)
    an = res.adc_analog
    assert an.shape == (4, 80, 3, 1)
    np.testing.assert_array_equal(res.sample_steps, np.arange(5, 401, 5))
    codes, sat = adc.quantise(an, bits, fs)
    np.testing.assert_array_equal(res.adc_codes, codes)
    assert res.adc_codes.max() < 2 ** bits
    np.testing.assert_array_equal(res.adc_values, adc.reconstruct(codes, bits, fs))
    want_sat = ((an < -fs) | (an >= fs)).sum(axis=(0, 1))
    np.testing.assert_array_equal(res.adc_saturated, want_sat)
    n = an.shape[0] * an.shape[1]
    assert np.all(want_sat > 0.1 * n) and np.all(want_sat < 0.6 * n)  # P(|x|>1) ~ 0.32
    inside = (an >= -fs) & (an < fs)
    lsb = adc.lsb(bits, fs)
    assert np.abs(res.adc_values - an)[inside].max() <= lsb / 2 + 1e-12


WINDOW_SPECS = {
    "softspin": {"cells": {"model": "softspin", "preset": "seed000_double_well", "n": 3},
                 "couplings": {"init": {"kind": "random", "std": 0.3}, "dac": {"bits": 16}},
                 "noise": {"thermal": {"kT": 0.2}},
                 "integrator": {"dt": "50 ps", "steps": 100},
                 "adc": {"bits": 10, "full_scale": 2.0, "mode": "value",
                         "sample_rate": "2 GHz", "window": "200 ps"}},
    "oim_iq": {"cells": {"model": "oim", "preset": "gower2025", "n": 3},
               "couplings": {"init": {"kind": "random", "std": 0.5}, "dac": {"bits": 16}},
               "noise": {"thermal": {"kT": 0.1}},
               "integrator": {"dt": "1 ns", "steps": 100},
               "adc": {"bits": 10, "mode": "iq", "sample_times": ["7 ns", "20 ns", "50 ns",
                                                                  "60 ns", "99 ns"],
                       "window": "3 ns"}},
    "oim_phase": {"cells": {"model": "oim", "preset": "gower2025", "n": 3},
                  "couplings": {"init": {"kind": "random", "std": 0.5}, "dac": {"bits": 16}},
                  "noise": {"thermal": {"kT": 0.1}},
                  "integrator": {"dt": "1 ns", "steps": 100},
                  "adc": {"bits": 10, "full_scale": 3.2, "mode": "phase",
                          "sample_rate": "100 MHz", "window": "4 ns"}},
}


@pytest.mark.parametrize("energy_every", [7, 100])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(WINDOW_SPECS))
def test_engine_adc_window_average_matches_reference(name, layout, energy_every):
    """adc_analog[b, s] is the mean read-out over the w states ending at the sample's state
    index k_s: states k_s - w + 1 .. k_s of the reference trajectory (same injected noise).
    energy_every sets the kernel's chunk length: windows across chunk boundaries (7) and all
    in one chunk (100)."""
    chip = make_chip({**WINDOW_SPECS[name], "run": {"dtype": "float64", "replicas": 2}})
    B, K, N = 2, chip.steps, chip.n
    rng = np.random.default_rng(7)
    lo, hi = chip.model.init_range
    x0 = rng.uniform(lo, hi, (B, N))
    noise = rng.standard_normal((B, K, N))
    res = simulate(chip, x0=x0.copy(), noise=noise, layout=layout, energy_every=energy_every)
    traj = reference_simulate(chip, x0, noise)
    a = chip.spec.adc
    w = int(round(a.window / chip.spec.integrator.dt))
    mode = chip.model.readout_index(a.mode)
    R = chip.model.readouts[mode][1]
    p = chip.model.to_kernel(chip.params, np.float64)
    want = np.empty((B, len(res.sample_steps), N, R))
    for s, k in enumerate(res.sample_steps):
        states = traj[k - w + 1:k + 1]
        for r in range(R):
            want[:, s, :, r] = chip.model.readout(p, states, mode, r).mean(axis=0)
    assert w > 1 and len(res.sample_steps) >= 5
    # float64, same arithmetic up to summation order: 1e-9 (see test_engine)
    np.testing.assert_allclose(res.adc_analog, want, rtol=0, atol=1e-9)
    # the window matters: the last state alone differs from the window mean
    last = np.stack([chip.model.readout(p, traj[res.sample_steps], mode, r)
                     for r in range(R)], axis=-1).transpose(1, 0, 2, 3)
    assert np.abs(last - want).max() > 1e-3


#: sample state indices closer together than the window: every step, and an irregular set
OVERLAPPING = {"every step": None, "irregular": [2, 3, 4, 9, 10, 11, 30, 31, 99, 100]}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("samples", list(OVERLAPPING))
@pytest.mark.parametrize("name", ["softspin", "oim_iq"])
def test_engine_adc_overlapping_windows_match_reference(name, samples, layout):
    """Samples closer together than the ADC window (a learner's phase samples every step): each
    sample is still the mean read-out over the w states ending at its index (fewer at the
    start of the run: states 1 .. k_s when k_s < w), checked against the reference
    trajectory; chunks of 7 steps put windows across chunk boundaries."""
    chip = make_chip({**WINDOW_SPECS[name], "run": {"dtype": "float64", "replicas": 2}})
    B, K, N = 2, chip.steps, chip.n
    steps = np.arange(1, K + 1) if OVERLAPPING[samples] is None else np.array(
        OVERLAPPING[samples])
    rng = np.random.default_rng(8)
    lo, hi = chip.model.init_range
    x0 = rng.uniform(lo, hi, (B, N))
    noise = rng.standard_normal((B, K, N))
    res = Engine(chip, layout=layout).run(x0=x0.copy(), noise=noise, sample_steps=steps,
                                          energy_every=7)
    traj = reference_simulate(chip, x0, noise)
    w = int(round(chip.spec.adc.window / chip.spec.integrator.dt))
    mode = chip.model.readout_index(chip.spec.adc.mode)
    p = chip.model.to_kernel(chip.params, np.float64)
    want = np.stack([np.stack([chip.model.readout(p, traj[max(1, k - w + 1):k + 1], mode, r)
                               .mean(axis=0) for r in range(chip.model.readouts[mode][1])],
                              axis=-1) for k in steps], axis=1)
    assert w > 1 and np.diff(steps).min() < w
    np.testing.assert_allclose(res.adc_analog, want, rtol=0, atol=1e-9)


def test_engine_adc_input_noise_std():
    """A cell held exactly at 0 (linear cell, no thermal noise, no field, no coupling) read by
    an ADC with input noise sigma = 0.05 and LSB = 2/2^12 = 4.9e-4. Each reconstructed value is
    sigma * z + u, u the quantisation error (dithered by the noise: uniform, variance LSB^2/12),
    so the variance is s^2 = sigma^2 + LSB^2/12. With M = 4 x 250 x 4 = 4000 iid samples, the
    mean square has relative std sqrt(2/M) = 0.022: 5 sigma bound 0.11; the mean has
    SE sqrt(s^2/M): 5 SE bound. Lag-one correlation of successive samples: SE 1/sqrt(M')."""
    sigma, bits, fs = 0.05, 12, 1.0
    chip = make_chip({"cells": {"model": "softspin", "preset": "linear_ou", "n": 4},
                      "couplings": {"init": {"kind": "constant", "value": 0.0}},
                      "integrator": {"dt": "100 ps", "steps": 500, "energy_every": 100},
                      "adc": {"bits": bits, "full_scale": fs, "mode": "value",
                              "sample_rate": "5 GHz", "noise": sigma},
                      "run": {"replicas": 4, "seed": 8}})
    res = simulate(chip, x0=np.zeros((4, 4)))
    np.testing.assert_array_equal(res.adc_analog, 0.0)   # the noise is added at the ADC only
    v = res.adc_values[..., 0]                            # (replica, sample, cell)
    M = v.size
    assert M == 4000
    s2 = sigma**2 + adc.lsb(bits, fs) ** 2 / 12
    assert abs(v.mean()) < 5 * np.sqrt(s2 / M)
    assert abs(np.mean(v**2) / s2 - 1) < 5 * np.sqrt(2 / M)
    a, b = v[:, :-1].ravel(), v[:, 1:].ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(a.size)
    c0, c1 = v[..., 0].ravel(), v[..., 1].ravel()       # and across cells
    assert abs(np.corrcoef(c0, c1)[0, 1]) < 5 / np.sqrt(c0.size)
    assert res.adc_saturated.sum() == 0
