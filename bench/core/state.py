"""A run's identity, and an unfinished run's state, verified before it is trusted.

::

    STATE_DIR/run.json      the run's identity (``identity``): the settings it started with
    STATE_DIR/history.csv   Keras' CSVLogger: every finished epoch's metrics and measures
    STATE_DIR/backup/       Keras' BackupAndRestore: weights, optimizer, epoch
    STATE_DIR/seal.json     written after each backup: how many epochs it holds, the
                            sha256 of its files and of the log's rows so far, so a backup
                            cut short or a log changed since is recognised. A fresh run's
                            seal is ``{"epochs": 0}``: a backup beside it is a first save
                            cut short and is dropped, but a backup with no seal beside it
                            (seal.json deleted) is damage

A run resumes only from a state that ``prepare`` verified: the identity matches, the
backup's files are the ones sealed (or Keras' previous copy is, which is then put back),
and the log begins with exactly the sealed bytes (what follows, at most the row of an
epoch whose backup never finished, is dropped). Anything else is a ``StateError`` naming the
file, and ``--force`` starts over. Files only: TensorFlow is not imported here.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

from bench.core import files, identity, results

IDENTITY = "run.json"
LOG = "history.csv"
BACKUP = "backup"
SEAL = "seal.json"
PREVIOUS = ".bkp"  # Keras' double_checkpoint keeps the previous backup under this suffix
FRESH = {"epochs": 0}  # the seal of a run with no epoch backed up yet
# The log's columns this release reads back (Keras may add others, such as its own rate).
LOG_COLUMNS = ("epoch", *results.KERAS_METRICS, *(f"bench_{k}" for k in results.MEASURES))
MAX_LOG_BYTES = 64 * 1024 * 1024  # a row is about 300 bytes: far more epochs than any run


class StateError(ValueError):
    """A saved state is damaged or inconsistent, so it is not trained on."""


class DivergedError(ValueError):
    """A run's loss stopped being a number: a result of its settings, not damage. Its state
    is dropped (resuming it would diverge again), and nothing else is written."""


# --- the state ---


def prepare(state_dir: Path, run_identity: identity.Identity, force: bool = False) -> int:
    """Ready ``state_dir`` for a run; return how many epochs its verified backup holds
    (0: start afresh). ``force`` throws any old state away first."""
    state_dir = Path(state_dir)
    if force and state_dir.exists():
        shutil.rmtree(state_dir)
    saved = _saved_identity(state_dir)
    if saved is None:
        if any((state_dir / name).exists() for name in (BACKUP, SEAL, LOG)):
            raise _damaged(state_dir, IDENTITY, "missing beside a saved state")
    elif saved != run_identity:
        differ = identity.differences(saved, run_identity) if saved else ["an older release's"]
        raise ValueError(
            f"{state_dir} holds an interrupted run with other settings "
            f"({', '.join(differ)}): run the same command as before to resume it, or add "
            "--force to start over"
        )
    epochs = _verified_epochs(state_dir)
    if epochs == 0:
        files.make_folders(state_dir)
        (state_dir / LOG).unlink(missing_ok=True)  # rows of an epoch that was never backed up
        shutil.rmtree(state_dir / BACKUP, ignore_errors=True)  # a first save cut short
        text = json.dumps(identity.to_json(run_identity), indent=1, sort_keys=True)
        files.atomic_write(state_dir / IDENTITY, lambda f: f.write(text.encode("utf-8")))
        files.atomic_write(state_dir / SEAL, lambda f: f.write(json.dumps(FRESH).encode()))
    return epochs


def _damaged(state_dir: Path, name: str, why: str) -> StateError:
    return StateError(
        f"{Path(state_dir) / name} is damaged ({why}); the run was not resumed: add --force "
        "to start it over"
    )


def _saved_identity(state_dir: Path) -> identity.Identity | bool | None:
    """The identity saved in ``state_dir``; None where none is, False where one written by
    an older release is (it named fewer settings: never resumed as this run's)."""
    path = state_dir / IDENTITY
    if not path.exists():
        return None
    try:
        saved = files.read_json(path)
    except ValueError:
        saved = None
    if not isinstance(saved, dict):
        raise _damaged(state_dir, IDENTITY, "not a run's settings")
    try:
        return identity.from_json(saved)
    except (TypeError, ValueError):
        return False


def _verified_epochs(state_dir: Path) -> int:
    """Epochs held by a backup that matches its seal and log; 0 where nothing was sealed."""
    backup, seal_path = state_dir / BACKUP, state_dir / SEAL
    if not seal_path.exists():
        if backup.exists():
            raise _damaged(state_dir, BACKUP, "never sealed: cut short while saving")
        return 0
    seal = _read_seal(state_dir)
    if seal == FRESH:
        return 0
    if not backup.is_dir():
        raise _damaged(state_dir, BACKUP, "missing, though seal.json says it was saved")
    if digest(backup) != seal["sha256"] and not _restore_previous(backup, seal["sha256"]):
        raise _damaged(state_dir, BACKUP, "its files are not the ones sealed")
    _trim_log(state_dir, seal)
    return seal["epochs"]


def _read_seal(state_dir: Path) -> dict[str, Any]:
    try:
        seal = files.read_json(state_dir / SEAL)
    except ValueError:
        seal = None
    if seal == FRESH and type(seal["epochs"]) is int:
        return seal
    counts = ("epochs", "log_bytes")
    ok = isinstance(seal, dict) and all(
        isinstance(seal.get(k), str) for k in ("sha256", "log_sha256")
    )
    if not ok or not all(type(seal.get(k)) is int and seal[k] >= 1 for k in counts):
        raise _damaged(state_dir, SEAL, "not a seal")
    return seal


def digest(backup: Path, previous: bool = False) -> str:
    """sha256 of the backup's files; with ``previous``, of Keras' previous copies (named
    as the files they copy)."""
    sha = hashlib.sha256()
    for path in sorted(p for p in Path(backup).rglob("*") if p.is_file()):
        name = path.relative_to(backup).as_posix()
        if name.endswith(PREVIOUS) != previous:
            continue
        name = name.removesuffix(PREVIOUS) if previous else name
        sha.update(f"{name}\0{path.stat().st_size}\0".encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def _restore_previous(backup: Path, sealed: str) -> bool:
    """A backup cut short while Keras saved it: put Keras' previous copy back if it is the
    sealed one (then the epoch being saved is trained again)."""
    previous = [p for p in backup.rglob(f"*{PREVIOUS}") if p.is_file()]
    if not previous or digest(backup, previous=True) != sealed:
        return False
    for path in previous:
        shutil.copyfile(path, path.with_name(path.name[: -len(PREVIOUS)]))
    return digest(backup) == sealed


def seal(state_dir: Path, epochs: int) -> None:
    """Record that the backup now holds ``epochs`` finished epochs (after Keras saved it,
    and after the CSV log flushed their rows)."""
    log = (Path(state_dir) / LOG).read_bytes()
    text = json.dumps(
        {
            "epochs": epochs,
            "sha256": digest(Path(state_dir) / BACKUP),
            "log_bytes": len(log),
            "log_sha256": hashlib.sha256(log).hexdigest(),
        }
    )
    files.atomic_write(Path(state_dir) / SEAL, lambda f: f.write(text.encode("utf-8")))


def _trim_log(state_dir: Path, seal: dict[str, Any]) -> None:
    """Check that the log begins with the sealed bytes, holding the sealed epochs' rows,
    and keep exactly those bytes."""
    try:
        log = files.read_regular(state_dir / LOG, MAX_LOG_BYTES)
    except ValueError as exc:
        why = str(exc).removeprefix(f"{state_dir / LOG}: ")
        raise _damaged(state_dir, LOG, f"unreadable: {why}") from None
    sealed = log[: seal["log_bytes"]]
    if len(sealed) < seal["log_bytes"] or hashlib.sha256(sealed).hexdigest() != seal["log_sha256"]:
        raise _damaged(state_dir, LOG, "its rows are not the ones sealed")
    try:
        reader = csv.DictReader(io.StringIO(sealed.decode("utf-8")))
        epochs = [int(row["epoch"]) for row in reader]
    except (UnicodeDecodeError, csv.Error, KeyError, TypeError, ValueError):
        epochs = None
    if epochs != list(range(seal["epochs"])):
        raise _damaged(state_dir, SEAL, f"its log rows are not epochs 0..{seal['epochs'] - 1}")
    lacking = [c for c in LOG_COLUMNS if c not in (reader.fieldnames or ())]
    if lacking:  # Keras' CSVLogger appends rows under the header it finds: they would shift
        raise _damaged(state_dir, LOG, f"no {', '.join(lacking)} column: an older release's")
    files.atomic_write(state_dir / LOG, lambda f: f.write(sealed))


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
    history["compiled"] = [bool(c) for c in history["compiled"]]
    return history


def finish(state_dir: Path) -> None:
    """Drop a finished run's state (its results file holds everything), and the folder of
    states once it is empty."""
    shutil.rmtree(state_dir, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path(state_dir).parent.rmdir()
