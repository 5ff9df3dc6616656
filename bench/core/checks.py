"""The one check for the whole numbers a user gives (epochs, batch size, subset, seeds...).

The CLI's argparse types and the API raise the same text, so ``-e 0`` and
``Experiment(...).schedule(0)`` read alike: "epochs must be a whole number > 0, got 0".
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

# The largest value each whole number a user gives may take: far beyond any real use (the
# post trains 100 epochs of 391 steps), and small enough that a typo such as -e 1000000000
# is one line at once instead of minutes of growing memory. numpy's seeds are 32-bit.
# Each flag's two spellings side by side (fmt: skip keeps the table packed).
LIMITS = {"epochs": 10_000, "seeds": 1_000, "seed": 2**32 - 1, "subset-seed": 2**32 - 1,
          "subset_seed": 2**32 - 1, "steps": 1_000_000, "batch-size": 65_536,
          "batch_size": 65_536, "subset": 10_000_000, "workers": 1_024}  # fmt: skip


def whole_number(name: str, value: object, minimum: int = 1) -> int:
    """``value`` if it is an int (not a bool) >= ``minimum`` (and at most ``LIMITS[name]``
    where one is set), else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        bound = "> 0" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name} must be a whole number {bound}, got {value!r}")
    if value > LIMITS.get(name, value):
        raise ValueError(f"{name} must be at most {LIMITS[name]:,}, got {value:,}")
    return value


def positive_rate(name: str) -> Callable[[str], float]:
    """An argparse ``type`` for a learning rate: a finite number > 0."""

    def parse(text: str) -> float:
        value = float(text)  # ValueError: argparse reports "invalid float value"
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number > 0, got {text}")
        return value

    parse.__name__ = "float"
    return parse


def argument(name: str, minimum: int = 1) -> Callable[[str], int]:
    """An argparse ``type`` for ``whole_number``: text that is no int reads as argparse's
    own "invalid int value: 'two'"; a number out of range as ``whole_number`` says."""

    def parse(text: str) -> int:
        value = int(text)  # ValueError: argparse reports "invalid int value"
        try:
            return whole_number(name, value, minimum)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = "int"
    parse.limit = LIMITS.get(name)  # type: ignore[attr-defined]  # the CLI's --help states it
    return parse
