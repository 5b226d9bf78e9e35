"""Coupling and field DACs: values exist on the chip only as signed integer codes.

A b-bit DAC over [-full_scale, full_scale] has codes in [-L, L], L = 2^(b-1) - 1 (mid-tread,
so zero and +-full_scale are exact) and LSB = full_scale / L. Rounding is to the nearest code
or stochastic (floor(v/LSB + u), u ~ U[0, 1): unbiased). Each write may carry an analog error
of ``write_noise`` LSB rms, drawn at the write and held until the next one.
"""

from __future__ import annotations

import numpy as np

from device_models.base import kernel_helper


def levels(bits: int) -> int:
    """Largest code magnitude L."""
    return 2 ** (bits - 1) - 1


def lsb(bits: int, full_scale: float) -> float:
    return full_scale / levels(bits)


@kernel_helper
def round_code(v, u, stochastic):
    """The grid point of v (in LSB): nearest, or stochastic floor(v + u) with u uniform in
    [0, 1) (unbiased: E[code] = v). The one rounding rule, for numpy arrays and kernels."""
    return np.floor(v + u) if stochastic else np.rint(v)


def to_codes(values, bits: int, full_scale: float, rounding: str,
             rng: np.random.Generator | None = None):
    """Round values to int32 codes, clipped to [-L, L]. Returns (codes, n_clipped)."""
    scaled = np.asarray(values, dtype=np.float64) / lsb(bits, full_scale)
    if rounding not in ("nearest", "stochastic"):
        raise ValueError(f"unknown rounding {rounding!r}")
    stochastic = rounding == "stochastic"
    # float32 uniforms: 2^-24 resolution is far finer than any rounding bias that matters
    u = rng.random(scaled.shape, dtype=np.float32) if stochastic else 0.0
    codes = round_code(scaled, u, stochastic)
    L = levels(bits)
    n_clipped = int(np.count_nonzero(np.abs(codes) > L))
    return np.clip(codes, -L, L).astype(np.int32), n_clipped


def to_values(codes, bits: int, full_scale: float, dtype=np.float64):
    """Ideal analog values of codes."""
    return np.multiply(codes, lsb(bits, full_scale), dtype=dtype)


def write(codes, bits: int, full_scale: float, write_noise: float,
          rng: np.random.Generator | None = None, dtype=np.float64):
    """Analog values a write of ``codes`` produces: ideal values plus write noise (LSB rms)."""
    v = to_values(codes, bits, full_scale, dtype)
    if write_noise > 0:
        v += write_noise * lsb(bits, full_scale) * rng.standard_normal(v.shape)
    return v
