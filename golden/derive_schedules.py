"""Derive the post's per-epoch learning-rate tables in exact rational arithmetic.

Independent of ``bench`` on purpose (it imports nothing from it): the formulas are taken
from the post's code (blog.txt lines 114-146 and 155-215) and evaluated with
``fractions.Fraction``, so every value is exact before one final rounding to the nearest
float64. ``bench.core.schedules`` computes the same rates in floating point; its tests compare
the two at rel 1e-12.

The schedules beyond the post (bench's ``--schedules extra``) get two more tables:
``extra_schedule_tables.csv`` (the rate of each epoch's first update in the extra
experiments' 100-epoch set-up) and ``iteration_tables.csv`` (every update of a small
set-up, so that the shape inside a cycle is pinned too). Their formulas are written from
the papers and the reference implementations (Smith 2017 and the Keras ``CyclicLR``
callback; PyTorch's ``OneCycleLR``; Keras' ``CosineDecay``), in a different form from
``bench.core.schedules`` where there is one: a cycle is walked by its position, not by
``abs``/``floor``. Exact where the value is rational; ``cos`` and the irrational power of
``exp_range`` are float64 from ``math``.

    python golden/derive_schedules.py            # rewrite the three CSVs
    python golden/derive_schedules.py --check    # exit 1 if any is stale
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

OUT = Path(__file__).with_name("schedule_tables.csv")
EXTRA_OUT = Path(__file__).with_name("extra_schedule_tables.csv")
ITERATION_OUT = Path(__file__).with_name("iteration_tables.csv")

# The post's set-up (blog.txt 168-215): initAlpha 1e-1, 100 epochs, batch 128 on 50,000
# CIFAR-10 images -> ceil(50000 / 128) = 391 updates per epoch. The functions take other
# epoch and step counts too, so shorter runs (the smoke tests') have an independent table.
ALPHA = Fraction(1, 10)
EPOCHS = 100
STEPS = -(-50_000 // 128)


def step(e: int, drop_every: int = 15) -> Fraction:
    # StepDecay(initAlpha=1e-1, factor=0.25, dropEvery=D): alpha * factor ** floor((1+e)/D);
    # the post's D is 15, the quick set-up's 2 (its 10 epochs scaled from the post's 100).
    return ALPHA * Fraction(1, 4) ** ((1 + e) // drop_every)


def poly(e: int, power: int, epochs: int = EPOCHS) -> Fraction:
    # PolynomialDecay(maxEpochs=epochs, initAlpha=1e-1, power): alpha * (1 - e/max) ** power
    return ALPHA * (1 - Fraction(e, epochs)) ** power


def standard(t: int, epochs: int = EPOCHS) -> Fraction:
    # SGD(decay=1e-1 / epochs): Keras applies lr0 / (1 + decay * t) with t updates done.
    return ALPHA / (1 + ALPHA / epochs * t)


def table(epochs: int = EPOCHS, steps: int = STEPS) -> dict[str, list[Fraction]]:
    """Each column's exact rate at epochs 0..epochs-1, for a run of ``epochs`` epochs."""
    columns = {
        "none": lambda e: ALPHA,
        "standard_first_batch": lambda e: standard(e * steps, epochs),
        "standard_last_batch": lambda e: standard(e * steps + steps - 1, epochs),
        "step": step,
        "linear": lambda e: poly(e, 1, epochs),
        "poly": lambda e: poly(e, 5, epochs),
    }
    return {name: [f(e) for e in range(epochs)] for name, f in columns.items()}


# --- beyond the post ---


def cyclic(t: int, base: Fraction, top: Fraction, half: int, mode: str, gamma: float = 1.0):
    # Position inside the current cycle of 2*half updates: up for `half`, then down.
    cycle, position = divmod(t, 2 * half)
    height = Fraction(position if position <= half else 2 * half - position, half)
    if mode == "triangular":
        return base + (top - base) * height
    if mode == "triangular2":
        return base + (top - base) * height / 2**cycle
    return float(base) + float((top - base) * height) * gamma**t  # exp_range


def one_cycle(t: int, top: Fraction, total: int, pct: Fraction, div=25, final_div=10_000):
    # PyTorch OneCycleLR, two phases, cosine: start -> top until update pct*total - 1,
    # then top -> start / final_div at update total - 1.
    start = top / div
    end = start / final_div
    turn = pct * total - 1
    if t <= turn:
        a, b, done = start, top, Fraction(t) / turn
    else:
        a, b, done = top, end, min(Fraction(1), (t - turn) / (total - 1 - turn))
    return float(b) + float(a - b) * (1 + math.cos(math.pi * done)) / 2


def warmup_cosine(t: int, start: Fraction, target: Fraction, warmup: int, decay: int):
    # Keras CosineDecay(start, decay, alpha=0, warmup_target=target, warmup_steps=warmup).
    if t < warmup:
        return start + (target - start) * Fraction(t, warmup)
    done = Fraction(min(t - warmup, decay), decay)
    return float(target) * (1 + math.cos(math.pi * done)) / 2


# The extra experiments at the post's scale (bench/core/experiments.py, EXTRA): 100 epochs of
# 391 updates; cycles of a tenth of the run (a half cycle of 0.05 * 39,100 = 1,955
# updates) from 1e-3 to 1e-1; exp_range's amplitude falls to 1 % by the last update;
# one-cycle peaks at 1e-1 after 30 %; the warm-up is 5 % of the run, from 0 to 1e-1.
TOTAL = EPOCHS * STEPS
HALF = round(TOTAL / 20)
BASE = Fraction(1, 1000)
GAMMA = 0.01 ** (1 / TOTAL)


def extra_table(epochs: int = EPOCHS, steps: int = STEPS) -> dict[str, list]:
    """The extra schedules' rates at each epoch's first update (update e * steps)."""
    columns: dict[str, Callable[[int], object]] = {
        "exponential": lambda e: ALPHA * Fraction(95, 100) ** e,
        **{
            f"cyclic_{mode}": (
                lambda e, mode=mode: cyclic(e * steps, BASE, ALPHA, HALF, mode, GAMMA)
            )
            for mode in ("triangular", "triangular2", "exp_range")
        },
        "one_cycle": lambda e: one_cycle(e * steps, ALPHA, TOTAL, Fraction(3, 10)),
        "cosine_warmup": lambda e: warmup_cosine(e * steps, Fraction(0), ALPHA, HALF, TOTAL - HALF),
    }
    return {name: [f(e) for e in range(epochs)] for name, f in columns.items()}


# A small set-up for every update: 40 updates, half cycles of 4 updates (five cycles)
# from 0.1 to 0.5, exp_range with gamma 0.9; one-cycle to 0.5 over 40 updates; warm-up
# over 5 updates from 0.05 to 0.5, cosine decay over the next 30 (flat for the last 5).
ITERATIONS = 40


def iteration_table() -> dict[str, list]:
    low, high = Fraction(1, 10), Fraction(1, 2)
    columns: dict[str, Callable[[int], object]] = {
        **{
            f"cyclic_{mode}": lambda t, mode=mode: cyclic(t, low, high, 4, mode, 0.9)
            for mode in ("triangular", "triangular2", "exp_range")
        },
        "one_cycle": lambda t: one_cycle(t, high, ITERATIONS, Fraction(3, 10)),
        "cosine_warmup": lambda t: warmup_cosine(t, Fraction(1, 20), high, 5, 30),
    }
    return {name: [f(t) for t in range(ITERATIONS)] for name, f in columns.items()}


def _csv(index: str, columns: dict[str, list]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([index, *columns])
    for i in range(len(next(iter(columns.values())))):
        # repr() of the correctly rounded float64 round-trips exactly.
        writer.writerow([i, *(repr(float(column[i])) for column in columns.values())])
    return buf.getvalue()


def render() -> str:
    return _csv("epoch", table())


def render_all() -> dict[Path, str]:
    """Every derived CSV and its text."""
    return {
        OUT: render(),
        EXTRA_OUT: _csv("epoch", extra_table()),
        ITERATION_OUT: _csv("iteration", iteration_table()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the CSV is stale")
    args = parser.parse_args()
    stale = 0
    for path, text in render_all().items():
        if not args.check:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        elif not path.exists() or path.read_text(encoding="utf-8") != text:
            print(f"{path} is stale: run python {Path(__file__).name}", file=sys.stderr)
            stale = 1
    return stale


if __name__ == "__main__":
    sys.exit(main())
