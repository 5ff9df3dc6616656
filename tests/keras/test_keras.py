"""The schedules through real Keras: what ``model.fit`` logs, prints and applies.

One tiny model per module; every epoch is a single batch, so 100 epochs take a second or
two. Tolerances: the logged and applied per-epoch rates must equal the float32 rounding
of the golden rates exactly (Keras stores the rate as float32); the rate recovered from the
weights' movement under time-based decay is float32 arithmetic, checked at rel 1e-4.
"""

import dataclasses
import re

import numpy as np
import pytest
from keras_helpers import LR_HISTORY_KEY, AppliedRates

from bench.core import experiments
from bench.core.schedules import TimeBasedDecay
from bench.keras import compat, drift, schedule
from bench.keras.compat import keras
from bench.report import golden

# Builds or trains Keras models: the second tier (nox -s unit), not a bare pytest.
pytestmark = pytest.mark.keras

EPOCHS = experiments.EPOCHS
X = np.linspace(0, 1, 32, dtype="float32").reshape(8, 4)
Y = keras.utils.to_categorical(np.arange(8) % 2, 2)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    m.compile(
        optimizer=schedule.optimizer(experiments.get("step")),
        loss=experiments.LOSS,
        metrics=list(experiments.METRICS),
    )
    return m


def _float32(values):
    return [float(np.float32(v)) for v in values]


@pytest.mark.parametrize("name", ["step", "linear", "poly"])
def test_fit_logs_and_applies_the_golden_rate_every_epoch(model, name):
    schedule = experiments.get(name).schedule(EPOCHS)
    applied = AppliedRates()
    history = model.fit(
        X,
        Y,
        batch_size=len(X),
        epochs=EPOCHS,
        verbose=0,
        callbacks=[keras.callbacks.LearningRateScheduler(schedule), applied],
    )
    want = _float32(golden.schedule_tables()[name])
    assert [float(v) for v in history.history[LR_HISTORY_KEY]] == want
    assert applied.rates == want
    assert len(set(applied.rates)) > 1, "the optimizer's rate never changed"


def _progress_bar_rates(text):
    """Epoch number -> the learning rate shown on that epoch's progress-bar line."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # Keras 3 colours its bar even into a pipe
    rates = {}
    for block in re.split(r"(?m)^Epoch (?=\d+/)", text)[1:]:
        epoch = int(block.split("/", 1)[0])
        shown = re.findall(rf"{LR_HISTORY_KEY}: (\S+)", block)
        rates[epoch] = shown[-1] if shown else None
    return rates


@pytest.mark.parametrize("name", ["step", "linear", "poly"])
def test_progress_bar_prints_the_posts_lr_column(model, name, capsys):
    # initial_epoch replays the post's "Epoch 98/100" .. "100/100" lines without the 94 before.
    schedule = experiments.get(name).schedule(EPOCHS)
    callback = keras.callbacks.LearningRateScheduler(schedule)
    capsys.readouterr()
    for first, last in ((0, 3), (97, 100)):
        model.fit(
            X,
            Y,
            batch_size=len(X),
            initial_epoch=first,
            epochs=last,
            verbose=1,
            callbacks=[callback],
        )
    shown = _progress_bar_rates(capsys.readouterr().out)
    post = {r["epoch"]: r["lr"] for r in golden.epoch_lines() if r["experiment"] == name}
    assert shown == post


def _rates_from_weight_updates(name, epochs, steps):
    """The rate each of ``epochs * steps`` updates really applied, whatever the optimizer
    reports: recovered from a weight's movement under a gradient of 1 (``bench.drift``)."""
    experiment = experiments.get(name)
    optimizer = schedule.optimizer(dataclasses.replace(experiment, epochs=epochs))
    return drift.rates_applied(optimizer, experiment.momentum, epochs * steps)


def test_standard_really_decays_per_batch():
    # Keras 3 would silently ignore SGD(decay=...); the rate must fall batch by batch.
    epochs, steps = 2, 4
    applied = _rates_from_weight_updates("standard", epochs, steps)
    want = TimeBasedDecay(0.1, experiments.get("standard").decay(epochs)).table(epochs * steps)
    np.testing.assert_allclose(applied, want, rtol=1e-4)
    assert applied[-1] < 0.8 * applied[0]


def test_none_applies_the_posts_rate_not_kerass_default():
    # Keras 2 silently ignored SGD(lr=0.1) and trained at 0.01; the rate must be 0.1.
    applied = _rates_from_weight_updates("none", 2, 4)
    np.testing.assert_allclose(applied, [0.1] * 8, rtol=1e-4)


def test_standard_reports_the_decayed_rate():
    optimizer = schedule.optimizer(experiments.get("standard"))
    optimizer.iterations.assign(391)
    assert compat.applied_lr(optimizer) == pytest.approx(
        golden.schedule_tables()["standard_first_batch"][1], rel=1e-6
    )


def test_a_restored_optimizer_must_have_taken_the_sealed_updates(tmp_path):
    # Keras 3.0's BackupAndRestore restores the weights only: its optimizer is back at
    # update 0, which would silently restart "standard"'s decay; the resume is refused.
    from bench.core import state
    from bench.keras import train

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=compat.sgd(0.1, 0.9), loss=experiments.LOSS)
    run = experiments.Run(experiments.configure("standard", batch_size=2), seed=0)
    with pytest.raises(
        state.StateError,
        match=r"restored an optimizer at update 0, where the "
        r"1 sealed epoch\(s\) need 4 .*add --force",
    ):
        train._check_restored(model, 1, 8, run, tmp_path)
    model.optimizer.iterations.assign(4)
    train._check_restored(model, 1, 8, run, tmp_path)  # 1 epoch of 8 images at batch 2
    train._check_restored(model, 0, 8, run, tmp_path)  # nothing sealed: nothing to check
