"""Model physics, dispatched on the type of the kernel-parameter namedtuple.

Each function here has a plain Python body (the fallback under ``NUMBA_DISABLE_JIT=1``) and an
``@overload`` that numba resolves at compile time: the namedtuple type names the device model,
whose scalar physics (``device_models/<model>.py``) is compiled inline. One generic kernel, one
cached specialisation per model, and the physics written only in the device module.
"""

from __future__ import annotations

from numba.extending import overload, register_jitable

from device_models import model_for_kernel_params
from device_models.base import kernel_helpers
from thermochip._kernels.jit import scalar

for _helper in kernel_helpers():
    register_jitable(_helper)  # the same plain arithmetic, compiled into the kernels


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


def sample(p, a, beta, u):
    """The new state of a cell updated from a draw (kinds that declare ``sample``)."""
    return _model(p).sample(p, a, beta, u)


def coupling_force(p, x, g0, g1):
    """-dV_pair/dx given channel fields g0, g1 (g1 unused by one-channel models)."""
    m = _model(p)
    return m.coupling_force(p, x, (g0, g1)[:m.n_channels])


def cell_force(p, x, ch0, ch1, f0, f1, g0, g1):
    """local_force + coupling_force of a cell whose channel values ch0, ch1 (last channel) are
    known: the kernel step, with no channel recomputed."""
    m = _model(p)
    return (m.local_force_ch(p, x, ch0, ch1, f0, f1)
            + m.coupling_force_ch(p, x, ch0, ch1, (g0, g1)[:m.n_channels]))


def _ends(m):
    """The compiled (channel 0, last channel) of a state, for the x-only forms."""
    ch, last = scalar(m.channel), m.n_channels - 1

    @scalar
    def ends(p, x):
        c0 = ch(p, x, 0)
        c1 = ch(p, x, last)
        return c0, c1
    return ends


@overload(local_force, inline="always")
def _local_force(p, x, f0, f1):
    m = _model_of_type(p)
    fn, ends = scalar(m.local_force_ch), _ends(m)

    def impl(p, x, f0, f1):
        c0, c1 = ends(p, x)
        return fn(p, x, c0, c1, f0, f1)
    return impl


@overload(channel)  # LLVM inlines it; inlining in numba's IR trips its SSA check
def _channel(p, x, c):
    fn = scalar(_model_of_type(p).channel)
    return lambda p, x, c: fn(p, x, c)


@overload(channel_deriv, inline="always")
def _channel_deriv(p, x, c):
    m = _model_of_type(p)
    fn, ends = scalar(m.channel_deriv_ch), _ends(m)

    def impl(p, x, c):
        c0, c1 = ends(p, x)
        return fn(p, x, c0, c1, c)
    return impl


@overload(readout, inline="always")
def _readout(p, x, mode, r):
    fn = scalar(_model_of_type(p).readout)
    return lambda p, x, mode, r: fn(p, x, mode, r)


@overload(sample, inline="always")
def _sample(p, a, beta, u):
    fn = scalar(_model_of_type(p).sample)
    return lambda p, a, beta, u: fn(p, a, beta, u)


def _pair_force(m):
    """-dV_pair/dx as a compiled function of (p, x, ch0, ch1, g0, g1). The sign is resolved
    here, at compile time, so no float64 constant enters float32 maths."""
    d = scalar(m.channel_deriv_ch)
    if m.n_channels == 1:
        if m.pair_sign < 0:
            return scalar(lambda p, x, c0, c1, g0, g1: d(p, x, c0, c1, 0) * g0)
        return scalar(lambda p, x, c0, c1, g0, g1: -(d(p, x, c0, c1, 0) * g0))
    if m.pair_sign < 0:
        return scalar(lambda p, x, c0, c1, g0, g1:
                      d(p, x, c0, c1, 0) * g0 + d(p, x, c0, c1, 1) * g1)
    return scalar(lambda p, x, c0, c1, g0, g1:
                  -(d(p, x, c0, c1, 0) * g0 + d(p, x, c0, c1, 1) * g1))


@overload(coupling_force, inline="always")
def _coupling_force(p, x, g0, g1):
    m = _model_of_type(p)
    pair, ends = _pair_force(m), _ends(m)

    def impl(p, x, g0, g1):
        c0, c1 = ends(p, x)
        return pair(p, x, c0, c1, g0, g1)
    return impl


@overload(cell_force, inline="always")
def _cell_force(p, x, ch0, ch1, f0, f1, g0, g1):
    m = _model_of_type(p)
    local = scalar(m.local_force_ch)
    pair = _pair_force(m)
    return lambda p, x, ch0, ch1, f0, f1, g0, g1: (local(p, x, ch0, ch1, f0, f1)
                                                    + pair(p, x, ch0, ch1, g0, g1))
