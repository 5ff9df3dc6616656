"""The backup on a full disk (issue 20, class 6): Keras' BackupAndRestore writes through
h5py, which crashes on ENOSPC (reproduced below: exit 139, some 80 tracebacks), so
``SpaceCheck`` asks for room before each backup: one line, exit 2, the state intact, and
the same command resumes once there is space."""

import os
import shutil
import subprocess
import sys
import types
from collections import namedtuple

import numpy as np
import pytest

from bench.core import files
from bench.keras import space

Usage = namedtuple("Usage", "total used free")


def _model(nbytes: int):
    return types.SimpleNamespace(get_weights=lambda: [np.zeros(nbytes, np.uint8)])


@pytest.mark.parametrize("free", [0, 1_000, space.MARGIN, 2 * 4_000 + space.MARGIN - 1])
def test_no_room_for_the_backup_is_one_line_before_keras_writes(tmp_path, monkeypatch, free):
    check = space.SpaceCheck(tmp_path / "state" / "backup")  # not there yet: its parent is
    check.set_model(_model(2_000))
    check.on_train_begin()
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**9, 0, free))
    with pytest.raises(files.DiskFullError, match=r"no space for epoch 3's backup in /") as e:
        check.on_epoch_end(2)
    assert "\n" not in str(e.value)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: Usage(10**9, 0, 2 * 4_000 + space.MARGIN))
    check.on_epoch_end(2)  # room enough: nothing said


def test_the_space_check_comes_before_the_backup():
    from bench.keras import compat, train

    backup = compat.backup_and_restore(
        "/nonexistent", saved=lambda n: None, restored=lambda m: None
    )
    with pytest.raises(RuntimeError, match="space check must come before"):
        train._check_order([train.EpochLog("/dev/null", 1), backup, space.SpaceCheck("/x")])


def _mount(folder, size):
    os.makedirs(folder, exist_ok=True)
    options = f"size={size}" if not os.path.ismount(folder) else f"remount,size={size}"
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    )


@pytest.mark.keras
def test_train_on_a_full_tmpfs_is_one_line_and_resumes_with_space(tmp_path):
    """A real full disk: a 200 kB tmpfs (needs root; skipped elsewhere)."""
    disk = tmp_path / "disk"
    if not _mount(disk, "200k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        command = [
            sys.executable,
            "-m",
            "bench",
            "train",
            "-s",
            "step",
            "--dataset",
            "digits",
            "--model",
            "quick",
            "-e",
            "2",
            "--verbose",
            "0",
            "--out",
            str(disk / "out"),
        ]
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        full = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
        assert full.returncode == 2 and "Traceback" not in full.stderr, full.stderr[-2000:]
        assert full.stderr.strip().splitlines()[-1].startswith("bench train: error: no space for")
        assert _mount(disk, "64m")
        again = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
        assert again.returncode == 0, again.stderr[-2000:]
        assert (disk / "out" / "step-seed42.json").is_file()
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
