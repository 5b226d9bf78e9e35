"""The learners read the chip as its ADC samples it (its clock, window, bits), and every spec
field is used by a command, refused by it, or named in a warning: never ignored silently."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.errors import SpecError, ThermochipError
from thermochip.learn import make_learner
from thermochip.learn.ep_circuit import phase_samples
from thermochip.spec_io import load_spec

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())


def quickstart(**adc) -> dict:
    spec = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    spec["adc"].update(adc)
    return spec


def thermochip(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "thermochip", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_phase_samples_follow_the_adc_clock_back_from_the_phase_end():
    spec = load_spec(quickstart(sample_rate="500 MHz"))            # every 2 steps
    assert phase_samples(spec, spec.learner, 30).tolist() == [30]  # window 2: one sample
    wide = load_spec({**quickstart(sample_rate="250 MHz"),
                      "learner": {**QUICKSTART["learner"], "window": 12,
                                  "nudged_steps": 12}})
    assert phase_samples(wide, wide.learner, 30).tolist() == [22, 26, 30]


@pytest.mark.slow
def test_the_free_phase_accumulates_window_averages_on_the_adc_clock():
    """The quickstart with a 500 MHz ADC averaging 2 ns windows over a 12-step learner window:
    the free phase's samples are the 2-step means of the trajectory at steps 20, 22, ..., 30,
    checked against the same run read every step through a one-step window (the ADC does not
    touch the dynamics; a 16-bit ADC makes quantisation negligible)."""
    def free_phase(**adc):
        spec = quickstart(bits=16, **adc)
        spec["learner"] = {**spec["learner"], "window": 12, "nudged_steps": 12,
                           "update_every": 4}
        spec["run"] = {"seed": 1, "dtype": "float64"}
        chip = Chip.from_spec(load_spec(spec, base_dir=ROOT / "examples"))
        pixels = np.random.default_rng(0).uniform(0, 1, (4, 64))
        return make_learner(chip, 10).free(pixels)[2]
    every = free_phase(sample_rate="1 GHz")                     # steps 19..30, one each
    clocked = free_phase(sample_rate="500 MHz", window="2 ns")  # steps 20, 22, ..., 30
    assert every.shape[1] == 12 and clocked.shape[1] == 6
    want = 0.5 * (every[:, 0::2] + every[:, 1::2])
    lsb = 2.0 / 2 ** 16
    np.testing.assert_allclose(clocked, want, rtol=0, atol=2 * lsb)
    assert np.abs(clocked - every[:, 1::2]).max() > 100 * lsb   # the window matters


@pytest.mark.slow
def test_training_reads_the_adc_sample_rate():
    """1 GHz and 250 MHz read different samples, so they train to different couplings."""
    codes = []
    for rate in ("1 GHz", "250 MHz"):
        spec = quickstart(sample_rate=rate)
        spec["learner"] = {**spec["learner"], "window": 8, "nudged_steps": 8}
        spec["data"] = {"dataset": "digits", "train_size": 16, "test_size": 8}
        chip = Chip.from_spec(load_spec(spec, base_dir=ROOT / "examples"))
        learner = make_learner(chip, 10)
        pixels = np.random.default_rng(0).uniform(0, 1, (8, 64))
        learner.train_batch(pixels, np.arange(8) % 10)
        codes.append(chip.J_codes.copy())
    assert not np.array_equal(*codes)


@pytest.mark.parametrize(("change", "path", "message"), [
    ({"adc": {**QUICKSTART["adc"], "sample_rate": None, "sample_times": ["10 ns", "20 ns"]}},
     "adc.sample_times", "learners sample on the ADC's clock"),
    ({"adc": {**QUICKSTART["adc"], "sample_rate": "250 MHz"}},
     "learner.window", "holds no ADC sample: the ADC samples every 4 steps"),
])
def test_ep_refuses_an_adc_schedule_it_cannot_honour(change, path, message):
    with pytest.raises(SpecError) as err:
        load_spec({**QUICKSTART, **change})
    assert [p for p, m in err.value.problems if message in m] == [path]


def test_om_samples_on_the_adc_clock_and_refuses_what_breaks_its_residuals():
    om = yaml.safe_load((ROOT / "examples/digits_om.yaml").read_text())
    load_spec(om)                                         # spacing 2 matches 10 GHz at 50 ps
    for change, path in (({"learner": {**om["learner"], "spacing": 3}}, "learner.spacing"),
                         ({"adc": {**om["adc"], "window": "100 ps"}}, "adc.window")):
        with pytest.raises(SpecError) as err:
            load_spec({**om, **change})
        assert [p for p, _ in err.value.problems] == [path]


def test_calibrate_refuses_a_slower_adc_by_name():
    cal = yaml.safe_load((ROOT / "examples/calibrate_softspin.yaml").read_text())
    cal["adc"]["sample_rate"] = "5 GHz"                   # every 4 steps of 50 ps
    load_spec(cal)                                        # simulate can use it
    with pytest.raises(SpecError) as err:
        load_spec(cal, command="calibrate")
    assert [p for p, m in err.value.problems
            if "a sample every step: set adc.sample_rate to 1/dt = 2e+10 Hz" in m] == [
        "adc.sample_rate"]


def test_a_training_spec_needs_no_run_length_but_simulate_says_so():
    spec = load_spec(QUICKSTART)
    assert spec.integrator.steps is None
    with pytest.raises(ThermochipError, match="set integrator.steps or integrator.duration"):
        Engine(Chip.from_spec(spec, base_dir=ROOT / "examples")).run()
    with pytest.raises(SpecError, match="give the run's length"):
        load_spec({k: v for k, v in QUICKSTART.items()
                   if k not in ("learner", "data", "train")})


def test_commands_name_the_fields_they_do_not_read(tmp_path):
    """run warns about integrator.steps and run.replicas (with their lines) and still trains;
    simulate about the sections only training reads; a warning is one line on stderr."""
    spec = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
    spec["integrator"]["steps"] = 30
    spec["run"]["replicas"] = 4
    spec["data"] = {"dataset": "digits", "train_size": 16, "test_size": 8}
    spec["train"]["epochs"] = 1
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    lines = {key: i for i, text in enumerate(path.read_text().splitlines(), 1)
             for key in ("steps", "replicas") if text.strip().startswith(f"{key}:")}
    r = thermochip("run", path, "--out", tmp_path / "q.h5", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warnings = [s for s in r.stderr.splitlines() if s.startswith(f"warning: {path}")]
    assert warnings == [
        f"warning: {path}: integrator.steps (line {lines['steps']}): not used by thermochip "
        f"run: each learner phase sets its own length (learner section)",
        f"warning: {path}: run.replicas (line {lines['replicas']}): not used by thermochip "
        f"run: training runs learner.update_every replicas, evaluation train.eval_replicas"]
    r = thermochip("simulate", path, "--out", tmp_path / "s.h5", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    warnings = [s for s in r.stderr.splitlines() if s.startswith("warning:")]
    assert len(warnings) == 1 and "data (line" in warnings[0] and "learner (line" in \
        warnings[0] and warnings[0].endswith("not used by thermochip simulate: it trains "
                                             "nothing (thermochip run does)")


def test_a_phase_adc_gives_the_accumulators_cos_and_sin_of_the_quantised_angle():
    """With a 3-bit phase ADC the free phase's channels are cos and sin of the 8 code centres
    -7pi/8 .. 7pi/8, each the code of the angle the (16-bit) I/Q read-out of the same run
    shows: the ADC does not touch the dynamics, the local circuit turns codes into channels."""
    def free_phase(adc):
        spec = quickstart(**adc)
        spec["run"] = {"seed": 1, "dtype": "float64"}
        chip = Chip.from_spec(load_spec(spec, base_dir=ROOT / "examples"))
        pixels = np.random.default_rng(0).uniform(0, 1, (8, 64))
        return make_learner(chip, 10).free(pixels)[2]
    iq = free_phase({"bits": 16})
    ph = free_phase({"bits": 3, "mode": "phase", "full_scale": np.pi})
    assert ph.shape == iq.shape
    lsb = 2 * np.pi / 8
    code = np.floor((np.arctan2(iq[..., 1], iq[..., 0]) + np.pi) / lsb)
    sure = np.abs((np.arctan2(iq[..., 1], iq[..., 0]) + np.pi) / lsb - code - 0.5) < 0.49
    centre = -np.pi + (code + 0.5) * lsb
    assert sure.mean() > 0.9
    np.testing.assert_allclose(ph[..., 0][sure], np.cos(centre)[sure], atol=1e-12)
    np.testing.assert_allclose(ph[..., 1][sure], np.sin(centre)[sure], atol=1e-12)
    assert len(np.unique(np.round(ph[..., 0], 12))) <= 4     # cos of 8 angles: 4 values


@pytest.mark.parametrize("adc, field", [({"mode": "phase"}, "adc.full_scale"),
                                        ({"mode": "phase", "full_scale": 3.1416,
                                          "sample_rate": "500 MHz", "window": "2 ns"},
                                         "adc.window")])
def test_ep_refuses_a_phase_read_out_it_cannot_use(adc, field):
    with pytest.raises(SpecError, match=field.replace(".", r"\.")):
        load_spec(quickstart(**adc))
