"""Keras callbacks that more than one command uses: stopping on a swallowed Ctrl+C, and
timing each epoch."""

from __future__ import annotations

import time
from typing import Any

from bench.core import stop
from bench.keras.compat import keras


class StopCheck(keras.callbacks.Callback):
    """Raises, at the next batch or epoch end, a Ctrl+C or SIGTERM that library code
    swallowed (``bench.core.stop``)."""

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        stop.check()

    on_test_batch_begin = on_predict_batch_begin = on_epoch_end = on_train_batch_begin


class EpochTimes(keras.callbacks.Callback):
    """Each epoch's wall-clock seconds, from its first batch's start to its end."""

    def on_train_begin(self, logs: Any = None) -> None:
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.seconds.append(time.perf_counter() - self.start)
