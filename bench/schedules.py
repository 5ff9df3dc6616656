"""The post's learning-rate schedules, under its public names and with its semantics.

Keras' ``LearningRateScheduler`` calls ``schedule(epoch)`` with a 0-based epoch at the
start of every epoch and uses the float it returns for the whole epoch. ``StepDecay`` and
``PolynomialDecay`` are that kind of callable, exactly as in the post's
``learning_rate_schedulers.py``. ``TimeBasedDecay`` is Keras' old optimizer ``decay``
(the post's "standard" experiment), which is a function of the *iteration*, not the epoch.

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

    def __repr__(self) -> str:
        return (
            f"StepDecay(initAlpha={self.initAlpha!r}, factor={self.factor!r}, "
            f"dropEvery={self.dropEvery!r})"
        )


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

    def __repr__(self) -> str:
        return (
            f"PolynomialDecay(maxEpochs={self.maxEpochs!r}, initAlpha={self.initAlpha!r}, "
            f"power={self.power!r})"
        )


class TimeBasedDecay(LearningRateDecay):
    """Keras' old optimizer ``decay`` (the post's "standard"): ``initAlpha / (1 + decay * t)``.

    ``t`` is the number of updates already applied, so the first batch uses ``initAlpha``
    and the rate falls after every batch, not every epoch - the post's point.
    """

    unit = "Iteration"

    def __init__(self, initAlpha: float = 0.01, decay: float = 0.0):
        _positive("initAlpha", initAlpha)
        _non_negative("decay", decay)
        self.initAlpha = initAlpha
        self.decay = decay

    def __call__(self, iteration: int) -> float:
        _non_negative("iteration", iteration)
        return float(self.initAlpha / (1 + self.decay * iteration))

    def epoch_table(
        self,
        epochs: int,
        steps_per_epoch: int,
        batch: Literal["first", "last"] = "first",
    ) -> list[float]:
        """The rate used by the first (or last) batch of each of ``epochs`` epochs."""
        _positive("epochs", epochs)
        _positive("steps_per_epoch", steps_per_epoch)
        _check("batch", batch, "'first' or 'last'", batch in ("first", "last"))
        offset = 0 if batch == "first" else steps_per_epoch - 1
        return [self(e * steps_per_epoch + offset) for e in range(epochs)]

    def __repr__(self) -> str:
        return f"TimeBasedDecay(initAlpha={self.initAlpha!r}, decay={self.decay!r})"
