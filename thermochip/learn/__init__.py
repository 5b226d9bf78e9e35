"""On-chip learners, one module per rule (``ep``, ``asymep``, ``dyadic``, ``om``), each
registering its spec section, requirements and circuit (:mod:`thermochip.learn.rules`); the
modules here are discovered, as device models are. A learner sees only what a circuit next to
each coupler could see: ADC samples of the cells at both ends (and the input DAC value for
input couplers), a global phase signal and its learning rate; it writes couplings through the
DAC. The host never imports this package: :mod:`thermochip.training` wires the two
together."""

from __future__ import annotations

import importlib
import pkgutil

from thermochip.chip import Chip
from thermochip.learn.base import AbstractLearner
from thermochip.learn.rules import get_rule

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")


def make_learner(chip: Chip, n_classes: int) -> AbstractLearner:
    """The learning circuit the chip's spec asks for (``learner.rule``)."""
    return get_rule(chip.spec.learner.rule).circuit(chip, n_classes)


__all__ = ["AbstractLearner", "make_learner"]
