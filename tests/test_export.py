"""``thermochip export``: every format reads back bit-exactly (codes, bit widths, LSBs, layer
sizes, spec hash), the hex and C files parse back to the same codes with real parsers, two's
complement words are right, writes are atomic, the manifest describes every file, the CLI
errors are one line, and the exported codes give the same chip and the same eval-only score
as the results file they came from."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from thermochip import cli
from thermochip import export as ex
from thermochip.chip import Chip
from thermochip.errors import ThermochipError
from thermochip.export import c_header, folders, json_file, verilog_hex
from thermochip.export.model import (
    COMPANION_H5,
    FORMAT_VERSION,
    MANIFEST,
    ORDER,
    ORDER_DIRECTED,
    Export,
)
from thermochip.export.results_file import raw_results
from thermochip.results import save_run
from thermochip.simulation import run_simulation
from thermochip.spec_io import load_spec, with_overrides
from thermochip.training import train

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SMALL = {"train.epochs": 1, "data.train_size": 64, "data.test_size": 40,
         "train.eval_replicas": 40}


def small_spec(name: str):
    d = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    for key, value in SMALL.items():
        d = with_overrides(d, key, value)
    return load_spec(d, base_dir=EXAMPLES)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Small results files: a layered EP run (quickstart), a soft-spin OM run with a learner
    register (digits_om) and a sparse simulate run (oim_maxcut)."""
    from thermochip._kernels.jit import get_num_threads, set_num_threads

    saved = get_num_threads()
    set_num_threads(1)  # tiny chips: one thread (see conftest.one_thread)
    try:
        d = tmp_path_factory.mktemp("runs")
        paths = {}
        for name in ("quickstart", "digits_om"):
            paths[name] = d / f"{name}.h5"
            save_run(paths[name], train(small_spec(name), base_dir=EXAMPLES))
        paths["maxcut"] = d / "maxcut.h5"
        run_simulation(EXAMPLES / "oim_maxcut.yaml", paths["maxcut"], steps=10, replicas=2)
    finally:
        set_num_threads(saved)
    return paths


def out_path(tmp_path: Path, fmt: str) -> Path:
    return tmp_path / {"h5": "x.h5", "hex": "x_hex", "c": "x.h", "csv": "x_csv",
                       "json": "x.json"}[fmt]


def dense_codes(codes: np.ndarray, entries, n: int) -> np.ndarray:
    """(cell, cell) coupling codes of codes_for_chip's couplings (per entry on sparse chips)."""
    if entries is None:
        return codes
    J = np.zeros((n, n), dtype=codes.dtype)
    J[entries[:, 0], entries[:, 1]] = codes
    return J


def results_contents(path: Path) -> dict:
    with h5py.File(path) as f:
        raw = raw_results(f, path)  # sparse chips' edge lists as (cell, cell) arrays here
        n = f["fields/codes"].shape[-1]
        mask = raw["mask"]
        if raw["entries"] is not None:
            mask = dense_codes(np.ones(len(raw["entries"]), dtype=bool), raw["entries"], n)
        return {"J": dense_codes(raw["couplings"], raw["entries"], n),
                "entries": raw["entries"], "fields": f["fields/codes"][()],
                "inputs": f["couplings/input_codes"][()] if "couplings/input_codes" in f
                else None, "mask": mask,
                "registers": {k: f[f"learner/{k}"][()] for k in f.get("learner", {})},
                "cdac": dict(f["couplings"].attrs), "fdac": dict(f["fields"].attrs),
                "layers": (list(f["couplings"].attrs["layers"]) if "layers" in
                           f["couplings"].attrs else None),
                "sha": hashlib.sha256(f["spec"][()]).hexdigest(),
                "seed": int(f.attrs["seed"]), "version": f.attrs["thermochip_version"]}


# -- export -> import is bit-exact ----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ex.FORMATS)
@pytest.mark.parametrize("run", ["quickstart", "digits_om", "maxcut"])
def test_export_import_bit_exact(runs, tmp_path, run, fmt):
    src = runs[run]
    ref = results_contents(src)
    out = out_path(tmp_path, fmt)
    ex.write_export(src, fmt, out)
    d = ex.load_export(out)
    assert d["format"] == fmt
    assert d["spec_sha256"] == ref["sha"] and d["seed"] == ref["seed"]
    assert d["thermochip_version"] == ref["version"]
    assert d["layers"] == ref["layers"]
    for dac, attrs in (("coupling", ref["cdac"]), ("field", ref["fdac"])):
        assert d["dacs"][dac]["bits"] == attrs["bits"]
        assert d["dacs"][dac]["lsb"] == attrs["lsb"]  # exact, not approximately
        assert d["dacs"][dac]["full_scale"] == attrs["full_scale"]
        assert d["dacs"][dac]["rounding"] == attrs["rounding"]
    m = d["matrices"]
    names = d["field_names"]
    for k, name in enumerate(names):
        assert np.array_equal(m[name]["codes"], ref["fields"][k])
        assert m[name]["bits"] == ref["fdac"]["bits"] and m[name]["lsb"] == ref["fdac"]["lsb"]
    if ref["layers"] is not None:
        assert d["topology"] == "layered" and "J" not in m
        s = np.cumsum([0] + ref["layers"][1:])
        assert np.array_equal(m["W0"]["codes"], ref["inputs"])
        for k in range(1, len(ref["layers"]) - 1):
            assert np.array_equal(m[f"W{k}"]["codes"], ref["J"][s[k - 1]:s[k], s[k]:s[k + 1]])
            assert m[f"W{k}"]["bits"] == ref["cdac"]["bits"]
    elif ref["entries"] is not None:  # a sparse chip: edge lists, no (cell, cell) array
        assert "J" not in m and "mask" not in m
        edges = np.argwhere(np.triu(ref["mask"], 1))
        assert np.array_equal(m["edges"]["codes"], edges)
        assert np.array_equal(m["J_edges"]["codes"], ref["J"][edges[:, 0], edges[:, 1]])
        assert m["J_edges"]["axes"] == ["edge"] and m["J_edges"]["kind"] == "coupling"
    else:
        assert np.array_equal(m["J"]["codes"], ref["J"])
        assert np.array_equal(m["mask"]["codes"].astype(bool), ref["mask"])
        assert np.array_equal(m["edges"]["codes"], np.argwhere(np.triu(ref["mask"], 1)))
    for k, v in ref["registers"].items():
        assert np.array_equal(m[k]["codes"], v) and m[k]["kind"] == "register"
    # what a chip loads is the same as from the results file
    got, want = ex.codes_for_chip(out), ex.codes_for_chip(src)
    n = len(ref["fields"][0])
    for codes in (got, want):
        codes["couplings"] = dense_codes(codes["couplings"], codes["entries"], n)
    for key in ("couplings", "fields", "input_codes"):
        if want[key] is None:
            assert got[key] is None
        else:
            assert got[key].dtype == np.int32 and np.array_equal(got[key], want[key])
    assert got["registers"].keys() == want["registers"].keys()
    for k in want["registers"]:
        assert np.array_equal(got["registers"][k], want["registers"][k])
    assert np.array_equal(want["couplings"], ref["J"])  # the results path reads it as it is


def test_sparse_export_has_the_spec_edges(runs, tmp_path):
    ex.write_export(runs["maxcut"], "json", tmp_path / "m.json")
    d = ex.load_export(tmp_path / "m.json")
    spec = yaml.safe_load((EXAMPLES / "oim_maxcut.yaml").read_text())
    assert d["topology"] == "sparse" and d["layers"] is None
    assert d["matrices"]["edges"]["codes"].tolist() == spec["topology"]["edges"]
    assert d["matrices"]["J_edges"]["codes"].max() < 0  # antiferromagnetic: negative codes


def test_reexport_converts_between_formats(runs, tmp_path):
    ex.write_export(runs["digits_om"], "h5", tmp_path / "a.h5")
    ex.write_export(tmp_path / "a.h5", "c", tmp_path / "b.h")
    a, b = ex.load_export(tmp_path / "a.h5"), ex.load_export(tmp_path / "b.h")
    assert a["spec_sha256"] == b["spec_sha256"] and a["matrices"].keys() == b["matrices"].keys()
    for name in a["matrices"]:
        assert np.array_equal(a["matrices"][name]["codes"], b["matrices"][name]["codes"])


# -- the exported codes drive the chip exactly like the results file -----------------------------
def test_codes_load_into_chip(runs, tmp_path):
    spec = small_spec("quickstart")
    ex.write_export(runs["quickstart"], "hex", tmp_path / "hex")
    via_results, via_hex = Chip.from_spec(spec, EXAMPLES), Chip.from_spec(spec, EXAMPLES)
    ex.write_to_chip(via_results, ex.codes_for_chip(runs["quickstart"]))
    ex.write_to_chip(via_hex, ex.codes_for_chip(tmp_path / "hex"))
    for attr in ("J_codes", "field_codes", "input_codes", "J", "fields", "input_J"):
        assert np.array_equal(getattr(via_results, attr), getattr(via_hex, attr))
    assert np.array_equal(via_hex.J_codes, results_contents(runs["quickstart"])["J"])
    # a chip with another coupling DAC refuses the codes
    other = dataclasses.replace(spec, couplings=dataclasses.replace(
        spec.couplings, dac=dataclasses.replace(spec.couplings.dac, bits=6)))
    with pytest.raises(ThermochipError, match="8-bit"):
        ex.write_to_chip(Chip.from_spec(other, EXAMPLES), ex.codes_for_chip(tmp_path / "hex"))


@pytest.mark.parametrize("run,fmt", [("quickstart", "c"), ("digits_om", "hex")])
def test_eval_only_from_export_reproduces_accuracy(runs, tmp_path, run, fmt):
    """``run --couplings EXPORT --eval-only`` scores like ``--couplings RUN.h5``."""
    out = out_path(tmp_path, fmt)
    ex.write_export(runs[run], fmt, out)
    spec = small_spec(run)
    scores = [train(spec, base_dir=EXAMPLES, couplings=path, eval_only=True).test
              for path in (runs[run], out)]
    assert scores[0].accuracy == scores[1].accuracy
    assert np.array_equal(scores[0].confusion, scores[1].confusion)
    with h5py.File(runs[run]) as f:  # and both are the trained run's own score
        assert scores[1].accuracy == f.attrs["test_accuracy"]


# -- directed chips: both directions of every coupler -------------------------------------------
SKEW5 = np.array([[0.0, 0.6, -0.3, 0.0, 0.2], [-0.5, 0.0, 0.4, 0.1, 0.0],
                  [0.3, 0.2, 0.0, -0.6, 0.5], [0.0, -0.4, 0.3, 0.0, 0.7],
                  [-0.2, 0.0, 0.1, -0.7, 0.0]])
DIRECTED_SPECS = {
    # all-to-all, every device its own code (J_ij != J_ji)
    "asymmetric": {"cells": {"model": "softspin", "n": 5},
                   "couplings": {"init": {"kind": "values", "J": SKEW5.tolist()},
                                 "asymmetric": True}},
    # layered with feedback, both directions differ; input couplers too
    "asymmetric_layered": {"cells": {"model": "oim", "layers": [2, 3, 2], "inputs": 4},
                           "topology": "layered",
                           "couplings": {"init": {"kind": "values", "J": (
                               np.random.default_rng(1).uniform(-0.8, 0.8, (7, 7))
                               * (1 - np.eye(7))).tolist()}, "asymmetric": True}},
    # sparse (couplers stored per edge), one device per direction
    "asymmetric_sparse": {"cells": {"model": "softspin", "n": 6},
                          "topology": {"kind": "sparse",
                                       "edges": [[k, (k + 1) % 6] for k in range(6)]},
                          "couplings": {"init": {"kind": "values", "J": (
                              np.random.default_rng(2).uniform(-0.8, 0.8, (6, 6))
                              * (1 - np.eye(6))).tolist()},
                                        "asymmetric": True}},
    # feed-forward: forward devices only
    "feedforward": {"cells": {"model": "softspin", "layers": [2, 3, 2], "inputs": 4},
                    "topology": {"kind": "layered", "feedforward": True},
                    "couplings": {"init": {"kind": "random", "std": 0.5}}},
}


@pytest.fixture(scope="module")
def directed_runs(tmp_path_factory):
    from thermochip._kernels.jit import get_num_threads, set_num_threads

    saved = get_num_threads()
    set_num_threads(1)
    try:
        d = tmp_path_factory.mktemp("directed")
        paths = {}
        for name, spec in DIRECTED_SPECS.items():
            (d / f"{name}.yaml").write_text(yaml.safe_dump(
                {**spec, "integrator": {"dt": "1 ns", "steps": 3}, "run": {"replicas": 1}}))
            paths[name] = d / f"{name}.h5"
            run_simulation(d / f"{name}.yaml", paths[name])
    finally:
        set_num_threads(saved)
    return paths


def _spec_of(results: Path):
    with h5py.File(results) as f:
        return load_spec(yaml.safe_load(f["spec"][()].decode()))


@pytest.mark.parametrize("fmt", ex.FORMATS)
@pytest.mark.parametrize("run", list(DIRECTED_SPECS))
def test_directed_export_import_bit_exact(directed_runs, tmp_path, run, fmt):
    """Both directions of every device are exported and read back: layered chips as Wk (layer
    k-1 into layer k) and Wk_back (layer k into k-1; none for feed-forward), others as J with
    every directed edge; codes_for_chip / write_to_chip give the chip its exact codes."""
    src = directed_runs[run]
    ref = results_contents(src)
    J, mask = ref["J"], ref["mask"]
    assert np.any(J != J.T)  # the directions really differ
    out = out_path(tmp_path, fmt)
    ex.write_export(src, fmt, out)
    d = ex.load_export(out)
    assert d["directed"] is True and d["order"] == ORDER_DIRECTED
    m = d["matrices"]
    assert (d["layers"] is None) == (run in ("asymmetric", "asymmetric_sparse"))
    if d["layers"] is not None:
        s = np.cumsum([0] + d["layers"][1:])
        assert np.array_equal(m["W0"]["codes"], ref["inputs"]) and "J" not in m
        for k in range(1, len(s) - 1):
            a, b, c = s[k - 1], s[k], s[k + 1]
            assert np.array_equal(m[f"W{k}"]["codes"], J[b:c, a:b].T)
            if run == "feedforward":
                assert f"W{k}_back" not in m and not mask[a:b, b:c].any()
            else:
                assert np.array_equal(m[f"W{k}_back"]["codes"], J[a:b, b:c].T)
                assert m[f"W{k}_back"]["axes"] == [f"layer{k}", f"layer{k - 1}"]
    elif ref["entries"] is not None:  # sparse: every device in the edge list, no J or mask
        assert "J" not in m and "mask" not in m
        assert np.array_equal(m["edges"]["codes"], np.argwhere(mask))  # all 12 devices
        assert np.array_equal(m["J_edges"]["codes"], J[mask])
    else:
        assert np.array_equal(m["J"]["codes"], J)
        assert np.array_equal(m["mask"]["codes"].astype(bool), mask)
        assert np.array_equal(m["edges"]["codes"], np.argwhere(mask))  # all 20 devices
    got = ex.codes_for_chip(out)
    assert got["directed"]
    assert np.array_equal(dense_codes(got["couplings"], got["entries"], len(J)), J)
    # loaded into a fresh chip of the same spec: the run's codes exactly
    spec = _spec_of(src)
    chip = Chip.from_spec(spec)
    ex.write_to_chip(chip, got, out)
    assert np.array_equal(chip.J_codes, J)
    # a reciprocal chip (one device per pair) refuses them
    topology = dataclasses.replace(spec.topology, feedforward=False) \
        if d["layers"] is not None else spec.topology
    reciprocal = Chip.from_spec(dataclasses.replace(
        spec, topology=topology,
        couplings=dataclasses.replace(spec.couplings, asymmetric=False)))
    with pytest.raises(ThermochipError, match="directed"):
        ex.write_to_chip(reciprocal, got, out)
    # and a re-export keeps the direction
    ex.write_export(out, "json", tmp_path / "again.json")
    again = ex.codes_for_chip(tmp_path / "again.json")
    assert again["directed"]
    assert np.array_equal(dense_codes(again["couplings"], again["entries"], len(J)), J)


def test_directed_marker_in_every_format(directed_runs, tmp_path):
    src = directed_runs["asymmetric_layered"]
    ex.write_export(src, "c", tmp_path / "x.h")
    assert "#define TC_DIRECTED 1" in (tmp_path / "x.h").read_text()
    ex.write_export(src, "hex", tmp_path / "hex")
    assert "// directed: true" in (tmp_path / "hex" / "W1_back.hex").read_text()
    assert json.loads((tmp_path / "hex" / MANIFEST).read_text())["directed"] is True
    ex.write_export(src, "json", tmp_path / "x.json")
    assert json.loads((tmp_path / "x.json").read_text())["directed"] is True
    ex.write_export(src, "h5", tmp_path / "x.h5")
    with h5py.File(tmp_path / "x.h5") as f:
        assert bool(f.attrs["directed"])


@pytest.mark.parametrize("run", ["quickstart", "maxcut"])
def test_reciprocal_exports_carry_no_directed_key(runs, tmp_path, run):
    for fmt in ex.FORMATS:
        out = out_path(tmp_path / fmt, fmt)
        ex.write_export(runs[run], fmt, out)
        d = ex.load_export(out)
        assert d["directed"] is False and d["order"] == ORDER
        text = "".join(p.read_text(errors="replace") for p in
                       (sorted(out.iterdir()) if out.is_dir() else [out])
                       if p.suffix not in (".h5",))
        if fmt != "h5":
            assert "directed" not in text.lower(), fmt
    with h5py.File(out_path(tmp_path / "h5", "h5")) as f:
        assert "directed" not in f.attrs


def test_codes_for_couplers_a_chip_lacks_are_refused(directed_runs):
    """Layered codes with feedback devices do not load into a feed-forward chip."""
    spec = _spec_of(directed_runs["feedforward"])
    codes = ex.codes_for_chip(directed_runs["asymmetric_layered"])
    codes["input_codes"] = Chip.from_spec(spec).input_codes
    with pytest.raises(ThermochipError, match="topology does not have"):
        ex.write_to_chip(Chip.from_spec(spec), codes, "x")


def test_sparse_codes_load_into_the_chip_per_edge(runs, tmp_path):
    """A sparse export loads into a fresh chip of its spec exactly, without a (cell, cell)
    array; a code for a pair the chip does not couple, or two directions of one reciprocal
    device that differ, are refused."""
    src = runs["maxcut"]
    ex.write_export(src, "csv", tmp_path / "m_csv")
    chip = Chip.from_spec(_spec_of(src), base_dir=EXAMPLES)
    codes = ex.codes_for_chip(tmp_path / "m_csv")
    assert codes["couplings"].shape == (chip.n_couplers * 2,)
    ex.write_to_chip(chip, codes, "m_csv")
    assert np.array_equal(chip.J_codes, results_contents(src)["J"])
    bad = {**codes, "entries": codes["entries"].copy()}
    bad["entries"][0] = [0, 0]
    with pytest.raises(ThermochipError, match="from cell 0 into cell 0, which this chip's"):
        ex.write_to_chip(chip, bad, "m_csv")
    skew = {**codes, "couplings": codes["couplings"].copy()}
    skew["couplings"][0] += 1
    with pytest.raises(ThermochipError, match="directed"):
        ex.write_to_chip(chip, skew, "m_csv")


def test_reciprocal_results_with_directed_codes_are_refused(runs, tmp_path):
    path = tmp_path / "odd.h5"
    shutil.copy(runs["maxcut"], path)
    with h5py.File(path, "r+") as f:
        codes = f["couplings/codes"]  # per edge: both directions of a coupler stored
        assert "couplings/edges" in f
        c = codes[()]
        c[0] += 1
        codes[...] = c
    with pytest.raises(ThermochipError, match="not symmetric"):
        ex.write_export(path, "json", tmp_path / "odd.json")


# -- hex: $readmemh words, two's complement ------------------------------------------------------
@pytest.mark.parametrize("bits,code,word", [
    (8, 0, "00"), (8, 1, "01"), (8, -1, "ff"), (8, 127, "7f"), (8, -127, "81"),
    (8, -128, "80"), (10, -1, "3ff"), (10, 511, "1ff"), (10, -511, "201"), (10, -2, "3fe"),
    (4, -7, "9"), (4, 7, "7"), (12, -1, "fff"), (16, -32767, "8001")])
def test_twos_complement_words(bits, code, word):
    assert verilog_hex.to_word(code, bits) == word
    assert len(word) == -(-bits // 4)
    assert verilog_hex.from_word(int(word, 16), bits) == code


def test_word_out_of_range_is_refused():
    with pytest.raises(ThermochipError):
        verilog_hex.to_word(128, 8)
    with pytest.raises(ThermochipError):
        verilog_hex.to_word(-129, 8)
    with pytest.raises(ValueError):
        verilog_hex.from_word(0x400, 10)


@pytest.fixture
def extreme_run(runs, tmp_path):
    """The quickstart results file with extreme codes written in: +-127 (and everything
    between) in the 8-bit input couplers and +-511 in the 10-bit field registers."""
    path = tmp_path / "extreme.h5"
    shutil.copy(runs["quickstart"], path)
    with h5py.File(path, "r+") as f:
        w = f["couplings/input_codes"]
        w[...] = (np.arange(w.size).reshape(w.shape) % 255) - 127
        fc = f["fields/codes"]
        fc[...] = np.resize(np.array([-511, 511, -1, 0, 1, -256, 255, -2]), fc.shape)
    return path


def test_hex_files_parse_back_with_twos_complement(extreme_run, tmp_path):
    out = tmp_path / "hex"
    ex.write_export(extreme_run, "hex", out)
    ref = results_contents(extreme_run)
    w0 = (out / "W0.hex").read_text().splitlines()
    words = [line for line in w0 if not line.startswith("//")]
    assert len(words) == ref["inputs"].size and all(len(w) == 2 for w in words)
    flat = ref["inputs"].ravel()  # row-major: word r*cols + c
    assert words[list(flat).index(-127)] == "81" and words[list(flat).index(-1)] == "ff"
    assert words[list(flat).index(127)] == "7f"
    codes, header = verilog_hex.parse_hex((out / "W0.hex").read_text())
    assert np.array_equal(codes, ref["inputs"]) and header["bits"] == "8"
    h = [line for line in (out / "h.hex").read_text().splitlines() if not line.startswith("//")]
    assert h[:8] == ["201", "1ff", "3ff", "000", "001", "300", "0ff", "3fe"]  # 10 bits, 3 digits
    codes, _ = verilog_hex.parse_hex((out / "h.hex").read_text())
    assert np.array_equal(codes, ref["fields"][0])


def test_hex_parser_reads_verilog_syntax():
    text = ("// shape: 2 3\n// bits: 10\n/* a block\n comment */ 3ff 0_01 // trailing\n"
            "002\n@4 2_00 000\n@3 1ff\n")
    codes, _ = verilog_hex.parse_hex(text)
    assert codes.tolist() == [[-1, 1, 2], [511, -512, 0]]
    with pytest.raises(ThermochipError, match=":3:"):
        verilog_hex.parse_hex("// shape: 2\n// bits: 8\nzz\n00\n")
    with pytest.raises(ThermochipError, match="words"):
        verilog_hex.parse_hex("// shape: 3\n// bits: 8\n00\n01\n")
    with pytest.raises(ThermochipError):
        verilog_hex.parse_hex("// shape: 1\n// bits: 8\n1ff\n")  # wider than 8 bits


# -- C header ----------------------------------------------------------------------------------
def test_c_header_parses_back_and_uses_small_types(extreme_run, tmp_path):
    out = tmp_path / "chip.h"
    ex.write_export(extreme_run, "c", out)
    ref = results_contents(extreme_run)
    text = out.read_text()
    assert "static const int8_t tc_W0[TC_W0_ROWS][TC_W0_COLS]" in text   # 8-bit couplings
    assert "static const int16_t tc_h[TC_H_LEN]" in text                  # 10-bit fields
    assert "#ifndef THERMOCHIP_CHIP_H" in text and "#endif" in text
    assert ref["sha"] in text.split("*/")[0]  # provenance in the leading comment
    defines, arrays = c_header.parse_c(text)
    assert defines["TC_COUPLING_LSB"] == ref["cdac"]["lsb"]
    assert defines["TC_FIELD_FULL_SCALE"] == ref["fdac"]["full_scale"]
    assert defines["TC_COUPLING_BITS"] == 8 and defines["TC_W0_ROWS"] == 64
    assert defines["TC_SPEC_SHA256"] == ref["sha"]
    assert arrays["tc_W0"][0] == "int8_t" and np.array_equal(arrays["tc_W0"][1], ref["inputs"])
    assert np.array_equal(arrays["tc_S"][1], ref["fields"][1])
    with pytest.raises(ThermochipError, match="ragged|match"):
        c_header.parse_c("static const int8_t a[2][2] = {{1, 2}, {3}};")
    with pytest.raises(ThermochipError, match="outside"):
        c_header.parse_c("static const int8_t a[2] = {1, 200};")


def test_c_types():
    assert [c_header.c_type(b, True) for b in (2, 8, 9, 16, 17, 32)] == \
        ["int8_t", "int8_t", "int16_t", "int16_t", "int32_t", "int32_t"]
    assert c_header.c_type(1, False) == "uint8_t"


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_c_header_compiles_to_the_same_codes(extreme_run, tmp_path):
    ex.write_export(extreme_run, "c", tmp_path / "chip.h")
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "chip.h"\nint main(void) {\n'
        '  printf("%d %d %d %.17g %d\\n", tc_W0[0][0], tc_W0[63][119], tc_h[0],\n'
        '         TC_COUPLING_LSB, (int)sizeof(tc_W0[0][0]));\n'
        '  for (int i = 0; i < TC_W1_ROWS; i++) for (int j = 0; j < TC_W1_COLS; j++)\n'
        '    printf("%d ", tc_W1[i][j]);\n  return 0;\n}\n')
    r = subprocess.run(["cc", "-std=c99", "-Wall", "-Werror", "-o", str(tmp_path / "main"),
                        str(tmp_path / "main.c")], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    lines = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    ref = results_contents(extreme_run)
    a, b, h, lsb, size = lines[0].split()
    assert (int(a), int(b), int(h)) == (ref["inputs"][0, 0], ref["inputs"][63, 119],
                                        ref["fields"][0, 0])
    assert float(lsb) == ref["cdac"]["lsb"] and size == "1"
    assert [int(v) for v in lines[1].split()] == ref["J"][:120, 120:].ravel().tolist()


# -- manifest ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["hex", "csv"])
def test_manifest_describes_every_file(runs, tmp_path, fmt):
    out = tmp_path / fmt
    ex.write_export(runs["digits_om"], fmt, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == fmt and manifest["thermochip_export"] == FORMAT_VERSION
    files = {e["file"]: e for e in manifest["files"]}
    assert set(files) == {p.name for p in out.iterdir()} - {"manifest.json"}
    for name, e in files.items():
        data = (out / name).read_bytes()
        assert e["bytes"] == len(data) and e["sha256"] == hashlib.sha256(data).hexdigest()
    assert files["spec.yaml"]["kind"] == "spec"
    assert hashlib.sha256((out / "spec.yaml").read_bytes()).hexdigest() == \
        manifest["spec_sha256"]
    ref = results_contents(runs["digits_om"])
    J = files[f"J.{fmt}"]
    assert J["shape"] == list(ref["J"].shape) and J["bits"] == 8 and J["signed"]
    assert J["lsb"] == ref["cdac"]["lsb"] and J["axes"] == ["cell", "cell"]
    assert files[f"bias_codes.{fmt}"]["axes"] == ["class", "cell"]
    assert files[f"bias_codes.{fmt}"]["bits"] == ref["fdac"]["bits"]
    for key in ("seed", "model", "topology", "n_cells", "order", "thermochip_version",
                "dacs"):
        assert manifest[key] is not None
    if fmt == "hex":
        assert J["words"] == ref["J"].size and J["digits"] == 2


# -- atomic writes -------------------------------------------------------------------------------
def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def snapshot(path: Path) -> dict:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}
    return {path.name: path.read_bytes()}


def interrupt_midway(monkeypatch, fmt):
    """Make the writer stop (as Ctrl-C would) after part of the output is on disk."""
    if fmt == "h5":
        real, calls = Export.attrs, []

        def attrs(self, m):  # called once per dataset, after it is written
            calls.append(m)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return real(self, m)
        monkeypatch.setattr(Export, "attrs", attrs)
        return
    writer = {"c": c_header, "json": json_file, "hex": folders, "csv": folders}[fmt]
    real_write, calls = writer.write_text, []

    def write_text(path, text):
        calls.append(path)
        if fmt in ("c", "json") or len(calls) == 2:  # hex / csv: the second file
            real_write(path, text[:len(text) // 2])
            raise KeyboardInterrupt
        real_write(path, text)
    monkeypatch.setattr(writer, "write_text", write_text)


@pytest.mark.parametrize("fmt", ex.FORMATS)
@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_write_leaves_no_partial_output(runs, tmp_path, monkeypatch, fmt,
                                                    existing):
    out = out_path(tmp_path / "out", fmt)
    before = None
    if existing:
        ex.write_export(runs["maxcut"], fmt, out)
        before = snapshot(out)
    interrupt_midway(monkeypatch, fmt)
    with pytest.raises(KeyboardInterrupt):
        ex.write_export(runs["quickstart"], fmt, out)
    assert leftovers(out.parent) == []
    if existing:
        assert snapshot(out) == before
        assert ex.load_export(out)["n_cells"] == 12  # still the old, complete export
    else:
        assert not out.exists()
    monkeypatch.undo()
    ex.write_export(runs["quickstart"], fmt, out)  # and a later write replaces it
    assert ex.load_export(out)["n_cells"] == 130 and leftovers(out.parent) == []


def test_folder_export_replaces_an_old_export_but_not_other_folders(runs, tmp_path):
    out = tmp_path / "hex"
    ex.write_export(runs["quickstart"], "hex", out)
    ex.write_export(runs["maxcut"], "hex", out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["J_edges.hex", "edges.hex", "h.hex", "S.hex", "spec.yaml", "manifest.json",
         "couplings.h5"])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ThermochipError, match="not a thermochip export"):
        ex.write_export(runs["quickstart"], "hex", mine)
    assert (mine / "notes.txt").read_text() == "keep me" and leftovers(tmp_path) == []


# -- errors --------------------------------------------------------------------------------------
def one_line_error(capsys, argv, exit_code=1) -> str:
    assert cli.main(argv) == exit_code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def test_cli_errors_are_one_line(runs, tmp_path, capsys):
    assert "no such file" in one_line_error(
        capsys, ["export", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "a.h5")])
    (tmp_path / "notes.txt").write_text("hello")
    assert "not a thermochip file" in one_line_error(
        capsys, ["export", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "a.h5")])
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    assert "not a thermochip" in one_line_error(
        capsys, ["export", str(tmp_path / "other.h5"), "--out", str(tmp_path / "a.h5")])
    assert "cannot write" in one_line_error(  # a path under a regular file
        capsys, ["export", str(runs["maxcut"]), "--format", "c", "--out",
                 str(tmp_path / "notes.txt" / "x.h")])
    assert "cannot write" in one_line_error(
        capsys, ["export", str(runs["maxcut"]), "--format", "hex", "--out",
                 str(tmp_path / "notes.txt")])
    assert "input file" in one_line_error(
        capsys, ["export", str(runs["maxcut"]), "--out", str(runs["maxcut"])])
    (tmp_path / "folder").mkdir()
    with pytest.raises(ThermochipError, match="no manifest"):
        ex.load_export(tmp_path / "folder")
    with pytest.raises(SystemExit) as exc:
        cli.main(["export", str(runs["maxcut"]), "--format", "verilog"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'verilog'" in err and "Traceback" not in err


def test_cli_end_to_end(runs, tmp_path):
    def thermochip(*args):
        return subprocess.run([sys.executable, "-m", "thermochip", *map(str, args)],
                              capture_output=True, text=True, cwd=tmp_path, check=False)

    r = thermochip("export", runs["quickstart"], "--format", "hex", "--out", "couplings")
    assert r.returncode == 0, r.stderr
    assert "W0 64x120" in r.stdout and (tmp_path / "couplings" / "W1.hex").exists()
    r = thermochip("export", tmp_path / "nothing.h5", "--format", "json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    missing = tmp_path / "nothing.h5"
    assert r.stderr.strip().splitlines() == [f"error: {missing}: no such file or folder"]


@pytest.mark.parametrize("fmt", ["hex", "csv"])
def test_folder_export_carries_an_h5_with_the_same_codes(runs, tmp_path, fmt):
    """`thermochip export RUN.h5 --format hex --out couplings/` then
    `thermochip run SPEC --couplings couplings/couplings.h5` (the issue's commands)."""
    out = tmp_path / fmt
    ex.write_export(runs["quickstart"], fmt, out)
    folder, single = ex.codes_for_chip(out), ex.codes_for_chip(out / COMPANION_H5)
    for key in ("couplings", "fields", "input_codes"):
        assert np.array_equal(folder[key], single[key]), key
    manifest = json.loads((out / MANIFEST).read_text())
    assert COMPANION_H5 in json.dumps(manifest)
