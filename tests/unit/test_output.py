"""What a command prints on a CPU and into a file: Keras' progress as one line per epoch
where standard output is not a terminal (Keras' own advice; a bar there is a
carriage-return line per update), and not TensorFlow's needless cuInit error where no
NVIDIA driver exists (bench.core.quiet), every other line kept."""

import logging
import os
import re
import subprocess
import sys
import traceback

import pytest
from results_factory import TINY

from bench.api import dataset as datasets
from bench.cli import main
from bench.core import console, progbar, quiet
from bench.run import lifecycle, local

# TensorFlow's line on a CPU-only machine, as a CPU run printed it (TensorFlow 2.21).
CUINIT = (
    "E0000 00:00:1796290186.130431    5590 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
)


@pytest.mark.parametrize(
    ("asked", "terminal", "verbose"),
    [(None, True, 1), (None, False, 2), (1, False, 1), (0, True, 0), (2, True, 2)],
)
def test_keras_draws_a_bar_on_a_terminal_only_unless_asked(asked, terminal, verbose):
    assert progbar.verbosity(asked, terminal) == verbose


class _GivenError(Exception):
    pass


@pytest.mark.parametrize(
    ("flag", "terminal", "verbose"),
    [([], False, 2), ([], True, 1), (["--verbose", "1"], False, 1), (["--verbose", "0"], True, 0)],
)
def test_train_and_reproduce_give_keras_the_verbosity(
    flag, terminal, verbose, tmp_path, monkeypatch
):
    def asked(*args, **kwargs):
        raise _GivenError(kwargs["verbose"])

    monkeypatch.setattr(lifecycle, "train_unless_finished", asked)  # train's one run
    monkeypatch.setattr(local, "run_all", asked)  # reproduce's runs
    monkeypatch.setattr(sys.stdout, "isatty", lambda: terminal)
    for command in (
        ["train", *TINY, "--out", str(tmp_path / "train")],
        ["reproduce", "--quick", "--schedules", "step", "--out", str(tmp_path / "set")],
    ):
        with pytest.raises(_GivenError) as given:
            main([*command, *flag])
        assert given.value.args == (verbose,), command


@pytest.mark.parametrize("driver", [False, True])
def test_the_cuinit_line_alone_is_dropped_and_only_without_a_driver(driver, capfd):
    """Written below Python, as TensorFlow's C++ logging writes them; with a driver a failed
    cuInit is a real error and stays, and every other line stays in any case."""
    real = "E0000 00:00:1.0 1 op_kernel.cc:1] a real error\n"
    with quiet.dropping(lambda line: quiet.needless_cuinit(line, driver)):
        for line in ("I0000 information\n", CUINIT, real):
            os.write(2, line.encode())
    err = capfd.readouterr().err
    assert err == "I0000 information\n" + (CUINIT if driver else "") + real


def test_what_was_held_is_written_when_the_block_raises(capfd):
    with pytest.raises(RuntimeError), quiet.dropping(lambda line: False):
        os.write(2, b"before the error\n")
        raise RuntimeError
    assert capfd.readouterr().err == "before the error\n"


# A CPU run's start: TensorFlow imported through bench, its devices, whether it is a CUDA build.
START = """
import bench.keras.compat as compat
print(compat.environment()["devices"], compat.tf.sysconfig.get_build_info()["is_cuda_build"])
"""


@pytest.mark.integration
def test_tensorflow_starts_without_the_cuinit_error_where_no_driver_exists():
    if quiet.cuda_driver():
        pytest.skip("NVIDIA's driver loads here: a failed cuInit would be a real error")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # every line
    proc = subprocess.run(
        [sys.executable, "-c", START], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    if not proc.stdout.rstrip().endswith("True"):
        pytest.skip("this TensorFlow is no CUDA build: it never calls cuInit")
    assert proc.stdout.startswith("['CPU: ")
    assert quiet.CUINIT not in proc.stderr
    # TensorFlow's own word that no GPU will be used stays (information, at import).
    assert "Could not find cuda drivers on your machine, GPU will not be used" in proc.stderr


@pytest.mark.keras
@pytest.mark.integration
def test_a_cpu_run_into_a_file_prints_a_line_per_epoch_and_no_cuinit_error(tmp_path):
    """`bench train` with its output in a file, as CI's log or `> run.log` has it."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    log = tmp_path / "run.log"
    command = [sys.executable, "-m", "bench", "train", *TINY, "-e", "2", "--out", str(tmp_path)]
    with log.open("wb") as sink:
        code = subprocess.run(command, env=env, stdout=sink, stderr=subprocess.STDOUT).returncode
    said = log.read_text(encoding="utf-8")
    assert code == 0, said[-3000:]
    assert "\r" not in said and "\x1b[" not in said  # no bar redrawn, no colours
    epochs = [line for line in said.splitlines() if re.match(r"\d+/\d+ - .*val_loss", line)]
    assert len(epochs) == 2, said[-3000:]  # Keras' verbose=2: one summary line per epoch
    # bench's logged lines among Keras' and the CLI's, in the post's order, both streams
    # into the one file.
    order = [
        "[INFO] loading ",
        *epochs,
        "[INFO] evaluating network...",
        "precision    recall  f1-score   support",
        "[INFO] wrote ",
    ]
    places = [said.find(line) for line in order]
    assert -1 not in places and places == sorted(places), said[-3000:]
    if not quiet.cuda_driver():
        assert quiet.CUINIT not in said


def test_the_command_line_shows_what_bench_logs_below_it(capsys):
    """One line per record, as ``print`` wrote it: errors on stderr, the rest on stdout."""
    log = logging.getLogger("bench.run.local")
    with console.shown():
        log.info("[INFO] run 1 of 2: step, seed 0, 2 epochs")
        log.error("[ERROR] run 2 of 2: poly, seed 0 failed: %s", "ValueError: bad")
        log.debug("not shown: below INFO")
    assert capsys.readouterr() == (
        "[INFO] run 1 of 2: step, seed 0, 2 epochs\n",
        "[ERROR] run 2 of 2: poly, seed 0 failed: ValueError: bad\n",
    )
    log.error("after the command: not shown")
    assert capsys.readouterr() == ("", "")


def test_a_bugs_traceback_follows_its_line_as_print_exc_wrote_it(capsys):
    try:
        {}["missing"]
    except KeyError:
        with console.shown():
            logging.getLogger("bench.run.local").error("[ERROR] failed", exc_info=True)
        printed = "[ERROR] failed\n" + traceback.format_exc()
    assert capsys.readouterr().err == printed


def test_the_python_api_says_nothing_unless_logging_is_configured(capsys, caplog):
    """A library's convention: quiet by default; ``logging.basicConfig`` shows the lines."""
    with caplog.at_level(logging.INFO):
        datasets.load("digits", subset=20)
    assert capsys.readouterr() == ("", "")
    assert [r.getMessage() for r in caplog.records] == ["[INFO] loading digits data..."]


# Without pytest's handlers: a library's error is not Python's last-resort line on stderr.
QUIET = """
import logging
import bench
logging.getLogger("bench.run.local").error("[ERROR] run 1 of 1 failed")
"""


def test_bench_alone_prints_not_even_an_error():
    proc = subprocess.run([sys.executable, "-c", QUIET], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


# The CLI's prints and bench's records, both streams into one pipe, as `2>&1 | tee` has them.
ORDER = """
import logging, sys
from bench.core import console
log = logging.getLogger("bench.api.runs")
with console.shown():
    print("[INFO] the command's own line")
    log.info("[INFO] run 1 of 2")
    log.error("[ERROR] run 1 of 2 failed")
    log.info("[INFO] run 2 of 2")
    print("bench reproduce: 1 run(s) failed", file=sys.stderr)
"""


def test_the_order_holds_when_both_streams_go_to_one_pipe():
    proc = subprocess.run(
        [sys.executable, "-c", ORDER], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout.splitlines() == [
        "[INFO] the command's own line",
        "[INFO] run 1 of 2",
        "[ERROR] run 1 of 2 failed",
        "[INFO] run 2 of 2",
        "bench reproduce: 1 run(s) failed",
    ]
