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
from pathlib import Path

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
    return folder_of(tmp_path_factory.mktemp("set"), [make_run("none", 0, 0.84),
                                                      make_run("step", 0, 0.87)])  # fmt: skip


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
@given(blob=damaged_json({"quick": True, "dataset": "digits", "subset": None, "seeds": [0],
                          "experiments": ["none"], "runs": [{"experiment": "none", "seed": 0,
                          "file": "runs/none-seed0.json", "status": "ok"}]}))  # fmt: skip
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


@settings(max_examples=examples(40))
@given(data=st.data(), name=st.sampled_from(sorted(READERS)))
def test_damaged_golden_files_are_refused_or_still_consistent(tmp_path_factory, data, name):
    folder = tmp_path_factory.mktemp("golden")
    shutil.copytree(GOLDEN, folder, dirs_exist_ok=True)
    (folder / name).write_text(data.draw(damaged_lines((GOLDEN / name).read_text())))
    os.environ[golden.GOLDEN_ENV] = str(folder)
    try:
        rows = READERS[name]()
    except golden.GoldenError as exc:
        assert _one_line(exc).startswith(str(folder / name))
        return
    finally:
        del os.environ[golden.GOLDEN_ENV]
    if name == "epoch_lines.csv":  # what the report relies on
        keys = [(r["experiment"], r["epoch"]) for r in rows]
        assert len(keys) == len(set(keys))
        assert {r["experiment"] for r in rows if r["epoch"] == r["epochs"] == 100} == set(
            ["none", "standard", "step", "linear", "poly"]
        )


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


FILES = [state.IDENTITY, state.SEAL, state.LOG, f"{state.BACKUP}/latest.weights.h5",
         f"{state.BACKUP}/training_metadata.json"]  # fmt: skip


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
    damaged = {"delete": None, "empty": b"", "truncate": blob[:cut],
               "garble": blob[:cut] + b"\xff\x00" + blob[cut + 2:],
               "append": blob + b"9,1,1,1,1,1,1,1,1,1,1\n"}[how]  # fmt: skip
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
        (lambda f: (f / state.BACKUP / "training_metadata.json").write_text('{"epoch": 3}'),
         "backup is damaged (its files are not the ones sealed"),
        (lambda f: shutil.rmtree(f / state.BACKUP), "backup is damaged (missing"),
        (lambda f: (f / state.SEAL).unlink(), "backup is damaged (never sealed"),
    ],
)  # fmt: skip
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
@given(at=st.floats(0, 1), how=st.sampled_from(["truncate", "flip", "insert"]),
       name=st.sampled_from([*cf.TRAIN_FILES, "test_batch"]))  # fmt: skip
def test_damaged_cifar10_batches_are_refused_or_read_whole(tmp_path_factory, cifar_source, at,
                                                           how, name):  # fmt: skip
    folder = tmp_path_factory.mktemp("c") / cf.FOLDER
    shutil.copytree(cifar_source, folder)
    blob = (folder / name).read_bytes()
    i = int(at * (len(blob) - 1))
    damaged = {"truncate": blob[:i], "flip": blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:],
               "insert": blob[:i] + b"c__builtin__\neval\n" + blob[i:]}[how]  # fmt: skip
    (folder / name).write_bytes(damaged)
    try:
        dataset = data.load("cifar10", folder)
    except data.DataError as exc:
        assert str(folder / name) in _one_line(exc)
    else:  # a flipped pixel byte is still a valid batch: the shapes are CIFAR-10's
        assert dataset.train_x.shape == (20, 32, 32, 3) and dataset.train_x.dtype == np.uint8
        assert set(np.unique(dataset.train_y)) <= set(range(10))


# --- the command line, on generated damage ---


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
