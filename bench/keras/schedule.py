"""Any ``bench.core.schedules`` schedule as a Keras ``LearningRateSchedule``, for the optimizer.

``LearningRateScheduler`` sets the rate once per epoch; a per-iteration schedule (cyclic,
one-cycle, warm-up, the time-based decay) has to be the optimizer's own
``learning_rate``, which Keras evaluates at its update count before every update.

The schedule's rates are computed once, in Python float64 by the same closed form the
per-epoch callback uses, for every update of the run; the optimizer looks its update
count up in that table (the last rate holds past the end). So at every epoch boundary
the rate is the callback's, bit for bit, and no formula is written twice. A table of
``epochs * steps_per_epoch`` float32s is small (100 x 391 updates: 153 KiB). The lookup
is ``keras.ops`` (``bench.keras.compat.ops``), so one schedule serves every backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.core.checks import whole_number
from bench.core.schedules import LearningRateDecay
from bench.keras.compat import keras, ops


class TabulatedSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule.rate_at(step, steps_per_epoch)`` for steps ``0 .. iterations - 1``."""

    def __init__(self, schedule: LearningRateDecay, steps_per_epoch: int, iterations: int):
        whole_number("iterations", iterations)
        self.schedule = schedule
        self.steps_per_epoch = steps_per_epoch
        self.iterations = iterations
        rates = [schedule.rate_at(t, steps_per_epoch) for t in range(iterations)]
        self.rates = ops.convert_to_tensor(np.asarray(rates, dtype="float32"))

    def __call__(self, step: Any) -> Any:
        # int32: JAX has no int64 by default, and 2**31 updates is far beyond any run.
        index = ops.minimum(ops.cast(step, "int32"), self.iterations - 1)
        return ops.take(self.rates, index)

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": repr(self.schedule),
            "steps_per_epoch": self.steps_per_epoch,
            "iterations": self.iterations,
        }


def to_keras(schedule: LearningRateDecay, steps_per_epoch: int, epochs: int) -> TabulatedSchedule:
    """``schedule`` for ``epochs`` epochs of ``steps_per_epoch`` updates, as the optimizer's
    ``learning_rate``."""
    return TabulatedSchedule(schedule, steps_per_epoch, epochs * steps_per_epoch)
