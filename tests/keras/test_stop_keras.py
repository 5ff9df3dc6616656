"""StopCheck in a real ``fit``: a Ctrl+C that library code swallows still stops training
before the next batch (the signal handling itself: tests/unit/test_stop.py)."""

import signal

import numpy as np
import pytest
from swallow import swallowed

from bench.core import stop
from bench.keras.callbacks import StopCheck
from bench.keras.compat import keras

pytestmark = pytest.mark.keras

EPOCHS = 3


class _Swallower(keras.callbacks.Callback):
    """Ctrl+C during the first batch, lost there, as np.array(jax_array) lost it."""

    def on_train_begin(self, logs=None):
        self.batches = 0

    def on_train_batch_begin(self, batch, logs=None):
        self.batches += 1
        if self.batches == 1:
            assert swallowed(signal.SIGINT)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    return m


X = np.linspace(0, 1, 32, dtype="float32").reshape(8, 4)


Y = keras.utils.to_categorical(np.arange(8) % 2, 2)


@pytest.mark.parametrize("check", [True, False])
def test_training_stops_before_the_next_batch_only_with_stopcheck(model, check):
    """Without StopCheck the lost Ctrl+C lets fit run to the end: the bug, staged. With
    it (after the swallower, as in a run's list) the batch being begun never runs."""
    swallower = _Swallower()
    callbacks = [swallower, StopCheck()] if check else [swallower]
    with stop.handled():
        if check:
            with pytest.raises(KeyboardInterrupt):
                model.fit(X, Y, batch_size=4, epochs=EPOCHS, verbose=0, callbacks=callbacks)
            assert swallower.batches == 1
        else:
            model.fit(X, Y, batch_size=4, epochs=EPOCHS, verbose=0, callbacks=callbacks)
            assert swallower.batches == 2 * EPOCHS
