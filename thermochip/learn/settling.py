"""Whether a learner's phases settle: how fast each phase's state still moves at its end, and an
optional criterion that lengthens a phase until it stops moving.

Motion is each replica's RMS change of its cells' coupling channels over the learner's
``window`` steps at the end of a phase (a soft spin's state; an oscillator's chord
2 sin(dphi / 2), which is dphi for the small changes that matter), as a velocity in state
units per ns (oim: rad/ns). A phase has settled when it moves no more than

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
from thermochip.engine import Settle


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
    steps = {"free": section.free_steps, "nudged": section.nudged_steps or 0}
    longest = max(steps[kind] for kind in settle.phases)
    if settle.max_steps < longest:
        return [("learner.settle.max_steps", f"at least the longest phase it lengthens "
                                             f"({longest} steps)")]
    return []


#: Without a settling criterion, one phase of each kind in this many is watched.
WATCH_EVERY = 4


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
        self.watch = None if not self.active else Settle(self.lag)
        lengthen = Settle(self.lag, self.threshold, settle.max_steps) if settle else None
        #: the Settle of the phases a criterion lengthens (every one of them)
        self.lengthen = {kind: lengthen if settle is not None and self.active
                         and kind in settle.phases else None for kind in ("free", "nudged")}
        self.count = dict.fromkeys(("free", "nudged"), 0)
        self.totals: dict[str, np.ndarray] = {}

    def settle(self, kind: str) -> Settle | None:
        """The Settle for the next phase of ``kind``: the criterion's where it lengthens
        phases, else a watch of one phase in :data:`WATCH_EVERY` (a sample of the epoch's
        phases: reading the end costs a little, and changes nothing)."""
        if self.lengthen[kind] is not None:
            return self.lengthen[kind]
        self.count[kind] += 1
        return self.watch if self.count[kind] % WATCH_EVERY == 1 else None

    def record(self, kind: str, result) -> None:
        """Add the end of a watched phase (``kind``: free or nudged; ``result`` its SimResult);
        an unwatched one ran its nominal steps, as the watched ones of its kind did."""
        if not self.active or result.end_change is None:
            return
        change = result.end_change
        t = self.totals.setdefault(kind, np.zeros(4))  # phases, sum of changes, unsettled, steps
        t += (len(change), change.sum(), (change > self.threshold).sum(),
              result.steps * len(change))

    def epoch(self) -> dict[str, float]:
        """The epoch's figures (and a fresh start): for free and nudged phases the mean end
        velocity (``*_velocity``, state units per ns) and chip time per phase (``*_ns``), the
        noise's velocity bound, and the fraction of phases that ended unsettled."""
        if not self.totals:
            return {}
        out = {}
        for kind, (phases, change, _, steps) in self.totals.items():
            out[f"{kind}_velocity"] = change / phases / (self.lag * self.ns_per_step)
            out[f"{kind}_ns"] = steps / phases * self.ns_per_step
        out["noise_velocity"] = self.noise_velocity
        phases, unsettled = (sum(t[i] for t in self.totals.values()) for i in (0, 2))
        out["unsettled"] = unsettled / phases
        self.totals = {}
        return out
