"""Example scripts run end to end at their small size."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_om_vs_ep_study_small(tmp_path):
    study = load(ROOT / "examples/studies/om_vs_ep.py")
    png = study.main(small=True, out=tmp_path)
    assert png.read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader(open(tmp_path / "om_vs_ep.csv")))
    assert len(rows) == 6  # 2 methods x 3 sizes
    per_sample = {r["method"]: float(r["chip_seconds_per_sample"]) for r in rows}
    # EP: (30 free + 2 x 6 nudged) steps of 1 ns; OM: 11 samples x 2 steps of 50 ps
    assert abs(per_sample["EP (oscillators)"] - 42e-9) < 1e-15
    assert abs(per_sample["OM (soft spins)"] - 1.1e-9) < 1e-15
