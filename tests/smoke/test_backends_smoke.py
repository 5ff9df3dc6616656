"""``bench reproduce --backends tensorflow,jax``: one command, each backend in its own
process, then BACKENDS.md. The learning-rate rows of the two reports must be equal, and the
JAX runs must record that TensorFlow was not theirs. Skips where JAX is not installed
(``pip install 'lr-schedules-repro[jax]'``; ``nox -s smoke`` installs it)."""

import json
import subprocess
import sys

import pytest
from report_checks import table_rows

pytest.importorskip("jax", reason="JAX is not installed: pip install 'lr-schedules-repro[jax]'")
pytestmark = pytest.mark.smoke


def test_one_command_runs_both_backends_and_their_rates_agree(tmp_path):
    args = [
        "reproduce",
        "--quick",
        "--schedules",
        "none,step",
        "--epochs",
        "2",
        "--subset",
        "40",
        "--verbose",
        "0",
        "--backends",
        "tensorflow,jax",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"[INFO] backend 1 of 2: tensorflow -> {tmp_path / 'tensorflow'}" in proc.stdout
    assert f"[INFO] backend 2 of 2: jax -> {tmp_path / 'jax'}" in proc.stdout
    assert proc.stdout.rstrip().endswith(f"[INFO] backends compared: {tmp_path / 'BACKENDS.md'}")
    reports = [(tmp_path / b / "REPORT.md").read_text() for b in ("tensorflow", "jax")]
    rates = [table_rows(text, "Learning rate") for text in reports]
    assert rates[0] and rates[0] == rates[1]
    jax_run = json.loads((tmp_path / "jax" / "runs" / "step-seed0.json").read_text())
    assert jax_run["environment"]["backend"] == "jax"
    assert jax_run["environment"]["tensorflow"] is None and jax_run["environment"]["jax"]
    text = (tmp_path / "BACKENDS.md").read_text()
    assert text.startswith("# The same runs on Keras backends: tensorflow, jax")
    rows = {row[0]: row for row in table_rows("## x\n" + text.split("\n## ", 1)[1], "x")}
    assert set(rows) == {"none", "step"}
    assert all(row[6] == "equal" for row in rows.values()), rows  # the lr history column
