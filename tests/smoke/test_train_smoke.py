"""The real ResNet trained on the CPU on small subsets of the embedded digits set.

Per-epoch rates are compared with golden/derive_schedules.py's exact tables for the
run's own epochs and steps, after float32 rounding. Each of the post's five experiments
trains, its rates checked the same way, in the README's main job (tests/readme/).
"""

import subprocess
import sys

import numpy as np
import pytest

from bench.core import results

pytestmark = pytest.mark.smoke

PNG = b"\x89PNG\r\n\x1a\n"


def _float32(values):
    return [float(np.float32(v)) for v in values]


def test_cli_train_prints_the_posts_lines_in_its_order(tmp_path, derivation):
    # The quick set-up's small ResNet, 300 images, batch 32, 2 epochs of linear decay. That
    # a run learns is the README main job's check (tests/readme/test_main_job.py).
    epochs = 2
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "train",
            "-s",
            "linear",
            "--dataset",
            "digits",
            "-e",
            str(epochs),
            "--subset",
            "300",
            "--batch-size",
            "32",
            "--seed",
            "0",
            "--model",
            "quick",
            "--out",
            str(tmp_path),
            "--verbose",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    # The post's [INFO] lines, in its order, then Keras' epochs and the report.
    order = [
        "[INFO] using 'linear' learning rate decay...",
        "[INFO] loading digits data...",
        "Epoch 1/2",
        "Epoch 2/2",
        "[INFO] evaluating network...",
        "precision    recall  f1-score   support",
        "[INFO] wrote",
    ]
    positions = [out.find(line) for line in order]
    assert -1 not in positions and positions == sorted(positions), out[-3000:]

    saved = results.read(tmp_path / "linear-seed0.json")
    assert saved["history"]["lr"] == _float32(derivation.table(epochs, 10)["linear"])
    assert saved["dataset"]["subset"] == 300
    for png in ("training.png", "lr.png"):
        assert (tmp_path / png).read_bytes()[:8] == PNG


def test_cli_trains_a_per_iteration_schedule_and_plots_every_update(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "train",
            "-s",
            "cyclic-triangular2",
            "--dataset",
            "digits",
            "-e",
            "2",
            "--subset",
            "40",
            "--batch-size",
            "16",
            "--model",
            "quick",
            "--out",
            str(tmp_path),
            "--verbose",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("[INFO] using 'triangular2' cyclical learning rates...\n")
    saved = results.read(tmp_path / "cyclic-triangular2-seed42.json")
    assert saved["config"]["per_iteration"] is True
    assert saved["config"]["schedule"].startswith("CyclicLR(base_lr=0.001, max_lr=0.1, step_size=1")
    assert (tmp_path / "lr.png").read_bytes()[:8] == PNG


def test_lr_find_then_train_a_cyclic_schedule_from_its_csv(tmp_path):
    """The README's commands: the finder on digits with the quick ResNet, then a cyclic
    schedule trained from its CSV; the results file says where the rates came from."""
    find = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "lr-find",
            "--dataset",
            "digits",
            "--model",
            "quick",
            "--steps",
            "40",
            "--out",
            str(tmp_path / "finder"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert find.returncode == 0, find.stderr[-2000:]
    assert "(steepest: where the smoothed loss falls fastest" in find.stdout
    assert "no rule is robust: read the plot" in find.stdout
    csv_path = tmp_path / "finder" / "lr_find.csv"
    assert (tmp_path / "finder" / "lr_find.png").read_bytes()[:8] == PNG
    from bench.keras import lr_find

    rates = lr_find.cyclic_range(lr_find.read_csv(csv_path))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "train",
            "-s",
            "cyclic-triangular",
            "--lr-from",
            str(csv_path),
            "--dataset",
            "digits",
            "-e",
            "2",
            "--subset",
            "40",
            "--batch-size",
            "16",
            "--model",
            "quick",
            "--out",
            str(tmp_path / "run"),
            "--verbose",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    config = results.read(tmp_path / "run" / "cyclic-triangular-seed42.json")["config"]
    assert config["schedule"].startswith(
        f"CyclicLR(base_lr={rates['base_lr']!r}, max_lr={rates['max_lr']!r}, "
    )
    assert config["lr_source"].startswith(f"bench lr-find {csv_path}: base_lr ")
