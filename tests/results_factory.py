"""Hand-made results files (no training) for tests of bench.report and bench.compare, built
through ``bench.results.build``, so every example follows the one schema."""

import copy
import functools
import json

import golden_rates

from bench.core import backend, data, experiments, results
from bench.run import runset

# The backend Keras runs in the tests (KERAS_BACKEND): a hand-made run beside a trained one
# must be of the same set-up.
ENVIRONMENT = {
    "python": "3.11.7",
    "tensorflow": "2.x",
    "keras": "3.x",
    "numpy": "2.x",
    "cuda": None,
    "cudnn": None,
    "cpu": "test CPU",
    "cpu_count": 2,
    "platform": "Linux",
    "git_commit": None,
    "backend": backend.configured(),
}
STEPS = golden_rates.POST_STEPS  # 391 updates an epoch


def _schedule(experiment, epochs):
    """The repr a run of ``epochs`` epochs at the post's 391 steps records."""
    schedule = experiment.schedule(epochs, STEPS)
    return repr(schedule) if schedule is not None else None


def make_run(name, seed, accuracy, epochs=100, dataset="cifar10", device="CPU: x", ms=20.0):
    """A results dict in the post's set-up whose final accuracy is ``accuracy``: a fresh
    copy each call (tests change them), of a file built once per set of arguments."""
    return copy.deepcopy(_built(name, seed, accuracy, epochs, dataset, device, ms))


def _text(run):
    """``run`` as ``results.write`` writes it."""
    return json.dumps(run, indent=1, allow_nan=False) + "\n"


# The texts of the runs ``results.build`` validated: a test that writes one unchanged
# writes the same bytes as ``results.write`` would, without validating it a second time.
_VALIDATED = set()


def _validated_text(run):
    """``run``'s text where ``results.build`` validated that very run, else None."""
    try:
        text = _text(run)
    except (TypeError, ValueError):  # not JSON: results.write says why
        return None
    return text if text in _VALIDATED else None


@functools.lru_cache(maxsize=256)
def _built(name, seed, accuracy, epochs, dataset, device, ms):
    experiment = experiments.get(name)
    # history.lr from golden/derive_schedules.py, not from bench's own schedules: every
    # report or comparison test that reads it checks bench against the derivation, and so
    # does the reader's consistency check of the file. Plateau's rate depends on the
    # losses; a constant one stands in.
    lr = golden_rates.last_update_rates(name, epochs, STEPS) or [0.1] * epochs
    per_class = {c: {"support": 1000} for c in data.CIFAR10_CLASSES}
    average = {"support": 10_000}
    model = {**experiments.MODEL_ARGS, "stages": [9, 9, 9], "filters": [64, 64, 128, 256]}
    run = results.build(
        experiment=name,
        config={
            "epochs": epochs,
            "batch_size": 128,
            "init_lr": 0.1,
            "momentum": 0.9,
            "decay": experiment.decay(epochs),
            "schedule": _schedule(experiment, epochs),
            "deterministic": False,
            "plateau": experiment.plateau,
            "loss": experiments.LOSS,
            "model_args": model,
            "forward_flops_per_image": 265_163_776,
        },
        seed=seed,
        dataset={
            "name": dataset,
            "subset": None,
            "subset_seed": None,
            "train_images": 50_000,
            "test_images": 10_000,
            "steps_per_epoch": STEPS,
            "source": "test",
            "sha256": "ab" * 32,
        },
        environment={**ENVIRONMENT, "devices": [device]},
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T01:00:00+00:00",
        history={
            "epoch": list(range(1, epochs + 1)),
            "loss": [1.0 + seed / 1000] * epochs,  # two seeds never train alike
            "accuracy": [0.9] * epochs,
            "val_loss": [0.7] * epochs,
            "val_accuracy": [accuracy] * epochs,
            "lr": lr,
            **timings([90.0] + [ms] * (epochs - 1)),
            "compiled": [True] + [False] * (epochs - 1),
        },
        evaluation=_evaluation(
            accuracy, {**per_class, "macro avg": average, "weighted avg": average}
        ),
    )
    _VALIDATED.add(_text(run))
    return run


VALIDATION_SECONDS = 2.18  # with 20 ms/step over 391 steps, 10.0 s an epoch


def timings(ms_per_step, steps=391, images=50_000):
    """The three timing series of epochs that took ``ms_per_step``, as EpochLog measures
    them: one training time each, over ``steps`` steps of ``images``, plus validation."""
    trained = [ms * steps / 1000 for ms in ms_per_step]
    return {
        "ms_per_step": list(ms_per_step),
        "images_per_second": [images / t for t in trained],
        "seconds": [t + VALIDATION_SECONDS for t in trained],
    }


def retime(run, ms_per_step=None):
    """``run``'s timings redone for its dataset's counts (and ``ms_per_step``, if given)."""
    history, dataset = run["history"], run["dataset"]
    steps, images = dataset["steps_per_epoch"], dataset["train_images"]
    history.update(timings(ms_per_step or history["ms_per_step"], steps, images))
    return run


def _evaluation(accuracy, report):
    """The evaluation of a run whose every class (and so every average) scored
    ``accuracy`` in precision, recall and F1."""
    for row in report.values():
        row.update({"precision": accuracy, "recall": accuracy, "f1-score": accuracy})
    return {"accuracy": accuracy, "report": {**report, "accuracy": accuracy}, "report_text": ""}


def shift_accuracy(run, by):
    """``run``'s final accuracy moved by ``by``, everywhere the file states it (the
    evaluation, its report, the last epoch), so the file still agrees with itself."""
    accuracy = run["evaluation"]["accuracy"] + by
    report = {k: v for k, v in run["evaluation"]["report"].items() if k != "accuracy"}
    run["evaluation"] = _evaluation(accuracy, report)
    run["history"]["val_accuracy"][-1] = accuracy


def folder_of(tmp_path, runs, plan=None, *, raw=False):
    """A run set of ``runs``; ``raw`` writes them as they are, where a test has damaged
    them on purpose (``results.write`` would refuse to)."""
    for run in runs:
        path = runset.results_path(tmp_path, run["experiment"], run["seed"])
        text = None if raw else _validated_text(run)
        if raw or text is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(run) if raw else text)
        else:
            results.write(path, run)
    if plan is not None:
        runset.write_plan(tmp_path, plan)
    return tmp_path


# A run that trains in seconds: `bench train` of one epoch on 20 digits, the quick model.
TINY = ["--dataset", "digits", "-e", "1", "--subset", "20", "--model", "quick"]


def finished_tiny(out, name="linear", seed=42, epochs=1, accuracy=0.5):
    """A finished TINY run of ``name`` in ``out`` (``bench train``'s layout; ``epochs``
    overrides TINY's -e 1), exactly as training records it: a command that asks for that
    run trains nothing."""
    tiny = data.subset(data.load_digits(), 20, seed=0)  # --subset-seed's default
    experiment = experiments.configure(name, epochs=epochs, model="quick")
    run = make_run(name, seed, accuracy, epochs=epochs, dataset="digits")
    run["dataset"].update(subset=20, subset_seed=0, sha256=tiny.sha256)
    quick = {**experiments.QUICK_MODEL_ARGS, "stages": [1, 1, 1], "filters": [32, 32, 64, 128]}
    run["config"].update(model_args=quick, schedule=repr(experiment.schedule(epochs, 1)))
    path = runset.results_path(out, name, seed, in_runs=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run))
    return path
