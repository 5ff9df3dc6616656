"""Every bad input the CLI and the loaders can meet: one line on stderr, exit code 2, and
no file left behind. Each case runs the CLI in a fresh folder (two of them as `python -m
bench` in a process of their own, the rest through bench.cli.main); all fail before
any training (a tiny run is set up by default, so a check that stopped working would fail
in seconds rather than train for 100 epochs).

docs/nothing-silently-wrong.md's table maps each class of bad input to the test
that proves what the suite does with it; the classes with generated damage are in
tests/unit/test_damage.py, the kills and the lock in tests/smoke/test_reliability_smoke.py.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from results_factory import TINY, finished_tiny

from bench.cli import main
from bench.core import backend, data
from bench.report import golden

import cifar_files as cf

ROOT = Path(__file__).resolve().parents[2]
# bench.checks.whole_number's message, for every whole number a user gives.
POSITIVE, NON_NEGATIVE = "must be a whole number > 0, got", "must be a whole number >= 0, got"


def _corrupt_cifar(tmp):
    cf.write_folder(tmp / "c")
    (tmp / "c" / cf.FOLDER / "test_batch").write_bytes(b"\x80\x02}(U")


def _corrupt_results(tmp):
    (tmp / "out").mkdir()
    (tmp / "out" / "linear-seed42.json").write_text('{"schema_version": 1')


def _finished_one_epoch(tmp):
    """A finished 1-epoch linear run of TINY (seed 42), exactly as training records it."""
    finished_tiny(tmp / "out")


def _no_ray(tmp):
    """A stand-in `ray` that cannot be imported, as where the extra is not installed."""
    (tmp / "no-ray" / "ray").mkdir(parents=True)
    (tmp / "no-ray" / "ray" / "__init__.py").write_text("raise ImportError('no Ray here')\n")


def _results_folder(tmp, plan):
    (tmp / "set" / "runs").mkdir(parents=True)
    (tmp / "set" / "plan.json").write_text(plan)


def _corrupt_golden(tmp):
    shutil.copytree(ROOT / "golden", tmp / "golden")
    text = (tmp / "golden" / "epoch_lines.csv").read_text().replace("0.8414", "x", 1)
    (tmp / "golden" / "epoch_lines.csv").write_text(text)
    failed = {
        "experiment": "linear",
        "seed": 0,
        "file": "runs/linear-seed0.json",
        "status": "failed",
        "error": "RuntimeError: x",
    }
    _results_folder(tmp, json.dumps({"runs": [failed]}))


CASES = {
    # name: (arguments, setup(tmp) or None, extra environment, the message)
    "unknown schedule": (["train", *TINY, "-s", "cosine"], None, {}, "unknown schedule 'cosine'"),
    "unknown schedule (reproduce)": (
        ["reproduce", "--quick", "--schedules", "step,cos"],
        None,
        {},
        "unknown schedule 'cos'",
    ),
    "zero epochs": (["train", *TINY, "-e", "0"], None, {}, f"epochs {POSITIVE} 0"),
    "negative epochs": (["train", *TINY, "-e", "-3"], None, {}, f"epochs {POSITIVE} -3"),
    "epochs not a number": (["train", *TINY, "-e", "two"], None, {}, "invalid int value: 'two'"),
    "zero batch size": (
        ["train", *TINY, "--batch-size", "0"],
        None,
        {},
        f"batch-size {POSITIVE} 0",
    ),
    "zero subset": (["train", *TINY, "--subset", "0"], None, {}, f"subset {POSITIVE} 0"),
    "subset larger than the data": (
        ["train", *TINY, "--subset", "5000"],
        None,
        {},
        "subset must be between 10 (one image per class)",
    ),
    "negative seed": (["train", *TINY, "--seed", "-1"], None, {}, f"seed {NON_NEGATIVE} -1"),
    "zero seeds": (["reproduce", "--quick", "--seeds", "0"], None, {}, f"seeds {POSITIVE} 0"),
    "unknown dataset": (["train", *TINY, "--dataset", "mnist"], None, {}, "invalid choice"),
    "missing CIFAR-10": (
        ["train", "-e", "1"],
        None,
        {data.CIFAR10_ENV: "{tmp}/nowhere"},
        "no CIFAR-10 at",
    ),
    "corrupt CIFAR-10": (
        ["train", "-e", "1", "--data-dir", "{tmp}/c"],
        _corrupt_cifar,
        {},
        "test_batch is corrupt or truncated",
    ),
    "unwritable output folder": (
        ["train", *TINY, "--out", "{tmp}/blocker/out"],
        None,
        {},
        "blocker is not a folder",
    ),
    "unwritable plot folder": (
        ["train", *TINY, "-t", "{tmp}/blocker/x/t.png"],
        None,
        {},
        "blocker is not a folder",
    ),
    "unwritable report folder": (
        ["reproduce", "--quick", "--out", "{tmp}/blocker/r"],
        None,
        {},
        "blocker is not a folder",
    ),
    "corrupt results file": (
        ["train", *TINY, "-s", "linear", "--seed", "42"],
        _corrupt_results,
        {},
        "linear-seed42.json: not valid JSON",
    ),
    "missing results folder": (["report", "{tmp}/nope"], None, {}, "no results folder at"),
    "corrupt plan": (
        ["report", "{tmp}/set"],
        lambda tmp: _results_folder(tmp, "{"),
        {},
        "plan.json: unreadable plan",
    ),
    "corrupt golden file": (
        ["report", "{tmp}/set"],
        _corrupt_golden,
        {golden.GOLDEN_ENV: "{tmp}/golden"},
        "epoch_lines.csv line 7, column 'val_accuracy': 'x' is not a number",
    ),
    # Issue 12: stale results, empty list items, late failures checked before training.
    "finished run with other settings": (
        ["train", *TINY, "-s", "linear", "-e", "2"],
        _finished_one_epoch,
        {},
        "linear-seed42.json holds a finished run with other "
        "settings (epochs, schedule): add --force",
    ),
    "empty item in --schedules": (
        ["reproduce", "--quick", "--schedules", "linear,"],
        None,
        {},
        "--schedules 'linear,' has an empty item",
    ),
    "plot format unknown": (
        ["train", *TINY, "-l", "lr.xyz"],
        None,
        {},
        "lr.xyz: cannot draw a .xyz figure (use one of:",
    ),
    "plot path is a folder": (
        ["train", *TINY, "-t", "{tmp}/folder"],
        lambda tmp: (tmp / "folder").mkdir(),
        {},
        "folder: it is a folder or a special file",
    ),
    "report of a folder with no runs": (
        ["report", "{tmp}/empty"],
        lambda tmp: (tmp / "empty").mkdir(),
        {},
        "empty holds no runs to report",
    ),
    "output path not UTF-8": (
        ["train", *TINY, "--out", "{tmp}/\udcff"],
        None,
        {},
        "its name is not valid UTF-8",
    ),
    # Issue 13: Ray is an optional extra.
    "--ray without Ray installed": (
        ["reproduce", "--quick", "--ray"],
        _no_ray,
        {"PYTHONPATH": "{tmp}/no-ray", "PYTHONDONTWRITEBYTECODE": "1"},
        "--ray needs Ray, which is not installed; install the ray "
        "extra: python -m pip install -e '.[ray]'",
    ),
    "--workers without --ray": (
        ["reproduce", "--quick", "--workers", "2"],
        None,
        {},
        "--workers goes with --ray",
    ),
    # Issue 15: the finder's rates feed only the schedules that take them.
    "--max-lr for a schedule without one": (
        ["train", *TINY, "-s", "step", "--max-lr", "0.1"],
        None,
        {},
        "step takes no --max-lr: only",
    ),
    "--lr-from a file that is not a finder CSV": (
        ["train", *TINY, "-s", "one-cycle", "--lr-from", "{tmp}/blocker"],
        None,
        {},
        "blocker is not a finder CSV",
    ),
    "--lr-from with --max-lr": (
        ["train", *TINY, "-s", "one-cycle", "--lr-from", "x.csv", "--max-lr", "0.1"],
        None,
        {},
        "--lr-from or --base-lr/--max-lr, not both",
    ),
    "a finder sweep that ends below its start": (
        ["lr-find", "--dataset", "digits", "--start", "1", "--end", "0.1"],
        None,
        {},
        "the sweep needs 0 < start < end",
    ),
}


@pytest.fixture(scope="module")
def matplotlib_cache(tmp_path_factory):
    """Matplotlib's own font cache: not the suite's output, so kept out of the checked
    folder."""
    return tmp_path_factory.mktemp("mplconfig")


# These go through `python -m bench` in a fresh process: the entry point itself, and a case
# whose environment must be there before Python starts (the rest call bench.cli.main in this
# process, the same code with the same environment, in milliseconds instead of a second).
IN_A_PROCESS = {"unknown schedule", "--ray without Ray installed"}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=[pytest.mark.integration] if c in IN_A_PROCESS else []) for c in CASES],
)
def test_bad_input(case, tmp_path, matplotlib_cache, monkeypatch, capsys):
    args, setup, env, message = CASES[case]
    (tmp_path / "blocker").write_text("a file where a folder should be")
    if setup:
        setup(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))

    def fill(text):
        return text.replace("{tmp}", str(tmp_path))

    if args[0] == "train" and "--out" not in args:
        args = [*args, "--out", "out"]
    # A bare environment, but the suite's Keras backend (the cases' results files are its).
    environment = {
        "PATH": "",
        "HOME": str(tmp_path),
        "KERAS_HOME": str(tmp_path / "keras"),
        "MPLCONFIGDIR": str(matplotlib_cache),
        "KERAS_BACKEND": backend.configured(),
        **{k: fill(v) for k, v in env.items()},
    }
    if case in IN_A_PROCESS:
        proc = subprocess.run(
            [sys.executable, "-m", "bench", *map(fill, args)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=environment,
            timeout=120,
        )
        code, stderr = proc.returncode, proc.stderr
    else:
        for name in ("BENCH_CIFAR10", "BENCH_GOLDEN"):
            monkeypatch.delenv(name, raising=False)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(tmp_path)
        code, stderr = main(list(map(fill, args))), capsys.readouterr().err
    assert code == 2, stderr[-2000:]
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert message in stderr, stderr
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before  # nothing written, not even an empty folder
