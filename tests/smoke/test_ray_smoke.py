"""``bench reproduce --ray``: a local Ray bound to 127.0.0.1, two runs at once on the CPU.

Each reproduction is a fresh driver process, as a user's is; the driver must never import
TensorFlow (checked at its end). Skips where Ray is not installed (``pip install
'lr-schedules-repro[ray]'``; ``nox -s smoke`` installs it).
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from report_checks import table_rows

from bench.core import state
from bench.run import runset

pytest.importorskip("ray", reason="Ray is not installed: pip install 'lr-schedules-repro[ray]'")
pytestmark = pytest.mark.smoke

ARGS = [
    "reproduce",
    "--quick",
    "--schedules",
    "none,step",
    "--epochs",
    "2",
    "--subset",
    "40",
    "--deterministic",
    "--verbose",
    "2",
]
# The CLI, then a check that the driver never imported TensorFlow.
DRIVER = (
    "import sys; from bench.cli import main; code = main(sys.argv[1:]); "
    "assert 'tensorflow' not in sys.modules, 'the driver imported TensorFlow'; "
    "sys.exit(code)"
)


def _driver(*args, ray=True):
    """The CLI in a fresh process; a Ray driver is also checked for TensorFlow."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    command = ["-c", DRIVER] if ray else ["-m", "bench"]
    return subprocess.Popen(
        [sys.executable, *command, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _run(*args, ray=True):
    proc = _driver(*args, ray=ray)
    out = proc.communicate(timeout=900)[0]
    assert proc.returncode == 0, out[-3000:]
    return out


def _sealed(state_dir):
    """Epochs the run's backup holds (0 before its first seal, or while it is replaced)."""
    try:
        return json.loads((state_dir / state.SEAL).read_text())["epochs"]
    except (OSError, ValueError, KeyError):
        return 0


def _histories(folder):
    return {p.stem: json.loads(p.read_text())["history"] for p in (folder / "runs").glob("*.json")}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    folder = tmp_path_factory.mktemp("in-process")
    _run(*ARGS, "--out", str(folder), ray=False)
    return folder


@pytest.mark.parametrize("workers", [2, 1])
def test_ray_writes_the_in_process_results_and_report(in_process, tmp_path, workers):
    out = _run(*ARGS, "--ray", "--workers", str(workers), "--out", str(tmp_path))
    share = 2 // workers
    assert f"[INFO] Ray: local instance on 127.0.0.1: {workers} runs at once, {share} cores" in out
    assert re.search(r"\(none-seed0 pid=\d+\)", out) and re.search(r"\(step-seed0 pid=\d+\)", out)
    assert re.search(r"\[INFO\] run \d of 2: \w+, seed 0 finished in \d+ s \(1 of 2 ended", out)
    ours, theirs = _histories(tmp_path), _histories(in_process)
    assert sorted(ours) == ["none-seed0", "step-seed0"]
    for stem in ours:
        assert ours[stem]["lr"] == theirs[stem]["lr"], stem  # rates: identical
        for key in ("loss", "val_loss"):
            if workers == 1:  # the same 2 cores per run as in-process: bit for bit
                assert ours[stem][key] == theirs[stem][key], (stem, key)
            else:  # 1 core per run: float32 sums in another order
                assert ours[stem][key] == pytest.approx(theirs[stem][key], rel=1e-5)
    reports = [(folder / "REPORT.md").read_text() for folder in (tmp_path, in_process)]
    lr = [table_rows(text, "Learning rate") for text in reports]
    assert lr[0] == lr[1]
    if workers == 1:  # the whole accuracy table too, val_loss included
        accuracy = [table_rows(text, "Accuracy") for text in reports]
        assert accuracy[0] == accuracy[1]
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [r["status"] for r in plan["runs"]] == ["ok", "ok"]


def test_a_killed_worker_is_retried_and_resumes_at_the_next_epoch(tmp_path):
    args = [
        "reproduce",
        "--quick",
        "--schedules",
        "linear",
        "--epochs",
        "4",
        "--subset",
        "40",
        "--verbose",
        "2",
        "--ray",
        "--out",
        str(tmp_path),
    ]
    proc = _driver(*args)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout))
    reader.start()
    state_dir = tmp_path / "state" / "linear-seed0"
    deadline = time.monotonic() + 600
    pid = None
    while time.monotonic() < deadline and proc.poll() is None:
        sealed = _sealed(state_dir)
        found = re.search(r"\(linear-seed0 pid=(\d+)\)", "".join(lines))
        if sealed >= 2 and found:
            pid = int(found.group(1))
            break
        time.sleep(0.05)
    assert pid is not None, "".join(lines)[-3000:]
    os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=900)
    reader.join()
    out = "".join(lines)
    assert proc.returncode == 0, out[-3000:]
    after = out[out.index(f"pid={pid}") :]
    assert re.search(r"resuming the interrupted run kept in .* after epoch [234]", after), after
    history = json.loads((tmp_path / "runs" / "linear-seed0.json").read_text())["history"]
    assert history["epoch"] == [1, 2, 3, 4]
    assert not (tmp_path / "state").exists()


def test_ray_on_a_folder_another_command_holds_refuses_at_once(tmp_path):
    with runset.lock(tmp_path):
        started = time.monotonic()
        command = [sys.executable, "-m", "bench", *ARGS, "--ray", "--out", str(tmp_path)]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and time.monotonic() - started < 60
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(f"bench reproduce: error: {tmp_path} is in use by pid {os.getpid()}")
    )
    assert not (tmp_path / "plan.json").exists()


def test_ctrl_c_cancels_the_tasks_and_the_same_command_resumes(tmp_path):
    args = [
        "reproduce",
        "--quick",
        "--schedules",
        "none,step",
        "--epochs",
        "4",
        "--subset",
        "40",
        "--verbose",
        "2",
        "--ray",
        "--workers",
        "2",
        "--out",
        str(tmp_path),
    ]
    proc = _driver(*args)
    deadline = time.monotonic() + 600
    while not _sealed(tmp_path / "state" / "none-seed0") and time.monotonic() < deadline:
        assert proc.poll() is None
        time.sleep(0.05)
    assert _sealed(tmp_path / "state" / "none-seed0")
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, out[-3000:]
    assert "bench reproduce: interrupted; run the same command again to resume" in out
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert "interrupted" in [r["status"] for r in plan["runs"]]
    resumed = _run(*args)
    assert "resuming the interrupted run" in resumed
    assert [r["status"] for r in json.loads((tmp_path / "plan.json").read_text())["runs"]] == [
        "ok",
        "ok",
    ]
