"""The command line's verbs, one module each: ``add_arguments(parser)`` adds its arguments,
``run(args) -> int`` runs it and returns the exit status, and the first line of ``run``'s
docstring is its help. Modules are discovered (the verb is the module's name); they import
the library where they use it, so ``thermochip --help`` starts fast."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def commands() -> dict[str, ModuleType]:
    """Verb -> its module, in the order the help lists them."""
    modules = {info.name: importlib.import_module(f"{__name__}.{info.name}")
               for info in pkgutil.iter_modules(__path__)}
    return dict(sorted(modules.items(), key=lambda item: item[1].ORDER))



def at_least(args, **lowest: int) -> None:
    """Refuse, in one line, an option given below its lowest value:
    ``at_least(args, threads=1, seed=0)``."""
    from thermochip.errors import ThermochipError
    for name, lo in lowest.items():
        value = getattr(args, name, None)
        if value is not None and value < lo:
            raise ThermochipError(f"--{name.replace('_', '-')} must be >= {lo}; got {value}")
