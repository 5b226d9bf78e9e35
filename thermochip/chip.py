"""Chip assembly: a validated spec becomes arrays. Mismatch, write noise and per-coupler delays
are drawn here, once per chip, from the chip's own random stream; nothing here has dynamics.

Time is made dimensionless here, once: t~ = rate * t with the cell model's ``rate``.

Couplings: ``J[i, j]`` is the coupling from cell j into cell i (cell i's coupling field is
``sum_j J[i, j] ch(x_j)``) and ``mask[i, j]`` says that a device carries cell j into cell i.
On a reciprocal chip (the default) one device serves both directions of a pair, so codes,
mismatch, write noise and delays are drawn once per pair and every (cell, cell) array is
symmetric. On a directed chip (``couplings.asymmetric`` or a feed-forward layered topology,
see :func:`is_directed`) each direction is its own device with its own draws.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import device_models
from device_models import dac
from device_models import noise as device_noise
from device_models.base import CellModel
from thermochip.spec import ChipSpec, EdgesInit, FileInit, Layered, RandomInit, Sparse, ValuesInit

TWO_PI = 2 * np.pi


def chip_stream(seed: int) -> np.random.Generator:
    """The chip's random stream (mismatch, rounding, write noise): independent of replicas."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(0,))))


def replica_stream(seed: int, replica: int, purpose: int = 1) -> np.random.Generator:
    """Replica ``replica``'s stream (purpose 1: initial state and white noise; 3: 1/f noise):
    the same whatever the replica count or thread count."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(purpose, replica))))


def model_params(spec: ChipSpec):
    """The model's parameter object: preset values, then the spec's overrides."""
    from thermochip.spec_io import build_dataclass
    model = device_models.get_model(spec.cells.model)
    merged = {}
    if spec.cells.preset is not None:
        merged.update(device_models.load_preset(model.name, spec.cells.preset).get("params", {}))
    merged.update(spec.cells.params)
    params, problems = build_dataclass(model.params, merged, "cells.params")
    if problems:
        from thermochip.errors import SpecError
        raise SpecError("cells.params", problems)
    return params


def n_cells(spec: ChipSpec) -> int:
    return sum(spec.cells.layers) if isinstance(spec.topology, Layered) else spec.cells.n


def resolve_path(path: str, base_dir: Path | None) -> Path:
    p = Path(path)
    return p if p.is_absolute() or base_dir is None else base_dir / p


def read_edges(topology: Sparse, base_dir: Path | None) -> np.ndarray:
    """Edge rows (i, j, w) as float64 (w = 1 where absent)."""
    if topology.edges is not None:
        rows = topology.edges
    else:
        with open(resolve_path(topology.edges_file, base_dir), newline="") as fh:
            rows = [[float(v) for v in r] for r in csv.reader(fh) if r and not r[0].startswith("#")]
    return np.array([list(r) + [1.0] * (3 - len(r)) for r in rows], dtype=np.float64).reshape(-1, 3)


def read_matrix(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float64)
    return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)


def is_directed(spec: ChipSpec) -> bool:
    """Whether each direction of a coupler is its own device: ``couplings.asymmetric``, or a
    feed-forward layered topology (whose couplers carry one direction only)."""
    return bool(spec.couplings.asymmetric
                or (isinstance(spec.topology, Layered) and spec.topology.feedforward))


def topology_mask(spec: ChipSpec, base_dir: Path | None) -> np.ndarray:
    """(cell, cell) bool: ``mask[i, j]`` when a device carries cell j into cell i; no
    diagonal. Symmetric except for feed-forward layered chips (only layer k into layer k+1:
    rows in layer k+1, columns in layer k)."""
    n = n_cells(spec)
    topo = spec.topology
    if isinstance(topo, Layered):
        mask = np.zeros((n, n), dtype=bool)
        starts = np.cumsum([0] + list(spec.cells.layers))
        for a, b, c in zip(starts[:-2], starts[1:-1], starts[2:]):
            mask[a:b, b:c] = True
        return mask.T.copy() if topo.feedforward else mask | mask.T
    if isinstance(topo, Sparse):
        mask = np.zeros((n, n), dtype=bool)
        e = read_edges(topo, base_dir)
        i, j = e[:, 0].astype(int), e[:, 1].astype(int)
        mask[i, j] = mask[j, i] = True
        return mask
    return ~np.eye(n, dtype=bool)


def initial_couplings(spec: ChipSpec, mask: np.ndarray, base_dir: Path | None,
                      rng: np.random.Generator) -> np.ndarray:
    """Target coupling values (before the DAC), zero off the topology. Random, constant and
    edge inits give one value per pair (symmetric before masking); ``values`` / ``file`` may
    be non-symmetric (directed chips only, see :mod:`thermochip.checks`)."""
    init = spec.couplings.init
    n = mask.shape[0]
    if isinstance(init, RandomInit):
        std = np.full((n, n), init.std)
        if init.fan_in_scaling:
            std = std / np.sqrt(fan_in(spec, mask))
        J = np.triu(rng.standard_normal((n, n)) * std, 1)
        J = J + J.T
    elif isinstance(init, EdgesInit):
        J = np.zeros((n, n))
        e = read_edges(spec.topology, base_dir)
        i, j = e[:, 0].astype(int), e[:, 1].astype(int)
        J[i, j] = J[j, i] = init.scale * e[:, 2]
    elif isinstance(init, ValuesInit):
        J = np.array(init.J, dtype=np.float64)
    elif isinstance(init, FileInit):
        J = read_matrix(resolve_path(init.path, base_dir))
    else:
        J = np.full((n, n), init.value)
    return np.where(mask, J, 0.0)


def fan_in(spec: ChipSpec, mask: np.ndarray) -> np.ndarray:
    """(cell, cell) fan-in of each coupler: for a layered chip the size of the earlier of the
    two layers it joins (the inputs a later-layer cell sums, as in a feed-forward layer's
    initialisation); otherwise the number of couplers of its cells."""
    if not isinstance(spec.topology, Layered):
        deg = np.maximum(mask.sum(axis=1), 1)
        return np.maximum(deg[:, None], deg[None, :]) * np.ones(mask.shape)
    sizes = list(spec.cells.layers)
    layer = np.repeat(np.arange(len(sizes)), sizes)
    earlier = np.minimum(layer[:, None], layer[None, :])
    return np.asarray(sizes, dtype=float)[earlier]


def symmetric_draw(rng: np.random.Generator, n: int) -> np.ndarray:
    """A symmetric standard-normal matrix: one draw per coupler (one device per pair)."""
    a = np.triu(rng.standard_normal((n, n)), 1)
    return a + a.T


def directed_draw(rng: np.random.Generator, n: int) -> np.ndarray:
    """A standard-normal matrix with zero diagonal: one draw per direction (one device per
    direction). It uses the same numbers as :func:`symmetric_draw`, so the upper triangle
    equals the reciprocal chip's and later draws stay aligned."""
    a = rng.standard_normal((n, n))
    np.fill_diagonal(a, 0.0)
    return a


def coupler_draw(rng: np.random.Generator, n: int, directed: bool) -> np.ndarray:
    """One standard normal per coupler device: per direction if ``directed``, else per pair."""
    return directed_draw(rng, n) if directed else symmetric_draw(rng, n)


@dataclass
class Chip:
    """A chip as arrays. Axes: ``cell`` (N), ``bin`` (delay lines). Couplings live as DAC codes;
    ``J`` is what the analog couplers actually apply (codes x LSB, write noise, mismatch).
    Every (cell, cell) array is indexed [receiving cell i, sending cell j]; it is symmetric
    unless the chip is :attr:`directed`."""

    spec: ChipSpec
    model: CellModel
    params: object
    base_dir: Path | None
    mask: np.ndarray                      # (cell, cell) bool: a device carries j into i
    J_codes: np.ndarray                   # (cell, cell) int32
    field_codes: np.ndarray               # (2, cell) int32
    coupler_gain: np.ndarray              # (cell, cell) 1 + relative mismatch
    coupler_offset: np.ndarray            # (cell, cell) additive mismatch (J units)
    J: np.ndarray = field(init=False)     # (cell, cell) float64 analog couplings
    fields: np.ndarray = field(init=False)  # (2, cell) float64 analog fields
    gain: np.ndarray = None               # (cell,) cell rate mismatch
    offset: np.ndarray = None             # (cell,) constant force offset (dimensionless)
    alpha: np.ndarray = None              # (cell, cell) carrier phase offset of each coupler, rad
    latency_steps: np.ndarray = None      # (bin,) int64 delay of each delay line, steps
    latency_bin: np.ndarray = None        # (cell, cell) int delay line of each coupler
    input_codes: np.ndarray = None        # (input, first-layer cell) int32 input coupling codes
    input_J: np.ndarray = None            # (input, first-layer cell) analog, run.dtype
    rng: np.random.Generator = None       # the chip's stream (later DAC writes draw from it)
    dac_clipped: int = 0                  # codes clipped by the initial write

    # -- dimensionless time ------------------------------------------------------------------
    @property
    def rate(self) -> float:
        """Cell rate (1/s): t~ = rate * t."""
        return self.params.rate

    @property
    def dt(self) -> float:
        """Dimensionless step."""
        return self.spec.integrator.dt * self.rate

    @property
    def steps(self) -> int:
        it = self.spec.integrator
        return it.steps if it.steps is not None else max(1, int(round(it.duration / it.dt)))

    @property
    def n(self) -> int:
        return self.mask.shape[0]

    @property
    def directed(self) -> bool:
        """Each direction of a coupler is its own device (``couplings.asymmetric`` or a
        feed-forward topology): J_ij and J_ji are independent."""
        return is_directed(self.spec)

    @property
    def n_couplers(self) -> int:
        """Coupler devices: one per direction on a directed chip, else one per pair."""
        count = int(self.mask.sum())
        return count if self.directed else count // 2

    # -- noise ---------------------------------------------------------------------------------
    @property
    def noise_std(self) -> np.ndarray:
        """(cell,) std of the white noise per unit dimensionless time (thermal and phase)."""
        noise = self.spec.noise
        kT = noise.thermal.kT if noise.thermal is not None else 0.0
        linewidth = noise.phase.linewidth if noise.phase is not None else 0.0
        return device_noise.white_std(self.gain, kT, linewidth, self.rate)

    def flicker_poles(self) -> tuple[np.ndarray, np.ndarray]:
        """(rate, std) of each Ornstein--Uhlenbeck pole of the 1/f noise; rates dimensionless."""
        fl = self.spec.noise.flicker
        if fl is None or fl.amplitude == 0:
            return np.zeros(0), np.zeros(0)
        return device_noise.flicker_poles(fl.amplitude, fl.f_min, fl.f_max,
                                          fl.poles_per_decade, self.rate)

    # -- couplings -----------------------------------------------------------------------------
    def write_couplings(self, codes: np.ndarray, blocks=None) -> None:
        """Load new coupling codes: the analog J is recomputed with write noise and mismatch
        (one write error per device: per pair on a reciprocal chip, per direction on a
        directed one). ``blocks``: the off-diagonal (r0, r1, c0, c1) blocks that changed
        (on a reciprocal chip, their mirrors too); only those are rewritten (default: all)."""
        d = self.spec.couplings.dac
        self.J_codes = np.asarray(codes, dtype=np.int32)
        if blocks is None:
            written = dac.write(codes, d.bits, d.full_scale, d.write_noise, self.rng)
            if d.write_noise > 0 and not self.directed:  # one device per pair: J symmetric
                written = np.triu(written, 1) + np.triu(written, 1).T
            self.J = self._analog(written, ...)
            return
        for r0, r1, c0, c1 in blocks:
            index = (slice(r0, r1), slice(c0, c1))
            written = dac.write(self.J_codes[index], d.bits, d.full_scale, d.write_noise,
                                self.rng)
            self.J[index] = self._analog(written, index)
            if not self.directed:
                self.J[index[::-1]] = self._analog(written.T, index[::-1])

    def _analog(self, written: np.ndarray, index) -> np.ndarray:
        """The couplers' analog values at ``index`` from the DAC's written values: mismatch
        applied, zero where no coupler exists."""
        return np.where(self.mask[index], written * self.coupler_gain[index]
                        + self.coupler_offset[index], 0.0)

    def write_inputs(self, codes: np.ndarray) -> None:
        """Load input coupling codes (pixels enter the first layer as fields h = x @ W)."""
        d = self.spec.couplings.dac
        self.input_codes = np.asarray(codes, dtype=np.int32)
        # held at the engine's precision: the input field is the largest product per batch
        self.input_J = dac.write(codes, d.bits, d.full_scale, d.write_noise, self.rng,
                                 self.spec.run.dtype)

    def input_field(self, pixels: np.ndarray) -> np.ndarray:
        """(replica, cell) field that inputs (replica, input) drive onto the chip's cells."""
        h = np.zeros((pixels.shape[0], self.n))
        h[:, :self.input_J.shape[1]] = pixels @ self.input_J
        return h

    def write_fields(self, codes: np.ndarray) -> None:
        d = self.spec.fields.dac
        self.field_codes = np.asarray(codes, dtype=np.int32)
        self.fields = dac.write(codes, d.bits, d.full_scale, d.write_noise, self.rng)

    def coupling_blocks(self) -> list[tuple[int, int, int, int]]:
        """Dense blocks (r0, r1, c0, c1) that hold every coupler: one block for all-to-all and
        sparse chips; the blocks between adjacent layers (both directions; feed-forward chips
        only the block from layer k into layer k+1) for layered ones."""
        topo = self.spec.topology
        if not isinstance(topo, Layered):
            return [(0, self.n, 0, self.n)]
        s = np.cumsum([0] + list(self.spec.cells.layers))
        blocks = []
        for a, b, c in zip(s[:-2], s[1:-1], s[2:]):
            if not topo.feedforward:
                blocks.append((int(a), int(b), int(b), int(c)))
            blocks.append((int(b), int(c), int(a), int(b)))
        return blocks

    def delay_matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """(bin, cell, cell) reciprocal J cos(alpha) and quadrature J sin(alpha) per delay line;
        the quadrature stack has 0 bins when no coupler has a phase offset."""
        nb = len(self.latency_steps)
        if nb == 1 and not np.any(self.alpha):  # no delay: the couplings as they are
            return self.J[None], np.zeros((0, self.n, self.n))
        Jc = np.stack([np.where(self.latency_bin == b, self.J * np.cos(self.alpha), 0.0)
                       for b in range(nb)])
        if not np.any(self.alpha[self.mask]):
            return Jc, np.zeros((0, self.n, self.n))
        Js = np.stack([np.where(self.latency_bin == b, self.J * np.sin(self.alpha), 0.0)
                       for b in range(nb)])
        return Jc, Js

    @classmethod
    def from_spec(cls, spec: ChipSpec, base_dir: Path | None = None) -> "Chip":
        model = device_models.get_model(spec.cells.model)
        params = model_params(spec)
        rng = chip_stream(spec.run.seed)
        mask = topology_mask(spec, base_dir)
        n = mask.shape[0]
        mm = spec.noise.mismatch

        directed = is_directed(spec)

        target = initial_couplings(spec, mask, base_dir, rng)
        d = spec.couplings.dac
        if directed:  # round every device's value: one device per direction
            codes, clipped = dac.to_codes(target, d.bits, d.full_scale, d.rounding, rng)
        else:
            codes, clipped = dac.to_codes(np.triu(target, 1), d.bits, d.full_scale,
                                          d.rounding, rng)
            codes = codes + codes.T  # round each pair once: one device per coupler
        coupler_gain = 1.0 + mm.coupler_gain * coupler_draw(rng, n, directed)
        coupler_offset = mm.coupler_offset * d.full_scale * coupler_draw(rng, n, directed)

        fvals = np.zeros((2, n))
        for k, name in enumerate(model.field_names):
            if name is not None:
                fvals[k] = np.broadcast_to(
                    np.asarray(spec.fields.init.get(name, model.field_defaults[k]), float), n)
        fd = spec.fields.dac
        fcodes, fclipped = dac.to_codes(fvals, fd.bits, fd.full_scale, fd.rounding, rng)

        chip = cls(spec=spec, model=model, params=params, base_dir=base_dir, mask=mask,
                   J_codes=codes, field_codes=fcodes, coupler_gain=coupler_gain,
                   coupler_offset=coupler_offset, rng=rng, dac_clipped=clipped + fclipped)
        chip.gain = np.maximum(1.0 + mm.cell_gain * rng.standard_normal(n), 1e-3)
        chip.offset = mm.cell_offset * rng.standard_normal(n)
        chip.write_couplings(codes)
        chip.write_fields(fcodes)

        n_in = spec.cells.inputs if isinstance(spec.topology, Layered) else 0
        first = spec.cells.layers[0] if n_in else 0
        std = getattr(spec.couplings.init, "std", 0.0)
        if getattr(spec.couplings.init, "fan_in_scaling", False):
            std = std / np.sqrt(max(n_in, 1))
        in_codes, in_clipped = dac.to_codes(std * rng.standard_normal((n_in, first)), d.bits,
                                            d.full_scale, d.rounding, rng)
        chip.write_inputs(in_codes)
        chip.dac_clipped += in_clipped

        dl = spec.delays
        f0 = getattr(params, "f0", 0.0) if model.carrier else 0.0
        tau = dl.interconnect + dl.interconnect_jitter * coupler_draw(rng, n, directed)
        chip.alpha = np.where(mask, TWO_PI * f0 * tau, 0.0)
        lat = np.maximum(dl.loop_latency + dl.latency_jitter * coupler_draw(rng, n, directed),
                         0.0)
        lat_steps = np.rint(lat / spec.integrator.dt).astype(np.int64)
        chip.latency_steps, chip.latency_bin = _delay_bins(lat_steps, mask, dl.bins)
        return chip


def _delay_bins(lat_steps: np.ndarray, mask: np.ndarray, n_bins: int):
    """Group per-coupler latencies (steps) into at most ``n_bins`` delay lines, each at the mean
    latency of its couplers (equal-width bins between the smallest and largest latency), so the
    coupling sums stay a few matrix products."""
    vals = lat_steps[mask] if mask.any() else np.zeros(1, dtype=np.int64)
    lo, hi = int(vals.min()), int(vals.max())
    if lo == hi:
        return np.array([lo], dtype=np.int64), np.zeros(mask.shape, dtype=np.int64)
    edges = np.linspace(lo, hi, min(n_bins, hi - lo + 1) + 1)
    which = np.clip(np.searchsorted(edges, lat_steps, side="right") - 1, 0, len(edges) - 2)
    used = np.unique(which[mask])
    steps = np.array([int(round(lat_steps[mask & (which == b)].mean())) for b in used],
                     dtype=np.int64)
    remap = np.zeros(len(edges) - 1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return steps, remap[which]
