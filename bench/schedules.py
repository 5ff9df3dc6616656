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
rate at an iteration, which ``bench.keras_schedule`` hands to the optimizer.

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
from collections.abc import Iterable
from numbers import Real
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _check(name: str, value: object, allowed: str, ok: bool) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _is_number(value: object) -> bool:
    # bool is a Real in Python; StepDecay(dropEvery=True) is a mistake, not a 1.
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _positive(name: str, value: object) -> None:
    _check(name, value, "a finite number > 0", _is_number(value) and value > 0)


def _non_negative(name: str, value: object) -> None:
    _check(name, value, "a finite number >= 0", _is_number(value) and value >= 0)


class LearningRateDecay:
    """Base of every schedule: ``self(i)`` is the rate at step ``i`` of ``unit``."""

    unit = "Epoch"

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def rate_at(self, iteration: int, steps_per_epoch: int) -> float:
        """The rate of update ``iteration`` (0-based) when an epoch has ``steps_per_epoch``
        updates: a per-epoch schedule holds its epoch's rate for the whole epoch, as
        ``LearningRateScheduler`` does."""
        _positive("steps_per_epoch", steps_per_epoch)
        return self(iteration // steps_per_epoch)

    def __repr__(self) -> str:
        # Constructor arguments are stored under their own names, in their order.
        args = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({args})"

    def epoch_table(
        self,
        epochs: int,
        steps_per_epoch: int,
        batch: Literal["first", "last"] = "first",
    ) -> list[float]:
        """The rate used by the first (or last) batch of each of ``epochs`` epochs (for a
        per-epoch schedule both are ``table(epochs)``)."""
        _positive("epochs", epochs)
        _positive("steps_per_epoch", steps_per_epoch)
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
        from bench.plots import rate_figure

        steps = list(range(epochs) if isinstance(epochs, int) else epochs)
        return rate_figure(steps, self.table(steps), title, xlabel=f"{self.unit} #")


class StepDecay(LearningRateDecay):
    """``initAlpha * factor ** floor((1 + epoch) / dropEvery)`` (the post's code).

    Because of the ``1 +``, the first drop comes at 0-based epoch ``dropEvery - 1``
    (epoch 15 as Keras prints it for ``dropEvery=15``). The post's equation image omits
    the floor; its code, which we follow, has it.
    """

    def __init__(self, initAlpha: float = 0.01, factor: float = 0.25, dropEvery: int = 10):
        _positive("initAlpha", initAlpha)
        _check("factor", factor, "in (0, 1]", _is_number(factor) and 0 < factor <= 1)
        _positive("dropEvery", dropEvery)
        self.initAlpha = initAlpha
        self.factor = factor
        self.dropEvery = dropEvery

    def __call__(self, epoch: int) -> float:
        _non_negative("epoch", epoch)
        exp = math.floor((1 + epoch) / self.dropEvery)
        return float(self.initAlpha * self.factor**exp)


class PolynomialDecay(LearningRateDecay):
    """``initAlpha * (1 - epoch / maxEpochs) ** power``; ``power=1`` is linear decay.

    Past ``maxEpochs`` the base is clamped at 0 (see the module docstring).
    """

    def __init__(self, maxEpochs: int = 100, initAlpha: float = 0.01, power: float = 1.0):
        _positive("maxEpochs", maxEpochs)
        _positive("initAlpha", initAlpha)
        _non_negative("power", power)
        self.maxEpochs = maxEpochs
        self.initAlpha = initAlpha
        self.power = power

    def __call__(self, epoch: int) -> float:
        _non_negative("epoch", epoch)
        base = max(0.0, 1 - (epoch / float(self.maxEpochs)))
        return float(self.initAlpha * base**self.power)


class ExponentialDecay(LearningRateDecay):
    """``initAlpha * decayRate ** epoch``: the exponential decay the post names and leaves
    out; Keras' ``ExponentialDecay(decay_steps=steps_per_epoch, staircase=True)``."""

    def __init__(self, initAlpha: float = 0.01, decayRate: float = 0.95):
        _positive("initAlpha", initAlpha)
        _check("decayRate", decayRate, "in (0, 1]", _is_number(decayRate) and 0 < decayRate <= 1)
        self.initAlpha = initAlpha
        self.decayRate = decayRate

    def __call__(self, epoch: int) -> float:
        _non_negative("epoch", epoch)
        return float(self.initAlpha * self.decayRate**epoch)


class IterationDecay(LearningRateDecay):
    """A schedule of the update count: ``self(t)`` is the rate of update ``t`` (0-based)."""

    unit = "Iteration"

    def rate_at(self, iteration: int, steps_per_epoch: int) -> float:
        return self(iteration)


class TimeBasedDecay(IterationDecay):
    """Keras' old optimizer ``decay`` (the post's "standard"): ``initAlpha / (1 + decay * t)``.

    ``t`` is the number of updates already applied, so the first batch uses ``initAlpha``
    and the rate falls after every batch, not every epoch - the post's point.
    """

    def __init__(self, initAlpha: float = 0.01, decay: float = 0.0):
        _positive("initAlpha", initAlpha)
        _non_negative("decay", decay)
        self.initAlpha = initAlpha
        self.decay = decay

    def __call__(self, iteration: int) -> float:
        _non_negative("iteration", iteration)
        return float(self.initAlpha / (1 + self.decay * iteration))


CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


class CyclicLR(IterationDecay):
    """Cyclical learning rates (Smith, 2017) with the Keras ``CyclicLR`` callback's names.

    The rate climbs linearly from ``base_lr`` to ``max_lr`` over ``step_size`` updates and
    falls back over as many. ``triangular`` keeps the amplitude, ``triangular2`` halves it
    every cycle, ``exp_range`` scales it by ``gamma ** t``. The callback sets ``base_lr``
    before the first update and the rate for update ``t`` after update ``t - 1``, so update
    ``t`` uses the formula at ``t``.
    """

    def __init__(
        self,
        base_lr: float = 0.001,
        max_lr: float = 0.006,
        step_size: int = 2000,
        mode: str = "triangular",
        gamma: float = 1.0,
    ):
        _positive("base_lr", base_lr)
        _check("max_lr", max_lr, f"a finite number >= base_lr ({base_lr!r})",
               _is_number(max_lr) and max_lr >= base_lr)  # fmt: skip
        _positive("step_size", step_size)
        _check("mode", mode, f"one of {', '.join(CYCLIC_MODES)}", mode in CYCLIC_MODES)
        _check("gamma", gamma, "in (0, 1]", _is_number(gamma) and 0 < gamma <= 1)
        self.base_lr = base_lr
        self.max_lr = max_lr
        self.step_size = step_size
        self.mode = mode
        self.gamma = gamma

    def __call__(self, iteration: int) -> float:
        _non_negative("iteration", iteration)
        cycle = math.floor(1 + iteration / (2 * self.step_size))
        x = abs(iteration / self.step_size - 2 * cycle + 1)
        if self.mode == "triangular":
            scale = 1.0
        elif self.mode == "triangular2":
            scale = 1 / 2.0 ** (cycle - 1)
        else:
            scale = self.gamma**iteration
        return float(self.base_lr + (self.max_lr - self.base_lr) * max(0.0, 1 - x) * scale)


def _cosine(start: float, end: float, fraction: float) -> float:
    """From ``start`` (fraction 0) to ``end`` (fraction 1) along half a cosine."""
    return end + (start - end) / 2 * (1 + math.cos(math.pi * fraction))


class OneCycle(IterationDecay):
    """One cycle (Smith, 2018), as PyTorch's ``OneCycleLR`` (two phases, cosine).

    From ``max_lr / div_factor`` up to ``max_lr`` over the first ``pct_start`` of
    ``total_steps`` updates, then down to ``max_lr / div_factor / final_div_factor`` at the
    last update. Past ``total_steps`` it stays at the final rate (PyTorch raises there).
    """

    def __init__(
        self,
        max_lr: float = 0.1,
        total_steps: int = 1000,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ):
        _positive("max_lr", max_lr)
        _check("total_steps", total_steps, "a whole number >= 2",
               isinstance(total_steps, int) and not isinstance(total_steps, bool)
               and total_steps >= 2)  # fmt: skip
        _check("pct_start", pct_start, "in (0, 1)", _is_number(pct_start) and 0 < pct_start < 1)
        _positive("div_factor", div_factor)
        _positive("final_div_factor", final_div_factor)
        self.max_lr = max_lr
        self.total_steps = total_steps
        self.pct_start = pct_start
        self.div_factor = div_factor
        self.final_div_factor = final_div_factor

    def __call__(self, iteration: int) -> float:
        _non_negative("iteration", iteration)
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        peak = float(self.pct_start * self.total_steps) - 1
        last = self.total_steps - 1
        if iteration <= peak:
            return float(_cosine(initial, self.max_lr, iteration / peak))
        return float(_cosine(self.max_lr, final, min(1.0, (iteration - peak) / (last - peak))))


class WarmupCosineDecay(IterationDecay):
    """Linear warm-up from ``initAlpha`` to ``warmupTarget`` over ``warmupSteps`` updates,
    then cosine decay to ``alpha * warmupTarget`` over ``decaySteps`` (and flat after):
    Keras' ``CosineDecay(initAlpha, decaySteps, alpha, warmup_target, warmup_steps)``."""

    def __init__(
        self,
        initAlpha: float = 0.0,
        warmupTarget: float = 0.1,
        warmupSteps: int = 0,
        decaySteps: int = 1000,
        alpha: float = 0.0,
    ):
        _non_negative("initAlpha", initAlpha)
        _positive("warmupTarget", warmupTarget)
        _non_negative("warmupSteps", warmupSteps)
        _positive("decaySteps", decaySteps)
        _check("alpha", alpha, "in [0, 1]", _is_number(alpha) and 0 <= alpha <= 1)
        self.initAlpha = initAlpha
        self.warmupTarget = warmupTarget
        self.warmupSteps = warmupSteps
        self.decaySteps = decaySteps
        self.alpha = alpha

    def __call__(self, iteration: int) -> float:
        _non_negative("iteration", iteration)
        if iteration < self.warmupSteps:
            rise = (self.warmupTarget - self.initAlpha) * iteration / self.warmupSteps
            return float(self.initAlpha + rise)
        done = min(iteration - self.warmupSteps, self.decaySteps) / self.decaySteps
        end = self.alpha * self.warmupTarget
        return float(_cosine(self.warmupTarget, end, done))
