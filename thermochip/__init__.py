"""thermochip: simulate analog thermodynamic chips and train them with on-chip local rules.

The public API is what this module re-exports; everything else is internal.
"""

__version__ = "0.1.0"

from thermochip.chip import Chip
from thermochip.engine import SimResult, simulate
from thermochip.errors import IncompatibleModelError, NumericalError, SpecError, ThermochipError
from thermochip.spec import ChipSpec
from thermochip.spec_io import dump_spec, json_schema, load_spec

__all__ = ["Chip", "ChipSpec", "IncompatibleModelError", "NumericalError", "SimResult",
           "SpecError", "ThermochipError", "__version__", "dump_spec", "json_schema",
           "load_spec", "simulate"]
