"""The rate policy (bench.core.rates): one type per kind, each giving its rate, its history,
its shorter run and its config; a new schedule is one class; a changed formula makes an old
run another run's; results files written before the policy was recorded are still read.

Expected values are written out by hand here (or come from golden/ through the tests of
test_schedules.py), never computed by bench."""

import dataclasses
import json
from fractions import Fraction
from pathlib import Path

import pytest
from results_factory import make_run

from bench.core import consistency, data, experiments, identity, rates, results, schedules
from bench.core.schedules import StepDecay
from bench.run import lifecycle, plan

ROOT = Path(__file__).resolve().parents[2]
QUICK_EXAMPLE = ROOT / "reports" / "quick-example" / "runs"
COURSE = rates.Course(init_lr=0.1, epochs=4, steps=2)


# --- each kind: the rate at (epoch, batch), its history, its config ---

# (policy, each update's rate over COURSE's 4 epochs x 2 updates), rates by hand.
BY_HAND = {
    "constant": (rates.Constant(), [0.1] * 8),
    "time-based": (rates.TimeBased(), [0.1 / (1 + 0.025 * t) for t in range(8)]),
    "per-epoch": (
        rates.PerEpoch(name="StepDecay", args={"initAlpha": 0.1, "factor": 0.5, "dropEvery": 2}),
        [0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025],
    ),
    "per-update": (
        rates.PerUpdate(name="CyclicLR", args={"base_lr": 0.1, "max_lr": 0.5, "half_cycle": 0.25}),
        [0.1, 0.3, 0.5, 0.3, 0.1, 0.3, 0.5, 0.3],
    ),
}


@pytest.mark.parametrize("kind", BY_HAND)
def test_each_kind_gives_its_rate_at_every_epoch_and_batch(kind):
    policy, want = BY_HAND[kind]
    assert policy.kind == kind
    got = [policy.rate(e, b, COURSE) for e in range(4) for b in range(2)]
    assert got == pytest.approx(want, rel=1e-12)
    assert policy.history(COURSE) == pytest.approx(want[1::2], rel=1e-12)  # each last batch
    assert policy.history(COURSE, "first") == pytest.approx(want[::2], rel=1e-12)


@pytest.mark.parametrize("kind", BY_HAND)
def test_a_config_reads_back_as_the_same_policy(kind):
    policy = BY_HAND[kind][0]
    config = json.loads(json.dumps(policy.config(COURSE)))
    assert config["kind"] == kind and config["formula"] == 1
    again = rates.from_config(config)
    assert again.config(COURSE) == config
    assert again.history(COURSE) == policy.history(COURSE)


def test_a_per_update_config_holds_its_lengths_in_updates():
    config = BY_HAND["per-update"][0].config(COURSE)
    assert config["schedule"] == "CyclicLR" and config["args"]["step_size"] == 2  # 1/4 of 8


def test_a_plateau_has_no_rate_but_a_rule():
    plateau = experiments.get("plateau").policy
    with pytest.raises(ValueError, match=r"^the rate follows val_loss; it has no table$"):
        plateau.rate(0, 0, COURSE)
    assert plateau.problem([0.1, 0.1, 0.025, 0.025], COURSE) is None
    assert "epoch 2 logs 0.05" in plateau.problem([0.1, 0.05, 0.05, 0.05], COURSE)
    assert "epoch 1 logs 0.05" in plateau.problem([0.05, 0.05, 0.05, 0.05], COURSE)
    floor = rates.Plateau(
        args={"monitor": "val_loss", "factor": 0.1, "patience": 1, "min_lr": 0.02}
    )
    assert floor.problem([0.1, 0.02, 0.02, 0.02], COURSE) is None  # 0.01 floored at 0.02


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"kind": "cosine", "formula": 1, "args": {}}, "cosine"),
        ({"kind": "per-epoch", "formula": 1, "args": {}, "schedule": "CyclicLR"}, "per-epoch"),
        ({"kind": "per-epoch", "formula": 0, "args": {}, "schedule": "StepDecay"}, "formula"),
        ({"kind": "plateau", "formula": 1, "args": {"monitor": "val_loss"}}, "arguments"),
    ],
)
def test_a_config_of_no_policy_is_refused(config, message):
    with pytest.raises(ValueError, match=rf"^config.rate_policy: not a rate policy \(.*{message}"):
        rates.from_config(config)


def test_scaling_is_each_policys_own():
    """step's dropEvery and plateau's patience follow a run of 10 epochs instead of 100;
    the rest follow the run's length already."""
    assert experiments.get("step").policy.scaled(10, 100).args["dropEvery"] == 2  # 1.5
    assert experiments.get("plateau").policy.scaled(10, 100).args["patience"] == 1  # 0.5
    linear = experiments.get("linear").policy
    assert linear.scaled(10, 100) == linear


# --- a new schedule is one class (and its golden column) ---


@schedules.register
class InverseDecay(schedules.LearningRateDecay):
    """``initAlpha / (1 + epoch / halfLife)``: half the initial rate after ``halfLife``
    epochs, a third after twice as many."""

    initAlpha: float = schedules._arg(0.1, schedules._positive)
    halfLife: float = schedules._arg(20, schedules._positive)

    def rate(self, epoch: int) -> float:
        return self.initAlpha / (1 + epoch / self.halfLife)

    @classmethod
    def scaled_args(cls, args, epochs, full):
        return {**args, "halfLife": args["halfLife"] * epochs / full}


# Its golden column: the quick set-up's 10 epochs at halfLife 2 (20 scaled by 10/100),
# 1/10 / (1 + e/2), written out.
INVERSE_GOLDEN = ["1/10", "1/15", "1/20", "1/25", "1/30", "1/35", "1/40", "1/45", "1/50", "1/55"]
INVERSE = experiments.Experiment(
    name="inverse",
    cli_value="inverse",
    info="[INFO] using 'inverse' learning rate decay...",
    lr_plot="lr_inverse_schedule.png",
    policy=rates.PerEpoch(name="InverseDecay", args={"initAlpha": 0.1, "halfLife": 20}),
)
DIGITS = data.load_digits()


@pytest.fixture
def inverse(monkeypatch):
    """The new schedule's experiment, known by name as EXTRA's are."""
    monkeypatch.setitem(experiments.ALL, "inverse", INVERSE)
    return experiments.quick(INVERSE)


def test_a_new_schedule_scales_and_matches_its_golden_column(inverse):
    assert inverse.epochs == 10 and inverse.policy.args["halfLife"] == 2
    golden = [float(Fraction(rate)) for rate in INVERSE_GOLDEN]
    assert inverse.epoch_rates(images=1437) == pytest.approx(golden, rel=1e-12)


def test_a_new_schedule_is_in_the_runs_identity(inverse):
    run = experiments.Run(inverse, 0, "digits")
    assert identity.of(run, DIGITS).schedule == {
        "kind": "per-epoch",
        "schedule": "InverseDecay",
        "formula": 1,
        "args": {"initAlpha": 0.1, "halfLife": 2.0},
    }


def _inverse_results(inverse):
    """A results file of the new schedule's quick run (its own logged rates: the golden
    column), laid out as training writes it."""
    run = make_run("step", 0, 0.8, epochs=10)
    course = rates.Course(0.1, 10, run["dataset"]["steps_per_epoch"])
    run["experiment"] = "inverse"
    run["config"].update(inverse.policy.recorded(course), rate_policy=inverse.policy.config(course))
    run["history"]["lr"] = [float(Fraction(rate)) for rate in INVERSE_GOLDEN]
    return run


def test_a_new_schedules_results_are_checked_as_every_other(inverse):
    run = _inverse_results(inverse)
    assert consistency.problems(run) == []
    run["history"]["lr"][3] *= 1.01
    assert consistency.problems(run) == [
        f"history.lr: epoch 4 logs {run['history']['lr'][3]}, where "
        "InverseDecay(initAlpha=0.1, halfLife=2.0) gives 0.04"
    ]
    del run["config"]["rate_policy"]  # named by its repr alone, as before it was recorded
    assert "epoch 4 logs" in consistency.problems(run)[0]


# --- the formula's version, and files written before the policy was recorded ---


def _step_run():
    return experiments.Run(experiments.configure("step", quick_setup=True), 0, "digits")


def _written_by_the_current_release(tmp_path):
    """A finished quick step run laid out as this release's predecessor wrote it: its rate
    named by config.schedule, decay and plateau, no config.rate_policy."""
    run = _step_run()
    made = make_run("step", run.seed, 0.8, epochs=10, dataset="digits")
    placed = identity.results_fields(identity.of(run, DIGITS))
    for block in ("config", "dataset", "environment"):
        made[block].update(placed[block])
    del made["config"]["rate_policy"]
    made["config"]["schedule"] = "StepDecay(initAlpha=0.1, factor=0.25, dropEvery=2)"
    made["history"]["lr"] = [0.1 * 0.25**k for k in (0, 1, 1, 2, 2, 3, 3, 4, 4, 5)]
    path = tmp_path / "runs" / results.file_name("step", run.seed)
    path.parent.mkdir()
    results.write(path, made)
    return path


def test_a_file_without_a_rate_policy_is_the_same_run(tmp_path):
    path = _written_by_the_current_release(tmp_path)
    assert "rate_policy" not in json.loads(path.read_text())["config"]
    assert identity.from_results(results.read(path)) == identity.of(_step_run(), DIGITS)
    assert lifecycle.finished(path, _step_run(), DIGITS) is True


@pytest.mark.parametrize("name", ["none", "standard", "step", "linear", "poly"])
def test_the_committed_quick_example_is_still_its_run(name):
    """Trained and written by an earlier release: read, and the same run as the quick
    reproduction's today (so it is reused, never trained again)."""
    recorded = results.read(QUICK_EXAMPLE / f"{name}-seed0.json")
    quick = experiments.configure(name, quick_setup=True)
    run = experiments.Run(quick, 0, "digits", backend=recorded["environment"]["backend"])
    assert identity.differences(identity.from_results(recorded), identity.of(run, DIGITS)) == []


def test_a_changed_formula_refuses_the_old_run_before_training_naming_the_schedule(
    tmp_path, monkeypatch
):
    path = _written_by_the_current_release(tmp_path)
    monkeypatch.setattr(StepDecay, "FORMULA", 2)
    assert results.read(path)  # still readable: its rates are its own formula's
    want = r"other settings \(schedule: StepDecay's formula 1 recorded, 2 now\)"
    with pytest.raises(ValueError, match=want):
        lifecycle.finished(path, _step_run(), DIGITS)
    with pytest.raises(ValueError, match=want):  # what reproduce checks before any training
        plan.check_reusable(tmp_path, [_step_run()], DIGITS, force=False)
    assert lifecycle.finished(path, _step_run(), DIGITS, force=True) is False


def test_a_run_of_this_formula_records_it(tmp_path):
    path = _written_by_the_current_release(tmp_path)
    recorded = results.read(path)
    recorded["config"]["rate_policy"] = identity.of(_step_run(), DIGITS).schedule
    fresh = tmp_path / "fresh" / path.name
    fresh.parent.mkdir()
    results.write(fresh, recorded)
    assert json.loads(fresh.read_text())["config"]["rate_policy"]["formula"] == 1
    assert lifecycle.finished(fresh, _step_run(), DIGITS) is True
    edited = dataclasses.replace(
        _step_run(), experiment=experiments.scaled(_step_run().experiment, 20)
    )
    with pytest.raises(ValueError, match=r"other settings \(epochs, schedule\)"):
        lifecycle.finished(fresh, edited, DIGITS)


def test_a_readable_field_unlike_the_policy_is_refused():
    run = json.loads(json.dumps(make_run("step", 0, 0.8, epochs=12)))
    course = rates.Course(0.1, 12, 391)
    run["config"]["rate_policy"] = experiments.get("step").policy.config(course)
    results.validate(run)
    run["config"]["decay"] = 0.01
    with pytest.raises(results.ResultsError, match=r"config.decay: 0.01 where config.rate_policy"):
        results.validate(run)


def test_an_interrupted_run_of_the_previous_release_still_resumes():
    """Its state's run.json named the rate by the schedule's repr, decay and plateau."""
    now = identity.of(_step_run(), DIGITS)
    saved = {**identity.to_json(now), "decay": 0.0, "plateau": None}
    saved["schedule"] = "StepDecay(initAlpha=0.1, factor=0.25, dropEvery=2)"
    assert identity.from_json(json.loads(json.dumps(saved))) == now
