"""Interrupted runs resume as if nothing happened; finished runs are not trained again.

The runs use the quick set-up's small ResNet on 40 digits images (4 epochs of 3 steps), so
each takes seconds; the mechanism - Keras' BackupAndRestore and CSVLogger in --out - is
the one every run uses.
"""

import json
import re
import signal
import subprocess
import sys
import time

import pytest

from bench.cli import main
from bench.core import files

pytestmark = pytest.mark.smoke
EPOCHS = 4


def _args(name, out, epochs=EPOCHS):
    return [
        "train",
        "-s",
        name,
        "--dataset",
        "digits",
        "--subset",
        "40",
        "--batch-size",
        "16",
        "-e",
        str(epochs),
        "--model",
        "quick",
        "--deterministic",
        "--seed",
        "1",
        "--verbose",
        "2",
        "--out",
        str(out),
    ]


def _start(name, out, epochs=EPOCHS):
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *_args(name, out, epochs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_epochs(log, proc, epochs, timeout=300):
    """Until the run's CSV log holds ``epochs`` rows (no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and len(log.read_text().splitlines()) > epochs:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError(f"{log} did not reach {epochs} epochs in {timeout} s")


def _fresh(name, out):
    """The CLI in a new process, as a user runs it; its stdout."""
    proc = _start(name, out)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-2000:]
    return stdout


def _history(path):
    return json.loads(path.read_text())["history"]


@pytest.mark.parametrize("name", ["linear", "standard"])
def test_sigkill_then_resume_equals_an_uninterrupted_run(name, tmp_path, capsys):
    """Every run in a fresh process, as a user's are. Keras 2 (TF 2.15) gave a run inside
    this test process losses one float32 ulp off a fresh process's, after the process had
    run other models; two fresh processes agree bit for bit on every release we test."""
    _fresh(name, tmp_path / "straight")
    out = tmp_path / "killed"
    state = out / "state" / f"{name}-seed1"
    proc = _start(name, out)
    _wait_for_epochs(state / "history.csv", proc, 2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / f"{name}-seed1.json").exists()
    # Every path a run writes in --out (a temporary's ".NAME.XXXXXXXX.tmp" 14 bytes more,
    # the largest seed 10 digits where this one has 1) fits the room check_writable keeps.
    longest = max(len(str(p.relative_to(out))) for p in out.rglob("*"))
    assert longest + 14 + 9 <= files.ROOM, longest

    said = _fresh(name, out)
    assert f"resuming the interrupted run kept in {state}" in said
    straight = _history(tmp_path / "straight" / f"{name}-seed1.json")
    resumed = _history(out / f"{name}-seed1.json")
    assert resumed["epoch"] == list(range(1, EPOCHS + 1))
    # The resumed process compiled again at its first epoch, and says so for throughput.
    after = int(re.search(r"after epoch (\d+)", said).group(1))
    assert straight["compiled"] == [True] + [False] * (EPOCHS - 1)
    assert resumed["compiled"] == [e in (0, after) for e in range(EPOCHS)]
    assert resumed["lr"] == straight["lr"]  # "standard": the optimizer's iteration count
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):  # --deterministic
        assert resumed[key] == straight[key], key
    assert not (out / "state").exists()

    # Finished: the same command is a no-op that says so.
    before = (out / f"{name}-seed1.json").stat().st_mtime_ns
    assert main(_args(name, out)) == 0
    assert "is finished already; --force trains it again" in capsys.readouterr().out
    assert (out / f"{name}-seed1.json").stat().st_mtime_ns == before


def test_ctrl_c_exits_promptly_saying_how_to_resume(tmp_path):
    """On JAX, Keras' np.array of each batch's logs swallowed about one Ctrl+C in three and
    the run went on to exit 0 (bench.stop); 40 epochs leave it no chance to finish first."""
    out = tmp_path / "out"
    proc = _start("linear", out, epochs=40)
    _wait_for_epochs(out / "state" / "linear-seed1" / "history.csv", proc, 1)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 30
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted; run the same command again to resume" in stderr
    assert (out / "state" / "linear-seed1" / "run.json").exists()
    assert not (out / "linear-seed1.json").exists()


def test_other_settings_do_not_resume_silently(tmp_path, capsys):
    out = tmp_path / "out"
    proc = _start("poly", out)
    _wait_for_epochs(out / "state" / "poly-seed1" / "history.csv", proc, 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    args = _args("poly", out)
    args[args.index("-e") + 1] = "3"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "holds an interrupted run with other settings (epochs, schedule)" in err
    assert "--force" in err
    assert main([*args, "--force"]) == 0
    assert len(_history(out / "poly-seed1.json")["lr"]) == 3


def test_deterministic_runs_are_identical(tmp_path, capsys):
    histories = []
    for copy in ("a", "b"):
        assert main(_args("step", tmp_path / copy)) == 0
        histories.append(_history(tmp_path / copy / "step-seed1.json"))
    a, b = histories
    assert {k: a[k] for k in ("loss", "val_loss", "lr")} == {
        k: b[k] for k in ("loss", "val_loss", "lr")
    }
