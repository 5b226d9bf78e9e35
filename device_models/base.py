"""What a cell model declares, and the registry that finds models by name or by the type of
their kernel parameters.

Every physics function is written once, with numpy ufuncs and plain arithmetic, so the same
function runs as a scalar inside the engine's numba kernels (``x`` a float) and vectorised in
numpy (``x`` an array) for energies, the reference integrator and the tests.

Conventions, in dimensionless time t~ = rate * t:
    F_i = local_force(x_i, f0_i, f1_i) + coupling_force(x_i, G_i),  G_ic = sum_j J_ij ch_c(x_j)
    V = sum_i local_energy(x_i, f0_i, f1_i) + (pair_sign / 2) sum_ij J_ij sum_c ch_c(x_i) ch_c(x_j)
(c = 0 .. n_channels-1), so F = -dV/dx, ``coupling_force(x, G) = -pair_sign * sum_c
channel_deriv(x, c) * G_c`` and ``pair_grad_J(x_i, x_j) = dV/dJ_ij = pair_sign * sum_c
ch_c(x_i) ch_c(x_j)`` (one parameter per symmetric pair). f0 is the linear field (inputs add to
it), f1 the model's second field. What a cell does with F is its dynamics ``kind``: a
``langevin`` cell drifts, ``dx_i/dt~ = g_i F_i + noise`` (the kernel module
``thermochip/_kernels/langevin.py`` integrates it); a kind is a :class:`DynamicsKind`.

The forces are declared as functions of the state and its channel values,
``local_force_ch(x, ch0, ch1, f0, f1)`` and ``channel_deriv_ch(x, ch0, ch1, c)`` (ch1 = ch0 for
one-channel models): the kernels hold each cell's channels already (the delay line stores
them), so an oscillator step needs no sine or cosine of the old phase. :meth:`CellModel.
local_force` and :meth:`CellModel.channel_deriv` are the same functions of x alone.

Capabilities are declared, not inferred from names: a learner or a command that needs one
checks the model's declaration (``nudge_problem``, ``affine_drift``, ``well_field``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from device_models import noise


@dataclass(frozen=True)
class DynamicsKind:
    """What a cell does with its force F = -dV/dx: the update rule, implemented by the kernel
    module ``thermochip/_kernels/<name>.py``, and the update schemes it offers (the spec's
    ``integrator.method``; the first is the default)."""

    name: str
    methods: tuple[str, ...]
    drift: bool
    """The update is a drift, so an extra drive (AsymEP's adjoint correction) adds to it."""
    doc: str = ""


LANGEVIN = DynamicsKind(
    "langevin", ("euler_maruyama", "leimkuhler_matthews"), drift=True,
    doc="dx_i = g_i F_i dt + noise (Ito), integrated by Euler--Maruyama steps or by "
        "Leimkuhler--Matthews steps (the mean of successive normals: the overdamped "
        "stationary law to second order in dt at Euler's cost)")


@dataclass(frozen=True)
class CellModel:
    """A cell device: its parameters and its physics, declared once."""

    name: str
    doc: str
    params: type
    """Parameter dataclass (fields declared with ``thermochip.spec.spec_field``, SI units)."""
    kernel_params: type
    """NamedTuple type of the numeric parameters the kernels see (dimensionless)."""
    to_kernel: Callable[[Any, Any], tuple]
    """``to_kernel(params, dtype)`` -> kernel_params instance with values cast to dtype."""
    field_names: tuple[str, str | None]
    """Names of field 0 (linear field) and field 1 (or None)."""
    field_defaults: tuple[float, float]
    pair_sign: float
    n_channels: int
    carrier: bool
    """Channels are the I/Q components of a carrier phasor, so an interconnect delay acts as a
    rotation of the received signal (phase offset 2 pi f0 tau)."""
    periodic: float | None
    """Period of the state (2 pi for phases) or None."""
    init_range: tuple[float, float]
    readouts: tuple[tuple[str, int], ...]
    """Read-out modes (name, number of channels), in the order ``readout`` indexes them. Mode 0
    reads the coupling channels (readout(x, 0, r) = channel(x, r)): the kernels sample the
    channels they already hold."""
    local_energy: Callable
    local_force_ch: Callable
    """``local_force_ch(p, x, ch0, ch1, f0, f1)`` = -dV_local/dx given x's channel values."""
    channel: Callable
    channel_deriv_ch: Callable
    """``channel_deriv_ch(p, x, ch0, ch1, c)`` = d channel(x, c) / dx given x's channels."""
    readout: Callable
    from_channels: Callable
    """``from_channels(p, ch)`` -> state from its channel values ch[c] (oim: atan2(Q, I))."""
    field_grad_ch: Callable
    """``field_grad_ch(p, ch, k)`` = dV_local/df_k from the cell's channel values ch[c] (its
    ADC samples): the local term a field register's EP accumulator averages (and an input
    coupler's, times its input value, for k = 0)."""
    nudge: Callable
    """``nudge(p, beta, target) -> (df0, df1)``: the field change that adds beta * l to V, with
    l = 1/2 (readout - target)^2 the output loss on the first read-out channel."""
    kind: DynamicsKind = LANGEVIN
    """Dynamics kind: what the cell does with its force (the kernel module that updates it)."""
    sample: Callable = None
    """Kinds that update one cell at a time from a draw (``pbit``): ``sample(p, a, beta, u)``,
    the new state of a cell with activation a (its input I with the cell's gain and offset
    applied), inverse temperature beta and uniform draw u in [0, 1)."""
    discrete_states: tuple[float, ...] | None = None
    """The values a cell with discrete states takes (a p-bit: -1, +1), ascending; None for a
    continuous state. Initial states are rounded to the nearest (ties upwards)."""
    state_readout: str | None = None
    """A read-out mode whose one value is the cell's state itself (oim: ``phase``, wrapped to
    (-pi, pi]): a learner reading it forms the coupling channels from each quantised sample
    (``channels``), as a local circuit would; None: the channels are read directly only."""
    noise_amplitude: Callable = None
    """``noise_amplitude(params, gain, kT, linewidth) -> (cell,)``: the per-cell noise its
    kind's kernels take, from the spec's temperature and linewidth (default, a Langevin cell:
    the white-noise std per unit dimensionless time, :func:`device_models.noise.white_std`)."""
    nudge_problem: Callable = None
    """``nudge_problem(params) -> str | None``: why these parameters cannot take the nudge
    (None: they can)."""
    affine_drift: bool = False
    """The drift is ``F_i = local_force(x_i, 0, f1_i) - f0_i - sum_j J_ij x_j`` (one channel,
    ch(x) = x, pair_sign +1, unit field slope): linear in every coupling and field-0 register,
    so Onsager--Machlup fits and calibration are least squares."""
    well_field: Callable = None
    """``well_field(params, u) -> f0``: the field 0 that centres each cell's well at u (how a
    data drive holds the cells near the data); None when the cells have no single well."""
    stiffness: Callable = None
    """``stiffness(p, f0, f1) -> (cell,)``: the curvature of each cell's own potential where it
    rests (d2V_local/dx2 at its minimum; couplings add to it), which sets Euler--Maruyama's
    stationary bias (about stiffness * dt~ / 2 in the variance); None: not declared."""
    well_problem: Callable = None
    """``well_problem(params) -> str | None``: why these parameters give no single well."""
    local_curvature_ch: Callable = None
    """``local_curvature_ch(p, x, ch0, ch1, f0, f1)`` = d2V_local/dx2 at state x (= -d
    local_force/dx), given x's channels; with ``channel_curvature_ch`` what backpropagation
    through the dynamics needs (the Jacobian of the drift); None: not declared."""
    channel_curvature_ch: Callable = None
    """``channel_curvature_ch(p, x, ch0, ch1, c)`` = d2 channel(x, c) / dx2."""

    def cell_noise(self, params, gain, kT: float, linewidth: float):
        """(cell,) noise amplitude of cells of gain ``gain`` (see ``noise_amplitude``)."""
        if self.noise_amplitude is not None:
            return self.noise_amplitude(params, gain, kT, linewidth)
        return noise.white_std(gain, kT, linewidth, params.rate)

    def nudge_refusal(self, params) -> str | None:
        """Why the cells cannot take the EP nudge (None: they can)."""
        return self.nudge_problem(params) if self.nudge_problem is not None else None

    def well_refusal(self, params) -> str | None:
        """Why the cells cannot hold a data drive in a well (None: they can)."""
        if self.well_field is None:
            return f"{self.name} cells have no single well a field can centre on the data"
        return self.well_problem(params) if self.well_problem is not None else None

    def local_force(self, p, x, f0, f1):
        """-dV_local/dx_i."""
        return self.local_force_ch(p, x, *self._ends(p, x), f0, f1)

    def channel_deriv(self, p, x, c):
        """d channel(x, c) / dx."""
        return self.channel_deriv_ch(p, x, *self._ends(p, x), c)

    def field_grad(self, p, x, k):
        """dV_local/df_k at state x."""
        return self.field_grad_ch(p, self.channels(p, x), k)

    def _ends(self, p, x):
        """(channel 0, last channel) of x: the ch0, ch1 the *_ch functions take."""
        return self.channel(p, x, 0), self.channel(p, x, self.n_channels - 1)

    def coupling_force(self, p, x, G):
        """-dV_pair/dx_i given channel fields G[c] = sum_j J_ij ch_c(x_j)."""
        return self.coupling_force_ch(p, x, *self._ends(p, x), G)

    def coupling_force_ch(self, p, x, ch0, ch1, G):
        """:meth:`coupling_force` given x's channels ch0, ch1 (see ``local_force_ch``)."""
        return -self.pair_sign * sum(self.channel_deriv_ch(p, x, ch0, ch1, c) * G[c]
                                     for c in range(self.n_channels))

    def channels(self, p, x):
        """Stacked channels, shape (n_channels, *x.shape)."""
        return np.stack([self.channel(p, x, c) for c in range(self.n_channels)])

    def pair_grad_J(self, p, xi, xj):
        """dV/dJ_ij for one symmetric coupler: the local term an EP accumulator averages."""
        return self.pair_grad_ch(self.channels(p, xi), self.channels(p, xj))

    def pair_grad_ch(self, ch_i, ch_j):
        """dV/dJ_ij from the two cells' channel values ch_i[c], ch_j[c] (their ADC samples)."""
        return self.pair_sign * sum(ch_i[c] * ch_j[c] for c in range(self.n_channels))

    def pair_grad_mean(self, ch_rows, ch_cols):
        """(row cell, column cell) sample mean of dV/dJ_ij over channel samples ch_rows
        (channel, sample, row cell) and ch_cols (channel, sample, column cell): every coupler
        of a block at once, one matrix product per channel."""
        M = ch_rows.shape[1]
        return self.pair_sign * sum(ch_rows[c].T @ ch_cols[c]
                                    for c in range(self.n_channels)) / M

    def energy(self, p, x, J, f0, f1):
        """V per replica. x: (replica, cell); J: (cell, cell) symmetric (an array, or a scipy
        sparse matrix); f0, f1: (cell,) or (replica, cell). Returns (replica,) float64."""
        x = np.asarray(x, dtype=np.float64)
        if not hasattr(J, "tocsr"):  # a scipy sparse J (an edge-stored chip's) stays sparse
            J = np.asarray(J, dtype=np.float64)
        e = self.local_energy(p, x, f0, f1).sum(axis=-1)
        for c in range(self.n_channels):
            u = self.channel(p, x, c)
            uJ = u @ J if isinstance(J, np.ndarray) else (J @ u.T).T  # J symmetric
            e = e + 0.5 * self.pair_sign * (uJ * u).sum(axis=-1)
        return e

    def readout_index(self, mode: str | None) -> int:
        names = [m for m, _ in self.readouts]
        return 0 if mode is None else names.index(mode)


def snap(model: CellModel, x: np.ndarray) -> np.ndarray:
    """States rounded to the model's discrete states (ties upwards); unchanged if continuous."""
    if model.discrete_states is None:
        return x
    levels = np.asarray(model.discrete_states, dtype=float)
    edges = 0.5 * (levels[1:] + levels[:-1])
    return levels[np.searchsorted(edges, x, side="right")]


_HELPERS: list[Callable] = []


def kernel_helper(fn: Callable) -> Callable:
    """Mark a plain function that device physics calls (e.g. a vectorisable cos/sin): the
    kernel layer compiles it into the kernels (numba compiles every function a kernel
    reaches), numpy code calls it as it is."""
    _HELPERS.append(fn)
    return fn


def kernel_helpers() -> tuple[Callable, ...]:
    return tuple(_HELPERS)


_BY_NAME: dict[str, CellModel] = {}
_BY_KERNEL_TYPE: dict[type, CellModel] = {}


def register(model: CellModel) -> CellModel:
    if model.n_channels not in (1, 2):
        raise ValueError(f"{model.name}: the engine couples through 1 or 2 channels, "
                         f"not {model.n_channels}")
    if model.readouts[0][1] != model.n_channels:
        raise ValueError(f"{model.name}: read-out mode 0 reads the {model.n_channels} "
                         f"channels; it declares {model.readouts[0][1]}")
    if model.carrier and model.n_channels != 2:
        raise ValueError(f"{model.name}: a carrier model needs 2 (I/Q) channels")
    _BY_NAME[model.name] = model
    _BY_KERNEL_TYPE[model.kernel_params] = model
    return model


def get_model(name: str) -> CellModel:
    return _BY_NAME[name]


def list_models() -> list[str]:
    return sorted(_BY_NAME)


def model_for_kernel_params(kernel_params_type: type) -> CellModel:
    return _BY_KERNEL_TYPE[kernel_params_type]
