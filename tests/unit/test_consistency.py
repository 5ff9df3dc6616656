"""A results file agrees with itself (issue 20, class 3): each invariant of
bench.core.consistency, broken in generated ways that every one still passes the schema,
is refused naming its field; the report lists such a file as a failed run, never a row.
Real files (the committed quick reproduction's, trained here) and every hand-made
experiment pass."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from results_factory import VALIDATION_SECONDS, folder_of, make_run
from tiers import examples

from bench.core import consistency, experiments, results
from bench.report import markdown
from bench.run import runset

ROOT = Path(__file__).resolve().parents[2]
REAL = sorted(ROOT.glob("reports/*/runs/*.json"))
NAMES = list(experiments.ALL)


def _copy(run):
    return json.loads(json.dumps(run))


@pytest.mark.parametrize("path", REAL, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_trained_files_agree_with_themselves(path):
    assert consistency.problems(results.read(path)) == []


@pytest.mark.parametrize("name", NAMES)
def test_every_experiment_made_by_hand_agrees_with_itself(name):
    assert consistency.problems(make_run(name, 0, 0.8, epochs=12)) == []


def _refused(run, field):
    with pytest.raises(results.ResultsError, match=rf"{field}.*contradicts itself"):
        results.validate(run)


@settings(max_examples=examples(100))
@given(
    name=st.sampled_from(NAMES),
    delta=st.floats(1e-6, 0.5).map(lambda d: round(d, 9)),
    sign=st.sampled_from([-1, 1]),
)
def test_an_accuracy_unlike_its_report_is_refused(name, delta, sign):
    run = _copy(make_run(name, 0, 0.5, epochs=3))
    run["evaluation"]["accuracy"] = 0.5 + sign * delta
    run["history"]["val_accuracy"][-1] = 0.5 + sign * delta  # only the report disagrees
    _refused(run, "evaluation.accuracy")


@settings(max_examples=examples(100))
@given(
    name=st.sampled_from(NAMES),
    images=st.integers(1, 5_000).map(lambda n: n / 10_000),
    sign=st.sampled_from([-1, 1]),
)
def test_a_last_epoch_unlike_the_evaluation_is_refused(name, images, sign):
    run = _copy(make_run(name, 0, 0.5, epochs=3))
    run["history"]["val_accuracy"][-1] = 0.5 + sign * images  # one image or more
    _refused(run, "history.val_accuracy")


@settings(max_examples=examples(100))
@given(
    name=st.sampled_from([n for n in NAMES if n != "plateau"]),
    epoch=st.integers(0, 11),
    factor=st.floats(1.00001, 3.0) | st.floats(0.0, 0.99999),
)
def test_a_logged_rate_unlike_the_schedule_is_refused_at_its_epoch(name, epoch, factor):
    run = _copy(make_run(name, 0, 0.8, epochs=12))
    run["history"]["lr"][epoch] *= factor
    if run["history"]["lr"][epoch] == make_run(name, 0, 0.8, epochs=12)["history"]["lr"][epoch]:
        return  # a rate of 0 times anything: nothing changed
    _refused(run, f"history.lr: epoch {epoch + 1} logs")


@settings(max_examples=examples(100))
@given(name=st.sampled_from(NAMES), other=st.sampled_from(NAMES))
def test_a_schedule_of_another_kind_is_refused(name, other):
    mine, theirs = experiments.get(name), experiments.get(other)
    if mine.schedule_class == theirs.schedule_class:
        return
    run = _copy(make_run(name, 0, 0.8, epochs=12))
    run["config"]["schedule"] = make_run(other, 0, 0.8, epochs=12)["config"]["schedule"]
    _refused(run, "config.schedule")


@settings(max_examples=examples(100))
@given(
    name=st.sampled_from(NAMES),
    dropped=st.lists(st.integers(0, 9), unique=True, max_size=3),
    added=st.lists(st.text(min_size=1, max_size=8), max_size=3),
)
def test_a_report_without_a_row_for_each_class_is_refused(name, dropped, added):
    run = _copy(make_run(name, 0, 0.8, epochs=3))
    report = run["evaluation"]["report"]
    classes = list(consistency.class_rows(report))
    for i in dropped:
        del report[classes[i]]
    for label in added:
        if label not in consistency.AVERAGES:
            report[label] = dict(report["macro avg"], support=0)
    if len(report) - 3 == 10:
        return  # as many rows as before: the supports' test's to catch
    _refused(run, "evaluation.report: .* class rows for a model of 10 classes")


@settings(max_examples=examples(100))
@given(
    name=st.sampled_from(NAMES),
    where=st.sampled_from([*range(10), "avg"]),
    support=st.integers(0, 20_000) | st.floats(0, 20_000),
)
def test_supports_that_do_not_add_up_to_the_test_set_are_refused(name, where, support):
    run = _copy(make_run(name, 0, 0.8, epochs=3))
    report = run["evaluation"]["report"]
    if where == "avg":
        report["weighted avg"]["support"] = support
    else:
        report[list(consistency.class_rows(report))[where]]["support"] = support
    if support == (10_000 if where == "avg" else 1_000):
        return  # unchanged
    _refused(run, "evaluation.report: .*(supports add up to|has support)")


@settings(max_examples=examples(100))
@given(
    name=st.sampled_from(NAMES),
    row=st.sampled_from([*range(10), "macro avg", "weighted avg"]),
    key=st.sampled_from(["precision", "recall", "f1-score"]),
    value=st.floats(0, 1),
)
def test_a_report_figure_unlike_the_others_is_refused(name, row, key, value):
    """The helper's case: a class's F1 edited to 0.99, its precision and recall left."""
    run = _copy(make_run(name, 0, 0.8, epochs=3))
    report = run["evaluation"]["report"]
    row = row if isinstance(row, str) else list(consistency.class_rows(report))[row]
    if abs(report[row][key] - value) < 1e-4:
        return  # within the report's rounding: unchanged
    report[row][key] = value
    _refused(run, "evaluation.report: ")


@settings(max_examples=examples(100))
@given(
    name=st.sampled_from(NAMES),
    epoch=st.integers(0, 2),
    field=st.sampled_from(["ms_per_step", "images_per_second", "seconds"]),
    factor=st.floats(1.001, 1e4) | st.floats(1e-6, 0.999),
)
def test_timings_that_do_not_add_up_are_refused(name, epoch, field, factor):
    run = _copy(make_run(name, 0, 0.8, epochs=3))
    history = run["history"]
    if field == "seconds":  # longer is more validation; shorter than its training is not
        factor = min(factor, 0.999)
        history["seconds"][epoch] = (history["seconds"][epoch] - VALIDATION_SECONDS) * factor
    else:
        history[field][epoch] *= factor
    _refused(run, "history.(images_per_second|seconds): epoch")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ms_per_step", 0.0, "history.ms_per_step.1: 0.0 is less than or equal to the minimum"),
        ("ms_per_step", 1.7e308, "history.images_per_second: epoch 2"),
        ("images_per_second", 1.7e308, "history.images_per_second.1: 1.7e+308 is greater"),
        ("seconds", 1.7e308, "history.seconds.1: 1.7e+308 is greater"),
    ],
)
def test_the_helpers_timings_are_refused(field, value, message):
    """Each made ``compare`` divide by zero, print "inf" or overflow ``fmean``."""
    run = _copy(make_run("step", 0, 0.8, epochs=3))
    run["history"][field][1] = value
    with pytest.raises(results.ResultsError, match=re.escape(message)):
        results.validate(run)


@pytest.mark.parametrize(
    "text",
    [
        "StepDecay(initAlpha=__import__('os').getcwd())",
        "os.system('true')",
        "StepDecay(0.1, 0.25, 15)",
        "x" * 5000,
    ],
)
def test_a_schedule_text_is_never_run(text):
    with pytest.raises(ValueError, match="is not a bench schedule"):
        consistency.parse_schedule(text)


def test_the_issues_edited_accuracy_is_a_failed_run_not_first(tmp_path):
    """0.99 edited into a file whose report says 0.09: listed as failed, never ranked."""
    runs = [make_run("step", 0, 0.87), make_run("linear", 0, 0.09)]
    runs[1]["evaluation"]["accuracy"] = 0.99
    runs[1]["history"]["val_accuracy"][-1] = 0.99
    folder_of(tmp_path, runs, raw=True)
    assert list(runset.load(tmp_path).runs) == ["step"]
    text = markdown.render(tmp_path)
    assert "99.00" not in text and "linear-seed0: unreadable results:" in text
    assert "evaluation.accuracy: 0.99 but its classification report says 0.09" in text


@settings(max_examples=examples(100))
@given(data=st.data())
def test_every_consistent_file_written_is_read_back_unchanged(tmp_path_factory, data):
    name = data.draw(st.sampled_from(NAMES))
    run = make_run(name, data.draw(st.integers(0, 5)), data.draw(st.floats(0, 1)), epochs=4)
    path = tmp_path_factory.mktemp("one") / results.file_name(name, run["seed"])
    results.write(path, run)
    assert results.read(path) == run
