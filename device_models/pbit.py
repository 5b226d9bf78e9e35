r"""Probabilistic bit (p-bit): a binary stochastic cell, m_i in {-1, +1} (Camsari, Sutton &
Datta 2017, "p-bits for probabilistic spin logic"; Niazi et al. 2024, Nat. Electron., for
sparse deep Boltzmann machines of p-bits on an FPGA).

.. math::
    m_i = \operatorname{sgn}\big(\tanh(\beta\,a_i) - r\big),\quad r \sim U(-1, 1),\qquad
    a_i = g_i I_i + o_i,\quad I_i = \sum_j J_{ij} m_j + h_i,

so P(m_i = +1) = sigma(2 beta a_i) = (1 + tanh(beta a_i)) / 2: with ideal cells (g = 1,
o = 0) the Gibbs conditional of

.. math::
    E(m) = -\tfrac12 \sum_{i \ne j} J_{ij} m_i m_j - \sum_i h_i m_i

at inverse temperature beta = 1/kT (``noise.thermal.kT``, in the units of J; kT = 0 or no
thermal section: beta = inf, the deterministic sign). ``noise.mismatch.cell_gain`` and
``cell_offset`` are each cell's tanh gain g_i and offset o_i; ``noise.flicker`` adds a 1/f
drift to each I_i (a wandering threshold, in the units of J).

The entropy source: r = 2u - 1 + ``entropy_bias``, u uniform on [0, 1) (a biased source shifts
every cell's threshold); with ``entropy_sources`` = S > 0, cell i draws its u from source
i mod S, so cells sharing a source draw the same number at each step (a correlated source,
e.g. a bank of shift registers feeding many p-bits).

Update schemes (``integrator.method``, the ``pbit`` dynamics kind, :mod:`thermochip._kernels.
pbit`): ``chromatic`` (each step one sweep, colour class by colour class: exact Gibbs);
``asynchronous`` (each cell fires with probability 1 - exp(-rate dt) per step, fired cells
updated one after another from the current states: the hardware's continuous-time Glauber
dynamics as dt -> 0); ``synchronous`` (every cell from the step's initial states: inexact).
Dimensionless time t~ = rate * t: ``rate`` is each cell's update attempt rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from device_models.base import CellModel, DynamicsKind, kernel_helper, register
from device_models.params import NON_NEGATIVE, POSITIVE, Interval, spec_field

PBIT = DynamicsKind(
    "pbit", ("chromatic", "asynchronous", "synchronous"), drift=False,
    doc="P(m_i = +1) = sigma(2 beta (g_i I_i + o_i)) at each update (Gibbs / Glauber)")


@dataclass(frozen=True)
class PbitParams:
    """Parameters of one p-bit."""

    rate: float = spec_field(1.0e9, doc="update attempts per second of each cell "
                                        "(asynchronous updates); dimensionless time is "
                                        "rate*t", unit="Hz", check=POSITIVE)
    entropy_bias: float = spec_field(0.0, doc="mean of the random threshold r in "
                                              "sgn(tanh(beta a) - r): a biased entropy source",
                                     check=Interval(-1, 1))
    entropy_sources: int = spec_field(0, doc="independent random sources shared round-robin "
                                             "(cell i draws from source i mod sources; cells "
                                             "sharing one draw the same number each step); "
                                             "0: one per cell", check=NON_NEGATIVE)


class PbitKernel(NamedTuple):
    """The entropy source's bias (as a shift of u: bias / 2) and its sources, and 1 in the
    engine's dtype."""

    shift: float
    sources: int
    one: float


def to_kernel(params: PbitParams, dtype) -> PbitKernel:
    return PbitKernel(np.float64(params.entropy_bias / 2), int(params.entropy_sources),
                      dtype(1))


def local_energy(p, m, h, f1):
    return -h * m


def local_force_ch(p, m, ch0, ch1, h, f1):
    return h + (m - m)  # shaped like m, in its dtype


def channel(p, m, c):
    return m


def channel_deriv_ch(p, m, ch0, ch1, c):
    return p.one + (m - m)


def readout(p, m, mode, r):
    return m


def field_grad_ch(p, ch, k):
    return -ch[0] if k == 0 else 0.0 * ch[0]


def nudge(p, beta, target):
    """beta/2 (m - y)^2 = -beta y m + const for m = +-1: dh = beta y."""
    return beta * target, 0.0 * beta


def inverse_temperature(params: PbitParams, gain, kT: float, linewidth: float):
    """(cell,) beta = 1/kT (inf at kT = 0: the deterministic sign); the kernels take it as the
    cells' noise amplitude."""
    return np.full(np.shape(gain), np.inf if kT == 0 else 1.0 / kT)


#: 1/n! for n = 2 .. 16: the Taylor coefficients of exp (module constants: kernels freeze them).
(_C2, _C3, _C4, _C5, _C6, _C7, _C8, _C9, _C10, _C11, _C12, _C13, _C14, _C15,
 _C16) = (1.0 / math.factorial(n) for n in range(2, 17))


@kernel_helper
def exp_clamped(z):
    """exp(z) in float64 for z clamped to [-60, 60] (nan counts as 0), in plain arithmetic so
    it vectorises: e^(z/64) by its Taylor series to z^16 (|z/64| <= 0.94: truncation below
    1e-15), squared six times (relative error below 1e-13)."""
    z = np.float64(z)
    z = 0.0 if z != z else z
    z = -60.0 if z < -60.0 else (60.0 if z > 60.0 else z)
    y = z * 0.015625
    e = _C16 * y + _C15  # Horner, straight-line (a loop would keep LLVM from vectorising)
    e = e * y + _C14
    e = e * y + _C13
    e = e * y + _C12
    e = e * y + _C11
    e = e * y + _C10
    e = e * y + _C9
    e = e * y + _C8
    e = e * y + _C7
    e = e * y + _C6
    e = e * y + _C5
    e = e * y + _C4
    e = e * y + _C3
    e = e * y + _C2
    e = e * y + 1.0
    e = e * y + 1.0
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    e = e * e
    return e * e


@kernel_helper
def sample(p, a, beta, u):
    """The p-bit's new state: +1 when sigmoid(2 beta a) > u + shift (u uniform on [0, 1)),
    else -1; in the dtype of ``p.one``. The sigmoid is compared without a division:
    u' exp(-2 beta a) < 1 - u'."""
    s = np.float64(beta) * np.float64(a)
    s = 0.0 if s != s else s  # beta = inf at a = 0: an even coin
    v = u + p.shift
    return p.one if v * exp_clamped(-2.0 * s) < 1.0 - v else -p.one


MODEL = register(CellModel(
    name="pbit", doc=__doc__, params=PbitParams, kernel_params=PbitKernel,
    to_kernel=to_kernel, field_names=("h", None), field_defaults=(0.0, 0.0), pair_sign=-1.0,
    n_channels=1, carrier=False, periodic=None, init_range=(-1.0, 1.0),
    readouts=(("value", 1),), local_energy=local_energy, local_force_ch=local_force_ch,
    channel=channel, channel_deriv_ch=channel_deriv_ch, readout=readout,
    from_channels=lambda p, ch: ch[0], field_grad_ch=field_grad_ch, nudge=nudge,
    kind=PBIT, noise_amplitude=inverse_temperature, sample=sample, discrete_states=(-1.0, 1.0),
))
