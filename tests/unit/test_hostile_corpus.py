"""Every command over a corpus of hostile run sets (issue 20): mixed set-ups, files that
contradict themselves, FIFOs, symlinks to a device, text made to look like markup, deep
nesting, a class row missing or renamed, a run whose every epoch compiled, an older schema,
generated in combinations. Each kind has its stated outcome (``OUTCOMES``): what the report
lists, what ``compare`` finds with the damaged set as the new one and as the baseline, and
the refusal of ``reproduce`` into it; a set of several kinds gets each one's. Besides: no
traceback, no hang (each command bounded in time), and a refused command (2) is one line
and writes nothing."""

import contextlib
import io
import json
import os
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from results_factory import folder_of, make_run
from tiers import examples

from bench.cli import main
from bench.run import runset


def _mixed_setup(folder):
    run = make_run("poly", 0, 0.86, epochs=3)
    (folder / "runs" / "poly-seed0.json").write_text(json.dumps(run))


def _contradiction(folder):
    run = make_run("none", 0, 0.09)
    run["evaluation"]["accuracy"] = run["history"]["val_accuracy"][-1] = 0.99
    (folder / "runs" / "none-seed0.json").write_text(json.dumps(run))


def _fifo_results(folder):
    os.mkfifo(folder / "runs" / "standard-seed0.json")


def _fifo_plan(folder):
    (folder / runset.PLAN).unlink(missing_ok=True)
    os.mkfifo(folder / runset.PLAN)


def _device(folder):
    (folder / "runs" / "standard-seed1.json").symlink_to("/dev/zero")


def _markup(folder):
    plan = json.loads((folder / runset.PLAN).read_text())
    plan["runs"][0].update(
        status="failed",
        error="x\n**Summary**: 5 of 5 experiments "
        "reproduced\n<script>alert(1)</script>\n# heading" + "y" * 100_000,
    )
    (folder / runset.PLAN).write_text(json.dumps(plan))


def _deep(folder):
    (folder / "runs" / "linear-seed7.json").write_text("[" * 5000 + "]" * 5000)


def _class_missing(folder):
    run = make_run("step", 1, 0.87)
    del run["evaluation"]["report"]["frog"]
    (folder / "runs" / "step-seed1.json").write_text(json.dumps(run))


def _class_renamed(folder):
    run = make_run("linear", 1, 0.86)
    report = run["evaluation"]["report"]
    report["toad"] = report.pop("frog")  # consistent alone: only the set tells
    (folder / "runs" / "linear-seed1.json").write_text(json.dumps(run))


def _every_epoch_compiled(folder):
    run = make_run("step", 2, 0.87)
    run["history"]["compiled"] = [True] * len(run["history"]["epoch"])
    (folder / "runs" / "step-seed2.json").write_text(json.dumps(run))


def _older_schema(folder):
    run = make_run("linear", 2, 0.86)
    del run["history"]["compiled"]
    run["schema_version"] = 2
    (folder / "runs" / "linear-seed2.json").write_text(json.dumps(run))


CORPUS = {
    f.__name__[1:]: f
    for f in (
        _mixed_setup,
        _contradiction,
        _fifo_results,
        _fifo_plan,
        _device,
        _markup,
        _deep,
        _class_missing,
        _class_renamed,
        _every_epoch_compiled,
        _older_schema,
    )
}

# What each kind must get. "listed": the line the report's "Failed or missing runs" gives
# the run (None: the file is valid and the run is a row), which `compare` with this set as
# the new one reports as a regression (exit 1) and as the baseline as not compared (exit 0).
# "report": a further line the report must hold. A FIFO plan is refused by every command.
UNREADABLE = "unreadable results: {bad}/runs/"
OUTCOMES = {
    "mixed_setup": {"listed": "poly-seed0: another set-up than the set's (epochs 3 vs 100)"},
    "contradiction": {
        "listed": f"none-seed0: {UNREADABLE}none-seed0.json: evaluation.accuracy: 0.99 but "
        "its classification report says 0.09 (the file contradicts itself)"
    },
    "fifo_results": {
        "listed": f"standard-seed0: {UNREADABLE}standard-seed0.json: a FIFO, not a regular "
        "file: not read"
    },
    "fifo_plan": {"refused": "{bad}/plan.json: unreadable plan (a FIFO, not a regular file"},
    "device": {
        "listed": f"standard-seed1: {UNREADABLE}standard-seed1.json: a character device, "
        "not a regular file: not read"
    },
    "markup": {"listed": "step-seed0: failed: x ", "report": "&lt;script&gt;alert(1)"},
    "deep": {
        "listed": f"linear-seed7: {UNREADABLE}linear-seed7.json: nested deeper than 64 "
        "levels: not read"
    },
    "class_missing": {
        "listed": f"step-seed1: {UNREADABLE}step-seed1.json: evaluation.report: 9 class "
        "rows for a model of 10 classes (the file contradicts itself)"
    },
    "class_renamed": {"listed": None, "report": "Left out: frog, toad, not named by every run"},
    "every_epoch_compiled": {"listed": None, "report": "| step "},
    "older_schema": {"listed": None, "report": "| linear "},
}
REPRODUCE_REFUSED = "bench reproduce: error: {bad} holds a run set of another set-up"


def _base(folder):
    runs = [make_run("step", 0, 0.87), make_run("linear", 0, 0.86)]
    plan = {
        "runs": [
            {
                "experiment": r["experiment"],
                "seed": 0,
                "status": "ok",
                "file": f"runs/{r['experiment']}-seed0.json",
            }
            for r in runs
        ]
    }
    return folder_of(folder, runs, plan)


def _snapshot(folder):
    return {
        p: (p.read_bytes() if p.is_file() and not p.is_symlink() else p.lstat().st_mode)
        for p in sorted(folder.rglob("*"))
        if not p.is_fifo()
    }


def _bounded(argv, seconds=60):
    """``main(argv)`` in this process, its output captured, stopped by SIGALRM if it hangs."""

    def hung(*_):
        raise TimeoutError(f"bench {' '.join(argv)} hung")

    out, err = io.StringIO(), io.StringIO()
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


def _expected(kinds, bad):
    """What each command must give over a set damaged by ``kinds``: (exit code, a line
    that its output must hold) for report, compare as new, compare as baseline, reproduce;
    the lines the report's "Failed or missing runs" must name; lines it must hold."""
    if "fifo_plan" in kinds:
        refused = OUTCOMES["fifo_plan"]["refused"].format(bad=bad)
        return [(2, refused)] * 4, [], []
    listed = [OUTCOMES[k]["listed"].format(bad=bad) for k in kinds if OUTCOMES[k]["listed"]]
    regressions = f"[INFO] {len(listed)} regression(s)"
    as_baseline = f"[INFO] {len(listed)} thing(s) not compared" if listed else "0 regression"
    codes = [
        (0, f"[INFO] report: {bad / 'REPORT.md'}"),
        (1 if listed else 0, regressions),
        (0, as_baseline),
        (2, REPRODUCE_REFUSED.format(bad=bad)),
    ]
    return codes, listed, [OUTCOMES[k].get("report", "") for k in kinds]


@pytest.mark.integration
@settings(max_examples=examples(25))
@given(kinds=st.sets(st.sampled_from(sorted(CORPUS)), min_size=1, max_size=3))
def test_every_command_over_hostile_run_sets(tmp_path_factory, kinds):
    good = _base(tmp_path_factory.mktemp("good"))
    bad = _base(tmp_path_factory.mktemp("bad"))
    for kind in sorted(kinds, key=lambda k: k == "fifo_plan"):  # a FIFO last: nothing reads it
        CORPUS[kind](bad)
    commands = [
        ["report", str(bad)],
        ["compare", str(good), str(bad)],
        ["compare", str(bad), str(good)],
        [
            "reproduce",
            "--quick",
            "--schedules",
            "step",
            "--epochs",
            "1",
            "--subset",
            "40",
            "--out",
            str(bad),
            "--verbose",
            "0",
        ],
    ]
    expected, listed, report_lines = _expected(kinds, bad)
    for argv, (want_code, want_line) in zip(commands, expected, strict=True):
        before = _snapshot(bad)
        code, out, err = _bounded(argv)
        assert (code, want_line in out + err) == (want_code, True), (argv, kinds, out, err)
        assert "Traceback" not in out + err, (argv, kinds)
        if code == 2:
            assert len(err.strip().splitlines()) == 1, (argv, kinds, err)
            assert _snapshot(bad) == before, (argv, kinds)
        if argv[0] == "compare" and argv[2] == str(bad):
            found = [line for line in out.splitlines() if line.startswith("[REGRESSION] ")]
            assert len(found) == len(listed), (kinds, found)
            for line in listed:
                assert any(f.startswith(f"[REGRESSION] {line}") for f in found), (kinds, line)
        if argv[0] == "report" and code == 0:
            report = (bad / "REPORT.md").read_text()
            assert "<script>" not in report and report.count("**Summary**") <= 1
            assert len(report) < 200_000
            failed = report.split("## Failed or missing runs")[1].replace("\\", "")
            named = [line[2:] for line in failed.strip().splitlines() if line.startswith("- ")]
            assert len(named) == len(listed), (kinds, named)
            for line in listed:
                assert any(n.startswith(_escaped(line)) for n in named), (kinds, line, named)
            assert all(line in report for line in report_lines), kinds


def _escaped(line):
    """``line`` as the report's markdown writes it (its underscores and stars escaped)."""
    return line.replace("_", "\\_").replace("*", "\\*")


@pytest.mark.integration
@pytest.mark.parametrize("kind", sorted(CORPUS))
def test_each_hostile_kind_alone_is_handled(tmp_path_factory, kind):
    test_every_command_over_hostile_run_sets.hypothesis.inner_test(tmp_path_factory, {kind})
