"""The upgrade check's use cases: a training-step fingerprint written to a file, and the
measurements one environment contributes to ``nox -s upgrade`` (the drift probe; rounds of
per-step speed, each with a convergence seed), each written whole as JSON for
``bench.report.upgrade`` to read.

Each runs in the environment under test; Keras loads only when the work starts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import data, experiments, files


def write_json(path: Path, value: Any) -> Path:
    """``value`` as indented JSON, whole or not at all."""
    text = json.dumps(value, indent=1) + "\n"
    return files.atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def fingerprint(out: Path, **options: Any) -> dict[str, Any]:
    """Run the training-step fingerprint on the CPU and write it to ``out``."""
    files.check_writable_file(Path(out))
    # Before any backend starts: the fingerprint is the CPU's, whatever GPU is there.
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    from bench.keras import fingerprint as fp  # lazy: TensorFlow/Keras load only for the work

    result = fp.run(**options)
    write_json(out, result)
    return result


def drift(out: Path) -> dict[str, Any]:
    """The drift probe's row for this environment (``bench drift --print-only``'s), saved."""
    from bench.keras import drift as probe  # lazy: TensorFlow/Keras load only for the work

    row = probe.current_row()
    write_json(out, row)
    return row


# The convergence seed each speed round trains after its timed steps: the quick
# reproduction's "linear" on the embedded digits set, 10 epochs, deterministic. Its final
# accuracy spreads under half a point over seeds, so 6 seeds a side detect a difference of
# about 1 point with 80 % power (measured: docs/upgrade.md).
CONVERGENCE = {"schedule": "linear", "dataset": "digits", "model": "quick", "epochs": 10}
# The generator that picks the labels ``noisy_labels`` replaces: the same labels everywhere.
CALIBRATION_SEED = 1234


def noisy_labels(dataset: data.Dataset, share: float) -> data.Dataset:
    """``dataset`` with ``share`` of its training labels replaced by random ones (seeded, the
    same on every side): a known loss of accuracy, to calibrate the convergence verdict."""
    if not share:
        return dataset
    rng = np.random.default_rng(CALIBRATION_SEED)
    labels = dataset.train_y.copy()
    replaced = rng.random(len(labels)) < share
    labels[replaced] = rng.integers(0, len(dataset.class_names), int(replaced.sum()))
    return dataclasses.replace(dataset, train_y=labels)


def convergence_seed(seed: int, label_noise: float = 0.0) -> dict[str, Any]:
    """One seed of ``CONVERGENCE``: its final test accuracy and loss."""
    from bench.keras import train  # lazy: TensorFlow/Keras load only for the work

    experiment = experiments.configure(
        CONVERGENCE["schedule"], quick_setup=True, epochs=CONVERGENCE["epochs"]
    )
    dataset = noisy_labels(data.load(CONVERGENCE["dataset"]), label_noise)
    run = experiments.Run(experiment, seed, CONVERGENCE["dataset"], deterministic=True)
    with tempfile.TemporaryDirectory() as state:
        result = train.run(run, dataset, state_dir=Path(state), force=True, verbose=0)
    return {
        "setup": {**CONVERGENCE, "label_noise": label_noise},
        "seed": seed,
        "accuracy": result["evaluation"]["accuracy"],
        "val_loss": result["history"]["val_loss"][-1],
    }


def speed(
    out: Path,
    steps: int,
    added_ms: float = 0.0,
    seed: int | None = None,
    label_noise: float = 0.0,
) -> dict[str, Any]:
    """One round (the nox session alternates the two environments): per-step times, then,
    with ``seed``, that convergence seed (``convergence_seed``). ``added_ms`` (a sleep per
    step) and ``label_noise`` are known slowdowns and losses, for calibrating the verdicts."""
    from bench.keras import step_times  # lazy: TensorFlow/Keras load only for the work

    value = step_times.measure(steps, added_ms=added_ms)
    if seed is not None:
        value["convergence"] = convergence_seed(seed, label_noise)
    write_json(out, value)
    return value
