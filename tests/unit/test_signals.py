"""Signals everywhere (issue 20, class 9): SIGINT, SIGTERM or SIGHUP at any moment of a
command - start-up, data loading, report, compare - exit 130 (Ctrl+C) or 143 (SIGTERM,
and SIGHUP as SIGTERM) with one true line, never a traceback; the line says a state is
kept only where one exists."""

import contextlib
import io
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
from bench.core import data, files, stop

SIGNALS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 143}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sighup_is_handled_as_sigterm(signum):
    with stop.handled(), pytest.raises(stop.Terminated) as raised:
        signal.raise_signal(signum)
    assert stop.exit_code(raised.value) == 143
    assert signal.Signals(signum).name in stop.message("x", raised.value)


def test_a_sighup_that_nohup_ignores_stays_ignored():
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stop.handled():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def _command(kind: str, root: Path) -> list[str]:
    if kind in ("report", "compare"):
        a = folder_of(root / "a", [make_run("step", 0, 0.86), make_run("linear", 0, 0.87)])
        b = folder_of(root / "b", [make_run("step", 0, 0.86), make_run("linear", 0, 0.87)])
        return ["report", str(a)] if kind == "report" else ["compare", str(a), str(b)]
    return {
        "train": ["train", "--dataset", "digits", "--out", str(root / "out")],
        "reproduce": ["reproduce", "--quick", "--out", str(root / "out")],
    }[kind]


@settings(max_examples=examples(30))
@given(
    kind=st.sampled_from(["report", "compare", "train", "reproduce"]),
    signum=st.sampled_from(sorted(SIGNALS)),
    at=st.integers(1, 12),
)
def test_a_signal_at_any_read_or_load_is_one_line_and_its_exit_code(kind, signum, at):
    """The signal arrives at the ``at``-th file read (plan, results, golden files) or as
    the data loads; a command that ends first exits as it would have."""
    calls = {"n": 0}
    real_read, sent = files.read_regular, []

    def arrive(*args):
        calls["n"] += 1
        if calls["n"] == at:
            sent.append(signum)
            signal.raise_signal(signum)
        return real_read(*args)

    def loading(*args, **kwargs):
        sent.append(signum)
        signal.raise_signal(signum)

    err = io.StringIO()
    with tempfile.TemporaryDirectory() as root, pytest.MonkeyPatch.context() as mp:
        argv = _command(kind, Path(root))
        mp.setattr(files, "read_regular", arrive)
        mp.setattr(data, "load", loading)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        left = (
            sorted(p.name for p in (Path(root) / "out").glob("*"))
            if kind in ("train", "reproduce")
            else []
        )
    if not sent:
        assert code in (0, 1)
        return
    lines = err.getvalue().strip().splitlines()
    assert code == SIGNALS[signum] and len(lines) == 1, err.getvalue()
    assert signal.Signals(signum).name in lines[0] or "Ctrl+C" in lines[0]
    assert "state kept" not in lines[0] and left == []


MOMENTS = [(signal.SIGINT, 0.3), (signal.SIGTERM, 1.0), (signal.SIGHUP, 2.0), (signal.SIGTERM, 3.5)]


# The two ways a user starts it: the module, and the console script pip installs beside
# the interpreter (pyproject.toml's [project.scripts]).
LAUNCHERS = {
    "python -m bench": [sys.executable, "-m", "bench"],
    "bench": [str(Path(sys.executable).parent / "bench")],
}


@pytest.mark.integration
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
@pytest.mark.parametrize(("signum", "delay"), MOMENTS)
def test_the_command_signalled_while_it_starts_or_reports(tmp_path, launcher, signum, delay):
    """``bench report`` as a user runs it, signalled while it imports or works."""
    command = LAUNCHERS[launcher]
    assert Path(command[0]).exists(), f"{command[0]}: the package is not installed here"
    folder = folder_of(tmp_path / "set", [make_run("step", 0, 0.86)])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen(
        [*command, "report", str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    child.send_signal(signum)
    _, err = child.communicate(timeout=60)
    assert "Traceback" not in err, err
    if child.returncode == 0:  # it finished first
        return
    if child.returncode == -signum:  # before Python ran a line of ours: the default action
        assert err == ""
        return
    assert child.returncode == SIGNALS[signum] and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("signum", sorted(SIGNALS))
def test_a_signal_while_the_arguments_are_read_is_one_line(signum, monkeypatch, capsys):
    """Between start-up's handlers and the command's: parsing is inside ``stop.handled``."""
    import bench.cli

    real = bench.cli.build_parser

    def parsing():
        signal.raise_signal(signum)
        return real()

    monkeypatch.setattr(bench.cli, "build_parser", parsing)
    assert main(["report", "."]) == SIGNALS[signum]
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("bench: ") and "stopped before anything was left half-written" in line
