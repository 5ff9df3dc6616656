"""The one place that knows how TensorFlow / Keras releases differ (docs/keras-drift.md).

The post's ``SGD(lr=1e-1, momentum=0.9, decay=decay)`` no longer works as written, and
fails in the worst way on two fronts: Keras 2's new optimizer ignores ``lr=`` (the rate
silently stays 0.01), and Keras 3 ignores ``decay=`` with only a warning (the "standard"
experiment silently becomes "none"). So we never pass ``lr=`` or ``decay=`` to the new
optimizer: the time-based decay is the legacy optimizer's own ``decay`` on Keras 2 and an
``InverseTimeDecay(lr0, decay_steps=1, decay_rate=decay)`` schedule elsewhere: the same
rates (measured bit-identical to the legacy decay for updates 0..1000 on Keras 2; see
docs/keras-drift.md, and ``tests/unit/test_keras.py`` recovers the applied rates).

Keras is TensorFlow's own (``tf.keras``), so ``TF_USE_LEGACY_KERAS=1`` with ``tf-keras``
gets Keras 2 on TensorFlow >= 2.16 too.
"""

from __future__ import annotations

import importlib
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
    from bench.experiments import Experiment

keras = tf.keras
# tf.keras is a lazy alias without __version__ on TF <= 2.15: ask the package behind it
# ("keras", or "tf_keras" with TF_USE_LEGACY_KERAS=1).
KERAS_VERSION = importlib.import_module(keras.layers.Dense.__module__.split(".")[0]).__version__
KERAS_MAJOR = int(KERAS_VERSION.split(".")[0])
# The backend Keras runs here: Keras 2 knows only TensorFlow.
BACKEND = keras.backend.backend() if KERAS_MAJOR >= 3 else "tensorflow"


def _takes(cls: Any, argument: str) -> bool:
    import inspect

    return argument in inspect.signature(cls).parameters


def versions() -> dict[str, str]:
    """Python, TensorFlow, Keras and numpy versions, for headers and results files."""
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": KERAS_VERSION,
        "numpy": np.__version__,
    }


def sgd(init_lr: Any, momentum: float, decay: float = 0.0) -> Any:
    """SGD that applies ``init_lr / (1 + decay * t)`` at update ``t`` on every Keras
    (``init_lr``: a rate, or with ``decay`` 0 a ``LearningRateSchedule``)."""
    if decay == 0:
        return keras.optimizers.SGD(learning_rate=init_lr, momentum=momentum)
    legacy = getattr(keras.optimizers, "legacy", None)
    if KERAS_MAJOR < 3 and legacy is not None:
        return legacy.SGD(learning_rate=init_lr, momentum=momentum, decay=decay)
    schedule = keras.optimizers.schedules.InverseTimeDecay(init_lr, decay_steps=1, decay_rate=decay)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=momentum)


def make_optimizer(experiment: Experiment, epochs: int | None = None) -> Any:
    """The post's optimizer for ``experiment`` run for ``epochs`` epochs."""
    return sgd(experiment.init_lr, experiment.momentum, experiment.decay(epochs))


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
    # .numpy(), not np.asarray: Keras 3's Variable.__array__ warns under numpy 2.
    return float(value.numpy() if hasattr(value, "numpy") else value)


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
    options = {k: v for k, v in (("delete_checkpoint", False), ("double_checkpoint", True))
               if _takes(cls, k)}  # fmt: skip

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
    """A fresh worker process's TensorFlow, before it starts its runtime: ``threads`` cores
    for its thread pools (its share of the machine), and GPU memory taken as needed rather
    than all at once."""
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _other_backends() -> dict[str, str]:
    """The versions of Keras 3's other backends that are installed (not imported)."""
    from importlib import metadata

    found = {}
    for name in ("jax", "jaxlib", "torch"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def environment() -> dict[str, Any]:
    """Versions, CUDA/cuDNN build, devices and CPU: the fingerprint a results file carries."""
    build = tf.sysconfig.get_build_info()
    devices = []
    for device in tf.config.list_physical_devices():
        details = (
            tf.config.experimental.get_device_details(device) if device.device_type == "GPU" else {}
        )
        devices.append(f"{device.device_type}: {details.get('device_name', device.name)}")
    return {
        **versions(),
        "backend": BACKEND,
        **_other_backends(),
        "cuda": build.get("cuda_version"),
        "cudnn": build.get("cudnn_version"),
        "devices": devices,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
    }
