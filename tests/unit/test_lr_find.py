"""``bench.keras.lr_find`` without a model: the rates, the suggestions on a drawn curve and
the CSV (the sweep on real models: tests/keras/test_lr_find_keras.py)."""

import numpy as np
import pytest

from bench.keras import lr_find


def test_suggestions_on_a_drawn_curve():
    rates = list(np.logspace(-4, 0, 9))  # 1e-4, 1e-3.5, ..., 1
    smoothed = [2.0, 2.0, 1.9, 1.5, 0.8, 0.6, 0.5, 0.9, 3.0]
    result = lr_find.Sweep(rates, smoothed, smoothed, "drawn")
    got = lr_find.suggestions(result)
    # Central differences: (0.8 - 1.9) at 1e-2.5 is the steepest fall (-1.1 over a decade).
    assert got["steepest"] == pytest.approx(10**-2.5)
    assert got["minimum/10"] == pytest.approx(10**-1.0 / 10)


@pytest.mark.parametrize(
    ("start", "end", "steps", "mode", "message"),
    [
        (1e-3, 1e-4, 10, "exp", "0 < start < end"),
        (0.0, 1.0, 10, "exp", "0 < start < end"),
        (1e-3, 1.0, 2, "exp", "steps must be a whole number >= 3"),
        (1e-3, 1.0, 10, "cubic", "mode must be exp or linear"),
    ],
)
def test_bad_sweeps(start, end, steps, mode, message):
    with pytest.raises(ValueError, match=message):
        lr_find.rates(start, end, steps, mode)


def test_rates_are_exponential_or_linear():
    assert lr_find.rates(1e-3, 1e1, 5) == pytest.approx([1e-3, 1e-2, 1e-1, 1, 10])
    assert lr_find.rates(1.0, 3.0, 3, "linear") == [1.0, 2.0, 3.0]


def test_csv_round_trip_and_damage(tmp_path):
    result = lr_find.Sweep([1e-3, 1e-2, 1e-1], [2.0, 1.5, 3.0], [2.0, 1.7, 2.4], "x")
    path = lr_find.write_csv(tmp_path / "f.csv", result)
    back = lr_find.read_csv(path)
    assert (back.rates, back.losses, back.smoothed) == (
        result.rates,
        result.losses,
        result.smoothed,
    )
    for text in (
        "",
        "rate,loss\n1,2\n",
        "rate,loss,smoothed\n-1,2,2\n",
        "rate,loss,smoothed\nx,1,1\n",
    ):
        path.write_text(text)
        with pytest.raises(ValueError, match=r"f.csv is not a finder CSV"):
            lr_find.read_csv(path)
