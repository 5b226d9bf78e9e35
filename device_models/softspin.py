r"""Soft-spin cell: a Langevin particle in a phi^4 well (seed 000).

.. math::
    V = J_2\sum_i x_i^2 + J_4\sum_i x_i^4 + \sum_i (b_i x_i + \tfrac12 a_i x_i^2)
        + \tfrac12\sum_{i\ne j} J_{ij} x_i x_j,
    \qquad dx = -\nabla V\,d\tilde t + \sqrt{2 kT}\,d\tilde W,

in dimensionless time t~ = rate * t, rate = mu (mobility times the energy unit). J > 0 is
antiferromagnetic here (the seed's sign). J_2 < 0 with J_4 > 0 gives a double well (a soft
Ising spin); J_2 > 0, J_4 = 0 a linear (Ornstein--Uhlenbeck) cell. The per-cell fields are the
bias b and a stiffness a (0 by default; the EP nudge adds to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from device_models.base import CellModel, register
from device_models.params import NON_NEGATIVE, POSITIVE, spec_field


@dataclass(frozen=True)
class SoftspinParams:
    """Parameters of one soft-spin cell (energies in normalised units, the units of kT)."""

    rate: float = spec_field(1.0e9, doc="mobility rate mu (1/s); dimensionless time is rate*t",
                             unit="Hz", check=POSITIVE)
    J2: float = spec_field(-1.0, doc="quadratic coefficient (negative: double well)")
    J4: float = spec_field(1.0, doc="quartic coefficient", check=NON_NEGATIVE)


class SoftspinKernel(NamedTuple):
    J2: float
    J4: float
    dJ2: float
    """2 J2 and 4 J4 (the force coefficients) and 1, cast once to the engine dtype: an integer
    literal inside a float32 kernel would promote the arithmetic to float64."""
    dJ4: float
    one: float
    half: float


def to_kernel(params: SoftspinParams, dtype) -> SoftspinKernel:
    return SoftspinKernel(J2=dtype(params.J2), J4=dtype(params.J4), dJ2=dtype(2 * params.J2),
                          dJ4=dtype(4 * params.J4), one=dtype(1), half=dtype(0.5))


def local_energy(p, x, b, a):
    return p.J2 * x * x + p.J4 * x * x * x * x + b * x + p.half * a * x * x


def local_force_ch(p, x, ch0, ch1, b, a):
    return -((p.dJ2 + a) * x + p.dJ4 * x * x * x + b)


def from_channels(p, ch):
    return ch[0]


def field_grad_ch(p, ch, k):
    x = ch[0]
    if k == 0:
        return x
    return p.half * x * x


def nudge(p, beta, target):
    """beta/2 (x - y)^2 = -beta y x + (beta/2) x^2 + const: db = -beta y, da = beta."""
    return -beta * target, beta


def channel(p, x, c):
    return x


def channel_deriv_ch(p, x, ch0, ch1, c):
    return p.one + (x - x)  # shaped like x, in its dtype


def readout(p, x, mode, r):
    return x


def well_field(params: SoftspinParams, u):
    """b = -2 J2 u puts the minimum of J2 x^2 + b x at x = u (a linear cell: J4 = 0)."""
    return -2.0 * params.J2 * u


def well_problem(params: SoftspinParams) -> str | None:
    if not params.J2 > 0:
        return (f"needs cells.params.J2 > 0 (a well per cell, e.g. preset linear_ou); got "
                f"J2 = {params.J2:g}")
    return None


def local_curvature_ch(p, x, ch0, ch1, b, a):
    """V_local'' = 2 J2 + a + 12 J4 x^2."""
    return p.dJ2 + a + 3 * p.dJ4 * x * x


def channel_curvature_ch(p, x, ch0, ch1, c):
    return 0.0 * x


def stiffness(p, b, a):
    """V'' at the well's floor (b = 0): 2 J2 + a at x = 0 for a single well, twice its
    magnitude at the minima +-sqrt(-(2 J2 + a) / 4 J4) of a double well; without a quartic
    term a negative curvature has no well, and its magnitude is the rate deviations grow at."""
    c = p.dJ2 + a
    return np.where(c >= 0, c, -2 * c if p.J4 > 0 else -c)


MODEL = register(CellModel(
    name="softspin", doc=__doc__, params=SoftspinParams, kernel_params=SoftspinKernel,
    to_kernel=to_kernel, field_names=("b", "a"), field_defaults=(0.0, 0.0), pair_sign=1.0,
    n_channels=1, carrier=False, periodic=None, init_range=(-1.0, 1.0),
    readouts=(("value", 1),),
    local_energy=local_energy, local_force_ch=local_force_ch, channel=channel,
    channel_deriv_ch=channel_deriv_ch, readout=readout, from_channels=from_channels,
    field_grad_ch=field_grad_ch, nudge=nudge, affine_drift=True, well_field=well_field,
    well_problem=well_problem, stiffness=stiffness, local_curvature_ch=local_curvature_ch,
    channel_curvature_ch=channel_curvature_ch,
))
