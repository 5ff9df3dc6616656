"""UPGRADE.md's statistics and text (bench.report.upgrade), on made-up measurements: no
Keras. Tolerances: the t-test and the detectable difference against scipy's t
distribution (rel 1e-9). The speed verdict's own statistics: tests/unit/test_speed_verdict.py."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from test_fingerprint import synthetic

from bench.cli import main
from bench.report import rounds, upgrade
from bench.report.verdict import Outcome, Verdict


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


ORDER = "ABBA" * 3  # six rounds a side, as nox -s upgrade runs them


def _rounds(ratios, base=100.0):
    """Both sides' rounds (place, median ms/step) in ORDER: each pair's "from" round at a
    level that drifts through the sequence, its candidate round ``ratio`` times that."""
    by_place = {}
    for (a, b), ratio in zip(rounds.pairs(ORDER), ratios, strict=True):
        by_place[a] = base * (1 + 0.1 * a)
        by_place[b] = by_place[a] * ratio
    old = [(k, ms) for k, ms in sorted(by_place.items()) if ORDER[k] == "A"]
    new = [(k, ms) for k, ms in sorted(by_place.items()) if ORDER[k] == "B"]
    return old, new


def test_rounds_are_paired_side_by_side_and_judged():
    same = upgrade.speed_verdict(*_rounds([1.0, 1.02, 0.98, 1.01, 0.99, 1.0]))
    assert same.verdict.outcome is Outcome.AGREE and not same.regressed
    assert len(same.pairs) == 6 and same.pairs[0] == (100.0, 100.0)
    slow = upgrade.speed_verdict(*_rounds([1.5, 1.6, 1.55, 1.5, 1.45, 1.6]))
    assert slow.verdict.outcome is Outcome.DIFFER and slow.regressed
    assert slow.verdict.low > 1 and slow.verdict.ratio == pytest.approx(1.5375, rel=0.05)


def test_a_noisy_machine_is_inconclusive_never_a_regression(tmp_path):
    noisy = [0.6, 1.6, 1.0, 1.5, 0.7, 1.3]
    result = upgrade.speed_verdict(*_rounds(noisy))
    assert result.verdict.outcome is Outcome.INCONCLUSIVE and not result.regressed
    old, new = _rounds(noisy)
    _side(tmp_path / "old", [0.90, 0.91, 0.89], old, _row(a="works"))
    _side(tmp_path / "new", [0.90, 0.91, 0.89], new, _row(a="works"))
    result, path = upgrade.write(
        tmp_path / "old", tmp_path / "new", "TF A", "TF B", tmp_path / "UPGRADE.md"
    )
    text = path.read_text()
    assert text.splitlines()[0] == "**NO REGRESSION** (TF A -> TF B); speed inconclusive"
    assert "): inconclusive (threshold 1.25x)" in text and result.regressions() == []
    assert result.verdict() == Verdict(Outcome.INCONCLUSIVE, ("speed",))
    assert result.verdict().exit_code == 0


def test_two_rounds_a_side_are_not_judged(tmp_path):
    """Two rounds a side, A B B A: too few pairs for a verdict, and the report says so."""
    for name, places in (("old", (0, 3)), ("new", (1, 2))):
        rounds_ = [(places[0], 100.0), (places[1], 101.0)]
        _side(tmp_path / name, [0.90, 0.91, 0.89], rounds_, _row(a="works"))
    result, path = upgrade.write(
        tmp_path / "old", tmp_path / "new", "TF A", "TF B", tmp_path / "UPGRADE.md"
    )
    assert result.speed.verdict is None and len(result.speed.pairs) == 2
    assert "Not judged: 2 pairs of rounds" in path.read_text()
    assert path.read_text().splitlines()[0].endswith("; speed not judged")


def _row(**outcomes):
    return {"probes": [{"use": u, "outcome": o, "effect": o.upper()} for u, o in outcomes.items()]}


def test_drift_lists_changed_outcomes_and_what_broke():
    changes = upgrade.drift_changes(
        _row(a="works", b="warns", c="raises"), _row(a="works", b="raises", c="ignored")
    )
    assert [(c["use"], c["broke"]) for c in changes] == [("b", True), ("c", False)]


SEED_SETUP = {"schedule": "linear", "epochs": 10}


def _side(folder, accuracy, speed, probes):
    """A side's files; ``speed`` is (place, median ms/step) per round, or one list of step
    times for two rounds; the k-th round trains seed k, whose accuracy is ``accuracy[k]``
    (cycled)."""
    folder.mkdir()
    (folder / "drift.json").write_text(json.dumps(probes))
    (folder / "fingerprint.json").write_text(json.dumps(synthetic()))
    if not isinstance(speed[0], tuple):  # two rounds a side, A B B A
        speed = [(1, speed), (2, speed)] if folder.name == "new" else [(0, speed), (3, speed)]
    for seed, (place, ms) in enumerate(speed):
        steps = ms if isinstance(ms, list) else [ms * 0.9, ms, ms * 1.1]
        trained = {"setup": SEED_SETUP, "seed": seed, "accuracy": accuracy[seed % len(accuracy)]}
        round_ = {"setup": {}, "ms_per_step": steps, "convergence": trained}
        (folder / f"speed-{place}.json").write_text(json.dumps(round_))


def test_upgrade_md_opens_with_the_verdict_then_each_section(tmp_path):
    _side(tmp_path / "old", [0.90, 0.91, 0.89], [100.0, 101.0, 99.0], _row(a="works"))
    _side(tmp_path / "new", [0.90, 0.90, 0.91], [100.0, 102.0, 98.0], _row(a="raises"))
    result, path = upgrade.write(
        tmp_path / "old", tmp_path / "new", "TF A", "TF B", tmp_path / "out" / "UPGRADE.md"
    )
    text = path.read_text()
    assert text.splitlines()[0].startswith("**REGRESSED** (TF A -> TF B): drift")
    assert result.verdict().outcome is Outcome.DIFFER and result.verdict().exit_code == 1
    assert result.verdict().reasons == tuple(result.regressions())
    for title in ("## Drift", "## Numerics", "## Convergence", "## Speed"):
        assert title in text
    assert "smallest difference" in text and "Welch" in text
    assert len(upgrade.read_side(tmp_path / "new")["speed"]["rounds"]) == 2
    assert result.convergence.detectable > 0


def test_a_missing_part_names_the_file(tmp_path):
    _side(tmp_path / "old", [0.9, 0.8], [1.0, 2.0], _row(a="works"))
    (tmp_path / "old" / "drift.json").unlink()
    with pytest.raises(ValueError, match=r"drift\.json"):
        upgrade.read_side(tmp_path / "old")


def test_the_convergence_seeds_come_from_the_rounds(tmp_path):
    _side(tmp_path / "old", [0.90, 0.91, 0.89], _rounds([1.0] * 6)[0], _row(a="works"))
    side = upgrade.read_side(tmp_path / "old")
    assert side["convergence"]["seeds"] == [0, 1, 2, 3, 4, 5]
    assert side["convergence"]["accuracy"] == [0.90, 0.91, 0.89] * 2


def test_sides_that_trained_other_set_ups_are_refused(tmp_path, capsys):
    def other(folder):
        for path in folder.glob("speed-*.json"):
            round_ = json.loads(path.read_text())
            round_["convergence"]["setup"] = {**SEED_SETUP, "epochs": 5}
            path.write_text(json.dumps(round_))

    old, new = _sides_with_rounds(tmp_path, *_rounds([1.0] * 6), edit=other)
    code, err = _upgrade_report(capsys, old, new, tmp_path)
    assert code == 2 and "different convergence set-ups" in err, err


def _sides_with_rounds(tmp_path, old_rounds, new_rounds, edit=None):
    _side(tmp_path / "old", [0.90, 0.91, 0.89], old_rounds, _row(a="works"))
    _side(tmp_path / "new", [0.90, 0.91, 0.89], new_rounds, _row(a="works"))
    if edit:
        edit(tmp_path / "old")
    return tmp_path / "old", tmp_path / "new"


def _upgrade_report(capsys, old, new, tmp_path):
    code = main(
        [
            "upgrade-report",
            str(old),
            str(new),
            "--old-name",
            "A",
            "--new-name",
            "B",
            "--out",
            str(tmp_path / "out" / "UPGRADE.md"),
        ]
    )
    return code, capsys.readouterr().err


def test_rounds_that_did_not_alternate_are_refused_not_paired(tmp_path, capsys):
    """All of one side's rounds, then all of the other's: no pair was taken side by side."""
    old, new = _sides_with_rounds(
        tmp_path, [(k, 100.0) for k in range(6)], [(k, 200.0) for k in range(6, 12)]
    )
    code, err = _upgrade_report(capsys, old, new, tmp_path)
    assert code == 2 and err.count("\n") == 1 and "did not alternate" in err, err
    assert not (tmp_path / "out").exists()


def _rename(folder, name):
    (folder / "speed-0.json").rename(folder / name)


def _setup(value):
    def edit(folder):
        path = folder / "speed-0.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "setup": value}))

    return edit


def _ms(value):
    def edit(folder):
        path = folder / "speed-0.json"
        path.write_text(json.dumps({"setup": {}, "ms_per_step": [100.0, value]}))

    return edit


def _seed(**changes):
    def edit(folder):
        path = folder / "speed-0.json"
        round_ = json.loads(path.read_text())
        round_["convergence"] = {**round_["convergence"], **changes}
        if changes.get("seed") == "drop":
            del round_["convergence"]
        path.write_text(json.dumps(round_))

    return edit


def _seed_twice(folder):
    path = sorted(folder.glob("speed-*.json"), key=lambda p: int(p.stem[6:]))[1]
    round_ = json.loads(path.read_text())
    path.write_text(json.dumps({**round_, "convergence": {**round_["convergence"], "seed": 0}}))


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (_seed(seed="drop"), "speed-0.json: convergence must hold the set-up, the seed"),
        (_seed(seed=-1), "speed-0.json: convergence must hold"),
        (_seed(seed=True), "speed-0.json: convergence must hold"),
        (_seed(accuracy=1.5), "speed-0.json: convergence must hold"),
        (_seed(accuracy="0.9"), "speed-0.json: convergence must hold"),
        (_seed(setup=None), "speed-0.json: convergence must hold"),
        (_seed(setup={"epochs": 3}), "its convergence set-up differs from speed-"),
        (_seed_twice, "a convergence seed was trained twice: [0, 0, "),
        (lambda f: _rename(f, "speed-00.json"), "speed-00.json: a speed round's file is named"),
        (lambda f: _rename(f, "speed-\u00b2.json"), "a speed round's file is named speed-N"),
        (_setup("oops"), "speed-0.json: setup must be an object"),
        (_setup([1, 2]), "setup must be an object"),
        (_setup(None), "setup must be an object"),
        (_ms(1e-320), "speed-0.json: ms_per_step must be a list of times from 0.001 to 1e+07"),
        (_ms(float("inf")), "speed-0.json: holds a NaN or infinite number"),
        (_ms(True), "ms_per_step must be"),
    ],
)
def test_a_damaged_speed_round_is_one_line_naming_it(tmp_path, capsys, edit, says):
    old, new = _sides_with_rounds(tmp_path, *_rounds([1.0] * 6), edit=edit)
    code, err = _upgrade_report(capsys, old, new, tmp_path)
    assert code == 2 and err.count("\n") == 1 and says in err, err


def _speed_setup(value, every=True):
    def edit(folder):
        paths = sorted(folder.glob("speed-*.json"))
        for path in paths if every else paths[1:2]:
            round_ = json.loads(path.read_text())
            path.write_text(json.dumps({**round_, "setup": value}))

    return edit


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (_speed_setup({"batch_size": 8}), "the two sides ran different speed set-ups"),
        (_speed_setup({"added_ms": 50.0}, every=False), "its speed set-up differs from speed-"),
    ],
)
def test_rounds_timed_another_way_are_refused(tmp_path, capsys, edit, says):
    old, new = _sides_with_rounds(tmp_path, *_rounds([1.0] * 6), edit=edit)
    code, err = _upgrade_report(capsys, old, new, tmp_path)
    assert code == 2 and err.count("\n") == 1 and says in err, err
    assert not (tmp_path / "out").exists()


def test_a_round_on_both_sides_is_refused(tmp_path, capsys):
    old_rounds, new_rounds = _rounds([1.0] * 6)
    new_rounds = [(old_rounds[0][0], new_rounds[0][1]), *new_rounds[1:]]
    old, new = _sides_with_rounds(tmp_path, old_rounds, new_rounds)
    code, err = _upgrade_report(capsys, old, new, tmp_path)
    assert code == 2 and f"round {old_rounds[0][0]} is on both sides" in err, err


def test_the_report_is_never_written_into_a_side(tmp_path, capsys):
    old, new = _sides_with_rounds(tmp_path, *_rounds([1.0] * 6))
    before = (old / "drift.json").read_bytes()
    names = ["--old-name", "A", "--new-name", "B"]
    code = main(["upgrade-report", str(old), str(new), *names, "--out", str(old / "drift.json")])
    err = capsys.readouterr().err
    assert code == 2 and "inside the side folder" in err, err
    assert (old / "drift.json").read_bytes() == before


def test_seeds_equal_to_float_noise_are_the_same_count_and_warn_nothing(recwarn):
    old = [0.99] * 6
    same = upgrade.welch(old, [0.99 + 1e-16 * k for k in range(6)])
    assert same.p_value == 1 and not same.regressed
    lower = upgrade.welch(old, [0.99 - 1 / 360] * 6)  # one test image fewer, every seed
    assert lower.regressed and lower.detectable == 0
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
