"""Result files. Every file is written to a temporary name in the target directory, flushed,
fsynced and then renamed over the target, so a killed run never leaves a partial file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np

import thermochip
from device_models import dac
from thermochip.chip import Chip
from thermochip.engine import SimResult


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path next to ``path``; on success rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600; give the file the permissions a plain write would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_registers(f: h5py.File, chip: Chip) -> None:
    """The chip's DAC registers into an open results file: ``couplings`` (codes, mask, input
    codes) and ``fields`` (codes), each with its DAC's bits, full scale, rounding and LSB."""
    spec = chip.spec
    for name, codes, d in (("couplings", chip.J_codes, spec.couplings.dac),
                           ("fields", chip.field_codes, spec.fields.dac)):
        f[f"{name}/codes"] = codes
        f[name].attrs.update(bits=d.bits, full_scale=d.full_scale, rounding=d.rounding,
                             lsb=dac.lsb(d.bits, d.full_scale))
    f["couplings/mask"] = chip.mask.astype(np.uint8)
    # mask[i, j]: a device carries cell j into cell i; directed: one device per direction
    f["couplings"].attrs["directed"] = chip.directed
    if chip.input_codes is not None and chip.input_codes.size:
        f["couplings/input_codes"] = chip.input_codes


def save_simulation(path: str | Path, chip: Chip, result: SimResult, spec_yaml: str,
                    seed: int) -> None:
    """Write one simulation to HDF5: resolved spec, provenance, ADC traces, final states,
    energies, saturation counts and the coupling / field DAC codes."""
    spec = chip.spec
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(thermochip_version=thermochip.__version__, model=chip.model.name,
                       seed=seed, replicas=result.x.shape[0], steps=result.steps,
                       dt=result.dt, rate=chip.rate, wall_seconds=result.seconds)
        f["spec"] = spec_yaml
        f.create_dataset("state/final", data=result.x)
        e = f.create_group("energy")
        e["steps"] = result.energy_steps
        e["time"] = result.energy_steps * result.dt
        e["values"] = result.energies
        e.attrs["doc"] = "V of the reciprocal couplings, (record, replica), normalised units"
        if spec.adc is not None:
            a = f.create_group("adc")
            a["codes"] = result.adc_codes
            a["values"] = result.adc_values
            a["time"] = result.sample_steps * result.dt
            a["saturated"] = result.adc_saturated
            mode = chip.model.readouts[chip.model.readout_index(spec.adc.mode)][0]
            a.attrs.update(bits=spec.adc.bits, full_scale=spec.adc.full_scale, mode=mode,
                           axes="replica, sample, cell, readout")
        write_registers(f, chip)
