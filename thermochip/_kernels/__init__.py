"""All numba code. One kernel module per dynamics kind (``langevin.py``; a device model names
its kind), each exporting ``LAYOUTS``: its step kernel per layout, all taking the arguments of
:mod:`thermochip._kernels.args`; plus what the kinds share (JIT settings, device dispatch,
counter-based random numbers, DAC writes, filters)."""

from __future__ import annotations

import importlib


def kind_kernels(kind: str) -> dict:
    """The step kernels of dynamics kind ``kind``, by layout (``batched``, ``replicas``)."""
    return importlib.import_module(f"thermochip._kernels.{kind}").LAYOUTS
