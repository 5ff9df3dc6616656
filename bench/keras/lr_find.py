"""The learning-rate range test (Smith 2015/2017), where the post's series goes next.

The rate grows from ``start`` to ``end`` over ``steps`` updates (exponentially, or
linearly), one batch per update, and each batch's **own** loss is recorded: the loss
``train_on_batch`` returns for that batch with the metrics reset before it. Keras'
batch-end logs in ``fit`` hold the epoch's running mean instead (and Keras 3.0's
``train_on_batch`` a mean over calls), which bends a finder's curve toward higher rates.

The loss is smoothed (exponential moving average, beta 0.98, bias-corrected), and the
sweep stops once the smoothed loss exceeds 4 x its best (or is not finite). The model's
weights and the optimizer's state are put back afterwards, bit for bit: a finder that
leaves a half-diverged model behind is a known trap.

Two suggestions, neither robust - the plot is the thing to read: the steepest descent of
the smoothed curve (its slope taken against log10 of the rate), and the rate of the lowest
smoothed loss divided by 10.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import checks, data, files, stop
from bench.core.experiments import LOSS, MOMENTUM

BETA = 0.98
DIVERGE = 4.0
COLUMNS = ("rate", "loss", "smoothed")
# The fewest finite smoothed losses a suggestion is made from (a slope needs 3 points),
# so the fewest steps a sweep may ask for.
MIN_STEPS = 3
MAX_CSV_BYTES = 16 * 1024 * 1024  # a row is under 80 bytes: 200,000 steps


@dataclass(frozen=True)
class Sweep:
    """The rates tried, each batch's own loss, and the smoothed loss; why it stopped."""

    rates: list[float]
    losses: list[float]
    smoothed: list[float]
    stopped: str


def rates(start: float, end: float, steps: int, mode: str = "exp") -> list[float]:
    """``steps`` rates from ``start`` to ``end``: ``lr *= (end/start) ** (1/(steps-1))``
    (exponential), or evenly spaced (linear)."""
    checks.whole_number("steps", steps, minimum=MIN_STEPS)
    if not (0 < start < end and math.isfinite(end)):
        raise ValueError(f"the sweep needs 0 < start < end, got start {start}, end {end}")
    if mode == "linear":
        return [start + (end - start) * i / (steps - 1) for i in range(steps)]
    if mode != "exp":
        raise ValueError(f"mode must be exp or linear, got {mode!r}")
    return [start * (end / start) ** (i / (steps - 1)) for i in range(steps)]


def sweep(model: Any, batches: Iterator[tuple[Any, Any]], tried: list[float]) -> Sweep:
    """Train ``model`` one batch per rate of ``tried`` until the smoothed loss diverges;
    then restore its weights and optimizer state."""
    from bench.keras import compat  # lazy: TensorFlow loads once the arguments are checked

    optimizer = model.optimizer
    state = compat.optimizer_state(optimizer, model.trainable_variables)
    saved = (model.get_weights(), [v.numpy() for v in state])
    losses, smoothed, average, best = [], [], 0.0, math.inf
    stopped = f"ran all {len(tried)} steps"
    try:
        for i, (rate, (x, y)) in enumerate(zip(tried, batches, strict=False)):  # endless batches
            stop.check()  # a Ctrl+C that train_on_batch's NumPy conversion swallowed
            compat.set_lr(optimizer, rate)
            # Keras 3.0's train_on_batch returns the mean over every call since the metrics
            # were last reset (3.15's, and Keras 2's, reset them): reset them each batch.
            model.reset_metrics()
            loss = float(np.asarray(model.train_on_batch(x, y)).ravel()[0])
            average = BETA * average + (1 - BETA) * loss
            losses.append(loss)
            smoothed.append(average / (1 - BETA ** (i + 1)))
            best = min(best, smoothed[-1])
            if not math.isfinite(smoothed[-1]) or smoothed[-1] > DIVERGE * best:
                stopped = f"stopped at step {i + 1}: smoothed loss over {DIVERGE:g} x its best"
                break
    finally:
        model.set_weights(saved[0])
        for variable, value in zip(state, saved[1], strict=True):
            variable.assign(value)
    return Sweep(list(tried[: len(losses)]), losses, smoothed, stopped)


def suggestions(result: Sweep) -> dict[str, float]:
    """The steepest descent (against log10 rate) and the minimum / 10, over the finite
    part of the curve."""
    rate, loss = np.asarray(result.rates), np.asarray(result.smoothed)
    keep = np.isfinite(loss)
    rate, loss = rate[keep], loss[keep]
    if len(loss) < MIN_STEPS:
        raise ValueError(f"the sweep stopped after fewer than {MIN_STEPS} steps: start lower")
    slope = np.gradient(loss, np.log10(rate))
    lowest = int(np.argmin(loss))
    steepest = int(np.argmin(slope[: max(lowest, 1) + 1]))
    return {"steepest": float(rate[steepest]), "minimum/10": float(rate[lowest] / 10)}


MEANINGS = {
    "steepest": "where the smoothed loss falls fastest against log10(rate)",
    "minimum/10": "a tenth of the rate with the lowest smoothed loss",
}


def write_csv(path: Path, result: Sweep) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(zip(result.rates, result.losses, result.smoothed, strict=True))
    return files.atomic_write(Path(path), lambda f: f.write(out.getvalue().encode("utf-8")))


def read_csv(path: Path) -> Sweep:
    """A finder CSV written by ``write_csv`` that holds a usable sweep (``MIN_STEPS``
    finite smoothed losses); ``ValueError``, one line naming the file, otherwise."""
    try:
        text = files.read_regular(Path(path), MAX_CSV_BYTES).decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows or tuple(rows[0]) != COLUMNS:
            raise ValueError(f"columns must be {','.join(COLUMNS)}")
        values = [[float(cell) for cell in row] for row in rows[1:]]
        if any(len(row) != 3 or not math.isfinite(row[0]) or row[0] <= 0 for row in values):
            raise ValueError("every row needs a rate > 0, a loss and a smoothed loss")
    except (UnicodeDecodeError, csv.Error, ValueError) as exc:
        why = str(exc).removeprefix(f"{path}: ")
        raise ValueError(f"{path} is not a finder CSV: {why}") from None
    usable = sum(math.isfinite(row[2]) for row in values)
    if usable < MIN_STEPS:
        raise ValueError(
            f"{path} holds no usable sweep: {usable} finite smoothed loss(es) in "
            f"{len(values)} row(s), {MIN_STEPS} needed; run bench lr-find again"
        )
    return Sweep(*(list(column) for column in zip(*values, strict=True)), stopped="read")


RULE = "max_lr = the minimum/10 suggestion, base_lr = max_lr / 10"


def cyclic_range(result: Sweep) -> dict[str, float]:
    """``base_lr`` and ``max_lr`` from a sweep (``RULE``)."""
    high = suggestions(result)["minimum/10"]
    return {"base_lr": high / 10, "max_lr": high}


def batches(
    x: np.ndarray, labels: np.ndarray, batch_size: int, seed: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Endless float32 [0, 1] batches of uint8 images in a seeded order, a new permutation
    each pass over the data (a batch smaller than ``batch_size`` is never formed)."""
    rng = np.random.default_rng(seed)
    batch_size = min(batch_size, len(x))
    while True:
        order = rng.permutation(len(x))
        for i in range(0, len(order) - batch_size + 1, batch_size):
            pick = order[i : i + batch_size]
            yield x[pick].astype("float32") / 255.0, labels[pick]


def find(
    dataset: data.Dataset,
    tried: list[float],
    *,
    model_args: dict[str, Any],
    batch_size: int,
    seed: int,
) -> Sweep:
    """The range test on the post's model (``model_args``) with its SGD (momentum 0.9)."""
    from bench.keras import compat  # lazy: TensorFlow loads once the arguments are checked
    from bench.keras.resnet import ResNet

    compat.keras.utils.set_random_seed(seed)
    classes = len(dataset.class_names)
    model = ResNet.build(**{**model_args, "classes": classes})
    model.compile(loss=LOSS, optimizer=compat.sgd(tried[0], MOMENTUM))
    labels = data.one_hot(dataset.train_y, classes)
    return sweep(model, batches(dataset.train_x, labels, batch_size, seed), tried)
