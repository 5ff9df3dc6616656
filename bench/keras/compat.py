"""The one place that knows how TensorFlow / Keras releases and Keras 3's backends differ
(docs/keras-drift.md, docs/backends.md).

The post's ``SGD(lr=1e-1, momentum=0.9, decay=decay)`` no longer works as written, and
fails in the worst way on two fronts: Keras 2's new optimizer ignores ``lr=`` (the rate
silently stays 0.01), and Keras 3 ignores ``decay=`` with only a warning (the "standard"
experiment silently becomes "none"). So we never pass ``lr=`` or ``decay=`` to the new
optimizer: the time-based decay is the legacy optimizer's own ``decay`` on Keras 2 and an
``InverseTimeDecay(lr0, decay_steps=1, decay_rate=decay)`` schedule elsewhere: the same
rates (measured bit-identical to the legacy decay for updates 0..1000 on Keras 2; see
docs/keras-drift.md, and ``tests/keras/test_keras.py`` recovers the applied rates).

On the TensorFlow backend Keras is TensorFlow's own (``tf.keras``), so
``TF_USE_LEGACY_KERAS=1`` with ``tf-keras`` gets Keras 2 on TensorFlow >= 2.16 too. On
Keras 3's JAX or PyTorch backend (``KERAS_BACKEND``, ``bench.core.backend``) Keras is imported
alone and TensorFlow never is: ``tf`` is None there, and everything that needs it (the
legacy optimizer, tf.data, op determinism) is TensorFlow's branch of a function here.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import inspect
import os
import platform
import sys
import types
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import backend, data, experiments, quiet


def _installed(name: str) -> str | None:
    """An installed distribution's version, without importing it."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


class _WithoutTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes TensorFlow unimportable. Keras 3 imports it wherever it is installed, whatever
    the backend, for optional extras (``set_random_seed`` seeds ``tf.random``, the data
    adapters offer tf.data); blocked, a JAX or PyTorch run here is the run of a machine
    without TensorFlow, as a GPU box with JAX alone is, and never holds TensorFlow's memory.

    Its spec is found (with no origin: PyTorch asks ``find_spec`` for it and skips one
    without), and loading it raises the ``ModuleNotFoundError`` a missing package would."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec: Any) -> None:
        raise ModuleNotFoundError(
            f"TensorFlow is not used with Keras' {BACKEND_ASKED} backend", name=spec.name
        )

    def exec_module(self, module: Any) -> None:  # never reached: create_module raised
        raise ModuleNotFoundError(module.__name__)


BACKEND_ASKED = backend.configured()
if BACKEND_ASKED == "tensorflow":
    import tensorflow as tf

    # The first device listing, where a CUDA build without NVIDIA's driver logs a
    # needless error (bench.core.quiet); the later ones log nothing.
    with quiet.dropping(quiet.needless_cuinit):
        tf.config.list_physical_devices()
    keras = tf.keras
else:  # Keras 3 on JAX or PyTorch (Keras 2 would import TensorFlow and run on it)
    tf = None
    if int((_installed("keras") or "0").split(".")[0]) < 3:
        raise ImportError(
            f"KERAS_BACKEND={BACKEND_ASKED} needs Keras 3, found Keras "
            f"{_installed('keras') or 'not installed'}: Keras 2 runs TensorFlow only; "
            f"{backend.install('keras')}"
        )
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _WithoutTensorFlow())
    import keras
# tf.keras is a lazy alias without __version__ on TF <= 2.15: ask the package behind it
# ("keras", or "tf_keras" with TF_USE_LEGACY_KERAS=1).
KERAS_VERSION = importlib.import_module(keras.layers.Dense.__module__.split(".")[0]).__version__
KERAS_MAJOR = int(KERAS_VERSION.split(".")[0])
# The backend Keras runs here: Keras 2 knows only TensorFlow.
BACKEND = keras.backend.backend() if KERAS_MAJOR >= 3 else "tensorflow"
# Backend-free tensor ops: keras.ops on Keras 3; Keras 2 has none, so the few the suite
# uses are TensorFlow's there.
ops = (
    keras.ops
    if KERAS_MAJOR >= 3
    else types.SimpleNamespace(
        cast=tf.cast,
        convert_to_numpy=lambda x: x.numpy() if hasattr(x, "numpy") else np.asarray(x),
        convert_to_tensor=tf.convert_to_tensor,
        minimum=tf.minimum,
        ones=tf.ones,
        take=tf.gather,
    )
)


def _takes(cls: Any, argument: str) -> bool:

    return argument in inspect.signature(cls).parameters


def versions() -> dict[str, str | None]:
    """Python, TensorFlow, Keras and numpy versions, for headers and results files
    (TensorFlow's: None where Keras runs another backend, installed or not: it is unused)."""
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__ if tf is not None else None,
        "keras": KERAS_VERSION,
        "numpy": np.__version__,
    }


def sgd(init_lr: Any, momentum: float, decay: float = 0.0, nesterov: bool = False) -> Any:
    """SGD that applies ``init_lr / (1 + decay * t)`` at update ``t`` on every Keras
    (``init_lr``: a rate, or with ``decay`` 0 a ``LearningRateSchedule``). ``nesterov`` is
    never the post's; the training-step fingerprint's tests turn it on to show it is seen."""
    if decay == 0:
        return keras.optimizers.SGD(learning_rate=init_lr, momentum=momentum, nesterov=nesterov)
    legacy = getattr(keras.optimizers, "legacy", None)
    if KERAS_MAJOR < 3 and legacy is not None:
        return legacy.SGD(learning_rate=init_lr, momentum=momentum, decay=decay, nesterov=nesterov)
    schedule = keras.optimizers.schedules.InverseTimeDecay(init_lr, decay_steps=1, decay_rate=decay)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=momentum, nesterov=nesterov)


def applied_lr(optimizer: Any, update: int | None = None) -> float:
    """The learning rate the optimizer applies at ``update`` (0-based; default: its next
    one), as a Python float, computed as the optimizer computes it.

    Not ``optimizer.learning_rate`` alone: the legacy optimizer reports its base rate
    there and applies ``_decayed_lr``, and Keras 2's new optimizer reports the rate its
    *last* update used when the rate is a schedule; a schedule is evaluated at the update
    count here instead. A plain rate (``LearningRateScheduler``'s) is the one it holds.
    """
    step = optimizer.iterations if update is None else update
    if hasattr(optimizer, "_decayed_lr"):  # Keras 2's legacy optimizer: lr / (1 + decay t)
        base = optimizer._get_hyper("learning_rate", tf.float32)
        decay = tf.cast(optimizer._initial_decay, tf.float32)
        value = base / (1.0 + decay * tf.cast(step, tf.float32)) if decay > 0 else base
    elif isinstance(getattr(optimizer, "_learning_rate", None), _SCHEDULE):
        value = optimizer._learning_rate(step)
    else:
        value = optimizer.learning_rate
    # Not np.asarray: Keras 3's Variable.__array__ warns under numpy 2.
    return float(ops.convert_to_numpy(value))


_SCHEDULE = keras.optimizers.schedules.LearningRateSchedule


def backup_and_restore(
    backup_dir: Path, saved: Callable[[int], None], restored: Callable[[Any], None]
) -> Any:
    """Keras' BackupAndRestore, calling ``saved(epochs)`` once each backup is written and
    ``restored(model)`` once Keras has restored one (to check what it restored: Keras 3.0's
    keeps the weights only, not the epoch or the optimizer).

    It never deletes its backup when training ends (``delete_checkpoint=False``): until
    the run's results file is on disk, the backup is the only copy of the training. It
    keeps the previous backup too where Keras can (``double_checkpoint``, Keras >= 3.6), so
    a kill while saving loses one epoch at most.
    """
    cls = keras.callbacks.BackupAndRestore
    wanted = {"delete_checkpoint": False, "double_checkpoint": True}
    options = {k: v for k, v in wanted.items() if _takes(cls, k)}

    class Sealed(cls):  # type: ignore[misc, valid-type]
        def on_train_begin(self, logs: Any = None) -> None:
            super().on_train_begin(logs)
            restored(self.model)

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            super().on_epoch_end(epoch, logs)
            saved(epoch + 1)

    return Sealed(str(backup_dir), **options)


def set_lr(optimizer: Any, rate: float) -> None:
    """Set a plain (non-schedule) rate, as LearningRateScheduler does."""
    optimizer.learning_rate.assign(rate)


def optimizer_state(optimizer: Any, variables: list[Any]) -> list[Any]:
    """The optimizer's variables (update count, rate, momenta), built for ``variables``
    first if it has not trained yet (Keras 2 lists them by a method, Keras 3 a property)."""
    if not getattr(optimizer, "built", getattr(optimizer, "_built", False)):
        optimizer.build(variables)
    state = optimizer.variables
    return list(state() if callable(state) else state)


def configure_worker(threads: int) -> None:
    """A fresh worker process's backend, before it starts its runtime: ``threads`` cores for
    its thread pools (its share of the machine), and on TensorFlow GPU memory taken as
    needed rather than all at once. (JAX reads its thread count only from ``XLA_FLAGS``
    before it starts, so a JAX worker keeps its defaults.)"""
    if BACKEND == "torch":
        import torch  # lazy: PyTorch is there only on its backend

        torch.set_num_threads(threads)
    if tf is None:
        return
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def deterministic() -> None:
    """Make the backend's ops deterministic, on top of the seeding. JAX's CPU ops already
    are; on a GPU JAX needs ``XLA_FLAGS=--xla_gpu_deterministic_ops=true`` before it
    starts, so it is set here for a JAX that has not started yet."""
    if tf is not None:
        tf.config.experimental.enable_op_determinism()
    elif BACKEND == "torch":
        import torch  # lazy: PyTorch is there only on its backend

        torch.use_deterministic_algorithms(True)
    else:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_gpu_deterministic_ops" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_gpu_deterministic_ops=true".strip()


def batches(x: np.ndarray, labels: np.ndarray, batch_size: int, order: Any = None) -> Any:
    """uint8 images -> float32 [0, 1] batches with their labels, each epoch in the order
    ``order()`` gives (the data's own order without one; ``order.watch(f)`` has ``f``
    called with each new epoch's order); images stay uint8 until a batch is formed.
    tf.data on TensorFlow (as fast as feeding arrays, and half the memory: ``nox -s
    bench``), a ``keras.utils.PyDataset`` on the other backends."""
    if tf is not None:
        return _tf_batches(x, labels, batch_size, order)
    return _Batches(x, labels, batch_size, order)


def _tf_batches(x: np.ndarray, labels: np.ndarray, batch_size: int, order: Any) -> Any:
    images, targets = tf.constant(x), tf.constant(labels)
    n = len(x)
    if order is None:
        index = tf.data.Dataset.range(n)
    else:  # flat_map runs once per epoch, after the epoch's order was set
        # A variable the order writes each epoch, not a Python call inside tf.data: the
        # pipeline's graph would keep the call (and through it the model) alive after fit.
        indices = tf.Variable(order(), trainable=False, dtype=tf.int64)
        order.watch(indices.assign)
        index = tf.data.Dataset.from_tensors(0).flat_map(
            lambda _: tf.data.Dataset.from_tensor_slices(indices.read_value())
        )
    ds = index.batch(batch_size).map(
        lambda i: (tf.cast(tf.gather(images, i), tf.float32) / 255.0, tf.gather(targets, i))
    )
    # flat_map hides the length; stating it lets Keras show "k/N" steps from epoch 1.
    steps = experiments.steps_per_epoch(n, batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(steps)).prefetch(tf.data.AUTOTUNE)


class _Batches(keras.utils.PyDataset if KERAS_MAJOR >= 3 else object):  # type: ignore[misc]
    """The same batches as ``_tf_batches``, for Keras 3 on JAX or PyTorch."""

    def __init__(self, x: np.ndarray, labels: np.ndarray, batch_size: int, order: Any):
        super().__init__()
        self.x, self.labels, self.batch_size, self.order = x, labels, batch_size, order

    def __len__(self) -> int:
        return experiments.steps_per_epoch(len(self.x), self.batch_size)

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        where = slice(batch * self.batch_size, (batch + 1) * self.batch_size)
        index = self.order()[where] if self.order is not None else where
        return self.x[index].astype(np.float32) / np.float32(255.0), self.labels[index]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def backend_versions() -> dict[str, str]:
    """The installed versions of Keras 3's other backends (jax, jaxlib, torch), not imported."""
    found = {name: _installed(name) for name in backend.OTHER_PACKAGES}
    return {name: version for name, version in found.items() if version}


def _devices() -> tuple[list[str], dict[str, str | None]]:
    """The backend's devices ("TYPE: name") and the CUDA/cuDNN it was built with."""
    if tf is not None:
        build = tf.sysconfig.get_build_info()
        devices = []
        for device in tf.config.list_physical_devices():
            gpu = device.device_type == "GPU"
            details = tf.config.experimental.get_device_details(device) if gpu else {}
            devices.append(f"{device.device_type}: {details.get('device_name', device.name)}")
        return devices, {"cuda": build.get("cuda_version"), "cudnn": build.get("cudnn_version")}
    if BACKEND == "torch":
        import torch  # lazy: PyTorch is there only on its backend

        gpus = range(torch.cuda.device_count())
        devices = ["CPU: cpu", *(f"GPU: {torch.cuda.get_device_name(i)}" for i in gpus)]
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        return devices, {"cuda": torch.version.cuda, "cudnn": cudnn and str(cudnn)}
    import jax  # lazy: JAX is there only on its backend

    devices = [f"{d.platform.upper()}: {d.device_kind}" for d in jax.devices()]
    return devices, {"cuda": None, "cudnn": None}


def environment() -> dict[str, Any]:
    """Versions, CUDA/cuDNN build, devices and CPU: the fingerprint a results file carries."""
    devices, build = _devices()
    return {
        **versions(),
        "backend": BACKEND,
        **backend_versions(),
        **build,
        "devices": devices,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }


def download_cifar10() -> data.Dataset:
    """CIFAR-10 through Keras' own download (``bench.core.data`` tries it last)."""
    (train_x, train_y), (test_x, test_y) = keras.datasets.cifar10.load_data()
    return data.Dataset(
        name="cifar10",
        train_x=train_x,
        train_y=train_y.reshape(-1).astype(np.int64),
        test_x=test_x,
        test_y=test_y.reshape(-1).astype(np.int64),
        class_names=data.CIFAR10_CLASSES,
        source="keras.datasets.cifar10.load_data()",
    )
