"""Sampling ADC: bipolar range [-full_scale, full_scale), 2^b codes 0 .. 2^b - 1,
LSB = 2 full_scale / 2^b, reconstruction at code centres, so the error is at most LSB/2 inside
the range. Inputs outside it saturate to the end codes and are counted. Input-referred noise
(rms, read-out units) is added before quantisation.
"""

from __future__ import annotations

import numpy as np


def lsb(bits: int, full_scale: float) -> float:
    return 2.0 * full_scale / 2 ** bits


def quantise(values, bits: int, full_scale: float, noise: float = 0.0,
             rng: np.random.Generator | None = None):
    """Analog values -> (codes uint32 in [0, 2^b), saturated bool mask)."""
    v = np.asarray(values, dtype=np.float64)
    if noise > 0:
        v = v + noise * rng.standard_normal(v.shape)
    saturated = (v < -full_scale) | (v >= full_scale)
    codes = np.floor((v + full_scale) / lsb(bits, full_scale))  # a fresh array
    return np.clip(codes, 0, 2 ** bits - 1, out=codes).astype(np.uint32), saturated


def reconstruct(codes, bits: int, full_scale: float):
    """Codes -> the value at the centre of each code bin (float64)."""
    return -full_scale + (np.asarray(codes, dtype=np.float64) + 0.5) * lsb(bits, full_scale)
