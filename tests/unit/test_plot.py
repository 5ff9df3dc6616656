"""``LearningRateDecay.plot``: the post's figure, read back from the Figure object."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from bench.core import experiments
from bench.core.schedules import StepDecay, TimeBasedDecay


@pytest.fixture
def step_figure():
    before = plt.get_fignums()
    fig = experiments.get("step").schedule().plot(np.arange(0, 100))
    yield fig
    assert plt.get_fignums() == before, "plot() must not touch pyplot's figures"


def test_plot_draws_the_schedule(step_figure):
    (ax,) = step_figure.axes
    (line,) = ax.get_lines()
    x, y = line.get_data()
    assert list(x) == list(range(100))
    assert list(y) == StepDecay(0.1, 0.25, 15).table(100)


def test_plot_has_the_posts_labels(step_figure):
    ax = step_figure.axes[0]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
        "Learning Rate Schedule",
        "Epoch #",
        "Learning Rate",
    )


def test_plot_uses_ggplot_style(step_figure):
    with matplotlib.style.context("ggplot"):
        ggplot = matplotlib.rcParams["axes.facecolor"]
    assert matplotlib.colors.to_hex(
        step_figure.axes[0].get_facecolor()
    ) == matplotlib.colors.to_hex(ggplot)
    assert matplotlib.rcParams["axes.facecolor"] != ggplot, "the style must not leak out"


def test_plot_title_and_unit():
    fig = TimeBasedDecay(0.1, 1e-3).plot(5, title="Keras standard decay")
    ax = fig.axes[0]
    assert (ax.get_title(), ax.get_xlabel()) == ("Keras standard decay", "Iteration #")
    assert list(ax.get_lines()[0].get_ydata()) == TimeBasedDecay(0.1, 1e-3).table(5)


def test_figure_saves_without_pyplot(tmp_path):
    path = tmp_path / "lr.png"
    experiments.get("poly").schedule().plot(range(100)).savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
