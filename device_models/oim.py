r"""Oscillator Ising machine cell: a phase oscillator under sub-harmonic injection locking.

.. math::
    \frac{d\phi_i}{d\tilde t} = -\sum_j J_{ij}\sin(\phi_i-\phi_j) - h_i\sin\phi_i
                                 - S_i \sin(n\phi_i),
    \qquad
    V = -\tfrac12\sum_{i\ne j} J_{ij}\cos(\phi_i-\phi_j) - \sum_i h_i\cos\phi_i
        - \sum_i \tfrac{S_i}{n}\cos(n\phi_i),

with n = ``shil_harmonic`` (2: second-harmonic injection, binary phases 0 and pi), the gradient
flow of V in dimensionless time t~ = rate * t. J > 0 favours equal phases. The spin is
sign(cos phi). Wang & Roychowdhury, "OIM: Oscillator-based Ising machines", 2019; Gower 2025
(arXiv 2505.02103) for the EP form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from device_models.base import CellModel, register
from device_models.params import POSITIVE, Interval, spec_field
from device_models.trig import TrigConstants, cos_sin, trig_constants


@dataclass(frozen=True)
class OimParams:
    """Parameters of one oscillator cell."""

    rate: float = spec_field(1.0e8, doc="coupling rate omega_c (1/s); dimensionless time is rate*t",
                             unit="Hz", check=POSITIVE)
    f0: float = spec_field(1.0e9, doc="carrier frequency (sets the phase offset of an "
                                      "interconnect delay)", unit="Hz", check=POSITIVE)
    shil_harmonic: int = spec_field(2, doc="harmonic n of the injection-locking signal",
                                    check=Interval(1, 8))


OimKernel = NamedTuple("OimKernel", [("n", float)] + [(f, float) for f in TrigConstants._fields])
"""The harmonic n and the constants of :func:`cos_sin` (flat: numba's parallel loops take no
nested tuples)."""


def to_kernel(params: OimParams, dtype) -> OimKernel:
    return OimKernel(dtype(params.shil_harmonic), *trig_constants(dtype))


def local_energy(p, x, h, s):
    return -h * np.cos(x) - (s / p.n) * np.cos(p.n * x)


def local_force_ch(p, x, cos, sin, h, s):
    # sin 2 phi from the channels (the injection of every EP chip): no trigonometric call
    shil = (sin + sin) * cos if p.n == 2 else np.sin(p.n * x)
    return -h * sin - s * shil


def channel_deriv_ch(p, x, cos, sin, c):
    if c == 0:
        return -sin
    return cos


def channel(p, x, c):
    # both from one reduction (the kernels' two channel calls share it); vectorisable
    cs = cos_sin(p, x)
    return cs[0] if c == 0 else cs[1]


def from_channels(p, ch):
    return np.arctan2(ch[1], ch[0])


def field_grad_ch(p, ch, k):
    # ADC samples lie near, not on, the unit circle: the phasor's direction is the phase
    cos, sin = ch
    r2 = cos * cos + sin * sin
    if k == 0:
        return -cos / np.sqrt(r2)
    if p.n == 2:
        return -(cos * cos - sin * sin) / (2 * r2)
    return -np.cos(p.n * from_channels(p, ch)) / p.n


def nudge(p, beta, target):
    """beta/2 (cos phi - y)^2 = -beta y cos phi + (beta/4) cos 2 phi + const: dh = beta y,
    dS = -beta/2 (with second-harmonic injection: see :func:`nudge_problem`)."""
    return beta * target, -0.5 * beta


def nudge_problem(params: OimParams) -> str | None:
    """The S field carries the cos 2 phi of the loss only under second-harmonic injection."""
    if params.shil_harmonic != 2:
        return (f"the EP nudge of an oim cell needs shil_harmonic 2 (its S field carries the "
                f"cos 2phi of the loss); got {params.shil_harmonic}")
    return None


def readout(p, x, mode, r):
    """mode 0 (iq): r=0 cos phi, r=1 sin phi; mode 1 (phase): phi wrapped to (-pi, pi]."""
    cos, sin = cos_sin(p, x)
    if mode == 0:
        return cos if r == 0 else sin
    return np.arctan2(sin, cos)


def local_curvature_ch(p, x, cos, sin, h, s):
    """V_local'' = h cos phi + n S cos(n phi) (cos 2 phi from the channels)."""
    shil = cos * cos - sin * sin if p.n == 2 else np.cos(p.n * x)
    return h * cos + p.n * s * shil


def channel_curvature_ch(p, x, cos, sin, c):
    """cos'' = -cos, sin'' = -sin."""
    return -cos if c == 0 else -sin


def stiffness(p, h, s):
    """V'' of -h cos phi - S/2 cos 2 phi at a locked phase (0 or pi): |h| + 2 S at best."""
    return np.abs(h) + 2 * np.abs(s)


MODEL = register(CellModel(
    name="oim", doc=__doc__, params=OimParams, kernel_params=OimKernel, to_kernel=to_kernel,
    field_names=("h", "S"), field_defaults=(0.0, 1.0), pair_sign=-1.0, n_channels=2,
    carrier=True, periodic=2 * np.pi, init_range=(0.0, 2 * np.pi),
    readouts=(("iq", 2), ("phase", 1)), state_readout="phase",
    local_energy=local_energy, local_force_ch=local_force_ch, channel=channel,
    channel_deriv_ch=channel_deriv_ch, readout=readout, from_channels=from_channels,
    field_grad_ch=field_grad_ch, nudge=nudge, nudge_problem=nudge_problem,
    stiffness=stiffness, local_curvature_ch=local_curvature_ch,
    channel_curvature_ch=channel_curvature_ch,
))
