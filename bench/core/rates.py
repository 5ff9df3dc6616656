"""A run's learning-rate policy: one type per kind, and the one place each kind is known.

- ``Constant``: the optimizer's initial rate all run (the post's "none");
- ``TimeBased``: Keras' old optimizer ``decay = init_lr / epochs`` (the post's "standard");
- ``PerEpoch``: a ``bench.core.schedules`` schedule of the epoch, which Keras'
  ``LearningRateScheduler`` sets at the start of every epoch (step, linear, poly, ...);
- ``PerUpdate``: a schedule of the update count, the optimizer's own rate (cyclic, ...);
- ``Plateau``: Keras' ``ReduceLROnPlateau``, which follows the run's losses.

A policy is told its run as a ``Course`` (the optimizer's initial rate, the epochs, the
updates per epoch). Each one gives the rate at (epoch, batch), its closed form, the rate
history a finished run must show (``problem``), its version for a shorter run
(``scaled``), and its config as a plain dict with its formula's version (``config`` and
``from_config``): what a run's identity holds, so results of another formula are other
settings. ``kind`` says what it needs of Keras; ``bench.keras.schedule`` provides it.

Results files written before the policy was recorded name it by ``config.schedule`` (the
schedule's repr), ``decay`` and ``plateau``: ``of_results`` rebuilds it from those, with
formula 1 (every formula's version then).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from bench.core import schedules
from bench.core.checks import whole_number
from bench.core.schedules import LearningRateDecay, TimeBasedDecay

# The formula of every policy recorded before formulas had versions.
FIRST_FORMULA = 1
# A logged rate is the float32 of the policy's, computed in float32 by Keras' own schedule
# for "standard": a few float32 ulps (2**-24 each, relatively) at most; a rate off by 1e-5
# relatively is already 80 ulps away.
LR_RTOL = 1e-6


@dataclass(frozen=True)
class Course:
    """What a policy knows of its run: the optimizer's initial rate, the epochs, and the
    updates per epoch."""

    init_lr: float
    epochs: int
    steps: int

    def __post_init__(self) -> None:
        whole_number("epochs", self.epochs)
        whole_number("steps_per_epoch", self.steps)


@dataclass(frozen=True)
class RatePolicy:
    """The base of every kind. ``formula`` is the version of the formula the policy was
    recorded with (None: this release's); ``args`` its arguments."""

    kind: ClassVar[str]
    FORMULA: ClassVar[int] = 1
    args: dict[str, Any] = field(default_factory=dict)
    formula: int | None = None

    @property
    def schedule_name(self) -> str | None:
        """The ``bench.core.schedules`` class it runs, or None."""
        return None

    @property
    def current(self) -> bool:
        """Whether it was recorded with this release's formula (else no rate is known)."""
        return self.formula in (None, self._formula())

    def _formula(self) -> int:
        return self.FORMULA

    def closed_form(self, course: Course) -> LearningRateDecay | None:
        """Its rate as a function of the update count, or None where the run decides it."""
        return TimeBasedDecay(initAlpha=course.init_lr, decay=self.decay(course))

    def schedule(self, course: Course) -> LearningRateDecay | None:
        """The schedule Keras is handed (a callback's or the optimizer's), or None."""
        return None

    def decay(self, course: Course) -> float:
        """The optimizer's time-based ``decay`` argument (0: none)."""
        return 0.0

    def rate(self, epoch: int, batch: int, course: Course) -> float:
        """The rate of batch ``batch`` of epoch ``epoch`` (both 0-based)."""
        whole_number("batch", batch, minimum=0)
        if batch >= course.steps:
            raise ValueError(f"batch must be < {course.steps} (the updates of an epoch)")
        return self._form(course).rate_at(epoch * course.steps + batch, course.steps)

    def history(self, course: Course, batch: Literal["first", "last"] = "last") -> list[float]:
        """Each epoch's rate (``schedules.EPOCH_RATE``: its last batch's), or with
        ``batch="first"`` its first batch's: what a finished run logs."""
        return self._form(course).epoch_table(course.epochs, course.steps, batch)

    def _form(self, course: Course) -> LearningRateDecay:
        form = self.closed_form(course) if self.current else None
        if form is None:
            raise ValueError(self._no_table())
        return form

    def _no_table(self) -> str:
        return f"{self.describe()} is formula {self.formula}, this release knows no rates of it"

    def problem(self, lr: list[float], course: Course) -> str | None:
        """What is wrong with ``lr``, a finished run's logged rate of each epoch, if any."""
        if not self.current:
            return None  # another formula's rates: the identity tells them apart
        want = self.history(course)
        for epoch, (got, rate) in enumerate(zip(lr, want, strict=True), 1):
            if not math.isclose(got, rate, rel_tol=LR_RTOL, abs_tol=1e-30):
                named = self.describe(course)
                return f"history.lr: epoch {epoch} logs {got}, where {named} gives {rate}"
        return None

    def describe(self, course: Course | None = None) -> str:
        return "the time-based rate"

    def scaled(self, epochs: int, full: int) -> RatePolicy:
        """The policy for a run of ``epochs`` epochs where it was chosen for ``full``."""
        return self

    @property
    def tunable(self) -> tuple[str, ...]:
        """The rates a range test may set (``bench lr-find``; ``--base-lr``/``--max-lr``)."""
        return ()

    def with_args(self, **changes: Any) -> RatePolicy:
        """The policy with some arguments changed."""
        return replace(self, args={**self.args, **changes})

    def config(self, course: Course) -> dict[str, Any]:
        """Its config at ``course``'s length, as plain data (``from_config`` reads it)."""
        return {"kind": self.kind, "formula": self.formula or self._formula(), "args": {}}

    def recorded(self, course: Course) -> dict[str, Any]:
        """The results' readable fields of the policy (``config.decay``, ``schedule``,
        ``plateau``, ``per_iteration``)."""
        form = self.schedule(course)
        return {
            "decay": self.decay(course),
            "schedule": repr(form) if form is not None else None,
            "plateau": None,
            "per_iteration": self.kind == "per-update",
        }


@dataclass(frozen=True)
class Constant(RatePolicy):
    """The optimizer's initial rate, all run (the post's "none")."""

    kind: ClassVar[str] = "constant"


@dataclass(frozen=True)
class TimeBased(RatePolicy):
    """Keras' optimizer ``decay = init_lr / epochs`` (the post's "standard"): the rate
    ``init_lr / (1 + decay * t)`` falls after every update."""

    kind: ClassVar[str] = "time-based"
    FORMULA: ClassVar[int] = TimeBasedDecay.FORMULA

    def decay(self, course: Course) -> float:
        return course.init_lr / course.epochs


@dataclass(frozen=True)
class Scheduled(RatePolicy):
    """A ``bench.core.schedules`` schedule, ``name`` with ``args`` (lengths may be given
    as fractions of the run: ``for_run``)."""

    name: str = ""

    def __post_init__(self) -> None:
        cls = schedules.SCHEDULES.get(self.name)
        if cls is None or issubclass(cls, schedules.IterationDecay) != (self.kind == "per-update"):
            raise ValueError(f"{self.name!r} is not a {self.kind} schedule")

    @property
    def cls(self) -> type[LearningRateDecay]:
        return schedules.SCHEDULES[self.name]

    @property
    def schedule_name(self) -> str | None:
        return self.name

    def _formula(self) -> int:
        return self.cls.FORMULA

    def schedule(self, course: Course) -> LearningRateDecay:
        return self.cls(**self.cls.for_run(self.args, course.epochs, course.steps))

    def closed_form(self, course: Course) -> LearningRateDecay:
        return self.schedule(course)

    def describe(self, course: Course | None = None) -> str:
        return repr(self.schedule(course)) if course is not None else self.name

    def scaled(self, epochs: int, full: int) -> RatePolicy:
        return replace(self, args=self.cls.scaled_args(self.args, epochs, full))

    @property
    def tunable(self) -> tuple[str, ...]:
        return self.cls.TUNABLE

    def config(self, course: Course) -> dict[str, Any]:
        # A policy read back from a record holds its arguments at the run's length already.
        args = vars(self.schedule(course)) if self.formula is None else self.args
        return {**super().config(course), "schedule": self.name, "args": dict(args)}


@dataclass(frozen=True)
class PerEpoch(Scheduled):
    """A schedule of the epoch, set by Keras' ``LearningRateScheduler`` at every epoch's
    start (the post's step, linear and poly)."""

    kind: ClassVar[str] = "per-epoch"


@dataclass(frozen=True)
class PerUpdate(Scheduled):
    """A schedule of the update count, the optimizer's own ``learning_rate``."""

    kind: ClassVar[str] = "per-update"


PLATEAU_ARGS = ("monitor", "factor", "patience", "min_lr")


@dataclass(frozen=True)
class Plateau(RatePolicy):
    """Keras' ``ReduceLROnPlateau`` with ``args``: from the initial rate, times ``factor``
    whenever ``monitor`` has not improved for ``patience`` epochs, never below ``min_lr``."""

    kind: ClassVar[str] = "plateau"

    def __post_init__(self) -> None:
        args = self.args
        if set(args) != set(PLATEAU_ARGS):
            raise ValueError(
                f"a plateau's arguments are {', '.join(PLATEAU_ARGS)}: got {sorted(args)}"
            )
        if not isinstance(args["monitor"], str):
            raise ValueError(f"monitor must be a metric's name, got {args['monitor']!r}")
        schedules.check_number("factor", args["factor"], "in (0, 1)", lambda v: 0 < v < 1)
        whole_number("patience", args["patience"], minimum=0)
        schedules.check_number("min_lr", args["min_lr"], "a finite number >= 0", lambda v: v >= 0)

    def closed_form(self, course: Course) -> None:
        return None

    def _no_table(self) -> str:
        return f"the rate follows {self.args['monitor']}; it has no table"

    def problem(self, lr: list[float], course: Course) -> str | None:
        """The rule a plateau's rates follow: the first epoch at the initial rate, each
        next one the same or ``factor`` times it (``min_lr`` at least)."""
        if not self.current:
            return None
        factor, floor = self.args["factor"], self.args["min_lr"]
        previous = course.init_lr
        for epoch, got in enumerate(lr, 1):
            allowed = [previous] if epoch == 1 else [previous, max(previous * factor, floor)]
            if not any(math.isclose(got, rate, rel_tol=LR_RTOL) for rate in allowed):
                rule = " or ".join(str(rate) for rate in allowed)
                return f"history.lr: epoch {epoch} logs {got}, where the plateau allows {rule}"
            previous = got
        return None

    def scaled(self, epochs: int, full: int) -> RatePolicy:
        """``patience`` scaled by ``epochs / full`` (at least 1)."""
        return self.with_args(patience=max(1, round(self.args["patience"] * epochs / full)))

    def config(self, course: Course) -> dict[str, Any]:
        return {**super().config(course), "args": dict(self.args)}

    def recorded(self, course: Course) -> dict[str, Any]:
        return {**super().recorded(course), "plateau": dict(self.args)}


# Each kind by its name: what a config's "kind" says.
KINDS: dict[str, type[RatePolicy]] = {
    cls.kind: cls for cls in (Constant, TimeBased, PerEpoch, PerUpdate, Plateau)
}
CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "kind": {"enum": list(KINDS)},
        "formula": {"type": "integer", "minimum": 1},
        "schedule": {"type": "string"},
        "args": {"type": "object"},
    },
    "required": ["kind", "formula", "args"],
    "additionalProperties": False,
}


def from_config(config: dict[str, Any]) -> RatePolicy:
    """The policy ``config`` (from ``RatePolicy.config``) records; ``ValueError`` for
    anything else."""
    try:
        cls = KINDS[config["kind"]]
        formula = whole_number("formula", config["formula"])
        named = {"name": config["schedule"]} if issubclass(cls, Scheduled) else {}
        return cls(args=dict(config["args"]), formula=formula, **named)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"config.rate_policy: not a rate policy ({exc})") from None


def parse_schedule(text: str) -> LearningRateDecay:
    """The schedule a results file names by its repr, rebuilt without running any code:
    one of bench's schedule classes, called with literal keyword arguments."""
    try:
        call = ast.parse(text, mode="eval").body
        cls = schedules.SCHEDULES[call.func.id] if isinstance(call, ast.Call) else None
        if cls is None or call.args:
            raise ValueError
        return cls(**{k.arg: ast.literal_eval(k.value) for k in call.keywords})
    except (SyntaxError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise ValueError(f"config.schedule: {text[:80]!r} is not a bench schedule") from None


def of_results(results: dict[str, Any]) -> RatePolicy:
    """The policy a (schema-valid) results file records: ``config.rate_policy``, or in a
    file written before it was recorded, the one its schedule, decay and plateau name."""
    config = results["config"]
    if "rate_policy" in config:
        return from_config(config["rate_policy"])
    return from_old_fields(config)


def from_old_fields(fields: dict[str, Any]) -> RatePolicy:
    """The policy a record made before the policy was recorded names by its ``schedule``
    (repr), ``decay`` and ``plateau``, with the formulas of then."""
    old = {"formula": FIRST_FORMULA}
    if fields["plateau"] is not None:
        return Plateau(args=dict(fields["plateau"]), **old)
    if fields["schedule"] is not None:
        form = parse_schedule(fields["schedule"])
        cls = PerUpdate if isinstance(form, schedules.IterationDecay) else PerEpoch
        return cls(name=type(form).__name__, args=dict(vars(form)), **old)
    return (TimeBased if fields["decay"] > 0 else Constant)(**old)


def course_of(results: dict[str, Any]) -> Course:
    """The course a (schema-valid) results file records."""
    config = results["config"]
    return Course(config["init_lr"], config["epochs"], results["dataset"]["steps_per_epoch"])
