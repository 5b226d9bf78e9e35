"""The memory a command will need, estimated from the spec before anything is allocated, and
refused in one line when it exceeds what the machine has (or ``--max-memory``).

The estimates count the arrays that grow with the problem (bytes):

- the chip: every (cell, cell) array — couplings as codes and analog values, mask, mismatch,
  carrier phase offsets, delay bins, the packed copies the kernels read — about
  :data:`PER_PAIR` bytes per pair of cells (measured: ``thermochip simulate`` of all-to-all
  chips of 1,500 and 3,000 cells peaks 72 bytes per pair apart); a sparse chip stores them
  per coupler entry instead, :data:`PER_ENTRY` bytes each and :data:`PER_CELL` per cell, and
  needs cells squared only where a command reads dense views (training, calibration);
- each engine: the state, the delay line (``slots`` states of every channel), 1/f filter
  states and the chunked noise blocks (at most ``MAX_BLOCK`` elements);
- the ADC: every sample of every cell and read-out, as analog window sums, codes and values;
- training: the data set as float32 pixels (and its bytes as read), the learner's engines;
- calibration: its chunk of ADC samples and the normal equations (parameters squared).
"""

from __future__ import annotations

import os
import re

import numpy as np

from thermochip.errors import ThermochipError

#: Bytes per (cell, cell) pair of a chip (see the module docstring).
PER_PAIR = 72
#: Bytes per coupler entry (one direction of a coupler) of a sparse chip: the edge list
#: (indices, codes, values, mismatch, delay bins, the kernels' neighbour lists) and what
#: building it holds for a moment (the edge file's rows, sorting keys). Measured with
#: ``python bench/scale.py`` (10^5 and 10^6 cells, degree <= 8).
PER_ENTRY = 330
#: Bytes per cell of a sparse chip (field registers, per-cell mismatch, row offsets).
PER_CELL = 0  # counted in PER_ENTRY at degree ~8 (bench: 1,274 MiB over 4e6 entries)
#: Bytes per ADC sample of one cell and read-out: the kernel's window sum (up to 8), the
#: float64 analog copy, the uint32 code, the float64 value and the saturation flag.
PER_SAMPLE = 29
#: The interpreter, numpy, numba and the compiled kernels (measured: about 190 MiB).
BASE = 200 * 2 ** 20
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
          "t": 1e12, "tb": 1e12, "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}


def parse_size(text: str) -> int:
    """``"4 GiB"``, ``"500MB"``, ``"2e9"`` -> bytes; a one-line error otherwise."""
    m = re.fullmatch(r"\s*([0-9.]+(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise ThermochipError(f"--max-memory: expected a size such as 4GiB or 500MB; got "
                              f"{text!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def available() -> tuple[int, str]:
    """(bytes a command may use, where the figure comes from): ``THERMOCHIP_MAX_MEMORY``
    (what ``--max-memory`` sets) or the memory the system has available now."""
    given = os.environ.get("THERMOCHIP_MAX_MEMORY")
    if given:
        return parse_size(given), "--max-memory"
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "available memory"
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "available memory"
    except (ValueError, OSError, AttributeError):
        return 2 ** 62, "no limit known"


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} EiB"


#: What to change when a part is the largest.
ADVICE = {
    "couplings (cell x cell arrays)": "lower cells.n, the layer sizes or the edges",
    "replica states and delay lines": "lower the replicas or delays.loop_latency",
    "ADC samples": "lower the replicas, the steps or adc.sample_rate",
    "energies": "raise integrator.energy_every",
    "training engines": "lower learner.update_every or delays.loop_latency",
    "evaluation engine (train.eval_replicas)": "lower train.eval_replicas",
    "data set": "use data.train_size (the set is read whole first)",
    "ADC chunk": "lower the replicas",
    "normal equations": "lower cells.n",
}


def require(parts: dict[str, float], what: str) -> None:
    """Refuse in one line when the parts (name -> bytes) sum to more than is available."""
    total = BASE + sum(parts.values())
    limit, source = available()
    if total <= limit:
        return
    largest = max(parts, key=parts.get)
    raise ThermochipError(f"{what} needs about {human(total)} ({largest}: "
                          f"{human(parts[largest])}) but {human(limit)} is the limit "
                          f"({source}); {ADVICE[largest]}")


# ---------------------------------------------------------------------------------------------
# the parts of a spec


def cells(spec) -> int:
    c = spec.cells
    return int(sum(c.layers)) if c.layers else int(c.n or 0)


def sparse_entries(spec, base_dir=None) -> int | None:
    """Coupler entries of a sparse chip (twice its edges: an upper bound where edges repeat),
    counted from the spec or the edge file's lines without parsing them; None for dense
    topologies."""
    from thermochip.spec import Sparse
    from thermochip.spec_files import resolve_path

    topo = spec.topology
    if not isinstance(topo, Sparse):
        return None
    if topo.edges is not None:
        return 2 * len(topo.edges)
    lines = 0
    try:
        with open(resolve_path(topo.edges_file, base_dir), "rb") as fh:
            for block in iter(lambda: fh.read(2 ** 24), b""):
                lines += block.count(b"\n")
    except OSError:  # the checks name an unreadable file
        return 0
    return 2 * (lines + 1)


def chip_bytes(spec, base_dir=None, dense_views: bool = False) -> float:
    """The chip's arrays; ``dense_views``: the command also reads (cell, cell) copies of a
    sparse chip's couplers."""
    n = cells(spec)
    entries = sparse_entries(spec, base_dir)
    if entries is None:
        return float(PER_PAIR) * n * n
    return (float(PER_ENTRY) * entries + float(PER_CELL) * n
            + (float(PER_PAIR) * n * n if dense_views else 0.0))


def engine_bytes(spec, replicas: float, steps: float) -> float:
    """State, delay line, 1/f states and noise blocks of one engine of ``replicas``."""
    from thermochip.engine import MAX_BLOCK

    n, dt = cells(spec), spec.integrator.dt
    d = spec.delays
    slots = 1 + (d.loop_latency + 6 * d.latency_jitter) / dt
    itemsize = np.dtype(spec.run.dtype).itemsize
    poles = 0
    fl = spec.noise.flicker
    if fl is not None and fl.amplitude > 0:
        poles = np.log10(fl.f_max / fl.f_min) * fl.poles_per_decade + 1
    per_replica = n * (2 * 8 + 2 * slots * itemsize + 8 * poles)
    blocks = 2 * 8 * min(float(replicas) * steps * n, MAX_BLOCK) if poles else 0
    return float(replicas) * per_replica + blocks


def adc_bytes(spec, replicas: float, samples: float) -> float:
    readouts = 2 if spec.adc is not None and (spec.adc.mode or "iq") == "iq" else 1
    return float(replicas) * samples * cells(spec) * readouts * PER_SAMPLE


def simulation_parts(spec, steps: int, base_dir=None) -> dict[str, float]:
    """What ``thermochip simulate`` holds at its peak."""
    a, dt = spec.adc, spec.integrator.dt
    if a is None:
        samples = 0
    elif a.sample_times is not None:
        samples = len(a.sample_times)
    else:
        samples = steps / a.period_steps(dt)
    B = spec.run.replicas
    records = 1 + (steps / spec.integrator.energy_every if spec.integrator.energy_every
                   else min(steps, 200))
    return {"couplings (cell x cell arrays)": chip_bytes(spec, base_dir),
            "replica states and delay lines": engine_bytes(spec, B, steps),
            "ADC samples": adc_bytes(spec, B, samples),
            "energies": float(records) * B * 8}


def training_parts(spec, base_dir=None) -> dict[str, float]:
    """What ``thermochip run`` holds: chip, the learner's engines, the data set."""
    learner, train = spec.learner, spec.train
    parts = {"couplings (cell x cell arrays)": chip_bytes(spec, base_dir, dense_views=True)}
    update = getattr(learner, "update_every", 1)
    steps = max(getattr(learner, "free_steps", 1), getattr(learner, "nudged_steps", 1) or 1)
    window = getattr(learner, "window", 1)
    parts["training engines"] = engine_bytes(spec, 3 * update, steps) \
        + adc_bytes(spec, 3 * update, window)
    parts["evaluation engine (train.eval_replicas)"] = \
        engine_bytes(spec, train.eval_replicas, steps) \
        + adc_bytes(spec, train.eval_replicas, window)
    if spec.data is not None and spec.data.dataset != "file":  # a file is bounded as it is read
        from thermochip.datasets import SHAPES
        samples, pixels, _ = SHAPES[spec.data.dataset]
        parts["data set"] = samples * pixels * (1 + 4 + 4)
    return parts


def check_simulation(spec, steps: int, base_dir=None) -> None:
    """``base_dir``: the spec's folder (where a sparse chip's edge file is)."""
    require(simulation_parts(spec, steps, base_dir), "this simulation")


def check_training(spec, base_dir=None) -> None:
    require(training_parts(spec, base_dir), "this training run")


def check_read(path, nbytes: int) -> None:
    """Refuse to read (decompress) ``nbytes`` of ``path`` beyond the limit."""
    limit, source = available()
    if nbytes > limit:
        raise ThermochipError(f"{path} holds {human(nbytes)} of data but {human(limit)} is the "
                              f"limit ({source})")
