"""thermochip: simulate analog thermodynamic chips and train them with on-chip local rules.

The public API is what this module re-exports (below); everything else is internal. Names are
imported on first use, so ``import thermochip`` (and ``thermochip --help``) stays fast.
"""

import importlib
import os

# OpenBLAS workers spin for 2^28 cycles (~0.1 s) after each product before they sleep. The
# batched kernel alternates BLAS products with numba's parallel cell updates every step, so on a
# 2-core machine the spinning workers took half the cores from the cell update (bench/engine.py,
# N = 1024: 5.1 -> 3.7 ms per step with 2^4). Read once, when numpy or scipy loads its OpenBLAS:
# hence here, before anything imports them.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "Chip": "thermochip.chip",
    "ChipSpec": "thermochip.spec",
    "Engine": "thermochip.engine",
    "SimResult": "thermochip.engine",
    "simulate": "thermochip.engine",
    "TrainResult": "thermochip.training",
    "train": "thermochip.training",
    "evaluate": "thermochip.training",
    "EpochReport": "thermochip.training",
    "Dataset": "thermochip.data",
    "load_dataset": "thermochip.data",
    "run_sweep": "thermochip.sweep",
    "load_spec": "thermochip.spec_io",
    "dump_spec": "thermochip.spec_io",
    "json_schema": "thermochip.spec_schema",
    "load_export": "thermochip.export",
    "write_export": "thermochip.export",
    "ThermochipError": "thermochip.errors",
    "SpecError": "thermochip.errors",
    "IncompatibleModelError": "thermochip.errors",
    "NumericalError": "thermochip.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'thermochip' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # the next access skips this function
    return value


def __dir__():
    return __all__
