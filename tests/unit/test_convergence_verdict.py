"""The upgrade check's convergence verdict (bench.report.upgrade.welch), calibrated on seeds
recorded on this machine (tests/data/convergence-seeds.json, `nox -s calibrate_convergence`):
two sides drawn from the same seeds must alarm at most 5 % of the time, a known loss of
accuracy (a share of the training labels made random) must be caught in at least 80 % of
draws, and the difference the check states it can detect must be 2 accuracy points or less.

Six seeds a side, as the check trains (one per round, 6 rounds a side). Each side's seeds
are drawn without replacement and apart from the other side's: seeds trained by two
releases whose numbers differ at all are independent draws (the float noise grows chaotic
within a few updates, docs/fingerprint.md); the same release repeats a seed exactly.
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
from pathlib import Path

import numpy as np
import pytest

from bench.api import upgrade as api
from bench.cli import main
from bench.core import data
from bench.report import upgrade
from bench.report.verdict import ALPHA

RECORDED = Path(__file__).resolve().parents[1] / "data" / "convergence-seeds.json"
SEEDS = 6  # a side's seeds in the check: one per round
DRAWS = 500


def _recorded() -> dict:
    return json.loads(RECORDED.read_text(encoding="utf-8"))


def _accuracies(noisy: bool) -> list[float]:
    return [s["accuracy"] for s in _recorded()["seeds"] if bool(s["setup"]["label_noise"]) == noisy]


def test_the_recorded_seeds_are_the_checks_set_up():
    recorded = _recorded()
    assert recorded["setup"] == api.CONVERGENCE
    assert len(_accuracies(False)) >= 2 * SEEDS and len(_accuracies(True)) >= SEEDS


def test_same_environment_seeds_alarm_at_most_5_percent():
    """Every split of the plain seeds into two disjoint sides of six, each split once (the
    other way round, the same test alarms where this one does not, and the reverse)."""
    plain = _accuracies(False)[: 2 * SEEDS]
    splits = [c for c in itertools.combinations(range(len(plain)), SEEDS) if 0 in c]
    alarms = 0
    for chosen in splits:
        old = [plain[k] for k in chosen]
        new = [plain[k] for k in range(len(plain)) if k not in chosen]
        alarms += upgrade.welch(old, new).p_value < ALPHA  # one of the two ways
    assert alarms / (2 * len(splits)) <= 0.05, alarms / (2 * len(splits))


def test_the_detectable_difference_is_2_points_or_less():
    """The difference the report states it detects with 80 % power, over draws of plain
    seeds: its median is at most 2 accuracy points."""
    plain, draw = _accuracies(False), random.Random(4)
    detectable = []
    for _ in range(DRAWS // 5):
        picked = draw.sample(plain, 2 * SEEDS)
        detectable.append(upgrade.welch(picked[:SEEDS], picked[SEEDS:]).detectable)
    assert statistics.median(detectable) <= 0.02, statistics.median(detectable)


def test_a_known_loss_of_accuracy_is_caught():
    """Plain seeds against seeds trained with a share of random labels: the loss is real
    (about 2 points, measured from the recorded seeds), and the verdict must call it a
    regression in at least 80 % of draws."""
    plain, noisy = _accuracies(False), _accuracies(True)
    loss = statistics.mean(plain) - statistics.mean(noisy)
    assert 0.01 <= loss <= 0.04, loss  # a change of about the size the check must see
    draw = random.Random(5)
    caught = sum(
        upgrade.welch(draw.sample(plain, SEEDS), draw.sample(noisy, SEEDS)).regressed
        for _ in range(DRAWS)
    )
    assert caught / DRAWS >= 0.8, caught / DRAWS


def test_the_same_release_twice_repeats_each_seed_and_never_alarms():
    plain = _accuracies(False)[:SEEDS]
    result = upgrade.welch(plain, list(plain))
    assert result.difference == 0 and not result.regressed


def _digits() -> data.Dataset:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 1000)
    images = np.zeros((1000, 32, 32, 3), np.uint8)
    classes = tuple("0123456789")
    return data.Dataset("digits", images, labels, images[:10], labels[:10], classes, "test")


def test_label_noise_replaces_that_share_of_labels_the_same_way_each_time():
    dataset = _digits()
    noisy = api.noisy_labels(dataset, 0.3)
    replaced = np.mean(noisy.train_y != dataset.train_y)
    # A replaced label is a random class: it equals the old one a tenth of the time.
    assert replaced == pytest.approx(0.3 * 0.9, abs=0.04)
    assert np.array_equal(noisy.train_y, api.noisy_labels(dataset, 0.3).train_y)
    assert np.array_equal(noisy.test_y, dataset.test_y)
    assert api.noisy_labels(dataset, 0.0) is dataset


@pytest.mark.parametrize("value", ["nan", "-0.1", "0.95", "half"])
def test_the_label_noise_switch_takes_a_share_it_can_use(value, capsys):
    code = main(["upgrade-speed", "--out", "/nonexistent/x.json", "--label-noise", value])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--label-noise" in err, err


def test_label_noise_without_a_seed_is_refused_before_any_work(capsys):
    code = main(["upgrade-speed", "--out", "/nonexistent/x.json", "--label-noise", "0.05"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "give --seed" in err, err
