"""Coupling and field DACs: values exist on the chip only as signed integer codes.

A b-bit DAC over [-full_scale, full_scale] has codes in [-L, L], L = 2^(b-1) - 1 (mid-tread,
so zero and +-full_scale are exact) and LSB = full_scale / L. Rounding is to the nearest code
or stochastic (floor(v/LSB + u), u ~ U[0, 1): unbiased). Each write may carry an analog error
of ``write_noise`` LSB rms, drawn at the write and held until the next one.
"""

from __future__ import annotations

import numpy as np


def levels(bits: int) -> int:
    """Largest code magnitude L."""
    return 2 ** (bits - 1) - 1


def lsb(bits: int, full_scale: float) -> float:
    return full_scale / levels(bits)


def to_codes(values, bits: int, full_scale: float, rounding: str,
             rng: np.random.Generator | None = None):
    """Round values to int32 codes, clipped to [-L, L]. Returns (codes, n_clipped)."""
    scaled = np.asarray(values, dtype=np.float64) / lsb(bits, full_scale)
    if rounding == "nearest":
        codes = np.rint(scaled)
    elif rounding == "stochastic":
        # float32 uniforms: 2^-24 resolution is far finer than any rounding bias that matters
        codes = np.floor(scaled + rng.random(scaled.shape, dtype=np.float32))
    else:
        raise ValueError(f"unknown rounding {rounding!r}")
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
