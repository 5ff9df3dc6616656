"""The upgrade check's speed verdict (bench.report.rounds): checked against the exact
signed-rank distribution worked out by hand, then calibrated on rounds recorded on this
machine (tests/data/speed-rounds.json, `nox -s calibrate_speed`): resampled same-environment
pairs must alarm at most 5 % of the time, and pairs with a known slowdown (a sleep inside
every timed step of one side) must be caught."""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path

import pytest

from bench.cli import build_parser, main
from bench.report import rounds
from bench.report.verdict import Outcome

RECORDED = Path(__file__).resolve().parents[1] / "data" / "speed-rounds.json"
RESAMPLES = 4000
PAIRS = 6  # the fewest the check runs: 6 rounds a side


def test_signed_rank_counts_are_the_textbook_ones():
    # n = 3: sign patterns of ranks 1, 2, 3 give sums 0,1,2,3,3,4,5,6 (by hand).
    assert rounds.signed_rank_counts(3) == [1, 1, 1, 2, 1, 1, 1]
    assert sum(rounds.signed_rank_counts(10)) == 2**10
    # n = 6, two-sided 5 %: only the extreme sums qualify (2 / 64 = 3.1 %), so the interval
    # runs from the smallest to the largest Walsh average, at 96.9 % coverage.
    assert rounds.signed_rank_counts(6)[:2] == [1, 1]


def test_the_interval_of_six_pairs_is_the_walsh_extremes():
    d = [0.10, 0.20, 0.05, 0.30, 0.15, 0.25]
    verdict = rounds.judge(d)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(6) for j in range(i, 6))
    assert verdict.low == pytest.approx(math.exp(walsh[0]))
    assert verdict.high == pytest.approx(math.exp(walsh[-1]))
    assert verdict.ratio == pytest.approx(math.exp(statistics.median(walsh)))
    assert verdict.coverage == pytest.approx(1 - 2 / 64)


@pytest.mark.parametrize(
    ("log_ratios", "outcome"),
    [
        ([math.log(1.5)] * 3 + [math.log(1.6)] * 3, Outcome.DIFFER),
        ([0.01, -0.02, 0.0, 0.02, -0.01, 0.01], Outcome.AGREE),
        # a machine whose rounds swing 0.6x-1.6x: the spread covers the threshold
        ([math.log(x) for x in (0.6, 1.6, 1.0, 1.5, 0.7, 1.2)], Outcome.INCONCLUSIVE),
        # consistently slower, but not provably past the threshold
        ([math.log(x) for x in (1.1, 1.3, 1.2, 1.15, 1.35, 1.05)], Outcome.INCONCLUSIVE),
    ],
)
def test_three_outcomes(log_ratios, outcome):
    assert rounds.judge(log_ratios).outcome is outcome


def test_too_few_rounds_or_a_broken_one_is_refused():
    with pytest.raises(ValueError, match="6 or more finite paired rounds"):
        rounds.judge([0.0] * 5)
    with pytest.raises(ValueError, match="finite"):
        rounds.judge([0.0] * 5 + [math.nan])


def test_rounds_alternated_a_b_b_a_pair_side_by_side():
    assert rounds.pairs("ABBAABBA") == [(0, 1), (3, 2), (4, 5), (7, 6)]
    assert rounds.pairs("ABAB") == [(0, 1), (2, 3)]


def _recorded() -> dict:
    return json.loads(RECORDED.read_text(encoding="utf-8"))


def _medians(series: str) -> list[tuple[float, float]]:
    """The recorded rounds of ``series`` as (added ms, median ms/step), in recorded order."""
    return [
        (r["added_ms"], statistics.median(r["ms_per_step"]))
        for r in _recorded()["rounds"]
        if r["series"] == series
    ]


def _resampled_outcomes(
    pairs: list[tuple[float, float]], seed: int, slower: float = 1.0
) -> list[Outcome]:
    """PAIRS pairs drawn with replacement, RESAMPLES times, the candidate's rounds made
    ``slower``: each draw's outcome."""
    draw = random.Random(seed)
    outcomes = []
    for _ in range(RESAMPLES):
        old, new = zip(*draw.choices(pairs, k=PAIRS), strict=True)
        outcomes.append(rounds.judge(rounds.log_ratios(old, [ms * slower for ms in new])).outcome)
    return outcomes


def _same_pairs() -> list[tuple[float, float]]:
    """Consecutive plain rounds paired as A B B A would pair them: the machine alone."""
    same = [ms for _, ms in _medians("same")]
    pairs = [(same[a], same[b]) for a, b in rounds.pairs("ABBA" * (len(same) // 4))]
    assert len(pairs) >= PAIRS
    return pairs


def test_same_environment_rounds_alarm_at_most_5_percent():
    outcomes = _resampled_outcomes(_same_pairs(), seed=1)
    false_alarms = outcomes.count(Outcome.DIFFER) / len(outcomes)
    assert false_alarms <= 0.05, false_alarms


def test_a_slowdown_of_1_4x_on_this_machines_noise_is_caught():
    """The recorded same-environment pairs with every candidate round 1.4x slower: the
    machine's own noise, a slowdown of known size past the threshold."""
    outcomes = _resampled_outcomes(_same_pairs(), seed=3, slower=1.4)
    assert outcomes.count(Outcome.DIFFER) / len(outcomes) >= 0.8


def test_a_known_slowdown_is_caught():
    """Plain and slowed rounds in A B B A blocks: the slowdown is real, so the verdict must
    call it SLOWER in at least 80 % of resampled checks."""
    recorded = _medians("slowed")
    order = "".join("B" if added else "A" for added, _ in recorded)
    pairs = [(recorded[a][1], recorded[b][1]) for a, b in rounds.pairs(order)]
    true_ratio = statistics.median(b / a for a, b in pairs)
    assert true_ratio > 1.25  # the slowdown made on purpose is past the threshold
    outcomes = _resampled_outcomes(pairs, seed=2)
    power = outcomes.count(Outcome.DIFFER) / len(outcomes)
    assert power >= 0.8, power


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "1e9", "fast"])
def test_the_slowdown_switch_takes_a_sleep_it_can_do(value, capsys):
    """Checked with the other arguments, before TensorFlow loads (inf overflowed time.sleep
    after the model had compiled; 1e9 would have slept 11 days a step)."""
    code = main(["upgrade-speed", "--out", "/nonexistent/x.json", "--added-ms", value])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--added-ms" in err, err


def test_the_slowdown_switch_takes_a_sleep():
    args = build_parser().parse_args(["upgrade-speed", "--out", "x.json", "--added-ms", "80"])
    assert args.added_ms == 80.0
