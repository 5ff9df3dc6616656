"""The upgrade check's use cases: a training-step fingerprint written to a file, and the
measurements one environment contributes to ``nox -s upgrade`` (drift probe, convergence
runs, speed), each written whole as JSON for ``bench.report.upgrade`` to read.

Each runs in the environment under test; Keras loads only when the work starts.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

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


def convergence(out: Path, setup: str, seeds: int, epochs: int) -> dict[str, Any]:
    """``seeds`` quick runs of ``setup`` on the embedded digits set (deterministic), each
    one's final test accuracy."""
    from bench.keras import train  # lazy: TensorFlow/Keras load only for the work

    experiment = experiments.configure(setup, quick_setup=True, epochs=epochs)
    dataset = data.load("digits")
    accuracy = []
    with tempfile.TemporaryDirectory() as state:
        for seed in range(seeds):
            run = experiments.Run(experiment, seed, "digits", deterministic=True)
            result = train.run(
                run, dataset, state_dir=Path(state) / str(seed), force=True, verbose=0
            )
            accuracy.append(result["evaluation"]["accuracy"])
    value = {
        "setup": {
            "schedule": setup,
            "dataset": "digits",
            "model": "quick",
            "epochs": epochs,
            "seeds": seeds,
        },
        "accuracy": accuracy,
    }
    write_json(out, value)
    return value


def speed(out: Path, steps: int, added_ms: float = 0.0) -> dict[str, Any]:
    """One round of per-step times (the nox session alternates the two environments);
    ``added_ms`` is a known slowdown per step, for calibrating the verdict only."""
    from bench.keras import step_times  # lazy: TensorFlow/Keras load only for the work

    value = step_times.measure(steps, added_ms=added_ms)
    write_json(out, value)
    return value
