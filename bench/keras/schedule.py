"""A run's rate policy (``bench.core.rates``) wired into Keras: the one place that knows
what each kind needs of it.

- constant: the optimizer's rate; time-based: the optimizer's ``decay`` (``compat.sgd``);
- per-epoch: Keras' ``LearningRateScheduler``, which sets the rate once per epoch;
- per-update: the optimizer's own ``learning_rate`` (``TabulatedSchedule``), which Keras
  evaluates at its update count before every update;
- plateau: Keras' ``ReduceLROnPlateau``, able to resume (``ResumablePlateau``).

A per-update schedule's rates are computed once, in Python float64 by the same closed form
the per-epoch callback uses, for every update of the run; the optimizer looks its update
count up in that table (the last rate holds past the end). So at every epoch boundary
the rate is the callback's, bit for bit, and no formula is written twice. A table of
``epochs * steps_per_epoch`` float32s is small (100 x 391 updates: 153 KiB). The lookup
is ``keras.ops`` (``bench.keras.compat.ops``), so one schedule serves every backend.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import state
from bench.core.checks import whole_number
from bench.core.experiments import Experiment
from bench.core.rates import Course, RatePolicy
from bench.core.schedules import LearningRateDecay
from bench.keras import compat
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


class ResumablePlateau(keras.callbacks.ReduceLROnPlateau):
    """Keras' ReduceLROnPlateau, able to resume.

    It keeps its best loss and patience count in itself, which BackupAndRestore does not
    save; so before the first epoch of a resumed run the epochs already logged are replayed
    through Keras' own ``on_epoch_end``, against a stand-in optimizer, and the real one
    (whose rate the backup restored) is left alone.
    """

    def __init__(self, log: Path, init_lr: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.log, self.init_lr = Path(log), init_lr

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.replayed = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self.replayed:  # the first epoch run here: BackupAndRestore has said which
            self.replayed = True
            self._replay(epoch)

    def _replay(self, epochs: int) -> None:
        if epochs == 0:
            return
        rows = state.log_rows(self.log)
        model, verbose = self.model, self.verbose
        stand_in = types.SimpleNamespace(optimizer=compat.sgd(self.init_lr, 0.0))
        self.set_model(stand_in)
        self.verbose = 0
        try:
            for epoch in range(epochs):
                self.on_epoch_end(epoch, {self.monitor: float(rows[epoch][self.monitor])})
        finally:
            self.set_model(model)
            self.verbose = verbose


# What each kind hands Keras: (the optimizer's learning_rate, its decay, callbacks).
Hooks = tuple[Any, float, list[Any]]


def _constant(policy: RatePolicy, course: Course, log: Path) -> Hooks:
    return course.init_lr, 0.0, []


def _time_based(policy: RatePolicy, course: Course, log: Path) -> Hooks:
    return course.init_lr, policy.decay(course), []


def _per_epoch(policy: RatePolicy, course: Course, log: Path) -> Hooks:
    scheduler = keras.callbacks.LearningRateScheduler(policy.schedule(course))
    return course.init_lr, 0.0, [scheduler]


def _per_update(policy: RatePolicy, course: Course, log: Path) -> Hooks:
    return to_keras(policy.schedule(course), course.steps, course.epochs), 0.0, []


def _plateau(policy: RatePolicy, course: Course, log: Path) -> Hooks:
    plateau = ResumablePlateau(log, course.init_lr, **policy.args, verbose=1)
    return course.init_lr, 0.0, [plateau]


KINDS: dict[str, Callable[[RatePolicy, Course, Path], Hooks]] = {
    "constant": _constant,
    "time-based": _time_based,
    "per-epoch": _per_epoch,
    "per-update": _per_update,
    "plateau": _plateau,
}


def attach(
    experiment: Experiment, steps: int | None = None, log: Path = Path("log.csv")
) -> tuple[Any, list[Any]]:
    """The post's SGD for ``experiment`` (``steps`` updates per epoch, default the post's
    391) with its rate policy wired in, and the callbacks the policy needs (the plateau's
    resumes from the run's CSV ``log``)."""
    rate, decay, callbacks = KINDS[experiment.policy.kind](
        experiment.policy, experiment.course(steps=steps), log
    )
    return compat.sgd(rate, experiment.momentum, decay), callbacks


def optimizer(experiment: Experiment, steps: int | None = None) -> Any:
    """The optimizer of ``attach``, without its callbacks (a per-epoch schedule then
    trains at the initial rate)."""
    return attach(experiment, steps)[0]
