"""Every registered cell model against its own energy, and the kernels' dispatch against the
Python fallback.

The engine integrates ``dx_i/dt~ = g_i [local_force + coupling_force(G_i)]`` with channel fields
``G_ic = sum_j J_ij ch_c(x_j)``; the stationary law exp(-V/kT) holds only if that bracket is
exactly -dV/dx_i of ``model.energy``. The learner uses ``pair_grad_J = dV/dJ_ij``. Both are
checked here by central finite differences in float64, for every model in the registry, so a new
model is tested as soon as it registers.

Finite-difference tolerance: the central difference with step h has truncation error
h^2 |V'''| / 6 and round-off about eps |V| / h (eps = 2.2e-16). With h = 1e-5 and |V|, |V'''| of
order 10 (the random states, fields and couplings below), both are below 1e-9, so a relative
tolerance of 1e-6 (plus an absolute 1e-7 for forces that cancel to ~0) cannot be met by a sign
or factor-of-two error, and is met with a wide margin by a correct model.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest

import device_models
from device_models import trig
from thermochip._kernels import dispatch
from thermochip.chip import Chip
from thermochip.engine import simulate
from thermochip.spec_io import load_spec
from thermochip.units import parse_quantity

MODELS = device_models.list_models()
H = 1e-5
RTOL, ATOL = 1e-6, 1e-7


def kernel_params(model, dtype=np.float64):
    return model.to_kernel(model.params(), dtype)


def random_states(model, rng, shape):
    """States a cell can hold: its discrete levels (p-bits: +-1), phases, or real values."""
    if model.discrete_states is not None:
        return rng.choice(model.discrete_states, shape)
    if model.periodic is not None:
        return rng.uniform(0.0, model.periodic, shape)
    return rng.normal(0.0, 1.0, shape)


def random_symmetric(rng, n, scale=0.7):
    a = np.triu(rng.normal(0.0, scale, (n, n)), 1)
    return a + a.T


def channel_fields(model, p, x, J):
    """G[c] = J @ ch_c(x) per replica: (channel, replica, cell)."""
    return np.stack([model.channel(p, x, c) @ J.T for c in range(model.n_channels)])


def test_registry_is_not_empty():
    assert {"oim", "softspin"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_local_force_is_minus_gradient_of_local_energy(name):
    model = device_models.get_model(name)
    p = kernel_params(model)
    rng = np.random.default_rng(10)
    x = random_states(model, rng, 200)
    f0, f1 = rng.normal(0.0, 1.0, 200), rng.normal(0.0, 1.0, 200)
    fd = -(model.local_energy(p, x + H, f0, f1) - model.local_energy(p, x - H, f0, f1)) / (2 * H)
    force = model.local_force(p, x, f0, f1)
    np.testing.assert_allclose(force, fd, rtol=RTOL, atol=ATOL)


CURVED = [m for m in MODELS if device_models.get_model(m).local_curvature_ch is not None]


@pytest.mark.parametrize("name", CURVED)
@pytest.mark.parametrize("harmonic", [2, 3])
def test_declared_curvatures_are_the_derivatives_of_force_and_channels(name, harmonic):
    """local_curvature_ch = -d local_force / dx and channel_curvature_ch = d2 channel / dx2
    (what bptt's Jacobian is built from), against central differences."""
    model = device_models.get_model(name)
    params = model.params()
    if "shil_harmonic" in {f.name for f in dataclasses.fields(params)}:
        params = dataclasses.replace(params, shil_harmonic=harmonic)
    p = model.to_kernel(params, np.float64)
    rng = np.random.default_rng(11)
    x = random_states(model, rng, 200)
    f0, f1 = rng.normal(0.0, 1.0, 200), rng.normal(0.0, 1.0, 200)
    ends = model._ends(p, x)
    fd = -(model.local_force(p, x + H, f0, f1) - model.local_force(p, x - H, f0, f1)) / (2 * H)
    np.testing.assert_allclose(model.local_curvature_ch(p, x, *ends, f0, f1), fd,
                               rtol=RTOL, atol=ATOL)
    for c in range(model.n_channels):
        fd = (model.channel_deriv(p, x + H, c) - model.channel_deriv(p, x - H, c)) / (2 * H)
        np.testing.assert_allclose(model.channel_curvature_ch(p, x, *ends, c) + 0 * x, fd,
                                   rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", MODELS)
def test_total_force_is_minus_gradient_of_energy(name):
    """local_force + coupling_force(G) = -dV/dx_i for the full chip energy (one replica row at
    a time; the gain g_i of the engine multiplies this bracket and cannot repair it)."""
    model = device_models.get_model(name)
    p = kernel_params(model)
    rng = np.random.default_rng(11)
    B, N = 3, 5
    x = random_states(model, rng, (B, N))
    J = random_symmetric(rng, N)
    f0, f1 = rng.normal(0.0, 1.0, N), rng.normal(0.0, 1.0, N)
    G = channel_fields(model, p, x, J)
    force = model.local_force(p, x, f0, f1) + model.coupling_force(p, x, G)
    fd = np.empty((B, N))
    for i in range(N):
        e = np.zeros((B, N))
        e[:, i] = H
        fd[:, i] = -(model.energy(p, x + e, J, f0, f1)
                     - model.energy(p, x - e, J, f0, f1)) / (2 * H)
    np.testing.assert_allclose(force, fd, rtol=RTOL, atol=ATOL)
    # the coupling part alone must matter (guards against a vacuous pass with J ignored)
    assert np.max(np.abs(model.coupling_force(p, x, G))) > 1e-2


@pytest.mark.parametrize("name", MODELS)
def test_pair_grad_J_is_energy_derivative(name):
    """pair_grad_J(x_i, x_j) = dV/dJ_ij with J_ij = J_ji one parameter (one device per pair)."""
    model = device_models.get_model(name)
    p = kernel_params(model)
    rng = np.random.default_rng(12)
    B, N = 4, 4
    x = random_states(model, rng, (B, N))
    J = random_symmetric(rng, N)
    f0, f1 = rng.normal(0.0, 1.0, N), rng.normal(0.0, 1.0, N)
    for i in range(N):
        for j in range(i + 1, N):
            E = np.zeros((N, N))
            E[i, j] = E[j, i] = H
            fd = (model.energy(p, x, J + E, f0, f1) - model.energy(p, x, J - E, f0, f1)) / (2 * H)
            g = model.pair_grad_J(p, x[:, i], x[:, j])
            np.testing.assert_allclose(g, fd, rtol=RTOL, atol=ATOL, err_msg=f"pair ({i}, {j})")


@pytest.mark.parametrize("name", MODELS)
def test_pair_grad_J_is_symmetric(name):
    model = device_models.get_model(name)
    p = kernel_params(model)
    rng = np.random.default_rng(13)
    xi, xj = random_states(model, rng, 100), random_states(model, rng, 100)
    np.testing.assert_allclose(model.pair_grad_J(p, xi, xj), model.pair_grad_J(p, xj, xi),
                               rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", MODELS)
def test_field_grad_is_energy_derivative(name):
    """field_grad(x, k) = dV/df_k, the local term a field register's EP accumulator averages
    (central differences in each field, as above)."""
    model = device_models.get_model(name)
    p = kernel_params(model)
    rng = np.random.default_rng(17)
    x = random_states(model, rng, 200)
    f = [rng.normal(0.0, 1.0, 200), rng.normal(0.0, 1.0, 200)]
    for k in range(2):
        up, down = list(f), list(f)
        up[k], down[k] = f[k] + H, f[k] - H
        fd = (model.local_energy(p, x, *up) - model.local_energy(p, x, *down)) / (2 * H)
        np.testing.assert_allclose(model.field_grad(p, x, k) + 0 * x, fd, rtol=RTOL, atol=ATOL,
                                   err_msg=f"field {k}")


@pytest.mark.parametrize("name", [m for m in MODELS if device_models.get_model(m).carrier])
def test_field_grad_reads_the_phasor_direction(name):
    """A carrier's ADC samples are I/Q of a phasor whose amplitude is not exactly 1: the field
    terms depend on its direction only."""
    model = device_models.get_model(name)
    p = kernel_params(model)
    x = random_states(model, np.random.default_rng(19), 100)
    amplitude = np.random.default_rng(20).uniform(0.5, 2.0, 100)
    for k in range(2):
        np.testing.assert_allclose(model.field_grad_ch(p, amplitude * model.channels(p, x), k),
                                   model.field_grad(p, x, k), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", MODELS)
def test_readout_mode_0_is_the_channels(name):
    """The kernels sample mode 0 from the channels they hold: the two must agree."""
    model = device_models.get_model(name)
    p = kernel_params(model)
    x = random_states(model, np.random.default_rng(21), 100)
    for r in range(model.n_channels):
        np.testing.assert_array_equal(model.readout(p, x, 0, r), model.channel(p, x, r))


@pytest.mark.parametrize("name", MODELS)
def test_from_channels_inverts_channels(name):
    model = device_models.get_model(name)
    p = kernel_params(model)
    x = random_states(model, np.random.default_rng(18), 100)
    back = model.from_channels(p, model.channels(p, x))
    if model.periodic is not None:
        d = np.angle(np.exp(1j * (back - x) * 2 * np.pi / model.periodic))
        np.testing.assert_allclose(d, 0.0, atol=1e-12)
    else:
        np.testing.assert_allclose(back, x, rtol=1e-14, atol=1e-14)


def _nudge_residual(model, params, beta, target, rng):
    """V_local(x; f + nudge) - V_local(x; f) - beta/2 (readout(x) - target)^2 over random x:
    constant in x when the nudge adds exactly beta * loss to the energy."""
    p = model.to_kernel(params, np.float64)
    x = random_states(model, rng, 200)
    f0, f1 = rng.normal(0.0, 1.0, 200), rng.normal(0.0, 1.0, 200)
    d0, d1 = model.nudge(p, beta, target)
    dV = model.local_energy(p, x, f0 + d0, f1 + d1) - model.local_energy(p, x, f0, f1)
    return dV - 0.5 * beta * (model.readout(p, x, 0, 0) - target) ** 2


@pytest.mark.parametrize("name", MODELS)
def test_nudge_adds_beta_times_output_loss(name):
    model = device_models.get_model(name)
    rng = np.random.default_rng(19)
    for beta, target in [(0.1, 0.7), (-0.3, -0.2), (1.0, 0.0)]:
        r = _nudge_residual(model, model.params(), beta, target, rng)
        np.testing.assert_allclose(r - r.mean(), 0.0, atol=1e-12,
                                   err_msg=f"beta={beta}, target={target}")


def test_oim_nudge_refuses_other_injection_harmonics():
    """The loss's cos 2phi term can only be carried by an S field that multiplies cos 2phi:
    with third-harmonic injection the model declares the nudge refused (the spec check
    reports it), and the refusal is needed: the field change would not add beta * loss."""
    model = device_models.get_model("oim")
    assert model.nudge_refusal(model.params()) is None
    assert "shil_harmonic 2" in model.nudge_refusal(model.params(shil_harmonic=3))
    r = _nudge_residual(model, model.params(shil_harmonic=3), 0.5, 0.3,
                        np.random.default_rng(20))
    assert np.ptp(r) > 0.1


def test_oim_energy_is_the_documented_formula():
    """V = -1/2 sum_{i!=j} J_ij cos(phi_i - phi_j) - sum h_i cos phi_i - sum S_i/n cos(n phi_i):
    an independent check of channels and pair sign, which the gradient tests cannot catch
    (they only test self-consistency)."""
    model = device_models.get_model("oim")
    p = kernel_params(model)
    rng = np.random.default_rng(14)
    B, N = 3, 5
    phi = rng.uniform(0, 2 * np.pi, (B, N))
    J = random_symmetric(rng, N)
    h, S = rng.normal(0, 1, N), rng.normal(1, 0.2, N)
    n = model.params().shil_harmonic
    want = (-0.5 * np.einsum("ij,bij->b", J, np.cos(phi[:, :, None] - phi[:, None, :]))
            - (h * np.cos(phi)).sum(1) - (S / n * np.cos(n * phi)).sum(1))
    np.testing.assert_allclose(model.energy(p, phi, J, h, S), want, rtol=1e-12, atol=1e-12)
    # J > 0 favours equal phases: the force pulls phi_0 towards phi_1
    two = np.array([[0.0, 0.3]])
    Jp = np.array([[0.0, 1.0], [1.0, 0.0]])
    G = channel_fields(model, p, two, Jp)
    assert model.coupling_force(p, two, G)[0, 0] > 0


def test_softspin_energy_is_the_documented_formula():
    """V = J2 sum x^2 + J4 sum x^4 + sum (b x + a x^2 / 2) + 1/2 sum_{i!=j} J_ij x_i x_j
    (J > 0 antiferromagnetic; a the stiffness field)."""
    model = device_models.get_model("softspin")
    params = model.params(J2=-0.7, J4=0.4)
    p = model.to_kernel(params, np.float64)
    rng = np.random.default_rng(15)
    B, N = 3, 5
    x = rng.normal(0, 1, (B, N))
    J = random_symmetric(rng, N)
    b, a = rng.normal(0, 1, N), rng.normal(0, 1, N)
    want = ((-0.7 * x**2 + 0.4 * x**4 + b * x + 0.5 * a * x**2).sum(1)
            + 0.5 * np.einsum("ij,bi,bj->b", J, x, x))
    np.testing.assert_allclose(model.energy(p, x, J, b, a), want, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# the kernels' dispatch: jitted specialisation == Python fallback


@numba.njit
def _jit_probe(p, xs, f0s, f1s, g0s, g1s, n_channels, readout_sizes, out_local, out_channel,
               out_coupling, out_readout, out_cell):
    for k in range(xs.shape[0]):
        x = xs[k]
        out_local[k] = dispatch.local_force(p, x, f0s[k], f1s[k])
        out_coupling[k] = dispatch.coupling_force(p, x, g0s[k], g1s[k])
        for c in range(n_channels):
            out_channel[c, k] = dispatch.channel(p, x, c)
        # the kernel step's form: the channels given, not recomputed
        out_cell[k] = dispatch.cell_force(p, x, out_channel[0, k], out_channel[n_channels - 1, k],
                                          f0s[k], f1s[k], g0s[k], g1s[k])
        for m in range(readout_sizes.shape[0]):
            for r in range(readout_sizes[m]):
                out_readout[m, r, k] = dispatch.readout(p, x, m, r)


@numba.njit
def _jit_scalar_types(p, x, f0, f1, g0, g1):
    return (dispatch.local_force(p, x, f0, f1), dispatch.coupling_force(p, x, g0, g1),
            dispatch.channel(p, x, 0), dispatch.readout(p, x, 0, 0),
            dispatch.cell_force(p, x, x, x, f0, f1, g0, g1))


def _python_probe(model, p, xs, f0s, f1s, g0s, g1s):
    n = len(xs)
    R = max(r for _, r in model.readouts)
    local, coupling = np.empty(n), np.empty(n)
    chan = np.empty((model.n_channels, n))
    ro = np.zeros((len(model.readouts), R, n))
    for k in range(n):
        local[k] = dispatch.local_force(p, xs[k], f0s[k], f1s[k])
        coupling[k] = dispatch.coupling_force(p, xs[k], g0s[k], g1s[k])
        for c in range(model.n_channels):
            chan[c, k] = dispatch.channel(p, xs[k], c)
        for m, (_, size) in enumerate(model.readouts):
            for r in range(size):
                ro[m, r, k] = dispatch.readout(p, xs[k], m, r)
    return local, chan, coupling, ro


@pytest.mark.parametrize("name", MODELS)
def test_dispatch_jitted_matches_python_fallback(name):
    model = device_models.get_model(name)
    p = kernel_params(model)
    rng = np.random.default_rng(16)
    n = 64
    xs = random_states(model, rng, n)
    f0s, f1s, g0s, g1s = rng.normal(0, 1, (4, n))
    sizes = np.array([r for _, r in model.readouts], dtype=np.int64)
    local, coupling = np.empty(n), np.empty(n)
    chan = np.empty((model.n_channels, n))
    ro = np.zeros((len(sizes), sizes.max(), n))
    cell = np.empty(n)
    _jit_probe(p, xs, f0s, f1s, g0s, g1s, model.n_channels, sizes, local, chan, coupling, ro,
               cell)
    want = _python_probe(model, p, xs, f0s, f1s, g0s, g1s)
    np.testing.assert_allclose(cell, want[0] + want[2], rtol=1e-13, atol=1e-14)
    # same formulas, libm vs LLVM transcendental functions: agreement to a few ulp
    for got, ref in zip((local, chan, coupling, ro), want):
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-14)
    # the dispatched coupling force is the model's -dV_pair/dx (vectorised path)
    G = np.stack([g0s, g1s])[:model.n_channels]
    np.testing.assert_allclose(coupling, model.coupling_force(p, xs, G), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("name", MODELS)
def test_dispatch_keeps_float32(name):
    """float32 parameters and arguments give float32 results: a float64 constant inside a
    model's physics would promote the engine's float32 arithmetic (and halve its speed)."""
    model = device_models.get_model(name)
    p = kernel_params(model, np.float32)
    args = [np.float32(v) for v in (0.3, 0.2, 1.0, 0.5, -0.4)]
    _jit_scalar_types(p, *args)
    sigs = [s for s in _jit_scalar_types.overloads
            if s[0] == numba.typeof(p)]
    assert sigs
    ret = _jit_scalar_types.overloads[sigs[0]].signature.return_type
    assert all(t == numba.float32 for t in ret), f"{name}: {ret}"


# ---------------------------------------------------------------------------------------------
# presets


PRESETS = [(m, name) for m in MODELS for name in device_models.list_presets(m)]


def test_every_model_has_a_preset():
    assert {m for m, _ in PRESETS} == set(MODELS)


@pytest.mark.parametrize("model_name,preset", PRESETS)
def test_preset_loads_and_runs(model_name, preset):
    card = device_models.load_preset(model_name, preset)
    assert isinstance(card.get("source"), str) and card["source"].strip()
    model = device_models.get_model(model_name)
    probe = Chip.from_spec(load_spec({"cells": {"model": model_name, "preset": preset, "n": 3},
                                      "integrator": {"dt": "1 ps", "steps": 10}}))
    # the preset's values reach the parameters (not silently ignored)
    units = {f.name: f.metadata.get("unit") for f in dataclasses.fields(model.params)}
    for key, value in (card.get("params") or {}).items():
        want = parse_quantity(value, units[key]) if isinstance(value, str) else value
        assert getattr(probe.params, key) == pytest.approx(want), key
    # 10 steps at a dimensionless step of 0.05, with thermal noise
    spec = load_spec({"cells": {"model": model_name, "preset": preset, "n": 3},
                      "integrator": {"dt": 0.05 / probe.rate, "steps": 10},
                      "noise": {"thermal": {"kT": 0.05}},
                      "run": {"replicas": 2, "seed": 1}})
    chip = Chip.from_spec(spec)
    assert chip.dt == pytest.approx(0.05)
    res = simulate(chip)
    assert res.steps == 10
    assert res.x.shape == (2, 3)
    assert np.all(np.isfinite(res.x)) and np.all(np.isfinite(res.energies))


# ---------------------------------------------------------------------------------------------
# the oscillator channels' cos and sin (device_models/trig.py)


@numba.njit
def _jit_cos_sin(t, x, c, s):
    for i in range(x.shape[0]):
        c[i], s[i] = trig.cos_sin(t, x[i])


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1.0), (np.float32, 1.0)])
def test_cos_sin_within_an_ulp_of_libm(dtype, tol):
    """Against float64 libm: absolute error within one ulp of 1 in the dtype, compiled and in
    numpy, over the phases a chunk can reach (and exact multiples of pi/2, where the
    reduction's last digits decide). A wrong coefficient, quadrant or split fails by far."""
    t = trig.trig_constants(dtype)
    rng = np.random.default_rng(17)
    x = np.concatenate([rng.uniform(-7, 7, 200_000), rng.uniform(-2000, 2000, 20_000),
                        np.arange(-40, 41) * np.pi / 4, [0.0, 1e-30]]).astype(dtype)
    c, s = np.empty_like(x), np.empty_like(x)
    _jit_cos_sin(t, x, c, s)
    cn, sn = trig.cos_sin(t, x)
    assert c.dtype == cn.dtype == dtype
    eps = np.finfo(dtype).eps
    x64 = x.astype(np.float64)
    for got, want in ((c, np.cos(x64)), (s, np.sin(x64)), (cn, np.cos(x64)), (sn, np.sin(x64))):
        assert np.max(np.abs(got - want)) <= tol * eps
    assert np.all(c ** 2 + s ** 2 - 1 < 4 * eps)
