"""What a user meets on their second day: every mistake is one line naming the field (with its
YAML line) or the option, a non-zero exit, no traceback, and no file left behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = yaml.safe_load((ROOT / "examples/quickstart.yaml").read_text())
MAXCUT = yaml.safe_load((ROOT / "examples/oim_maxcut.yaml").read_text())


def thermochip(*args, cwd):
    return subprocess.run([sys.executable, "-m", "thermochip", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def one_line_error(result, *words):
    """The command failed with exactly one stderr line holding every word, and no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, result.stdout
    assert len(lines) == 1 and lines[0].startswith("error"), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def spec_file(tmp_path, spec, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def with_(base: dict, **sections) -> dict:
    out = json.loads(json.dumps(base))
    for path, value in sections.items():
        node = out
        keys = path.split("__")
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return out


SPEC_MISTAKES = [
    # (spec, command, words the one line must hold)
    (with_(MAXCUT, integrator__dt="1 s", integrator__duration="3 us", integrator__steps=None),
     "simulate", ["integrator.duration", "shorter than one step"]),
    (with_(MAXCUT, fields__init={"h": float("nan")}), "simulate",
     ["fields.init.h", "finite"]),
    (with_(QUICKSTART, learner__window=100), "run",
     ["learner.window", "longer than the phase", "free_steps: 30"]),
    (with_(QUICKSTART, data={"dataset": "fashion_mnist", "path": "no_such_folder"}), "run",
     ["data.path", "no such folder"]),
    (with_(QUICKSTART, data={"dataset": "fashion_mnist", "path": "spec.yaml"}), "run",
     ["data.path", "not a folder"]),
]


@pytest.mark.parametrize("spec, command, words", SPEC_MISTAKES)
def test_spec_mistakes_are_one_line_with_their_field(tmp_path, spec, command, words):
    path = spec_file(tmp_path, spec)
    result = thermochip(command, path, "--out", tmp_path / "out.h5", cwd=tmp_path)
    # validate says the same, with the spec's problems one per line
    assert result.returncode != 0 and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert thermochip("validate", path, cwd=tmp_path).returncode == 2
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.parametrize("rows, words", [("0,1,nan\n", ["topology.edges_file", "edge 1",
                                                        "not finite", "edges.csv"]),
                                         ("# no edges\n", ["topology.edges_file", "no edges",
                                                           "edges.csv"])])
def test_edge_files_with_nonsense_are_named(tmp_path, rows, words):
    (tmp_path / "edges.csv").write_text(rows)
    spec = with_(MAXCUT, topology={"kind": "sparse", "edges_file": "edges.csv"},
                 cells={**MAXCUT["cells"], "n": 4})
    spec["couplings"] = {**spec.get("couplings", {}), "init": {"kind": "edges"}}
    result = thermochip("validate", spec_file(tmp_path, spec), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def test_a_coupling_matrix_file_with_nan_is_named_by_row_and_column(tmp_path):
    n = MAXCUT["cells"]["n"]
    rows = [[0.0] * n for _ in range(n)]
    rows[1][2] = float("nan")
    (tmp_path / "J.csv").write_text("\n".join(",".join(map(str, r)) for r in rows))
    spec = with_(MAXCUT, couplings__init={"kind": "file", "path": "J.csv"})
    result = thermochip("validate", spec_file(tmp_path, spec), cwd=tmp_path)
    assert result.returncode == 2
    assert "couplings.init.path" in result.stderr and "row 2, column 3" in result.stderr


@pytest.mark.parametrize("command, option", [("run", "--threads"), ("simulate", "--threads"),
                                             ("simulate", "--replicas"),
                                             ("calibrate", "--steps")])
@pytest.mark.parametrize("value", [0, -1])
def test_numbers_out_of_range_on_the_command_line(tmp_path, command, option, value):
    spec = {"run": ROOT / "examples/quickstart.yaml",
            "simulate": ROOT / "examples/oim_maxcut.yaml",
            "calibrate": ROOT / "examples/calibrate_softspin.yaml"}[command]
    result = thermochip(command, spec, option, value, "--out", tmp_path / "o.h5", cwd=tmp_path)
    one_line_error(result, f"{option} must be >= 1; got {value}")
    assert not (tmp_path / "o.h5").exists()


def test_outputs_are_checked_before_any_work(tmp_path):
    """A missing folder that cannot be made, an existing result (without --force), a folder
    where a file goes: refused before training, in one line, the existing file untouched;
    --eval-only never writes over a training result; a killed write's leftovers go."""
    quick = ROOT / "examples/quickstart.yaml"
    one_line_error(thermochip("run", quick, "--out", "/proc/none/r.h5", cwd=tmp_path),
                   "cannot write /proc/none/r.h5")
    (tmp_path / "taken.h5").write_text("mine")
    one_line_error(thermochip("run", quick, "--out", tmp_path / "taken.h5", cwd=tmp_path),
                   "exists", "--force")
    assert (tmp_path / "taken.h5").read_text() == "mine"
    (tmp_path / "a_folder.h5").mkdir()
    one_line_error(thermochip("simulate", ROOT / "examples/oim_maxcut.yaml", "--out",
                              tmp_path / "a_folder.h5", cwd=tmp_path), "is a folder")
    one_line_error(thermochip("sweep", quick, "--set", "adc.bits=4", "--out",
                              tmp_path / "taken.h5", cwd=tmp_path), "not a folder")
    leftover = tmp_path / ".r.h5.x1y2.tmp"
    leftover.write_text("partial")
    spec = spec_file(tmp_path, with_(QUICKSTART, data={"dataset": "digits", "train_size": 16,
                                                       "test_size": 8}))
    trained = thermochip("run", spec, "--epochs", 1, "--out", tmp_path / "r.h5",
                         cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    assert not leftover.exists() and not (tmp_path / "r.h5.ckpt").exists()
    one_line_error(thermochip("run", spec, "--eval-only", "--couplings", tmp_path / "r.h5",
                              "--out", tmp_path / "r.h5", cwd=tmp_path),
                   "holds a training result")
    scored = thermochip("run", spec, "--eval-only", "--couplings", tmp_path / "r.h5",
                        cwd=tmp_path)
    assert scored.returncode == 0 and (tmp_path / "spec.eval.h5").exists()
    before = (tmp_path / "r.h5").read_bytes()
    finished = thermochip("run", spec, "--resume", "--out", tmp_path / "r.h5", cwd=tmp_path)
    assert finished.returncode == 0 and "nothing to resume" in finished.stderr
    assert (tmp_path / "r.h5").read_bytes() == before


@pytest.mark.slow
def test_json_is_strict_json(tmp_path):
    """No NaN or Infinity: what has no value is null, with a reason."""
    result = thermochip("run", ROOT / "examples/digits_om.yaml", "--epochs", 1, "--json",
                        "--out", tmp_path / "om.h5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    summary = json.loads(result.stdout, parse_constant=refuse)
    assert summary["val_accuracy"] is None and "validation" in summary["val_accuracy_why"]
    assert summary["settling"] is None and summary["settling_why"]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_killed_sweep_takes_its_workers_with_it(tmp_path):
    """SIGKILL of the sweep itself: its worker processes (and the resource tracker) are gone
    within a few seconds instead of running on."""
    import signal
    import time
    spec = spec_file(tmp_path, with_(QUICKSTART, data={"dataset": "digits"}))
    proc = subprocess.Popen([sys.executable, "-m", "thermochip", "sweep", str(spec), "--set",
                             "adc.bits=4,5,6,8", "--epochs", "50", "--workers", "2", "--out",
                             str(tmp_path / "s")], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(_children(proc.pid)) < 3 and time.time() < deadline:  # 2 workers + tracker
        time.sleep(0.1)
    children = _children(proc.pid)
    assert len(children) >= 3, children
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while any(_alive(c) for c in children) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(c) for c in children)


def test_a_step_that_biases_the_sampled_law_is_named(tmp_path):
    """The sampler at dt~ = 0.05 by Euler-Maruyama: validate and simulate warn in one line
    with the YAML line; by Leimkuhler-Matthews (the example's choice) nothing."""
    sampler = yaml.safe_load((ROOT / "examples/softspin_sampler.yaml").read_text())
    euler = spec_file(tmp_path, with_(sampler, integrator__method="euler_maruyama"))
    for command in ("validate", "simulate"):
        result = thermochip(command, euler, "--out", tmp_path / "s.h5", cwd=tmp_path) \
            if command == "simulate" else thermochip(command, euler, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "integrator.dt" in line]
        assert len(warnings) == 1 and "off by about 10%" in warnings[0]
        assert "leimkuhler_matthews" in warnings[0] and "(line " in warnings[0]
    result = thermochip("validate", ROOT / "examples/softspin_sampler.yaml", cwd=tmp_path)
    assert result.returncode == 0 and "integrator.dt" not in result.stderr


def test_an_unstable_step_is_named(tmp_path):
    """Stiffness 0.8 at dt~ = 2.5: every command that reads the spec warns, with the bound."""
    path = spec_file(tmp_path, with_(MAXCUT, integrator__dt="25 ns"))
    result = thermochip("validate", path, cwd=tmp_path)
    warnings = [line for line in result.stderr.splitlines() if "too coarse" in line]
    assert len(warnings) == 1 and "integrator.dt (line" in warnings[0]
    assert "stiffness x dt~ must stay below 2" in warnings[0]
