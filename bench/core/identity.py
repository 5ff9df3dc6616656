"""What makes two runs the same run: the one definition.

``Identity`` lists every setting that changes what a run computes: the experiment's
hyperparameters, the model, the length, the seeds, the data and how it was drawn,
determinism and the Keras backend. Each field says where a results file keeps it (``at``)
and its JSON Schema (``schema``), and whether it is part of the set-up (``SETUP``): what
the runs of one run set, and two sets held against each other, share. The experiment, its
schedule, its seed and determinism may differ between them.

Everything that needs a run's identity reads it from here:

- ``of(run, dataset)``: the identity of a run about to train;
- ``results_fields(identity)``: the parts of a results file it fills (``bench.keras.train``
  builds the file's ``experiment``, ``seed``, ``config``, ``dataset`` and ``environment``
  from it);
- ``from_results(results)``: the identity a results file records (resume, reuse, compare and
  the report read it); ``schema_at``: the fields' schemas where the results schema needs
  them; ``fill_old``: what a schema version 1 file meant by the fields it lacks;
- ``differences(a, b)``: the fields on which two identities differ, named.

The rate is one field, ``schedule``: the run's rate policy (``bench.core.rates``) as its
config at the run's length, with its formula's version, so results of another formula are
another run's. Files written before it was recorded hold it as ``config.schedule``,
``decay`` and ``plateau``, from which ``recorded`` rebuilds it.

A new setting is a new field here: the state, the results file, its schema, the reuse
check, ``compare`` and the report all follow.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import MISSING, dataclass, field
from typing import Any

from bench.core import backend, data, experiments, rates

_NUMBER = {"type": "number", "minimum": 0}
_COUNT = {"type": "integer", "minimum": 1}
_SEED = {"type": "integer", "minimum": 0, "maximum": 2**32 - 1}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _setting(
    at: tuple[str, ...],
    schema: dict[str, Any],
    *,
    setup: bool = True,
    desc: str = "",
    old: Any = MISSING,
    derived: Any = None,
) -> Any:
    """A field of the identity: where the results file keeps it, its schema, whether it
    is part of the set-up (which the runs of one set, and two sets compared, share), the
    value a schema version 1 file means by leaving it out (``old``), and for a field a
    file may lack, how its value follows from the rest of the file (``derived``)."""
    metadata = {"at": at, "schema": {**schema, "description": desc}, "setup": setup}
    return field(metadata={**metadata, "old": old, "derived": derived})


def _rate_policy(results: dict[str, Any]) -> dict[str, Any]:
    """The rate policy of a file written before the policy was recorded."""
    policy = rates.of_results(results)
    return _plain(policy.config(rates.course_of(results)))


_MODEL_ARGS = {
    "type": "object",
    "properties": {
        **{k: _COUNT for k in ("width", "height", "depth", "classes")},
        "stages": {"type": "array", "items": _COUNT, "minItems": 1},
        "filters": {"type": "array", "items": _COUNT, "minItems": 2},
        "reg": _NUMBER,
    },
    "required": ["width", "height", "depth", "classes", "stages", "filters", "reg"],
}


# A declarative table, laid out by ruff format.
@dataclass(frozen=True)
class Identity:
    """Every setting of one run that changes what it computes."""

    experiment: str = _setting(
        ("experiment",),
        {"enum": list(experiments.ALL)},
        setup=False,
        desc="bench.core.experiments name",
    )
    init_lr: float = _setting(
        ("config", "init_lr"), _NUMBER, setup=False, desc="the optimizer's initial rate"
    )
    momentum: float = _setting(
        ("config", "momentum"),
        {"type": "number", "minimum": 0, "maximum": 1},
        desc="SGD's momentum",
    )
    loss: str = _setting(("config", "loss"), {"type": "string"}, desc="Keras loss name")
    schedule: dict[str, Any] = _setting(
        ("config", "rate_policy"),
        rates.CONFIG_SCHEMA,
        setup=False,
        desc="the rate policy at the run's length, with its formula's version (files "
        "written before it was recorded lack it: it follows from schedule, decay, plateau)",
        derived=_rate_policy,
    )
    model_args: dict[str, Any] = _setting(
        ("config", "model_args"), _MODEL_ARGS, desc="ResNet.build's arguments"
    )
    epochs: int = _setting(
        ("config", "epochs"), _COUNT, desc="epochs trained; every history list has this length"
    )
    batch_size: int = _setting(("config", "batch_size"), _COUNT, desc="images per update")
    seed: int = _setting(("seed",), _SEED, setup=False, desc="keras.utils.set_random_seed's seed")
    dataset: str = _setting(("dataset", "name"), {"enum": list(data.DATASETS)})
    subset: int | None = _setting(
        ("dataset", "subset"), _nullable(_COUNT), desc="--subset asked for"
    )
    subset_seed: int | None = _setting(
        ("dataset", "subset_seed"),
        _nullable(_SEED),
        old=None,
        desc="the seed that drew --subset (null: none drawn, or a version 1 file, which did "
        "not record it)",
    )
    data_sha256: str = _setting(
        ("dataset", "sha256"),
        {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        desc="the images used",
    )
    deterministic: bool = _setting(
        ("config", "deterministic"),
        {"type": "boolean"},
        setup=False,
        desc="TensorFlow's op determinism on",
    )
    backend: str = _setting(
        ("environment", "backend"),
        {"enum": list(backend.KNOWN)},
        old=backend.DEFAULT,
        desc="Keras' backend",
    )


FIELDS = tuple(dataclasses.fields(Identity))
# What the runs of one set-up share, whatever their experiment and seed.
SETUP = tuple(f.name for f in FIELDS if f.metadata["setup"])


def _plain(value: Any) -> Any:
    """``value`` as JSON reads it back (tuples are lists), so two identities compare alike
    whether built here or read from a file."""
    return json.loads(json.dumps(value))


def course(run: experiments.Run, dataset: data.Dataset) -> rates.Course:
    """What ``run``'s rate policy knows of it, trained on ``dataset``."""
    e = run.experiment
    return e.course(e.epochs, experiments.steps_per_epoch(len(dataset.train_y), e.batch_size))


def of(run: experiments.Run, dataset: data.Dataset) -> Identity:
    """The identity of ``run`` trained on ``dataset``."""
    e = run.experiment
    return Identity(
        experiment=e.name,
        init_lr=e.init_lr,
        momentum=e.momentum,
        loss=experiments.LOSS,
        schedule=_plain(e.policy.config(course(run, dataset))),
        model_args=_plain({**e.model_args, "classes": len(dataset.class_names)}),
        epochs=e.epochs,
        batch_size=e.batch_size,
        seed=run.seed,
        dataset=run.dataset,
        subset=run.subset,
        subset_seed=run.subset_seed if run.subset is not None else None,
        data_sha256=dataset.sha256,
        backend=run.backend,
        deterministic=run.deterministic or backend.deterministic_from_environment(),
    )


def results_fields(identity: Identity) -> dict[str, Any]:
    """The parts of a results file the identity fills, nested as the file nests them."""
    placed: dict[str, Any] = {}
    for f in FIELDS:
        *parents, last = f.metadata["at"]
        node = placed
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = _plain(getattr(identity, f.name))
    return placed


def _get(results: dict[str, Any], at: tuple[str, ...]) -> Any:
    node: Any = results
    for key in at:
        node = node[key]
    return node


def _recorded_value(results: dict[str, Any], f: dataclasses.Field) -> Any:
    try:
        return _get(results, f.metadata["at"])
    except KeyError:
        if f.metadata["derived"] is None:
            raise
        return f.metadata["derived"](results)


def from_results(results: dict[str, Any]) -> Identity:
    """The identity a (validated) results file records."""
    return Identity(**{f.name: _recorded_value(results, f) for f in FIELDS})


def fill_old(results: dict[str, Any]) -> None:
    """Give a schema version 1 results file (before the subset's seed was recorded) the
    values it meant by leaving fields out, in place; a reader then reads it as a new one."""
    for f in FIELDS:
        *parents, last = f.metadata["at"]
        node: Any = results
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and last not in node and f.metadata["old"] is not MISSING:
            node[last] = f.metadata["old"]


def to_json(identity: Identity) -> dict[str, Any]:
    return _plain(dataclasses.asdict(identity))


def from_json(saved: dict[str, Any]) -> Identity:
    """An identity saved by ``to_json``, or by the release before the rate policy was
    recorded (its schedule's repr, decay and plateau); ``ValueError`` for anything else."""
    names = {f.name for f in FIELDS}
    if isinstance(saved, dict) and set(saved) == names | {"decay", "plateau"}:
        policy = rates.from_old_fields(saved)
        course = rates.Course(saved["init_lr"], saved["epochs"], 1)  # its args are the run's
        saved = {**saved, "schedule": _plain(policy.config(course))}
        del saved["decay"], saved["plateau"]
    if not isinstance(saved, dict) or set(saved) != names:
        raise ValueError("not a run's identity")
    return Identity(**saved)


def differences(a: Identity, b: Identity, among: tuple[str, ...] | None = None) -> list[str]:
    """The names of the fields (of ``among``, default all) on which ``a`` (recorded) and
    ``b`` differ, sorted; a schedule whose formula alone changed is named with both
    versions."""
    names = among if among is not None else tuple(f.name for f in FIELDS)
    differ = sorted(n for n in names if _plain(getattr(a, n)) != _plain(getattr(b, n)))
    return [_formula_change(a.schedule, b.schedule) if n == "schedule" else n for n in differ]


def _formula_change(was: dict[str, Any], now: dict[str, Any]) -> str:
    """ "schedule", or where only the formula's version differs, which schedule's, and how."""
    if {**was, "formula": None} != {**now, "formula": None}:
        return "schedule"
    named = was.get("schedule", was.get("kind"))
    return f"schedule: {named}'s formula {was.get('formula')} recorded, {now.get('formula')} now"


def setup_of(identity: Identity) -> dict[str, Any]:
    """The set-up part of an identity, as JSON keeps it (plan.json records it)."""
    return {name: _plain(getattr(identity, name)) for name in SETUP}


def setup_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Each set-up field on which two set-ups differ, with both values, shortened."""

    def shown(value: Any) -> str:
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 40 else text[:38] + "…"

    differ = [k for k in SETUP if _plain(a.get(k)) != _plain(b.get(k))]
    return [f"{k} {shown(a.get(k))} vs {shown(b.get(k))}" for k in differ]


def schema_at(*at: str, required: bool = True) -> dict[str, Any]:
    """For the results schema: the schemas of the identity fields kept directly under ``at``
    that every file holds (``required``), or else those a file may lack (``derived``), by
    the name the file gives them."""
    return {
        f.metadata["at"][-1]: f.metadata["schema"]
        for f in FIELDS
        if f.metadata["at"][:-1] == at and (f.metadata["derived"] is None) == required
    }


# CIFAR-10 as the post trained on it: 50,000 training and 10,000 test images, 1,000 test
# images of each of its ten classes (and 5,000 training ones, which the counts imply here).
CIFAR10_COUNTS = {"train_images": 50_000, "test_images": 10_000, "steps_per_epoch": 391}
CIFAR10_TEST_PER_CLASS = 1_000


def _is_cifar10(results: dict[str, Any]) -> bool:
    """Whether a results file's data is CIFAR-10 by what it is, not by its name: a file in
    CIFAR-10's format with other counts (a 50-image fixture, say) is not the post's data."""
    dataset, report = results["dataset"], results["evaluation"]["report"]
    classes = [row for name, row in report.items() if name in data.CIFAR10_CLASSES]
    return (
        dataset["name"] == "cifar10"
        and all(dataset[k] == v for k, v in CIFAR10_COUNTS.items())
        and len(classes) == len(data.CIFAR10_CLASSES)
        and all(row["support"] == CIFAR10_TEST_PER_CLASS for row in classes)
    )


def comparable_with_post(results: dict[str, Any]) -> bool:
    """Whether a (validated) results file used the post's set-up (its data, whole, and its
    epochs, batch size and model), so its numbers can be held against the post's."""
    config, dataset = results["config"], results["dataset"]
    return (
        _is_cifar10(results)
        and dataset["subset"] is None
        and config["epochs"] == experiments.EPOCHS
        and config["batch_size"] == experiments.BATCH_SIZE
        and config["model_args"] == _plain(experiments.MODEL_ARGS)
    )
