"""Only regular files of a bounded size are read, and JSON of a bounded depth (issue 20,
classes 5 and 10): a FIFO, a symlink to /dev/zero, a device, a folder, an oversized file
or a file nested near Python's recursion limit, wherever the suite reads a file, is one
line naming it (or, in ``runs/``, a failed run in the report), promptly, never a hang, a
memory blow-up or a ``RecursionError`` traceback."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from results_factory import folder_of, make_run
from tiers import examples

from bench.cli import main
from bench.core import files, results, state
from bench.keras import lr_find
from bench.report import golden
from bench.run import runset

KINDS = ("fifo", "dev-zero", "dev-null", "folder", "oversized", "symlink-to-fifo")


def plant(path: Path, kind: str) -> Path:
    """Put a file of ``kind`` (none of them a regular file a reader should read) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "dev-null":
        path.symlink_to("/dev/null")
    elif kind == "folder":
        path.mkdir()
    elif kind == "oversized":
        with path.open("wb") as f:  # sparse: no disk used
            f.truncate(files.MAX_JSON_BYTES + 1)
    elif kind == "symlink-to-fifo":
        os.mkfifo(path.with_name(path.name + ".fifo"))
        path.symlink_to(path.name + ".fifo")
    return path


@contextlib.contextmanager
def prompt(seconds: int = 10):
    """Fail, rather than hang, if the body blocks (a FIFO read would block forever)."""

    def late(signum, frame):
        raise TimeoutError(f"blocked for {seconds} s")

    previous = signal.signal(signal.SIGALRM, late)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind", KINDS)
def test_read_regular_refuses_what_is_not_a_regular_file(tmp_path, kind):
    path = plant(tmp_path / "x.json", kind)
    with prompt(), pytest.raises(ValueError, match=r"x\.json: .*not read") as caught:
        files.read_regular(path, files.MAX_JSON_BYTES)
    assert "\n" not in str(caught.value)


def test_read_regular_reads_a_regular_file_and_a_symlink_to_one(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    (tmp_path / "b").symlink_to("a")
    assert files.read_regular(tmp_path / "a", 3) == files.read_regular(tmp_path / "b", 3) == b"abc"
    with pytest.raises(ValueError, match="more than the 2"):
        files.read_regular(tmp_path / "a", 2)
    with pytest.raises(ValueError, match="cannot be read: No such file"):
        files.read_regular(tmp_path / "missing", 2)


SEALED = {"log_bytes": 1, "log_sha256": "", "epochs": 1}
# Every reader of a file the user's folders hold, each as the API raises it.
READERS = {
    "results": lambda p: results.read(p),
    "plan": lambda p: runset.read_plan(p.parent),
    "lr-find CSV": lambda p: lr_find.read_csv(p),
    "state log": lambda p: state._trim_log(
        p.parent, {"log_bytes": 1, "log_sha256": "", "epochs": 1}
    ),
}
NAMES = {
    "results": "none-seed0.json",
    "plan": runset.PLAN,
    "lr-find CSV": "lr_find.csv",
    "state log": state.LOG,
}


@settings(max_examples=examples(40))
@given(reader=st.sampled_from(sorted(READERS)), kind=st.sampled_from(KINDS))
def test_every_reader_refuses_every_kind_in_one_line(reader, kind):
    with tempfile.TemporaryDirectory() as folder:
        path = plant(Path(folder) / NAMES[reader], kind)
        with prompt(), pytest.raises(ValueError) as caught:
            READERS[reader](path)
    assert NAMES[reader] in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("kind", KINDS)
def test_a_golden_file_that_is_not_regular_is_one_line(tmp_path, monkeypatch, kind):
    for source in golden.golden_dir().glob("*.csv"):
        (tmp_path / source.name).write_bytes(source.read_bytes())
    plant(tmp_path / "epoch_lines.csv", kind)
    monkeypatch.setenv(golden.GOLDEN_ENV, str(tmp_path))
    with prompt(), pytest.raises(golden.GoldenError, match=r"epoch_lines\.csv cannot be read"):
        golden.epoch_lines()


def _hostile_set(root: Path, where: str, kind: str) -> Path:
    """A run set with a hostile ``where`` (``runs`` or ``plan``)."""
    folder = root / "set"  # no finished run: nothing to draw, so each case takes milliseconds
    (folder / runset.RUNS).mkdir(parents=True)
    if where == "plan":
        plant(folder / runset.PLAN, kind)
    else:
        plant(folder / runset.RUNS / "linear-seed0.json", kind)
    return folder


@settings(max_examples=examples(24))
@given(where=st.sampled_from(["runs", "plan"]), kind=st.sampled_from(KINDS))
def test_report_and_compare_on_a_hostile_set_end_promptly(where, kind):
    """A hostile file in runs/ is a failed run in the report; as plan.json, exit 2; compare
    ends with 1 or 2 (nothing readable to compare). Never a hang."""
    with tempfile.TemporaryDirectory() as root, prompt(20):
        folder = _hostile_set(Path(root), where, kind)
        good = folder_of(Path(root) / "good", [make_run("step", 0, 0.86)])
        report = main(["report", str(folder)])
        compared = main(["compare", str(good), str(folder)])
        if where == "plan":
            assert report == 2 and compared == 2
        else:
            assert report == 0 and compared in (1, 2)  # missing runs, or no set-up to compare
            text = (folder / "REPORT.md").read_text(encoding="utf-8")
            assert "linear-seed0: unreadable results:" in text


@pytest.mark.integration
def test_the_cli_on_fifos_and_dev_zero_ends_promptly(tmp_path):
    """The real commands, as a user runs them, with a timeout: exit 2, one line each."""
    fifo_plan = _hostile_set(tmp_path / "a", "plan", "fifo")
    zero_plan = _hostile_set(tmp_path / "b", "plan", "dev-zero")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for argv in (["report", str(fifo_plan)], ["compare", str(zero_plan), str(fifo_plan)]):
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "bench", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert "plan.json" in done.stderr and time.monotonic() - started < 60


# --- deep nesting (class 10) ---


def _nested(depth: int) -> bytes:
    return b'{"a": ' + b"[" * depth + b"]" * depth + b"}"


@settings(max_examples=examples(30))
@given(
    depth=st.one_of(
        st.integers(files.MAX_DEPTH, 200),
        st.integers(sys.getrecursionlimit() - 60, sys.getrecursionlimit() + 60),
        st.integers(10_000, 200_000),
    )
)
def test_deep_results_and_plans_are_one_line_never_a_recursion_error(depth):
    with tempfile.TemporaryDirectory() as root, prompt(20):
        good = folder_of(Path(root) / "good", [make_run("step", 0, 0.86)])
        folder = Path(root) / "set"  # the deep run alone: no figures to draw, milliseconds
        run = json.loads((good / "runs" / "step-seed0.json").read_bytes())
        deep = json.dumps(run)[:-1].encode() + b', "extra": ' + _nested(depth) + b"}"
        (folder / "runs").mkdir(parents=True)
        (folder / "runs" / "linear-seed0.json").write_bytes(deep)
        with pytest.raises(results.ResultsError, match="nested deeper than 64 levels"):
            results.read(folder / "runs" / "linear-seed0.json")
        assert main(["report", str(folder)]) == 0
        assert "nested deeper than 64" in (folder / "REPORT.md").read_text(encoding="utf-8")
        assert main(["compare", str(good), str(folder)]) in (1, 2)
        (folder / runset.PLAN).write_bytes(_nested(depth))
        assert main(["report", str(folder)]) == 2
        assert main(["compare", str(good), str(folder)]) == 2


@pytest.mark.parametrize("depth", [files.MAX_DEPTH + 1, sys.getrecursionlimit()])
def test_a_deep_value_in_memory_is_refused_before_jsonschema_or_dumps(tmp_path, depth):
    run = make_run("step", 0, 0.86)
    value: list = []
    for _ in range(depth):
        value = [value]
    run["config"]["plateau"] = {"deep": value}
    with pytest.raises(results.ResultsError, match="nested deeper"):
        results.validate(run)
    with pytest.raises(results.ResultsError, match="nested deeper"):
        results.write(tmp_path / "step-seed0.json", run)
    assert not (tmp_path / "step-seed0.json").exists()


@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
        ),
    )
)
def test_the_depth_scan_agrees_with_the_parsed_value(value):
    assert files.json_depth(json.dumps(value).encode()) == files.nesting(value)
