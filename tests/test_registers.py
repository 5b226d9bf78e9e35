"""DAC-held state has one owner: writes go through a register, readers never see stale values."""

from __future__ import annotations

import numpy as np
import pytest

from thermochip.chip import Chip
from thermochip.engine import Engine
from thermochip.spec_io import load_spec

SPEC = {
    "cells": {"model": "softspin", "preset": "seed000_double_well", "n": 6},
    "couplings": {"init": {"kind": "random", "std": 0.4},
                  "dac": {"bits": 6, "full_scale": 1.0, "write_noise": 0.3}},
    "noise": {"thermal": {"kT": 0.05}, "mismatch": {"coupler_gain": 0.1}},
    "integrator": {"dt": "50 ps", "steps": 40},
    "run": {"replicas": 3, "seed": 4, "dtype": "float64"},
}


def test_an_engine_sees_every_write_without_a_refresh(one_thread):
    chip = Chip.from_spec(load_spec(SPEC))
    engine = Engine(chip, layout="replicas")
    before = engine.run().x
    codes = chip.J_codes.copy()
    codes[0, 1] = codes[1, 0] = 31                      # a new code on one pair
    chip.registers.couplings.write(codes)
    engine.reseed()
    after = engine.run().x
    assert not np.array_equal(before, after)
    # the same analog couplings in a chip that never had the old ones: the same trajectory
    twin = Chip.from_spec(load_spec(SPEC))
    twin.registers.couplings.set_values(chip.J)
    np.testing.assert_array_equal(Engine(twin, layout="replicas").run().x, after)


def test_register_contents_are_read_only_outside_the_register():
    chip = Chip.from_spec(load_spec(SPEC))
    with pytest.raises(ValueError):
        chip.J[0, 1] = 1.0
    with pytest.raises(ValueError):
        chip.J_codes[0, 1] = 3
    with pytest.raises(AttributeError):
        chip.J = np.zeros_like(chip.J)


def test_every_change_bumps_the_version_and_drops_what_was_derived():
    chip = Chip.from_spec(load_spec(SPEC))
    reg = chip.registers.couplings
    built = []
    v0 = reg.version
    assert reg.derived("k", lambda: built.append(1) or len(built)) == 1
    assert reg.derived("k", lambda: built.append(1) or len(built)) == 1  # kept
    reg.write(reg.codes)
    assert reg.version == v0 + 1
    assert reg.derived("k", lambda: built.append(1) or len(built)) == 2  # rebuilt
    reg.set_values(0.0, (0, 1))
    assert reg.version == v0 + 2 and chip.J[0, 1] == 0.0


def test_a_write_draws_new_write_errors_and_a_checkpoint_restores_the_old_ones():
    chip = Chip.from_spec(load_spec(SPEC))
    reg = chip.registers.couplings
    saved, values = reg.state_dict(), chip.J.copy()
    reg.write(reg.codes)                  # same codes, new write errors (0.3 LSB rms)
    assert not np.array_equal(chip.J, values)
    np.testing.assert_array_equal(chip.J, chip.J.T)   # one device per pair: one error
    reg.load_state_dict(saved)
    np.testing.assert_array_equal(chip.J, values)


def test_a_register_refuses_codes_of_another_shape():
    chip = Chip.from_spec(load_spec(SPEC))
    with pytest.raises(ValueError, match="holds"):
        chip.registers.fields.write(np.zeros((3, 6), dtype=np.int32))
