"""Annealing schedules (the spec's ``anneal`` section): drives that change during a run, each
piecewise-linear in time through its [time, value] points, read by the engine at every
step's start (time = step index x dt from the run's start, over every call of one engine).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thermochip._kernels import args
from thermochip.units import parse_quantity


@dataclass(frozen=True)
class Ramp:
    """One piecewise-linear schedule: ``times`` (s, non-decreasing) and ``values``."""

    times: np.ndarray
    values: np.ndarray

    def at(self, t: float) -> float:
        """The value at time ``t`` (s): linear between points, the end values outside."""
        return float(np.interp(t, self.times, self.values))


def ramp(points, what: str) -> Ramp:
    """A :class:`Ramp` from [[time, value], ...]; ValueError (one line, naming ``what``)
    for a malformed list: not pairs, times decreasing or negative, values not finite."""
    if not isinstance(points, (list, tuple)) or not points:
        raise ValueError(f"{what}: give [[time, value], ...] with at least one point")
    times, values = [], []
    for k, point in enumerate(points):
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            raise ValueError(f"{what}: point {k + 1} is not [time, value]: {point!r}")
        t = parse_quantity(point[0], "s")
        v = float(point[1]) if not isinstance(point[1], bool) else float("nan")
        if not np.isfinite(v):
            raise ValueError(f"{what}: point {k + 1} has no finite value: {point[1]!r}")
        times.append(t)
        values.append(v)
    t = np.array(times)
    if t[0] < 0 or np.any(np.diff(t) < 0):
        raise ValueError(f"{what}: times must start at 0 or later and never decrease")
    return Ramp(t, np.array(values))


@dataclass(frozen=True)
class Schedule:
    """A chip's schedules: ``fields`` (field index -> Ramp), ``kT`` and ``coupling_gain``
    (Ramp or None)."""

    fields: dict[int, Ramp]
    kT: Ramp | None
    coupling_gain: Ramp | None

    @property
    def end(self) -> float:
        """The time (s) of the last point of any ramp: every drive is constant after it."""
        ramps = [*self.fields.values(), self.kT, self.coupling_gain]
        return max((float(r.times[-1]) for r in ramps if r is not None), default=0.0)

    def drives(self, t: float, chip, fields: np.ndarray, noise: np.ndarray) -> tuple:
        """(fields, noise amplitude, coupling gain) at time ``t`` (s), from the registers'
        ``fields`` (2, cell) and the chip's own noise amplitude ``noise`` (cell,), each in its
        dtype: a scheduled field is that value on every cell, a scheduled kT gives the
        amplitude the device declares for it."""
        now = fields.copy()
        for k, ramp_k in self.fields.items():
            now[k] = ramp_k.at(t)
        if self.kT is not None:
            phase = chip.spec.noise.phase
            noise = chip.model.cell_noise(chip.params, chip.gain, self.kT.at(t),
                                          phase.linewidth if phase else 0.0
                                          ).astype(noise.dtype)
        gain = self.coupling_gain.at(t) if self.coupling_gain is not None else 1.0
        return now, noise, gain


def scaled_couplings(couplings: tuple, gain: float) -> tuple:
    """The kernels' coupling arguments (:mod:`thermochip._kernels.args`) with every coupling
    times ``gain``."""
    if gain == 1.0:
        return couplings
    if isinstance(couplings, args.Couplings):
        return couplings._replace(J=couplings.J * gain, Js=couplings.Js * gain,
                                  lists=scaled_couplings(couplings.lists, gain))
    if isinstance(couplings, args.Neighbours):
        return couplings._replace(vals=couplings.vals * gain, svals=couplings.svals * gain)
    return couplings._replace(J=couplings.J * gain)


def schedule(anneal, field_names) -> Schedule:
    """The :class:`Schedule` of an ``anneal`` section for a model with ``field_names``."""
    fields = {field_names.index(name): ramp(points, f"anneal.fields.{name}")
              for name, points in anneal.fields.items()}
    return Schedule(fields,
                    ramp(anneal.kT, "anneal.kT") if anneal.kT is not None else None,
                    ramp(anneal.coupling_gain, "anneal.coupling_gain")
                    if anneal.coupling_gain is not None else None)
