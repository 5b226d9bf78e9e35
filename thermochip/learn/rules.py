"""The learner rule registry. A rule module (``thermochip/learn/<rule>.py``) declares

- its spec section: a frozen dataclass whose first field ``rule`` defaults to the rule's name,
  with a method ``requirements(spec, model, params, data_shape) -> [(yaml path, message)]``
  saying what the rule needs of the chip and the data (checked once, when the spec loads);
- its circuit: ``circuit(chip, n_classes) -> AbstractLearner``;

and registers both with :func:`register_rule`. The spec's ``learner`` union, its tags and
:func:`thermochip.learn.make_learner` all derive from this registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from thermochip.spec import LEARNERS


@dataclass(frozen=True)
class Rule:
    section: type
    circuit: Callable

    @property
    def name(self) -> str:
        return self.section.rule


_RULES: dict[str, Rule] = {}


def register_rule(section: type, circuit: Callable) -> Rule:
    """Register a rule: its spec section (see the module docstring) and its circuit."""
    LEARNERS.register(section)
    rule = _RULES[section.rule] = Rule(section, circuit)
    return rule


def get_rule(name: str) -> Rule:
    LEARNERS.tags()  # every rule module registered
    return _RULES[name]
