"""The data a command trains on: loaded, subset with its own seed, announced."""

from __future__ import annotations

import logging
from pathlib import Path

from bench.core import data

log = logging.getLogger(__name__)


def _keras_download() -> data.Dataset:
    from bench.keras import compat  # lazy: Keras loads only when CIFAR-10 must be downloaded

    return compat.download_cifar10()


def load(
    name: str, data_dir: Path | None = None, subset: int | None = None, subset_seed: int = 0
) -> data.Dataset:
    """The dataset ``name`` (from ``data_dir``, the caches, or Keras' download), cut to
    ``subset`` training images drawn with ``subset_seed``."""
    log.info("[INFO] loading %s data...", data.TITLES[name])
    dataset = data.load(name, data_dir, download=_keras_download)
    return dataset if subset is None else data.subset(dataset, subset, subset_seed)
