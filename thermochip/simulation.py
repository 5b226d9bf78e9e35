"""A simulation as ``thermochip simulate`` runs it: spec file -> chip -> engine -> HDF5 result
(+ figures, summary)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from thermochip.chip import Chip, run_steps
from thermochip.engine import SimResult, simulate
from thermochip.errors import ThermochipError
from thermochip.memory import check_simulation
from thermochip.results import save_simulation
from thermochip.sampling import SamplingStats, sampling_stats
from thermochip.spec import ChipSpec
from thermochip.spec_io import dump_spec, load_spec


def resolve(spec: ChipSpec, *, steps: int | None = None, replicas: int | None = None,
            seed: int | None = None) -> ChipSpec:
    """The spec with command-line overrides applied, so the stored spec is what ran."""
    if steps is not None:
        spec = dataclasses.replace(
            spec, integrator=dataclasses.replace(spec.integrator, steps=steps, duration=None))
    run = spec.run
    if replicas is not None:
        run = dataclasses.replace(run, replicas=replicas)
    if seed is not None:
        run = dataclasses.replace(run, seed=seed)
    return dataclasses.replace(spec, run=run)


def run_simulation(spec_path: str | Path, out: str | Path, *, steps: int | None = None,
                   replicas: int | None = None, seed: int | None = None,
                   plot_dir: str | Path | None = None, threads: int | None = None,
                   progress: bool = False, warn=None) -> str:
    """Simulate the spec at ``spec_path``, write ``out`` (HDF5) and figures; return a summary.
    ``warn``: called with one line per spec field that simulate does not read."""
    from thermochip._kernels.jit import set_num_threads

    spec = resolve(load_spec(spec_path, command="simulate", warn=warn), steps=steps,
                   replicas=replicas, seed=seed)
    if threads is not None:
        set_num_threads(threads)
    check_simulation(spec, run_steps(spec), Path(spec_path).resolve().parent)
    chip = Chip.from_spec(spec, base_dir=Path(spec_path).resolve().parent)
    result = simulate(chip, progress=progress)
    stats = statistics(chip, result)
    try:
        save_simulation(out, chip, result, dump_spec(spec), spec.run.seed, stats)
        figures = []
        if plot_dir is not None:
            from thermochip.plots import plot_simulation
            figures = plot_simulation(plot_dir, chip, result, stats)
    except OSError as err:
        raise ThermochipError(f"cannot write {err.filename or out}: {err.strerror or err}") \
            from None
    return summary(chip, result, out, figures, stats)


def statistics(chip: Chip, result: SimResult) -> SamplingStats | None:
    """The sampling statistics of the ADC's samples (read-out channel 0), or None without
    at least two samples."""
    if result.sample_steps.size < 2:
        return None
    period = float(np.mean(np.diff(result.sample_steps))) * result.dt
    return sampling_stats(result.adc_values[..., 0], chip.couplers.pairs(), period,
                          result.seconds)


def summary(chip: Chip, result: SimResult, out: Path, figures: list[Path],
            stats: SamplingStats | None = None) -> str:
    B, N = result.x.shape
    e = result.energies[-1]
    lines = [
        f"chip {chip.spec.name}: {N} {chip.model.name} cells, {chip.n_couplers} "
        f"{'directed ' if chip.directed else ''}couplers, {B} replicas, {result.steps} steps "
        f"of {result.dt:.3g} s "
        f"({result.steps * result.dt:.3g} s simulated)",
        f"speed: {result.steps_per_second:,.0f} steps/s, "
        f"{result.steps_per_second * B * N:,.3g} cell-steps/s ({result.seconds:.3g} s wall)",
        f"final energy: mean {e.mean():.4g}, min {e.min():.4g}, max {e.max():.4g}",
    ]
    if chip.spec.adc is not None:
        total = result.adc_codes.size // max(1, result.adc_saturated.shape[1])
        lines.append(f"ADC: {result.sample_steps.size} samples x {B} replicas, "
                     f"{int(result.adc_saturated.sum())} saturated of "
                     f"{total * result.adc_saturated.shape[1]:,} conversions")
    if stats is not None:
        st = stats.summary()
        corr = st["mean_coupler_correlation"]
        lines.append(f"sampling: mean |magnetisation| {st['mean_abs_magnetisation']:.4f}"
                     + (f", mean coupler correlation {corr:.4f}" if corr is not None else "")
                     + f"; integrated autocorrelation time {stats.tau_int:.3g} samples "
                       f"({stats.tau_int_seconds:.3g} s); {stats.ess:,.0f} effective samples, "
                       f"{stats.ess_per_second:,.3g} per second (first 10 % left out)")
    if chip.dac_clipped:
        lines.append(f"DAC: {chip.dac_clipped} coupling / field values clipped to full scale")
    if chip.model.periodic is not None:
        spins = np.sign(np.cos(result.x))
        lines.append(f"binarised: {np.mean(np.abs(np.cos(result.x)) > 0.9):.1%} of phases "
                     f"within 0.45 rad of 0 or pi; mean spin {spins.mean():+.3f}")
    lines.append(f"wrote {out}" + (f" and {len(figures)} figures in {figures[0].parent}"
                                   if figures else ""))
    return "\n".join(lines)
