"""The results file of one training run: its one definition, how it is built, written, read.

One JSON object per run. ``SCHEMA`` below is the definition: every field any reader uses,
its type and range, with a description; ``validate`` checks a whole file against it (with
``jsonschema``) and adds what JSON Schema cannot say: every per-epoch list is
``config.epochs`` long, ``history.epoch`` runs 1..N, and no number is NaN or infinite.
``consistency`` adds the invariants between fields (accuracy against its report, the last
epoch against the evaluation, the logged rates against the recorded schedule). ``build``
makes a results dict (training and the tests' examples both use it); ``write``
writes one whole or not at all; ``read`` gives a validated one or a ``ResultsError``
(a ``ValueError``) naming the file and the field.
"""

from __future__ import annotations

import functools
import json
import math
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from bench.core import backend, consistency, files, identity

# Version 3 (this release) records which epochs traced and compiled (``history.compiled``:
# the first epoch of each process, so epoch 1 and the first after each resume). Version 2
# added the seed that drew --subset. Older files are read as version 3, never rewritten:
# version 1 as having no subset seed (``identity.fill_old``), versions 1 and 2 as having
# compiled in epoch 1 alone - what they assumed, and all they can say (``_migrated``).
SCHEMA_VERSION = 3
# Keras' own per-epoch metrics, and the suite's measures (bench.keras.train.EpochLog).
KERAS_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
MEASURES = ("lr", "seconds", "ms_per_step", "images_per_second", "compiled")
HISTORY_KEYS = ("epoch", *KERAS_METRICS, *MEASURES)


def _number(minimum: float = -math.inf, maximum: float = math.inf, desc: str = "") -> dict:
    schema: dict[str, Any] = {"type": "number", "description": desc}
    if minimum > -math.inf:
        schema["minimum"] = minimum
    if maximum < math.inf:
        schema["maximum"] = maximum
    return schema


def _count(desc: str, minimum: int = 1) -> dict:
    return {"type": "integer", "minimum": minimum, "description": desc}


def _text(desc: str) -> dict:
    return {"type": "string", "description": desc}


def _obj(desc: str, required: dict[str, dict], optional: dict[str, dict] | None = None) -> dict:
    return {
        "type": "object",
        "description": desc,
        "properties": {**required, **(optional or {})},
        "required": list(required),
    }


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}], "description": schema.get("description", "")}


def _series(item: dict, desc: str) -> dict:
    return {"type": "array", "items": item, "description": f"per epoch: {desc}"}


_FRACTION = _number(0, 1)
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}
# Bounds far past any real run, so that no sum or median of timings overflows a float: an
# epoch of four months; a billion images a second (the post's GPU did 1,488).
MAX_EPOCH_SECONDS = 1e7
MAX_IMAGES_PER_SECOND = 1e9
_CLASS_ROW = _obj(
    "scikit-learn's figures for one class or average",
    {k: _FRACTION for k in ("precision", "recall", "f1-score")} | {"support": _number(0)},
)

# The definition of a results file. A declarative table: longer than a screen on purpose.
SCHEMA: dict[str, Any] = _obj(
    "one training run",
    {
        "schema_version": {
            "const": SCHEMA_VERSION,
            "description": "readers migrate versions 1 and 2 and refuse others",
        },
        **identity.schema_at(),  # experiment, seed
        "config": _obj(
            "what the run was built from",
            {
                **identity.schema_at("config"),
                "forward_flops_per_image": _number(0, desc="FLOPs of one forward pass"),
                "decay": _number(0, desc="the optimizer's time-based decay (standard)"),
                "schedule": _nullable(_text("repr of the schedule at the run's length")),
                "plateau": _nullable({"type": "object", "description": "its arguments"}),
            },
            {
                **identity.schema_at("config", required=False),
                "per_iteration": {"type": "boolean", "description": "rate set every update"},
                "lr_source": _nullable(_text("where base_lr/max_lr came from (lr-find)")),
            },
        ),
        "dataset": _obj(
            "the images actually used",
            {
                **identity.schema_at("dataset"),
                "train_images": _count("training images"),
                "test_images": _count("test (validation) images"),
                "steps_per_epoch": _count("updates per epoch"),
                "source": _text("where it was read from"),
            },
        ),
        "environment": _obj(
            "where it ran",
            {
                **identity.schema_at("environment"),
                **{k: _text(k) for k in ("python", "keras", "numpy")},
                "tensorflow": _nullable(_text("null where Keras ran JAX or PyTorch")),
                **{k: _nullable(_text(k)) for k in ("cuda", "cudnn", "git_commit")},
                "devices": {"type": "array", "items": _text("TYPE: name"), "minItems": 1},
                "cpu": _text("CPU model"),
                "cpu_count": _nullable(_count("cores")),
                "platform": _text("platform.platform()"),
            },
            {k: _text(f"{k} version, where installed") for k in backend.OTHER_PACKAGES},
        ),
        "started": _text("ISO 8601 UTC"),
        "finished": _text("ISO 8601 UTC"),
        "history": _obj(
            "Keras' per-epoch metrics and the suite's measures",
            {
                "epoch": _series(_count("1-based"), "1, 2, ... as Keras prints it"),
                "loss": _series(_number(0), "training loss"),
                "accuracy": _series(_FRACTION, "training accuracy"),
                "val_loss": _series(_number(0), "test-set loss"),
                "val_accuracy": _series(_FRACTION, "test-set accuracy"),
                "lr": _series(_number(0), "the rate applied to the epoch's last batch"),
                "seconds": _series(_number(0, MAX_EPOCH_SECONDS), "wall time, validation included"),
                "ms_per_step": _series(_POSITIVE, "training time / steps"),
                "images_per_second": _series(
                    {**_POSITIVE, "maximum": MAX_IMAGES_PER_SECOND},
                    "training images / training time",
                ),
                "compiled": _series(
                    {"type": "boolean"},
                    "the first epoch of its process: "
                    "it traced and compiled, so its times are not steady",
                ),
            },
        ),
        "evaluation": _obj(
            "the test set after the last epoch",
            {
                "accuracy": _FRACTION,
                "report": {
                    "type": "object",
                    "description": "classification_report(output_dict=True)",
                    "properties": {"accuracy": _FRACTION},
                    "required": ["accuracy", "macro avg", "weighted avg"],
                    "additionalProperties": _CLASS_ROW,
                    "minProperties": 4,
                },
                "report_text": _text("the report as the post prints it"),
            },
        ),
    },
)


class ResultsError(ValueError):
    """A results file is missing, unreadable or does not follow the schema."""


_NAME = re.compile(r"^(?P<experiment>.+)-seed(?P<seed>\d+)\.json$")


def file_name(experiment: str, seed: int) -> str:
    return f"{experiment}-seed{seed}.json"


def named_experiment(stem: str) -> str | None:
    """The experiment a results file's name without ``.json`` says it holds ("step-seed0":
    step), or None for another name."""
    named = _NAME.match(f"{stem}.json")
    return named["experiment"] if named else None


@functools.cache  # the schema is compiled once, not for every file read
def _validator() -> Any:

    return Draft202012Validator(SCHEMA)


def _where(error: Any) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return f"{path or 'the file'}: {error.message}"


def validate(results: Any, where: str = "results") -> dict[str, Any]:
    """``results`` if every field follows ``SCHEMA``, else ``ResultsError`` naming one."""
    if not isinstance(results, dict):
        raise ResultsError(f"{where}: not a JSON object")
    if files.nesting(results) > files.MAX_DEPTH:  # jsonschema and json.dumps recurse
        raise ResultsError(f"{where}: nested deeper than {files.MAX_DEPTH} levels")

    error = best_match(_validator().iter_errors(results))
    if error is not None:
        raise ResultsError(f"{where}: {_where(error)}")
    try:
        json.dumps(results, allow_nan=False)
    except ValueError:
        raise ResultsError(f"{where}: holds a NaN or infinite number") from None
    epochs, history = results["config"]["epochs"], results["history"]
    for key in HISTORY_KEYS:
        if len(history[key]) != epochs:
            raise ResultsError(
                f"{where}: history.{key} must list {epochs} epochs, has {len(history[key])}"
            )
    if history["epoch"] != list(range(1, epochs + 1)):
        raise ResultsError(f"{where}: history.epoch must run 1..{epochs}")
    if not history["compiled"][0]:
        raise ResultsError(f"{where}: history.compiled must be true for epoch 1 (it compiles)")
    broken = consistency.problems(results)
    if broken:
        raise ResultsError(f"{where}: {broken[0]} (the file contradicts itself)")
    return results


def build(**fields: Any) -> dict[str, Any]:
    """A validated results dict from its top-level fields (all but ``schema_version``),
    as a reader will read it back (tuples become lists, numpy numbers Python ones)."""
    try:
        text = json.dumps(
            {"schema_version": SCHEMA_VERSION, **fields}, allow_nan=False, default=_plain
        )
    except ValueError:
        raise ResultsError("results: holds a NaN or infinite number") from None
    return validate(json.loads(text))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # a numpy scalar
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def write(path: Path, results: dict[str, Any]) -> Path:
    """Validate ``results`` and write it to ``path`` atomically."""
    validate(results, str(path))
    text = json.dumps(results, indent=1, allow_nan=False) + "\n"
    return files.atomic_write(Path(path), lambda f: f.write(text.encode("utf-8")))


def _migrated(results: Any) -> Any:
    """A version 1 or 2 file as version 3 reads it (in memory only)."""
    version = results.get("schema_version") if isinstance(results, dict) else None
    if type(version) is not int or version not in (1, 2):  # True == 1, but no version
        return results
    if version == 1:
        identity.fill_old(results)
    history = results.get("history")
    if isinstance(history, dict):  # else the schema names what is wrong with it
        epochs = history.get("epoch")
        history.setdefault(
            "compiled", [i == 0 for i in range(len(epochs))] if isinstance(epochs, list) else []
        )
    results["schema_version"] = SCHEMA_VERSION
    return results


def read(path: Path) -> dict[str, Any]:
    """The validated results in ``path``; its name must say its experiment and seed."""
    try:
        results = files.read_json(path)
    except ValueError as exc:
        raise ResultsError(str(exc)) from None
    validate(_migrated(results), str(path))
    named = _NAME.match(Path(path).name)
    if named and file_name(results["experiment"], results["seed"]) != Path(path).name:
        raise ResultsError(
            f"{path}: holds {results['experiment']} seed {results['seed']}, "
            "not what its name says (a copied file?)"
        )
    return results
