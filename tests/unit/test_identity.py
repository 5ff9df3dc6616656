"""One definition of a run's identity (bench.core.identity): a results file records every
field of it, reads back as the same identity, and a finished run whose identity differs in
any field is refused, naming that field (changing INIT_LR in bench/core/experiments.py and
re-running into the same --out is refused as "other settings (init_lr)"; any change of the
rate policy, its formula's version included, as "other settings (schedule...)")."""

import dataclasses
import json
import re

import pytest
from results_factory import make_run

from bench.core import backend, data, experiments, identity, rates, results
from bench.run import lifecycle

DIGITS = data.load_digits()
BASE = experiments.configure("none", quick_setup=True, epochs=2)


def _recorded_for(run, tmp_path):
    """A results file of ``run`` as training would write it (its identity placed by
    identity.results_fields, the rest hand-made), and its path."""
    made = make_run("none", run.seed, 0.8, epochs=2, dataset="digits")
    placed = identity.results_fields(identity.of(run, DIGITS))
    for block in ("config", "dataset", "environment"):
        made[block].update(placed[block])
    path = tmp_path / results.file_name("none", run.seed)
    results.write(path, made)
    return path


def _experiment(**changes):
    """A change of the run's experiment."""
    return lambda run: dataclasses.replace(
        run, experiment=dataclasses.replace(run.experiment, **changes)
    )


PLATEAU = {"monitor": "val_loss", "factor": 0.5, "patience": 1, "min_lr": 0.0}
STEP = {"initAlpha": 0.1, "factor": 0.5, "dropEvery": 1}
# Each identity field a re-run could change, and how; the rate policy in each of its ways.
CHANGES = {
    "init_lr": [_experiment(init_lr=0.05)],
    "momentum": [_experiment(momentum=0.8)],
    "schedule": [
        _experiment(policy=rates.TimeBased()),
        _experiment(policy=rates.PerEpoch(name="StepDecay", args=STEP)),
        _experiment(policy=rates.Plateau(args=PLATEAU)),
    ],
    "model_args": [_experiment(model_args={**BASE.model_args, "reg": 0.001})],
    "epochs": [_experiment(epochs=3)],
    "batch_size": [_experiment(batch_size=32)],
    "deterministic": [lambda run: dataclasses.replace(run, deterministic=True)],
    "backend": [lambda run: dataclasses.replace(run, backend="jax")],
}


def _run():
    return experiments.Run(BASE, 0, "digits", backend=backend.configured())


def test_a_results_file_reads_back_as_the_identity_it_was_built_from(tmp_path):
    path = _recorded_for(_run(), tmp_path)
    assert identity.from_results(results.read(path)) == identity.of(_run(), DIGITS)
    assert lifecycle.finished(path, _run(), DIGITS) is True  # the same run: nothing to do


def test_every_field_a_re_run_can_change_is_listed():
    """Those left out are the file name's (experiment, seed), the loss (one constant of the
    post, no setting), and the data's, whose changes test_one_setup.py makes (dataset,
    subset, its seed, the checksum)."""
    by_data = {"experiment", "seed", "dataset", "subset", "subset_seed", "data_sha256", "loss"}
    assert set(CHANGES) | by_data == {f.name for f in identity.FIELDS}


@pytest.mark.parametrize(
    ("field", "change"),
    [
        pytest.param(field, change, id=f"{field}-{i}")
        for field in CHANGES
        for i, change in enumerate(CHANGES[field])
    ],
)
def test_a_finished_run_with_another_value_of_any_field_is_refused_naming_it(
    field, change, tmp_path
):
    path = _recorded_for(_run(), tmp_path)
    with pytest.raises(ValueError, match=rf"holds a finished run with other settings \({field}\)"):
        lifecycle.finished(path, change(_run()), DIGITS)


def test_a_version_1_results_file_is_still_read(tmp_path):
    """Written by the previous release: no subset seed recorded (migrated on read to null)."""
    old = make_run("linear", 0, 0.87, epochs=3)
    del old["dataset"]["subset_seed"], old["history"]["compiled"]
    old["schema_version"] = 1
    path = tmp_path / "linear-seed0.json"
    path.write_text(json.dumps(old))
    read = results.read(path)
    assert read["dataset"]["subset_seed"] is None
    assert read["history"]["compiled"] == [True, False, False]


def test_a_version_2_results_file_is_read_as_compiling_in_epoch_1_alone(tmp_path):
    """Written before history.compiled: what version 2 assumed (a resume's compiling epoch
    is not known), stated in bench.core.results."""
    old = make_run("linear", 0, 0.87, epochs=3)
    del old["history"]["compiled"]
    old["schema_version"] = 2
    path = tmp_path / "linear-seed0.json"
    path.write_text(json.dumps(old))
    read = results.read(path)
    assert read["schema_version"] == 3 and read["history"]["compiled"] == [True, False, False]
    assert json.loads(path.read_text())["schema_version"] == 2  # never rewritten


@pytest.mark.parametrize(
    ("version", "change", "message"),
    [
        (True, lambda run: None, "schema_version: 3 was expected"),  # True == 1 in Python
        (2, lambda run: run["history"].update(epoch="x"), "history.epoch: 'x' is not of type"),
        (1, lambda run: run.update(history=[]), "history: [] is not of type 'object'"),
    ],
)
def test_an_older_file_damaged_is_refused_naming_what_is_wrong(tmp_path, version, change, message):
    old = make_run("linear", 0, 0.87, epochs=3)
    del old["history"]["compiled"]
    old["schema_version"] = version
    change(old)
    path = tmp_path / "linear-seed0.json"
    path.write_text(json.dumps(old))
    with pytest.raises(results.ResultsError, match=re.escape(message)):
        results.read(path)
