"""``python -m bench train``: bad input fails fast with one line, exit 2 and no files.

These fail before TensorFlow is imported; the training itself is in tests/smoke.
"""

import subprocess
import sys

import numpy as np
import pytest

from bench import data

import cifar_files as cf


def _train(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "bench", "train", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-s", "cosine"], "unknown schedule 'cosine'"),
        (["-e", "0"], "epochs must be > 0, got 0"),
        (["-e", "-3"], "epochs must be > 0, got -3"),
        (["--batch-size", "0"], "batch-size must be > 0"),
        (["--subset", "0"], "subset must be > 0"),
        (["--subset", "5000"], "subset must be between 10 (one image per class) and the 1,437"),
        (["--seed", "-1"], "seed must be >= 0"),
        (["--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["-e", "two"], "invalid int value: 'two'"),
        (["--out", "blocker/out"], "is not a folder"),
        (["-t", "{tmp}/blocker/x/training.png"], "is not a folder"),  # absolute: not in --out
    ],
)
def test_bad_input(tmp_path, args, message):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    # A tiny run by default (the args given override it), so a check that stops working
    # fails in seconds, not after 100 epochs.
    proc = _train("--dataset", "digits", "-e", "1", "--subset", "20", "--out", "out", *args,
                  cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_missing_cifar10(tmp_path):
    env = {"PATH": "", "HOME": str(tmp_path), "KERAS_HOME": str(tmp_path / "k"),
           data.CIFAR10_ENV: str(tmp_path / "nowhere")}  # fmt: skip
    proc = _train("--out", "out", cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no CIFAR-10 at" in proc.stderr
    assert "[INFO] loading CIFAR-10 data..." in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_corrupt_cifar10(tmp_path):
    cf.write_folder(tmp_path / "c")
    (tmp_path / "c" / cf.FOLDER / "test_batch").write_bytes(b"\x80\x02}(U")
    proc = _train("--data-dir", str(tmp_path / "c"), "--out", "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "test_batch is corrupt or truncated" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_batches_scale_and_shuffle():
    from bench.train import batches

    x = np.arange(5 * 32 * 32 * 3).reshape(5, 32, 32, 3).astype(np.uint8)
    y = np.eye(5, dtype=np.float32)
    plain = list(batches(x, y, 2).as_numpy_iterator())
    assert [b[0].shape[0] for b in plain] == [2, 2, 1]
    assert plain[0][0].dtype == np.float32
    np.testing.assert_allclose(plain[0][0], x[:2] / 255.0, rtol=1e-6)
    shuffled = [b[1].argmax(axis=1) for b in batches(x, y, 5, seed=3).as_numpy_iterator()]
    again = [b[1].argmax(axis=1) for b in batches(x, y, 5, seed=3).as_numpy_iterator()]
    assert sorted(shuffled[0]) == [0, 1, 2, 3, 4]
    np.testing.assert_array_equal(shuffled[0], again[0])
