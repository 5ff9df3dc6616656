"""Generated damage to every file the suite reads (Hypothesis): each reader either returns
what it promises, fully valid, or raises its own one-line error (a ValueError) naming the
file; never another exception, never a NaN in a report, never a changed file.

Readers: results files, plan.json, the golden CSVs, a run's resume state, CIFAR-10
batches. Examples are derandomized (tests/conftest.py), so CI runs the same ones; run
with HYPOTHESIS_PROFILE=explore to look further.
"""

import contextlib
import io
import json
import os
import re
import shutil
from fractions import Fraction
from pathlib import Path

import golden_rates
import numpy as np
import pytest
from damage import damaged_json, damaged_lines
from hypothesis import given, settings
from hypothesis import strategies as st
from results_factory import folder_of, make_run
from tiers import examples

from bench.cli import main
from bench.core import data, identity, results, state
from bench.report import golden, markdown
from bench.run import runset

import cifar_files as cf

NAN = re.compile(r"\bnan\b|\binf\b", re.IGNORECASE)


def _shows_nan(report_text: str) -> bool:
    """Whether the report shows a NaN or infinite number, its last section aside: that
    section names each refused file and why ("holds a NaN or infinite number")."""
    return bool(NAN.search(report_text.split("## Failed or missing runs")[0]))


def _one_line(exc: Exception) -> str:
    text = str(exc)
    assert text and "\n" not in text, text
    return text


@pytest.fixture(scope="module")
def run_set(tmp_path_factory):
    """A run set of two good runs; each example damages a third."""
    return folder_of(
        tmp_path_factory.mktemp("set"), [make_run("none", 0, 0.84), make_run("step", 0, 0.87)]
    )


@settings(max_examples=examples(150))
@given(blob=damaged_json(make_run("linear", 0, 0.87)))
def test_damaged_results_are_refused_or_valid_and_the_report_lists_them(run_set, blob):
    path = run_set / "runs" / "linear-seed0.json"
    path.write_bytes(blob)
    try:
        got = results.read(path)
    except results.ResultsError as exc:
        assert _one_line(exc).startswith(str(path))
        rs = runset.load_one_setup(run_set)
        assert [stem for stem, _ in rs.problems] == ["linear-seed0"]
    else:
        assert results.validate(got) is got  # whatever passed is whole and finite
        json.dumps(got, allow_nan=False)
    text = markdown.render(run_set)
    assert not _shows_nan(text)
    assert path.read_bytes() == blob  # reading changes nothing


@settings(max_examples=examples(100))
@given(
    blob=damaged_json(
        {
            "quick": True,
            "dataset": "digits",
            "subset": None,
            "seeds": [0],
            "experiments": ["none"],
            "runs": [
                {"experiment": "none", "seed": 0, "file": "runs/none-seed0.json", "status": "ok"}
            ],
        }
    )
)
def test_damaged_plans_are_refused_or_valid(run_set, blob):
    (run_set / runset.PLAN).write_bytes(blob)
    try:
        plan = runset.read_plan(run_set)
    except ValueError as exc:
        assert _one_line(exc).startswith(str(run_set / runset.PLAN))
    else:
        assert all(r["status"] in runset.STATUSES for r in plan["runs"])
        assert not _shows_nan(markdown.render(run_set))
    finally:
        (run_set / runset.PLAN).unlink()


GOLDEN = golden.golden_dir()
READERS = {
    "epoch_lines.csv": golden.epoch_lines,
    "classification_reports.csv": golden.classification_reports,
    "time_based_examples.csv": golden.time_based_examples,
    "schedule_tables.csv": golden.schedule_tables,
}
BLOG = Path(__file__).resolve().parents[3] / "shared" / "reference" / "blog.txt"


def _blog_line(source):
    """The post's text at ``source`` ("blog.txt:N"), spaces collapsed; "" if none."""
    lines = BLOG.read_text(encoding="utf-8").splitlines()
    name, _, number = source.partition(":")
    if name != "blog.txt" or not number.isdigit() or not 0 < int(number) <= len(lines):
        return ""
    return " ".join(lines[int(number) - 1].split())


def _printed_epochs(line):
    """Each epoch's progress-bar text on a line of the post, by epoch number."""
    pattern = r"Epoch (\d+)/\d+ .*?(?= Epoch \d+/| \.\.\. | \[INFO\]|$)"
    return {int(m[1]): m[0] for m in re.finditer(pattern, line)}


def _epoch_line_problems(rows):
    """Rows whose epoch the post does not print so on their cited line, and cited lines
    whose printed epochs the rows do not all hold (the oracle: the post itself)."""
    bad = []
    for row in rows:
        printed = (
            f"Epoch {row['epoch']}/{row['epochs']} {row['steps']}/{row['steps']} "
            f"[==============================] - {row['seconds']}s {row['ms_per_step']}ms/step"
            f" - loss: {row['loss']:.4f} - accuracy: {row['accuracy']:.4f}"
            f" - val_loss: {row['val_loss']:.4f} - val_accuracy: {row['val_accuracy']:.4f}"
            + (f" - lr: {row['lr']}" if row["lr"] is not None else "")
        )
        if _printed_epochs(_blog_line(row["source"])).get(row["epoch"]) != printed:
            bad.append(row)
    for source in {row["source"] for row in rows}:
        epochs = {row["epoch"] for row in rows if row["source"] == source}
        if set(_printed_epochs(_blog_line(source))) != epochs:
            bad.append(source)
    return bad


def _report_problems(rows):
    """Classification rows the post does not print on their cited line."""
    bad = []
    for row in rows:
        numbers = [f"{row[k]:.2f}" for k in ("precision", "recall", "f1") if row[k] is not None]
        printed = " ".join([row["label"], *numbers, str(row["support"])])
        if f" {printed} " not in f" {_blog_line(row['source'])} ":
            bad.append(row)
    return bad


def _time_based_problems(rows):
    """Rows whose rate is not lr0 / (1 + decay * t) at t updates done, to the significant
    digits it is written with (the oracle: Keras' documented formula, worked in Fractions),
    and examples whose rows state different set-ups."""
    setups = {}
    for row in rows:
        setup = tuple(row[k] for k in ("init_lr", "decay", "batch_size", "train_images"))
        setups.setdefault(row["example"], set()).add(setup)
    bad = [example for example, found in setups.items() if len(found) > 1]
    for row in rows:
        if len(repr(row["lr"]).replace("0.", "", 1).lstrip("0")) != row["sig_digits"]:
            bad.append(row)
        steps = -(-row["train_images"] // row["batch_size"])
        t = row["epoch"] * steps + (steps - 1 if row["batch"] == "last" else 0)
        lr0, decay = Fraction(str(row["init_lr"])), Fraction(str(row["decay"]))
        rate = float(lr0 / (1 + decay * t))
        digits = row["sig_digits"] - 1
        if f"{rate:.{digits}e}" != f"{row['lr']:.{digits}e}":
            bad.append(row)
    return bad


def _table_problems(tables):
    """Columns that are not golden/derive_schedules.py's exact rates (the oracle: the
    derivation, written apart from bench)."""
    derived = golden_rates.DERIVATION.table()
    want = {name: [float(rate) for rate in column] for name, column in derived.items()}
    return [name for name in want if tables.get(name) != want[name]] + sorted(
        set(tables) - set(want)
    )


# The oracle that must catch a number changed in a golden file that its reader accepts.
ORACLES = {
    "epoch_lines.csv": _epoch_line_problems,
    "classification_reports.csv": _report_problems,
    "time_based_examples.csv": _time_based_problems,
    "schedule_tables.csv": _table_problems,
}
NEEDS_BLOG = {"epoch_lines.csv", "classification_reports.csv"}
CHECKABLE = sorted(name for name in READERS if BLOG.exists() or name not in NEEDS_BLOG)


def _read_damaged(folder, name, text):
    """``name`` in a copy of golden/ with ``text`` as its content, read by its reader:
    (rows, None) or (None, the one-line refusal)."""
    shutil.copytree(GOLDEN, folder, dirs_exist_ok=True)
    (folder / name).write_text(text)
    os.environ[golden.GOLDEN_ENV] = str(folder)
    try:
        return READERS[name](), None
    except golden.GoldenError as exc:
        return None, _one_line(exc)
    finally:
        del os.environ[golden.GOLDEN_ENV]


def _numbers(row):
    """A row's numbers (its printed rate too), by column."""
    return tuple((k, v) for k, v in row.items() if isinstance(v, int | float) or (k == "lr" and v))


def _changed_numbers(name, rows):
    """Whether ``rows`` hold numbers that no undamaged row holds (a dropped row does not)."""
    pristine = READERS[name]()
    if name == "schedule_tables.csv":
        return rows.keys() != pristine.keys() or any(
            rows[c] != pristine[c][: len(rows[c])] for c in rows
        )
    return not {_numbers(row) for row in rows} <= {_numbers(row) for row in pristine}


def _edit(line, column, value):
    """The cell at (``line``, ``column``) replaced by ``value`` (line 0 is the header)."""

    def change(lines):
        cells = lines[line].split(",")
        cells[column] = value
        return [*lines[:line], ",".join(cells), *lines[line + 1 :]]

    return change


# Each damage and its stated outcome: refused (with a fragment of the one-line message that
# names the file), or accepted by the reader, then: a number changed, which the file's oracle
# (ORACLES) flags; a row dropped, which the oracle flags; or a row dropped, every row left
# unchanged and passing the oracle.
CHANGED, LOST, FEWER = "changed, caught", "dropped, caught", "dropped, the rest unchanged"
GOLDEN_DAMAGES = [
    ("schedule_tables.csv", "a gap", lambda x: x[:5] + x[6:], ("refused", "without gaps")),
    ("schedule_tables.csv", "a rate not a number", _edit(3, 4, "x"), ("refused", "line 4")),
    ("schedule_tables.csv", "a rate changed", _edit(10, 5, "0.2"), ("accepted", CHANGED)),
    ("schedule_tables.csv", "the last epoch dropped", lambda x: x[:-1], ("accepted", LOST)),
    ("epoch_lines.csv", "a row repeated", lambda x: [*x, x[1]], ("refused", "repeats line 2")),
    ("epoch_lines.csv", "an accuracy changed", _edit(2, 9, "0.1"), ("accepted", CHANGED)),
    ("epoch_lines.csv", "an epoch line dropped", lambda x: x[:2] + x[3:], ("accepted", LOST)),
    ("epoch_lines.csv", "an epoch beyond the run", _edit(1, 1, "101"), ("refused", "101")),
    ("classification_reports.csv", "a precision changed", _edit(1, 2, "0"), ("accepted", CHANGED)),
    ("classification_reports.csv", "a class dropped", lambda x: x[:2] + x[3:],
     ("refused", "has no 'automobile' row")),
    ("time_based_examples.csv", "a rate changed", _edit(2, 7, "0.0084"), ("accepted", CHANGED)),
    ("time_based_examples.csv", "an example dropped", lambda x: x[:1] + x[2:],
     ("accepted", FEWER)),
]  # fmt: skip  # one damage a line: the table reads as a list of cases


@pytest.mark.parametrize(
    ("name", "damage", "change", "outcome"),
    GOLDEN_DAMAGES,
    ids=[f"{d[0]}: {d[1]}" for d in GOLDEN_DAMAGES],
)
def test_each_golden_damage_gets_its_stated_outcome(tmp_path, name, damage, change, outcome):
    if name not in CHECKABLE:
        pytest.skip(f"the post's text is not at {BLOG}: no oracle for {name}")
    lines = (GOLDEN / name).read_text().splitlines()
    rows, refusal = _read_damaged(tmp_path, name, "\n".join(change(lines)) + "\n")
    kind, detail = outcome
    if kind == "refused":
        assert refusal is not None and refusal.startswith(str(tmp_path / name)), refusal
        assert detail in refusal, refusal
        return
    assert refusal is None, refusal
    assert _changed_numbers(name, rows) == (detail == CHANGED), damage
    assert bool(ORACLES[name](rows)) == (detail != FEWER), damage


@settings(max_examples=examples(40))
@given(data=st.data(), name=st.sampled_from(CHECKABLE))
def test_damaged_golden_files_are_refused_or_caught(tmp_path_factory, data, name):
    """Generated damage: refused with one line naming the file, or accepted; then a number
    it changed must be caught by the file's oracle, and what it left unchanged passes it."""
    folder = tmp_path_factory.mktemp("golden")
    damaged = data.draw(damaged_lines((GOLDEN / name).read_text()))
    rows, refusal = _read_damaged(folder, name, damaged)
    if refusal is not None:
        assert refusal.startswith(str(folder / name)), refusal
        return
    problems = ORACLES[name](rows)
    if _changed_numbers(name, rows):
        assert problems, f"{name}: a damaged file accepted with a changed number, uncaught"
    elif rows == READERS[name]():
        assert not problems, problems  # the oracle passes what is unchanged


# --- a run's resume state: a real layout (identity, backup, seal, log), synthetic bytes ---

IDENTITY = identity.from_results(make_run("linear", 0, 0.87, epochs=5))
# The columns Keras' CSVLogger writes for a scheduled run (sorted keys, as it does).
HEADER = [
    "epoch",
    "accuracy",
    "bench_compiled",
    "bench_images_per_second",
    "bench_lr",
    "bench_ms_per_step",
    "bench_seconds",
    "learning_rate",
    "loss",
    "val_accuracy",
    "val_loss",
]


def _log(epochs: int, header: list[str] = HEADER) -> str:
    rows = [",".join([str(e), *["0.5"] * (len(header) - 1)]) for e in range(epochs)]
    return "\n".join([",".join(header), *rows]) + "\n"


def _sealed_state(root: Path, epochs: int = 2, header: list[str] = HEADER) -> Path:
    """A state after ``epochs`` epochs, plus the unsealed row of the next one."""
    folder = root / "state"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / state.BACKUP).mkdir(parents=True)
    (folder / state.IDENTITY).write_text(json.dumps(identity.to_json(IDENTITY)))
    (folder / state.BACKUP / "latest.weights.h5").write_bytes(b"weights" * 50)
    (folder / state.BACKUP / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
    (folder / state.LOG).write_text(_log(epochs, header))  # as in a run: rows, backup, seal
    state.seal(folder, epochs)
    (folder / state.LOG).write_text(_log(epochs + 1, header))
    return folder


FILES = [
    state.IDENTITY,
    state.SEAL,
    state.LOG,
    f"{state.BACKUP}/latest.weights.h5",
    f"{state.BACKUP}/training_metadata.json",
]


@settings(max_examples=examples(150))
@given(
    target=st.sampled_from(FILES),
    how=st.sampled_from(["delete", "empty", "truncate", "garble", "append"]),
    at=st.floats(0, 1),
)
def test_damaged_state_is_resumed_only_when_verified(tmp_path_factory, target, how, at):
    folder = _sealed_state(tmp_path_factory.mktemp("s"))
    path = folder / target
    blob = path.read_bytes()
    cut = int(at * (len(blob) - 1))
    damaged = {
        "delete": None,
        "empty": b"",
        "truncate": blob[:cut],
        "garble": blob[:cut] + b"\xff\x00" + blob[cut + 2 :],
        "append": blob + b"9,1,1,1,1,1,1,1,1,1,1\n",
    }[how]
    if damaged is None:
        path.unlink()
    else:
        path.write_bytes(damaged)
    try:
        done = state.prepare(folder, IDENTITY)
    except ValueError as exc:  # StateError, or "other settings" for a changed identity
        assert _one_line(exc).endswith("start over") or "--force" in str(exc)
        return
    # Resumed: then everything it resumes from is exactly what was sealed.
    assert done == 2
    assert (
        state.digest(folder / state.BACKUP)
        == json.loads((folder / state.SEAL).read_text())["sha256"]
    )
    assert sorted(state.log_rows(folder / state.LOG)) == [0, 1]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / state.LOG).unlink(), "history.csv is damaged (unreadable"),
        (lambda f: (f / state.LOG).write_text(""), "history.csv is damaged (its rows are not"),
        (lambda f: (f / state.LOG).write_text(",".join(HEADER) + "\n"), "rows are not the ones"),
        (lambda f: (f / state.LOG).write_text(_log(3)[:-60]), "rows are not the ones sealed"),
        (lambda f: (f / state.LOG).write_text(_log(3).replace("0.5", "0.6", 1)), "not the ones"),
        (lambda f: (f / state.IDENTITY).unlink(), "run.json is damaged (missing beside"),
        (lambda f: (f / state.BACKUP / "latest.weights.h5").unlink(), "not the ones sealed"),
        (
            lambda f: (f / state.BACKUP / "training_metadata.json").write_text('{"epoch": 3}'),
            "backup is damaged (its files are not the ones sealed",
        ),
        (lambda f: shutil.rmtree(f / state.BACKUP), "backup is damaged (missing"),
        (lambda f: (f / state.SEAL).unlink(), "backup is damaged (never sealed"),
    ],
)
def test_each_listed_damage_names_its_file(tmp_path, damage, message):
    folder = _sealed_state(tmp_path)
    damage(folder)
    with pytest.raises(state.StateError, match=re.escape(message)):
        state.prepare(folder, IDENTITY)


@pytest.mark.parametrize("column", [c for c in state.LOG_COLUMNS if c != "epoch"])
def test_a_log_without_a_column_this_release_reads_is_not_resumed(tmp_path, column):
    # A state begun by an older release (no bench_compiled, say): Keras' CSVLogger would
    # append this release's rows under the old header, shifting every value a column.
    folder = _sealed_state(tmp_path, header=[c for c in HEADER if c != column])
    with pytest.raises(state.StateError, match=re.escape(f"no {column} column")):
        state.prepare(folder, IDENTITY)


def test_a_backup_cut_short_while_saving_falls_back_to_kerass_previous_copy(tmp_path):
    folder = _sealed_state(tmp_path)
    backup = folder / state.BACKUP
    for name in ("latest.weights.h5", "training_metadata.json"):  # double_checkpoint's copy
        shutil.copyfile(backup / name, backup / f"{name}.bkp")
    (backup / "latest.weights.h5").write_bytes(b"epoch 3, half written")
    assert state.prepare(folder, IDENTITY) == 2
    assert (backup / "latest.weights.h5").read_bytes() == b"weights" * 50


def test_a_first_backup_cut_short_before_its_seal_starts_the_run_afresh(tmp_path):
    folder = tmp_path / "state"
    assert state.prepare(folder, IDENTITY) == 0
    assert json.loads((folder / state.SEAL).read_text()) == state.FRESH
    (folder / state.BACKUP).mkdir()  # killed while Keras saved epoch 1, before the seal
    (folder / state.BACKUP / "latest.weights.h5").write_bytes(b"half written")
    (folder / state.LOG).write_text(_log(1))
    assert state.prepare(folder, IDENTITY) == 0
    assert not (folder / state.BACKUP).exists() and not (folder / state.LOG).exists()
    (folder / state.SEAL).write_text('{"epochs": false}')  # equal to 0 in Python, not a seal
    with pytest.raises(state.StateError, match=re.escape("seal.json is damaged (not a seal")):
        state.prepare(folder, IDENTITY)


def test_a_verified_state_resumes_with_the_unsealed_row_dropped(tmp_path):
    folder = _sealed_state(tmp_path)
    assert state.prepare(folder, IDENTITY) == 2
    assert sorted(state.log_rows(folder / state.LOG)) == [0, 1]
    assert (folder / state.LOG).read_text().splitlines()[0].split(",") == HEADER


# --- CIFAR-10 batches ---


@pytest.fixture(scope="module")
def cifar_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    cf.write_folder(root)
    return root / cf.FOLDER


@settings(max_examples=examples(100))
@given(
    at=st.floats(0, 1),
    how=st.sampled_from(["truncate", "flip", "insert"]),
    name=st.sampled_from([*cf.TRAIN_FILES, "test_batch"]),
)
def test_damaged_cifar10_batches_are_refused_or_read_whole(
    tmp_path_factory, cifar_source, at, how, name
):
    folder = tmp_path_factory.mktemp("c") / cf.FOLDER
    shutil.copytree(cifar_source, folder)
    blob = (folder / name).read_bytes()
    i = int(at * (len(blob) - 1))
    damaged = {
        "truncate": blob[:i],
        "flip": blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1 :],
        "insert": blob[:i] + b"c__builtin__\neval\n" + blob[i:],
    }[how]
    (folder / name).write_bytes(damaged)
    try:
        dataset = data.load("cifar10", folder)
    except data.DataError as exc:
        assert str(folder / name) in _one_line(exc)
    else:  # a flipped pixel byte is still a valid batch: the shapes are CIFAR-10's
        assert dataset.train_x.shape == (20, 32, 32, 3) and dataset.train_x.dtype == np.uint8
        assert set(np.unique(dataset.train_y)) <= set(range(10))


# --- the command line, on generated damage ---


@pytest.mark.integration  # the command over a generated corpus
@settings(max_examples=examples(8))
@given(blob=damaged_json(make_run("poly", 0, 0.86)))
def test_report_cli_lists_a_damaged_run_or_reports_it_never_a_traceback(run_set, blob):
    path = run_set / "runs" / "poly-seed0.json"
    path.write_bytes(blob)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["report", str(run_set)])
    assert code == 0, err.getvalue()
    text = (run_set / "REPORT.md").read_text()
    assert not _shows_nan(text) and "Traceback" not in err.getvalue()
    failed = text.split("## Failed or missing runs")[1]
    try:
        results.read(path)
    except results.ResultsError:
        assert "- poly-seed0: unreadable results:" in failed
    assert path.read_bytes() == blob
