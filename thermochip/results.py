"""Results files: one HDF5 file per simulation or training run, holding the resolved spec,
provenance, what the run produced and the chip's DAC codes. Written atomically
(:mod:`thermochip.atomic`): a killed run never leaves a partial file."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

import thermochip
from device_models import dac
from thermochip import strict_json
from thermochip.atomic import atomic_path
from thermochip.chip import Chip
from thermochip.engine import SimResult
from thermochip.spec_io import dump_spec


def write_registers(f: h5py.File, chip: Chip) -> None:
    """The chip's DAC registers into an open results file: ``couplings`` (codes and mask
    (cell, cell), or on a sparse chip codes (edge,) and ``edges`` (edge, 2) [i, j]; input
    codes) and ``fields`` (codes), each with its DAC's bits, full scale, rounding and LSB."""
    spec = chip.spec
    for name, codes, d in (("couplings", chip.registers.couplings.codes, spec.couplings.dac),
                           ("fields", chip.field_codes, spec.fields.dac)):
        f[f"{name}/codes"] = codes
        f[name].attrs.update(bits=d.bits, full_scale=d.full_scale, rounding=d.rounding,
                             lsb=dac.lsb(d.bits, d.full_scale))
    c = chip.couplers
    if c.edges:  # edges[e] = (i, j): codes[e] is the device carrying cell j into cell i
        f["couplings/edges"] = np.stack([c.i, c.j], axis=1).astype(np.int32)
    else:
        f["couplings/mask"] = chip.mask.astype(np.uint8)
    # mask[i, j]: a device carries cell j into cell i; directed: one device per direction
    f["couplings"].attrs["directed"] = chip.directed
    if chip.input_codes is not None and chip.input_codes.size:
        f["couplings/input_codes"] = chip.input_codes


def save_simulation(path: str | Path, chip: Chip, result: SimResult, spec_yaml: str,
                    seed: int, stats=None) -> None:
    """Write one simulation to HDF5: resolved spec, provenance, ADC traces, final states,
    energies, saturation counts, the coupling / field DAC codes and, given ``stats`` (a
    :class:`~thermochip.sampling.SamplingStats`), the sampling statistics."""
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
        if stats is not None:
            g = f.create_group("sampling")
            g["magnetisation"] = stats.magnetisation
            g["coupler_correlation"] = stats.coupler_correlation
            if stats.correlation is not None:
                g["correlation"] = stats.correlation
            g.attrs.update({k: v for k, v in stats.summary().items() if v is not None})
            g.attrs["doc"] = ("read-out channel 0 of the ADC samples after a 10 % burn-in: "
                              "mean per cell, mean products (cell x cell; per coupler i < j "
                              "in row-major order), integrated autocorrelation time of each "
                              "replica's mean read-out")


def is_training_result(path: str | Path) -> bool:
    """Whether ``path`` is a results file of a run that trained (a learning curve)."""
    try:
        with h5py.File(path, "r") as f:
            return "learning_curve/epoch" in f and len(f["learning_curve/epoch"]) > 0
    except OSError:
        return False


def save_run(path: str | Path, result) -> None:
    """A training run's results file (``result``: a :class:`~thermochip.training.TrainResult`):
    resolved spec, provenance, learning curve, confusion matrix, final codes."""
    spec, chip, learner = result.spec, result.chip, result.learner
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update(thermochip_version=thermochip.__version__, model=chip.model.name,
                       seed=spec.run.seed, test_accuracy=result.test.accuracy,
                       train_accuracy=result.train_accuracy, seconds=result.seconds,
                       summary=strict_json.dumps(result.summary()))
        f["spec"] = dump_spec(spec)
        for k, v in result.history.as_arrays().items():
            f[f"learning_curve/{k}"] = v
        f["confusion"] = result.test.confusion
        write_registers(f, chip)
        for k, v in learner.registers().items():
            f[f"learner/{k}"] = v
        for name in ("feature_range", "target_range"):  # the host's scaling of a user's data
            if getattr(result, name) is not None:
                f[f"host/{name}"] = getattr(result, name)
        if spec.cells.layers:
            f["couplings"].attrs["layers"] = [spec.cells.inputs] + list(spec.cells.layers)
