"""No training lost, one writer per run set: kills at random moments across a run's whole
life, a failed results write, SIGTERM, and two commands on one --out.

Runs are the quick set-up's small ResNet on 40 digits images (4 epochs of 3 steps), each a
fresh process as a user's is, with --deterministic so that finished results can be
compared with an uninterrupted run's bit for bit.
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from bench.core import console, data, experiments, results, state
from bench.run import lifecycle

pytestmark = pytest.mark.smoke
EPOCHS = 4
# Where each kill lands: before the first epoch (start-up, data, model), between epochs,
# and after the last epoch (evaluation and the results write). A kill's moment inside its
# window is random (seeded); the window it really landed in is read from what the process
# had printed. 6 kills at most (fewer if the run finishes first), then one run to the end.
WINDOWS = ["start-up", "training", "start-up", "training", "evaluation", "evaluation"]
SEED = 20261130


def _args(out, name="linear"):
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
        str(EPOCHS),
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


def _start(args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _sealed(state_dir):
    try:
        return json.loads((state_dir / state.SEAL).read_text())["epochs"]
    except (OSError, ValueError, KeyError):
        return 0


def _wait(condition, proc, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.02)
    return False


class Attempt:
    """A CLI process whose output is collected as it comes."""

    def __init__(self, args):
        self.proc = _start(args)
        self.lines = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout))
        self.reader.start()

    def window(self):
        text = "".join(self.lines)
        if "[INFO] evaluating network" in text:
            return "evaluation"
        return "training" if re.search(r"^Epoch \d+/", text, re.MULTILINE) else "start-up"

    def finish(self):
        self.proc.wait(timeout=600)
        self.reader.join()
        return "".join(self.lines)


def _kill_in(window, attempt, state_dir, sealed_before, rng):
    """SIGKILL at a random moment of ``window``; the window it landed in, or None if the
    process finished first."""
    proc = attempt.proc
    if window == "start-up":
        time.sleep(rng.uniform(0, 4))
    elif window == "training":
        _wait(lambda: sealed_before < _sealed(state_dir) < EPOCHS, proc)
        time.sleep(rng.uniform(0, 0.3))
    else:
        _wait(lambda: attempt.window() == "evaluation", proc)
        time.sleep(rng.uniform(0, 0.3))
    landed = attempt.window()
    if proc.poll() is not None:
        return None
    proc.send_signal(signal.SIGKILL)
    return landed


def _first_epoch(stdout):
    found = re.search(r"^Epoch (\d+)/", stdout, re.MULTILINE)
    return int(found.group(1)) if found else None


def test_random_kills_across_a_runs_life_lose_no_training(tmp_path):
    straight = _start(_args(tmp_path / "straight"))
    assert straight.wait(timeout=600) == 0, straight.stderr.read()[-2000:]
    out, rng = tmp_path / "killed", random.Random(SEED)
    state_dir = out / "state" / "linear-seed1"
    windows_hit, firsts = [], []
    for window in [*WINDOWS, None]:  # None: the last attempt runs to the end
        sealed_before = _sealed(state_dir)
        attempt = Attempt(_args(out))
        landed = window and _kill_in(window, attempt, state_dir, sealed_before, rng)
        stdout = attempt.finish()
        windows_hit += [landed] if landed else []
        first = _first_epoch(stdout)
        # Never an epoch trained again once it was sealed (backed up and logged).
        assert first is None or first == sealed_before + 1, (window, sealed_before, stdout)
        firsts += [first] if first else []
        if attempt.proc.returncode == 0:
            break
    proc = attempt.proc
    assert proc.returncode == 0
    assert set(windows_hit) == set(WINDOWS), windows_hit  # each window was really hit
    assert len(windows_hit) >= 4, windows_hit
    got = json.loads((out / "linear-seed1.json").read_text())["history"]
    want = json.loads((tmp_path / "straight" / "linear-seed1.json").read_text())["history"]
    assert got == {
        **want,
        "seconds": got["seconds"],
        "ms_per_step": got["ms_per_step"],
        "images_per_second": got["images_per_second"],
        "compiled": got["compiled"],
    }
    # Each process's first epoch compiled; the epochs marked so are attempts' first ones.
    compiled = {e for e, c in enumerate(got["compiled"], 1) if c}
    assert 1 in compiled and compiled <= set(firsts), (got["compiled"], firsts)
    assert firsts[-1] in compiled and want["compiled"] == [True] + [False] * (EPOCHS - 1)
    assert not (out / "state").exists()


def test_a_failed_results_write_keeps_the_training(tmp_path, monkeypatch, capsys):
    tiny = data.subset(data.load_digits(), 40, seed=0)
    run = experiments.Run(
        experiments.configure("step", epochs=2, batch_size=16, model="quick"),
        seed=0,
        dataset="digits",
        subset=40,
    )
    path, state_dir = tmp_path / "step-seed0.json", tmp_path / "state" / "step-seed0"
    real_write = results.write

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(results, "write", disk_full)
    with pytest.raises(OSError, match="No space left"):
        lifecycle.train_unless_finished(run, tiny, path, state_dir, verbose=0)
    assert _sealed(state_dir) == 2 and not path.exists()
    monkeypatch.setattr(results, "write", real_write)
    capsys.readouterr()
    with console.shown():  # the lines the command line shows (the API itself is quiet)
        trained = lifecycle.train_unless_finished(run, tiny, path, state_dir, verbose=2)
    out = capsys.readouterr().out
    assert "resuming the interrupted run" in out and "after epoch 2" in out
    assert "Epoch 1/2" not in out and "Epoch 2/2" not in out  # nothing trained again
    assert trained["history"]["epoch"] == [1, 2] and results.read(path) == trained


def test_sigterm_is_handled_as_ctrl_c_and_the_plan_says_interrupted(tmp_path):
    out = tmp_path / "set"
    args = [
        "reproduce",
        "--quick",
        "--schedules",
        "none,step",
        "--epochs",
        str(EPOCHS),
        "--subset",
        "40",
        "--verbose",
        "2",
        "--out",
        str(out),
    ]
    proc = _start(args)
    assert _wait(lambda: _sealed(out / "state" / "none-seed0") >= 1, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr[-2000:]
    assert (
        stderr.strip()
        .splitlines()[-1]
        .startswith("bench reproduce: terminated (SIGTERM); run the same command again to resume")
    )
    plan = json.loads((out / "plan.json").read_text())
    assert [r["status"] for r in plan["runs"]] == ["interrupted", "pending"]
    assert (out / "state" / "none-seed0" / state.SEAL).exists()
    resumed = _start(args)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()[-2000:]
    assert [r["status"] for r in json.loads((out / "plan.json").read_text())["runs"]] == [
        "ok",
        "ok",
    ]


def test_two_commands_on_one_folder_one_trains_the_other_refuses(tmp_path):
    out = tmp_path / "out"
    first = _start(_args(out))
    assert _wait(lambda: (out / ".lock.holder").exists(), first)
    second = _start(_args(out))
    _, stderr = second.communicate(timeout=120)
    assert second.returncode == 2
    line = stderr.strip().splitlines()[-1]
    assert line.startswith(f"bench train: error: {out} is in use by pid {first.pid}"), stderr
    assert first.wait(timeout=600) == 0
    assert results.read(out / "linear-seed1.json")["history"]["epoch"] == [1, 2, 3, 4]
