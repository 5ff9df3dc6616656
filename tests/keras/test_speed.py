"""``bench speed`` and the upgrade check's step timer: the post's ResNet's training speed on
random CIFAR-shaped images, with the post's own figures beside it (the GPU box's figures
come from this command).

The clock's oracle is a known sleep: each timer sleeps ``COMPILE_S`` in every step of the
first epoch (it stands for tracing and compiling) and a known time in every step of the
timed one, so the test knows a lower bound of the true per-step time and that a timed step
that included the first epoch would take at least ``COMPILE_S``. The quick ResNet at a
batch of 8 trains a step in well under that on any CPU.
"""

import json
import time

import pytest

from bench.cli import main
from bench.keras import compat, step_times
from bench.keras.callbacks import EpochTimes

# Builds or trains Keras models: the second tier (nox -s unit), not a bare pytest.
pytestmark = pytest.mark.keras

COMPILE_S = 1.0  # slept in each step of the first epoch
TIMED_MS = 30.0  # slept in each step of the timed epoch
BATCH = 8


def _sleep_in_each_step(monkeypatch, timer, seconds_by_epoch):
    """``timer`` (a callback class) sleeps ``seconds_by_epoch[epoch]`` at the end of each
    step, before its own end-of-step work: inside what it times."""
    begin, end = timer.on_epoch_begin, timer.on_train_batch_end

    def on_epoch_begin(self, epoch, logs=None):
        self.slept_epoch = epoch
        begin(self, epoch, logs)

    def on_train_batch_end(self, batch, logs=None):
        time.sleep(seconds_by_epoch.get(self.slept_epoch, 0.0))
        end(self, batch, logs)

    monkeypatch.setattr(timer, "on_epoch_begin", on_epoch_begin)
    monkeypatch.setattr(timer, "on_train_batch_end", on_train_batch_end)


def test_speed_times_the_second_epoch_and_states_the_posts_figures(tmp_path, capsys, monkeypatch):
    _sleep_in_each_step(monkeypatch, EpochTimes, {0: COMPILE_S, 1: TIMED_MS / 1000})
    out = tmp_path / "speed.json"
    argv = ["speed", "--steps", "2", "--batch-size", str(BATCH), "--model", "quick"]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["environment"]["backend"] == compat.BACKEND and result["steps"] == 2
    assert result["batch_size"] == BATCH and result["model"] == "quick"
    # The first epoch slept COMPILE_S a step; the timed one TIMED_MS: it is the second.
    assert result["first_epoch_seconds"] >= 2 * COMPILE_S
    assert TIMED_MS <= result["ms_per_step"] < 1000 * COMPILE_S
    # images/s from the known clock: at most a batch per TIMED_MS, at least one per COMPILE_S.
    assert BATCH / COMPILE_S < result["images_per_second"] <= BATCH / (TIMED_MS / 1000)
    # The post's medians of its epoch lines after the first (golden/epoch_lines.csv): 86
    # ms/step at batch 128, so 128,000 / 86 images/s.
    assert result["post_ms_per_step"] == 86
    assert result["post_images_per_second"] == pytest.approx(1488.37, abs=0.01)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"[INFO] wrote {out}"
    assert "ms/step" in lines[-2] and "the post: 86 ms/step, 1,488 images/s" in lines[-2]


def test_step_times_are_the_second_epochs_steps_with_the_added_sleep(monkeypatch):
    _sleep_in_each_step(monkeypatch, step_times.StepTimes, {0: COMPILE_S})
    result = step_times.measure(3, batch_size=BATCH, added_ms=TIMED_MS)
    assert result["setup"] == {
        "model": "quick",
        "batch_size": BATCH,
        "steps": 3,
        "added_ms": TIMED_MS,
    }
    ms = result["ms_per_step"]
    # One epoch's three steps, each holding its added sleep and none the first epoch's.
    assert len(ms) == 3 and all(TIMED_MS <= step < 1000 * COMPILE_S for step in ms), ms


def test_speed_refuses_a_non_positive_step_count(tmp_path, capsys):
    assert main(["speed", "--steps", "0", "--out", str(tmp_path / "s.json")]) == 2
    assert "steps" in capsys.readouterr().err and not (tmp_path / "s.json").exists()


def test_a_round_with_a_seed_trains_it_and_the_report_reads_the_round(tmp_path, monkeypatch):
    """``bench upgrade-speed --seed``: the timed steps, then the convergence seed (cut to
    one epoch here), written as the upgrade report reads it."""
    from bench.api import upgrade as api
    from bench.report import upgrade as report

    monkeypatch.setitem(api.CONVERGENCE, "epochs", 1)
    out = tmp_path / "speed-0.json"
    args = ["--out", str(out), "--steps", "2", "--seed", "3", "--label-noise", "0.05"]
    code = main(["upgrade-speed", *args])
    assert code == 0
    written = json.loads(out.read_text())
    seed = written["convergence"]
    assert seed["seed"] == 3 and 0 <= seed["accuracy"] <= 1
    assert seed["setup"] == {**api.CONVERGENCE, "label_noise": 0.05}
    median, _, trained = report._round(out)
    assert trained == seed and median > 0
