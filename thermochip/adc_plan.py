"""When and how a chip's ADC samples in a run of a given length: the state indices of its
samples, its averaging window and its read-out."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thermochip.chip import Chip


@dataclass
class AdcPlan:
    """When and how the ADC samples. ``steps``: (sample,) state index of each sample."""

    steps: np.ndarray
    window: int
    mode: int
    n_readouts: int


def adc_plan(chip: Chip, n_steps: int) -> AdcPlan | None:
    a = chip.spec.adc
    if a is None:
        return None
    dt = chip.spec.integrator.dt
    if a.sample_times is not None:
        steps = np.rint(np.asarray(a.sample_times) / dt).astype(np.int64)
    else:
        period = a.period_steps(dt)
        steps = np.arange(period, n_steps + 1, period, dtype=np.int64)
    steps = steps[(steps >= 1) & (steps <= n_steps)]
    mode = chip.model.readout_index(a.mode)
    return AdcPlan(steps=steps, window=a.window_steps(dt), mode=mode,
                   n_readouts=chip.model.readouts[mode][1])
