"""Every figure the commands draw (matplotlib, Agg backend, PNG files): a simulation's
traces, energies and final states; a training run's learning curve and confusion matrix; a
sweep's accuracy against each swept field."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from thermochip.chip import Chip
from thermochip.engine import SimResult
from thermochip.errors import ThermochipError


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plot_simulation(out_dir: str | Path, chip: Chip, result: SimResult, stats=None,
                    max_cells: int = 8) -> list[Path]:
    """Write traces.png (ADC read-out of replica 0), energy.png (V against time over replicas)
    and final_states.png (histogram of final phases or values), and with ``stats`` (a
    :class:`~thermochip.sampling.SamplingStats`) sampling.png (magnetisations and pair
    correlations). Returns the paths."""
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
    if stats is not None:
        written.append(_plot_sampling(out / "sampling.png", chip, stats))
    return written


def _plot_sampling(path: Path, chip: Chip, stats) -> Path:
    """Each cell's magnetisation and the pair correlations (matrix, or per coupler)."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.bar(np.arange(chip.n), stats.magnetisation, width=1.0, color="C0")
    a.set_xlabel("cell")
    a.set_ylabel("mean read-out (magnetisation)")
    a.set_title(f"tau_int {stats.tau_int:.3g} samples, {stats.ess:,.0f} effective samples",
                fontsize=9)
    if stats.correlation is not None:
        im = b.imshow(stats.correlation, cmap="RdBu_r", vmin=-1, vmax=1)
        fig.colorbar(im, ax=b, label="<m_i m_j>")
        b.set_xlabel("cell j")
        b.set_ylabel("cell i")
    else:
        b.hist(stats.coupler_correlation, bins=50, color="C1")
        b.set_xlabel("<m_i m_j> over the couplers")
    b.set_title(f"{chip.spec.name}: pair correlations", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


# -- training --------------------------------------------------------------------------------
def plot_run(out_dir: str | Path, result) -> list[Path]:
    """learning_curve.png and (classification) confusion.png."""
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h = result.history
    regression = result.target_range is not None
    metric, scale = ("rmse", 1) if regression else ("accuracy", 100)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if h.epoch:
        ax.plot(h.epoch, np.array(getattr(h, f"train_{metric}")) * scale, "o-", label="train")
        ax.plot(h.epoch, np.array(getattr(h, f"test_{metric}")) * scale, "s-", label="test")
        val = np.array(getattr(h, f"val_{metric}"))
        if not np.all(np.isnan(val)):
            ax.plot(h.epoch, val * scale, "^-", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE (targets' units)" if regression else "accuracy (%)")
    ax.set_title(f"{result.spec.name}: {result.spec.learner.rule} learning curve")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    paths = [out / "learning_curve.png"]
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    if regression:
        return paths

    c = result.test.confusion
    fig, ax = plt.subplots(figsize=(5, 4.4))
    im = ax.imshow(c / np.maximum(c.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0,
                   vmax=1)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"test accuracy {result.test.accuracy:.2%}")
    fig.colorbar(im, ax=ax, label="fraction of true class")
    fig.tight_layout()
    paths.append(out / "confusion.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


# -- sweeps ------------------------------------------------------------------------------------
_PREFIX = {-15: "f", -12: "p", -9: "n", -6: "µ", -3: "m", 0: "", 3: "k", 6: "M", 9: "G",
           12: "T"}


def _scale(values: list[float], unit: str | None) -> tuple[float, str]:
    """A power of 1000 and axis unit so that the largest |value| reads between 1 and 1000."""
    if not unit:
        return 1.0, ""
    top = max((abs(v) for v in values), default=0.0)
    exp = 0 if top == 0 else int(math.floor(math.log10(top) / 3) * 3)
    exp = min(max(exp, -15), 12)
    return 10.0 ** exp, f" ({_PREFIX[exp]}{unit})"


def _stats(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def plot_sweep(out: str | Path) -> list[Path]:
    """``accuracy_vs_<field>.png`` (regression: ``rmse_vs_``; a solve sweep: ``best_vs_``) for
    each swept field (one line per combination of the other fields, error bars: standard
    deviation over seeds) and ``heatmap.png`` of the mean metric when exactly two fields are
    swept. Returns the files written."""
    from thermochip.sweep import read_results

    plt = _plt()
    out = Path(out)
    meta_path = out / "sweep.json"
    _, rows = read_results(out)
    if not rows or not meta_path.exists():
        raise ThermochipError(f"no sweep results in {out}")
    meta = json.loads(meta_path.read_text())
    fields = meta["fields"]
    axes = meta["axes"]
    rows = [{**r, **{f: str(r[f]) for f in fields}} for r in rows]  # as keyed in sweep.json
    paths = []
    # the metric each point reports: a trained point's test accuracy (regression: RMSE), a
    # solved one's best value (a cut or a problem's value)
    metric, scale, ylabel, stem = (("test_accuracy", 100, "test accuracy (%)", "accuracy")
                                  if "test_accuracy" in rows[0] else
                                  ("test_rmse", 1, "test RMSE", "rmse")
                                  if "test_rmse" in rows[0] else
                                  ("best", 1, "best value", "best"))

    def order(field):
        seen = list(dict.fromkeys(r[field] for r in rows))
        numeric = axes[field]["numeric"]
        if all(numeric.get(v) is not None for v in seen):
            return sorted(seen, key=lambda v: numeric[v]), True
        return seen, False

    for field in fields:
        others = [f for f in fields if f != field]
        values, is_numeric = order(field)
        numeric = axes[field]["numeric"]
        factor, label_unit = _scale([numeric[v] for v in values] if is_numeric else [],
                                    axes[field]["unit"] if is_numeric else None)
        groups: dict[tuple, dict[str, list[float]]] = {}
        for r in rows:
            key = tuple(r[o] for o in others)
            groups.setdefault(key, {}).setdefault(r[field], []).append(float(r[metric]))
        fig, ax = plt.subplots(figsize=(6, 3.8))
        for key in sorted(groups, key=lambda k: [str(x) for x in k]):
            xs, ys, es = [], [], []
            for i, v in enumerate(values):
                if v in groups[key]:
                    mean, std = _stats(groups[key][v])
                    xs.append(numeric[v] / factor if is_numeric else i)
                    ys.append(mean * scale)
                    es.append(std * scale)
            label = ", ".join(f"{o}={k}" for o, k in zip(others, key)) or None
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=label)
        if not is_numeric:
            ax.set_xticks(range(len(values)), values)
        ax.set_xlabel(field + label_unit)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{ylabel.split(' (')[0]} against {field} (bars: std over seeds)",
                     fontsize=10)
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out / f"{stem}_vs_{field}.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)

    if len(fields) == 2:
        (ys_, _), (xs_, _) = order(fields[0]), order(fields[1])
        grid = [[float("nan")] * len(xs_) for _ in ys_]
        cells: dict[tuple, list[float]] = {}
        for r in rows:
            cells.setdefault((r[fields[0]], r[fields[1]]), []).append(float(r[metric]))
        for (a, b), values_ab in cells.items():
            grid[ys_.index(a)][xs_.index(b)] = _stats(values_ab)[0] * scale
        fig, ax = plt.subplots(figsize=(1.2 * len(xs_) + 3, 0.8 * len(ys_) + 2))
        im = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
        ax.set_xticks(range(len(xs_)), xs_)
        ax.set_yticks(range(len(ys_)), ys_)
        for i, row in enumerate(grid):
            for j, value in enumerate(row):
                if not math.isnan(value):
                    ax.text(j, i, f"{value:.1f}", ha="center", va="center", color="w",
                            fontsize=8)
        ax.set_xlabel(fields[1])
        ax.set_ylabel(fields[0])
        ax.set_title(f"mean {ylabel}")
        fig.colorbar(im, ax=ax)
        fig.tight_layout()
        paths.append(out / "heatmap.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths
