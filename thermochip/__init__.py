"""thermochip: simulate analog thermodynamic chips and train them with on-chip local rules.

The public API is what this module re-exports; everything else is internal.
"""

import os

# OpenBLAS workers spin for 2^28 cycles (~0.1 s) after each product before they sleep. The
# batched kernel alternates BLAS products with numba's parallel cell updates every step, so on a
# 2-core machine the spinning workers took half the cores from the cell update (bench/engine.py,
# N = 1024: 5.1 -> 3.7 ms per step with 2^4). Read once, when scipy loads its OpenBLAS: hence
# here, before any import of scipy.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__version__ = "0.1.0"

from thermochip.chip import Chip  # noqa: E402 (after the environment is set)
from thermochip.engine import SimResult, simulate
from thermochip.errors import IncompatibleModelError, NumericalError, SpecError, ThermochipError
from thermochip.spec import ChipSpec
from thermochip.spec_io import dump_spec, load_spec
from thermochip.spec_schema import json_schema

__all__ = ["Chip", "ChipSpec", "IncompatibleModelError", "NumericalError", "SimResult",
           "SpecError", "ThermochipError", "__version__", "dump_spec", "json_schema",
           "load_spec", "simulate"]
