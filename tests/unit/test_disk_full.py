"""A full disk is one line, never a crash (issue 20, class 6): ENOSPC (or a quota, or the
file-size limit) injected at each stage of each write - creating the temporary file,
writing, syncing, renaming - is one ``DiskFullError`` line from the API and exit 2 from
the CLI, with the file that was there intact and no temporary file left behind."""

import contextlib
import errno
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from results_factory import folder_of, make_run
from tiers import examples

from bench.cli import main
from bench.core import data, experiments, files, identity, results, state
from bench.keras import lr_find
from bench.report import markdown
from bench.run import local, plan, ray_tasks, runset

STAGES = ("create", "write", "sync", "rename")
ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _full(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class _FullFile:
    """A file whose writes fail as a full disk's do (the real one is closed on exit)."""

    def __init__(self, real, code):
        self.real, self.code = real, code

    def write(self, data):
        raise _full(self.code)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


@contextlib.contextmanager
def full_disk(monkeypatch, stage: str, code: int = errno.ENOSPC, at: int = 1):
    """From the ``at``-th write on, the disk is full at ``stage`` (each atomic write
    creates, writes, syncs and renames once, so the count is of writes)."""
    target = {
        "create": (files.tempfile, "mkstemp"),
        "write": (os, "fdopen"),
        "sync": (os, "fsync"),
        "rename": (os, "replace"),
    }[stage]
    real, calls = getattr(*target), {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] < at:
            return real(*args, **kwargs)
        if stage == "write":
            return _FullFile(real(*args, **kwargs), code)
        raise _full(code)

    with monkeypatch.context() as m:
        m.setattr(*target, failing)
        yield calls


def _no_temporary(folder: Path) -> bool:
    return not [p for p in Path(folder).rglob(".*.tmp")]


# Each writer of the suite, with what it writes over (a previous copy that must survive).
def _results(folder):
    run = make_run("step", 0, 0.86)
    path = results.write(folder / "step-seed0.json", run)
    return path, lambda: results.write(path, make_run("step", 0, 0.5))


def _plan(folder):
    plan = {"runs": []}
    runset.write_plan(folder, plan)
    return folder / runset.PLAN, lambda: runset.write_plan(folder, {"runs": [], "quick": True})


def _seal(folder):
    state_dir = folder / "state"
    state.prepare(state_dir, identity.from_results(make_run("step", 0, 0.8, epochs=2)))
    (state_dir / state.LOG).write_text("epoch\n0\n")
    (state_dir / state.BACKUP).mkdir()
    return state_dir / state.SEAL, lambda: state.seal(state_dir, 1)


def _finder_csv(folder):
    sweep = lr_find.Sweep([1e-3, 1e-2, 1e-1], [2.0, 1.5, 3.0], [2.0, 1.7, 2.4], "x")
    path = lr_find.write_csv(folder / "lr_find.csv", sweep)
    return path, lambda: lr_find.write_csv(
        path, lr_find.Sweep([1.0] * 3, [1.0] * 3, [1.0] * 3, "y")
    )


def _report(folder):
    folder_of(folder, [make_run("step", 0, 0.86)])
    (folder / markdown.REPORT).write_text("the previous report")
    return folder / markdown.REPORT, lambda: markdown.write(folder)


WRITERS = {
    "results": _results,
    "plan": _plan,
    "seal": _seal,
    "finder CSV": _finder_csv,
    "report": _report,
}


@settings(max_examples=examples(40))
@given(
    writer=st.sampled_from(sorted(WRITERS)),
    stage=st.sampled_from(STAGES),
    code=st.sampled_from(ERRORS),
)
def test_every_writer_on_a_full_disk_is_one_line_and_keeps_the_file(
    tmp_path_factory, writer, stage, code
):
    folder = tmp_path_factory.mktemp("w")
    path, write_again = WRITERS[writer](folder)
    before = path.read_bytes()
    with pytest.MonkeyPatch.context() as mp, full_disk(mp, stage, code):
        with pytest.raises(files.DiskFullError) as caught:
            write_again()
    message = str(caught.value)
    assert "\n" not in message and ("cannot write" in message or "no space" in message)
    assert path.read_bytes() == before and _no_temporary(folder)


@pytest.mark.integration  # the whole command, a full disk at each of its writes
def test_bench_report_on_a_full_disk_at_each_write_is_exit_2(tmp_path, capsys):
    """Each of the report's writes (figures, then REPORT.md) in turn, each stage in turn."""
    folder = folder_of(tmp_path / "set", [make_run("step", 0, 0.86)])  # fewer figures, each write
    assert main(["report", str(folder)]) == 0
    kept = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    writes = len([p for p in kept if p.endswith((".png", ".md"))])
    capsys.readouterr()
    for at in range(1, writes + 1):
        with pytest.MonkeyPatch.context() as mp, full_disk(mp, STAGES[at % 4], at=at):
            assert main(["report", str(folder)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert "No space left on device" in err
        now = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        assert now.keys() == kept.keys() and now[markdown.REPORT] == kept[markdown.REPORT]
        assert _no_temporary(folder)


@pytest.mark.parametrize("how", ["atomic_write", "a library's OSError"])
def test_a_run_set_stops_at_a_full_disk_with_one_line(tmp_path, monkeypatch, how):
    """The other runs would meet the same disk: the set stops, the plan says why."""
    runs = plan.plan_runs(["step", "linear"], 1, "digits", None, False, quick_setup=True)
    cause = (
        files.DiskFullError("cannot write x: No space left on device")
        if how == ("atomic_write")
        else RuntimeError("h5py")
    )
    if how != "atomic_write":
        cause.__cause__ = _full(errno.ENOSPC)

    def complete(*args, **kwargs):
        raise cause

    monkeypatch.setattr(local.lifecycle, "train_unless_finished", complete)
    dataset = data.load_digits()
    with pytest.raises(files.DiskFullError) as caught:
        local.run_all(tmp_path, runs, dataset, quick=True)
    assert "\n" not in str(caught.value)
    written = runset.read_plan(tmp_path)
    assert [r["status"] for r in written["runs"]] == ["failed", "pending"]
    assert experiments.get("step").name == written["runs"][0]["experiment"]


class _RayTaskError(Exception):
    """What ``ray.get`` raises for a task that raised: the task's exception as ``cause``."""

    def __init__(self, cause):
        super().__init__(str(cause))
        self.cause = cause


def _fake_ray(outcomes, cancelled):
    """The few calls ``ray_tasks.run_all`` makes, run in order without Ray: the k-th task
    submitted ends as ``outcomes[k]`` (seconds, or an exception it raised)."""
    refs = []

    class Task:
        def options(self, **kwargs):
            return self

        def remote(self, *args):
            refs.append(len(refs))
            return refs[-1]

    def get(ref):
        if isinstance(outcomes[ref], BaseException):
            raise _RayTaskError(outcomes[ref])
        return outcomes[ref]

    return SimpleNamespace(
        remote=lambda **kwargs: lambda function: Task(),
        put=lambda value: value,
        wait=lambda pending, num_returns: (pending[:1], pending[1:]),
        get=get,
        cancel=lambda ref, force: cancelled.append(ref),
        exceptions=SimpleNamespace(RayError=_RayTaskError),
    )


def test_a_ray_run_set_stops_at_a_full_disk_like_a_local_one(tmp_path, monkeypatch):
    """The first task meets a full disk: the set stops with one line, that run failed and
    the others cancelled (their states kept: the same command resumes them)."""
    runs = plan.plan_runs(["step", "linear", "poly"], 1, "digits", None, False, quick_setup=True)
    cancelled = []
    full = RuntimeError("h5py")
    full.__cause__ = _full(errno.ENOSPC)
    monkeypatch.setitem(sys.modules, "ray", _fake_ray([full, 3.0, 3.0], cancelled))
    slots = ray_tasks.Slots(gpus=0, cpus=1, concurrent=3, where="test")
    with pytest.raises(files.DiskFullError) as caught:
        ray_tasks.run_all(tmp_path, runs, data.load_digits(), slots, quick=True)
    assert "\n" not in str(caught.value) and "no space left" in str(caught.value).lower()
    assert [r["status"] for r in runset.read_plan(tmp_path)["runs"]] == [
        "failed",
        "interrupted",
        "interrupted",
    ]
    assert cancelled == [1, 2]
