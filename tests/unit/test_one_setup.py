"""A run set holds one set-up (issue 20, class 1): a command of another set-up is refused
before anything trains, naming what differs; a results file of another set-up found in a
set is a problem line, never a row ranked against the others; a second command of the same
set-up adds to the plan instead of replacing it."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from results_factory import folder_of, make_run

from bench.core import data, experiments, identity
from bench.report import markdown
from bench.run import plan, runset

# A value of another set-up for each set-up field (each still valid in a results file).
OTHER = {
    "momentum": 0.8,
    "loss": "mean_squared_error",
    "epochs": 3,
    "batch_size": 64,
    "dataset": "digits",
    "subset": 500,
    "subset_seed": 7,
    "data_sha256": "cd" * 32,
    "backend": "jax",
    "model_args": {**experiments.MODEL_ARGS, "stages": [1, 1, 1], "filters": [32, 32, 64, 128]},
}


def _with(run, field, value):
    """``run`` (a results dict) with one identity field changed where the file keeps it."""
    if field == "epochs":  # the per-epoch lists and the schedule follow the length
        return make_run(run["experiment"], run["seed"], run["evaluation"]["accuracy"], value)
    changed = json.loads(json.dumps(run))
    *parents, last = identity.Identity.__dataclass_fields__[field].metadata["at"]
    node = changed
    for key in parents:
        node = node[key]
    node[last] = value
    return changed


def test_every_setup_field_has_another_value_here():
    assert set(OTHER) == set(identity.SETUP)


@given(fields=st.sets(st.sampled_from(sorted(OTHER)), min_size=1))
def test_a_command_of_another_set_up_is_refused_naming_each_field(tmp_path_factory, fields):
    out = tmp_path_factory.mktemp("set")
    folder_of(out, [make_run("step", 0, 0.87, epochs=2)])
    setup = identity.setup_of(identity.from_results(make_run("step", 0, 0.87, epochs=2)))
    other = {**setup, **{f: OTHER[f] for f in fields}}
    with pytest.raises(ValueError, match="holds a run set of another set-up") as refused:
        plan.check_one_setup(out, other)
    for field in fields:
        assert f"{field} " in str(refused.value)
    assert plan.check_one_setup(out, setup) is None  # the same set-up goes on


@given(field=st.sampled_from(sorted(OTHER)), which=st.integers(0, 2))
def test_a_results_file_of_another_set_up_is_a_problem_not_a_row(tmp_path_factory, field, which):
    out = tmp_path_factory.mktemp("set")
    runs = [
        make_run(name, 0, acc, epochs=2)
        for name, acc in (("step", 0.87), ("linear", 0.86), ("poly", 0.85))
    ]
    odd = runs[which]
    runs[which] = _with(odd, field, OTHER[field])
    folder_of(out, runs)
    rs = runset.load_one_setup(out)
    assert odd["experiment"] not in rs.runs
    assert [p for p in rs.problems if "another set-up" in p[1]] == [
        (f"{odd['experiment']}-seed0", rs.problems[0][1])
    ]
    text = markdown.render(out)
    assert f"{odd['experiment']}-seed0: another set-up" in text
    assert len(rs.all_runs()) == 2


def _digits_runs(names, epochs, subset):
    dataset = data.subset(data.load_digits(), subset, 0)
    runs = plan.plan_runs(names, 1, "digits", subset, False, quick_setup=True, epochs=epochs)
    return runs, dataset


def test_a_second_command_of_the_same_set_up_adds_to_the_plan(tmp_path):
    runs, dataset = _digits_runs(["step"], 2, 300)
    first = plan.Plan(tmp_path, runs, dataset, quick=True)
    first.mark(1, "failed", "boom")
    runs, dataset = _digits_runs(["linear"], 2, 300)
    plan.Plan(tmp_path, runs, dataset, quick=True)
    document = runset.read_plan(tmp_path)
    assert [(e["experiment"], e["status"]) for e in document["runs"]] == [
        ("step", "failed"),
        ("linear", "pending"),
    ]  # the earlier failure stays


def test_the_issues_two_commands_the_second_refused_before_training(tmp_path):
    runs, dataset = _digits_runs(["step"], 2, 300)
    plan.Plan(tmp_path, runs, dataset, quick=True)
    runs, dataset = _digits_runs(["linear"], 3, 500)
    fields = r"another set-up \(plan.json: epochs 2 vs 3; subset 300 vs 500; data_sha256 "
    with pytest.raises(ValueError, match=fields):
        plan.Plan(tmp_path, runs, dataset, quick=True)
    assert [e["experiment"] for e in runset.read_plan(tmp_path)["runs"]] == ["step"]
