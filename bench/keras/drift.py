"""API drift: every Keras call the post makes, tried on the installed TensorFlow.

Each probe is judged by its **effect**, not by whether it raised: does the rate decay
after k updates, does the history hold the key the post reads. The outcome is one of

- ``works``: does what the post meant, silently;
- ``warns``: does what the post meant, with a warning;
- ``ignored``: accepted (perhaps with a warning) and has no effect - the dangerous one;
- ``raises``: an exception, or (for a dict lookup the post makes) a ``KeyError``.

``python -m bench drift`` saves the installed release's row as JSON in ``reports/api-drift/``
and merges every saved row into ``reports/api-drift.md``, one column per release; each
``nox -s compat`` row runs it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
from tabulate import tabulate

from bench.core import data, files
from bench.core.backend import NAMES as BACKEND_NAMES
from bench.keras import compat

# The optimizer probes: UPDATES updates from rate LR with time-based decay DECAY.
LR = 0.1
DECAY = 0.5
UPDATES = 3


@dataclass(frozen=True)
class Probe:
    use: str  # the post's code, as the post writes it
    outcome: Literal["works", "warns", "ignored", "raises"]
    effect: str  # what was observed
    message: str = ""  # the warning or exception text, first line


class _Messages(logging.Handler):
    """Collects warnings from both channels Keras uses: ``warnings`` and (absl) logging."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not _ours(record.pathname):
            self.seen.append(record.getMessage())


def _ours(filename: str) -> bool:
    # Our own measuring (reading a rate back, say) may warn too; that is not the post's use.
    return Path(filename).resolve().parent == Path(__file__).resolve().parent


def _shown(warning: warnings.WarningMessage) -> bool:
    # What the post's script would print: Python hides DeprecationWarnings raised inside
    # libraries (numpy 2 complains about Keras internals that way, not about the post).
    hidden = (DeprecationWarning, PendingDeprecationWarning)
    return not issubclass(warning.category, hidden) and not _ours(warning.filename)


@contextlib.contextmanager
def _capture() -> Iterator[list[str]]:
    handler = _Messages()
    loggers = [logging.getLogger(name) for name in ("", "tensorflow", "absl", "keras")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield handler.seen
        handler.seen.extend(str(w.message) for w in caught if _shown(w))
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


def _first_line(texts: list[str]) -> str:
    """The first message that is about the probed call (TensorFlow adds unrelated chatter)."""
    for text in texts:
        line = text.strip().splitlines()[0] if text.strip() else ""
        if line:
            return line[:200]
    return ""


def _run(use: str, call: Callable[[], tuple[bool, str]]) -> Probe:
    """Run ``call`` (-> whether the effect is the post's, what was seen) and classify it."""
    with _capture() as seen:
        try:
            intended, effect = call()
        except Exception as error:  # the outcome we are probing for
            return Probe(use, "raises", type(error).__name__, _first_line([str(error)]))
    message = _first_line(seen)
    if not intended:
        return Probe(use, "ignored", effect, message)
    return Probe(use, "warns" if message else "works", effect, message)


def rates_applied(optimizer: Any, momentum: float, updates: int = UPDATES) -> list[float]:
    """The rate each of ``updates`` updates applied to a weight whose gradient is 1.

    SGD's velocity is ``v = momentum * v - rate``; the weight moves by ``v``, so each
    update's rate is read back from two successive moves.
    """
    layer = compat.keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
    layer.build((None, 1))
    weight = layer.kernel
    rates, previous = [], 0.0
    for _ in range(updates):
        before = float(weight.numpy().ravel()[0])
        optimizer.apply_gradients([(compat.ops.ones(tuple(weight.shape)), weight)])
        velocity = float(weight.numpy().ravel()[0]) - before
        rates.append(momentum * previous - velocity)
        previous = velocity
    return rates


def _sgd(factory: Callable[..., Any], momentum: float = 0.0, **kwargs: Any) -> tuple[bool, str]:
    """Build an SGD with ``kwargs`` and compare the rates it applies with what the post
    means by them: ``lr`` is the initial rate and ``decay`` the time-based decay."""
    rates = rates_applied(factory(momentum=momentum, **kwargs), momentum)
    decay = kwargs.get("decay", 0.0)
    meant = [LR / (1 + decay * t) for t in range(UPDATES)]
    shown = ", ".join(f"{r:.4g}" for r in rates)
    effect = f"rates {shown}" + (
        ""
        if np.allclose(rates, meant, rtol=1e-5)
        else f" (meant: {', '.join(f'{r:.4g}' for r in meant)})"
    )
    return bool(np.allclose(rates, meant, rtol=1e-5)), effect


def _new_sgd(**kwargs: Any) -> Any:
    return compat.keras.optimizers.SGD(**kwargs)


def _legacy_sgd(**kwargs: Any) -> Any:
    return compat.keras.optimizers.legacy.SGD(**kwargs)


def _suite_sgd(momentum: float, lr: float, decay: float) -> Any:
    return compat.sgd(lr, momentum, decay)


def _fit(callbacks: list[Any] | None = None) -> tuple[Any, Any, np.ndarray]:
    """A two-epoch fit of a tiny classifier, called the post's way (model, History, x)."""
    keras = compat.keras
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=32)]
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(
        loss="categorical_crossentropy", optimizer=compat.sgd(LR, 0.9), metrics=["accuracy"]
    )
    H = model.fit(
        x=x,
        y=y,
        validation_data=(x, y),
        batch_size=16,
        epochs=2,
        callbacks=callbacks or [],
        verbose=0,
    )
    return model, H, x


def _history_key(key: str) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        _, H, _ = _fit()
        values = _lookup(H.history, key)
        return len(values) == 2, f"{len(values)} values"

    return probe


def _fit_keywords() -> tuple[bool, str]:
    _, H, _ = _fit()
    return len(H.history["loss"]) == 2, f"History with {len(H.history['loss'])} epochs"


def _predict() -> tuple[bool, str]:
    model, _, x = _fit()
    out = model.predict(x=x, batch_size=128, verbose=0)
    return isinstance(out, np.ndarray) and out.shape == (len(x), 3), (
        f"{type(out).__name__} of shape {getattr(out, 'shape', '?')}"
    )


def _scheduler_rates() -> tuple[dict[str, list[Any]], list[float]]:
    """The post's LearningRateScheduler with a one-argument schedule: the history it leaves,
    and the rates the optimizer really applied in each epoch."""
    keras = compat.keras
    applied: list[float] = []

    class Applied(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            applied.append(compat.applied_lr(self.model.optimizer))

    def schedule(epoch: int) -> float:
        return LR / (epoch + 1)

    _, H, _ = _fit([keras.callbacks.LearningRateScheduler(schedule), Applied()])
    return H.history, applied


def _scheduler() -> tuple[bool, str]:
    _, applied = _scheduler_rates()
    expected = [LR / (e + 1) for e in range(2)]
    shown = ", ".join(f"{r:.4g}" for r in applied)
    return bool(np.allclose(applied, expected, rtol=1e-6)), f"rates {shown} in epochs 1, 2"


def _scheduler_history() -> tuple[bool, str]:
    history, _ = _scheduler_rates()
    values = _lookup(history, "lr")  # the key of the post's Keras
    return True, f"{len(values)} values"


def _lookup(history: dict[str, list[Any]], key: str) -> list[Any]:
    """``history[key]``, the post's way; its KeyError names the keys there are instead."""
    if key not in history:
        raise KeyError(f"{key!r}; the history has {', '.join(sorted(history))}")
    return history[key]


def scheduler_history_value() -> tuple[str, str, bool]:
    """Where LearningRateScheduler logs the rate: (key, value type, value is float32-rounded)."""
    history, _ = _scheduler_rates()
    key = next(k for k in ("lr", "learning_rate") if k in history)
    value = history[key][0]
    return key, type(value).__name__, float(value) == float(np.float32(LR)) != LR


def _history_value() -> tuple[bool, str]:
    key, kind, rounded = scheduler_history_value()
    return True, f"under {key!r}, a {kind}, {'float32-rounded' if rounded else 'exact'}"


def cifar10_download_path() -> Path:
    """Where ``cifar10.load_data()`` looks for (or downloads) CIFAR-10 on this Keras.

    Found by calling it with Keras' ``get_file`` replaced by a recorder, so nothing is
    downloaded and no cache is touched.
    """
    module = sys.modules[compat.keras.datasets.cifar10.load_data.__module__]
    calls: list[dict[str, Any]] = []

    class RecordedError(Exception):
        pass

    def recorder(fname: str | None = None, origin: str | None = None, **kwargs: Any) -> str:
        calls.append({"fname": fname, "origin": origin, **kwargs})
        raise RecordedError

    original = module.get_file
    module.get_file = recorder
    try:
        with contextlib.suppress(RecordedError):
            module.load_data()
    finally:
        module.get_file = original
    call = calls[0]
    home = call.get("cache_dir") or os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    path = Path(home) / call.get("cache_subdir", "datasets") / call["fname"]
    return path.with_name(path.name + "_archive") if _keras3_extract(call) else path


def _keras3_extract(call: dict[str, Any]) -> bool:
    # Keras 3's get_file(extract=True) keeps the tarball as "<fname>_archive" and extracts
    # into "<fname>"; Keras 2's untar=True keeps "<fname>.tar.gz" and extracts into "<fname>".
    return bool(call.get("extract")) and not call.get("untar")


def _cifar10_cache() -> tuple[bool, str]:

    path = cifar10_download_path()
    known = path in data.keras_cache_paths() or path.parent in data.keras_cache_paths()
    return known, f"{_home_relative(path)}; bench.core.data looks there: {'yes' if known else 'NO'}"


def _home_relative(path: Path) -> str:
    return re.sub(f"^{re.escape(str(Path.home()))}", "~", str(path))


PROBES: list[tuple[str, Callable[[], tuple[bool, str]]]] = [
    ("SGD(lr=1e-1, momentum=0.9, decay=d)", partial(_sgd, _new_sgd, 0.9, lr=LR, decay=DECAY)),
    ("SGD(lr=1e-1)", partial(_sgd, _new_sgd, lr=LR)),
    ("SGD(learning_rate=1e-1, decay=d)", partial(_sgd, _new_sgd, learning_rate=LR, decay=DECAY)),
    (
        "optimizers.legacy.SGD(lr=1e-1, momentum=0.9, decay=d)",
        partial(_sgd, _legacy_sgd, 0.9, lr=LR, decay=DECAY),
    ),
    (
        "bench.keras.compat.sgd(1e-1, 0.9, d), this suite's stand-in",
        partial(_sgd, _suite_sgd, 0.9, lr=LR, decay=DECAY),
    ),
    ("LearningRateScheduler(schedule) with schedule(epoch)", _scheduler),
    ('H.history["lr"] after LearningRateScheduler', _scheduler_history),
    ("LearningRateScheduler's logged rate", _history_value),
    ('H.history["accuracy"]', _history_key("accuracy")),
    ('H.history["val_accuracy"]', _history_key("val_accuracy")),
    ("model.fit(x=trainX, y=trainY, validation_data=...)", _fit_keywords),
    ("model.predict(x=testX, batch_size=128)", _predict),
    ("cifar10.load_data() cache", _cifar10_cache),
]


def probe_all() -> list[Probe]:
    """Every probe, in the post's order of use."""
    return [_run(use, call) for use, call in PROBES]


def row_name(versions: dict[str, Any], legacy: bool, backend: str = "tensorflow") -> str:
    if backend != "tensorflow":
        return f"keras-{versions['keras']}_{backend}-{versions.get(backend)}"
    keras = f"tf-keras-{versions['keras']}" if legacy else f"keras-{versions['keras']}"
    return f"tf-{versions['tensorflow']}_{keras}"


def current_row(name: str | None = None) -> dict[str, Any]:
    """The installed release's row (called ``name``, or after its versions): its versions,
    its backend, whether Keras is tf-keras, and every probe's result."""
    versions = {**compat.versions(), **compat.backend_versions()}
    legacy = compat.KERAS_MAJOR < 3 and os.environ.get("TF_USE_LEGACY_KERAS", "") in ("1", "true")
    return {
        "row": name or row_name(versions, legacy, compat.BACKEND),
        "backend": compat.BACKEND,
        "tf_keras": legacy,
        "versions": versions,
        "probes": [asdict(p) for p in probe_all()],
    }


def read_rows(folder: Path) -> list[dict[str, Any]]:
    """Every saved row in ``folder``, oldest TensorFlow first."""
    rows = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            raw = files.read_regular(path, files.MAX_JSON_BYTES)  # no FIFO, no giant
            row = json.loads(raw.decode("utf-8"))
            row["probes"] = [Probe(**p) for p in row["probes"]]
            _release(row["versions"]["tensorflow"] or row["versions"]["keras"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not an API-drift row ({error})") from error
        rows.append(row)
    return sorted(rows, key=_order)


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    """TensorFlow releases oldest first, then Keras 3 on its other backends."""
    versions = row["versions"]
    tensorflow = versions["tensorflow"]
    return (tensorflow is None, _release(tensorflow or versions["keras"]), row["row"])


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version)[:3])


def render(rows: list[dict[str, Any]]) -> str:
    """The merged Markdown table: one row per use, one column per TensorFlow release (then
    per Keras 3 backend other than TensorFlow)."""

    uses = list(dict.fromkeys(p.use for row in rows for p in row["probes"]))
    headers = ["the post's use", *(column(row) for row in rows)]
    table = []
    for use in uses:
        cells = []
        for row in rows:
            probe = next((p for p in row["probes"] if p.use == use), None)
            cells.append("not probed" if probe is None else f"**{probe.outcome}**: {probe.effect}")
        table.append([f"`{use}`", *cells])
    lines = [
        "# API drift: the post's Keras calls on each TensorFlow release and Keras 3 backend",
        "",
        "Generated by `python -m bench drift` in each `nox -s compat` row "
        "(`bench/keras/drift.py` says how each use is probed). **works**: does what the post "
        "meant; **warns**: does it, with a warning; **ignored**: accepted but without "
        "effect; **raises**: an exception (`KeyError` for a history key the post reads). "
        f"Optimizer probes apply {UPDATES} updates at rate {LR} with decay {DECAY} "
        f"(d in the table).",
        "",
        tabulate(table, headers=headers, tablefmt="github"),
        "",
        "## Messages",
        "",
    ]
    for row in rows:
        said = [p for p in row["probes"] if p.message]
        if said:
            lines += [f"### {column(row)}", ""]
            lines += [f"- `{p.use}`: {p.message}" for p in said]
            lines.append("")
    return "\n".join(lines)


def column(row: dict[str, Any]) -> str:
    """A row's column heading: its TensorFlow and Keras."""
    v, backend = row["versions"], row.get("backend", "tensorflow")
    if backend != "tensorflow":
        return f"Keras {v['keras']} on {BACKEND_NAMES.get(backend, backend)} {v.get(backend)}"
    keras = "tf-keras" if row.get("tf_keras") else "Keras"
    return f"TF {v['tensorflow']}, {keras} {v['keras']}"


def save(row: dict[str, Any], rows_dir: Path, report: Path) -> tuple[Path, Path]:
    """Save ``row`` in ``rows_dir`` and re-render ``report`` from every row saved there;
    the two paths written."""
    text = json.dumps(row, indent=2) + "\n"
    saved = files.atomic_write(
        Path(rows_dir) / f"{row['row']}.json", lambda f: f.write(text.encode())
    )
    merged = render(read_rows(rows_dir))
    return saved, files.atomic_write(Path(report), lambda f: f.write(merged.encode()))
