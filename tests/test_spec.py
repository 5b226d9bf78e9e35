"""Chip spec loading: units, YAML -> dataclasses, error messages, round trips, JSON Schema, CLI."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import types
from dataclasses import dataclass

import pytest
import yaml

from thermochip import checks, cli
from thermochip.errors import SpecError, ThermochipError
from thermochip.spec import (
    AllToAll,
    ChipSpec,
    ConstantInit,
    EdgesInit,
    Interval,
    OneOf,
    Sparse,
    spec_field,
)
from thermochip.spec_build import build_dataclass
from thermochip.spec_io import dump_spec, load_spec, spec_to_dict, with_overrides
from thermochip.spec_schema import json_schema
from thermochip.spec_yaml import MAX_ALIASES
from thermochip.units import parse_quantity

MINIMAL = {"cells": {"model": "oim", "n": 4}, "integrator": {"dt": "1 ns", "steps": 10}}

# Every section given, with unit strings wherever a unit field allows them.
FULL = {
    "name": "demo",
    "cells": {"model": "oim", "n": 4, "params": {}},
    "topology": {"kind": "sparse", "edges": [[0, 1], [1, 2, 0.5], [2, 3]]},
    "couplings": {"init": {"kind": "edges", "scale": -1},
                  "dac": {"bits": 6, "full_scale": 1.5, "rounding": "stochastic",
                          "write_noise": 0.1}},
    "fields": {"init": {"h": [0.0, 0.1, 0.0, -0.1]}, "dac": {"bits": 10, "full_scale": 2}},
    "noise": {"thermal": {"kT": 0.01},
              "phase": {"linewidth": "100 kHz"},
              "flicker": {"amplitude": 0.01, "f_min": "1 kHz", "f_max": "10 MHz",
                          "poles_per_decade": 3},
              "mismatch": {"cell_gain": 0.01, "coupler_offset": 0.002}},
    "delays": {"interconnect": "5 ps", "loop_latency": "50 ps", "latency_jitter": "1 ps",
               "bins": 2},
    "adc": {"bits": 6, "full_scale": 1.0, "mode": "phase",
            "sample_times": ["1 ns", "5 ns", 9e-9], "window": "500 ps", "noise": 0.001},
    "integrator": {"dt": "50 ps", "steps": 200, "energy_every": 10,
                   "initial_state": {"kind": "normal", "mean": 0.0, "std": 0.5}},
    "run": {"replicas": 2, "seed": 7, "dtype": "float64"},
}


# ---------------------------------------------------------------------------------------------
# units


@pytest.mark.parametrize("value, unit, expected", [
    ("50 ps", "s", 5e-11),
    ("1.2 GHz", "Hz", 1.2e9),
    ("1e-9 s", "s", 1e-9),
    ("100MHz", "Hz", 1e8),
    ("2.5ns", "s", 2.5e-9),
    ("0", "s", 0.0),
    ("3 us", "s", 3e-6),
    ("3 \u00b5s", "s", 3e-6),   # micro sign
    ("3 \u03bcs", "s", 3e-6),   # Greek mu
    ("1 kHz", "Hz", 1e3),
    ("1e-9", "s", 1e-9),
    ("5 ms", "s", 5e-3),        # milli ...
    ("5 Ms", "s", 5e6),         # ... is not mega
    ("-1.5 ns", "s", -1.5e-9),
    (" 7 s ", "s", 7.0),
    (".5 fs", "s", 5e-16),
    (5, "s", 5.0),
    (2.5e-9, "s", 2.5e-9),
])
def test_parse_quantity_good(value, unit, expected):
    result = parse_quantity(value, unit)
    assert isinstance(result, float)
    assert result == expected  # exact: the prefix is applied in decimal


@pytest.mark.parametrize("value, unit, fragment", [
    ("5 Hz", "s", "'Hz'"),
    ("1.2 ghz", "Hz", "did you mean 'GHz'"),
    ("100 mhz", "Hz", "'MHz'"),
    ("5 mm", "s", "'mm'"),
    ("abc", "s", "cannot read"),
    ("", "s", "cannot read"),
    ("ns", "s", "cannot read"),
    ("1 2 s", "s", "cannot read"),
    ("inf", "s", "cannot read"),
    (True, "s", "bool"),
    (None, "s", "NoneType"),
    ([1], "s", "list"),
    (float("nan"), "s", "finite"),
    (float("inf"), "Hz", "finite"),
])
def test_parse_quantity_bad(value, unit, fragment):
    with pytest.raises(ValueError) as info:
        parse_quantity(value, unit)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


# ---------------------------------------------------------------------------------------------
# loading dicts


def test_minimal_spec_gets_defaults():
    spec = load_spec(MINIMAL)
    assert isinstance(spec, ChipSpec)
    assert spec.cells.n == 4 and spec.cells.model == "oim"
    assert spec.integrator.dt == 1e-9 and spec.integrator.steps == 10
    assert spec.topology == AllToAll()
    assert spec.adc is None
    assert spec.fields.dac.bits == 10  # the FieldsSpec default differs from DacSpec's


def test_full_spec_values_are_converted():
    spec = load_spec(copy.deepcopy(FULL))
    assert spec.name == "demo"
    assert spec.topology == Sparse(edges=[[0.0, 1.0], [1.0, 2.0, 0.5], [2.0, 3.0]])
    assert spec.couplings.init == EdgesInit(scale=-1.0)
    assert isinstance(spec.couplings.init.scale, float)
    assert spec.couplings.dac.rounding == "stochastic"
    assert spec.fields.init == {"h": [0.0, 0.1, 0.0, -0.1]}
    assert spec.noise.phase.linewidth == 1e5
    assert spec.noise.flicker.f_min == 1e3 and spec.noise.flicker.f_max == 1e7
    assert spec.noise.mismatch.coupler_offset == 0.002
    assert spec.delays.interconnect == 5e-12
    assert spec.delays.loop_latency == 5e-11  # "50 ps"
    assert spec.adc.sample_times == [1e-9, 5e-9, 9e-9]
    assert spec.adc.window == 5e-10
    assert spec.integrator.dt == 5e-11
    assert spec.integrator.initial_state.kind == "normal"
    assert spec.run.dtype == "float64" and spec.run.seed == 7


def test_load_does_not_share_mutable_values_with_input():
    data = copy.deepcopy(FULL)
    spec = load_spec(data)
    data["fields"]["init"]["h"][0] = 99.0
    assert spec.fields.init["h"][0] == 0.0


def test_bare_kind_strings_for_unions():
    spec = load_spec({**MINIMAL, "topology": "all_to_all", "couplings": {"init": "random"}})
    assert spec.topology == AllToAll()
    assert spec.couplings.init.kind == "random"
    data = {**MINIMAL, "topology": "sparse"}
    spec, problems = build_dataclass(ChipSpec, data)  # structure only, no cross-section checks
    assert problems == [] and spec.topology == Sparse()


def test_all_problems_are_collected():
    bad = {
        "cells": {"model": "oim", "n": 0},                        # out of range
        "integrator": {"dt": "1 Hz", "steps": True},              # wrong unit; bool not int
        "noize": {},                                              # unknown key
        "topology": {"kind": "sparce"},                           # unknown kind
        "couplings": {"init": {"kind": "constant"},               # missing required value
                      "dac": {"rounding": "nearst", "bits": 30}},  # OneOf, Interval
        "adc": {"full_scale": "1 V", "sample_times": ["1 ns", "x"]},  # no unit; bad element
    }
    with pytest.raises(SpecError) as info:
        load_spec(bad)
    problems = dict(info.value.problems)
    assert problems["cells.n"] == "must be an int in [1, inf); got 0"
    assert "'Hz'" in problems["integrator.dt"]
    assert problems["integrator.steps"] == "must be an int in [1, inf); got true"
    assert "did you mean 'noise'?" in problems["noize"]
    assert "valid keys: cells, integrator" in problems["noize"]
    assert "did you mean 'sparse'?" in problems["topology.kind"]
    assert "choices: all_to_all, layered, sparse" in problems["topology.kind"]
    assert "missing required key 'value'" in problems["couplings.init"]
    assert problems["couplings.dac.bits"] == "must be an int in [2, 24]; got 30"
    assert problems["couplings.dac.rounding"].startswith("must be one of nearest, stochastic")
    assert "did you mean 'nearest'?" in problems["couplings.dac.rounding"]
    assert problems["adc.full_scale"] == "must be a number in (0, inf); got '1 V'"
    assert "adc.sample_times[1]" in problems
    assert len(info.value.problems) == 10
    assert str(info.value).startswith("10 problems in ")


@pytest.mark.parametrize("section, value, path, fragment", [
    ("integrator", {"dt": 1e-9, "steps": 1e4}, "integrator.steps", "decimal point"),
    ("integrator", {"dt": -1e-9}, "integrator.dt", "must be in (0, inf) s; got -1e-09 s"),
    ("integrator", {"dt": "-1 ns"}, "integrator.dt", "(from '-1 ns')"),
    ("integrator", {"dt": float("nan")}, "integrator.dt", "finite"),
    ("noise", {"thermal": {"kT": "0.1"}}, "noise.thermal.kT", "must be a number"),
    ("noise", None, "noise", "write {} for all defaults"),
    ("cells", {"model": 3, "n": 4}, "cells.model", "must be a string; got 3"),
    ("cells", {"model": "oim", "layers": [4, 2.5]}, "cells.layers[1]", "must be an int"),
    ("cells", {"model": "oim", "params": [1]}, "cells.params", "must be a mapping"),
    ("couplings", {"init": {"kind": "random", "fan_in_scaling": 1}},
     "couplings.init.fan_in_scaling", "true or false"),
    ("couplings", {"init": {"kind": "values", "J": [[0, "a"], 1]}}, "couplings.init.J[1]",
     "must be a list of numbers"),
    ("couplings", {"init": {"std": 1}}, "couplings.init", "missing 'kind'"),
    ("topology", 3, "topology", "or a mapping with 'kind'"),
    ("run", {"seed": -1}, "run.seed", "must be an int in [0, "),
])
def test_single_problem_messages(section, value, path, fragment):
    data = copy.deepcopy(MINIMAL)
    data[section] = value
    with pytest.raises(SpecError) as info:
        load_spec(data)
    problems = dict(info.value.problems)
    assert path in problems, info.value.problems
    assert fragment in problems[path]


def test_missing_required_sections():
    with pytest.raises(SpecError) as info:
        load_spec({"cells": {"n": 4}})
    messages = [m for _, m in info.value.problems]
    assert any("missing required key 'integrator'" in m for m in messages)
    assert ("cells", "missing required key 'model': device model name (see `device_models`): "
                     "oim or softspin") in info.value.problems


@dataclass(frozen=True)
class _DemoParams:
    rate: float = spec_field(1e9, doc="rate", unit="Hz", check=Interval(0, None, False))
    shape: str = spec_field("ring", doc="shape", check=OneOf(("ring", "line")))


def test_build_dataclass_for_device_parameters():
    obj, problems = build_dataclass(_DemoParams, {"rate": "2 GHz"}, "cells.params")
    assert problems == [] and obj == _DemoParams(rate=2e9)
    obj, problems = build_dataclass(_DemoParams, {"rate": 0, "shap": "x"}, "cells.params",
                                    {"cells.params.rate": 5})
    assert obj is None
    assert ("cells.params.rate (line 5)", "must be in (0, inf) Hz; got 0 Hz") in problems
    assert any(p == "cells.params.shap" and "did you mean 'shape'?" in m for p, m in problems)


# ---------------------------------------------------------------------------------------------
# writing, round trips, overrides


@pytest.mark.parametrize("data", [MINIMAL, FULL], ids=["minimal", "full"])
def test_dump_load_round_trip(data):
    spec = load_spec(copy.deepcopy(data))
    text = dump_spec(spec)
    assert load_spec(yaml.safe_load(text)) == spec
    assert spec_to_dict(load_spec(spec_to_dict(spec))) == spec_to_dict(spec)


def test_spec_to_dict_is_plain_and_tagged():
    spec = load_spec({**MINIMAL, "couplings": {"init": {"kind": "constant", "value": 0.5}}})
    d = spec_to_dict(spec)
    assert d["topology"] == {"kind": "all_to_all"}
    assert d["couplings"]["init"] == {"kind": "constant", "value": 0.5}
    assert spec.couplings.init == ConstantInit(value=0.5)
    assert d["integrator"]["dt"] == 1e-9
    yaml.safe_dump(d)  # raises on anything that is not plain YAML


def test_with_overrides():
    original = copy.deepcopy(MINIMAL)
    out = with_overrides(original, "couplings.dac.bits", 4)
    assert out["couplings"] == {"dac": {"bits": 4}}
    assert original == MINIMAL  # deep copy, input untouched
    assert load_spec(out).couplings.dac.bits == 4
    out = with_overrides({**MINIMAL, "topology": "sparse"}, "topology.edges", [[0, 1]])
    assert out["topology"] == {"kind": "sparse", "edges": [[0, 1]]}
    assert with_overrides(MINIMAL, "run.seed", 3)["run"] == {"seed": 3}
    with pytest.raises(SpecError, match="cells.n"):
        with_overrides(MINIMAL, "cells.n.x", 1)
    with pytest.raises(SpecError):
        with_overrides(MINIMAL, "cells..n", 1)


# ---------------------------------------------------------------------------------------------
# JSON Schema


def test_json_schema_accepts_valid_and_rejects_invalid():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for good in (MINIMAL, FULL, spec_to_dict(load_spec(FULL))):
        assert list(validator.iter_errors(good)) == []
    for bad in (
        {**MINIMAL, "cells": {"model": "oim", "n": 0}},                       # minimum
        {**MINIMAL, "noize": {}},                                             # extra key
        {**MINIMAL, "integrator": {"dt": "1 Hz"}},                            # wrong unit
        {**MINIMAL, "run": {"replicas": True}},                               # bool is no int
        {**MINIMAL, "run": {"dtype": "float16"}},                             # enum
        {**MINIMAL, "topology": {"kind": "sparce"}},                          # variant tag
        {**MINIMAL, "couplings": {"init": "constant"}},  # bare kind needs no required field
        {"cells": {"model": "oim"}},                                          # required
    ):
        assert not validator.is_valid(bad), bad


def test_json_schema_content():
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["cells", "integrator"]
    assert schema["additionalProperties"] is False
    dt = schema["$defs"]["IntegratorSpec"]["properties"]["dt"]
    assert "[s;" in dt["description"]
    assert {"type": "number", "exclusiveMinimum": 0} in dt["anyOf"]
    sparse = schema["$defs"]["Sparse"]
    assert sparse["properties"]["kind"]["const"] == "sparse"
    assert "kind" in sparse["required"]
    assert schema["$defs"]["DacSpec"]["properties"]["rounding"]["enum"] == ["nearest",
                                                                            "stochastic"]


# ---------------------------------------------------------------------------------------------
# checks that span sections (thermochip.checks, optional)


def test_cross_section_checks_get_line_numbers(tmp_path, monkeypatch):
    seen = {}

    def spec_problems(spec, base_dir):
        seen["base_dir"] = base_dir
        return [("cells.n", "too many cells for this model"), ("", "a global remark")]

    monkeypatch.setattr(checks, "spec_problems", spec_problems)
    path = tmp_path / "chip.yaml"
    path.write_text("cells:\n  model: oim\n  n: 4\nintegrator: {dt: 1 ns, steps: 10}\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert ("cells.n (line 3)", "too many cells for this model") in info.value.problems
    assert ("", "a global remark") in info.value.problems
    assert seen["base_dir"] == tmp_path


# ---------------------------------------------------------------------------------------------
# directed couplers: couplings.asymmetric, topology.feedforward

SOFTSPIN4 = {"cells": {"model": "softspin", "n": 4}, "integrator": {"dt": "1 ns", "steps": 10}}
SKEW = [[0, 0.5, 0, 0], [-0.2, 0, 0.1, 0], [0, 0.3, 0, 0.4], [0.1, 0, -0.4, 0]]


def test_directed_fields_default_false_and_load():
    spec = load_spec(MINIMAL)
    assert spec.couplings.asymmetric is False
    layered = load_spec({"cells": {"model": "oim", "layers": [2, 2]}, "topology": "layered",
                         "integrator": {"dt": "1 ns", "steps": 10}})
    assert layered.topology.feedforward is False
    ff = load_spec({"cells": {"model": "oim", "layers": [2, 2]},
                    "topology": {"kind": "layered", "feedforward": True},
                    "couplings": {"asymmetric": True},
                    "integrator": {"dt": "1 ns", "steps": 10}})
    assert ff.topology.feedforward is True and ff.couplings.asymmetric is True
    assert load_spec(yaml.safe_load(dump_spec(ff))) == ff
    schema = json_schema()["$defs"]
    assert schema["CouplingsSpec"]["properties"]["asymmetric"]["type"] == "boolean"
    assert schema["Layered"]["properties"]["feedforward"]["default"] is False
    for bad, path in [({"couplings": {"asymmetric": 1}}, "couplings.asymmetric"),
                      ({"cells": {"model": "oim", "layers": [2, 2]}, "topology":
                        {"kind": "layered", "feedforward": "yes"}}, "topology.feedforward")]:
        with pytest.raises(SpecError) as info:
            load_spec({**MINIMAL, **bad})
        assert "true or false" in dict(info.value.problems)[path]
    with pytest.raises(SpecError) as info:  # only the layered topology has it
        load_spec({**MINIMAL, "topology": {"kind": "all_to_all", "feedforward": True}})
    assert "topology.feedforward" in dict(info.value.problems)


def test_values_init_may_be_non_symmetric_only_on_directed_chips():
    values = {"init": {"kind": "values", "J": SKEW}}
    with pytest.raises(SpecError) as info:
        load_spec({**SOFTSPIN4, "couplings": values})
    assert info.value.problems == [("couplings.init.J", "must be symmetric with a zero diagonal "
                                    "(or set couplings.asymmetric: true for directed couplers)")]
    spec = load_spec({**SOFTSPIN4, "couplings": {**values, "asymmetric": True}})
    assert spec.couplings.init.J == SKEW
    diag = [row[:] for row in SKEW]
    diag[2][2] = 1.0
    with pytest.raises(SpecError) as info:
        load_spec({**SOFTSPIN4, "couplings": {"init": {"kind": "values", "J": diag},
                                              "asymmetric": True}})
    assert info.value.problems == [("couplings.init.J", "must have a zero diagonal")]


OM_DIGITS = {"cells": {"model": "softspin", "preset": "linear_ou", "n": 64},
             "integrator": {"dt": "50 ps", "steps": 22},
             "adc": {"bits": 8, "full_scale": 1.5, "mode": "value", "sample_rate": "10 GHz"},
             "data": {"dataset": "digits"}, "learner": {"rule": "om"}}


def test_om_learner_refuses_directed_chips():
    assert load_spec(OM_DIGITS).learner.rule == "om"  # valid when reciprocal
    with pytest.raises(SpecError) as info:
        load_spec({**OM_DIGITS, "couplings": {"asymmetric": True}})
    assert info.value.problems == [
        ("couplings.asymmetric", "learner rule om fits one coupling per reciprocal pair "
                                 "(J_ij = J_ji) and needs reciprocal couplers; set "
                                 "couplings.asymmetric: false")]
    # feed-forward: named by its own path (and OM's need for one cell per pixel, not layered)
    ff = {**OM_DIGITS, "cells": {"model": "softspin", "layers": [60, 4]},
          "topology": {"kind": "layered", "feedforward": True}}
    with pytest.raises(SpecError) as info:
        load_spec(ff)
    problems = dict(info.value.problems)
    assert problems["topology.feedforward"].endswith("set topology.feedforward: false")
    assert "cells" in problems


EP_DIGITS = {"cells": {"model": "oim", "preset": "gower2025", "layers": [6, 10], "inputs": 64},
             "topology": "layered", "integrator": {"dt": "1 ns", "steps": 10},
             "adc": {"bits": 6, "mode": "iq", "sample_rate": "1 GHz"},
             "data": {"dataset": "digits"}, "learner": {"rule": "ep"}}


@pytest.mark.parametrize("rule", ["ep", "asymep", "dyadic"])
def test_ep_rules_state_their_requirements_at_load(rule):
    """Each rule's section declares what it needs; the spec check reports it by path."""
    spec = {**EP_DIGITS, "learner": {"rule": rule}}
    assert load_spec(spec).learner.rule == rule
    cases = [({"cells": {**spec["cells"], "layers": [6, 4]}}, "cells.layers",
              "one cell per class or regression target (10)"),
             ({"cells": {**spec["cells"], "inputs": 10}}, "cells.inputs", "inputs: 64"),
             ({"adc": None}, "adc", "mode iq or phase"),
             ({"adc": {**spec["adc"], "mode": "phase"}}, "adc.full_scale", "at least 3.14"),
             ({"cells": {**spec["cells"], "params": {"shil_harmonic": 3}}}, "cells.params",
              "shil_harmonic 2"),
             ({"learner": {"rule": rule, "lr": [0.1, 0.2, 0.3]}}, "learner.lr", "1 or 2 values")]
    for change, path, message in cases:
        with pytest.raises(SpecError) as info:
            load_spec({**spec, **change})
        assert any(p == path and message in m for p, m in info.value.problems), \
            (change, info.value.problems)
    one_sided = {**spec, "learner": {"rule": rule, "estimator": "one_sided"}}
    if rule == "ep":
        load_spec(one_sided)
    else:
        with pytest.raises(SpecError, match="nudges with \\+beta and -beta"):
            load_spec(one_sided)


def test_learner_rules_are_the_registered_ones():
    with pytest.raises(SpecError) as info:
        load_spec({**EP_DIGITS, "learner": {"rule": "eqprop"}})
    (path, message), = info.value.problems
    assert path == "learner.rule"
    assert "choices: asymep, bptt, contrastive, dyadic, ep, om" in message


# ---------------------------------------------------------------------------------------------
# files and the command line

GOOD_YAML = """\
name: demo
cells:
  model: oim
  n: 4
integrator:
  dt: 1 ns
  steps: 10
"""

BILLION_LAUGHS = "\n".join(
    ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]) + "\n"


def _validate(*paths, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "thermochip", "validate", *map(str, paths)],
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def _problem_lines(stderr: str) -> list[str]:
    return [line.strip() for line in stderr.splitlines() if line.startswith("  ")]


def test_yaml_file_loads_and_matches_dict(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD_YAML)
    assert load_spec(path) == load_spec(yaml.safe_load(GOOD_YAML))
    assert load_spec(str(path)).name == "demo"


def test_yaml_exponent_without_dot_is_a_number(tmp_path):
    # Plain PyYAML reads 1e-3 as a string (YAML 1.1); the spec loader reads it as a float.
    path = tmp_path / "exp.yaml"
    path.write_text("cells: {model: oim, n: 4}\nintegrator: {dt: 1e-9, steps: 10}\n"
                    "noise: {thermal: {kT: 1e-3}}\n")
    spec = load_spec(path)
    assert spec.integrator.dt == 1e-9 and spec.noise.thermal.kT == 1e-3


def test_yaml_merge_keys_and_duplicates(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("dac: &dac {bits: 6, full_scale: 2.0}\n")
    merged = tmp_path / "merged.yaml"
    merged.write_text("cells: {model: oim, n: 4}\nintegrator: {dt: 1 ns, steps: 10}\n"
                      "couplings:\n  dac: &d {bits: 6, full_scale: 2.0}\n"
                      "fields:\n  dac:\n    <<: *d\n    bits: 12\n")
    spec = load_spec(merged)
    assert spec.fields.dac.bits == 12 and spec.fields.dac.full_scale == 2.0
    duplicated = tmp_path / "dup.yaml"
    duplicated.write_text(GOOD_YAML + "name: again\n")
    with pytest.raises(SpecError) as info:
        load_spec(duplicated)
    assert info.value.problems == [("name (line 8)",
                                    "duplicate key 'name' (first given at line 1)")]


def test_cli_valid_file(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD_YAML)
    result = _validate(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok: {path}"
    assert result.stderr == ""


BAD_FILES = {
    # name: (YAML text, fragments expected in stderr, [(path, line)] of the problems)
    "unknown_key": (GOOD_YAML + "noize:\n  thermal: {kT: 0.1}\n",
                    ["did you mean 'noise'?"], [("noize", 8)]),
    "wrong_type": (GOOD_YAML.replace("n: 4", "n: four"),
                   ["must be an int in [1, inf); got 'four'"], [("cells.n", 4)]),
    "out_of_range": (GOOD_YAML + "run:\n  replicas: 0\n",
                     ["must be an int in [1, inf); got 0"], [("run.replicas", 9)]),
    "bad_unit": (GOOD_YAML.replace("1 ns", "1 GHz"), ["'GHz'"], [("integrator.dt", 6)]),
    "two_problems": (GOOD_YAML.replace("n: 4", "n: 0") + "adc:\n  bits: 8\n  mode: 2\n",
                     ["2 problems"], [("cells.n", 4), ("adc.mode", 10)]),
    "python_tag": ("cells: !!python/object/apply:os.system ['touch PWNED']\n"
                   "integrator: {dt: 1 ns, steps: 10}\n",
                   ["!!python/object/apply:os.system is not allowed"], [("cells", 1)]),
    "syntax_error": ("cells: {model: oim, n: 4\nintegrator: {dt: 1 ns}\n",
                     ["YAML syntax error at line 2, column"], []),
    "alias_bomb": (BILLION_LAUGHS, [f"more than {MAX_ALIASES} aliases", "(line "], []),
    "empty": ("", ["file is empty"], []),
    "only_comments": ("# nothing here\n", ["file is empty"], []),
    "top_level_list": ("- cells\n- integrator\n", ["top level must be a mapping"], []),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_cli_bad_file(tmp_path, name):
    text, fragments, located = BAD_FILES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    result = _validate(path, cwd=tmp_path)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert path.name in result.stderr
    assert result.stderr.startswith("error: ")
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    lines = _problem_lines(result.stderr)
    assert len(lines) == max(1, len(located)), lines
    for yaml_path, line in located:
        pattern = rf"^{re.escape(yaml_path)} \(line {line}\): \S"
        assert any(re.match(pattern, entry) for entry in lines), (pattern, lines)
    assert not (tmp_path / "PWNED").exists()


def test_cli_missing_file_and_mixed_batch(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD_YAML)
    missing = tmp_path / "missing.yaml"
    result = _validate(good, missing)
    assert result.returncode == 2
    assert result.stdout.strip() == f"ok: {good}"
    assert f"1 problem in {missing}" in result.stderr
    assert "file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_schema_and_version():
    result = subprocess.run([sys.executable, "-m", "thermochip", "schema"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert json.loads(result.stdout) == json_schema()
    result = subprocess.run([sys.executable, "-m", "thermochip", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip().startswith("thermochip ")


def test_cli_main_in_process(tmp_path, capsys, monkeypatch):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD_YAML.replace("n: 4", "n: -1"))
    assert cli.main(["validate", str(path)]) == 2
    assert "cells.n (line 4)" in capsys.readouterr().err

    class _Custom(ThermochipError):
        exit_code = 5

    def fail(args):
        raise _Custom("something is wrong")

    def interrupt(args):
        raise KeyboardInterrupt

    def verb(run, order):
        return types.SimpleNamespace(ORDER=order, add_arguments=lambda parser: None, run=run)

    verbs = {**cli.commands(), "fail": verb(fail, 98), "interrupt": verb(interrupt, 99)}
    monkeypatch.setattr(cli, "commands", lambda: verbs)
    assert cli.main(["fail"]) == 5
    assert capsys.readouterr().err == "error: something is wrong\n"
    assert cli.main(["interrupt"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
