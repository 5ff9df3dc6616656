"""An unfinished run's training state, kept so that the same command resumes it.

::

    STATE_DIR/run.json      the run's identity: the settings it started with
    STATE_DIR/history.csv   Keras' CSVLogger: every finished epoch's metrics and measures
    STATE_DIR/backup/       Keras' BackupAndRestore: weights, optimizer, epoch

Files only: TensorFlow is not imported here.
"""

from __future__ import annotations

import contextlib
import csv
import json
import shutil
from pathlib import Path
from typing import Any

from bench import files, results

IDENTITY = "run.json"
LOG = "history.csv"
BACKUP = "backup"


def prepare(state_dir: Path, identity: dict[str, Any], force: bool = False) -> bool:
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
        except (OSError, ValueError):
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


def log_rows(path: Path) -> dict[int, dict[str, str]]:
    """The CSV log's rows by 0-based epoch (a re-run epoch's last row wins)."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return {int(row["epoch"]): row for row in csv.DictReader(f)}


def read_log(path: Path, epochs: int) -> dict[str, list[float]]:
    """The per-epoch history from the CSV log, one row per epoch (a re-run epoch's last)."""
    rows = log_rows(path)
    if sorted(rows) != list(range(epochs)):
        raise RuntimeError(f"{path} logs epochs {sorted(rows)}, expected 0..{epochs - 1}")
    ordered = [rows[e] for e in range(epochs)]
    history: dict[str, list[float]] = {"epoch": list(range(1, epochs + 1))}
    history |= {k: [float(r[k]) for r in ordered] for k in results.KERAS_METRICS}
    history |= {k: [float(r[f"bench_{k}"]) for r in ordered] for k in results.MEASURES}
    return history


def finish(state_dir: Path) -> None:
    """Drop a finished run's state (its results file holds everything), and the folder of
    states once it is empty."""
    shutil.rmtree(state_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path(state_dir).parent.rmdir()
