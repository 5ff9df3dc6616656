"""Results files: written whole, read back validated, errors naming file and problem."""

import copy
import json
import os
import stat

import pytest
from results_factory import make_run

from bench.core import files, results

EPOCHS = 2


def _valid():
    return make_run("linear", 0, 0.5, epochs=EPOCHS)


def test_round_trip(tmp_path):
    path = results.write(tmp_path / "out" / results.file_name("linear", 0), _valid())
    assert path.name == "linear-seed0.json"
    assert results.read(path) == _valid()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def _broken(change):
    data = copy.deepcopy(_valid())
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.pop("history"), "the file: 'history' is a required property"),
        (lambda d: d.update(schema_version=99), "schema_version: 3 was expected"),
        (lambda d: d["history"]["lr"].pop(), "history.lr must list 2 epochs, has 1"),
        (lambda d: d["history"].pop("val_loss"), "history: 'val_loss' is a required property"),
        (lambda d: d["history"]["loss"].__setitem__(0, "x"), "history.loss.0: 'x' is not of"),
        (lambda d: d["history"].update(epoch=[1, 3]), "history.epoch must run 1..2"),
        (lambda d: d["config"].update(epochs=0), "config.epochs: 0 is less than the minimum"),
        (lambda d: d["history"]["loss"].__setitem__(1, float("nan")), "a NaN or infinite"),
        (lambda d: d["evaluation"].update(accuracy=1.5), "evaluation.accuracy: 1.5 is greater"),
        (lambda d: d["dataset"].update(subset=True), "dataset.subset: True is not valid"),
        (lambda d: d["environment"].pop("devices"), "'devices' is a required property"),
        (lambda d: d.update(experiment="cosine"), "experiment: 'cosine' is not one of"),
        (lambda d: d["history"]["compiled"].__setitem__(0, False), "compiled must be true for"),
        (lambda d: d["history"]["compiled"].__setitem__(1, 0), "history.compiled.1: 0 is not of"),
    ],
)
def test_invalid_results_are_refused_on_write_and_read(tmp_path, change, problem):
    data = _broken(change)
    path = tmp_path / "r.json"
    with pytest.raises(results.ResultsError, match=problem):
        results.write(path, data)
    assert list(tmp_path.iterdir()) == []
    path.write_text(json.dumps(data))
    with pytest.raises(results.ResultsError, match=rf"^{path}: .*{problem}"):
        results.read(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("{not json", "not valid JSON"), ("[1, 2]", "not a JSON object"), ("", "not valid JSON")],
)
def test_unreadable_results(tmp_path, text, problem):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(results.ResultsError, match=problem):
        results.read(path)


def test_missing_results_file(tmp_path):
    with pytest.raises(results.ResultsError, match="cannot be read"):
        results.read(tmp_path / "nope.json")


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def fail(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        files.atomic_write(path, fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_check_writable(tmp_path):
    files.check_writable(tmp_path / "new" / "deeper")  # creatable: fine, and not created
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not a folder"):
        files.check_writable(tmp_path / "file" / "out")


def test_written_files_get_the_usual_permissions(tmp_path):
    # Readable by the group where the umask allows, like any file open() makes: results on
    # a cluster's shared storage are read by other processes and users.
    old = os.umask(0o022)
    try:
        files._UMASK = 0o022
        path = files.atomic_write(tmp_path / "f.json", lambda f: f.write(b"{}"))
    finally:
        os.umask(old)
        files._UMASK = files._umask()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
