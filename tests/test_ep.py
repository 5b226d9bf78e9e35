"""The EP accumulator learner against the gradients it claims to estimate, its locality, DAC
writes, checkpoint/resume, and the quickstart's accuracy."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy import integrate

from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.learn import make_learner
from thermochip.learn.writers import DacWriter, WriteSpec
from thermochip.spec_io import load_spec

ROOT = Path(__file__).resolve().parent.parent
SETTLE = 4000  # steps of 0.1 (t~ = 400): the phases are settled to the last float64 bit


IQ_ADC = {"bits": 24, "full_scale": 1.0001, "mode": "iq", "sample_rate": "1 GHz"}
PHASE_ADC = {"bits": 24, "full_scale": 3.1416, "mode": "phase", "sample_rate": "1 GHz"}


def tiny_oim(beta: float, estimator: str, steps: int = SETTLE, seed: int = 3,
             adc: dict = IQ_ADC, loss: str = "squared_error") -> Chip:
    """4 inputs -> 5 hidden -> 3 output oscillators, noise-free, 24-bit DACs and ADC (so the
    hardware's quantisation is far below the quantities compared). Weak injection locking
    (S = 0.1): with strong S the outputs lock exactly at 0 or pi, where neither the nudge nor
    any parameter moves them and the gradient is zero; and a chip whose free state is near a
    bifurcation would let a finite nudge tip it into another basin."""
    spec = load_spec({
        "cells": {"model": "oim", "layers": [5, 3], "inputs": 4}, "topology": "layered",
        "couplings": {"init": {"kind": "random", "std": 0.5},
                      "dac": {"bits": 24, "full_scale": 4}},
        "fields": {"init": {"S": 0.1}, "dac": {"bits": 24, "full_scale": 4}},
        "adc": adc, "integrator": {"dt": "1 ns", "steps": 10,
                       "initial_state": {"kind": "constant", "value": 1.2}},
        "learner": {"rule": "ep", "estimator": estimator, "beta": beta, "free_steps": steps,
                    "nudged_steps": steps, "window": 1, "update_every": 2, "loss": loss,
                    "softmax_gain": GAIN},
        "train": {"eval_replicas": 2}, "run": {"dtype": "float64", "seed": seed}})
    return Chip.from_spec(spec)


PIXELS = np.random.default_rng(1).random((2, 4))
LABELS = np.array([0, 2])
GAIN = 3.0  # cross_entropy's softmax gain in these tests


def free_loss(chip: Chip, loss: str = "squared_error") -> float:
    """The batch mean of the loss at the free fixed point: 1/2 sum_out (cos phi - y)^2, or
    -log softmax(GAIN cos phi)_label."""
    eng = Engine(chip, replicas=2)
    r = eng.run(SETTLE, x0=eng.initial_state(), h_ext=chip.input_field(PIXELS), energy_every=0)
    out = np.cos(r.x[:, -3:])
    if loss == "cross_entropy":
        logits = GAIN * out
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return -log_p[[0, 1], LABELS].mean()
    y = -np.ones((2, 3))
    y[[0, 1], LABELS] = 1
    return 0.5 * ((out - y) ** 2).sum(axis=1).mean()


def finite_differences(loss: str, fields: bool = True) -> dict[str, np.ndarray]:
    """Central finite differences (eps 1e-5) of the free loss in the hidden-output couplings
    (one parameter per symmetric pair), the input couplers and (``fields``) both field
    registers of every cell (h, and S: the syncs)."""
    eps = 1e-5

    def derivative(name, *entries):
        """dL/dtheta by central differences, theta the analog values of the chip register
        ``name`` at ``entries`` (both entries of a symmetric pair move together)."""
        vals = []
        for s in (1, -1):
            chip = tiny_oim(0.01, "symmetric")
            register = getattr(chip.registers, name)
            for e in entries:
                register.set_values(register.values[e] + s * eps, e)
            vals.append(free_loss(chip, loss))
        return (vals[0] - vals[1]) / (2 * eps)

    gJ = np.array([[derivative("couplings", (i, 5 + j), (5 + j, i)) for j in range(3)]
                   for i in range(5)])
    gW = np.array([[derivative("inputs", (p, i)) for i in range(5)] for p in range(4)])
    if not fields:
        return {"J0": gJ, "input": gW}
    gF = np.array([[derivative("fields", (k, i)) for i in range(8)] for k in range(2)])
    return {"J0": gJ, "input": gW, "h": gF[0], "S": gF[1]}


@pytest.fixture(scope="module")
def fd_gradient():
    return finite_differences("squared_error")


def cosine(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def ep_gradient(beta, estimator, adc=IQ_ADC, loss="squared_error"):
    chip = tiny_oim(beta, estimator, adc=adc, loss=loss)
    return make_learner(chip, 3).gradient(PIXELS, LABELS)


@pytest.mark.parametrize("estimator", ["symmetric", "one_sided"])
def test_ep_update_matches_the_loss_gradient(fd_gradient, estimator):
    # At beta = 0.01 the estimator's bias is O(beta) (one-sided) or O(beta^2) (symmetric) of an
    # O(1) gradient; the finite differences are exact to ~eps^2. 0.99 leaves room for the first.
    g = ep_gradient(0.01, estimator)
    for key in ("J0", "input", "h", "S"):
        assert cosine(g[key], fd_gradient[key]) >= 0.99, key


@pytest.mark.parametrize("estimator", ["symmetric", "one_sided"])
def test_ep_with_cross_entropy_matches_its_gradient(estimator):
    """The output circuit's linearised cross-entropy nudge gives the cross-entropy gradient
    (not the squared error's: the two differ, cosine 0.91 here)."""
    fd = finite_differences("cross_entropy", fields=False)
    g = ep_gradient(0.01, estimator, loss="cross_entropy")
    for key in ("J0", "input"):
        assert cosine(g[key], fd[key]) >= 0.99, key
        np.testing.assert_allclose(g[key], fd[key], rtol=0.05,
                                   atol=0.05 * np.abs(fd[key]).max(), err_msg=key)
    squared = ep_gradient(0.01, estimator)
    assert cosine(squared["J0"], fd["J0"]) < 0.95


def test_ep_from_phase_samples_matches_the_loss_gradient(fd_gradient):
    """The accumulators formed from quantised phase samples (cos and sin of each 24-bit angle)
    estimate the same gradient as those reading I/Q directly: each channel is off by at most
    half an LSB of either ADC, a product of two by the sum, and the contrast divides by 2 beta."""
    beta = 0.01
    g = ep_gradient(beta, "symmetric", adc=PHASE_ADC)
    iq = ep_gradient(beta, "symmetric")
    lsb = 2 * PHASE_ADC["full_scale"] / 2 ** 24 + 2 * IQ_ADC["full_scale"] / 2 ** 24
    for key in ("J0", "input", "h", "S"):
        assert cosine(g[key], fd_gradient[key]) >= 0.99, key
        np.testing.assert_allclose(g[key], iq[key], rtol=0, atol=2 * lsb / (2 * beta),
                                   err_msg=key)


def test_ep_bias_shrinks_like_beta_one_sided_and_beta_squared_symmetric(fd_gradient):
    """Halving beta halves the one-sided error and quarters the symmetric one."""
    target = np.concatenate([fd_gradient["J0"].ravel(), fd_gradient["input"].ravel()])
    errors = {}
    for est in ("one_sided", "symmetric"):
        errs = []
        for beta in (0.04, 0.02, 0.01):
            g = ep_gradient(beta, est)
            errs.append(np.linalg.norm(np.concatenate([g["J0"].ravel(), g["input"].ravel()])
                                       - target))
        errors[est] = np.array(errs)
    # local convergence orders from successive halvings; O(beta^p) gives 2^p per halving, and
    # the next term of the expansion shifts the measured order by O(beta) (measured here:
    # 0.84, 0.92 one-sided; 2.00, 2.02 symmetric)
    one = np.log2(errors["one_sided"][:-1] / errors["one_sided"][1:])
    sym = np.log2(errors["symmetric"][:-1] / errors["symmetric"][1:])
    assert np.all(np.abs(one - 1) < 0.2), one
    assert np.all(np.abs(sym - 2) < 0.2), sym
    assert np.all(errors["symmetric"] < errors["one_sided"])


# ---------------------------------------------------------------------------------------------
# finite nudge at temperature T (seed 001): time averages estimate E_beta[dE/dJ] - E_0[dE/dJ]


def softspin_pair(seed: int, steps: int, replicas: int) -> Chip:
    """One input -> one hidden -> one output soft spin (double wells), kT = 0.5."""
    spec = load_spec({
        "cells": {"model": "softspin", "layers": [1, 1], "inputs": 1,
                  "params": {"J2": -0.5, "J4": 0.25}}, "topology": "layered",
        "couplings": {"init": {"kind": "constant", "value": 0.4},
                      "dac": {"bits": 16, "full_scale": 1}},
        "noise": {"thermal": {"kT": 0.5}},
        "adc": {"bits": 16, "full_scale": 4, "mode": "value", "sample_rate": "1 GHz"},
        "integrator": {"dt": "20 ps", "steps": 10,
                       "initial_state": {"kind": "constant", "value": 0.0}},
        "learner": {"rule": "ep", "estimator": "one_sided", "beta": 1.0,
                    "free_steps": steps, "nudged_steps": steps, "window": steps - 1000,
                    "update_every": replicas},
        "train": {"eval_replicas": 1}, "run": {"dtype": "float64", "seed": seed}})
    return Chip.from_spec(spec)


def test_time_averaged_accumulators_give_the_finite_beta_free_energy_gradient():
    """beta * (one-sided EP estimate) = E_{p_beta}[dV/dtheta] - E_{p_0}[dV/dtheta] exactly for
    any beta (Litman 2025), with p_beta ~ exp(-(V + beta l)/kT): checked for the coupler
    (dV/dJ = x1 x2) and the output's field register (dV/db = x2) against 2-D quadrature."""
    kT, beta, J2, J4, pixel, y = 0.5, 2.0, -0.5, 0.25, 1.0, 1.0

    def chip_for(seed):
        chip = softspin_pair(seed, 8000, 64)
        # an input field on the hidden cell: x1 x2 moves at first order
        chip.registers.inputs.set_values(0.8, (0, 0))
        return chip

    chip = chip_for(0)
    w, J = chip.input_J[0, 0], chip.J[0, 1]

    def energy(x1, x2, b):
        V = J2 * (x1**2 + x2**2) + J4 * (x1**4 + x2**4) + J * x1 * x2 + w * pixel * x1
        return V + b * 0.5 * (x2 - y) ** 2

    def mean(f, b):
        weight = lambda x2, x1: np.exp(-energy(x1, x2, b) / kT)  # noqa: E731
        z = integrate.dblquad(weight, -5, 5, -5, 5)[0]
        return integrate.dblquad(lambda x2, x1: f(x1, x2) * weight(x2, x1), -5, 5, -5, 5)[0] / z

    exact_J = mean(lambda a, c: a * c, beta) - mean(lambda a, c: a * c, 0.0)   # -0.355
    exact_b = mean(lambda a, c: c, beta) - mean(lambda a, c: c, 0.0)           # +0.362
    # 6 independent runs (64 replicas x 7000 averaged steps each): their spread gives the
    # standard error of the mean (about 0.005); tolerance 5 sigma plus 0.01 for the O(dt) bias
    # of Euler--Maruyama (halving dt~ = 0.02 twice moved the estimates by < 0.005)
    estimates = []
    for seed in range(6):
        learner = make_learner(chip_for(seed), 1)
        learner.cfg = dataclasses.replace(learner.cfg, beta=beta)
        g = learner.gradient(np.full((64, 1), pixel), np.zeros(64, dtype=int))
        estimates.append((beta * g["J0"][0, 0], beta * g["h"][1]))
    estimates = np.array(estimates)
    se = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    for k, exact in enumerate((exact_J, exact_b)):
        tol = 5 * se[k] + 0.01
        assert abs(estimates[:, k].mean() - exact) < tol, (k, estimates[:, k].mean(), exact, se)
        assert abs(exact) > 4 * tol  # the effect stands far above the tolerance


def test_accumulator_of_a_coupler_uses_only_its_two_cells():
    """Locality: the accumulated term of coupler (i, j) is unchanged when the ADC samples of any
    other cell change, and changes when cell i's do."""
    chip = tiny_oim(0.5, "symmetric", steps=20)
    learner = make_learner(chip, 3)
    rng = np.random.default_rng(5)
    U = rng.normal(size=(2, 3, chip.n, 2))
    pixels = rng.random((2, 4))
    base = learner.accumulate(U, pixels)["J0"]
    i, j = 1, 2  # hidden cell 1 and output cell 2 (cell index 5 + 2)
    others = [c for c in range(chip.n) if c not in (i, 5 + j)]
    V = U.copy()
    V[:, :, others] = rng.normal(size=V[:, :, others].shape)
    assert learner.accumulate(V, pixels)["J0"][i, j] == base[i, j]
    W = U.copy()
    W[:, :, i] += 0.3
    assert learner.accumulate(W, pixels)["J0"][i, j] != base[i, j]


def test_written_couplings_stay_on_the_dac_grid_and_symmetric():
    chip = tiny_oim(0.5, "symmetric", steps=20)
    learner = make_learner(chip, 3)
    for _ in range(3):
        learner.train_batch(PIXELS, LABELS)
    d = chip.spec.couplings.dac
    L = 2 ** (d.bits - 1) - 1
    codes = chip.J_codes
    assert codes.dtype == np.int32 and np.abs(codes).max() <= L
    assert np.array_equal(codes, codes.T) and np.all(codes[~chip.mask] == 0)
    np.testing.assert_allclose(chip.J, codes * d.full_scale / L)  # no mismatch: exact grid


def _write(rounding: str, shadow_bits: int | None = None, **kw) -> WriteSpec:
    return WriteSpec(rounding=rounding, shadow_bits=shadow_bits, **kw)


def test_shadow_register_keeps_updates_smaller_than_a_dac_step():
    """Direct 8-bit writes with nearest rounding lose an update of 0.3 LSB; a 16-bit shadow
    register accumulates four of them into one DAC step."""
    lsb = 1.0 / 127
    rng = np.random.default_rng(0)
    direct = DacWriter(np.zeros(1, np.int32), 8, 1.0, _write("nearest"), rng)
    shadow = DacWriter(np.zeros(1, np.int32), 8, 1.0, _write("nearest", 16), rng)
    c_direct = c_shadow = np.zeros(1, np.int32)
    for _ in range(4):
        c_direct = direct.apply(c_direct, np.array([0.3 * lsb]))
        c_shadow = shadow.apply(c_shadow, np.array([0.3 * lsb]))
    assert c_direct[0] == 0 and c_shadow[0] == 1


def test_stochastic_write_is_unbiased():
    # 40000 writes of 0.3 LSB: the mean code step is 0.3 with std sqrt(0.21/40000) = 0.0023;
    # 5 sigma = 0.0115
    w = DacWriter(np.zeros(40000, np.int32), 8, 1.0, _write("stochastic"),
                  np.random.default_rng(2))
    step = w.apply(np.zeros(40000, np.int32), np.full(40000, 0.3 / 127))
    assert abs(step.mean() - 0.3) < 0.0115


def test_adam_write_moves_each_register_by_the_rate_whatever_its_scale():
    """With step: adam a register whose estimate keeps one sign moves by lr per write (the
    bias-corrected m / sqrt(v) of a constant is 1), however large or small the estimate; a
    register whose estimate flips sign every write barely moves (m ~ 0); a block write
    advances only that block's moments. The running means survive a state round trip."""
    lr, lsb16 = 1e-3, 1.0 / 32767
    scales = np.array([1e-4, 1.0, -1e-3, 5.0])  # eps = 1e-8 is 1e-4 of the smallest
    w = DacWriter(np.zeros((2, 4), np.int32), 8, 1.0, _write("nearest", 16, step="adam"),
                  np.random.default_rng(0))
    for k in range(20):
        w.apply(np.zeros((2, 4), np.int32), scales, 0, scale=lr)
        w.apply(np.zeros((2, 4), np.int32), scales * (-1) ** k, 1, scale=lr)
    # each write rounds to the 16-bit shadow grid: at most 0.5 LSB16 of error per write
    np.testing.assert_allclose(w.shadow[0] * lsb16, 20 * lr * np.sign(scales), atol=10 * lsb16)
    assert np.all(np.abs(w.shadow[1]) * lsb16 < 0.2 * 20 * lr)
    np.testing.assert_allclose(w.mean_weight, 1 - 0.9 ** 20, rtol=1e-6)  # float32
    fresh = DacWriter(np.zeros((2, 4), np.int32), 8, 1.0, _write("nearest", 16, step="adam"),
                      np.random.default_rng(0))
    fresh.load_state_dict("c", w.state_dict("c"))
    for name in ("shadow",) + DacWriter.ADAM_STATE:
        np.testing.assert_array_equal(getattr(fresh, name), getattr(w, name))


@pytest.mark.parametrize("decay_to", ["zero", "initial"])
def test_weight_decay_pulls_each_register_geometrically_toward_its_anchor(decay_to):
    """With no estimate, n writes of rate lr and decay lambda leave w_anchor + (w0 - w_anchor)
    (1 - lr lambda)^n (to the 16-bit shadow's rounding, 0.5 LSB a write); the anchor is the
    register's own start (initial) or 0, and it survives a state round trip."""
    lr, decay, n = 0.1, 0.5, 12
    start = np.array([[100, -60, 0, 127]], np.int32)
    lsb8, lsb16 = 1.0 / 127, 1.0 / 32767
    w = DacWriter(start, 8, 1.0, dataclasses.replace(_write("nearest", 16), weight_decay=decay,
                                                    decay_to=decay_to),
                  np.random.default_rng(0))
    w.shadow[0, 0] += 2000  # moved away from its start (as an update would)
    w0 = w.shadow[0] * lsb16
    anchor = start[0] * lsb8 if decay_to == "initial" else 0.0
    for _ in range(n):
        codes = w.apply(start, np.zeros(4), 0, scale=-lr)
    want = anchor + (w0 - anchor) * (1 - lr * decay) ** n
    np.testing.assert_allclose(w.shadow[0] * lsb16, want, rtol=0, atol=n * 0.5 * lsb16)
    assert np.all(np.abs(codes * lsb8 - w.shadow[0] * lsb16) <= 0.5 * lsb8)  # the DAC follows
    fresh = DacWriter(np.zeros((1, 4), np.int32), 8, 1.0,
                      dataclasses.replace(_write("nearest", 16), weight_decay=decay,
                                          decay_to=decay_to), np.random.default_rng(0))
    fresh.load_state_dict("c", w.state_dict("c"))
    np.testing.assert_array_equal(fresh.anchor, w.anchor)


def test_stochastic_write_of_a_block_is_the_same_on_any_thread_count():
    """A block of a shadow register (a strided view) is written in place; its uniforms are
    keyed by element, so 1 and 2 threads write the same codes. The block's codes are the
    shadow re-rounded to the DAC grid, and the registers outside the block are untouched."""
    from thermochip._kernels.jit import get_num_threads, set_num_threads

    out, shadows = [], []
    saved = get_num_threads()
    try:
        for threads in (1, 2):
            set_num_threads(threads)
            codes = np.zeros((40, 30), np.int32)
            w = DacWriter(codes, 8, 1.0, _write("stochastic", 12), np.random.default_rng(3))
            delta = np.random.default_rng(4).normal(0, 3 / 127, (20, 10))
            out.append(w.apply(codes, delta, (slice(5, 25), slice(10, 20))))
            shadows.append(w.shadow.copy())
    finally:
        set_num_threads(saved)
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(shadows[0], shadows[1])
    ratio = (1.0 / 2047) / (1.0 / 127)
    np.testing.assert_array_equal(out[0], np.rint(shadows[0][5:25, 10:20] * ratio))
    outside = np.ones(shadows[0].shape, bool)
    outside[5:25, 10:20] = False
    assert not shadows[0][outside].any() and np.abs(out[0]).max() >= 3


# ---------------------------------------------------------------------------------------------
# the command line: resume and the quickstart


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "thermochip", "run", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    """A run killed (SIGKILL) after its first checkpoint and resumed without --epochs ends
    with the uninterrupted run's codes and accuracy, under the same cosine schedule, and its
    completed run removes the checkpoint."""
    import signal
    import time

    import yaml
    spec_dict = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    spec_dict["train"] = {**spec_dict["train"], "epochs": 4, "lr_decay": "cosine"}
    spec_dict["data"] = {"dataset": "digits", "train_size": 400}
    spec = tmp_path / "q.yaml"
    spec.write_text(yaml.safe_dump(spec_dict))
    full = run_cli(spec, "--out", tmp_path / "full.h5", "--json", cwd=tmp_path)
    assert full.returncode == 0, full.stderr
    ckpt = tmp_path / "part.h5.ckpt"
    proc = subprocess.Popen([sys.executable, "-m", "thermochip", "run", str(spec), "--out",
                             str(tmp_path / "part.h5")], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not ckpt.exists() and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not (tmp_path / "part.h5").exists()
    again = run_cli(spec, "--out", tmp_path / "part.h5", cwd=tmp_path)
    assert again.returncode == 1 and "--resume" in again.stderr   # never silently restarted
    res = run_cli(spec, "--out", tmp_path / "part.h5", "--resume", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "resumed" in res.stderr and not ckpt.exists()
    with h5py.File(tmp_path / "full.h5") as a, h5py.File(tmp_path / "part.h5") as b:
        for key in ("couplings/codes", "couplings/input_codes", "fields/codes", "confusion"):
            assert np.array_equal(a[key][:], b[key][:]), key
        assert a.attrs["test_accuracy"] == b.attrs["test_accuracy"]


def test_a_checkpoint_resumes_only_its_own_run(tmp_path):
    """Another spec (here: another layer size), another epoch total under a cosine schedule or
    fewer epochs than the checkpoint has run are refused in one line; without a decay an
    explicit --epochs extends the run."""
    import yaml
    spec_dict = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    spec_dict["data"] = {"dataset": "digits", "train_size": 80, "test_size": 40}
    spec = tmp_path / "q.yaml"
    spec.write_text(yaml.safe_dump(spec_dict))
    out = tmp_path / "r.h5"
    assert run_cli(spec, "--epochs", 1, "--out", out, "--keep-checkpoint",
                   cwd=tmp_path).returncode == 0
    out.unlink()  # as a killed run leaves it: a checkpoint, no results
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**spec_dict, "cells": {**spec_dict["cells"],
                                                            "layers": [60, 10]}}))
    r = run_cli(other, "--out", out, "--resume", cwd=tmp_path)
    assert r.returncode == 1 and "belongs to another spec" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    r = run_cli(spec, "--out", out, "--resume", "--epochs", 2, "--keep-checkpoint",
                cwd=tmp_path)
    assert r.returncode == 0 and "resumed from" in r.stderr and "epoch 2/2" in r.stderr
    out.unlink()  # fewer epochs than the checkpoint has run cannot be honoured
    r = run_cli(spec, "--out", out, "--resume", "--epochs", 1, cwd=tmp_path)
    assert r.returncode == 1 and "already run 2 epochs" in r.stderr and not out.exists()
    assert len(r.stderr.strip().splitlines()) == 1
    cosine = tmp_path / "cos.yaml"
    cosine.write_text(yaml.safe_dump({**spec_dict, "train": {**spec_dict["train"],
                                                             "lr_decay": "cosine"}}))
    assert run_cli(cosine, "--epochs", 1, "--out", tmp_path / "c.h5", "--keep-checkpoint",
                   cwd=tmp_path).returncode == 0
    (tmp_path / "c.h5").unlink()
    r = run_cli(cosine, "--out", tmp_path / "c.h5", "--resume", "--epochs", 3, cwd=tmp_path)
    assert r.returncode == 1 and "resume without --epochs" in r.stderr


@pytest.mark.slow
def test_quickstart_reaches_90_percent(tmp_path):
    r = run_cli(ROOT / "examples/quickstart.yaml", "--json", "--out", tmp_path / "q.h5",
                cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import json
    result = json.loads(r.stdout)
    assert result["test_accuracy"] >= 0.90, result
    assert result["epochs"] == 8


def test_run_json_and_plots(tmp_path):
    r = run_cli(ROOT / "examples/quickstart.yaml", "--epochs", 1, "--json", "--out",
                tmp_path / "q.h5", "--plot", tmp_path / "figs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import json
    out = json.loads(r.stdout)  # exactly one JSON object on stdout
    assert {"test_accuracy", "train_accuracy", "epochs", "seconds"} <= set(out)
    assert out["epochs"] == 1 and 0 <= out["test_accuracy"] <= 1
    for name in ("learning_curve.png", "confusion.png"):
        assert (tmp_path / "figs" / name).read_bytes()[:4] == b"\x89PNG"
    with h5py.File(tmp_path / "q.h5") as f:
        assert f["confusion"][:].sum() == 360  # every digits test sample scored once
        assert f["learning_curve/test_accuracy"].shape == (1,)
        assert "quickstart" in f["spec"][()].decode()
