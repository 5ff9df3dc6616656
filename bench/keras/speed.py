"""The post's ResNet's training speed here: ``model.fit`` at the post's batch of 128, fp32,
on random CIFAR-10-shaped uint8 images fed as a training run feeds them
(``compat.batches``), on whichever Keras backend runs. Two epochs of ``steps`` updates:
the first traces and compiles, the second is timed. The post's GPU did 86 ms/step, 1,488
images/s (the medians of its epoch lines; ``bench.api.tools.speed`` adds them).

No dataset is needed, so it runs where CIFAR-10 cannot be fetched (a lent GPU box).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.core import checks, data, experiments
from bench.keras import compat, schedule
from bench.keras.callbacks import EpochTimes, StopCheck
from bench.keras.compat import keras
from bench.keras.resnet import ResNet


def random_fit(steps: int, batch_size: int, model: str, seed: int, timer: Any) -> None:
    """Two epochs of ``steps`` updates of the post's (or the quick) ResNet on random
    CIFAR-10-shaped images, fed as a run feeds them, ``timer`` (a callback) watching: the
    first epoch traces and compiles, the second is the one to time."""
    checks.whole_number("steps", steps)
    experiment = experiments.configure("none", batch_size=batch_size, model=model)
    keras.utils.set_random_seed(seed)
    net = ResNet.build(**experiment.model_args)
    net.compile(
        loss=experiments.LOSS,
        optimizer=schedule.optimizer(experiment),
        metrics=list(experiments.METRICS),
    )
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(steps * batch_size, 32, 32, 3), dtype=np.uint8)
    labels = data.one_hot(rng.integers(0, 10, size=len(images)), 10)
    net.fit(
        compat.batches(images, labels, batch_size),
        epochs=2,
        callbacks=[timer, StopCheck()],
        verbose=0,
        shuffle=False,
    )  # random images: their order does not matter


def measure(
    steps: int, batch_size: int = experiments.BATCH_SIZE, model: str = "post", seed: int = 0
) -> dict[str, Any]:
    """ms/step and images/s of the timed epoch."""
    times = EpochTimes()
    random_fit(steps, batch_size, model, seed, times)
    ms = 1000 * times.seconds[1] / steps
    return {
        "environment": compat.environment(),  # as a results file's: devices, CUDA, CPU
        "model": model,
        "batch_size": batch_size,
        "steps": steps,
        "first_epoch_seconds": times.seconds[0],
        "ms_per_step": ms,
        "images_per_second": 1000 * batch_size / ms,
    }
