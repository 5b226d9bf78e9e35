"""Counter-based standard normals, drawn inside the kernels where the noise is used.

The white noise of replica b at state index k and cell i is a pure function of (key_b,
k * N + i): results do not depend on the thread count, the chunking of a run or the kernel
layout, no noise block passes through memory, and a checkpoint needs only the step counter.

Bits: SplitMix64 (Steele, Lea & Flood 2014), whose n-th output is a bijective mix of
``key + n * gamma``; it passes BigCrush as a sequential generator, which is exactly this use.
Normals: Marsaglia & Tsang's (2000) ziggurat with 256 layers, one 64-bit draw per normal on
the fast path (8 bits pick the layer, 1 the sign, 53 the abscissa; ~99 % of draws); a rejected
draw continues on a fresh sequence started from its own bits. The tables are built here from
the Gaussian itself (no magic numbers) and enter the kernels as compile-time constants.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.extending import overload

from thermochip._kernels.jit import scalar

LAYERS = 256
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S8, _S11 = (np.uint64(s) for s in (30, 27, 31, 8, 11))
_ONE, _BYTE = np.uint64(1), np.uint64(0xFF)
_ULP = 2.0 ** -53


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x)


def _layer_edges(r: float) -> tuple[list[float], float]:
    """Right edges X[0..LAYERS-1] of the layers of equal area v for tail start r, and how far
    the top layer's upper edge lands above f(0) = 1 (zero for the right r)."""
    v = r * _pdf(r) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))  # base strip + tail
    X = [v / _pdf(r), r]
    for _ in range(LAYERS - 2):
        y = _pdf(X[-1]) + v / X[-1]
        if y >= 1:  # r too small: the layers reach the top too early
            return X, 1.0
        X.append(math.sqrt(-2 * math.log(y)))
    return X, _pdf(X[-1]) + v / X[-1] - 1


def ziggurat_tables() -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """(r, KI, WI, FI): tail start r; per layer i, the 53-bit acceptance bound
    KI[i] = 2^53 X[i+1] / X[i], the scale WI[i] = X[i] / 2^53 and FI[i] = f(X[i]) (FI has one
    more entry, f(0) = 1), for f(x) = exp(-x^2/2) and X[LAYERS] = 0."""
    lo, hi = 3.0, 4.0   # the top edge's overshoot falls with r; bisect to the root
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if _layer_edges(mid)[1] > 0:
            lo = mid
        else:
            hi = mid
    r = hi
    X = np.array(_layer_edges(r)[0] + [0.0])
    KI = np.floor(X[1:] / X[:-1] * 2.0 ** 53).astype(np.int64)
    WI = X[:-1] * _ULP
    FI = np.exp(-0.5 * X * X)
    return r, KI, WI, FI


_R, _KI, _WI, _FI = ziggurat_tables()


@scalar
def _mix(z):
    """SplitMix64's output function: a bijection of uint64 that scrambles every bit."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@scalar
def _unit(z):
    """A uint64 draw as a uniform number in (0, 1]."""
    return (np.int64(z >> _S11) + 1) * _ULP


@scalar
def uniform(key, counter):
    """Uniform number ``counter`` (uint64) of the stream ``key`` (uint64), in [0, 1)."""
    return np.int64(_mix(key + counter * _GAMMA) >> _S11) * _ULP


@scalar
def normal(key, counter):
    """Standard normal number ``counter`` (uint64) of the stream ``key`` (uint64), float64."""
    z = _mix(key + counter * _GAMMA)
    while True:
        i = z & _BYTE
        u = np.int64(z >> _S11)
        x = u * _WI[i]
        if (z >> _S8) & _ONE:
            x = -x
        if u < _KI[i]:
            return x
        s = z   # rare slow path: further bits from a sequence started at this draw
        if i == 0:   # the tail beyond r, by Marsaglia's (1964) exponential method
            while True:
                s += _GAMMA
                a = -math.log(_unit(_mix(s))) / _R
                s += _GAMMA
                if -2.0 * math.log(_unit(_mix(s))) > a * a:
                    return _R + a if x > 0 else -(_R + a)
        s += _GAMMA
        if _FI[i] + (1.0 - _unit(_mix(s))) * (_FI[i + 1] - _FI[i]) < math.exp(-0.5 * x * x):
            return x
        s += _GAMMA
        z = _mix(s)


def normal_as(key, counter, zero):
    """:func:`normal` in the float type of ``zero`` (the kernels' dtype)."""
    return type(zero)(normal(key, counter))


@overload(normal_as, inline="always")
def _normal_as(key, counter, zero):
    cast = zero  # a numba float type is callable: it converts
    return lambda key, counter, zero: cast(normal(key, counter))


@numba.njit(cache=True, error_model="numpy")
def mean_of_two(key, counter, stride):
    """(normal(counter) + normal(counter + stride)) / 2, float64: a Leimkuhler--Matthews
    step's noise, this step's normal and the next's (stride: the normals per step). A call,
    not inlined, with one ziggurat inside: the kernels inline :func:`normal_as` once."""
    v = 0.0
    for t in range(2):
        v += normal(key, counter + np.uint64(t) * stride)
    return 0.5 * v
