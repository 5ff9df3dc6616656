"""Per-step training times, for a speed ratio with a confidence interval (the upgrade
check). ``bench speed`` keeps one mean per epoch; a bootstrap needs every step's time.

The quick reproduction's ResNet at its batch of 64 on random uint8 images fed as a run
feeds them, so a 2-core CPU times enough steps in seconds. The first epoch traces and
compiles and is not timed.
"""

from __future__ import annotations

import time
from typing import Any

from bench.core import experiments
from bench.keras import compat, speed
from bench.keras.compat import keras


class StepTimes(keras.callbacks.Callback):
    """Wall milliseconds of each training step, from its start to its end; ``added_ms``
    sleeps that long inside each timed step: a known slowdown, to calibrate the verdict."""

    def __init__(self, added_ms: float = 0.0) -> None:
        super().__init__()
        self.added_ms = added_ms

    def on_train_begin(self, logs: Any = None) -> None:
        self.ms: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.added_ms:
            time.sleep(self.added_ms / 1000)
        self.ms.append(1000 * (time.perf_counter() - self.start))


def measure(
    steps: int,
    batch_size: int = experiments.QUICK_BATCH_SIZE,
    model: str = "quick",
    seed: int = 0,
    added_ms: float = 0.0,
) -> dict[str, Any]:
    """Each step's ms of the second of two epochs of ``steps`` updates."""
    times = StepTimes(added_ms)
    speed.random_fit(steps, batch_size, model, seed, times)
    return {
        "environment": compat.environment(),
        "setup": {"model": model, "batch_size": batch_size, "steps": steps, "added_ms": added_ms},
        "ms_per_step": times.ms[steps:],
    }
