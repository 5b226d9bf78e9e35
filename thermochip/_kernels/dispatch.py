"""Model physics, dispatched on the type of the kernel-parameter namedtuple.

Each function here has a plain Python body (the fallback under ``NUMBA_DISABLE_JIT=1``) and an
``@overload`` that numba resolves at compile time: the namedtuple type names the device model,
whose scalar physics (``device_models/<model>.py``) is compiled inline. One generic kernel, one
cached specialisation per model, and the physics written only in the device module.
"""

from __future__ import annotations

from numba.extending import overload

from device_models import model_for_kernel_params
from thermochip._kernels.jit import scalar


def _model(p):
    return model_for_kernel_params(type(p))


def _model_of_type(ty):
    return model_for_kernel_params(ty.instance_class)


def local_force(p, x, f0, f1):
    return _model(p).local_force(p, x, f0, f1)


def channel(p, x, c):
    return _model(p).channel(p, x, c)


def channel_deriv(p, x, c):
    return _model(p).channel_deriv(p, x, c)


def readout(p, x, mode, r):
    return _model(p).readout(p, x, mode, r)


def coupling_force(p, x, g0, g1):
    """-dV_pair/dx given channel fields g0, g1 (g1 unused by one-channel models)."""
    m = _model(p)
    return m.coupling_force(p, x, (g0, g1)[:m.n_channels])


@overload(local_force, inline="always")
def _local_force(p, x, f0, f1):
    fn = scalar(_model_of_type(p).local_force)
    return lambda p, x, f0, f1: fn(p, x, f0, f1)


@overload(channel, inline="always")
def _channel(p, x, c):
    fn = scalar(_model_of_type(p).channel)
    return lambda p, x, c: fn(p, x, c)


@overload(channel_deriv, inline="always")
def _channel_deriv(p, x, c):
    fn = scalar(_model_of_type(p).channel_deriv)
    return lambda p, x, c: fn(p, x, c)


@overload(readout, inline="always")
def _readout(p, x, mode, r):
    fn = scalar(_model_of_type(p).readout)
    return lambda p, x, mode, r: fn(p, x, mode, r)


@overload(coupling_force, inline="always")
def _coupling_force(p, x, g0, g1):
    m = _model_of_type(p)
    d = scalar(m.channel_deriv)
    # The sign is resolved here, at compile time, so no float64 constant enters float32 maths.
    if m.n_channels == 1:
        if m.pair_sign < 0:
            return lambda p, x, g0, g1: d(p, x, 0) * g0
        return lambda p, x, g0, g1: -(d(p, x, 0) * g0)
    if m.pair_sign < 0:
        return lambda p, x, g0, g1: d(p, x, 0) * g0 + d(p, x, 1) * g1
    return lambda p, x, g0, g1: -(d(p, x, 0) * g0 + d(p, x, 1) * g1)
