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

from bench.core import identity
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
            [
                sys.executable,
                "-m",
                "bench",
                "reproduce",
                "--quick",
                "--subset",
                "20",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
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
        [
            sys.executable,
            "-c",
            "import sys, time; from bench.run import runset\n"
            f"with runset.lock({str(out)!r}):\n print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
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
    rs = runset.load_one_setup(folder)
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
def test_a_copy_with_its_seed_edited_is_not_a_second_seed(
    tmp_path_factory, name, seeds, copied, to
):
    """The helper's case: ``step-seed0.json`` copied as seed 1, ``"seed": 1`` inside (name and
    content agree): "6 of 5" finished, and a seed spread of 0 in the tolerance."""
    runs = [make_run(name, seed, 0.87) for seed in range(seeds)]
    folder = folder_of(
        tmp_path_factory.mktemp("set"), runs, _plan(*runs, make_run(name, to, 0.87))
    )  # the copy is listed
    copy = json.loads((folder / "runs" / f"{name}-seed{min(copied, seeds - 1)}.json").read_text())
    copy["seed"] = to
    (folder / "runs" / f"{name}-seed{to}.json").write_text(json.dumps(copy))
    rs = runset.load_one_setup(folder)
    assert sorted(r["seed"] for r in rs.runs[name]) == list(range(seeds))
    assert dict(rs.problems)[f"{name}-seed{to}"].startswith("the same training as seed")
    assert re.search(rf"runs finished +\| {seeds} of {seeds + 1} ", markdown.render(folder))


def _plan(*runs, setup=True):
    """plan.json listing ``runs``, with the set-up this release records (or, ``setup``
    False, as an older release wrote it: its last command's runs only, no set-up)."""
    entries = [
        {
            "experiment": r["experiment"],
            "seed": r["seed"],
            "status": "ok",
            "file": f"runs/{r['experiment']}-seed{r['seed']}.json",
        }
        for r in runs
    ]
    recorded = identity.setup_of(identity.from_results(runs[0]))
    return {"runs": entries, **({"setup": recorded} if setup else {})}


def test_a_results_file_the_plan_does_not_list_is_not_a_run(tmp_path):
    runs = [make_run("step", 0, 0.87), make_run("step", 1, 0.86)]
    folder = folder_of(tmp_path, runs, _plan(runs[0]))
    rs = runset.load_one_setup(folder)
    assert [r["seed"] for r in rs.runs["step"]] == [0]
    assert dict(rs.problems)["step-seed1"].startswith("not in plan.json")
    assert re.search(r"runs finished +\| 1 of 1 ", markdown.render(folder))


def test_an_older_releases_plan_of_its_last_command_leaves_the_earlier_runs_in(tmp_path):
    """The helper's case: before plans recorded their set-up, each reproduce wrote only its
    own runs; an earlier command's genuine files are runs, not strangers."""
    runs = [make_run("none", 0, 0.84), make_run("step", 0, 0.87), make_run("linear", 0, 0.87)]
    folder = folder_of(tmp_path, runs, _plan(runs[2], setup=False))
    rs = runset.load_one_setup(folder)
    assert list(rs.runs) == ["none", "step", "linear"] and rs.problems == []
