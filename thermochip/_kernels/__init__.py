"""All numba code. One kernel module per dynamics kind (``langevin.py``, ``pbit.py``; a device
model names its kind), each exporting ``LAYOUTS`` (a :class:`Layout` per name, ``batched``
and / or ``replicas``, every kernel taking the arguments of :mod:`thermochip._kernels.args`)
and ``choose_layout``; plus what the kinds share (JIT settings, device dispatch, counter-based
random numbers, the ADC, DAC writes, filters)."""

from __future__ import annotations

import importlib
from typing import Callable, NamedTuple


class Layout(NamedTuple):
    """A kind's kernel in one layout: the coupling form it reads (``blocks``, ``rows`` or
    ``dense``, :mod:`thermochip._kernels.args`) and whether its per-replica arrays are
    cell-major (cell, replica) or replica-major (replica, cell)."""

    kernel: Callable
    couplings: str
    cell_major: bool


def kind_module(kind: str):
    """The kernel module of dynamics kind ``kind`` (its ``LAYOUTS`` and ``choose_layout``)."""
    return importlib.import_module(f"thermochip._kernels.{kind}")
