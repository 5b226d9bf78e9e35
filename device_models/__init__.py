"""Device models: one module per device kind, each declaring its physics once, plus YAML
presets (model cards holding only overrides and a required ``source:`` citation).

Adding a device means adding a module here that calls :func:`register`; it is imported below
by discovery, so nothing in ``thermochip`` changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import yaml

from device_models.base import CellModel, get_model, list_models, model_for_kernel_params, register

PRESET_DIR = Path(__file__).parent / "presets"

for _info in pkgutil.iter_modules(__path__):
    if _info.name not in ("base", "adc", "dac"):
        importlib.import_module(f"device_models.{_info.name}")


def list_presets(model: str) -> list[str]:
    return sorted(p.stem for p in (PRESET_DIR / model).glob("*.yaml"))


def load_preset(model: str, name: str) -> dict:
    """The preset's YAML mapping: ``source`` (citation) and ``params`` (overrides)."""
    path = PRESET_DIR / model / f"{name}.yaml"
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


__all__ = ["CellModel", "get_model", "list_models", "list_presets", "load_preset",
           "model_for_kernel_params", "register", "PRESET_DIR"]
