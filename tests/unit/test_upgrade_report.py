"""UPGRADE.md's statistics and text (bench.report.upgrade), on made-up measurements: no
Keras. Tolerances: the t-test and the detectable difference against scipy's t
distribution (rel 1e-9); the bootstrap interval must contain the true ratio."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from test_fingerprint import synthetic

from bench.report import upgrade
from bench.report.stats import Verdict


def test_welch_matches_scipy_and_states_the_detectable_difference():
    old, new = [0.90, 0.91, 0.89, 0.90], [0.88, 0.87, 0.89]
    result = upgrade.welch(old, new)
    assert result.p_value == pytest.approx(stats.ttest_ind(new, old, equal_var=False).pvalue)
    assert result.difference == pytest.approx(np.mean(new) - np.mean(old))
    assert result.regressed  # lower, and p < 0.05
    # More seeds with the same spread detect a smaller difference.
    assert upgrade.welch(old * 3, new * 3).detectable < result.detectable


def test_no_regression_when_not_lower_or_not_significant():
    assert not upgrade.welch([0.90, 0.91, 0.89], [0.91, 0.92, 0.90]).regressed
    assert not upgrade.welch([0.90, 0.95, 0.85], [0.89, 0.94, 0.84]).regressed
    with pytest.raises(ValueError, match="two seeds"):
        upgrade.welch([0.9], [0.9, 0.8])


def test_the_speed_interval_holds_the_ratio_and_decides():
    rng = np.random.default_rng(1)
    old = rng.normal(100, 5, 200).tolist()
    slow = rng.normal(150, 5, 200).tolist()
    same = upgrade.speed_ratio(old, old)
    assert same.low <= 1.0 <= same.high and not same.regressed
    result = upgrade.speed_ratio(old, slow)
    assert result.low <= result.ratio <= result.high and result.regressed  # 1.5x > 1.25


def test_a_speed_interval_across_the_limit_is_inconclusive_not_a_regression(tmp_path):
    # Steps evenly from 100 to 160 ms against a steady 100: the median says 1.30x, while a
    # resampled median of 21 steps easily lands below 125 ms.
    spread = upgrade.speed_ratio([100.0] * 20, np.linspace(100, 160, 21).tolist())
    assert spread.low < upgrade.MAX_SLOWDOWN < spread.high and spread.ratio == 1.3
    assert spread.verdict is Verdict.INCONCLUSIVE and not spread.regressed
    narrow = upgrade.speed_ratio([100.0] * 20, np.linspace(100, 120, 21).tolist())
    assert narrow.high <= upgrade.MAX_SLOWDOWN and narrow.verdict is Verdict.OK
    _side(tmp_path / "old", [0.90, 0.91, 0.89], [100.0] * 20, _row(a="works"))
    _side(tmp_path / "new", [0.90, 0.91, 0.89], np.linspace(100, 160, 21).tolist(), _row(a="works"))
    result, path = upgrade.write(
        tmp_path / "old", tmp_path / "new", "TF A", "TF B", tmp_path / "UPGRADE.md"
    )
    assert "): **inconclusive**. Regressed only if" in path.read_text()
    assert result.regressions() == []


def _row(**outcomes):
    return {"probes": [{"use": u, "outcome": o, "effect": o.upper()} for u, o in outcomes.items()]}


def test_drift_lists_changed_outcomes_and_what_broke():
    changes = upgrade.drift_changes(_row(a="works", b="warns", c="raises"),
                                    _row(a="works", b="raises", c="ignored"))  # fmt: skip
    assert [(c["use"], c["broke"]) for c in changes] == [("b", True), ("c", False)]


def _side(folder, accuracy, ms, probes):
    folder.mkdir()
    (folder / "drift.json").write_text(json.dumps(probes))
    (folder / "fingerprint.json").write_text(json.dumps(synthetic()))
    (folder / "convergence.json").write_text(json.dumps({"setup": {}, "accuracy": accuracy}))
    for k in range(2):  # two alternated rounds, pooled
        (folder / f"speed-{k}.json").write_text(json.dumps({"setup": {}, "ms_per_step": ms}))


def test_upgrade_md_opens_with_the_verdict_then_each_section(tmp_path):
    _side(tmp_path / "old", [0.90, 0.91, 0.89], [100.0, 101.0, 99.0], _row(a="works"))
    _side(tmp_path / "new", [0.90, 0.90, 0.91], [100.0, 102.0, 98.0], _row(a="raises"))
    result, path = upgrade.write(tmp_path / "old", tmp_path / "new", "TF A", "TF B",
                                 tmp_path / "out" / "UPGRADE.md")  # fmt: skip
    text = path.read_text()
    assert text.splitlines()[0].startswith("**REGRESSED** (TF A -> TF B): drift")
    for title in ("## Drift", "## Numerics", "## Convergence", "## Speed"):
        assert title in text
    assert "smallest difference" in text and "Welch" in text
    assert len(upgrade.read_side(tmp_path / "new")["speed"]["ms_per_step"]) == 6  # pooled
    assert result.convergence.detectable > 0


def test_a_missing_part_names_the_file(tmp_path):
    _side(tmp_path / "old", [0.9, 0.8], [1.0, 2.0], _row(a="works"))
    (tmp_path / "old" / "convergence.json").unlink()
    with pytest.raises(ValueError, match=r"convergence\.json"):
        upgrade.read_side(tmp_path / "old")
