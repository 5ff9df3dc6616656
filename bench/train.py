"""One run of the post's ``train.py``: build, fit, evaluate, write results and plots.

The post's script, line for line where it still works: ``ResNet.build`` with its
arguments, SGD with momentum 0.9 (and Keras' time-based decay for "standard", through
``bench.compat``), ``LearningRateScheduler`` for step/linear/poly, ``model.fit`` with the
test set as validation data and Keras' own progress bar, then ``model.predict`` and
scikit-learn's ``classification_report``. What differs, and why:

- images stay uint8 and each batch is scaled to [0, 1] in float32 as it is fed (the post
  made a float64 copy of the whole dataset);
- every run is seeded (``keras.utils.set_random_seed``), and its per-epoch figures - the
  rate really applied, wall time, ms/step, images/s - go to a results JSON.
"""

from __future__ import annotations

import datetime
import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import compat, data, experiments, plots, results
from bench.compat import keras, tf
from bench.resnet import ResNet, forward_flops


class EpochStats(keras.callbacks.Callback):
    """Per epoch: wall seconds, training ms/step and images/s, and the applied rate."""

    def __init__(self, train_images: int):
        super().__init__()
        self.train_images = train_images
        self.rows: dict[str, list[float]] = {"lr": [], "seconds": [], "ms_per_step": []}
        self.rows["images_per_second"] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self.train_start = time.perf_counter()
        # Read before the update, so it is the rate this batch trains with.
        self.last_lr = compat.applied_lr(self.model.optimizer)
        self.steps = batch + 1

    def on_train_batch_end(self, batch, logs=None):
        self.train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        train_seconds = self.train_end - self.train_start
        self.rows["lr"].append(self.last_lr)
        self.rows["seconds"].append(time.perf_counter() - self.epoch_start)
        self.rows["ms_per_step"].append(1000 * train_seconds / self.steps)
        self.rows["images_per_second"].append(self.train_images / train_seconds)


def batches(x: np.ndarray, labels: np.ndarray, batch_size: int, seed: int | None = None) -> Any:
    """uint8 images -> float32 [0, 1] batches with one-hot labels; shuffled when seeded."""
    ds = tf.data.Dataset.from_tensor_slices((x, labels))
    if seed is not None:  # like fit(shuffle=True): a new order every epoch
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda images, y: (tf.cast(images, tf.float32) / 255.0, y))
    return ds.prefetch(tf.data.AUTOTUNE)


def _fingerprint(dataset: data.Dataset) -> str:
    digest = hashlib.sha256()
    for array in (dataset.train_x, dataset.train_y, dataset.test_x, dataset.test_y):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _git_commit() -> str | None:
    """The suite's own commit (with "+dirty" for uncommitted changes), if run from a checkout."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run(
    experiment: experiments.Experiment,
    dataset: data.Dataset,
    *,
    epochs: int,
    seed: int,
    batch_size: int,
    subset: int | None = None,
    verbose: int = 1,
) -> dict[str, Any]:
    """Train ``experiment`` on ``dataset`` and return its results (see ``bench.results``)."""
    started = _now()
    keras.utils.set_random_seed(seed)
    classes = len(dataset.class_names)
    model = ResNet.build(**{**experiment.model_args, "classes": classes})
    model.compile(
        loss=experiments.LOSS,
        optimizer=compat.make_optimizer(experiment, epochs),
        metrics=list(experiments.METRICS),
    )
    schedule = experiment.schedule(epochs)
    stats = EpochStats(len(dataset.train_y))
    callbacks = [stats]
    if schedule is not None:
        callbacks.insert(0, keras.callbacks.LearningRateScheduler(schedule))
    train_y = data.one_hot(dataset.train_y, classes)
    test_y = data.one_hot(dataset.test_y, classes)
    history = model.fit(
        batches(dataset.train_x, train_y, batch_size, seed=seed),
        validation_data=batches(dataset.test_x, test_y, batch_size),
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # batches() already reshuffles every epoch
    )

    print("[INFO] evaluating network...")
    predictions = model.predict(batches(dataset.test_x, test_y, batch_size), verbose=0)
    report_args = {
        "y_true": dataset.test_y,
        "y_pred": predictions.argmax(axis=1),
        "labels": list(range(classes)),
        "target_names": list(dataset.class_names),
        "zero_division": 0,
    }
    from sklearn.metrics import classification_report

    report_text = classification_report(**report_args)
    print(report_text)
    report = classification_report(**report_args, output_dict=True)

    return {
        "schema_version": results.SCHEMA_VERSION,
        "experiment": experiment.name,
        "config": {
            "init_lr": experiment.init_lr,
            "momentum": experiment.momentum,
            "decay": experiment.decay(epochs),
            "batch_size": batch_size,
            "epochs": epochs,
            "schedule": repr(schedule) if schedule is not None else None,
            "loss": experiments.LOSS,
            "model_args": {**experiment.model_args, "classes": classes},
            "forward_flops_per_image": forward_flops(model),
        },
        "seed": seed,
        "dataset": {
            "name": dataset.name,
            "subset": subset,
            "train_images": len(dataset.train_y),
            "test_images": len(dataset.test_y),
            "steps_per_epoch": experiments.steps_per_epoch(len(dataset.train_y), batch_size),
            "source": dataset.source,
            "sha256": _fingerprint(dataset),
        },
        "environment": {**compat.environment(), "git_commit": _git_commit()},
        "started": started,
        "finished": _now(),
        "history": {
            "epoch": list(range(1, epochs + 1)),
            **{k: [float(v) for v in history.history[k]] for k in results.HISTORY_KEYS[1:5]},
            **stats.rows,
        },
        "evaluation": {
            "accuracy": float(report["accuracy"]),
            "report": report,
            "report_text": report_text,
        },
    }


def save(
    results_data: dict[str, Any],
    experiment: experiments.Experiment,
    out: Path,
    lr_plot: Path,
    train_plot: Path,
) -> list[Path]:
    """Write the results JSON and the post's two plots; return the paths written."""
    out = Path(out)
    written = [
        results.write(out / results.file_name(experiment.name, results_data["seed"]), results_data)
    ]
    title = f"Training Loss and Accuracy on {data.TITLES[results_data['dataset']['name']]}"
    written.append(plots.save(plots.training_figure(results_data["history"], title), train_plot))
    schedule = experiment.schedule(results_data["config"]["epochs"])
    if schedule is not None:  # the post draws the rate only for its own schedules
        epochs = range(results_data["config"]["epochs"])
        written.append(plots.save(schedule.plot(epochs), lr_plot))
    return written
