"""Which Keras backend a run uses, known without importing Keras (importing it would
import TensorFlow, which a Ray driver must not).

Keras 3 decides it so: ``$KERAS_BACKEND``, else the ``backend`` in
``$KERAS_HOME/keras.json`` (``~/.keras/keras.json`` without ``$KERAS_HOME``), else
TensorFlow. Keras 2 always runs TensorFlow; ``bench.keras.compat`` knows which Keras is here, and
``bench.keras.train`` refuses a run whose backend is not the one Keras runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

DEFAULT = "tensorflow"
# Keras 3's backends, each also the name of its package (and of its version's key in a
# results file's environment).
KNOWN = ("tensorflow", "jax", "torch")
# Each backend as a report or a drift column names it.
NAMES = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
# The other backends' packages, whose installed versions a results file's environment
# records (where installed) and a report shows.
OTHER_PACKAGES = ("jax", "jaxlib", "torch")
# The suite's extras (pyproject.toml) and the package each brings; a package no extra brings
# is installed by its own name (the spec beside it where the suite needs a release of it).
EXTRAS = {"jax": "jax", "ray": "ray"}
SPECS = {"keras": "'keras>=3'"}


def install(package: str) -> str:
    """How to install ``package`` for the suite, as every "not installed" message ends: the
    extra that brings it, else the package itself."""
    extra = EXTRAS.get(package)
    if extra is not None:
        return f"install the {extra} extra: python -m pip install -e '.[{extra}]' (in the checkout)"
    return f"install it: python -m pip install {SPECS.get(package, package)}"


def check(name: str | None = None) -> str:
    """``name`` (default: the configured backend) if Keras can run it here, else
    ``ValueError``: an unknown name, or a backend whose package is not installed. Found
    without importing anything, so a command refuses it before its first epoch."""
    name = name or configured()
    if name not in KNOWN:
        raise ValueError(
            f"KERAS_BACKEND={name} is not a Keras backend: choose one of {', '.join(KNOWN)}"
        )
    if importlib.util.find_spec(name) is None:
        raise ValueError(
            f"Keras' {name} backend needs {name}, which is not installed here; {install(name)}"
        )
    return name


def deterministic_from_environment() -> bool:
    """Whether TF_DETERMINISTIC_OPS asks TensorFlow for op determinism: it changes the
    numbers, so a run records it (``bench.core.identity``) as if --deterministic were given."""
    return os.environ.get("TF_DETERMINISTIC_OPS", "").strip().lower() in ("1", "true")


def configured() -> str:
    """The backend Keras 3 would use in this process."""
    name = os.environ.get("KERAS_BACKEND")
    if name:
        return name
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")
    try:
        settings = json.loads((home / "keras.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DEFAULT
    name = settings.get("backend") if isinstance(settings, dict) else None
    return name if isinstance(name, str) and name else DEFAULT
