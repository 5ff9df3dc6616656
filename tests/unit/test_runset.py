"""The run-set folder's lock: one writer per set, a refusal that names the holder, and no
lock outliving a killed process; and a copied results file counted once, whether renamed,
edited to another seed, or not in the plan at all."""

import json
import os
import re
import signal
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from results_factory import folder_of, make_run
from tiers import examples

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


@settings(max_examples=examples(40))
@given(
    name=st.sampled_from(["step", "linear", "poly"]),
    seeds=st.integers(1, 3),
    copied=st.integers(0, 2),
    to=st.integers(3, 9),
)
def test_a_copy_with_its_seed_edited_is_not_a_second_seed(tmp_path_factory, name, seeds,
                                                          copied, to):  # fmt: skip
    """The helper's case: ``step-seed0.json`` copied as seed 1, ``"seed": 1`` inside (name and
    content agree): "6 of 5" finished, and a seed spread of 0 in the tolerance."""
    runs = [make_run(name, seed, 0.87) for seed in range(seeds)]
    entries = [{"experiment": name, "seed": s, "status": "ok",
                "file": f"runs/{name}-seed{s}.json"} for s in (*range(seeds), to)]  # fmt: skip
    plan = {"runs": entries}
    folder = folder_of(tmp_path_factory.mktemp("set"), runs, plan)
    copy = json.loads((folder / "runs" / f"{name}-seed{min(copied, seeds - 1)}.json").read_text())
    copy["seed"] = to
    (folder / "runs" / f"{name}-seed{to}.json").write_text(json.dumps(copy))
    rs = runset.load(folder)
    assert sorted(r["seed"] for r in rs.runs[name]) == list(range(seeds))
    assert dict(rs.problems)[f"{name}-seed{to}"].startswith("the same training as seed")
    assert re.search(rf"runs finished +\| {seeds} of {seeds + 1} ", markdown.render(folder))


def test_a_results_file_the_plan_does_not_list_is_not_a_run(tmp_path):
    plan = {"runs": [{"experiment": "step", "seed": 0, "status": "ok",
                      "file": "runs/step-seed0.json"}]}  # fmt: skip
    folder = folder_of(tmp_path, [make_run("step", 0, 0.87), make_run("step", 1, 0.86)], plan)
    rs = runset.load(folder)
    assert [r["seed"] for r in rs.runs["step"]] == [0]
    assert dict(rs.problems)["step-seed1"].startswith("not in plan.json")
    assert re.search(r"runs finished +\| 1 of 1 ", markdown.render(folder))
