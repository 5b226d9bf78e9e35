"""All numba code. One kernel module per dynamics kind (``langevin.py``; a device model names
its kind), each exporting ``LAYOUTS`` (its step kernel per layout, ``batched`` and / or
``replicas``, all taking the arguments of :mod:`thermochip._kernels.args`) and ``COUPLINGS``
(the coupling form it reads: ``blocks`` or ``rows``); plus what the kinds share (JIT settings,
device dispatch, counter-based random numbers, the ADC, DAC writes, filters)."""

from __future__ import annotations

import importlib


def kind_module(kind: str):
    """The kernel module of dynamics kind ``kind`` (its ``LAYOUTS`` and ``COUPLINGS``)."""
    return importlib.import_module(f"thermochip._kernels.{kind}")
