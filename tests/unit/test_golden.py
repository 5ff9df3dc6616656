"""golden/: the loader's validation, and checks that the transcription is the post's.

The transcription is checked three ways that do not involve bench's schedules: against the
post's own text (each row rebuilt as the line Keras printed and found on the cited line),
against the derivation script, and against the arithmetic the numbers must obey.
"""

import ast
import re
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest

from bench.core.progbar import progbar
from bench.report import golden

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "golden"
BLOG = ROOT.parent / "shared" / "reference" / "blog.txt"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# --- the loader ---


def test_loads_every_file():
    assert len(golden.epoch_lines()) == 5 * 6
    assert len(golden.classification_reports()) == 5 * 13
    assert len(golden.time_based_examples()) == 4
    assert {len(v) for v in golden.schedule_tables().values()} == {100}


@pytest.fixture
def golden_copy(tmp_path, monkeypatch):
    """A writable copy of golden/ that the loader reads instead of the real one."""
    copy = tmp_path / "golden"
    shutil.copytree(GOLDEN, copy)
    monkeypatch.setenv(golden.GOLDEN_ENV, str(copy))
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


LOADERS = {
    "epoch_lines.csv": golden.epoch_lines,
    "classification_reports.csv": golden.classification_reports,
    "time_based_examples.csv": golden.time_based_examples,
    "schedule_tables.csv": golden.schedule_tables,
}
EPOCHS_CSV = "epoch_lines.csv"
TABLES_CSV = "schedule_tables.csv"


# (file, text to replace, replacement, the error it must give)
@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (EPOCHS_CSV, "2.0893", "2.O893", r"csv line 2, column 'loss': '2.O893' is not a number$"),
        (EPOCHS_CSV, "0.4525", "1.4525", r"'accuracy': '1.4525' is not a number in \[0, 1\]$"),
        (EPOCHS_CSV, "2.4414e-05", "2.44e-05", r"line 17, column 'lr': '2.44e-05' is not a rate"),
        (EPOCHS_CSV, ",blog.txt:242\n", ",\n", r"'source': '' is not non-empty text$"),
        (EPOCHS_CSV, "none,1,100,391,35", "none,1,100,391", r"line 2: 11 fields, expected 12$"),
        (
            EPOCHS_CSV,
            "val_accuracy",
            "val_acc",
            r"expected columns experiment,.*, found .*val_acc,",
        ),
        ("classification_reports.csv", "0.84,10000", "0.84,-1", r"'-1' is not a whole number > 0"),
        (
            "time_based_examples.csv",
            ",first,",
            ",mid,",
            r"'batch': 'mid' is not one of first, last$",
        ),
        (TABLES_CSV, "\n5,", "\n6,", r"csv: epochs must run 0, 1, 2, ... without gaps$"),
        (TABLES_CSV, ",2.44140625e-05,", ",-1.0,", r"'step': '-1.0' is not a learning rate > 0$"),
        (TABLES_CSV, "epoch,", "epoch_,", r"schedule_tables.csv: expected columns epoch,none"),
    ],
)
def test_malformed_file_names_file_line_and_column(golden_copy, file, old, new, message):
    _edit(golden_copy / file, old, new)
    with pytest.raises(golden.GoldenError, match=message) as info:
        LOADERS[file]()
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("file", LOADERS)
def test_missing_or_empty_file(golden_copy, file):
    (golden_copy / file).unlink()
    with pytest.raises(golden.GoldenError, match=rf"golden file .*{file} cannot be read"):
        LOADERS[file]()
    (golden_copy / file).write_text("")
    with pytest.raises(golden.GoldenError, match="found an empty file"):
        LOADERS[file]()


def test_header_only_file(golden_copy):
    path = golden_copy / "epoch_lines.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")
    with pytest.raises(golden.GoldenError, match=r"epoch_lines.csv: no data rows$"):
        golden.epoch_lines()


# --- the derivation ---


def test_schedule_tables_are_what_the_derivation_writes(derivation):
    assert (GOLDEN / "schedule_tables.csv").read_text() == derivation.render()
    written = derivation.render_all()
    assert sorted(p.name for p in written) == [
        "extra_schedule_tables.csv",
        "iteration_tables.csv",
        "schedule_tables.csv",
    ]
    for path, text in written.items():
        assert (GOLDEN / path.name).read_text() == text, f"{path.name} is stale"


def test_derivation_imports_nothing_from_bench():
    tree = ast.parse((GOLDEN / "derive_schedules.py").read_text())
    modules = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in modules if m and m.split(".")[0] == "bench"}


def test_derivation_agrees_with_every_rate_the_post_prints():
    tables = golden.schedule_tables()
    for row in golden.epoch_lines():
        if row["lr"] is not None:
            rate = tables[row["experiment"]][row["epoch"] - 1]
            assert progbar(float(np.float32(rate))) == row["lr"], row


# --- the transcription ---


@pytest.fixture(scope="module")
def blog_lines():
    if not BLOG.exists():
        pytest.skip(f"the post's text is not at {BLOG} (it ships in shared/, beside the checkout)")
    return [" ".join(line.split()) for line in BLOG.read_text(encoding="utf-8").splitlines()]


def _line(blog_lines, source):
    name, number = source.split(":")
    assert name == "blog.txt"
    return blog_lines[int(number) - 1]


def test_epoch_lines_are_on_the_cited_line(blog_lines):
    for row in golden.epoch_lines():
        printed = (
            f"Epoch {row['epoch']}/{row['epochs']} {row['steps']}/{row['steps']} "
            f"[==============================] - {row['seconds']}s {row['ms_per_step']}ms/step"
            f" - loss: {row['loss']:.4f} - accuracy: {row['accuracy']:.4f}"
            f" - val_loss: {row['val_loss']:.4f} - val_accuracy: {row['val_accuracy']:.4f}"
        )
        if row["lr"] is not None:
            printed += f" - lr: {row['lr']}"
        assert printed in _line(blog_lines, row["source"]), printed


def test_classification_reports_are_on_the_cited_line(blog_lines):
    for row in golden.classification_reports():
        cells = [row["label"]] + [
            f"{row[k]:.2f}" for k in ("precision", "recall", "f1") if row[k] is not None
        ]
        printed = " ".join([*cells, str(row["support"])])
        assert printed in _line(blog_lines, row["source"]), printed


def test_classification_reports_are_complete():
    reports = {}
    for row in golden.classification_reports():
        reports.setdefault(row["experiment"], []).append(row["label"])
    for labels in reports.values():
        assert labels == [*CLASSES, "accuracy", "macro avg", "weighted avg"]


def test_report_arithmetic():
    # Each summary is what sklearn computes from the class rows, up to the 2-digit rounding.
    rows = golden.classification_reports()
    for name in {r["experiment"] for r in rows}:
        classes = [r for r in rows if r["experiment"] == name and r["label"] in CLASSES]
        summary = {
            r["label"]: r for r in rows if r["experiment"] == name and r["label"] not in CLASSES
        }
        assert sum(r["support"] for r in classes) == summary["accuracy"]["support"] == 10_000
        for metric in ("precision", "recall", "f1"):
            mean = statistics.fmean(r[metric] for r in classes)
            assert summary["macro avg"][metric] == pytest.approx(mean, abs=0.01), (name, metric)
        # Equal supports: weighted average == macro average; recall averages to accuracy.
        for metric in ("precision", "recall", "f1"):
            assert summary["weighted avg"][metric] == summary["macro avg"][metric]
        assert summary["macro avg"]["recall"] == pytest.approx(summary["accuracy"]["f1"], abs=0.01)


def test_final_val_accuracy_rounds_to_report_accuracy():
    accuracy = {
        r["experiment"]: r["f1"]
        for r in golden.classification_reports()
        if r["label"] == "accuracy"
    }
    final = {r["experiment"]: r["val_accuracy"] for r in golden.epoch_lines() if r["epoch"] == 100}
    assert accuracy == {"none": 0.84, "standard": 0.82, "step": 0.87, "linear": 0.87, "poly": 0.87}
    assert {k: round(v, 2) for k, v in final.items()} == accuracy


def test_epoch_seconds_agree_with_ms_per_step():
    # Keras rounds both, so steps * ms/step may differ from the seconds by under one.
    for row in golden.epoch_lines():
        assert abs(row["steps"] * row["ms_per_step"] / 1000 - row["seconds"]) < 1.0, row


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        ("epoch_lines.csv", lambda lines: [*lines, lines[1]], "line 32: repeats line 2"),
        (
            "epoch_lines.csv",
            lambda lines: [lines[0], *(line.replace("none,", "nope,", 1) for line in lines[1:])],
            "line 2: unknown experiment 'nope'",
        ),
        (
            "epoch_lines.csv",
            lambda lines: [lines[0], lines[1].replace("none,1,100", "none,101,100"), *lines[2:]],
            "line 2: epoch 101 of a 100-epoch run",
        ),
        (
            "epoch_lines.csv",
            lambda lines: [x for x in lines if not x.startswith("poly,100,")],
            "poly has no final epoch line",
        ),
        (
            "classification_reports.csv",
            lambda lines: [x for x in lines if not x.startswith("step,cat,")],
            "step has no 'cat' row",
        ),
        ("time_based_examples.csv", lambda lines: [*lines, lines[-1]], "repeats line"),
    ],
)
def test_golden_rows_are_unique_known_and_complete(golden_copy, file, change, message):
    path = golden_copy / file
    lines = path.read_text().splitlines()
    path.write_text("\n".join(change(lines)) + "\n")
    reader = {
        "epoch_lines.csv": golden.epoch_lines,
        "classification_reports.csv": golden.classification_reports,
        "time_based_examples.csv": golden.time_based_examples,
    }[file]
    with pytest.raises(golden.GoldenError, match=re.escape(message)):
        reader()


def test_a_missing_golden_file_is_said_once(tmp_path, monkeypatch):
    monkeypatch.setenv(golden.GOLDEN_ENV, str(tmp_path))
    with pytest.raises(golden.GoldenError) as error:
        golden.epoch_lines()
    assert str(error.value) == (
        f"golden file {tmp_path / 'epoch_lines.csv'} cannot be read: No such file or directory"
    )
