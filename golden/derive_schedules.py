"""Derive the post's per-epoch learning-rate tables in exact rational arithmetic.

Independent of ``bench`` on purpose (it imports nothing from it): the formulas are taken
from the post's code (blog.txt lines 114-146 and 155-215) and evaluated with
``fractions.Fraction``, so every value is exact before one final rounding to the nearest
float64. ``bench.schedules`` computes the same rates in floating point; its tests compare
the two at rel 1e-12.

    python golden/derive_schedules.py            # rewrite golden/schedule_tables.csv
    python golden/derive_schedules.py --check    # exit 1 if the CSV is stale
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from fractions import Fraction
from pathlib import Path

OUT = Path(__file__).with_name("schedule_tables.csv")

# The post's set-up (blog.txt 168-215): initAlpha 1e-1, 100 epochs, batch 128 on 50,000
# CIFAR-10 images -> ceil(50000 / 128) = 391 updates per epoch. The functions take other
# epoch and step counts too, so shorter runs (the smoke tests') have an independent table.
ALPHA = Fraction(1, 10)
EPOCHS = 100
STEPS = -(-50_000 // 128)


def step(e: int) -> Fraction:
    # StepDecay(initAlpha=1e-1, factor=0.25, dropEvery=15): alpha * factor ** floor((1+e)/D)
    return ALPHA * Fraction(1, 4) ** ((1 + e) // 15)


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


def render() -> str:
    columns = table()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["epoch", *columns])
    for e in range(EPOCHS):
        # repr() of the correctly rounded float64 round-trips exactly.
        writer.writerow([e, *(repr(float(column[e])) for column in columns.values())])
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the CSV is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is stale: run python {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
