"""``bench.keras.lr_find``: the range test on problems with a known answer.

A linear softmax model on scikit-learn's 8x8 digits (64 features in [0, 1]) learns at
moderate rates and diverges at large ones with SGD and momentum 0.9; a model whose batch
loss is the batch's label shows which loss is recorded. Each test builds its own tiny
model (milliseconds per step).
"""

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits

from bench.keras import compat, lr_find
from bench.keras.compat import keras

pytestmark = pytest.mark.keras

X, Y = load_digits(return_X_y=True)


X = (X / 16.0).astype("float32")


ONE_HOT = np.eye(10, dtype="float32")[Y]


def _linear(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=compat.sgd(1e-3, 0.9))
    return model


def _batches(seed=0):
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(X))
        for i in range(0, len(X) - 64 + 1, 64):
            yield X[order[i : i + 64]], ONE_HOT[order[i : i + 64]]


def _loss(model):
    return float(model.evaluate(X, ONE_HOT, verbose=0))


def _one_epoch_at(rate):
    model = _linear()
    before = _loss(model)
    compat.set_lr(model.optimizer, rate)
    model.fit(X, ONE_HOT, batch_size=64, epochs=1, verbose=0, shuffle=False)
    return before, _loss(model)


@pytest.fixture(scope="module")
def found():
    result = lr_find.sweep(_linear(), _batches(), lr_find.rates(1e-5, 1e3, 200))
    return result, lr_find.suggestions(result)


def test_the_curve_falls_then_diverges_and_the_stop_rule_fires(found):
    result, _ = found
    assert result.stopped.startswith("stopped at step")
    assert len(result.rates) < 200
    best = min(result.smoothed)
    assert best < 0.5 * result.smoothed[0]  # it learned
    assert result.smoothed[-1] > lr_find.DIVERGE * best or not math.isfinite(result.smoothed[-1])


def test_the_suggested_rate_trains_and_100x_it_does_not(found):
    _, suggested = found
    rate = suggested["minimum/10"]
    before, after = _one_epoch_at(rate)
    assert after < 0.8 * before, (rate, before, after)
    before, after = _one_epoch_at(100 * rate)
    assert not after < before, (100 * rate, before, after)  # NaN counts as not lower


def test_weights_and_optimizer_state_are_restored_bit_for_bit():
    model = _linear()
    model.fit(X[:128], ONE_HOT[:128], batch_size=64, epochs=1, verbose=0)  # momenta exist
    state = compat.optimizer_state(model.optimizer, model.trainable_variables)
    weights, before = model.get_weights(), [v.numpy().copy() for v in state]
    lr_find.sweep(model, _batches(), lr_find.rates(1e-5, 1e3, 200))
    for a, b in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(before, [v.numpy() for v in state], strict=True):
        np.testing.assert_array_equal(a, b)


def _label_is_the_loss():
    """A model whose loss on a batch is exactly the batch's label: it predicts 0 (no bias,
    inputs of 0), so its mean absolute error is the label, and no weight ever moves."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=compat.sgd(1e-3, 0.9), loss="mean_absolute_error")
    return model


def _batches_of(labels):
    return ((np.zeros((4, 1), "float32"), np.full((4, 1), v, "float32")) for v in labels)


def test_each_batch_records_its_own_loss_not_the_running_mean():
    # Batch i's own loss is 10 + i, where fit's batch-end logs would show the running
    # mean 10 + i / 2.
    model = _label_is_the_loss()
    labels = [10.0 + i for i in range(10)]
    batches = _batches_of(labels)
    result = lr_find.sweep(model, batches, lr_find.rates(1e-6, 1e-5, 10))
    assert result.losses == labels


def test_the_smoothing_is_the_bias_corrected_moving_average():
    result = lr_find.sweep(
        _label_is_the_loss(), _batches_of([3.0, 1.0, 2.0]), lr_find.rates(1e-6, 1e-5, 3)
    )
    # By hand: a1 = 0.02 * 3 = 0.06 -> 0.06 / 0.02 = 3; a2 = 0.98 * 0.06 + 0.02 * 1 = 0.0788
    # -> 0.0788 / 0.0396 = 1.98990; a3 = 0.98 * 0.0788 + 0.02 * 2 = 0.117224 -> / 0.058808.
    assert result.smoothed == pytest.approx([3.0, 0.0788 / 0.0396, 0.117224 / 0.058808], rel=1e-12)
