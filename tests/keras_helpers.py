"""What several Keras tests need and the package does not: a callback that records the
applied rate, the history key this Keras logs the rate under, and the layer behind a
tensor."""

from bench.keras import compat
from bench.keras.compat import keras

# The key LearningRateScheduler writes into History (and the progress bar shows).
LR_HISTORY_KEY = "lr" if compat.KERAS_MAJOR < 3 else "learning_rate"


class AppliedRates(keras.callbacks.Callback):
    """The rate the optimizer is about to apply, read at the start of every batch."""

    def on_train_begin(self, logs=None):
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(compat.applied_lr(self.model.optimizer))


def producer(tensor):
    """The layer that produced a functional-model tensor (Keras 3 calls it an operation)."""
    history = tensor._keras_history
    return getattr(history, "operation", None) or history.layer
