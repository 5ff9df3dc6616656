"""``python -m bench schedules``: the table, the plots, and one-line errors with exit 2."""

import subprocess
import sys

import numpy as np
import pytest

from bench.cli import main
from bench.core.progbar import progbar
from bench.report import golden


def test_prints_the_posts_lr_column(capsys):
    assert main(["schedules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[1].split()
    assert header == ["epoch", "none", "standard", "step", "linear", "poly"]
    table = {
        int(line.split()[0]): dict(zip(header[1:], line.split()[1:], strict=True))
        for line in lines[3:]
    }
    assert sorted(table) == list(range(1, 101))
    for row in golden.epoch_lines():
        if row["lr"] is not None:
            assert table[row["epoch"]][row["experiment"]] == row["lr"]
    # An epoch's rate is its last batch's: "standard" decays per batch, 0.1 / (1 + 0.001 t)
    # at update t, so epoch 2's last (t = 781) is 0.0561 (its first, t = 391: 0.0719).
    assert table[2]["standard"] == "0.0561"
    last = golden.schedule_tables()["standard_last_batch"]
    assert [table[e]["standard"] for e in table] == [progbar(float(np.float32(r))) for r in last]


def test_prints_and_plots_a_schedule_beyond_the_post(tmp_path, capsys):
    assert main(["schedules", "-s", "one-cycle", "-e", "10", "--plot-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["epoch", "one-cycle"]
    # 10 x 391 updates, peak at update 1,172: 0.1 - 0.048 * (1 + cos(pi * t / 1172)) at
    # update t; each epoch's last, t = 390 and 781: 0.02793 and 0.07596.
    assert [line.split()[1] for line in lines[3:5]] == ["0.0279", "0.0760"]
    assert [p.name for p in tmp_path.iterdir()] == ["lr_one_cycle_schedule.png"]


def test_plateau_prints_its_starting_rate_and_rule(capsys):
    # Its rate follows val_loss, so no table; what is known before a run is printed: the
    # README's ReduceLROnPlateau(val_loss, factor 0.25, patience 5, min_lr 1e-5) from 0.1.
    assert main(["schedules", "-s", "plateau"]) == 0
    assert capsys.readouterr().out == (
        "plateau: starts at 0.1, times 0.25 whenever val_loss has not improved for 5 epochs, "
        "never below 1e-05 (Keras' ReduceLROnPlateau): it follows the run's val_loss, so it "
        "has no table\n"
    )
    assert main(["schedules", "-s", "step", "-s", "plateau", "-e", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["epoch", "step"] and len(lines) == 7
    assert lines[-1].startswith("plateau: starts at 0.1, times 0.25 whenever val_loss")


def test_writes_the_posts_lr_plots(tmp_path, capsys):
    assert main(["schedules", "-e", "10", "--plot-dir", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["lr_linear_schedule.png", "lr_poly_schedule.png", "lr_step_schedule.png"]
    assert f"[INFO] wrote {tmp_path / 'lr_step_schedule.png'}" in capsys.readouterr().out


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["schedules", "-s", "cosine"], "unknown schedule 'cosine'"),
        (["schedules", "-e", "0"], "epochs must be a whole number > 0, got 0"),
        (["schedules", "-e", "ten"], "invalid int value: 'ten'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bench", *args, "--plot-dir", str(tmp_path)]
        if args[0] == "schedules"
        else [sys.executable, "-m", "bench", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_unwritable_plot_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["schedules", "-e", "3", "--plot-dir", str(blocker / "out")])
    stderr = capsys.readouterr().err
    assert code == 2
    assert len(stderr.splitlines()) == 1 and "bench schedules: error:" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
