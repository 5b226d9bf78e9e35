"""Chip assembly: a validated spec becomes arrays. Mismatch, write noise and per-coupler delays
are drawn here, once per chip, from the chip's own random stream; nothing here has dynamics.

Time is made dimensionless here, once: t~ = rate * t with the cell model's ``rate``.

Couplings: ``J[i, j]`` is the coupling from cell j into cell i (cell i's coupling field is
``sum_j J[i, j] ch(x_j)``) and ``mask[i, j]`` says that a device carries cell j into cell i.
On a reciprocal chip (the default) one device serves both directions of a pair, so codes,
mismatch, write noise and delays are drawn once per pair and every (cell, cell) array is
symmetric. On a directed chip (``couplings.asymmetric`` or a feed-forward layered topology,
see :attr:`ChipSpec.directed`) each direction is its own device with its own draws.

Sparse chips store every per-coupler array per edge (:mod:`thermochip.couplers`): their draws
are one per device in edge order, so nothing grows with cells squared; all-to-all and layered
chips store (cell, cell) arrays.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import device_models
from device_models import dac
from device_models import noise as device_noise
from device_models.base import CellModel
from thermochip.couplers import Couplers
from thermochip.errors import ThermochipError
from thermochip.graph import colour_classes
from thermochip.registers import DacParams, Devices, Register
from thermochip.spec import (
    ChipSpec,
    EdgesInit,
    FileInit,
    Layered,
    ProblemInit,
    RandomInit,
    Sparse,
    ValuesInit,
)
from thermochip.spec_build import model_params
from thermochip.spec_files import read_edges, read_matrix, resolve_path
from thermochip.streams import chip_stream

TWO_PI = 2 * np.pi


def topology_mask(spec: ChipSpec, base_dir: Path | None) -> np.ndarray:
    """(cell, cell) bool of an all-to-all or layered chip: ``mask[i, j]`` when a device
    carries cell j into cell i; no diagonal. Symmetric except for feed-forward layered chips
    (only layer k into layer k+1: rows in layer k+1, columns in layer k)."""
    n = spec.n_cells
    topo = spec.topology
    if isinstance(topo, Layered):
        mask = np.zeros((n, n), dtype=bool)
        starts = np.cumsum([0] + list(spec.cells.layers))
        for a, b, c in zip(starts[:-2], starts[1:-1], starts[2:]):
            mask[a:b, b:c] = True
        return mask.T.copy() if topo.feedforward else mask | mask.T
    return ~np.eye(n, dtype=bool)


def topology_couplers(spec: ChipSpec, base_dir: Path | None) -> Couplers:
    """The chip's coupler entries: per edge for a sparse topology, else a dense mask
    (:func:`topology_mask`)."""
    if isinstance(spec.topology, Sparse):
        e = read_edges(spec.topology, base_dir)
        return Couplers.from_pairs(spec.n_cells, e[:, :2].astype(np.int64))
    return Couplers.from_mask(topology_mask(spec, base_dir))


def initial_couplings(spec: ChipSpec, couplers: Couplers, base_dir: Path | None,
                      rng: np.random.Generator) -> np.ndarray:
    """Target coupling values (before the DAC) in the couplers' storage, zero off the
    topology (a problem file's: :func:`problem_fields`). Random, constant and edge inits give
    one value per pair (symmetric); ``values`` / ``file`` may be non-symmetric (directed chips
    only, see :mod:`thermochip.checks`)."""
    init = spec.couplings.init
    if couplers.edges:
        return _edge_couplings(spec, couplers, base_dir, rng)
    mask = couplers.mask
    n = mask.shape[0]
    if isinstance(init, RandomInit):
        std = np.full((n, n), init.std)
        if init.fan_in_scaling:
            std = std / np.sqrt(fan_in(spec, mask))
        J = np.triu(rng.standard_normal((n, n)) * std, 1)
        J = J + J.T
    elif isinstance(init, ValuesInit):
        J = np.array(init.J, dtype=np.float64)
    elif isinstance(init, FileInit):
        J = read_matrix(resolve_path(init.path, base_dir))
    else:
        J = np.full((n, n), init.value)
    return np.where(mask, J, 0.0)


def _edge_couplings(spec: ChipSpec, couplers: Couplers, base_dir: Path | None,
                    rng: np.random.Generator) -> np.ndarray:
    """(entry,) target values of a sparse chip: random ones drawn per pair in edge order,
    with fan-in the larger degree of the pair's two cells."""
    init = spec.couplings.init
    i, j = couplers.i, couplers.j
    if isinstance(init, RandomInit):
        std = np.full(couplers.count, init.std)
        if init.fan_in_scaling:
            deg = np.maximum(couplers.degree(), 1)
            std = std / np.sqrt(np.maximum(deg[i], deg[j]))
        return couplers.draw(rng, directed=False) * std
    if isinstance(init, EdgesInit):
        e = read_edges(spec.topology, base_dir)
        a, b = e[:, 0].astype(np.int64), e[:, 1].astype(np.int64)
        J = np.zeros(couplers.count)
        for r, s in ((a, b), (b, a)):  # a repeated edge: its last row's weight
            J[couplers.index(r, s)] = init.scale * e[:, 2]
        return J
    if isinstance(init, ValuesInit):
        return np.array(init.J, dtype=np.float64)[i, j]
    if isinstance(init, FileInit):
        return read_matrix(resolve_path(init.path, base_dir))[i, j]
    return np.full(couplers.count, float(init.value))


def problem_fields(spec: ChipSpec, base_dir: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(couplings, field 0) of a chip whose couplings.init is a problem file, scaled and
    signed for its device (:func:`thermochip.problems.chip_form`)."""
    from thermochip.problems import chip_form, problem_ising, read_problem
    init = spec.couplings.init
    W = read_problem(resolve_path(init.path, base_dir), spec.n_cells)
    J, h, _ = problem_ising(W, init.form)
    return chip_form(device_models.get_model(spec.cells.model), init.scale * J,
                     init.scale * h)


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


def coupler_draw(rng: np.random.Generator, couplers: Couplers, directed: bool) -> np.ndarray:
    """One standard normal per coupler device (per direction if ``directed``, else per pair),
    in the couplers' storage."""
    if couplers.edges:
        return couplers.draw(rng, directed)
    n = couplers.n
    return directed_draw(rng, n) if directed else symmetric_draw(rng, n)


def coupler_codes(target: np.ndarray, couplers: Couplers, directed: bool, d,
                  rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """(codes, clipped) of the coupling DAC ``d``'s first write: every device's value rounded
    once (per direction if ``directed``, else per pair, both directions sharing its code)."""
    if directed:
        return dac.to_codes(target, d.bits, d.full_scale, d.rounding, rng)
    if couplers.edges:
        own = np.flatnonzero(couplers.upper == np.arange(couplers.count))
        codes, clipped = dac.to_codes(target[own], d.bits, d.full_scale, d.rounding, rng)
        full = np.zeros(couplers.count, dtype=codes.dtype)
        full[own] = codes
        return full[couplers.upper], clipped
    codes, clipped = dac.to_codes(np.triu(target, 1), d.bits, d.full_scale, d.rounding, rng)
    return codes + codes.T, clipped  # round each pair once: one device per coupler


def run_steps(spec: ChipSpec) -> int:
    """A simulation's length in steps (integrator.steps, or duration / dt)."""
    it = spec.integrator
    if it.steps is None and it.duration is None:
        raise ThermochipError("the spec gives no run length: set integrator.steps or "
                              "integrator.duration (or --steps); training specs need "
                              "none, their learner phases set their own")
    return it.steps if it.steps is not None else max(1, int(round(it.duration / it.dt)))

@dataclass(frozen=True)
class ChipRegisters:
    """The chip's DAC-held state (see :mod:`thermochip.registers`): ``couplings`` (cell, cell)
    [receiving cell i, sending cell j], ``fields`` (2, cell) (the model's two field registers)
    and ``inputs`` (input, first-layer cell), the input couplers through which pixels enter
    the first layer as fields, held at the engine's precision."""

    couplings: Register
    fields: Register
    inputs: Register

    def all(self) -> tuple[Register, ...]:
        return (self.couplings, self.fields, self.inputs)


@dataclass(frozen=True, eq=False)
class Chip:
    """A chip as arrays, built whole by :meth:`from_spec`. Axes: ``cell`` (N), ``bin`` (delay
    lines). Couplings live as DAC codes in :attr:`registers`; ``J`` is what the analog
    couplers actually apply (codes x LSB, write noise, mismatch). Per-coupler arrays are
    stored as :attr:`couplers` says: (cell, cell), indexed [receiving cell i, sending cell j]
    and symmetric unless the chip is :attr:`directed`, or (entry,) on a sparse chip; the
    properties ``mask``, ``J``, ``J_codes``, ``coupler_gain`` and ``coupler_offset`` give
    (cell, cell) views in either storage (cells squared: for small chips)."""

    spec: ChipSpec
    model: CellModel
    params: object
    base_dir: Path | None
    couplers: Couplers            # where the devices are; the storage of per-coupler arrays
    registers: ChipRegisters
    gain: np.ndarray              # (cell,) cell rate mismatch
    offset: np.ndarray            # (cell,) constant force offset (dimensionless)
    alpha: np.ndarray             # per coupler (stored): carrier phase offset, rad
    latency_steps: np.ndarray     # (bin,) int64 delay of each delay line, steps
    latency_bin: np.ndarray       # per coupler (stored): int delay line
    rng: np.random.Generator      # the chip's stream (later DAC writes draw from it)
    dac_clipped: int = 0          # codes clipped by the initial write

    # -- the registers' contents (read-only views) -------------------------------------------
    @property
    def mask(self) -> np.ndarray:
        """(cell, cell) bool: a device carries cell j into cell i."""
        c = self.couplers
        return c.mask if c.mask is not None else c.dense(np.ones(c.count, dtype=bool), False)

    @property
    def J(self) -> np.ndarray:
        """(cell, cell) float64 analog couplings."""
        return self.couplers.dense(self.registers.couplings.values)

    @property
    def J_codes(self) -> np.ndarray:
        """(cell, cell) int32 coupling codes."""
        return self.couplers.dense(self.registers.couplings.codes)

    @property
    def fields(self) -> np.ndarray:
        """(2, cell) float64 analog fields."""
        return self.registers.fields.values

    @property
    def field_codes(self) -> np.ndarray:
        return self.registers.fields.codes

    @property
    def input_J(self) -> np.ndarray:
        """(input, first-layer cell) analog input couplings, run.dtype."""
        return self.registers.inputs.values

    @property
    def input_codes(self) -> np.ndarray:
        return self.registers.inputs.codes

    @property
    def coupler_gain(self) -> np.ndarray:
        """(cell, cell) 1 + relative mismatch of each coupler."""
        return self.couplers.dense(self.registers.couplings.devices.gain)

    @property
    def coupler_offset(self) -> np.ndarray:
        """(cell, cell) additive mismatch of each coupler (J units)."""
        return self.couplers.dense(self.registers.couplings.devices.offset)

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
        """The run's length in steps (integrator.steps, or duration / dt)."""
        return run_steps(self.spec)

    @property
    def n(self) -> int:
        return self.couplers.n

    @property
    def directed(self) -> bool:
        """Each direction of a coupler is its own device (``couplings.asymmetric`` or a
        feed-forward topology): J_ij and J_ji are independent."""
        return self.spec.directed

    @property
    def n_couplers(self) -> int:
        """Coupler devices: one per direction on a directed chip, else one per pair."""
        count = self.couplers.count
        return count if self.directed else count // 2

    # -- noise ---------------------------------------------------------------------------------
    @property
    def noise_std(self) -> np.ndarray:
        """(cell,) the cells' noise amplitude (a Langevin cell's white-noise std per unit
        dimensionless time: thermal and phase noise), as the device declares it."""
        noise = self.spec.noise
        kT = noise.thermal.kT if noise.thermal is not None else 0.0
        linewidth = noise.phase.linewidth if noise.phase is not None else 0.0
        return self.model.cell_noise(self.params, self.gain, kT, linewidth)

    def flicker_poles(self) -> tuple[np.ndarray, np.ndarray]:
        """(rate, std) of each Ornstein--Uhlenbeck pole of the 1/f noise; rates dimensionless."""
        fl = self.spec.noise.flicker
        if fl is None or fl.amplitude == 0:
            return np.zeros(0), np.zeros(0)
        return device_noise.flicker_poles(fl.amplitude, fl.f_min, fl.f_max,
                                          fl.poles_per_decade, self.rate)

    # -- couplings -----------------------------------------------------------------------------
    @functools.cached_property
    def update_classes(self) -> list[np.ndarray]:
        """Classes of cells no two of which a device joins (either direction): the order in
        which a chromatic sampler updates them (:func:`thermochip.graph.colour_classes`)."""
        c = self.couplers
        return colour_classes(c.n, c.i, c.j)

    def input_field(self, pixels: np.ndarray) -> np.ndarray:
        """(replica, cell) field that inputs (replica, input) drive onto the chip's cells."""
        h = np.zeros((pixels.shape[0], self.n))
        h[:, :self.input_J.shape[1]] = pixels @ self.input_J
        return h

    def coupling_blocks(self) -> list[tuple[int, int, int, int]]:
        """Dense blocks (r0, r1, c0, c1) that hold every coupler: one block for all-to-all and
        dense-stored chips; the blocks between adjacent layers (both directions; feed-forward
        chips only the block from layer k into layer k+1) for layered ones; none on an
        edge-stored chip."""
        topo = self.spec.topology
        if self.couplers.edges:
            return []
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
        the quadrature stack has 0 bins when no coupler has a phase offset. Kept until the
        couplings change. Dense-stored chips only (an edge-stored chip's kernels read
        :meth:`coupler_parts`)."""
        if self.couplers.edges:
            raise ValueError("delay_matrices is (cell, cell) per delay line: this chip stores "
                             "its couplings per edge (use coupler_parts)")
        return self.registers.couplings.derived("delay_matrices", self._delay_matrices)

    def coupler_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cos part J cos alpha, sin part J sin alpha or empty when no coupler has a phase
        offset, delay line), each (entry,) in the couplers' entry order."""
        c = self.couplers
        J, alpha = c.gather(self.registers.couplings.values), c.gather(self.alpha)
        line = c.gather(self.latency_bin)
        if not np.any(alpha):
            return J, np.zeros(0), line
        return J * np.cos(alpha), J * np.sin(alpha), line

    def _delay_matrices(self) -> tuple[np.ndarray, np.ndarray]:
        J = self.J
        nb = len(self.latency_steps)
        if nb == 1 and not np.any(self.alpha):  # no delay: the couplings as they are
            return J[None], np.zeros((0, self.n, self.n))
        Jc = np.stack([np.where(self.latency_bin == b, J * np.cos(self.alpha), 0.0)
                       for b in range(nb)])
        if not np.any(self.alpha[self.mask]):
            return Jc, np.zeros((0, self.n, self.n))
        Js = np.stack([np.where(self.latency_bin == b, J * np.sin(self.alpha), 0.0)
                       for b in range(nb)])
        return Jc, Js

    @classmethod
    def from_spec(cls, spec: ChipSpec, base_dir: Path | None = None) -> "Chip":
        model = device_models.get_model(spec.cells.model)
        params = model_params(spec)
        rng = chip_stream(spec.run.seed)
        couplers = topology_couplers(spec, base_dir)
        n = couplers.n
        mm = spec.noise.mismatch
        directed = spec.directed

        # every draw from the chip's stream in a fixed order: the chip is a function of the seed
        # a problem file sets the couplings and field 0 together: read once
        problem = (problem_fields(spec, base_dir)
                   if isinstance(spec.couplings.init, ProblemInit) else None)
        target = (couplers.from_dense(problem[0]) if problem is not None
                  else initial_couplings(spec, couplers, base_dir, rng))
        d = spec.couplings.dac
        codes, clipped = coupler_codes(target, couplers, directed, d, rng)
        devices = Devices(mask=couplers.mask,
                          gain=1.0 + mm.coupler_gain * coupler_draw(rng, couplers, directed),
                          offset=mm.coupler_offset * d.full_scale
                          * coupler_draw(rng, couplers, directed),
                          reciprocal=not directed,
                          share=couplers.upper if couplers.edges else None)

        fvals = np.zeros((2, n))
        for k, name in enumerate(model.field_names):
            if name is not None:
                fvals[k] = np.broadcast_to(
                    np.asarray(spec.fields.init.get(name, model.field_defaults[k]), float), n)
        if problem is not None:  # the problem's linear field
            fvals[0] = problem[1]
        fd = spec.fields.dac
        fcodes, fclipped = dac.to_codes(fvals, fd.bits, fd.full_scale, fd.rounding, rng)

        gain = np.maximum(1.0 + mm.cell_gain * rng.standard_normal(n), 1e-3)
        offset = mm.cell_offset * rng.standard_normal(n)
        couplings = Register("J", codes, DacParams(d.bits, d.full_scale, d.write_noise), rng,
                             devices)
        fields = Register("fields", fcodes, DacParams(fd.bits, fd.full_scale, fd.write_noise),
                          rng)

        n_in = spec.cells.inputs if isinstance(spec.topology, Layered) else 0
        first = spec.cells.layers[0] if n_in else 0
        std = getattr(spec.couplings.init, "std", 0.0)
        if getattr(spec.couplings.init, "fan_in_scaling", False):
            std = std / np.sqrt(max(n_in, 1))
        in_codes, in_clipped = dac.to_codes(std * rng.standard_normal((n_in, first)), d.bits,
                                            d.full_scale, d.rounding, rng)
        # held at the engine's precision: the input field is the largest product per batch
        inputs = Register("input", in_codes, DacParams(d.bits, d.full_scale, d.write_noise),
                          rng, dtype=spec.run.dtype)

        dl = spec.delays
        f0 = getattr(params, "f0", 0.0) if model.carrier else 0.0
        tau = dl.interconnect + dl.interconnect_jitter * coupler_draw(rng, couplers, directed)
        alpha = couplers.on_devices(TWO_PI * f0 * tau)
        lat = np.maximum(dl.loop_latency
                         + dl.latency_jitter * coupler_draw(rng, couplers, directed), 0.0)
        lat_steps = np.rint(lat / spec.integrator.dt).astype(np.int64)
        latency_steps, latency_bin = _delay_bins(lat_steps, couplers, dl.bins)
        return cls(spec=spec, model=model, params=params, base_dir=base_dir, couplers=couplers,
                   registers=ChipRegisters(couplings, fields, inputs), gain=gain, offset=offset,
                   alpha=alpha, latency_steps=latency_steps, latency_bin=latency_bin, rng=rng,
                   dac_clipped=clipped + fclipped + in_clipped)


def _delay_bins(lat_steps: np.ndarray, couplers: Couplers, n_bins: int):
    """Group per-coupler latencies (steps, stored) into at most ``n_bins`` delay lines, each at
    the mean latency of its couplers (equal-width bins between the smallest and largest
    latency), so the coupling sums stay a few matrix products."""
    vals = couplers.gather(lat_steps) if couplers.count else np.zeros(1, dtype=np.int64)
    lo, hi = int(vals.min()), int(vals.max())
    if lo == hi:
        return np.array([lo], dtype=np.int64), np.zeros(lat_steps.shape, dtype=np.int64)
    edges = np.linspace(lo, hi, min(n_bins, hi - lo + 1) + 1)
    which = np.clip(np.searchsorted(edges, lat_steps, side="right") - 1, 0, len(edges) - 2)
    on = couplers.gather(which)
    used = np.unique(on)
    steps = np.array([int(round(vals[on == b].mean())) for b in used], dtype=np.int64)
    remap = np.zeros(len(edges) - 1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return steps, remap[which]
