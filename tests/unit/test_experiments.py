"""The five experiments carry the post's settings (blog.txt 168-215) and nothing else."""

from pathlib import Path

import numpy as np
import pytest

from bench.core import experiments, results
from bench.core.schedules import PolynomialDecay, StepDecay
from bench.report import golden

POST_ORDER = ["none", "standard", "step", "linear", "poly"]


def test_the_posts_five_experiments_in_its_order():
    assert list(experiments.EXPERIMENTS) == POST_ORDER


def test_golden_files_name_the_same_experiments():
    assert {row["experiment"] for row in golden.epoch_lines()} == set(POST_ORDER)
    assert {row["experiment"] for row in golden.classification_reports()} == set(POST_ORDER)


@pytest.mark.parametrize("name", POST_ORDER)
def test_common_settings_are_the_posts(name):
    e = experiments.get(name)
    assert (e.init_lr, e.momentum, e.batch_size, e.epochs) == (0.1, 0.9, 128, 100)
    assert e.model_args == {
        "width": 32,
        "height": 32,
        "depth": 3,
        "classes": 10,
        "stages": (9, 9, 9),
        "filters": (64, 64, 128, 256),
        "reg": 0.0005,
    }


def test_steps_per_epoch_is_391():
    # The post's "391/391": 50,000 images in batches of 128, the last one partial.
    assert experiments.steps_per_epoch(experiments.TRAIN_IMAGES) == 391


@pytest.mark.parametrize(
    ("name", "schedule"),
    [
        ("none", None),
        ("standard", None),
        ("step", StepDecay(initAlpha=0.1, factor=0.25, dropEvery=15)),
        ("linear", PolynomialDecay(maxEpochs=100, initAlpha=0.1, power=1)),
        ("poly", PolynomialDecay(maxEpochs=100, initAlpha=0.1, power=5)),
    ],
)
def test_schedule_is_the_posts(name, schedule):
    got = experiments.get(name).schedule()
    assert repr(got) == repr(schedule)


def test_polynomial_max_epochs_follows_the_run():
    # The post passes maxEpochs=epochs, so a 40-epoch run decays to 0 over 40 epochs.
    assert experiments.get("linear").schedule(40).maxEpochs == 40


@pytest.mark.parametrize(
    ("name", "decay"), [(n, 0.001 if n == "standard" else 0.0) for n in POST_ORDER]
)
def test_only_standard_has_optimizer_decay(name, decay):
    assert experiments.get(name).decay() == pytest.approx(decay, rel=1e-15)


def test_standard_decay_is_init_lr_over_epochs():
    assert experiments.get("standard").decay(40) == pytest.approx(0.1 / 40, rel=1e-15)


@pytest.mark.parametrize(
    ("name", "lr_plot"),
    [
        ("none", None),
        ("standard", None),
        ("step", "lr_step_schedule.png"),
        ("linear", "lr_linear_schedule.png"),
        ("poly", "lr_poly_schedule.png"),
    ],
)
def test_lr_plot_names_are_the_posts(name, lr_plot):
    # The post's output/lr_*_schedule.png; `bench schedules --plot-dir` writes them.
    assert experiments.get(name).lr_plot == lr_plot


def test_the_posts_cli_values_are_accepted():
    assert experiments.get("") is experiments.EXPERIMENTS["none"]
    assert [
        experiments.get(e.cli_value).name for e in experiments.EXPERIMENTS.values()
    ] == POST_ORDER


def test_unknown_schedule_names_the_choices():
    with pytest.raises(
        ValueError,
        match=r"^unknown schedule 'cosine': choose one of none, standard, step, linear, poly, "
        r"exponential, cyclic-triangular, cyclic-triangular2, cyclic-exp_range, one-cycle, "
        r"cosine-warmup, plateau$",
    ):
        experiments.get("cosine")


@pytest.mark.parametrize("epochs", [0, -1, 2.5, True])
def test_non_positive_epochs_are_rejected(epochs):
    with pytest.raises(ValueError, match=r"^epochs must be a whole number > 0"):
        experiments.get("linear").epoch_rates(epochs)


QUICK_EXAMPLE = Path(__file__).resolve().parents[2] / "reports" / "quick-example"


def test_an_epochs_rate_is_the_one_training_recorded():
    """The committed quick example trained "standard" (10 epochs of 23 updates, decay 0.01):
    Keras' optimizer recorded each epoch's rate. ``epoch_rates``, which ``bench schedules``
    prints, must give those, not the rate of each epoch's first update."""
    run = results.read(QUICK_EXAMPLE / "runs" / "standard-seed0.json")
    quick = experiments.configure("standard", quick_setup=True)
    ours = quick.epoch_rates(images=run["dataset"]["train_images"])
    assert [float(np.float32(r)) for r in ours] == pytest.approx(run["history"]["lr"], rel=1e-6)
    assert quick.epoch_rates(images=1437, batch="first")[1] == pytest.approx(0.1 / 1.23)
