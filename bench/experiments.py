"""The post's five experiments, as data: every hyperparameter of the post lives here.

Each experiment is one run of the post's ``train.py``; the values are those of its code
and logs (``SGD(lr=1e-1, momentum=0.9, decay=decay)``, ``batch_size=128``, ``epochs=100``,
``ResNet.build(32, 32, 3, 10, (9, 9, 9), (64, 64, 128, 256), reg=0.0005)``). The post's
prose says the initial rate was 1e-2; its code and logs use 1e-1, and so do we.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from bench.schedules import LearningRateDecay, PolynomialDecay, StepDecay, TimeBasedDecay

INIT_LR = 1e-1
MOMENTUM = 0.9
BATCH_SIZE = 128
EPOCHS = 100
LOSS = "categorical_crossentropy"
METRICS = ("accuracy",)
# ResNet.build(width, height, depth, classes, stages, filters, reg) as the post calls it.
MODEL_ARGS: dict[str, Any] = {
    "width": 32,
    "height": 32,
    "depth": 3,
    "classes": 10,
    "stages": (9, 9, 9),
    "filters": (64, 64, 128, 256),
    "reg": 0.0005,
}
# CIFAR-10's training set; with BATCH_SIZE it gives the post's "391/391" steps.
TRAIN_IMAGES = 50_000

_SCHEDULE_CLASSES: dict[str, type[LearningRateDecay]] = {
    "StepDecay": StepDecay,
    "PolynomialDecay": PolynomialDecay,
}


def steps_per_epoch(images: int, batch_size: int = BATCH_SIZE) -> int:
    """Batches per epoch as Keras counts them (a last, partial batch counts)."""
    _check_positive_int("images", images)
    _check_positive_int("batch_size", batch_size)
    return math.ceil(images / batch_size)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a whole number > 0, got {value!r}")


@dataclass(frozen=True)
class Experiment:
    """One of the post's runs of ``train.py``.

    ``schedule_class``/``schedule_args`` name the per-epoch schedule the post hands to
    ``LearningRateScheduler`` (``maxEpochs`` is the run's epoch count, as in the post);
    ``time_based`` marks Keras' optimizer ``decay = INIT_LR / epochs``.
    """

    name: str
    cli_value: str  # what the post passes to --schedule ("" means no schedule)
    info: str  # the post's "[INFO] ..." line for this schedule
    train_plot: str  # the post's output file names
    lr_plot: str | None = None
    schedule_class: str | None = None
    schedule_args: dict[str, Any] = field(default_factory=dict)
    time_based: bool = False
    init_lr: float = INIT_LR
    momentum: float = MOMENTUM
    batch_size: int = BATCH_SIZE
    epochs: int = EPOCHS
    model_args: dict[str, Any] = field(default_factory=lambda: dict(MODEL_ARGS))

    def schedule(self, epochs: int | None = None) -> LearningRateDecay | None:
        """The callable for ``LearningRateScheduler``, or None where the post uses none."""
        epochs = self._epochs(epochs)
        if self.schedule_class is None:
            return None
        cls = _SCHEDULE_CLASSES[self.schedule_class]
        args = dict(self.schedule_args)
        if cls is PolynomialDecay:
            args["maxEpochs"] = epochs
        return cls(**args)

    def decay(self, epochs: int | None = None) -> float:
        """The optimizer's ``decay`` argument in the post: ``1e-1 / epochs`` for "standard"."""
        epochs = self._epochs(epochs)
        return self.init_lr / epochs if self.time_based else 0.0

    def time_decay(self, epochs: int | None = None) -> TimeBasedDecay:
        """The per-iteration rate the optimizer applies (constant unless "standard")."""
        return TimeBasedDecay(initAlpha=self.init_lr, decay=self.decay(epochs))

    def epoch_rates(
        self,
        epochs: int | None = None,
        images: int = TRAIN_IMAGES,
        batch: Literal["first", "last"] = "first",
    ) -> list[float]:
        """The rate the first (or last) batch of each epoch trains with, for every experiment.

        With a per-epoch schedule the optimizer's own decay is 0, so it is the schedule's
        value; otherwise it is the time-based rate (constant for "none").
        """
        epochs = self._epochs(epochs)
        schedule = self.schedule(epochs)
        if schedule is not None:
            return schedule.table(epochs)
        steps = steps_per_epoch(images, self.batch_size)
        return self.time_decay(epochs).epoch_table(epochs, steps, batch)

    def _epochs(self, epochs: int | None) -> int:
        epochs = self.epochs if epochs is None else epochs
        _check_positive_int("epochs", epochs)
        return epochs


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            name="none",
            cli_value="",
            info="[INFO] no learning rate schedule being used",
            train_plot="train_no_schedule.png",
        ),
        Experiment(
            name="standard",
            cli_value="standard",
            info="[INFO] using 'keras standard' learning rate decay...",
            train_plot="train_standard_schedule.png",
            time_based=True,
        ),
        Experiment(
            name="step",
            cli_value="step",
            info="[INFO] using 'step-based' learning rate decay...",
            train_plot="train_step_schedule.png",
            lr_plot="lr_step_schedule.png",
            schedule_class="StepDecay",
            schedule_args={"initAlpha": INIT_LR, "factor": 0.25, "dropEvery": 15},
        ),
        Experiment(
            name="linear",
            cli_value="linear",
            info="[INFO] using 'linear' learning rate decay...",
            train_plot="train_linear_schedule.png",
            lr_plot="lr_linear_schedule.png",
            schedule_class="PolynomialDecay",
            schedule_args={"initAlpha": INIT_LR, "power": 1},
        ),
        Experiment(
            name="poly",
            cli_value="poly",
            info="[INFO] using 'polynomial' learning rate decay...",
            train_plot="train_poly_schedule.png",
            lr_plot="lr_poly_schedule.png",
            schedule_class="PolynomialDecay",
            schedule_args={"initAlpha": INIT_LR, "power": 5},
        ),
    )
}


def get(name: str) -> Experiment:
    """The experiment called ``name`` (or the post's ``--schedule`` value: "" is "none")."""
    for experiment in EXPERIMENTS.values():
        if name in (experiment.name, experiment.cli_value):
            return experiment
    raise ValueError(f"unknown schedule {name!r}: choose one of {', '.join(EXPERIMENTS)}")


# --- the quick reproduction (README's main job): the post's five experiments, scaled to
# finish in a few minutes on a 2-core CPU. Not comparable with the post's CIFAR-10 numbers.
QUICK_DATASET = "digits"
QUICK_EPOCHS = 10
QUICK_BATCH_SIZE = 64
# One bottleneck module per stage at half width: 13 convolutions instead of 85.
QUICK_MODEL_ARGS: dict[str, Any] = {**MODEL_ARGS, "stages": (1, 1, 1), "filters": (32, 32, 64, 128)}


def scaled(experiment: Experiment, epochs: int, **changes: Any) -> Experiment:
    """``experiment`` for a run of ``epochs`` epochs, with the step schedule's drops scaled.

    linear, poly and standard already follow the run's epochs (maxEpochs=epochs,
    decay=lr/epochs); step's dropEvery=15 is scaled by epochs/100 (at least 1) so a short
    run's rate still falls in steps all through it, as the post's does.
    """
    _check_positive_int("epochs", epochs)
    args = dict(experiment.schedule_args)
    if "dropEvery" in args:
        args["dropEvery"] = max(1, round(args["dropEvery"] * epochs / EPOCHS))
    return replace(experiment, epochs=epochs, schedule_args=args, **changes)


def quick(experiment: Experiment) -> Experiment:
    """``experiment`` as the quick reproduction runs it."""
    return scaled(
        experiment, QUICK_EPOCHS, batch_size=QUICK_BATCH_SIZE, model_args=dict(QUICK_MODEL_ARGS)
    )
