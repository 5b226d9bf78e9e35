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


def add_memory_option(parser) -> None:
    parser.add_argument("--max-memory", metavar="SIZE",
                        help="refuse work estimated to need more (e.g. 4GiB; default: the "
                             "memory available now)")


def apply_memory_option(args) -> None:
    """Make ``--max-memory`` the limit of this process and the workers it starts."""
    import os

    from thermochip.memory import parse_size
    if getattr(args, "max_memory", None) is not None:
        os.environ["THERMOCHIP_MAX_MEMORY"] = str(parse_size(args.max_memory))
