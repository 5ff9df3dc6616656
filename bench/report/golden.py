"""Read and validate the files in ``golden/`` (the post's numbers, transcribed by hand).

``golden/README.md`` says where every number came from. This module only reads: it never
writes a golden file, and nothing in ``bench`` produces one. A missing, truncated or
malformed file raises ``GoldenError`` (a ``ValueError``) whose one-line message names the
file, the line and the column.

The files live in the repository's top-level ``golden/``. Code that runs from a checkout
(``python -m bench`` at its root, with or without an install, or an editable install) reads
that folder; an installed wheel or sdist has no checkout around it and reads the copy the
build put in the package as ``bench.golden_data`` (pyproject.toml). ``$BENCH_GOLDEN``
points elsewhere (the tests' damaged copies).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import statistics
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from bench.core import experiments, files
from bench.core.data import CIFAR10_CLASSES

GOLDEN_ENV = "BENCH_GOLDEN"
MAX_BYTES = 1024 * 1024  # the largest golden file is a few kB


class GoldenError(ValueError):
    """A golden file is missing or malformed."""


# The checkout this code runs from, if it runs from one: the folder holding this project's
# pyproject.toml beside bench/. An installed package sits in site-packages (or a folder of
# `pip install --target`), where this project's pyproject.toml is not.
CHECKOUT = Path(__file__).resolve().parents[2]
PROJECT = re.compile(r'^name\s*=\s*"lr-schedules-repro"\s*$', re.MULTILINE)


def golden_dir() -> Path:
    """``$BENCH_GOLDEN``, else the checkout's ``golden/``, else the package's copy."""
    if os.environ.get(GOLDEN_ENV):
        return Path(os.environ[GOLDEN_ENV])
    if _in_checkout() and (CHECKOUT / "golden").is_dir():
        return CHECKOUT / "golden"
    return Path(str(resources.files("bench.golden_data")))


def _in_checkout() -> bool:
    try:
        text = files.read_regular(CHECKOUT / "pyproject.toml", MAX_BYTES).decode("utf-8")
    except (ValueError, OSError):  # none, not a regular file, too large, not UTF-8
        return False
    return PROJECT.search(text) is not None


# --- cell parsers: each returns the value or raises ValueError with what it expected ---


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("a number") from None
    if not math.isfinite(value):
        raise ValueError("a finite number")
    return value


def _fraction(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= 1:
        raise ValueError("a number in [0, 1]")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise ValueError("a whole number > 0")
    return int(text)


def _epoch(text: str) -> int:
    if not text.isdigit():
        raise ValueError("a whole number >= 0")
    return int(text)


def _rate(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise ValueError("a learning rate > 0")
    return value


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("non-empty text")
    return text


_PRINTED = re.compile(r"\d\.\d{4}(e-\d\d)?")


def _printed_rate(text: str) -> str | None:
    # Kept as the string the post printed; empty where the post logged no rate.
    if text and not _PRINTED.fullmatch(text):
        raise ValueError("a rate as Keras prints it (0.0990 or 2.4414e-05) or empty")
    return text or None


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda text: parse(text) if text else None


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"one of {', '.join(allowed)}")
        return text

    return parse


_SCHEMAS: dict[str, dict[str, Callable[[str], Any]]] = {
    "epoch_lines.csv": {
        "experiment": _text,
        "epoch": _count,
        "epochs": _count,
        "steps": _count,
        "seconds": _count,
        "ms_per_step": _count,
        "loss": _number,
        "accuracy": _fraction,
        "val_loss": _number,
        "val_accuracy": _fraction,
        "lr": _printed_rate,
        "source": _text,
    },
    "classification_reports.csv": {
        "experiment": _text,
        "label": _text,
        "precision": _optional(_fraction),
        "recall": _optional(_fraction),
        "f1": _fraction,
        "support": _count,
        "source": _text,
    },
    "time_based_examples.csv": {
        "example": _text,
        "init_lr": _rate,
        "decay": _number,
        "batch_size": _count,
        "train_images": _count,
        "epoch": _epoch,
        "batch": _choice("first", "last"),
        "lr": _rate,
        "sig_digits": _count,
        "source": _text,
    },
}


Schema = dict[str, Callable[[str], Any]]


def _read(name: str, schema: Schema | Callable[[list[str]], Schema]) -> list[dict[str, Any]]:
    """Parse ``golden/<name>``; a callable ``schema`` builds the schema from the header."""
    path = golden_dir() / name
    try:
        text = files.read_regular(path, MAX_BYTES).decode("utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (ValueError, csv.Error) as exc:  # not a regular file, too large, not UTF-8
        why = str(exc).removeprefix(f"{path}: ").removeprefix("cannot be read: ")
        raise GoldenError(f"golden file {path} cannot be read: {why}") from None
    if callable(schema):
        schema = schema(rows[0] if rows else [])
    if not rows or rows[0] != list(schema):
        found = ",".join(rows[0]) if rows else "an empty file"
        raise GoldenError(f"{path}: expected columns {','.join(schema)}, found {found}")
    records = []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(schema):
            raise GoldenError(f"{path} line {lineno}: {len(row)} fields, expected {len(schema)}")
        record = {}
        for (column, parse), cell in zip(schema.items(), row, strict=True):
            try:
                record[column] = parse(cell)
            except ValueError as exc:
                raise GoldenError(
                    f"{path} line {lineno}, column {column!r}: {cell!r} is not {exc}"
                ) from None
        records.append(record)
    if not records:
        raise GoldenError(f"{path}: no data rows")
    return records


def _unique(name: str, rows: list[dict[str, Any]], *keys: str) -> None:
    """Each row's ``keys`` once (a duplicate would silently win), each experiment known."""
    seen: dict[tuple, int] = {}
    for lineno, row in enumerate(rows, start=2):
        if "experiment" in row and row["experiment"] not in experiments.EXPERIMENTS:
            raise GoldenError(
                f"{golden_dir() / name} line {lineno}: unknown experiment {row['experiment']!r}"
            )
        key = tuple(row[k] for k in keys)
        if key in seen:
            raise GoldenError(
                f"{golden_dir() / name} line {lineno}: repeats line "
                f"{seen[key]} ({', '.join(map(str, key))})"
            )
        seen[key] = lineno


def _each_experiment(name: str, rows: list[dict[str, Any]], what: str, has: Any) -> None:
    for experiment in experiments.EXPERIMENTS:
        if not any(has(r) for r in rows if r["experiment"] == experiment):
            raise GoldenError(f"{golden_dir() / name}: {experiment} has no {what}")


def epoch_lines() -> list[dict[str, Any]]:
    """Every epoch line the post prints: epochs 1-3 and 98-100 of each experiment."""
    name = "epoch_lines.csv"
    rows = _read(name, _SCHEMAS[name])
    _unique(name, rows, "experiment", "epoch")
    for lineno, row in enumerate(rows, start=2):
        if row["epoch"] > row["epochs"]:
            raise GoldenError(
                f"{golden_dir() / name} line {lineno}: epoch {row['epoch']} "
                f"of a {row['epochs']}-epoch run"
            )
    _each_experiment(name, rows, "final epoch line", lambda r: r["epoch"] == r["epochs"])
    return rows


def post_throughput(batch_size: int = 128) -> tuple[float, float]:
    """The post's ms/step and images/s: the median of its epoch lines after the first
    (which compiles), at its batch of ``batch_size``."""
    later = [r["ms_per_step"] for r in epoch_lines() if r["epoch"] > 1]
    ms = statistics.median(later)
    return ms, batch_size * 1000 / ms


def classification_reports() -> list[dict[str, Any]]:
    """The five classification reports, one row per class and summary line."""
    name = "classification_reports.csv"
    rows = _read(name, _SCHEMAS[name])
    _unique(name, rows, "experiment", "label")
    for label in (*CIFAR10_CLASSES, "accuracy", "macro avg", "weighted avg"):
        _each_experiment(name, rows, f"{label!r} row", lambda r, label=label: r["label"] == label)
    return rows


def time_based_examples() -> list[dict[str, Any]]:
    """Worked values of Keras' time-based decay (the post's example, the post's own run)."""
    name = "time_based_examples.csv"
    rows = _read(name, _SCHEMAS[name])
    _unique(name, rows, "example", "epoch", "batch")
    return rows


def schedule_tables() -> dict[str, list[float]]:
    """Per-epoch rate tables (column -> rate at epochs 0..N-1), derived independently."""
    return _derived("schedule_tables.csv", "epoch", _rate)


def extra_schedule_tables() -> dict[str, list[float]]:
    """The schedules beyond the post at each epoch's first update (derived independently;
    a warm-up may start at rate 0)."""
    return _derived("extra_schedule_tables.csv", "epoch", _non_negative_rate)


def iteration_tables() -> dict[str, list[float]]:
    """Every update of the small per-iteration set-up (derived independently)."""
    return _derived("iteration_tables.csv", "iteration", _non_negative_rate)


def _non_negative_rate(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise ValueError("a learning rate >= 0")
    return value


def _derived(name: str, index: str, rate: Callable[[str], float]) -> dict[str, list[float]]:
    rows = _read(
        name,
        # The index then one rate column per schedule; a header without both fails as a mismatch.
        lambda header: {index: _epoch, **{c: rate for c in header[1:] or ["<schedule>"]}},
    )
    if [row[index] for row in rows] != list(range(len(rows))):
        raise GoldenError(f"{golden_dir() / name}: {index}s must run 0, 1, 2, ... without gaps")
    return {column: [row[column] for row in rows] for column in list(rows[0])[1:]}
