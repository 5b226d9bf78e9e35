"""The kernels' counter-based normals (thermochip._kernels.rng) against the Gaussian law.

Tolerances are five standard errors of each statistic at the sample size used (and the
Kolmogorov-Smirnov bound at level 1e-4), so a sampler with a wrong table, a lost sign bit or
correlated counters fails while a correct one passes with certainty for all practical purposes
at these fixed seeds.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import stats

from thermochip._kernels import rng

N = 2_000_000


@numba.njit
def _draw(key, start, n):
    out = np.empty(n)
    for c in range(n):
        out[c] = rng.normal(key, np.uint64(start + c))
    return out


@pytest.fixture(scope="module")
def draws():
    return _draw(np.uint64(0x5EED), 0, N)


def test_ziggurat_layers_have_equal_area_and_the_right_tail():
    r, KI, WI, FI = rng.ziggurat_tables()
    X = np.append(WI * 2.0 ** 53, 0.0)
    v = r * math.exp(-r * r / 2) + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    # layers 1..255: width X[i], height f(X[i+1]) - f(X[i])
    areas = X[1:-1] * (FI[2:] - FI[1:-1])
    np.testing.assert_allclose(areas, v, rtol=1e-9)
    assert X[0] * FI[1] == pytest.approx(v, rel=1e-12)   # base strip: r f(r) + tail
    assert FI[-1] == 1.0 and np.all(np.diff(X) < 0)
    assert np.all(KI < 2 ** 53) and np.all(KI[:-1] > 0)   # the top layer: wedge only


def test_moments_and_kolmogorov_smirnov(draws):
    se = 1 / math.sqrt(N)
    assert abs(draws.mean()) < 5 * se
    assert abs(draws.var() - 1) < 5 * math.sqrt(2) * se
    assert abs(stats.skew(draws)) < 5 * math.sqrt(6) * se
    assert abs(stats.kurtosis(draws)) < 5 * math.sqrt(24) * se
    assert stats.kstest(draws, "norm").statistic < 2.15 / math.sqrt(N)   # level 1e-4


@pytest.mark.parametrize("a", [1.0, 2.5, 3.0, float(rng.ziggurat_tables()[0]), 4.0, 4.5])
def test_tail_probabilities(draws, a):
    """Both tails, including past r = 3.654 where the slow exponential method takes over."""
    p = stats.norm.sf(a)
    for frac in ((draws > a).mean(), (draws < -a).mean()):
        assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / N) + 1 / N


def test_neighbouring_counters_and_streams_are_uncorrelated(draws):
    """Adjacent counters (neighbouring cells, or one cell's consecutive steps N apart) and the
    same counter in two streams (replicas) are independent: correlations within 5 / sqrt(n)."""
    n = 500_000
    for lag in (1, 2, 7, 1024):
        rho = np.corrcoef(draws[:n], draws[lag:lag + n])[0, 1]
        assert abs(rho) < 5 / math.sqrt(n), lag
    other = _draw(np.uint64(0x5EED + 1), 0, n)
    assert abs(np.corrcoef(draws[:n], other)[0, 1]) < 5 / math.sqrt(n)
    # squares too: a shared layer choice would correlate the magnitudes
    assert abs(np.corrcoef(draws[:n] ** 2, draws[1:n + 1] ** 2)[0, 1]) < 5 / math.sqrt(n)


def test_float_type_follows_the_kernel():
    @numba.njit
    def one(zero):
        return rng.normal_as(np.uint64(1), np.uint64(2), zero)

    assert one(np.float32(0)) == np.float32(one(0.0))
    assert {str(sig.return_type) for sig in one.nopython_signatures} == {"float32", "float64"}
