"""Divergence is a result (issue 20, class 8): a run whose loss becomes NaN stops at the
first non-finite loss, says so naming the epoch, writes nothing, and drops its state, so
the same command starts over rather than "resuming" into the same NaN forever."""

import json

from bench.cli import main
from bench.core import data, experiments
from bench.report import markdown
from bench.run import local

# one-cycle at a peak rate of 1e30: the loss is NaN within the first epoch.
DIVERGING = [
    "train",
    "-s",
    "one-cycle",
    "--max-lr",
    "1e30",
    "--dataset",
    "digits",
    "--subset",
    "100",
    "--model",
    "quick",
    "-e",
    "2",
    "--verbose",
    "0",
]


def test_a_diverging_run_is_named_at_its_epoch_and_never_resumed(tmp_path, capsys):
    out = tmp_path / "out"
    for attempt in range(2):
        assert main([*DIVERGING, "--out", str(out)]) == 2
        err = capsys.readouterr()
        lines = err.err.strip().splitlines()
        assert len(lines) == 1, err.err
        # Epoch 1 ends (and is backed up) before the peak rate: the NaN comes in epoch 2.
        assert (
            "one-cycle seed 42 diverged: its training loss became nan at epoch 2, batch"
            in (lines[0])
        )
        assert "resuming" not in err.out, attempt  # the second time starts over, as the first
        assert not (out / "state").exists() and not (out / "one-cycle-seed42.json").exists()


def test_a_diverged_run_in_a_set_is_a_failed_run_the_report_names(tmp_path):
    """In a run set the others go on; the plan and the report say which diverged, where."""
    experiment = experiments.configure(
        "one-cycle", quick_setup=True, epochs=1, rates={"max_lr": 1e30}
    )
    runs = [
        experiments.Run(experiment, 0, "digits", 100),
        experiments.Run(
            experiments.configure("step", quick_setup=True, epochs=1), 0, "digits", 100
        ),
    ]
    dataset = data.subset(data.load_digits(), 100, 0)
    assert local.run_all(tmp_path, runs, dataset, quick=True, verbose=0) == 1
    entries = json.loads((tmp_path / "plan.json").read_text())["runs"]
    assert [e["status"] for e in entries] == ["failed", "ok"]
    assert "diverged: its training loss became nan at epoch 1" in entries[0]["error"]
    report = markdown.write(tmp_path).read_text()
    assert "one-cycle-seed0: failed: DivergedError: one-cycle seed 0 diverged" in report
