"""A results file agrees with itself: every field a reader uses, checked against the others.

The schema (``bench.core.results``) checks each field alone; these invariants check them
together, each written once:

- ``evaluation.accuracy`` is its own classification report's accuracy;
- the last epoch's ``val_accuracy`` (Keras on the test set) counts the same number of
  correct test images as the evaluation (within half an image: float32 rounding);
- ``history.lr`` is what the recorded schedule gives each epoch's last batch (the logged
  float32 of it), for every schedule but the plateau's, which follows the losses;
- ``config.schedule`` is of the experiment's kind (a step experiment's is a StepDecay);
- the classification report has a row for each of the model's ``classes``, whose supports
  (whole numbers of images) add up to the test set, as do its averages' supports; each
  row's F1 is its precision's and recall's, the averages are the rows', and the recalls
  count the evaluation's correct images;
- each epoch's training time, ``ms_per_step`` x steps, trained its images at
  ``images_per_second`` and fits in its wall ``seconds`` (validation included).

A file that breaks one is invalid: the report lists it as a failed run, never as a row.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from bench.core import experiments, schedules

# A logged rate is the float32 of the schedule's, computed in float32 by Keras' own schedule
# for "standard": a few float32 ulps (2**-24 each, relatively) at most; a rate off by 1e-5
# relatively is already 80 ulps away.
LR_RTOL = 1e-6


def problems(results: dict[str, Any]) -> list[str]:
    """Each invariant ``results`` (schema-valid) breaks, as ``field: what``."""
    found = []
    for check in (_accuracy, _last_epoch, _schedule_kind, _rates, _classes, _report, _timing):
        found += check(results)
    return found


def _accuracy(results: dict[str, Any]) -> list[str]:
    evaluation = results["evaluation"]
    if not math.isclose(evaluation["accuracy"], evaluation["report"]["accuracy"], abs_tol=1e-9):
        return [f"evaluation.accuracy: {evaluation['accuracy']} but its classification report "
                f"says {evaluation['report']['accuracy']}"]  # fmt: skip
    return []


def _last_epoch(results: dict[str, Any]) -> list[str]:
    images = results["dataset"]["test_images"]
    last, evaluated = results["history"]["val_accuracy"][-1], results["evaluation"]["accuracy"]
    if abs(last - evaluated) * images >= 0.5:
        return [f"history.val_accuracy: the last epoch's {last} is not the evaluation's "
                f"{evaluated} on {images} test images"]  # fmt: skip
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
        return [f"evaluation.report: the classes' supports add up to {sum(supports)}, not "
                f"the {images} test images"]  # fmt: skip
    for average in AVERAGES[1:]:
        if report[average]["support"] != images:
            return [f"evaluation.report: {average} has support {report[average]['support']}, "
                    f"not the {images} test images"]  # fmt: skip
    return []


# Figures computed from the same counts agree to rounding: far tighter than any edit.
RTOL = 1e-9


def _timing(results: dict[str, Any]) -> list[str]:
    history, dataset = results["history"], results["dataset"]
    steps, images = dataset["steps_per_epoch"], dataset["train_images"]
    for epoch, (ms, ips, wall) in enumerate(
        zip(history["ms_per_step"], history["images_per_second"], history["seconds"],
            strict=True), 1):  # fmt: skip
        trained = ms * steps / 1000
        if not math.isclose(trained * ips, images, rel_tol=RTOL):
            return [f"history.images_per_second: epoch {epoch}'s {ips} is not its {images} "
                    f"images over {trained} s ({ms} ms/step x {steps} steps)"]  # fmt: skip
        if trained > wall * (1 + RTOL):
            return [f"history.seconds: epoch {epoch} took {wall} s, less than its {trained} s "
                    "of training"]  # fmt: skip
    return []


def _report(results: dict[str, Any]) -> list[str]:
    report, images = results["evaluation"]["report"], results["dataset"]["test_images"]
    named = class_rows(report)
    rows = list(named.values())
    for name, row in named.items():  # F1 of averages is the mean of F1s, not of P and R
        p, r = row["precision"], row["recall"]
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if not math.isclose(row["f1-score"], f1, rel_tol=1e-6, abs_tol=1e-9):
            return [f"evaluation.report: {name}'s f1-score {row['f1-score']} is not its "
                    f"precision's and recall's ({f1})"]  # fmt: skip
    for key in ("precision", "recall", "f1-score"):
        weighted = math.fsum(r[key] * r["support"] for r in rows) / images
        means = {"macro avg": math.fsum(r[key] for r in rows) / len(rows),
                 "weighted avg": weighted}  # fmt: skip
        for average, mean in means.items():
            if not math.isclose(report[average][key], mean, rel_tol=1e-6, abs_tol=1e-9):
                return [f"evaluation.report: {average} {key} {report[average][key]} is not "
                        f"the classes' ({mean})"]  # fmt: skip
    correct = math.fsum(r["recall"] * r["support"] for r in rows)
    if abs(correct - report["accuracy"] * images) >= 0.5:
        return [f"evaluation.report: the classes' recalls count {correct:.1f} correct images, "
                f"its accuracy {report['accuracy']} of {images}"]  # fmt: skip
    return []


def parse_schedule(text: str) -> schedules.LearningRateDecay:
    """The schedule a results file names by its repr, rebuilt without running any code:
    one of bench's schedule classes, called with literal keyword arguments."""
    try:
        call = ast.parse(text, mode="eval").body
        cls = experiments.SCHEDULE_CLASSES[call.func.id] if isinstance(call, ast.Call) else None
        if cls is None or call.args:
            raise ValueError
        return cls(**{k.arg: ast.literal_eval(k.value) for k in call.keywords})
    except (SyntaxError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise ValueError(f"config.schedule: {text[:80]!r} is not a bench schedule") from None


def _schedule_kind(results: dict[str, Any]) -> list[str]:
    expected = experiments.get(results["experiment"]).schedule_class
    text = results["config"]["schedule"]
    named = text.split("(", 1)[0] if text is not None else None
    if named != expected:
        return [f"config.schedule: {named or 'none'} where {results['experiment']} has "
                f"{expected or 'none'}"]  # fmt: skip
    return []


def _rates(results: dict[str, Any]) -> list[str]:
    config, lr = results["config"], results["history"]["lr"]
    if config["plateau"] is not None:
        return []
    try:
        schedule = (parse_schedule(config["schedule"]) if config["schedule"] is not None
                    else schedules.TimeBasedDecay(config["init_lr"], config["decay"]))  # fmt: skip
    except ValueError as exc:
        return [str(exc)]
    steps = results["dataset"]["steps_per_epoch"]
    want = schedule.epoch_table(config["epochs"], steps, "last")
    named = config["schedule"] or "the time-based rate"
    for epoch, (got, rate) in enumerate(zip(lr, want, strict=True), 1):
        if not math.isclose(got, rate, rel_tol=LR_RTOL, abs_tol=1e-30):
            return [f"history.lr: epoch {epoch} logs {got}, where {named} gives {rate}"]
    return []
