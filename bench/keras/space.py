"""Room for the next backup, asked before Keras writes it.

Keras' BackupAndRestore writes its weights through h5py, which does not fail cleanly on a
full disk: with the disk full at the first backup, ``train`` dies with a segmentation
fault (exit 139) and 80 h5py tracebacks. So before each backup the free space
is checked against what the backup will take (and Keras' previous copy beside it); short
of it, the run stops with one line (``files.DiskFullError``) and the last sealed backup
stays as it was, to resume from once there is space.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.core import files
from bench.keras.compat import keras

# HDF5's own overhead, the epoch metadata and the seal beside the arrays.
MARGIN = 8 * 1024 * 1024


def backup_bytes(model: Any) -> int:
    """About what one backup of ``model`` writes: its weights, and as much again for the
    optimizer's state (SGD's momentum is one slot per weight; Keras may not have built
    the optimizer's variables yet when training begins, so they are not counted)."""
    return 2 * sum(int(np.asarray(v).nbytes) for v in model.get_weights())


class SpaceCheck(keras.callbacks.Callback):
    """Before the backup callback (which comes after it in the list), check there is room
    for a new backup and Keras' copy of the previous one."""

    def __init__(self, backup_dir: Path):
        super().__init__()
        self.backup_dir = Path(backup_dir)

    def on_train_begin(self, logs: Any = None) -> None:
        self.needed = 2 * backup_bytes(self.model) + MARGIN

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        folder = next(p for p in (self.backup_dir, *self.backup_dir.parents) if p.exists())
        files.check_space(folder, self.needed, f"epoch {epoch + 1}'s backup")
