"""Golden outputs: the command line's results, checkpoints aside, bit for bit as recorded
(``tests/golden/record.py`` says what the cases are and how they are made portable)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"


def _record_module():
    spec = importlib.util.spec_from_file_location("golden_record", GOLDEN / "record.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_command_line_outputs_are_bit_identical_to_the_recorded_goldens(tmp_path):
    record = _record_module()
    want = np.load(GOLDEN / "golden.npz")
    recorded = {k[len("version:"):]: bytes(want[k]).decode() for k in want.files
                if k.startswith("version:")}
    if recorded != record.versions():
        pytest.skip(f"goldens recorded with {recorded}; this environment has "
                    f"{record.versions()} (re-record after checking the change)")
    record.record(tmp_path / "now.npz")
    got = np.load(tmp_path / "now.npz")
    missing = sorted(set(want.files) - set(got.files))
    differ = sorted(k for k in set(want.files) & set(got.files)
                    if want[k].dtype != got[k].dtype or want[k].shape != got[k].shape
                    or want[k].tobytes() != got[k].tobytes())
    assert not missing, f"{len(missing)} golden entries no longer written: {missing[:10]}"
    assert not differ, f"{len(differ)} of {len(want.files)} golden entries differ: {differ[:20]}"
