"""Plots a command writes where its user names them (``train -l/-t``, ``schedules
--plot-dir``, ``lr-find``'s): the post's default names are kept, so a plot may replace one
another command wrote; the command says so, one line per plot. A finished run asked again
draws the plots asked for from its results file, training nothing."""

import pytest
from results_factory import TINY, finished_tiny

from bench.cli import main
from bench.run import lifecycle

REPLACED = "(it replaced a different file there)"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def no_training(monkeypatch):
    """Fails a test that would train: every run it asks for is finished."""

    def train(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(lifecycle, "train_unless_finished", train)


def _lines(out: str, word: str) -> list[str]:
    return [line for line in out.splitlines() if word in line]


def test_a_schedule_plot_over_another_commands_file_says_it_replaced_it(tmp_path, capsys):
    plot = tmp_path / "lr_step_schedule.png"
    plot.write_bytes(b"the plot of another command")  # e.g. train --lr-plot lr_step_schedule.png
    assert (
        main(["schedules", "-s", "step", "-s", "linear", "-e", "5", "--plot-dir", str(tmp_path)])
        == 0
    )
    out = capsys.readouterr().out
    assert _lines(out, "replaced") == [f"[INFO] wrote {plot} {REPLACED}"]
    assert f"[INFO] wrote {tmp_path / 'lr_linear_schedule.png'}\n" in out  # a new file: no note
    assert plot.read_bytes().startswith(PNG)


def test_drawing_the_same_plot_again_replaces_nothing(tmp_path, capsys):
    command = ["schedules", "-s", "step", "-e", "5", "--plot-dir", str(tmp_path)]
    assert main(command) == 0
    first = (tmp_path / "lr_step_schedule.png").read_bytes()
    capsys.readouterr()
    assert main(command) == 0
    assert _lines(capsys.readouterr().out, "replaced") == []
    assert (tmp_path / "lr_step_schedule.png").read_bytes() == first


def test_a_second_schedule_in_the_default_names_says_it_replaced_the_first(
    tmp_path, capsys, no_training
):
    """The post's lr.png and training.png, kept as defaults: the second run's plots replace
    the first's, and the command names each one it replaced."""
    finished_tiny(tmp_path, "linear", epochs=3, accuracy=0.5)
    finished_tiny(tmp_path, "step", epochs=3, accuracy=0.7)
    assert main(["train", *TINY, "-e", "3", "-s", "linear", "--out", str(tmp_path)]) == 0
    assert _lines(capsys.readouterr().out, "replaced") == []
    assert main(["train", *TINY, "-e", "3", "-s", "step", "--out", str(tmp_path)]) == 0
    assert sorted(_lines(capsys.readouterr().out, "replaced")) == [
        f"[INFO] wrote {tmp_path / 'lr.png'} {REPLACED}",
        f"[INFO] wrote {tmp_path / 'training.png'} {REPLACED}",
    ]


def test_a_finished_run_asked_for_new_plots_draws_them_from_its_results(
    tmp_path, capsys, no_training
):
    results = finished_tiny(tmp_path, "linear", epochs=3)
    before = results.read_bytes(), results.stat().st_mtime_ns
    command = ["train", *TINY, "-e", "3", "-s", "linear", "--out", str(tmp_path)]
    assert main([*command, "-l", "lr_linear.png", "-t", "train_linear.png"]) == 0
    out = capsys.readouterr().out
    assert (
        f"[INFO] {results} is finished already; --force trains it again. Its plots are "
        "drawn from its results." in out
    )
    for name in ("lr_linear.png", "train_linear.png"):
        assert f"[INFO] wrote {tmp_path / name}\n" in out
        assert (tmp_path / name).read_bytes().startswith(PNG)
    # Nothing trained, the results file not rewritten.
    assert (results.read_bytes(), results.stat().st_mtime_ns) == before
    assert not (tmp_path / "state").exists()
