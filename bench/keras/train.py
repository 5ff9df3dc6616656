"""One run of the post's ``train.py``: build, fit, evaluate, return its results.

The post's script, line for line where it still works: ``ResNet.build`` with its
arguments, SGD with momentum 0.9 and the experiment's rate policy (Keras' time-based decay
for "standard", ``LearningRateScheduler`` for step/linear/poly: ``bench.keras.schedule``),
``model.fit`` with the test set as validation data and Keras' own progress bar, then
``model.predict`` and scikit-learn's ``classification_report``. What differs, and why:

- images stay uint8 and each batch is scaled to [0, 1] in float32 as it is fed (the post
  made a float64 copy of the whole dataset);
- every run is seeded (``keras.utils.set_random_seed``), and its per-epoch figures - the
  rate really applied, wall time, ms/step, images/s - go to a results JSON.
"""

from __future__ import annotations

import datetime
import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import classification_report

from bench.core import data, experiments, identity, results, state
from bench.keras import compat, schedule
from bench.keras.callbacks import StopCheck
from bench.keras.compat import keras
from bench.keras.resnet import ResNet, forward_flops
from bench.keras.space import SpaceCheck

log = logging.getLogger(__name__)


class EpochLog(keras.callbacks.CSVLogger):
    """Keras' CSVLogger, each row with the suite's measures: the rate of the epoch's last
    update, wall seconds, training ms/step, images/s, and whether the epoch traced and
    compiled - the first of each process, resumed or not (as ``bench_<measure>``).

    Nothing runs per batch (a per-batch read of a device variable stalls a GPU's input
    pipeline every step): the rate, the update count and the training time are read once,
    when validation starts - before any epoch-end callback (ReduceLROnPlateau, say) has
    changed the rate. The measures go into the row only, never into the logs that Keras'
    progress bar and History share.
    """

    def __init__(self, path: Path, train_images: int):
        super().__init__(str(path), append=True)
        self.train_images = train_images
        self.compiles = True  # one log per process: its first epoch traces and compiles

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()
        self.first_update = int(self.model.optimizer.iterations.numpy())
        self.trained = None

    def on_test_begin(self, logs=None):  # fit's validation: this epoch's training is over
        if self.trained is None:
            updates = int(self.model.optimizer.iterations.numpy())
            rate = compat.applied_lr(self.model.optimizer, updates - 1)
            self.trained = (time.perf_counter(), updates - self.first_update, rate)

    def on_epoch_end(self, epoch, logs=None):
        self.on_test_begin()  # an epoch without validation ends its training here
        train_end, steps, rate = self.trained
        train_seconds = train_end - self.epoch_start
        measures = {
            "lr": rate,
            "seconds": time.perf_counter() - self.epoch_start,
            "ms_per_step": 1000 * train_seconds / steps,
            "images_per_second": self.train_images / train_seconds,
            "compiled": int(self.compiles),
        }
        self.compiles = False
        row = {**(logs or {}), **{f"bench_{k}": measures[k] for k in results.MEASURES}}
        super().on_epoch_end(epoch, row)


class EpochOrder(keras.callbacks.Callback):
    """The order of each epoch's images, ``data.epoch_order(seed, epoch)``: a function of
    those two alone, so a resumed run sees the very batches an uninterrupted one would, on
    every backend. ``compat.batches`` asks for it once per epoch, after it was set here."""

    def __init__(self, seed: int, images: int):
        super().__init__()
        self.seed, self.images = seed, images
        self.watchers: list[Callable[[np.ndarray], Any]] = []
        self.on_epoch_begin(0)

    def on_epoch_begin(self, epoch, logs=None):
        self.indices = data.epoch_order(self.seed, epoch, self.images)
        for watcher in self.watchers:
            watcher(self.indices)

    def watch(self, watcher: Callable[[np.ndarray], Any]) -> None:
        """Have ``watcher`` called with each epoch's order as it is set."""
        self.watchers.append(watcher)

    def __call__(self) -> np.ndarray:
        return self.indices


def _git_commit() -> str | None:
    """The suite's own commit, "+dirty" if its code differs from it (reports/, which runs
    write into, does not count), or None outside a checkout."""

    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports")
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def run(
    run: experiments.Run,
    dataset: data.Dataset,
    *,
    state_dir: Path,
    force: bool = False,
    verbose: int = 1,
) -> dict[str, Any]:
    """Train ``run`` on ``dataset`` and return its results (``bench.core.results``).

    The training state lives in ``state_dir`` (``bench.core.state``): the same call after an
    interruption continues where it stopped. ``run.deterministic`` adds TensorFlow's op
    determinism to the seeding.
    """
    started, experiment = _now(), run.experiment
    if run.backend != compat.BACKEND:
        raise ValueError(
            f"the run is set for Keras' {run.backend} backend (KERAS_BACKEND or "
            f"keras.json), but Keras {compat.KERAS_VERSION} runs {compat.BACKEND} here"
        )
    run_identity = identity.of(run, dataset)
    done = state.prepare(state_dir, run_identity, force)
    if done:
        log.info("[INFO] resuming the interrupted run kept in %s after epoch %s", state_dir, done)
    keras.utils.set_random_seed(run.seed)
    if run.deterministic:
        compat.deterministic()
    classes = len(dataset.class_names)
    model = ResNet.build(**{**experiment.model_args, "classes": classes})
    steps = experiments.steps_per_epoch(len(dataset.train_y), experiment.batch_size)
    optimizer, rate_callbacks = schedule.attach(experiment, steps, state_dir / state.LOG)
    model.compile(loss=experiments.LOSS, optimizer=optimizer, metrics=list(experiments.METRICS))
    diverged = _fit(model, run, dataset, rate_callbacks, state_dir, verbose, done)
    if diverged is not None:
        epoch, batch, loss = diverged
        raise state.DivergedError(
            f"{experiment.name} seed {run.seed} diverged: its training loss became "
            f"{float(loss)} at epoch {epoch}, batch {batch}; no results were written and its "
            "state was dropped (a lower rate may train)"
        )
    history = state.read_log(state_dir / state.LOG, experiment.epochs)
    log.info("[INFO] evaluating network...")
    evaluation = _evaluate(model, dataset, experiment.batch_size)
    return _results(run, dataset, run_identity, model, started, history, evaluation)


def _results(
    run: experiments.Run,
    dataset: data.Dataset,
    run_identity: identity.Identity,
    model: Any,
    started: str,
    history: dict[str, Any],
    evaluation: dict[str, Any],
) -> dict[str, Any]:
    """The results file of a trained run (``bench.core.results``)."""
    placed = identity.results_fields(run_identity)
    course = identity.course(run, dataset)
    config = {
        **placed["config"],
        **run.experiment.policy.recorded(course),
        "forward_flops_per_image": forward_flops(model),
        "lr_source": run.experiment.lr_source,
    }
    counts = {
        "train_images": len(dataset.train_y),
        "test_images": len(dataset.test_y),
        "steps_per_epoch": course.steps,
        "source": dataset.source,
    }
    environment = {**compat.environment(), **placed["environment"], "git_commit": _git_commit()}
    return results.build(
        experiment=placed["experiment"],
        seed=placed["seed"],
        config=config,
        dataset={**placed["dataset"], **counts},
        environment=environment,
        started=started,
        finished=_now(),
        history=history,
        evaluation=evaluation,
    )


def _callbacks(
    run: experiments.Run, rate_callbacks: list[Any], state_dir: Path, images: int, done: int
) -> list[Any]:
    """The run's callbacks. Keras calls them in list order, and one order matters: an
    epoch's CSV row must be written before its backup, or a kill between the two would
    resume past an epoch the log never saw. Checked here, not left to a comment."""
    order = EpochOrder(run.seed, images)
    callbacks = [
        order,
        Divergence(),  # before the log and the backup: they see training stopped
        *rate_callbacks,
        EpochLog(state_dir / state.LOG, images),
        SpaceCheck(state_dir / state.BACKUP),  # h5py crashes on a full disk: ask first
        compat.backup_and_restore(
            state_dir / state.BACKUP,
            saved=lambda n: state.seal(state_dir, n),
            restored=lambda model: _check_restored(model, done, images, run, state_dir),
        ),
        StopCheck(),  # last: an epoch that ended is logged and backed up before it stops
    ]
    _check_order(callbacks)
    return callbacks


class Divergence(keras.callbacks.TerminateOnNaN):
    """Keras' TerminateOnNaN, remembering the epoch and batch where the loss stopped being a
    number, so a diverged run is named as such (``state.DivergedError``), never resumed."""

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_batch_end(self, batch: int, logs: Any = None) -> None:
        super().on_batch_end(batch, logs)
        if self.model.stop_training and getattr(self, "at", None) is None:
            self.at = (self.epoch + 1, batch + 1, (logs or {}).get("loss"))


def _check_restored(
    model: Any, done: int, images: int, run: experiments.Run, state_dir: Path
) -> None:
    """The optimizer Keras restored must have taken the sealed epochs' updates (its update
    count drives "standard" and every per-update schedule); else the run does not resume."""
    if not done:
        return
    want = done * experiments.steps_per_epoch(images, run.experiment.batch_size)
    got = int(model.optimizer.iterations.numpy())
    if got != want:
        raise state.StateError(
            f"{state_dir / state.BACKUP} restored an optimizer at update {got}, where the "
            f"{done} sealed epoch(s) need {want} (Keras {compat.KERAS_VERSION}'s "
            "BackupAndRestore keeps the weights only): the run was not resumed; add --force "
            "to start it over"
        )


def _check_order(callbacks: list[Any]) -> None:
    def first(kind: type) -> int:
        return next(i for i, c in enumerate(callbacks) if isinstance(c, kind))

    if first(EpochLog) > first(keras.callbacks.BackupAndRestore):
        raise RuntimeError("the run's CSV log must come before its BackupAndRestore")
    if first(SpaceCheck) > first(keras.callbacks.BackupAndRestore):
        raise RuntimeError("the space check must come before the BackupAndRestore")


def _fit(
    model: Any,
    run: experiments.Run,
    dataset: data.Dataset,
    rate_callbacks: list[Any],
    state_dir: Path,
    verbose: int,
    done: int,
) -> tuple[int, int, float] | None:
    """``model.fit`` from the first epoch not sealed (Keras' own backup may say so too);
    where the loss stopped being a number: (epoch, batch, loss), else None."""
    classes, batch = len(dataset.class_names), run.experiment.batch_size
    callbacks = _callbacks(run, rate_callbacks, state_dir, len(dataset.train_y), done)
    train_y = data.one_hot(dataset.train_y, classes)
    test_y = data.one_hot(dataset.test_y, classes)
    model.fit(
        compat.batches(dataset.train_x, train_y, batch, callbacks[0]),
        validation_data=compat.batches(dataset.test_x, test_y, batch),
        epochs=run.experiment.epochs,
        initial_epoch=done,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # EpochOrder shuffles
    )
    divergence = next(c for c in callbacks if isinstance(c, Divergence))
    return getattr(divergence, "at", None)


def _evaluate(model: Any, dataset: data.Dataset, batch_size: int) -> dict[str, Any]:
    """The post's ``model.predict`` and scikit-learn's classification report."""

    classes = len(dataset.class_names)
    test = compat.batches(dataset.test_x, data.one_hot(dataset.test_y, classes), batch_size)
    predictions = model.predict(test, verbose=0)
    report_args = {
        "y_true": dataset.test_y,
        "y_pred": predictions.argmax(axis=1),
        "labels": list(range(classes)),
        "target_names": list(dataset.class_names),
        "zero_division": 0,
    }
    report_text = classification_report(**report_args)
    log.info(report_text)
    report = classification_report(**report_args, output_dict=True)
    return {"accuracy": float(report["accuracy"]), "report": report, "report_text": report_text}
