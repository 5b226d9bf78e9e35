"""On-chip learners. A learner sees only what a circuit next to each coupler could see: ADC
samples of the cells at both ends (and the input DAC value for input couplers), a global phase
signal and its learning rate; it writes couplings through the DAC. The host never imports
this package: :mod:`thermochip.run` wires the two together."""

from thermochip.learn.base import AbstractLearner, make_learner

__all__ = ["AbstractLearner", "make_learner"]
