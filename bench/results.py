"""The results file of one training run: its schema, how it is written and read.

One JSON object per run, written atomically (``bench.files.atomic_write``)::

    schema_version  int   SCHEMA_VERSION; readers refuse other versions
    experiment      str   a name from bench.experiments ("none", "standard", ...)
    config          obj   init_lr, momentum, decay, batch_size, epochs, schedule (repr or
                          null), loss, model_args, forward_flops_per_image - what the run
                          was built from
    seed            int   keras.utils.set_random_seed's seed
    dataset         obj   name, subset (null or the --subset asked for), train_images,
                          test_images, steps_per_epoch, source, sha256 (of the images
                          and labels actually used)
    environment     obj   python, tensorflow, keras, numpy, cuda, cudnn, devices, cpu,
                          cpu_count, platform, git_commit (null outside a checkout)
    started, finished     ISO 8601 UTC times
    history         obj   per epoch, lists of equal length `epochs`:
                            epoch             1-based, as Keras prints it
                            loss, accuracy, val_loss, val_accuracy   Keras' History
                            lr                the rate the optimizer applied to the
                                              epoch's last batch, whatever Keras calls it
                            seconds           wall time of the epoch, validation included
                            ms_per_step       training time / steps (the first epoch
                                              includes tracing and compilation)
                            images_per_second training images / training time
    evaluation      obj   accuracy, and scikit-learn's classification_report as a dict
                          ("report") and as the text the post prints ("report_text")
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bench.files import atomic_write

SCHEMA_VERSION = 1
REQUIRED = (
    "schema_version", "experiment", "config", "seed", "dataset",
    "environment", "started", "finished", "history", "evaluation",
)  # fmt: skip
# Keras' own per-epoch metrics, and the suite's measures (bench.train.EpochStats).
KERAS_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
MEASURES = ("lr", "seconds", "ms_per_step", "images_per_second")
HISTORY_KEYS = ("epoch", *KERAS_METRICS, *MEASURES)


class ResultsError(ValueError):
    """A results file is missing, unreadable or does not follow the schema."""


def file_name(experiment: str, seed: int) -> str:
    return f"{experiment}-seed{seed}.json"


def validate(results: Any, where: str = "results") -> dict[str, Any]:
    """``results`` if it follows the schema, else ``ResultsError`` naming the problem."""

    def fail(problem: str) -> ResultsError:
        return ResultsError(f"{where}: {problem}")

    if not isinstance(results, dict):
        raise fail("not a JSON object")
    missing = [k for k in REQUIRED if k not in results]
    if missing:
        raise fail(f"missing {', '.join(missing)}")
    if results["schema_version"] != SCHEMA_VERSION:
        raise fail(f"schema_version {results['schema_version']!r}, expected {SCHEMA_VERSION}")
    history = results["history"]
    epochs = results["config"].get("epochs") if isinstance(results["config"], dict) else None
    if not isinstance(history, dict) or not isinstance(epochs, int) or epochs <= 0:
        raise fail("history must be an object and config.epochs a whole number > 0")
    for key in HISTORY_KEYS:
        values = history.get(key)
        if not isinstance(values, list) or len(values) != epochs:
            got = len(values) if isinstance(values, list) else "none"
            raise fail(f"history.{key} must list {epochs} epochs, has {got}")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise fail(f"history.{key} holds a value that is not a finite number")
    if history["epoch"] != list(range(1, epochs + 1)):
        raise fail(f"history.epoch must run 1..{epochs}")
    return results


def write(path: Path, results: dict[str, Any]) -> Path:
    """Validate ``results`` and write it to ``path`` atomically."""
    validate(results, str(path))
    text = json.dumps(results, indent=1, allow_nan=False) + "\n"
    return atomic_write(Path(path), lambda f: f.write(text.encode("utf-8")))


def read(path: Path) -> dict[str, Any]:
    """The validated results in ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        results = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return validate(results, str(path))
