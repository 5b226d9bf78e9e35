"""The one place that sets numba's compile options and cache directory.

The cache directory is named by a hash of the sources of ``thermochip/_kernels`` and
``device_models``: numba does not notice edits to functions defined in another file than the
cached kernel, so a new hash (a new directory) is what keeps a stale kernel from being loaded.
It must be set before any kernel is decorated, hence at import of this module.
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numba

import device_models


def _source_hash() -> str:
    h = hashlib.sha256()
    for root in (Path(__file__).parent, Path(device_models.__file__).parent):
        for path in sorted(root.rglob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


# numba runs parallel loops on TBB (a dependency where wheels exist); where it falls back to
# OpenMP: the batched kernel calls BLAS (with its own threads) between numba's parallel loops,
# and OpenMP workers that spin while waiting starve the BLAS threads of the cores (measured on
# 2 cores: 50 steps/s instead of 1500 at 128 cells). Passive waiting must be set before the
# OpenMP runtime starts, i.e. before the first parallel kernel runs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if "NUMBA_CACHE_DIR" not in os.environ:
    _base = Path(os.environ.get("THERMOCHIP_CACHE", Path.home() / ".cache" / "thermochip"))
    numba.config.CACHE_DIR = str(_base / f"numba-{_source_hash()}")

#: Hot kernels: cached, IEEE semantics (reproducibility and NaN detection over speed).
kernel = functools.partial(numba.njit, cache=True, fastmath=False, error_model="numpy")

#: Sums inside kernels: reassociation lets a long sum vectorise (its rounding then depends on
#: the vector width, not on threads); NaN and infinity keep their IEEE meaning. Not inlined
#: into the caller's IR, so these flags stay on this function's instructions.
reduction = functools.partial(numba.njit, fastmath={"reassoc", "contract"},
                              error_model="numpy")

#: Model physics called from kernels, inlined at the call site.
scalar = functools.partial(numba.njit, inline="always", error_model="numpy")

prange = numba.prange
set_num_threads = numba.set_num_threads
get_num_threads = numba.get_num_threads
