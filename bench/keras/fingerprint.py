"""The training-step fingerprint: what one release's training step computes, in numbers
another release (or Keras backend) can be compared with (``bench.report.fingerprints``).

Final accuracy hides a changed default for many epochs and several seeds; the numbers of
the step itself show it at the first update it touches. So, for each of the post's five
set-ups, the post's ResNet starts from the same bits everywhere - every variable is
assigned from numpy, seeded per variable name, never from the backend's random ops - and
trains on numpy-made batches, one batch per epoch, so ``epochs`` updates walk the whole
schedule and every change of rate is exercised:

- step/linear/poly: Keras' own ``LearningRateScheduler`` sets the epoch's rate before
  each update, as in the post's ``fit``;
- standard: the post's time-based ``decay = 0.1 / epochs`` through ``compat.sgd`` (the
  legacy optimizer on Keras 2, ``InverseTimeDecay`` elsewhere), applied per update, so
  with one update per epoch the rate is ``0.1 / (1 + 0.001 t)``.

Recorded per update: the rate the optimizer applies (``compat.applied_lr``), the loss
(regularisation included) and, for every variable, the sum of squares of its change since
the start (BatchNorm's moving statistics included). At the end, each variable's sum, sum
of squares and largest absolute value.

The mutations (``Mutations``) are the changes a release could make to the step; the tests
apply each to one side and check the comparison names it.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from bench.core import data, experiments, formats
from bench.keras import compat
from bench.keras.compat import keras
from bench.keras.resnet import ResNet

SEED = 0
BATCH_SIZE = 8
# One bottleneck module per stage at the post's widths: the post's layer types, BatchNorm
# momentum and l2 factors, 13 convolutions instead of 85. The full (9, 9, 9) model takes
# minutes for 500 updates on 2 cores (docs/fingerprint.md has the measurement).
MODEL_ARGS: dict[str, Any] = {**experiments.MODEL_ARGS, "stages": (1, 1, 1)}
# Fixed pools: a sum split across another number of threads is summed in another order.
THREADS = 2


@dataclass(frozen=True)
class Mutations:
    """Changes to the post's training step, none by default: each is one a new release
    could make silently. ``bn_momentum`` None is the post's 0.9."""

    bn_momentum: float | None = None
    nesterov: bool = False
    l2_factor: float = 1.0  # times the post's reg=0.0005 (stem conv and classifier)
    step_delay: int = 0  # epochs the per-epoch schedule lags behind the post's
    ignore_decay: bool = False  # "standard" trains at a constant rate
    lr_factor: float = 1.0  # every rate applied, times this

    def changed(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v != getattr(Mutations(), k)}


def _pin_threads() -> None:
    try:
        compat.configure_worker(THREADS)
    except RuntimeError:  # the runtime started earlier in this process: its pools stay
        pass


def initial_values(names_shapes: list[tuple[str, tuple[int, ...]]], seed: int) -> list[Any]:
    """Each variable's start, from numpy alone: kernels He-normal from a generator seeded by
    ``seed`` and the variable's name (so no order of creation matters), BatchNorm's gamma
    and moving variance 1, biases, beta and moving mean 0."""
    values = []
    for name, shape in names_shapes:
        kind = name.rsplit("/", 1)[-1]
        if kind == "kernel":
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
            fan_in = int(np.prod(shape[:-1]))
            values.append(rng.standard_normal(shape) * np.sqrt(2.0 / fan_in))
        else:
            fill = 1.0 if kind in ("gamma", "moving_variance") else 0.0
            values.append(np.full(shape, fill))
    return [v.astype("float32") for v in values]


def named_variables(model: Any) -> list[tuple[str, Any]]:
    """(layer name/variable kind, variable) in layer order: the same names on Keras 2 and 3
    once the session's name counters are reset (``kernel``, ``gamma``, ``moving_mean``)."""
    found = []
    for layer in model.layers:
        for variable in layer.weights:
            kind = variable.name.split("/")[-1].split(":")[0]
            found.append((f"{layer.name}/{kind}", variable))
    return found


def batches(epochs: int, batch_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One numpy-made batch per epoch: images in [0, 1] (uint8 scaled, as the post's) and
    one-hot labels."""
    rng = np.random.default_rng([seed, 1])
    images = rng.integers(0, 256, size=(epochs, batch_size, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(epochs, batch_size))
    onehot = np.stack([data.one_hot(row, 10) for row in labels]).astype("float32")
    return images.astype("float32") / np.float32(255.0), onehot


def _model(model_args: dict[str, Any], mutations: Mutations, seed: int) -> tuple[Any, list]:
    keras.backend.clear_session()  # layer names from 0 again: the variables' names agree
    args = dict(model_args)
    args["reg"] = args["reg"] * mutations.l2_factor
    if mutations.bn_momentum is not None:
        args["bnMom"] = mutations.bn_momentum
    model = ResNet.build(**args)
    variables = named_variables(model)
    shapes = [(name, tuple(int(d) for d in v.shape)) for name, v in variables]
    for (_, variable), value in zip(variables, initial_values(shapes, seed), strict=True):
        variable.assign(value)
    return model, variables


def _optimizer_and_rate(name: str, epochs: int, mutations: Mutations) -> tuple[Any, Any]:
    """The set-up's optimizer, and the per-epoch rate callback (None for none/standard)."""
    experiment = experiments.get(name)
    decay = 0.0 if mutations.ignore_decay else experiment.decay(epochs)
    schedule = experiment.schedule(epochs, steps=1)
    if schedule is None:
        rate = experiment.init_lr * mutations.lr_factor
        return compat.sgd(rate, experiment.momentum, decay, mutations.nesterov), None

    def rate_of(epoch: int) -> float:
        return float(mutations.lr_factor * schedule(max(0, epoch - mutations.step_delay)))

    optimizer = compat.sgd(rate_of(0), experiment.momentum, 0.0, mutations.nesterov)
    return optimizer, keras.callbacks.LearningRateScheduler(rate_of)


def _g(value: float) -> float:
    """Ten significant digits: far below any tolerance, and the file a third of the size."""
    return float(f"{value:.10g}")


def _sumsq(values: np.ndarray) -> float:
    return _g(float(np.sum(np.square(values, dtype=np.float64))))


def _numpy(variable: Any) -> np.ndarray:
    return np.asarray(compat.ops.convert_to_numpy(variable), dtype=np.float64)


class _Recorder(keras.callbacks.Callback):
    """Per update (one batch per epoch): the rate the optimizer applies, the loss (the
    epoch's, so the batch's), and each variable's sum of squares of its change."""

    def __init__(self, variables: list[tuple[str, Any]], trace: dict[str, Any]) -> None:
        super().__init__()
        self.variables = variables
        self.start = [_numpy(v) for _, v in variables]
        self.trace = trace

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.trace["lr"].append(_g(compat.applied_lr(self.model.optimizer, epoch)))

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:  # JAX syncs variables here
        self.trace["loss"].append(_g(float(np.ravel(logs["loss"])[0])))
        for (n, variable), first in zip(self.variables, self.start, strict=True):
            self.trace["moved"][n].append(_sumsq(_numpy(variable) - first))


def _one_batch_per_epoch(images: np.ndarray, labels: np.ndarray) -> Iterator[tuple]:
    """A generator, as ``fit`` takes on every Keras: batch k in epoch k."""
    yield from zip(images, labels, strict=True)


def setup_trace(
    name: str,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = SEED,
    model_args: dict[str, Any] | None = None,
    mutations: Mutations = Mutations(),
) -> tuple[dict, list[str]]:
    """One set-up's burst: per update its rate, loss and each variable's movement; at the
    end each variable's summary. Returns it with the variables' names.

    One ``fit`` over one batch per epoch, as the post trains: the step is traced once on
    every release (Keras 3.0's ``train_on_batch`` retraces on every call), and the loss is
    the batch's on every release (Keras 3.0's ``train_on_batch`` returns a running mean)."""
    epochs = len(images)
    model, variables = _model(model_args or MODEL_ARGS, mutations, seed)
    optimizer, scheduler = _optimizer_and_rate(name, epochs, mutations)
    model.compile(loss=experiments.LOSS, optimizer=optimizer)
    trace: dict[str, Any] = {"lr": [], "loss": [], "moved": {n: [] for n, _ in variables}}
    recorder = _Recorder(variables, trace)
    callbacks = [recorder] if scheduler is None else [scheduler, recorder]  # rate set first
    batches = _one_batch_per_epoch(images, labels)
    model.fit(
        batches, epochs=epochs, steps_per_epoch=1, callbacks=callbacks, shuffle=False, verbose=0
    )
    trace["final"] = {}
    for n, variable in variables:
        value = _numpy(variable)
        trace["final"][n] = {
            "sum": _g(float(value.sum())),
            "sumsq": _sumsq(value),
            "maxabs": _g(float(np.abs(value).max())),
        }
    return trace, [n for n, _ in variables]


def run(
    setups: tuple[str, ...] = tuple(experiments.EXPERIMENTS),
    *,
    seed: int = SEED,
    epochs: int = experiments.EPOCHS,  # one update per epoch: the post's whole schedule
    batch_size: int = BATCH_SIZE,
    model_args: dict[str, Any] | None = None,
    mutations: Mutations = Mutations(),
) -> dict[str, Any]:
    """The fingerprint of ``setups`` (default: the post's five), as a JSON-ready dict."""
    _pin_threads()
    compat.deterministic()
    keras.utils.set_random_seed(seed)  # nothing here draws from it; a layer that did would agree
    began = time.perf_counter()
    images, labels = batches(epochs, batch_size, seed)
    model_args = dict(model_args or MODEL_ARGS)
    traces, names = {}, None
    for name in setups:
        traces[name], names = setup_trace(
            name, images, labels, seed=seed, model_args=model_args, mutations=mutations
        )
    return {
        "format": formats.FINGERPRINT,
        "environment": compat.environment(),
        "config": {
            "seed": seed,
            "epochs": epochs,
            "steps_per_epoch": 1,
            "batch_size": batch_size,
            "model_args": {
                k: list(v) if isinstance(v, tuple) else v for k, v in model_args.items()
            },
            "threads": THREADS,
            "mutations": mutations.changed(),
        },
        "variables": names or [],
        "setups": traces,
        "seconds": time.perf_counter() - began,
    }


def mutated(**changes: Any) -> Mutations:
    """``Mutations`` with ``changes`` (a keyword each), checked by the dataclass."""
    return replace(Mutations(), **changes)
