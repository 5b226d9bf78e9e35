"""DAC-held state with one owner: a :class:`Register` holds the integer codes of a DAC and the
analog values its devices apply, and every change goes through it.

A write rounds nothing (codes are already codes): it draws each device's write error (``dac.
write_noise`` LSB rms, held until the next write) and applies the devices' fixed mismatch, so
the analog values are what the circuit really applies. Codes and values are read-only arrays
outside the register, and every change bumps :attr:`Register.version`; what is derived from
the values (an engine's packed couplings, delay matrices) is kept by :meth:`Register.derived`
and rebuilt after a change, so no reader can see stale values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from device_models import dac


@dataclass(frozen=True)
class DacParams:
    """The DAC of a register: b bits over [-full_scale, full_scale], value = code x LSB."""

    bits: int
    full_scale: float
    write_noise: float = 0.0
    """Analog error of each write, LSB rms."""

    @property
    def lsb(self) -> float:
        return dac.lsb(self.bits, self.full_scale)

    @property
    def levels(self) -> int:
        """Largest code magnitude."""
        return dac.levels(self.bits)


@dataclass(frozen=True)
class Devices:
    """The analog devices behind a coupling register, (cell, cell) or per entry (see
    :mod:`thermochip.couplers`): ``mask`` where a device carries cell j into cell i (None:
    per entry, every entry a device), its gain (1 + relative mismatch) and additive offset;
    ``reciprocal``: one device serves both directions of a pair (one write error per pair);
    ``share``: per entry, the entry whose write error a pair shares (None: the upper
    triangle's, for (cell, cell) registers)."""

    mask: np.ndarray | None
    gain: np.ndarray
    offset: np.ndarray
    reciprocal: bool
    share: np.ndarray | None = None

    def apply(self, written: np.ndarray, index) -> np.ndarray:
        """Analog values at ``index`` from the DAC's written values: mismatch applied, zero
        where no device exists."""
        analog = written * self.gain[index] + self.offset[index]
        return analog if self.mask is None else np.where(self.mask[index], analog, 0.0)

    def paired(self, written: np.ndarray) -> np.ndarray:
        """Written values with one write error per pair on a reciprocal register."""
        if not self.reciprocal:
            return written
        if self.share is not None:
            return written[self.share]
        return np.triu(written, 1) + np.triu(written, 1).T


def _frozen(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


class Register:
    """Integer codes of one DAC and the analog values its devices apply (see the module
    docstring). ``devices``: the mismatch and topology of a coupling register (None: the
    written values are applied as they are). ``dtype``: precision of the analog values."""

    def __init__(self, name: str, codes: np.ndarray, dac_params: DacParams,
                 rng: np.random.Generator, devices: Devices | None = None, dtype=np.float64):
        self.name, self.dac, self.rng, self.devices = name, dac_params, rng, devices
        self.dtype = np.dtype(dtype)
        self.version = 0
        self._derived: dict[Any, Any] = {}
        self._codes = np.zeros(np.shape(codes), dtype=np.int32)
        self._values = np.zeros(np.shape(codes), dtype=self.dtype)
        self.write(codes)

    @property
    def codes(self) -> np.ndarray:
        """int32 codes (read-only view)."""
        return _frozen(self._codes)

    @property
    def values(self) -> np.ndarray:
        """Analog values the devices apply (read-only view)."""
        return _frozen(self._values)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._codes.shape

    def write(self, codes: np.ndarray, blocks=None) -> None:
        """Load new codes. ``blocks``: the (r0, r1, c0, c1) blocks of a matrix register that
        changed (on a reciprocal coupling register, their mirrors change with them); only
        those are rewritten (default: all)."""
        codes = np.asarray(codes, dtype=np.int32)
        if codes.shape != self._codes.shape:
            raise ValueError(f"register {self.name} holds {self._codes.shape} codes; got "
                             f"{codes.shape}")
        d, dev = self.dac, self.devices
        self._codes = codes.copy()
        if blocks is None:
            written = dac.write(codes, d.bits, d.full_scale, d.write_noise, self.rng,
                                self.dtype)
            if dev is None:
                self._values = written
            else:
                if d.write_noise > 0:  # one device per pair
                    written = dev.paired(written)
                self._values = dev.apply(written, ...).astype(self.dtype, copy=False)
        else:
            for r0, r1, c0, c1 in blocks:
                index = (slice(r0, r1), slice(c0, c1))
                written = dac.write(codes[index], d.bits, d.full_scale, d.write_noise,
                                    self.rng, self.dtype)
                self._values[index] = dev.apply(written, index)
                if dev.reciprocal:
                    self._values[index[::-1]] = dev.apply(written.T, index[::-1])
        self._changed()

    def set_values(self, values: np.ndarray, index=...) -> None:
        """Set analog values directly, without a DAC write (a checkpoint's saved values; a
        test's perturbation of a device)."""
        self._values[index] = values
        self._changed()

    def derived(self, key, build: Callable[[], Any]) -> Any:
        """``build()``, kept until the register changes (what readers derive from it)."""
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def _changed(self) -> None:
        self.version += 1
        self._derived.clear()

    def state_dict(self) -> dict[str, np.ndarray]:
        """Codes and analog values (re-writing the codes would draw new write errors)."""
        return {f"{self.name}_codes": self._codes.copy(),
                f"{self.name}_analog": self._values.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self._codes = np.array(state[f"{self.name}_codes"], dtype=np.int32)
        self._values = np.array(state[f"{self.name}_analog"], dtype=self.dtype)
        self._changed()
