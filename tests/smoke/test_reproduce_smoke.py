"""``bench reproduce`` of the schedules beyond the post, end to end on the CPU at a tiny scale.
The post's five run verbatim as the README's main job (tests/readme/test_main_job.py)."""

import golden_rates
import pytest
from report_checks import accuracy_rows, check_report

from bench.cli import main
from bench.core import experiments, results

pytestmark = pytest.mark.smoke


def test_the_schedules_beyond_the_post_train_and_are_reported(tmp_path, capsys):
    """Each extra experiment, 2 epochs of 3 updates (40 images, batch 16): the rate each
    epoch's last update used is the schedule's; plateau's follows Keras' callback."""
    code = main(
        [
            "reproduce",
            "--quick",
            "--schedules",
            "extra",
            "--epochs",
            "2",
            "--subset",
            "40",
            "--batch-size",
            "16",
            "--verbose",
            "0",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    names = list(experiments.EXTRA)
    for k, name in enumerate(names, 1):
        assert f"[INFO] run {k} of {len(names)}: {name}, seed 0, 2 epochs" in out
    text = check_report(tmp_path, names, seeds=1, epochs=2)
    rows = accuracy_rows(text)
    assert all(rows[name][-1] == "not in the post" for name in names)
    assert not set(rows) & set(experiments.EXPERIMENTS)  # not asked for: no "missing" row
    for name in names:
        run = results.read(tmp_path / "runs" / results.file_name(name, 0))
        assert run["dataset"]["steps_per_epoch"] == 3
        experiment = experiments.scaled(experiments.get(name), 2)
        if experiment.plateau is None:
            # golden/derive_schedules.py's rate of each epoch's last update, in float32.
            assert run["history"]["lr"] == golden_rates.last_update_rates(name, 2, 3), name
            assert run["config"]["per_iteration"] == experiment.per_iteration
        else:
            assert run["history"]["lr"][0] == pytest.approx(experiments.INIT_LR)
            assert run["config"]["plateau"]["patience"] == 1
