"""The command line end to end: validate and simulate every example, the HDF5 contents, the
figures, and one-line errors with the right exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))


def thermochip(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "thermochip", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def test_every_example_validates():
    r = thermochip("validate", *EXAMPLES)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ok: ") == len(EXAMPLES) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_simulate_writes_results(example, tmp_path):
    out = tmp_path / "run.h5"
    r = thermochip("simulate", example, "--steps", 40, "--replicas", 3, "--seed", 7,
                   "--out", out)
    assert r.returncode == 0, r.stderr
    assert "steps/s" in r.stdout and "Traceback" not in r.stderr
    spec = yaml.safe_load((ROOT / example).read_text())
    with h5py.File(out) as f:
        n = f["state/final"].shape[1]
        assert f["state/final"].shape == (3, n)
        assert np.all(np.isfinite(f["state/final"][:]))
        assert f.attrs["seed"] == 7 and f.attrs["steps"] == 40
        resolved = yaml.safe_load(f["spec"][()].decode())
        assert resolved["run"]["replicas"] == 3 and resolved["integrator"]["steps"] == 40
        assert resolved["cells"]["model"] == spec["cells"]["model"]
        assert f["energy/values"].shape[1] == 3
        codes = f["couplings/codes"][:]
        L = 2 ** (f["couplings"].attrs["bits"] - 1) - 1
        assert np.array_equal(codes, codes.T) and np.abs(codes).max() <= L
        if "adc" in spec:
            c = f["adc/codes"][:]  # a slow ADC may take no sample in 40 steps
            assert c.shape[0] == 3 and (c.size == 0 or c.max() < 2 ** f["adc"].attrs["bits"])
            assert f["adc/saturated"].shape[0] == n


def test_simulate_plots(tmp_path):
    r = thermochip("simulate", ROOT / "examples/oim_maxcut.yaml", "--steps", 50,
                   "--replicas", 2, "--out", tmp_path / "r.h5", "--plot", tmp_path / "figs")
    assert r.returncode == 0, r.stderr
    for name in ("traces.png", "energy.png", "final_states.png"):
        png = tmp_path / "figs" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size > 5000  # a real figure, not an empty canvas


def test_same_seed_same_file_contents(tmp_path):
    args = (ROOT / "examples/softspin_sampler.yaml", "--steps", 60, "--replicas", 2)
    for name in ("a.h5", "b.h5"):
        assert thermochip("simulate", *args, "--out", tmp_path / name).returncode == 0
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert np.array_equal(a["adc/codes"][:], b["adc/codes"][:])
        assert np.array_equal(a["state/final"][:], b["state/final"][:])


def test_non_finite_state_is_one_line_exit_3(tmp_path):
    spec = {"cells": {"model": "softspin", "n": 2, "params": {"J2": -50.0, "J4": 0.0}},
            "integrator": {"dt": "1 ns", "steps": 200}, "run": {"replicas": 2}}
    path = tmp_path / "blowup.yaml"
    path.write_text(yaml.safe_dump(spec))
    r = thermochip("simulate", path, "--out", tmp_path / "x.h5")
    assert r.returncode == 3
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.strip().splitlines() if not line.startswith("warning")]
    assert len(lines) == 1 and "non-finite state at step" in lines[0]
    assert "too coarse" in r.stderr   # the spec check saw it coming (stiffness x dt~ >= 2)
    assert not (tmp_path / "x.h5").exists()  # nothing partial is left behind


@pytest.mark.parametrize("args, code", [
    (("simulate", "missing.yaml"), 2),
    (("simulate", "EXAMPLE", "--steps", "0"), 1),
])
def test_bad_invocations_exit_non_zero_without_traceback(args, code, tmp_path):
    args = [str(ROOT / "examples/oim_maxcut.yaml") if a == "EXAMPLE" else a for a in args]
    r = thermochip(*args, "--out", tmp_path / "x.h5", cwd=tmp_path)
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.startswith("error: ")


@pytest.mark.parametrize("change, where", [
    ({"couplings": {"init": {"kind": "constant", "value": 0.0}, "asymmetric": True}},
     "couplings.asymmetric"),
    ({"cells": {"model": "softspin", "preset": "linear_ou", "layers": [60, 4]},
      "topology": {"kind": "layered", "feedforward": True}}, "topology.feedforward"),
])
def test_om_learner_on_a_directed_chip_is_refused(tmp_path, change, where):
    """`thermochip run`/`validate` of an OM spec on a directed chip: exit 2, the YAML path of
    the option that made it directed, with its line, and what is expected."""
    spec = {**yaml.safe_load((ROOT / "examples/digits_om.yaml").read_text()), **change}
    path = tmp_path / "om.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    line = next(k for k, text in enumerate(path.read_text().splitlines(), 1)
                if text.strip().startswith(where.split(".")[1] + ":"))
    for command in ("validate", "run"):
        r = thermochip(command, path, cwd=tmp_path)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and r.stderr.startswith("error: ")
        problem = [s.strip() for s in r.stderr.splitlines() if s.startswith(f"  {where}")]
        assert problem == [f"{where} (line {line}): learner rule om fits one coupling per "
                           f"reciprocal pair (J_ij = J_ji) and needs reciprocal couplers; set "
                           f"{where}: false"], r.stderr


def test_calibrate_refuses_a_directed_chip(tmp_path):
    spec = yaml.safe_load((ROOT / "examples/calibrate_softspin.yaml").read_text())
    spec["couplings"]["asymmetric"] = True
    path = tmp_path / "cal.yaml"
    path.write_text(yaml.safe_dump(spec))
    r = thermochip("calibrate", path, "--steps", 10, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1)
                if text.strip().startswith("asymmetric:"))
    assert r.stderr.strip().splitlines() == [
        f"error: 1 problem in {path}",
        f"  couplings.asymmetric (line {line}): calibrate fits one coupling per reciprocal "
        f"pair (J_ij = J_ji) and needs reciprocal couplers; set couplings.asymmetric: false"]


def test_simulate_directed_chip_counts_devices(tmp_path):
    spec = {"cells": {"model": "softspin", "layers": [3, 4, 2]},
            "topology": {"kind": "layered", "feedforward": True},
            "integrator": {"dt": "1 ns", "steps": 5}, "run": {"replicas": 2}}
    path = tmp_path / "ff.yaml"
    path.write_text(yaml.safe_dump(spec))
    r = thermochip("simulate", path, "--out", tmp_path / "ff.h5")
    assert r.returncode == 0, r.stderr
    assert "9 softspin cells, 20 directed couplers" in r.stdout
    with h5py.File(tmp_path / "ff.h5") as f:
        assert f["couplings"].attrs["directed"]
        mask = f["couplings/mask"][()].astype(bool)
        assert mask.sum() == 20 and not np.any(mask & mask.T)


def test_readme_python_examples_run():
    text = (ROOT / "README.md").read_text()
    blocks = [part.split("```", 1)[0] for part in text.split("```python\n")[1:]]
    assert len(blocks) == 2 and len(blocks[0].strip().splitlines()) <= 15
    for block in blocks:
        r = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True,
                           cwd=ROOT)
        assert r.returncode == 0, r.stderr
        assert len(r.stdout.strip().splitlines()) >= 1


def test_readme_commands_match_ci():
    text = (ROOT / "README.md").read_text()
    test_cmd = 'pip install ".[test]" && python -m pytest -q'
    assert test_cmd in text and test_cmd in (ROOT / ".ci/run").read_text()
