"""``thermochip schema``: the JSON Schema of chip spec files."""

from __future__ import annotations

import argparse
import json

ORDER = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    """Print the JSON Schema (draft 2020-12) of chip spec files."""
    from thermochip.spec_schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0
