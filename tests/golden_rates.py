"""Each experiment's learning rates from ``golden/derive_schedules.py``, the exact-rational
derivation written apart from ``bench`` (it imports nothing from it): what a test expects a
run's ``history.lr`` to hold, computed without the code under test.

A run records, per epoch, the float32 of the rate its last update trained with (Keras keeps
rates in float32); ``last_update_rates`` gives exactly that. Plateau's rate follows the
losses, so it has none.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

_PATH = Path(__file__).resolve().parents[1] / "golden" / "derive_schedules.py"
_SPEC = importlib.util.spec_from_file_location("derive_schedules", _PATH)
DERIVATION = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(DERIVATION)

# The post's set-up (blog.txt 168-215): 100 epochs of ceil(50,000 / 128) = 391 updates.
POST_EPOCHS = DERIVATION.EPOCHS
POST_STEPS = DERIVATION.STEPS


def _per_update(name: str, epochs: int, steps: int) -> Callable[[int], object]:
    """The rate of update ``t`` (0-based, over the whole run) of experiment ``name``, in
    the derivation's terms: cycles of a tenth of the run (half cycles of 5 %) from 1e-3 to
    1e-1, exp_range's amplitude down to 1 % at the last update, one-cycle peaking at 1e-1
    after 30 %, a warm-up over 5 % of the run from 0 to 1e-1 (golden/derive_schedules.py's
    beyond-the-post set-up, at this run's length)."""
    d = DERIVATION
    total = epochs * steps
    half = max(1, round(total / 20))  # a cycle has at least one update each way
    warmup = round(total / 20)
    gamma = 0.01 ** (1 / total)
    by_epoch = {
        "none": lambda e: d.ALPHA,
        "step": lambda e: d.step(e),
        "linear": lambda e: d.poly(e, 1, epochs),
        "poly": lambda e: d.poly(e, 5, epochs),
        "exponential": lambda e: d.ALPHA * Fraction(95, 100) ** e,
    }
    if name in by_epoch:
        return lambda t: by_epoch[name](t // steps)
    by_update = {
        "standard": lambda t: d.standard(t, epochs),
        "cyclic-triangular": lambda t: d.cyclic(t, d.BASE, d.ALPHA, half, "triangular"),
        "cyclic-triangular2": lambda t: d.cyclic(t, d.BASE, d.ALPHA, half, "triangular2"),
        "cyclic-exp_range": lambda t: d.cyclic(t, d.BASE, d.ALPHA, half, "exp_range", gamma),
        "one-cycle": lambda t: d.one_cycle(t, d.ALPHA, total, Fraction(3, 10)),
        "cosine-warmup": lambda t: d.warmup_cosine(t, Fraction(0), d.ALPHA, warmup, total - warmup),
    }
    return by_update[name]


def last_update_rates(
    name: str, epochs: int = POST_EPOCHS, steps: int = POST_STEPS
) -> list[float] | None:
    """The float32 rate of each epoch's last update, as a finished run of ``name`` records
    it in ``history.lr``; None for plateau."""
    if name == "plateau":
        return None
    rate = _per_update(name, epochs, steps)
    return [float(np.float32(float(rate(e * steps + steps - 1)))) for e in range(epochs)]


def keras_printed(rate: float) -> str:
    """``rate`` as Keras' progress bar prints it (golden/README.md): ``%.4f`` above 1e-3,
    ``%.4e`` otherwise."""
    return f"{rate:.4f}" if abs(rate) > 1e-3 else f"{rate:.4e}"
