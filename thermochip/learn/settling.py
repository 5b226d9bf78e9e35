"""Whether a learner's phases settle: how fast each phase's state still moves at its end, and an
optional criterion that lengthens a phase until it stops moving.

Motion is each replica's RMS change of state (the shorter way round for phases) over the
learner's ``window`` steps at the end of a phase, as a velocity in state units per ns (oim:
rad/ns). A phase has settled when it moves no more than

- the tolerance: one ADC LSB of the read-out over the window by default (an accumulator
  cannot tell smaller motion from none; for oim's I/Q and phase read-outs an LSB of channel
  or angle is at most one of phase), or ``learner.settle.tolerance``;
- and twice what the cells' noise alone would move them: free diffusion over the window,
  sqrt(mean noise_std^2 * window * dt~), an upper bound for a cell held in a well.

Discrete cells (p-bits) sample and never settle: they get no diagnostics and refuse
``learner.settle``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device_models import adc as adc_model
from device_models.params import POSITIVE, Interval, OneOf, spec_field
from thermochip.chip import Chip
from thermochip.engine import Settle, rms_change


@dataclass(frozen=True, kw_only=True)
class SettleSpec:
    """End a phase once the chip stops moving: each phase runs its nominal steps, then is
    lengthened by the learner's window at a time while its motion exceeds ``tolerance`` (and
    twice the noise's), up to ``max_steps``; the ADC samples the last window."""

    tolerance: float = spec_field(doc="velocity below which a phase has settled, in state "
                                      "units per ns (oim: rad/ns)", check=POSITIVE)
    max_steps: int = spec_field(doc="the most steps a phase may run", check=Interval(1, None))
    phases: list[str] = spec_field(default_factory=lambda: ["free"],
                                   doc="the phases it lengthens: free, nudged or both (EP's "
                                       "nudged phases are short by design: a settled nudge "
                                       "of the same beta moves the chip much further)",
                                   check=OneOf(("free", "nudged")))


def settle_problems(spec, model, section) -> list[tuple[str, str]]:
    """What ``learner.settle`` needs: continuous cells, and room above every nominal phase."""
    settle = section.settle
    if settle is None:
        return []
    if model.discrete_states is not None:
        return [("learner.settle", f"{model.name} cells sample discrete states and never "
                                   f"settle: leave learner.settle out")]
    steps = {"free": section.free_steps, "nudged": section.nudged_steps}
    longest = max(steps[kind] for kind in settle.phases)
    if settle.max_steps < longest:
        return [("learner.settle.max_steps", f"at least the longest phase it lengthens "
                                             f"({longest} steps)")]
    return []


class SettlingMonitor:
    """Watches the phases of one learner: the :class:`~thermochip.engine.Settle` its engine
    runs each phase with, and what the phases' ends did since the last :meth:`epoch`."""

    def __init__(self, chip: Chip, section):
        spec, model = chip.spec, chip.model
        self.active = model.discrete_states is None
        self.lag = section.window
        self.ns_per_step = spec.integrator.dt * 1e9
        lag_ns = self.lag * self.ns_per_step
        noise = float(np.sqrt(np.mean(chip.noise_std ** 2) * self.lag * chip.dt))
        lsb = adc_model.lsb(spec.adc.bits, spec.adc.full_scale)
        settle = section.settle
        tolerance = lsb if settle is None else settle.tolerance * lag_ns
        #: state change over the window above which a phase has not settled
        self.threshold = max(tolerance, 2 * noise)
        self.noise_velocity = noise / lag_ns
        watch = None if not self.active else Settle(self.lag)
        lengthen = (watch if settle is None or not self.active else
                    Settle(self.lag, self.threshold, settle.max_steps))
        #: the engine's Settle per phase kind (free, nudged)
        self.settle = {kind: lengthen if settle is not None and kind in settle.phases
                       else watch for kind in ("free", "nudged")}
        self.model = model
        self.ends: dict[str, list] = {}

    def record(self, kind: str, result) -> None:
        """Keep the end of a phase (``kind``: free or nudged; ``result`` its SimResult); the
        figures are computed once an epoch, for all phases together."""
        if self.active:
            self.ends.setdefault(kind, []).append((result.x, result.x_lag, result.steps))

    def epoch(self) -> dict[str, float]:
        """The epoch's figures (and a fresh start): for free and nudged phases the mean end
        velocity (``*_velocity``, state units per ns) and chip time per phase (``*_ns``), the
        noise's velocity bound, and the fraction of phases that ended unsettled."""
        if not self.ends:
            return {}
        out, unsettled, phases = {}, 0, 0
        for kind, ends in self.ends.items():
            x, x_lag, steps = zip(*ends)
            change = rms_change(self.model, np.concatenate(x), np.concatenate(x_lag))
            counts = [len(a) for a in x]
            out[f"{kind}_velocity"] = float(change.mean()) / (self.lag * self.ns_per_step)
            out[f"{kind}_ns"] = float(np.average(steps, weights=counts)) * self.ns_per_step
            unsettled += int((change > self.threshold).sum())
            phases += len(change)
        out["noise_velocity"] = self.noise_velocity
        out["unsettled"] = unsettled / phases
        self.ends = {}
        return out
