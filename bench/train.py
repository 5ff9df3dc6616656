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

import contextlib
import csv
import datetime
import hashlib
import json
import shutil
import time
import types
from pathlib import Path
from typing import Any

import numpy as np

from bench import compat, data, experiments, files, plots, results
from bench.compat import keras, tf
from bench.resnet import ResNet, forward_flops


class EpochStats(keras.callbacks.Callback):
    """Per epoch: the applied rate, wall seconds, training ms/step and images/s.

    They go into the epoch's logs as ``bench_*`` so that Keras' CSVLogger, next in the
    list, records them with Keras' own metrics; ``HideStats`` then takes them out again
    before the progress bar and History see them.
    """

    def __init__(self, train_images: int):
        super().__init__()
        self.train_images = train_images

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
        logs["bench_lr"] = self.last_lr
        logs["bench_seconds"] = time.perf_counter() - self.epoch_start
        logs["bench_ms_per_step"] = 1000 * train_seconds / self.steps
        logs["bench_images_per_second"] = self.train_images / train_seconds


class HideStats(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        for key in results.MEASURES:  # in the CSV log as bench_<key>
            logs.pop(f"bench_{key}", None)


class EpochOrder(keras.callbacks.Callback):
    """Shuffles each epoch by (seed, epoch) alone, so a resumed run sees the very batches an
    uninterrupted one would (tf.data's own reshuffling restarts from epoch 0's order)."""

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)

    def indices(self, n: int) -> Any:
        seed = tf.stack([tf.constant(self.seed, tf.int64), self.epoch])
        return tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=seed)


def batches(
    x: np.ndarray, labels: np.ndarray, batch_size: int, order: EpochOrder | None = None
) -> Any:
    """uint8 images -> float32 [0, 1] batches with their one-hot labels, in ``order``'s
    order each epoch (in the data's own order without one)."""
    images, targets = tf.constant(x), tf.constant(labels)
    n = len(x)
    if order is None:
        index = tf.data.Dataset.range(n)
    else:  # flat_map runs once per epoch, after on_epoch_begin has set the epoch
        index = tf.data.Dataset.from_tensors(0).flat_map(
            lambda _: tf.data.Dataset.from_tensor_slices(order.indices(n))
        )
    ds = index.batch(batch_size).map(
        lambda i: (tf.cast(tf.gather(images, i), tf.float32) / 255.0, tf.gather(targets, i))
    )
    # flat_map hides the length; stating it lets Keras show "k/N" steps from epoch 1.
    steps = experiments.steps_per_epoch(n, batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)


# --- the run's state, for resuming (bench.train.run's state_dir) ---

IDENTITY = "run.json"
LOG = "history.csv"
BACKUP = "backup"


def prepare_state(state_dir: Path, identity: dict[str, Any], force: bool = False) -> bool:
    """Ready ``state_dir`` for a run; True when it holds an interrupted run to resume.

    A run resumes only with the settings it started with (``identity``); anything else is
    a ``ValueError`` unless ``force``, which throws the old state away.
    """
    state_dir = Path(state_dir)
    if force and state_dir.exists():
        shutil.rmtree(state_dir)
    path = state_dir / IDENTITY
    if path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            saved = None
        if saved != identity:
            differ = sorted(k for k in identity if not saved or saved.get(k) != identity[k])
            raise ValueError(
                f"{state_dir} holds an interrupted run with other settings ({', '.join(differ)}"
                "): run the same command as before to resume it, or add --force to start over"
            )
        if (state_dir / BACKUP).exists():
            return True
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / LOG).unlink(missing_ok=True)  # rows of an epoch that was never backed up
    text = json.dumps(identity, indent=1, sort_keys=True)
    files.atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return False


def _log_rows(path: Path) -> dict[int, dict[str, str]]:
    """The CSV log's rows by 0-based epoch (a re-run epoch's last row wins)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return {int(row["epoch"]): row for row in csv.DictReader(f)}


def read_log(path: Path, epochs: int) -> dict[str, list[float]]:
    """The per-epoch history from the CSV log, one row per epoch (a re-run epoch's last)."""
    rows = _log_rows(path)
    if sorted(rows) != list(range(epochs)):
        raise RuntimeError(f"{path} logs epochs {sorted(rows)}, expected 0..{epochs - 1}")
    ordered = [rows[e] for e in range(epochs)]
    history = {"epoch": list(range(1, epochs + 1))}
    history |= {k: [float(r[k]) for r in ordered] for k in results.KERAS_METRICS}
    history |= {k: [float(r[f"bench_{k}"]) for r in ordered] for k in results.MEASURES}
    return history


def finish(state_dir: Path) -> None:
    """Drop a finished run's state (its results file holds everything), and the folder of
    states once it is empty."""
    shutil.rmtree(state_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path(state_dir).parent.rmdir()


def _fingerprint(dataset: data.Dataset) -> str:
    digest = hashlib.sha256()
    for array in (dataset.train_x, dataset.train_y, dataset.test_x, dataset.test_y):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _git_commit() -> str | None:
    """The suite's own commit, "+dirty" if its code differs from it (reports/, which runs
    write into, does not count), or None outside a checkout."""
    import subprocess

    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports")
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
    state_dir: Path,
    subset: int | None = None,
    deterministic: bool = False,
    force: bool = False,
    verbose: int = 1,
) -> dict[str, Any]:
    """Train ``experiment`` on ``dataset`` and return its results (see ``bench.results``).

    The training state lives in ``state_dir`` (Keras' BackupAndRestore, and a CSVLogger
    of every epoch): the same call after an interruption continues where it stopped.
    ``deterministic`` adds TensorFlow's op determinism to the seeding.
    """
    started = _now()
    checksum = _fingerprint(dataset)
    identity = {
        "experiment": experiment.name,
        "epochs": epochs,
        "seed": seed,
        "batch_size": batch_size,
        "dataset": dataset.name,
        "subset": subset,
        "model_args": json.loads(json.dumps(experiment.model_args)),
        "schedule_args": experiment.schedule_args,
        "plateau": experiment.plateau,
        "deterministic": deterministic,
        "data_sha256": checksum,
    }
    if prepare_state(state_dir, identity, force):
        print(f"[INFO] resuming the interrupted run kept in {state_dir}")
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    classes = len(dataset.class_names)
    model = ResNet.build(**{**experiment.model_args, "classes": classes})
    steps = experiments.steps_per_epoch(len(dataset.train_y), batch_size)
    schedule = experiment.schedule(epochs, steps)
    model.compile(
        loss=experiments.LOSS, optimizer=_optimizer(experiment, schedule, epochs, steps),
        metrics=list(experiments.METRICS),
    )  # fmt: skip
    order = EpochOrder(seed)
    callbacks = [
        order,
        *_rate_callbacks(experiment, schedule, state_dir / LOG),
        EpochStats(len(dataset.train_y)),
        keras.callbacks.CSVLogger(str(state_dir / LOG), append=True),
        HideStats(),
        compat.backup_and_restore(state_dir / BACKUP),
    ]
    train_y = data.one_hot(dataset.train_y, classes)
    test_y = data.one_hot(dataset.test_y, classes)
    model.fit(
        batches(dataset.train_x, train_y, batch_size, order),
        validation_data=batches(dataset.test_x, test_y, batch_size),
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # EpochOrder shuffles
    )
    history = read_log(state_dir / LOG, epochs)

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
            "per_iteration": experiment.per_iteration,
            "plateau": experiment.plateau,
            "loss": experiments.LOSS,
            "model_args": {**experiment.model_args, "classes": classes},
            "forward_flops_per_image": forward_flops(model),
            "deterministic": deterministic,
        },
        "seed": seed,
        "dataset": {
            "name": dataset.name,
            "subset": subset,
            "train_images": len(dataset.train_y),
            "test_images": len(dataset.test_y),
            "steps_per_epoch": steps,
            "source": dataset.source,
            "sha256": checksum,
        },
        "environment": {**compat.environment(), "git_commit": _git_commit()},
        "started": started,
        "finished": _now(),
        "history": history,
        "evaluation": {
            "accuracy": float(report["accuracy"]),
            "report": report,
            "report_text": report_text,
        },
    }


def _optimizer(experiment: experiments.Experiment, schedule: Any, epochs: int, steps: int) -> Any:
    """The post's SGD; a per-iteration schedule is its ``learning_rate`` (Keras evaluates it
    before every update), every other rate starts at the post's 1e-1."""
    if not experiment.per_iteration:
        return compat.make_optimizer(experiment, epochs)
    from bench.keras_schedule import to_keras

    return compat.sgd(to_keras(schedule, steps, epochs), experiment.momentum)


class ResumablePlateau(keras.callbacks.ReduceLROnPlateau):
    """Keras' ReduceLROnPlateau, able to resume.

    It keeps its best loss and patience count in itself, which BackupAndRestore does not
    save; so before the first epoch of a resumed run the epochs already logged are replayed
    through Keras' own ``on_epoch_end``, against a stand-in optimizer, and the real one
    (whose rate the backup restored) is left alone.
    """

    def __init__(self, log: Path, init_lr: float, **kwargs: Any):
        super().__init__(**kwargs)
        self.log, self.init_lr = Path(log), init_lr

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.replayed = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self.replayed:  # the first epoch run here: BackupAndRestore has said which
            self.replayed = True
            self._replay(epoch)

    def _replay(self, epochs: int) -> None:
        if epochs == 0:
            return
        rows = _log_rows(self.log)
        model, verbose = self.model, self.verbose
        stand_in = types.SimpleNamespace(optimizer=compat.sgd(self.init_lr, 0.0))
        self.set_model(stand_in)
        self.verbose = 0
        try:
            for epoch in range(epochs):
                self.on_epoch_end(epoch, {self.monitor: float(rows[epoch][self.monitor])})
        finally:
            self.set_model(model)
            self.verbose = verbose


def _rate_callbacks(experiment: experiments.Experiment, schedule: Any, log: Path) -> list[Any]:
    """The post's LearningRateScheduler for a per-epoch schedule; ReduceLROnPlateau for
    the plateau experiment, resuming from the run's CSV ``log``."""
    if experiment.plateau is not None:
        return [ResumablePlateau(log, experiment.init_lr, **experiment.plateau, verbose=1)]
    if schedule is None or experiment.per_iteration:
        return []
    return [keras.callbacks.LearningRateScheduler(schedule)]


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
    epochs, steps = results_data["config"]["epochs"], results_data["dataset"]["steps_per_epoch"]
    figure = experiment.lr_figure(epochs, steps)
    if figure is not None:  # the post draws the rate only for its own schedules
        written.append(plots.save(figure, lr_plot))
    return written
