"""The chip spec: frozen dataclasses, one per YAML section, with constraints declared as data.

Units are SI. Fields whose metadata carries a ``unit`` also accept strings with an SI prefix,
e.g. ``"50 ps"``, ``"1.2 GHz"``; the loader (:mod:`thermochip.spec_io`) converts them once.
Variants are tagged unions on a ``kind`` key; each variant carries only its own fields.

Noise convention (pinned by the tests): inside the simulator time is dimensionless,
``t~ = rate * t`` with the cell's ``rate`` (1/s), and every continuous cell obeys the Ito SDE
``dx = -g_i dV/dx_i dt~ + sqrt(2 g_i kT) dW~`` (g_i: per-cell gain mismatch, 1 when ideal),
integrated by Euler--Maruyama with sqrt(dt)-scaled increments, so the stationary law is
``p ~ exp(-V/kT)`` with V and kT in the same normalised energy units.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Annotated, Any, Union

# the constraint vocabulary is the device models' (a device declares its parameters with it)
from device_models.params import NON_NEGATIVE, POSITIVE, Interval, OneOf, spec_field
from thermochip.spec_host import AnnealSpec, DataSpec, TrainSpec

BITS = Interval(2, 24)


# ---------------------------------------------------------------------------------------------
# cells


@dataclass(frozen=True, kw_only=True)
class CellsSpec:
    """Which device the cells are, and how many."""

    model: str = spec_field(doc="device model name (see `device_models`): oim or softspin")
    preset: str | None = spec_field(None, doc="model card in device_models/presets/<model>/; "
                                              "its values are the defaults `params` overrides")
    params: dict[str, Any] = spec_field(default_factory=dict,
                                        doc="overrides of the model's parameters (SI units)")
    n: int | None = spec_field(None, doc="number of cells (all_to_all and sparse topologies)",
                               check=Interval(1, None))
    layers: list[int] | None = spec_field(None, doc="cells per layer (layered topology), "
                                                    "e.g. [500, 10]")
    inputs: int = spec_field(0, doc="layered topology: input pixels that enter the first layer "
                                    "as fields through an input coupling matrix (not cells)",
                             check=NON_NEGATIVE)


# ---------------------------------------------------------------------------------------------
# topology


@dataclass(frozen=True, kw_only=True)
class AllToAll:
    """Every pair of distinct cells has a coupler."""

    kind: str = "all_to_all"


@dataclass(frozen=True, kw_only=True)
class Layered:
    """Couplers between adjacent layers only (bipartite between layers); see cells.layers.
    With `feedforward`, couplers exist only from layer k into layer k+1 (no feedback): the
    couplers are then directed devices, as with ``couplings.asymmetric: true``."""

    kind: str = "layered"
    feedforward: bool = spec_field(False, doc="couplers only from each layer into the next "
                                              "(a cell drives nothing in earlier layers); "
                                              "implies directed couplers")


@dataclass(frozen=True, kw_only=True)
class Sparse:
    """Couplers on an explicit undirected edge list: rows ``[i, j]`` or ``[i, j, weight]``."""

    kind: str = "sparse"
    edges: list[list[float]] | None = spec_field(None, doc="edge rows [i, j] or [i, j, w]")
    edges_file: str | None = spec_field(None, doc="CSV file of edge rows i,j[,w] (relative "
                                                  "paths are relative to the spec file)")
    edges_format: str = spec_field("csv", doc="edges_file format: csv (rows i,j[,w], cells "
                                              "from 0) or gset (G-set / rudy: a first line "
                                              "'n m', then 'i j w' with vertices from 1)",
                                   check=OneOf(("csv", "gset")))


Topology = Union[AllToAll, Layered, Sparse]


# ---------------------------------------------------------------------------------------------
# couplings and fields: initial values, and the DAC that holds them


@dataclass(frozen=True, kw_only=True)
class RandomInit:
    """Gaussian couplings, std `std` (same units as J), one value per pair of cells (on a
    directed chip written to both devices of the pair: they start equal); for layered chips
    scaled by 1/sqrt(fan-in) if `fan_in_scaling`."""

    kind: str = "random"
    std: float = spec_field(0.1, doc="standard deviation of J", check=NON_NEGATIVE)
    fan_in_scaling: bool = spec_field(False, doc="divide std by sqrt(fan-in of each coupler)")


@dataclass(frozen=True, kw_only=True)
class ConstantInit:
    """Every existing coupler gets `value`."""

    kind: str = "constant"
    value: float = spec_field(doc="coupling value (normalised)")


@dataclass(frozen=True, kw_only=True)
class EdgesInit:
    """Couplings from the sparse topology's edge weights times `scale` (weight 1 if absent).
    MAX-CUT on an OIM: scale -1 (antiferromagnetic)."""

    kind: str = "edges"
    scale: float = spec_field(1.0, doc="multiplier of the edge weights")


@dataclass(frozen=True, kw_only=True)
class ValuesInit:
    """An explicit dense N x N matrix, zero diagonal; J[i][j] is the coupling from cell j into
    cell i. Symmetric unless the chip's couplers are directed (``couplings.asymmetric`` or
    ``topology.feedforward``)."""

    kind: str = "values"
    J: list[list[float]] = spec_field(doc="N x N coupling matrix")


@dataclass(frozen=True, kw_only=True)
class FileInit:
    """A dense N x N matrix from a .npy or .csv file (same rules as `values`)."""

    kind: str = "file"
    path: str = spec_field(doc=".npy or .csv file (relative to the spec file)")


@dataclass(frozen=True, kw_only=True)
class ProblemInit:
    """An Ising or QUBO problem from a file, converted exactly (:mod:`thermochip.problems`):
    `form: ising` reads a matrix W as E(s) = -sum_{i != j} W_ij s_i s_j - sum_i W_ii s_i (an
    upper-triangular W gives each pair once; the diagonal is the linear field), `form: qubo`
    as x^T W x with x = (1 + s) / 2. The couplings and the cells' linear field (field 0: an
    oscillator's h) get the problem's J and h times `scale`, signed for the device (V at the
    spin states is then E times `scale`)."""

    kind: str = "problem"
    path: str = spec_field(doc=".npy (a dense matrix), .npz (a dense 'W' array, or triplets "
                               "'i', 'j', 'w') or CSV rows i,j,w (cells from 0; i = j: a "
                               "linear term); relative to the spec file")
    form: str = spec_field("ising", doc="ising or qubo", check=OneOf(("ising", "qubo")))
    scale: float = spec_field(1.0, doc="multiplies J and h (they must fit the DACs' full "
                                       "scales)", check=POSITIVE)


CouplingInit = Union[RandomInit, ConstantInit, EdgesInit, ValuesInit, FileInit, ProblemInit]


@dataclass(frozen=True, kw_only=True)
class DacSpec:
    """A b-bit signed DAC over [-full_scale, +full_scale]: value = code * LSB with integer codes
    in [-(2^(b-1)-1), 2^(b-1)-1] and LSB = full_scale / (2^(b-1)-1)."""

    bits: int = spec_field(8, doc="DAC resolution (bits)", check=BITS)
    full_scale: float = spec_field(1.0, doc="largest magnitude the DAC writes (normalised)",
                                   check=POSITIVE)
    rounding: str = spec_field("nearest", doc="how values become codes",
                               check=OneOf(("nearest", "stochastic")))
    write_noise: float = spec_field(0.0, doc="std of the analog error of each write, in LSB",
                                    check=NON_NEGATIVE)


@dataclass(frozen=True, kw_only=True)
class CouplingsSpec:
    """Initial coupling values and the DAC that holds them as integer codes. J[i][j] is the
    coupling from cell j into cell i (what drives cell i). By default a coupler is one device
    per pair of cells (J symmetric); with `asymmetric` each direction is its own device (with
    stochastic rounding the two devices of a pair may start one LSB apart)."""

    init: CouplingInit = spec_field(default_factory=RandomInit, doc="initial coupling values")
    dac: DacSpec = spec_field(default_factory=DacSpec, doc="coupling DAC")
    asymmetric: bool = spec_field(False, doc="each direction of a coupler is its own DAC "
                                             "device: J_ij and J_ji get independent codes, "
                                             "mismatch, write noise and delay jitter (random "
                                             "init still writes one value per pair to both)")


@dataclass(frozen=True, kw_only=True)
class FieldsSpec:
    """Per-cell field registers. Names are the model's (oim: h, S; softspin: b); a value is a
    scalar for every cell or a list with one value per cell."""

    init: dict[str, Any] = spec_field(default_factory=dict,
                                      doc="field name -> scalar or per-cell list")
    dac: DacSpec = spec_field(default_factory=lambda: DacSpec(bits=10, full_scale=2.0),
                              doc="field-register DAC")


# ---------------------------------------------------------------------------------------------
# noise


@dataclass(frozen=True, kw_only=True)
class ThermalNoise:
    """Langevin noise of temperature kT on every cell (see the module's noise convention)."""

    kT: float = spec_field(doc="temperature in the model's normalised energy units",
                           check=NON_NEGATIVE)


@dataclass(frozen=True, kw_only=True)
class PhaseNoise:
    """White frequency noise of each oscillator: phase diffusion D = pi * linewidth (rad^2/s),
    linewidth the FWHM of the free-running Lorentzian line. Oscillator cells only."""

    linewidth: float = spec_field(doc="Lorentzian FWHM linewidth", unit="Hz",
                                  check=NON_NEGATIVE)


@dataclass(frozen=True, kw_only=True)
class FlickerNoise:
    """1/f force noise per cell, a sum of Ornstein--Uhlenbeck processes with corner rates
    spaced `poles_per_decade` per decade over [f_min, f_max]; `amplitude` is the rms of the
    total, in force units (langevin cells: dimensionless rate of change; p-bits: added to
    each cell's input I, in coupling units, a wandering threshold)."""

    amplitude: float = spec_field(doc="rms of the flicker force (normalised)", check=NON_NEGATIVE)
    f_min: float = spec_field(doc="lowest corner frequency", unit="Hz", check=POSITIVE)
    f_max: float = spec_field(doc="highest corner frequency", unit="Hz", check=POSITIVE)
    poles_per_decade: int = spec_field(2, doc="OU processes per decade", check=Interval(1, 10))


@dataclass(frozen=True, kw_only=True)
class MismatchSpec:
    """Fixed device mismatch, drawn once per chip from the run seed (never per step)."""

    cell_gain: float = spec_field(0.0, doc="relative std of each cell's rate (mobility; "
                                            "p-bits: the gain of its tanh)",
                                  check=NON_NEGATIVE)
    cell_offset: float = spec_field(0.0, doc="std of a constant force offset per cell "
                                             "(oim: frequency detuning / rate; p-bits: an "
                                             "input offset, in coupling units)",
                                    check=NON_NEGATIVE)
    coupler_gain: float = spec_field(0.0, doc="relative std of each coupler's gain",
                                     check=NON_NEGATIVE)
    coupler_offset: float = spec_field(0.0, doc="std of an additive offset on each existing "
                                                "coupler, in units of the DAC full scale",
                                       check=NON_NEGATIVE)


@dataclass(frozen=True, kw_only=True)
class NoiseSpec:
    """Noise sources; each is off when absent."""

    thermal: ThermalNoise | None = spec_field(None, doc="thermal (Langevin) noise")
    phase: PhaseNoise | None = spec_field(None, doc="oscillator phase noise")
    flicker: FlickerNoise | None = spec_field(None, doc="1/f flicker noise")
    mismatch: MismatchSpec = spec_field(default_factory=MismatchSpec, doc="device mismatch")


# ---------------------------------------------------------------------------------------------
# delays


@dataclass(frozen=True, kw_only=True)
class DelaySpec:
    """(a) interconnect delay tau acts on oscillators at the carrier as a phase offset
    alpha = 2 pi f0 tau on every coupler; (b) loop latency: the coupling term uses the
    neighbours' state from that long ago (a delay line). Per-coupler jitter draws each
    coupler's extra delay once per chip; latencies are grouped into `bins` delay lines."""

    interconnect: float = spec_field(0.0, doc="interconnect delay (oscillators)", unit="s",
                                     check=NON_NEGATIVE)
    interconnect_jitter: float = spec_field(0.0, doc="std of per-coupler interconnect delay",
                                            unit="s", check=NON_NEGATIVE)
    loop_latency: float = spec_field(0.0, doc="coupling loop latency", unit="s",
                                     check=NON_NEGATIVE)
    latency_jitter: float = spec_field(0.0, doc="std of per-coupler loop latency", unit="s",
                                       check=NON_NEGATIVE)
    bins: int = spec_field(4, doc="delay lines that per-coupler latencies are grouped into",
                           check=Interval(1, 64))


# ---------------------------------------------------------------------------------------------
# ADC


@dataclass(frozen=True, kw_only=True)
class AdcSpec:
    """Sampling ADC on every cell's read-out. Bipolar range [-full_scale, full_scale), 2^bits
    codes, LSB = 2 full_scale / 2^bits; reconstruction at code centres. Each sample averages
    the read-out over `window` before its sample time (integrate-and-dump)."""

    bits: int = spec_field(8, doc="ADC resolution", check=Interval(1, 24))
    full_scale: float = spec_field(1.0, doc="half-range of the ADC input (read-out units)",
                                   check=POSITIVE)
    mode: str | None = spec_field(None, doc="read-out: iq or phase (oim), value (softspin); "
                                            "default: the model's first read-out")
    sample_rate: float | None = spec_field(None, doc="samples per second", unit="Hz",
                                           check=POSITIVE)
    sample_times: list[float] | None = spec_field(None, doc="explicit sample times", unit="s",
                                                  check=NON_NEGATIVE)
    window: float = spec_field(0.0, doc="averaging window before each sample (0: one step)",
                               unit="s", check=NON_NEGATIVE)
    noise: float = spec_field(0.0, doc="rms input-referred noise, read-out units",
                              check=NON_NEGATIVE)

    def window_steps(self, dt: float) -> int:
        """The averaging window in integrator steps of ``dt`` seconds (at least one)."""
        return max(1, int(round(self.window / dt)))

    def period_steps(self, dt: float) -> int | None:
        """Steps between samples at ``sample_rate`` (at least one); None with sample_times."""
        if self.sample_rate is None:
            return None
        return max(1, int(round(1.0 / (self.sample_rate * dt))))


# ---------------------------------------------------------------------------------------------
# integrator and run


@dataclass(frozen=True, kw_only=True)
class UniformState:
    """Each cell's initial state uniform in [low, high); unset bounds take the model's range
    (oim: [0, 2 pi), softspin: [-1, 1))."""

    kind: str = "uniform"
    low: float | None = spec_field(None, doc="lower bound (default: the model's)")
    high: float | None = spec_field(None, doc="upper bound (default: the model's)")


@dataclass(frozen=True, kw_only=True)
class ConstantState:
    """Every cell starts at `value` (e.g. pi/2 for oscillators, as in Gower 2025)."""

    kind: str = "constant"
    value: float = spec_field(doc="initial state of every cell")


@dataclass(frozen=True, kw_only=True)
class NormalState:
    """Each cell's initial state normal with `mean` and `std`."""

    kind: str = "normal"
    mean: float = spec_field(0.0, doc="mean")
    std: float = spec_field(1.0, doc="standard deviation", check=NON_NEGATIVE)


InitialState = Union[UniformState, ConstantState, NormalState]


@dataclass(frozen=True, kw_only=True)
class IntegratorSpec:
    """Time stepping: step, length of the run, scheme, initial state."""

    dt: float = spec_field(doc="time step", unit="s", check=POSITIVE)
    duration: float | None = spec_field(None, doc="simulated time (give this or steps)",
                                        unit="s", check=POSITIVE)
    steps: int | None = spec_field(None, doc="number of steps (give this or duration)",
                                   check=Interval(1, None))
    method: str | None = spec_field(None, doc="update scheme of the cells' dynamics kind: "
                                              "euler_maruyama (langevin cells: oim, softspin); "
                                              "chromatic, asynchronous or synchronous (pbit "
                                              "cells); default: the kind's first")
    initial_state: InitialState = spec_field(default_factory=UniformState,
                                             doc="initial cell state")
    energy_every: int | None = spec_field(None, doc="steps between energy records "
                                                    "(default: about 200 records per run)",
                                          check=Interval(1, None))


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """How many replicas, which seed, which precision."""

    replicas: int = spec_field(16, doc="independent replicas of the chip simulated at once",
                               check=Interval(1, None))
    seed: int = spec_field(0, doc="seed of mismatch, initial state and noise",
                           check=Interval(0, 2**63 - 1))
    dtype: str = spec_field("float32", doc="engine precision",
                            check=OneOf(("float32", "float64")))


# ---------------------------------------------------------------------------------------------
# learning: data (host side), the on-chip learner (its section is its rule's), training schedule


class Variants:
    """A tagged union whose variants plug in: each variant is a frozen dataclass whose first
    field (``key``) defaults to its tag, registered by a module of ``package``. The package is
    imported by name the first time the union is needed (as device models are discovered),
    so the spec layer knows the variants without depending on the modules that declare
    them."""

    def __init__(self, key: str, package: str):
        self.key, self.package = key, package
        self._tags: dict[str, type] = {}
        self._loaded = False

    def register(self, cls: type) -> type:
        first = dataclasses.fields(cls)[0]
        if first.name != self.key:
            raise TypeError(f"{cls.__name__}: a variant's first field must be {self.key!r}")
        self._tags[first.default] = cls
        return cls

    def tags(self) -> dict[str, type]:
        """Tag -> variant class, every variant of the package registered."""
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self.package)
        return dict(self._tags)

    def tag_of(self, cls: type) -> str | None:
        return next((tag for tag, c in self._tags.items() if c is cls), None)


#: The on-chip learners' sections, one per rule (``thermochip/learn/<rule>.py``).
LEARNERS = Variants("rule", "thermochip.learn")
LearnerSection = Annotated[Any, LEARNERS]


@dataclass(frozen=True, kw_only=True)
class ChipSpec:
    """A whole chip: what it is made of and how it is simulated."""

    cells: CellsSpec = spec_field(doc="cell device, preset and count")
    integrator: IntegratorSpec = spec_field(doc="time stepping")
    name: str = spec_field("chip", doc="a label for the chip")
    topology: Topology = spec_field(default_factory=AllToAll, doc="which couplers exist")
    couplings: CouplingsSpec = spec_field(default_factory=CouplingsSpec,
                                          doc="coupling values and DAC")
    fields: FieldsSpec = spec_field(default_factory=FieldsSpec, doc="per-cell fields")
    noise: NoiseSpec = spec_field(default_factory=NoiseSpec, doc="noise sources and mismatch")
    delays: DelaySpec = spec_field(default_factory=DelaySpec, doc="interconnect and loop delays")
    adc: AdcSpec | None = spec_field(None, doc="sampling ADC (null: no sampling)")
    run: RunSpec = spec_field(default_factory=RunSpec, doc="replicas, seed, precision")
    data: DataSpec | None = spec_field(None, doc="data set (thermochip run)")
    learner: LearnerSection | None = spec_field(None, doc="on-chip learner (thermochip run): "
                                                          "rule ep, asymep, dyadic or om")
    train: TrainSpec = spec_field(default_factory=TrainSpec, doc="training schedule")
    anneal: AnnealSpec | None = spec_field(None, doc="annealing schedules of fields, "
                                                     "temperature and coupling gain "
                                                     "(simulate, solve)")

    @property
    def n_cells(self) -> int:
        """Cells on the chip: the layers' sum on a layered chip, else ``cells.n``."""
        if isinstance(self.topology, Layered):
            return sum(self.cells.layers)
        return self.cells.n

    @property
    def directed(self) -> bool:
        """Each direction of a coupler is its own device: ``couplings.asymmetric``, or a
        feed-forward layered topology (whose couplers carry one direction only)."""
        return bool(self.couplings.asymmetric
                    or (isinstance(self.topology, Layered) and self.topology.feedforward))


#: Tagged unions: the YAML ``kind`` value picks the class.
UNION_TAGS: dict[Any, dict[str, type]] = {
    Topology: {"all_to_all": AllToAll, "layered": Layered, "sparse": Sparse},
    InitialState: {"uniform": UniformState, "constant": ConstantState, "normal": NormalState},
    CouplingInit: {"random": RandomInit, "constant": ConstantInit, "edges": EdgesInit,
                   "problem": ProblemInit,
                   "values": ValuesInit, "file": FileInit},
}
