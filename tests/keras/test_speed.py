"""``bench speed``: the post's ResNet's training speed on random CIFAR-shaped images, with
the post's own figures beside it (the GPU box's figures come from this command)."""

import json

import pytest

from bench.cli import main
from bench.keras import compat

# Builds or trains Keras models: the second tier (nox -s unit), not a bare pytest.
pytestmark = pytest.mark.keras


def test_speed_times_the_second_epoch_and_states_the_posts_figures(tmp_path, capsys):
    out = tmp_path / "speed.json"
    assert main(["speed", "--steps", "2", "--batch-size", "8", "--model", "quick",
                 "--out", str(out)]) == 0  # fmt: skip
    result = json.loads(out.read_text())
    assert result["environment"]["backend"] == compat.BACKEND and result["steps"] == 2
    assert result["batch_size"] == 8 and result["model"] == "quick"
    assert result["ms_per_step"] > 0
    assert result["images_per_second"] == pytest.approx(8000 / result["ms_per_step"])
    # The post's medians of its epoch lines after the first: 86 ms/step at batch 128.
    assert result["post_ms_per_step"] == 86
    assert result["post_images_per_second"] == pytest.approx(1488.37, abs=0.01)
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"[INFO] wrote {out}"
    assert "ms/step" in lines[-2] and "the post: 86 ms/step, 1,488 images/s" in lines[-2]


def test_speed_refuses_a_non_positive_step_count(tmp_path, capsys):
    assert main(["speed", "--steps", "0", "--out", str(tmp_path / "s.json")]) == 2
    assert "steps" in capsys.readouterr().err and not (tmp_path / "s.json").exists()
