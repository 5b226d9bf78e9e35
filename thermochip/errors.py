"""Exceptions. User mistakes are ThermochipError subclasses; the CLI prints them as one line
(per problem) and exits non-zero, never with a traceback."""

from __future__ import annotations


class ThermochipError(Exception):
    """Base of every error thermochip raises on purpose."""

    exit_code = 1


class SpecError(ThermochipError):
    """One or more problems in a chip spec. ``problems`` holds ``(path, message)`` pairs;
    ``path`` is the dotted YAML path, with ``(line N)`` appended when known."""

    exit_code = 2

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in {source}"
        lines = [f"  {p}: {m}" if p else f"  {m}" for p, m in self.problems]
        super().__init__("\n".join([head, *lines]))


class IncompatibleModelError(ThermochipError):
    """A spec asks a device model for something it does not declare."""

    exit_code = 2


class NumericalError(ThermochipError):
    """The simulated state became non-finite."""

    exit_code = 3
