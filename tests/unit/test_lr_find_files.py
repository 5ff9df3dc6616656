"""lr-find's files and bounds (issue 20, class 12): a finder CSV that holds no usable sweep
(only its header, no finite smoothed loss, fewer than three) is one line naming it, from
the API and from ``train --lr-from``; ``lr-find --steps`` below the minimum is refused
before anything is loaded or swept, with the bound stated in ``--help``."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.cli import build_parser, main
from bench.keras import lr_find

SMOOTHED = st.sampled_from([math.nan, math.inf, -math.inf]) | st.floats(0.1, 10)


def _write(path, smoothed):
    rows = [f"{10 ** (-6 + i / 10)},1.0,{s}" for i, s in enumerate(smoothed)]
    path.write_text("\n".join(["rate,loss,smoothed", *rows]) + "\n", encoding="utf-8")
    return path


@given(smoothed=st.lists(SMOOTHED, max_size=8))
def test_a_csv_is_usable_exactly_when_three_smoothed_losses_are_finite(tmp_path_factory, smoothed):
    path = _write(tmp_path_factory.mktemp("f") / "lr_find.csv", smoothed)
    if sum(map(math.isfinite, smoothed)) >= lr_find.MIN_STEPS:
        assert set(lr_find.cyclic_range(lr_find.read_csv(path))) == {"base_lr", "max_lr"}
        return
    with pytest.raises(ValueError, match=r"lr_find\.csv holds no usable sweep") as caught:
        lr_find.read_csv(path)
    assert "\n" not in str(caught.value) and "start lower" not in str(caught.value)


@pytest.mark.parametrize(
    "smoothed",
    [[], [math.nan] * 5, [1.0, math.nan, 2.0]],
    ids=["header only", "all NaN", "two finite"],
)
def test_train_lr_from_an_unusable_csv_is_one_line(tmp_path, capsys, smoothed):
    path = _write(tmp_path / "sweep.csv", smoothed)
    out = tmp_path / "out"
    code = main(["train", "-s", "cyclic-triangular", "--lr-from", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "sweep.csv holds no usable sweep" in err and "TypeError" not in err
    assert not out.exists()


def test_steps_below_the_minimum_are_refused_before_anything_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lr_find, "find", lambda *a, **k: pytest.fail("swept"))
    assert main(["lr-find", "--steps", str(lr_find.MIN_STEPS - 1)]) == 2
    assert f"steps must be a whole number >= {lr_find.MIN_STEPS}" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    # The CLI's bound is lr_find's, and --help says it.
    args = build_parser().parse_args(["lr-find", "--steps", str(lr_find.MIN_STEPS)])
    assert args.steps == lr_find.MIN_STEPS
    with pytest.raises(SystemExit):
        build_parser().parse_args(["lr-find", "--help"])
    assert f"at least {lr_find.MIN_STEPS}" in capsys.readouterr().out
