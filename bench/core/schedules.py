"""The post's learning-rate schedules, under its public names and with its semantics.

Keras' ``LearningRateScheduler`` calls ``schedule(epoch)`` with a 0-based epoch at the
start of every epoch and uses the float it returns for the whole epoch. ``StepDecay`` and
``PolynomialDecay`` are that kind of callable, exactly as in the post's
``learning_rate_schedulers.py``. ``TimeBasedDecay`` is Keras' old optimizer ``decay``
(the post's "standard" experiment), which is a function of the *iteration*, not the epoch.

Beyond the post (the schedules it points to, for comparison): ``ExponentialDecay`` per
epoch; per iteration, ``CyclicLR`` in the three modes of the Keras ``CyclicLR`` callback
(Smith, 2017), ``OneCycle`` (PyTorch's ``OneCycleLR``: cosine warm-up, then cosine
annealing) and ``WarmupCosineDecay`` (Keras' ``CosineDecay`` with ``warmup_target``).
Per-iteration schedules derive from ``IterationDecay``; ``rate_at`` gives any schedule's
rate at an iteration, which ``bench.keras.schedule`` hands to the optimizer.

A schedule is one class, ``register``-ed: it says its closed form (``rate``), its
``FORMULA`` version (raised whenever ``rate`` changes, so that results of the old formula
are never taken for this one's), how its arguments follow a run's length (``for_run``) and
a shorter run than the post's (``scaled_args``), and which rates a range test may set
(``TUNABLE``). ``bench.core.rates`` puts it to work as a run's rate policy.

Decisions the post leaves open:

- ``PolynomialDecay`` past ``maxEpochs``: the post's ``(1 - e / maxEpochs) ** power``
  goes negative for odd powers (gradient ascent) and climbs again for even ones. We clamp
  the base at 0, so the rate stays at 0 from ``maxEpochs`` on - what Keras'
  ``PolynomialDecay(end_learning_rate=0, cycle=False)`` and PyTorch's ``PolynomialLR`` do.
  Up to ``maxEpochs`` the values are the post's, bit for bit.
- Bad parameters raise ``ValueError`` naming the parameter and its allowed range, at
  construction, so a typo fails before an hour of training rather than at epoch 15.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from numbers import Real
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from bench.core.checks import whole_number

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# What "an epoch's rate" means wherever one is printed or recorded (results files, the
# report, ``bench schedules``): the rate its last batch trained with. A per-epoch schedule
# holds one rate all epoch; a per-batch one ("standard", the cyclic ones) has moved on from
# the epoch's first batch by then, and the results record the rate the optimizer applied last.
EPOCH_RATE = "the rate applied to the epoch's last batch"


def _check(name: str, value: object, allowed: str, ok: bool) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _is_number(value: object) -> bool:
    # bool is a Real in Python; StepDecay(dropEvery=True) is a mistake, not a 1.
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


Rule = Callable[[str, object], None]


def check_number(name: str, value: object, allowed: str, ok: Callable[[float], bool]) -> None:
    """``ValueError`` "NAME must be ALLOWED, got VALUE" unless ``value`` is a finite number
    for which ``ok``."""
    _check(name, value, allowed, _is_number(value) and ok(value))


def _rule(allowed: str, ok: Callable[[float], bool]) -> Rule:
    return lambda name, value: check_number(name, value, allowed, ok)


_positive = _rule("a finite number > 0", lambda v: v > 0)
_non_negative = _rule("a finite number >= 0", lambda v: v >= 0)
_up_to_one = _rule("in (0, 1]", lambda v: 0 < v <= 1)
_inside_unit = _rule("in (0, 1)", lambda v: 0 < v < 1)
_unit = _rule("in [0, 1]", lambda v: 0 <= v <= 1)


def _one_of(allowed: tuple[str, ...]) -> Rule:
    return lambda name, value: _check(name, value, f"one of {', '.join(allowed)}", value in allowed)


# Each registered schedule by its class name: what a results file's schedule names.
SCHEDULES: dict[str, type[LearningRateDecay]] = {}


def register(cls: type[Decay]) -> type[Decay]:
    """Make ``cls`` a schedule: a dataclass whose arguments each name their check
    (``_arg``), applied at construction (a typo fails before an hour of training), and
    known by its name to the rate policies and to results files."""
    cls = dataclass(repr=False, eq=False)(cls)
    if SCHEDULES.get(cls.__name__, cls) is not cls:
        raise ValueError(f"a schedule named {cls.__name__} is registered already")
    SCHEDULES[cls.__name__] = cls
    return cls


Decay = TypeVar("Decay", bound="LearningRateDecay")


def _arg(default: Any, check: Rule) -> Any:
    return field(default=default, metadata={"check": check})


class _Checked:
    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            f.metadata["check"](f.name, getattr(self, f.name))


def rate_figure(
    steps: Sequence[float], rates: Sequence[float], title: str, xlabel: str = "Epoch #"
) -> Figure:
    """The post's learning-rate figure (``LearningRateDecay.plot``): one line, its title and
    labels, ggplot style. It lives beside the post's classes, as in the post's own code."""
    # lazy: matplotlib (half a second) loads only to draw
    import matplotlib.style
    from matplotlib.figure import Figure

    with matplotlib.style.context("ggplot"):
        fig = Figure()
        ax = fig.add_subplot()
        ax.plot(steps, rates)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Learning Rate")
    return fig


class LearningRateDecay(_Checked):
    """Base of every schedule: ``self(i)`` is the rate at step ``i`` of ``unit``, which a
    schedule gives as ``rate(i)``."""

    unit = "Epoch"
    FORMULA: ClassVar[int] = 1  # the version of ``rate``: raise it whenever ``rate`` changes
    TUNABLE: ClassVar[tuple[str, ...]] = ()  # the rates a range test may set

    @classmethod
    def for_run(cls, args: dict[str, Any], epochs: int, steps: int) -> dict[str, Any]:
        """``args`` for a run of ``epochs`` epochs of ``steps`` updates (here: as given).
        Arguments already given for a run pass unchanged, so this may be applied twice."""
        return dict(args)

    @classmethod
    def scaled_args(cls, args: dict[str, Any], epochs: int, full: int) -> dict[str, Any]:
        """``args`` for a run of ``epochs`` epochs where they were chosen for ``full``
        (here: as given; lengths given as fractions of the run follow it anyway)."""
        return dict(args)

    def __call__(self, step: int) -> float:
        _non_negative(self.unit.lower(), step)
        return float(self.rate(step))

    def rate(self, step: int) -> float:
        raise NotImplementedError

    def rate_at(self, iteration: int, steps_per_epoch: int) -> float:
        """The rate of update ``iteration`` (0-based) when an epoch has ``steps_per_epoch``
        updates: a per-epoch schedule holds its epoch's rate for the whole epoch, as
        ``LearningRateScheduler`` does."""
        whole_number("steps_per_epoch", steps_per_epoch)
        return self(iteration // steps_per_epoch)

    def __repr__(self) -> str:
        # Constructor arguments are stored under their own names, in their order.
        args = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({args})"

    def epoch_table(
        self,
        epochs: int,
        steps_per_epoch: int,
        batch: Literal["first", "last"] = "last",
    ) -> list[float]:
        """Each of ``epochs`` epochs' rate (``EPOCH_RATE``: its last batch's), or with
        ``batch="first"`` its first batch's (for a per-epoch schedule both are
        ``table(epochs)``)."""
        whole_number("epochs", epochs)
        whole_number("steps_per_epoch", steps_per_epoch)
        _check("batch", batch, "'first' or 'last'", batch in ("first", "last"))
        offset = 0 if batch == "first" else steps_per_epoch - 1
        return [self.rate_at(e * steps_per_epoch + offset, steps_per_epoch) for e in range(epochs)]

    def table(self, epochs: int | Iterable[int]) -> list[float]:
        """The rates at ``epochs`` (an int ``n`` means ``0 .. n-1``), as Python floats."""
        steps = range(epochs) if isinstance(epochs, int) else epochs
        return [self(i) for i in steps]

    def plot(self, epochs: int | Iterable[int], title: str = "Learning Rate Schedule") -> Figure:
        """The post's ggplot-style figure of the rate against ``epochs``.

        Returns the figure instead of drawing on pyplot's current one, so callers save it
        with ``fig.savefig(path)`` and no global pyplot state is touched.
        """
        steps = list(range(epochs) if isinstance(epochs, int) else epochs)
        return rate_figure(steps, self.table(steps), title, xlabel=f"{self.unit} #")


@register
class StepDecay(LearningRateDecay):
    """``initAlpha * factor ** floor((1 + epoch) / dropEvery)`` (the post's code).

    Because of the ``1 +``, the first drop comes at 0-based epoch ``dropEvery - 1``
    (epoch 15 as Keras prints it for ``dropEvery=15``). The post's equation image omits
    the floor; its code, which we follow, has it.
    """

    initAlpha: float = _arg(0.01, _positive)
    factor: float = _arg(0.25, _up_to_one)
    dropEvery: int = _arg(10, _positive)

    def rate(self, epoch: int) -> float:
        exp = math.floor((1 + epoch) / self.dropEvery)
        return self.initAlpha * self.factor**exp

    @classmethod
    def scaled_args(cls, args: dict[str, Any], epochs: int, full: int) -> dict[str, Any]:
        """``dropEvery`` scaled by ``epochs / full`` (at least 1), so that a short run's
        rate still falls in steps all through it, as the post's does."""
        return {**args, "dropEvery": max(1, round(args["dropEvery"] * epochs / full))}


@register
class PolynomialDecay(LearningRateDecay):
    """``initAlpha * (1 - epoch / maxEpochs) ** power``; ``power=1`` is linear decay.

    Past ``maxEpochs`` the base is clamped at 0 (see the module docstring).
    """

    maxEpochs: int = _arg(100, _positive)
    initAlpha: float = _arg(0.01, _positive)
    power: float = _arg(1.0, _non_negative)

    def rate(self, epoch: int) -> float:
        base = max(0.0, 1 - (epoch / float(self.maxEpochs)))
        return self.initAlpha * base**self.power

    @classmethod
    def for_run(cls, args: dict[str, Any], epochs: int, steps: int) -> dict[str, Any]:
        """The post's ``maxEpochs = epochs``."""
        return {**args, "maxEpochs": epochs}


@register
class ExponentialDecay(LearningRateDecay):
    """``initAlpha * decayRate ** epoch``: the exponential decay the post names and leaves
    out; Keras' ``ExponentialDecay(decay_steps=steps_per_epoch, staircase=True)``."""

    initAlpha: float = _arg(0.01, _positive)
    decayRate: float = _arg(0.95, _up_to_one)

    def rate(self, epoch: int) -> float:
        return self.initAlpha * self.decayRate**epoch


class IterationDecay(LearningRateDecay):
    """A schedule of the update count: ``self(t)`` is the rate of update ``t`` (0-based)."""

    unit = "Iteration"

    def rate_at(self, iteration: int, steps_per_epoch: int) -> float:
        return self(iteration)


@dataclass(repr=False, eq=False)
class TimeBasedDecay(IterationDecay):
    """Keras' old optimizer ``decay`` (the post's "standard"): ``initAlpha / (1 + decay * t)``.

    ``t`` is the number of updates already applied, so the first batch uses ``initAlpha``
    and the rate falls after every batch, not every epoch - the post's point.
    """

    initAlpha: float = _arg(0.01, _positive)
    decay: float = _arg(0.0, _non_negative)

    def rate(self, iteration: int) -> float:
        return self.initAlpha / (1 + self.decay * iteration)


CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


@register
class CyclicLR(IterationDecay):
    """Cyclical learning rates (Smith, 2017) with the Keras ``CyclicLR`` callback's names.

    The rate climbs linearly from ``base_lr`` to ``max_lr`` over ``step_size`` updates and
    falls back over as many. ``triangular`` keeps the amplitude, ``triangular2`` halves it
    every cycle, ``exp_range`` scales it by ``gamma ** t``. The callback sets ``base_lr``
    before the first update and the rate for update ``t`` after update ``t - 1``, so update
    ``t`` uses the formula at ``t``.
    """

    base_lr: float = _arg(0.001, _positive)
    max_lr: float = _arg(0.006, _positive)  # and >= base_lr: __post_init__
    step_size: int = _arg(2000, _positive)
    mode: str = _arg("triangular", _one_of(CYCLIC_MODES))
    gamma: float = _arg(1.0, _up_to_one)
    TUNABLE = ("base_lr", "max_lr")

    def __post_init__(self) -> None:
        super().__post_init__()
        allowed = f"a finite number >= base_lr ({self.base_lr!r})"
        _check("max_lr", self.max_lr, allowed, self.max_lr >= self.base_lr)

    @classmethod
    def for_run(cls, args: dict[str, Any], epochs: int, steps: int) -> dict[str, Any]:
        """``half_cycle``, a fraction of the run, as ``step_size`` updates; exp_range's
        ``amplitude_end`` (the amplitude left after the last update) as ``gamma``."""
        args, total = dict(args), epochs * steps
        if "half_cycle" in args:
            args["step_size"] = max(1, round(args.pop("half_cycle") * total))
        if "amplitude_end" in args:
            args["gamma"] = args.pop("amplitude_end") ** (1 / total)
        return args

    def rate(self, iteration: int) -> float:
        cycle = math.floor(1 + iteration / (2 * self.step_size))
        x = abs(iteration / self.step_size - 2 * cycle + 1)
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1 / 2.0 ** (cycle - 1)
        else:
            scale = self.gamma**iteration
        return self.base_lr + (self.max_lr - self.base_lr) * max(0.0, 1 - x) * scale


def _cosine(start: float, end: float, fraction: float) -> float:
    """From ``start`` (fraction 0) to ``end`` (fraction 1) along half a cosine."""
    return end + (start - end) / 2 * (1 + math.cos(math.pi * fraction))


@register
class OneCycle(IterationDecay):
    """One cycle (Smith, 2018), as PyTorch's ``OneCycleLR`` (two phases, cosine).

    From ``max_lr / div_factor`` up to ``max_lr`` over the first ``pct_start`` of
    ``total_steps`` updates, then down to ``max_lr / div_factor / final_div_factor`` at the
    last update. Past ``total_steps`` it stays at the final rate (PyTorch raises there).
    """

    max_lr: float = _arg(0.1, _positive)
    total_steps: int = _arg(1000, lambda name, value: whole_number(name, value, minimum=2))
    pct_start: float = _arg(0.3, _inside_unit)
    div_factor: float = _arg(25.0, _positive)
    final_div_factor: float = _arg(1e4, _positive)
    TUNABLE = ("max_lr",)

    @classmethod
    def for_run(cls, args: dict[str, Any], epochs: int, steps: int) -> dict[str, Any]:
        """One cycle over the whole run."""
        return {**args, "total_steps": epochs * steps}

    def rate(self, iteration: int) -> float:
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        peak = float(self.pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if iteration <= peak:
            return _cosine(initial, self.max_lr, iteration / peak)
        return _cosine(self.max_lr, final, min(1.0, (iteration - peak) / (last - peak)))


@register
class WarmupCosineDecay(IterationDecay):
    """Linear warm-up from ``initAlpha`` to ``warmupTarget`` over ``warmupSteps`` updates,
    then cosine decay to ``alpha * warmupTarget`` over ``decaySteps`` (and flat after):
    Keras' ``CosineDecay(initAlpha, decaySteps, alpha, warmup_target, warmup_steps)``."""

    initAlpha: float = _arg(0.0, _non_negative)
    warmupTarget: float = _arg(0.1, _positive)
    warmupSteps: int = _arg(0, _non_negative)
    decaySteps: int = _arg(1000, _positive)
    alpha: float = _arg(0.0, _unit)

    @classmethod
    def for_run(cls, args: dict[str, Any], epochs: int, steps: int) -> dict[str, Any]:
        """``warmup``, a fraction of the run, as ``warmupSteps``; the rest decays."""
        args, total = dict(args), epochs * steps
        if "warmup" in args:
            args["warmupSteps"] = round(args.pop("warmup") * total)
            args["decaySteps"] = total - args["warmupSteps"]
        return args

    def rate(self, iteration: int) -> float:
        if iteration < self.warmupSteps:
            rise = (self.warmupTarget - self.initAlpha) * iteration / self.warmupSteps
            return self.initAlpha + rise
        done = min(iteration - self.warmupSteps, self.decaySteps) / self.decaySteps
        return _cosine(self.warmupTarget, self.alpha * self.warmupTarget, done)
