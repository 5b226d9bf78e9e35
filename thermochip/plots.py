"""Figures of a simulation (matplotlib, Agg backend, PNG files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from thermochip.chip import Chip
from thermochip.engine import SimResult


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_simulation(out_dir: str | Path, chip: Chip, result: SimResult,
                    max_cells: int = 8) -> list[Path]:
    """Write traces.png (ADC read-out of replica 0), energy.png (V against time over replicas)
    and final_states.png (histogram of final phases or values). Returns the paths."""
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    t_unit, scale = "ns", 1e9

    if result.sample_steps.size:
        mode, R = chip.model.readouts[chip.model.readout_index(chip.spec.adc.mode)]
        fig, axes = plt.subplots(R, 1, figsize=(7, 2.6 * R), sharex=True, squeeze=False)
        t = result.sample_steps * result.dt * scale
        labels = ("I = cos phi", "Q = sin phi") if mode == "iq" else (mode,)
        for r in range(R):
            ax = axes[r, 0]
            for i in range(min(chip.n, max_cells)):
                ax.step(t, result.adc_values[0, :, i, r], where="post", lw=1, label=f"cell {i}")
            ax.set_ylabel(f"ADC {labels[r]}")
        axes[-1, 0].set_xlabel(f"time ({t_unit})")
        axes[0, 0].set_title(f"{chip.spec.name}: ADC read-out, replica 0")
        axes[0, 0].legend(fontsize=7, ncol=4, loc="best")
        fig.tight_layout()
        written.append(out / "traces.png")
        fig.savefig(written[-1], dpi=120)
        plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    t = result.energy_steps * result.dt * scale
    e = result.energies
    ax.plot(t, e, color="0.7", lw=0.6)
    ax.plot(t, e.mean(axis=1), color="C3", lw=2, label="mean over replicas")
    ax.set_xlabel(f"time ({t_unit})")
    ax.set_ylabel("energy V (normalised)")
    ax.set_title(f"{chip.spec.name}: energy of {e.shape[1]} replicas")
    ax.legend()
    fig.tight_layout()
    written.append(out / "energy.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    if chip.model.periodic is not None:
        phi = np.mod(result.x, chip.model.periodic).ravel()
        ax.hist(phi, bins=72, range=(0, chip.model.periodic), color="C0")
        ax.set_xlabel("final phase (rad)")
        for v in (0, np.pi, 2 * np.pi):
            ax.axvline(v, color="k", lw=0.5, ls="--")
    else:
        ax.hist(result.x.ravel(), bins=60, color="C0")
        ax.set_xlabel("final state x")
    ax.set_ylabel("cells x replicas")
    ax.set_title(f"{chip.spec.name}: final states")
    fig.tight_layout()
    written.append(out / "final_states.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)
    return written
