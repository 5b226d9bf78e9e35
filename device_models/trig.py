"""cos and sin in plain arithmetic: reduction by multiples of pi/2 (pi/2 split in three parts,
Cody & Waite 1980), Taylor polynomials on [-pi/4, pi/4] and a branch-free choice of quadrant.

Why: an oscillator's channels are cos and sin of its phase, computed for every cell at every
step. A libm call stops LLVM from vectorising the kernel's loops; this function is
multiplications, additions and floors only, so it vectorises, and the same code runs on numpy
arrays for energies, references and tests. Accurate to about an ulp in the engine's dtype for
|x| < 4e3 (float32) or 1e6 (float64): the kernels wrap phases into [0, 2 pi) between chunks.

The constants come in a :class:`TrigConstants` of the engine's dtype (a float64 literal would
promote float32 kernels to float64).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from device_models.base import kernel_helper

_PI = ("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899"
       "8628034825342117067982148086513282306647")


N_SIN, N_COS = 8, 9
"""Taylor terms past the first: r^3 .. r^17 for sin, r^2 .. r^18 for cos (float64; float32
needs 4 and 5, the rest are zeros)."""


class TrigConstants(NamedTuple):
    """Flat, so a model's kernel parameters can include these fields (numba's parallel loops
    take no nested tuples)."""

    two_over_pi: float
    pio2_hi: float
    """pi/2 = hi + mid + lo; hi and mid have few enough bits that q * hi and q * mid are exact
    for every quadrant count q in range."""
    pio2_mid: float
    pio2_lo: float
    one: float
    half: float
    quarter: float
    two: float
    four: float
    s1: float   # Taylor coefficients of sin r / r in r^2: -1/3!, 1/5!, ...
    s2: float
    s3: float
    s4: float
    s5: float
    s6: float
    s7: float
    s8: float
    c1: float   # Taylor coefficients of (cos r - 1) / r^2 in r^2: -1/2!, 1/4!, ...
    c2: float
    c3: float
    c4: float
    c5: float
    c6: float
    c7: float
    c8: float
    c9: float


def trig_constants(dtype) -> TrigConstants:
    """The constants in ``dtype`` (float32 or float64)."""
    f32 = np.dtype(dtype) == np.float32
    keep = 12 if f32 else 33   # significant bits of hi and mid: q < 2^12 (2^20) stays exact
    n_sin, n_cos = (4, 5) if f32 else (N_SIN, N_COS)  # last term below ulp / 4 at r = pi/4
    rest = Fraction(_PI) / 2   # exact: 100 digits of pi
    parts = []
    for _ in range(2):
        e = math.floor(math.log2(abs(rest)))
        scale = Fraction(2) ** (keep - 1 - e)
        part = Fraction(round(rest * scale)) / scale
        parts.append(float(part))
        rest -= part
    parts.append(float(rest))
    sin = [(-1) ** k / math.factorial(2 * k + 1) if k <= n_sin else 0.0
           for k in range(1, N_SIN + 1)]
    cos = [(-1) ** k / math.factorial(2 * k) if k <= n_cos else 0.0
           for k in range(1, N_COS + 1)]
    cast = np.dtype(dtype).type
    return TrigConstants(*map(cast, [2 / math.pi, *parts, 1, 0.5, 0.25, 2, 4, *sin, *cos]))


@kernel_helper
def cos_sin(t, x):
    """(cos x, sin x) for a scalar or an array x, in the dtype of the constants t (any
    namedtuple with the fields of :class:`TrigConstants`)."""
    q = np.floor(x * t.two_over_pi + t.half)                    # nearest multiple of pi/2
    r = ((x - q * t.pio2_hi) - q * t.pio2_mid) - q * t.pio2_lo  # in [-pi/4, pi/4]
    r2 = r * r
    ps = ((((((t.s8 * r2 + t.s7) * r2 + t.s6) * r2 + t.s5) * r2 + t.s4) * r2 + t.s3) * r2
          + t.s2) * r2 + t.s1
    pc = (((((((t.c9 * r2 + t.c8) * r2 + t.c7) * r2 + t.c6) * r2 + t.c5) * r2 + t.c4) * r2
           + t.c3) * r2 + t.c2) * r2 + t.c1
    s = r + r * r2 * ps
    c = t.one + r2 * pc
    # quadrant n = q mod 4: (cos, sin) = (c, s), (-s, c), (-c, -s), (s, -c). 0/1 masks times
    # values are exact, so the choice is exact without a branch.
    n = q - t.four * np.floor(q * t.quarter)
    odd = n - t.two * np.floor(n * t.half)
    upper = np.floor(n * t.half)                                # n in {2, 3}
    m = n + t.one
    cos_neg = np.floor(m * t.half) - t.two * np.floor(m * t.quarter)   # n in {1, 2}
    even = t.one - odd
    cos = (even * c + odd * s) * (t.one - t.two * cos_neg)
    sin = (even * s + odd * c) * (t.one - t.two * upper)
    return cos, sin
