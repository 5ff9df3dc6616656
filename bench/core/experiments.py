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

from bench.core import backend
from bench.core.checks import whole_number
from bench.core.rates import (
    Constant,
    Course,
    PerEpoch,
    PerUpdate,
    Plateau,
    RatePolicy,
    TimeBased,
)
from bench.core.schedules import LearningRateDecay

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


def steps_per_epoch(images: int, batch_size: int = BATCH_SIZE) -> int:
    """Batches per epoch as Keras counts them (a last, partial batch counts)."""
    return math.ceil(whole_number("images", images) / whole_number("batch_size", batch_size))


@dataclass(frozen=True)
class Experiment:
    """One of the post's runs of ``train.py``, its rate set by one ``policy``
    (``bench.core.rates``): constant ("none"), Keras' time-based decay ("standard"), a
    per-epoch schedule the post hands to ``LearningRateScheduler`` (step, linear, poly),
    and beyond the post per-update schedules, whose lengths are given as fractions of the
    run, and Keras' ``ReduceLROnPlateau``.
    """

    name: str
    cli_value: str  # what the post passes to --schedule ("" means no schedule)
    info: str  # the post's "[INFO] ..." line for this schedule
    lr_plot: str | None = None  # the post's file name for the schedule's figure
    policy: RatePolicy = field(default_factory=Constant)
    init_lr: float = INIT_LR  # the optimizer's initial rate, which a policy may move
    momentum: float = MOMENTUM
    batch_size: int = BATCH_SIZE
    epochs: int = EPOCHS
    model_args: dict[str, Any] = field(default_factory=lambda: dict(MODEL_ARGS))
    lr_source: str | None = None  # where --base-lr/--max-lr came from (the results record it)

    def course(self, epochs: int | None = None, steps: int | None = None) -> Course:
        """A run of ``epochs`` epochs (default: the experiment's) of ``steps`` updates
        (default: the post's 391), as its policy sees it."""
        return Course(self.init_lr, self._epochs(epochs), steps or _post_steps())

    def schedule(
        self, epochs: int | None = None, steps: int | None = None
    ) -> LearningRateDecay | None:
        """The schedule Keras is handed for a run of ``epochs`` epochs of ``steps`` updates
        (``course``), or None where the run uses none."""
        return self.policy.schedule(self.course(epochs, steps))

    @property
    def per_iteration(self) -> bool:
        """Whether the schedule changes the rate every update (the optimizer's own
        ``learning_rate``) rather than every epoch (``LearningRateScheduler``)."""
        return self.policy.kind == "per-update"

    @property
    def plateau(self) -> dict[str, Any] | None:
        """``ReduceLROnPlateau``'s arguments, or None where the rate follows no loss."""
        return dict(self.policy.args) if self.policy.kind == "plateau" else None

    def decay(self, epochs: int | None = None) -> float:
        """The optimizer's ``decay`` argument in the post: ``1e-1 / epochs`` for "standard"."""
        return self.policy.decay(self.course(epochs))

    def epoch_rates(
        self,
        epochs: int | None = None,
        images: int = TRAIN_IMAGES,
        batch: Literal["first", "last"] = "last",
    ) -> list[float]:
        """Each epoch's rate (``schedules.EPOCH_RATE``: the one its last batch trains with),
        or with ``batch="first"`` its first batch's, for every experiment but plateau."""
        course = self.course(epochs, steps_per_epoch(images, self.batch_size))
        try:
            return self.policy.history(course, batch)
        except ValueError as exc:
            raise ValueError(f"{self.name}: {exc}") from None

    def _epochs(self, epochs: int | None) -> int:
        return whole_number("epochs", self.epochs if epochs is None else epochs)


def _post(name: str, info: str, policy: RatePolicy) -> Experiment:
    """One of the post's five: ``train.py --schedule name``, its "[INFO]" line, and the
    post's file name for its rate figure where it draws one."""
    return Experiment(
        name=name,
        cli_value="" if name == "none" else name,
        info=f"[INFO] {info}",
        lr_plot=f"lr_{name}_schedule.png" if policy.schedule_name else None,
        policy=policy,
    )


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        _post("none", "no learning rate schedule being used", Constant()),
        _post("standard", "using 'keras standard' learning rate decay...", TimeBased()),
        _post(
            "step",
            "using 'step-based' learning rate decay...",
            PerEpoch(
                name="StepDecay", args={"initAlpha": INIT_LR, "factor": 0.25, "dropEvery": 15}
            ),
        ),
        _post(
            "linear",
            "using 'linear' learning rate decay...",
            PerEpoch(name="PolynomialDecay", args={"initAlpha": INIT_LR, "power": 1}),
        ),
        _post(
            "poly",
            "using 'polynomial' learning rate decay...",
            PerEpoch(name="PolynomialDecay", args={"initAlpha": INIT_LR, "power": 5}),
        ),
    )
}


def _post_steps() -> int:
    return steps_per_epoch(TRAIN_IMAGES)


def _beyond(name: str, info: str, policy: RatePolicy) -> Experiment:
    """An experiment beyond the post, its files named after it the post's way."""
    stem = name.replace("-", "_")
    return Experiment(
        name=name,
        cli_value=name,
        info=f"[INFO] using {info}...",
        lr_plot=f"lr_{stem}_schedule.png" if policy.schedule_name else None,
        policy=policy,
    )


# Beyond the post: the schedules it names and leaves out, at its initial rate 1e-1.
# Cycles of a tenth of the run (Smith suggests 4-20 epochs per cycle; this is 10 of 100).
_CYCLIC = {"base_lr": 1e-3, "max_lr": INIT_LR, "half_cycle": 0.05}
EXTRA: dict[str, Experiment] = {
    e.name: e
    for e in (
        _beyond(
            "exponential",
            "'exponential' learning rate decay",
            PerEpoch(name="ExponentialDecay", args={"initAlpha": INIT_LR, "decayRate": 0.95}),
        ),
        _beyond(
            "cyclic-triangular",
            "'triangular' cyclical learning rates",
            PerUpdate(name="CyclicLR", args={**_CYCLIC, "mode": "triangular"}),
        ),
        _beyond(
            "cyclic-triangular2",
            "'triangular2' cyclical learning rates",
            PerUpdate(name="CyclicLR", args={**_CYCLIC, "mode": "triangular2"}),
        ),
        # exp_range: 1 % of the amplitude is left at the last update.
        _beyond(
            "cyclic-exp_range",
            "'exp_range' cyclical learning rates",
            PerUpdate(
                name="CyclicLR", args={**_CYCLIC, "mode": "exp_range", "amplitude_end": 0.01}
            ),
        ),
        _beyond(
            "one-cycle",
            "the one-cycle policy",
            PerUpdate(name="OneCycle", args={"max_lr": INIT_LR, "pct_start": 0.3}),
        ),
        _beyond(
            "cosine-warmup",
            "cosine decay with linear warm-up",
            PerUpdate(
                name="WarmupCosineDecay",
                args={"initAlpha": 0.0, "warmupTarget": INIT_LR, "warmup": 0.05},
            ),
        ),
        # Divide by 4 (step's factor) after 5 epochs without a better val_loss.
        _beyond(
            "plateau",
            "ReduceLROnPlateau",
            Plateau(args={"monitor": "val_loss", "factor": 0.25, "patience": 5, "min_lr": 1e-5}),
        ),
    )
}
ALL: dict[str, Experiment] = {**EXPERIMENTS, **EXTRA}


def get(name: str) -> Experiment:
    """The experiment called ``name`` (or the post's ``--schedule`` value: "" is "none")."""
    for experiment in ALL.values():
        if name in (experiment.name, experiment.cli_value):
            return experiment
    raise ValueError(f"unknown schedule {name!r}: choose one of {', '.join(ALL)}")


def names(spec: str | None) -> list[str]:
    """Experiment names from a ``--schedules`` value: a comma-separated list of names,
    ``post`` (the post's five, the default), ``extra`` (the rest) or ``all``."""
    groups = {"post": list(EXPERIMENTS), "extra": list(EXTRA), "all": list(ALL)}
    chosen: list[str] = []
    for part in (spec or "post").split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"--schedules {spec!r} has an empty item")
        for name in groups.get(part) or [get(part).name]:
            if name not in chosen:
                chosen.append(name)
    return chosen


# --- the quick reproduction (README's main job): the post's five experiments, scaled to
# finish in a few minutes on a 2-core CPU. Not comparable with the post's CIFAR-10 numbers.
QUICK_DATASET = "digits"
QUICK_EPOCHS = 10
QUICK_BATCH_SIZE = 64
# One bottleneck module per stage at half width: 13 convolutions instead of 85.
QUICK_MODEL_ARGS: dict[str, Any] = {**MODEL_ARGS, "stages": (1, 1, 1), "filters": (32, 32, 64, 128)}


def scaled(experiment: Experiment, epochs: int, **changes: Any) -> Experiment:
    """``experiment`` for a run of ``epochs`` epochs, its policy scaled from the post's
    ``EPOCHS`` (``RatePolicy.scaled``).

    linear, poly and standard already follow the run's epochs (maxEpochs=epochs,
    decay=lr/epochs), and the extra schedules its length; step's dropEvery=15 and
    plateau's patience=5 are scaled by epochs/100 (at least 1) so a short run's rate still
    falls in steps all through it, as the post's does.
    """
    whole_number("epochs", epochs)
    policy = experiment.policy.scaled(epochs, EPOCHS)
    return replace(experiment, epochs=epochs, policy=policy, **changes)


def quick(experiment: Experiment) -> Experiment:
    """``experiment`` as the quick reproduction runs it."""
    return scaled(
        experiment, QUICK_EPOCHS, batch_size=QUICK_BATCH_SIZE, model_args=dict(QUICK_MODEL_ARGS)
    )


def configure(
    name: str,
    *,
    quick_setup: bool = False,
    epochs: int | None = None,
    batch_size: int | None = None,
    model: Literal["post", "quick"] = "post",
    rates: dict[str, float] | None = None,
    lr_source: str | None = None,
) -> Experiment:
    """The experiment ``name`` with a command's overrides: the one place they are applied.

    ``quick_setup`` is the quick reproduction's (``quick``); ``epochs`` then rescales it
    (``scaled``), while for the post's set-up it only sets the run's length (step keeps
    dropEvery=15, as the post's ``train.py -e N`` would). ``model="quick"`` is the quick
    reproduction's small ResNet.
    """
    experiment = get(name)
    if quick_setup:
        experiment = quick(experiment)
        if epochs is not None:
            experiment = scaled(experiment, epochs)
    elif epochs is not None:
        experiment = replace(experiment, epochs=whole_number("epochs", epochs))
    if batch_size is not None:
        experiment = replace(experiment, batch_size=whole_number("batch_size", batch_size))
    if model == "quick":
        experiment = replace(experiment, model_args=dict(QUICK_MODEL_ARGS))
    return with_rates(experiment, rates, lr_source) if rates else experiment


def with_rates(experiment: Experiment, rates: dict[str, float], source: str | None) -> Experiment:
    """``experiment`` with its schedule's ``base_lr``/``max_lr`` set (cyclic, one-cycle):
    the rates a range test can set (bench lr-find; train --base-lr/--max-lr)."""
    unknown = [name for name in rates if name not in experiment.policy.tunable]
    if unknown:
        takers = ", ".join(n for n, e in ALL.items() if e.policy.tunable)
        flag = unknown[0].replace("_", "-")
        raise ValueError(f"{experiment.name} takes no --{flag}: only {takers} do")
    policy = experiment.policy.with_args(**rates)
    policy.schedule(Course(experiment.init_lr, EPOCHS, 1))  # checks the rates now
    return replace(experiment, policy=policy, lr_source=source)


@dataclass(frozen=True)
class Run:
    """One run: an experiment (every hyperparameter), a seed, and the data it trains on.

    ``bench.keras.train.run`` reads every setting from here, and a resumed or finished run is
    recognised by them.
    """

    experiment: Experiment
    seed: int = 42
    dataset: str = "cifar10"
    subset: int | None = None
    deterministic: bool = False
    backend: str = field(default_factory=backend.configured)  # Keras' backend
    subset_seed: int = 0  # draws --subset: one subset for every seed of a run set

    def __post_init__(self) -> None:
        whole_number("seed", self.seed, minimum=0)
        whole_number("subset_seed", self.subset_seed, minimum=0)
        if self.subset is not None:
            whole_number("subset", self.subset)
