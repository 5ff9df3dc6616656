"""A results file agrees with itself: every field a reader uses, checked against the others.

The schema (``bench.core.results``) checks each field alone; these invariants check them
together, each written once:

- ``evaluation.accuracy`` is its own classification report's accuracy;
- the last epoch's ``val_accuracy`` (Keras on the test set) counts the same number of
  correct test images as the evaluation (within half an image: float32 rounding);
- the recorded rate policy (``bench.core.rates``) is of the experiment's kind (a step
  experiment's is a StepDecay), and ``config.decay``, ``schedule`` and ``plateau`` are its;
- ``history.lr`` is the history that policy says a finished run shows: each epoch's last
  batch's rate (the logged float32 of it), or for the plateau's, which follows the
  losses, its rule;
- the classification report has a row for each of the model's ``classes``, whose supports
  (whole numbers of images) add up to the test set, as do its averages' supports; each
  row's F1 is its precision's and recall's, the averages are the rows', and the recalls
  count the evaluation's correct images;
- each epoch's training time, ``ms_per_step`` x steps, trained its images at
  ``images_per_second`` and fits in its wall ``seconds`` (validation included).

A file that breaks one is invalid: the report lists it as a failed run, never as a row.
"""

from __future__ import annotations

import math
from typing import Any

from bench.core import experiments, rates


def problems(results: dict[str, Any]) -> list[str]:
    """Each invariant ``results`` (schema-valid) breaks, as ``field: what``."""
    found = []
    for check in (_accuracy, _last_epoch, _rate_policy, _classes, _report, _timing):
        found += check(results)
    return found


def _accuracy(results: dict[str, Any]) -> list[str]:
    evaluation = results["evaluation"]
    if not math.isclose(evaluation["accuracy"], evaluation["report"]["accuracy"], abs_tol=1e-9):
        return [
            f"evaluation.accuracy: {evaluation['accuracy']} but its classification report "
            f"says {evaluation['report']['accuracy']}"
        ]
    return []


def _last_epoch(results: dict[str, Any]) -> list[str]:
    images = results["dataset"]["test_images"]
    last, evaluated = results["history"]["val_accuracy"][-1], results["evaluation"]["accuracy"]
    if abs(last - evaluated) * images >= 0.5:
        return [
            f"history.val_accuracy: the last epoch's {last} is not the evaluation's "
            f"{evaluated} on {images} test images"
        ]
    return []


AVERAGES = ("accuracy", "macro avg", "weighted avg")


def class_rows(report: dict[str, Any]) -> dict[str, Any]:
    """A classification report's rows of its classes, by name (its averages left out)."""
    return {k: v for k, v in report.items() if k not in AVERAGES}


def _classes(results: dict[str, Any]) -> list[str]:
    report, images = results["evaluation"]["report"], results["dataset"]["test_images"]
    rows = class_rows(report)
    classes = results["config"]["model_args"]["classes"]
    if len(rows) != classes:
        return [f"evaluation.report: {len(rows)} class rows for a model of {classes} classes"]
    supports = [row["support"] for row in rows.values()]
    if any(s != int(s) for s in supports) or sum(supports) != images:
        return [
            f"evaluation.report: the classes' supports add up to {sum(supports)}, not "
            f"the {images} test images"
        ]
    for average in AVERAGES[1:]:
        if report[average]["support"] != images:
            return [
                f"evaluation.report: {average} has support {report[average]['support']}, "
                f"not the {images} test images"
            ]
    return []


# Figures computed from the same counts agree to rounding: far tighter than any edit.
RTOL = 1e-9


def _timing(results: dict[str, Any]) -> list[str]:
    history, dataset = results["history"], results["dataset"]
    steps, images = dataset["steps_per_epoch"], dataset["train_images"]
    for epoch, (ms, ips, wall) in enumerate(
        zip(history["ms_per_step"], history["images_per_second"], history["seconds"], strict=True),
        1,
    ):
        trained = ms * steps / 1000
        if not math.isclose(trained * ips, images, rel_tol=RTOL):
            return [
                f"history.images_per_second: epoch {epoch}'s {ips} is not its {images} "
                f"images over {trained} s ({ms} ms/step x {steps} steps)"
            ]
        if trained > wall * (1 + RTOL):
            return [
                f"history.seconds: epoch {epoch} took {wall} s, less than its {trained} s "
                "of training"
            ]
    return []


def _report(results: dict[str, Any]) -> list[str]:
    report, images = results["evaluation"]["report"], results["dataset"]["test_images"]
    named = class_rows(report)
    rows = list(named.values())
    for name, row in named.items():  # F1 of averages is the mean of F1s, not of P and R
        p, r = row["precision"], row["recall"]
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if not math.isclose(row["f1-score"], f1, rel_tol=1e-6, abs_tol=1e-9):
            return [
                f"evaluation.report: {name}'s f1-score {row['f1-score']} is not its "
                f"precision's and recall's ({f1})"
            ]
    for key in ("precision", "recall", "f1-score"):
        weighted = math.fsum(r[key] * r["support"] for r in rows) / images
        means = {"macro avg": math.fsum(r[key] for r in rows) / len(rows), "weighted avg": weighted}
        for average, mean in means.items():
            if not math.isclose(report[average][key], mean, rel_tol=1e-6, abs_tol=1e-9):
                return [
                    f"evaluation.report: {average} {key} {report[average][key]} is not "
                    f"the classes' ({mean})"
                ]
    correct = math.fsum(r["recall"] * r["support"] for r in rows)
    if abs(correct - report["accuracy"] * images) >= 0.5:
        return [
            f"evaluation.report: the classes' recalls count {correct:.1f} correct images, "
            f"its accuracy {report['accuracy']} of {images}"
        ]
    return []


def _rate_policy(results: dict[str, Any]) -> list[str]:
    """The recorded policy is the experiment's kind, the readable fields are its, and the
    logged rates are its history."""
    config = results["config"]
    try:
        policy = rates.of_results(results)
        course = rates.course_of(results)
        readable = policy.recorded(course)
    except ValueError as exc:
        return [str(exc)]
    expected = experiments.get(results["experiment"]).policy
    if (policy.kind, policy.schedule_name) != (expected.kind, expected.schedule_name):
        named, wanted = policy.schedule_name or policy.kind, expected.schedule_name or expected.kind
        return [f"config.schedule: {named} where {results['experiment']} has {wanted}"]
    for key, value in readable.items():
        if key in config and not _alike(config[key], value):
            return [f"config.{key}: {config[key]!r} where config.rate_policy gives {value!r}"]
    found = policy.problem(results["history"]["lr"], course)
    return [found] if found else []


def _alike(recorded: Any, derived: Any) -> bool:
    if isinstance(recorded, float) and isinstance(derived, float):
        return math.isclose(recorded, derived, rel_tol=1e-12, abs_tol=0.0)
    return recorded == derived
