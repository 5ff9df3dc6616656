"""Everything checkable is checked before the first epoch, and a refused command creates
nothing (issue 20, class 7); what changes the numbers is part of the identity (class 11)."""

import contextlib
import dataclasses
import importlib.util
import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiers import examples

from bench.cli import main
from bench.core import checks, data, experiments, files, identity, state

# Each bounded flag, on a command that takes it, with everything else tiny and valid.
BOUNDED = {
    "--epochs": ["train", "--dataset", "digits", "--model", "quick"],
    "--seed": ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    "--subset-seed": ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    "--batch-size": ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    "--subset": ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    "--seeds": ["reproduce", "--quick"],
    "--workers": ["reproduce", "--quick", "--ray"],
    "--steps": ["speed"],
}


def _refused(argv, tmp_path, monkeypatch, capsys, message):
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert sorted(tmp_path.rglob("*")) == before  # nothing created, not even the lock


@given(flag=st.sampled_from(sorted(BOUNDED)), over=st.integers(1, 10**12))
def test_a_number_over_its_bound_is_one_line_before_anything(tmp_path_factory, flag, over):
    tmp_path = tmp_path_factory.mktemp("bound")
    name = flag.lstrip("-")
    value = checks.LIMITS[name] + over
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        code = main([*BOUNDED[flag], flag, str(value), "--out", str(tmp_path / "o")])
    assert code == 2
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flag", sorted(BOUNDED))
def test_each_bound_is_stated_in_help(flag, capsys):
    assert main([BOUNDED[flag][0], "--help"]) == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps its help lines
    assert f"(at most {checks.LIMITS[flag.lstrip('-')]:,})" in shown


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
        ["reproduce", "--quick"],
        ["lr-find", "--dataset", "digits", "--model", "quick"],
        ["speed"],
    ],
)
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bogus", "KERAS_BACKEND=bogus is not a Keras backend"),
        ("torch", "needs torch, which is not installed here"),
    ],
)
def test_a_backend_that_cannot_run_is_refused_up_front(
    command, name, message, tmp_path, monkeypatch, capsys
):
    if name == "torch" and importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here: its backend can run (the torch row checks it)")
    monkeypatch.setenv("KERAS_BACKEND", name)
    _refused(command, tmp_path, monkeypatch, capsys, message)


def _identity():
    run = experiments.Run(experiments.configure("step", quick_setup=True), 0, "digits")
    return identity.of(run, data.load_digits())


def test_tf_deterministic_ops_is_recorded_as_determinism(monkeypatch):
    monkeypatch.delenv("TF_DETERMINISTIC_OPS", raising=False)
    assert _identity().deterministic is False
    for value in ("1", "true", "TRUE"):
        monkeypatch.setenv("TF_DETERMINISTIC_OPS", value)
        assert _identity().deterministic is True


def test_a_resume_across_tf_deterministic_ops_is_refused_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("TF_DETERMINISTIC_OPS", raising=False)
    state.prepare(tmp_path / "state", _identity())
    monkeypatch.setenv("TF_DETERMINISTIC_OPS", "1")
    with pytest.raises(ValueError, match=r"other settings \(deterministic\)"):
        state.prepare(tmp_path / "state", _identity())
    assert dataclasses.replace(_identity(), deterministic=False) != _identity()


# --- a very long --out (class 13): refused before anything, never a RecursionError ---

PATH_MAX = os.pathconf("/", "PC_PATH_MAX")
NAME_MAX = os.pathconf("/", "PC_NAME_MAX")
OUT_COMMANDS = {
    "train": ["train", "--dataset", "digits", "--model", "quick", "-e", "1"],
    "reproduce": ["reproduce", "--quick"],
    "lr-find": ["lr-find", "--dataset", "digits", "--model", "quick"],
    "speed": ["speed"],  # --out is a file: FOLDER/x.json
    "fingerprint": ["fingerprint"],
}
FILE_OUT = {"speed", "fingerprint"}


@st.composite
def too_long(draw, root):
    """A folder under ``root`` that the file system or the files inside cannot hold: one
    name too long, or a path too long, often deep (one letter per folder)."""
    if draw(st.booleans()):
        depth = draw(st.integers(0, 5))
        return root.joinpath(*["d"] * depth, "x" * draw(st.integers(NAME_MAX + 1, 2 * NAME_MAX)))
    width = draw(st.integers(1, NAME_MAX))
    size = draw(st.integers(PATH_MAX - files.ROOM + 1, 2 * PATH_MAX))
    folders = (size - len(str(root))) // (width + 1) + 1
    return root.joinpath(*["d" * width] * folders)


@settings(max_examples=examples(30), deadline=None)
@given(data=st.data(), command=st.sampled_from(sorted(OUT_COMMANDS)))
def test_a_too_long_out_is_one_line_before_anything(tmp_path_factory, data, command):
    tmp_path = tmp_path_factory.mktemp("long")
    out = data.draw(too_long(tmp_path))
    if command in FILE_OUT:  # a folder too long, or a file name (its temporary's is longer)
        long_name = "x" * data.draw(st.integers(NAME_MAX - 14 - 4, NAME_MAX)) + ".json"
        out = out / "x.json" if data.draw(st.booleans()) else tmp_path / long_name
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main([*OUT_COMMANDS[command], "--out", str(out)])
    assert code == 2
    line = err.getvalue().strip()
    assert "\n" not in line and len(line) < 400 and "cannot write to" in line, line
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.integration  # a path of the longest length the OS allows, made on disk
def test_the_longest_out_allowed_is_made_without_recursing(tmp_path):
    # One letter per folder: some 1,980 levels, twice Python's recursion limit.
    folders = (PATH_MAX - files.ROOM - len(str(tmp_path))) // 2
    out = tmp_path.joinpath(*["d"] * folders)
    files.check_writable(out)
    try:
        assert files.make_folders(out)[-1] == out and out.is_dir()
        with pytest.raises(ValueError, match="its path is"):
            files.check_writable(out / "dd")
    finally:  # deepest first, without recursing: shutil.rmtree (pytest's clean-up) would
        for folder in [out, *out.parents][:folders]:
            with contextlib.suppress(FileNotFoundError):
                folder.rmdir()


LINKS = {
    "a loop": lambda at: at.symlink_to(at.name),
    "dangling": lambda at: at.symlink_to("/nonexistent/x"),
}


@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
@pytest.mark.parametrize(("kind", "deeper"), [(k, d) for k in LINKS for d in (False, True)])
def test_an_out_through_a_link_to_nothing_is_one_line_before_anything(
    tmp_path, monkeypatch, capsys, command, kind, deeper
):
    """The helper's case: lr-find swept for 18 s, then "[Errno 17] File exists"."""
    LINKS[kind](tmp_path / "link")
    out = tmp_path / "link" / "deeper" if deeper else tmp_path / "link"
    out = out / "x.json" if command in FILE_OUT and deeper else out
    monkeypatch.chdir(tmp_path)
    assert main([*OUT_COMMANDS[command], "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "a link to nothing" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link"]
