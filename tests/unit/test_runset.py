"""The run-set folder's lock: one writer per set, a refusal that names the holder, and no
lock outliving a killed process; and a copied results file counted once."""

import os
import signal
import subprocess
import sys

import pytest
from results_factory import folder_of, make_run

from bench.report import markdown
from bench.run import runset


@pytest.mark.integration
def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "set"
    with runset.lock(out):
        with pytest.raises(ValueError, match=rf"is in use by pid {os.getpid()} on "):
            with runset.lock(out):
                pass
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "reproduce", "--quick", "--subset", "20",
             "--out", str(out)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"bench reproduce: error: {out} is in use by pid {os.getpid()} on "
        f"{os.uname().nodename}: {' '.join(sys.argv[:3])}; wait for it or use another --out"
    ]
    assert not (out / runset.PLAN).exists()  # the refused command wrote nothing


@pytest.mark.integration
def test_a_killed_holder_does_not_block_the_next_command(tmp_path):
    out = tmp_path / "set"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from bench.run import runset\n"
         f"with runset.lock({str(out)!r}):\n print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ValueError, match=f"in use by pid {holder.pid}"):
        with runset.lock(out):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with runset.lock(out):  # the operating system dropped the dead process's lock
        pass


def test_a_results_file_copied_under_another_seed_is_not_a_second_seed(tmp_path):
    folder = folder_of(tmp_path, [make_run("linear", 0, 0.87)])
    runs = folder / runset.RUNS
    (runs / "linear-seed1.json").write_bytes((runs / "linear-seed0.json").read_bytes())
    rs = runset.load(folder)
    assert [len(group) for group in rs.runs.values()] == [1]
    (problem,) = rs.problems
    assert problem[0] == "linear-seed1" and "not what its name says (a copied file?)" in problem[1]
    assert "87.00 ± 0.00 (1)" in markdown.render(folder)
