"""``EpochLog``: each row marks whether its epoch traced and compiled, the first of its
process (issue 20, class 11), so a resumed run's first epoch stays out of the throughput
medians. A resume is a new process with a new log on the same file: here, a second log."""

import numpy as np

from bench.core import results, state
from bench.keras import compat
from bench.keras.compat import keras
from bench.keras.train import EpochLog


def test_the_first_epoch_of_each_log_is_marked_compiled_and_read_back(tmp_path):
    path = tmp_path / state.LOG
    x, y = np.zeros((8, 4), "float32"), np.eye(2, dtype="float32")[np.arange(8) % 2]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer=compat.sgd(0.1, 0.9), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    fit = {"x": x, "y": y, "batch_size": 4, "verbose": 0, "validation_data": (x, y)}
    model.fit(**fit, epochs=3, callbacks=[EpochLog(path, 8)])
    model.fit(**fit, initial_epoch=3, epochs=5, callbacks=[EpochLog(path, 8)])  # "resumed"
    history = state.read_log(path, 5)
    assert history["compiled"] == [True, False, False, True, False]
    assert set(history) == set(results.HISTORY_KEYS)
