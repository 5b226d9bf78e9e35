"""Where AsymEP's and Dyadic EP's Jacobian comes from: the true analog couplings, the nominal
codes, or the chip's own calibration (which must see the mismatch the codes cannot)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from thermochip.chip import Chip
from thermochip.errors import SpecError
from thermochip.learn import make_learner
from thermochip.spec_io import load_spec

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parent.parent


def study(jacobian, **changes) -> dict:
    """The AsymEP delay study chip at 20 ps (alpha = 0.63 rad) with 20 % coupler mismatch."""
    spec = yaml.safe_load((ROOT / "examples/studies/delay_asymep.yaml").read_text())
    spec["noise"]["mismatch"] = {"coupler_gain": 0.2}
    spec["learner"]["jacobian"] = jacobian
    for path, value in changes.items():
        section, field = path.split(".")
        spec[section][field] = value
    return spec


def estimate(jacobian):
    chip = Chip.from_spec(load_spec(study(jacobian), base_dir=ROOT / "examples"))
    learner = make_learner(chip, 10)
    return chip, learner.estimator.couplings, learner


def rel_error(chip, couplings):
    """RMS error of (J cos alpha, J sin alpha) over the couplers, relative to their RMS."""
    (Jc,), (Js,) = couplings.matrices()
    (Tc,), (Ts,) = chip.delay_matrices()
    m = chip.mask
    err = np.concatenate([(Jc - Tc)[m], (Js - Ts)[m]])
    ref = np.concatenate([Tc[m], Ts[m]])
    return np.sqrt(np.mean(err ** 2) / np.mean(ref ** 2))


def test_true_is_the_chip_and_nominal_is_codes_and_nominal_delay():
    chip, true, _ = estimate("true")
    for a, b in zip(true.matrices(), chip.delay_matrices()):
        np.testing.assert_array_equal(a, b)
    chip, nominal, _ = estimate("nominal")
    J = np.where(chip.mask, chip.J_codes * chip.registers.couplings.dac.lsb, 0.0)
    alpha = 2 * np.pi * 5e9 * 20e-12
    (Jc,), (Js,) = nominal.matrices()
    np.testing.assert_allclose(Jc, J * np.cos(alpha), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(Js, J * np.sin(alpha), rtol=1e-12, atol=1e-15)
    # 20 % gain mismatch: the nominal couplings are off by about that
    assert 0.15 < rel_error(chip, nominal) < 0.25


def test_calibration_measures_the_mismatch_the_codes_cannot_show():
    """The chip's own OM regression (256 relaxations of 50 steps through its 6-bit I/Q ADC)
    recovers each coupler's gain and phase: a tenth of the nominal error, and it tracks later
    code writes with the gains it measured."""
    chip, calibrated, learner = estimate("calibrated")
    error = rel_error(chip, calibrated)
    assert error < 0.05   # a quarter of the 20 % the nominal couplings miss, or better
    report = learner.report()
    assert report["jacobian"] == "calibrated" and report["gain_error_rms"] < 0.05
    codes = chip.J_codes.copy()
    codes[chip.mask] = np.clip(codes[chip.mask] + 3, -127, 127)
    chip.registers.couplings.write(codes)
    assert rel_error(chip, calibrated) < 2 * error


def test_the_adjoint_correction_is_built_from_the_chosen_couplings():
    """The nudged phases' engine packs A from the estimate, not from the chip."""
    from thermochip.packing import adjoint_matrices, pack_adjoint
    chip, nominal, learner = estimate("nominal")
    engine = learner.nudge_engine
    assert engine.jacobian[0] == "nominal"

    def packed(matrices):
        pairs, Q = adjoint_matrices(chip.model, *matrices)
        return pack_adjoint(chip, Q, engine.dtype, not engine.cell_major)[1]
    np.testing.assert_array_equal(engine.adjoint[2], packed(nominal.matrices()))
    assert not np.allclose(engine.adjoint[2], packed(chip.delay_matrices()))


@pytest.mark.parametrize("changes", [{"adc.sample_rate": "500 MHz"},
                                     {"delays.loop_latency": "2 ns"}])
def test_calibrated_refuses_what_its_regression_cannot_model(changes):
    with pytest.raises(SpecError, match=r"learner\.jacobian"):
        load_spec(study("calibrated", **changes), base_dir=ROOT / "examples")


def test_a_bare_yaml_true_names_the_true_jacobian():
    spec = load_spec(yaml.safe_load(yaml.safe_dump(study("true")).replace("'true'", "true")),
                     base_dir=ROOT / "examples")
    assert spec.learner.jacobian == "true"
