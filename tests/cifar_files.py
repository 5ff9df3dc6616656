"""Write small files in CIFAR-10's exact on-disk format, for tests (no real CIFAR-10 here).

The real batch files are Python 2 pickles (protocol 2): a dict whose keys and strings
are Python 2 ``str`` (SHORT_BINSTRING/BINSTRING opcodes) and whose ``data`` is a uint8
numpy array pickled by Python 2's numpy (``numpy.core.multiarray._reconstruct``). Python 3's
``pickle.dump`` cannot write that - it pickles ``bytes`` through ``_codecs.encode``, which
Keras 3's restricted loader refuses - so the opcodes are written here one by one.
"""

from __future__ import annotations

import io
import struct
import tarfile
from pathlib import Path

import numpy as np

FOLDER = "cifar-10-batches-py"
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]


def _str(b: bytes) -> bytes:  # a Python 2 str
    return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b


def _int(i: int) -> bytes:
    if 0 <= i < 256:
        return b"K" + bytes([i])
    if 0 <= i < 65536:
        return b"M" + struct.pack("<H", i)
    return b"J" + struct.pack("<i", i)


def _uint8_array(a: np.ndarray) -> bytes:
    """ndarray.__reduce__ as Python 2's numpy wrote it: _reconstruct, then BUILD state."""
    rows, cols = a.shape
    dtype = (
        b"cnumpy\ndtype\n"
        + _str(b"u1")
        + _int(0)
        + _int(1)
        + b"\x87R"
        + b"("
        + _int(3)
        + _str(b"|")
        + b"NNN"
        + _int(-1)
        + _int(-1)
        + _int(0)
        + b"tb"
    )
    return (
        b"cnumpy.core.multiarray\n_reconstruct\n"
        + b"cnumpy\nndarray\n"
        + _int(0)
        + b"\x85"
        + _str(b"b")
        + b"\x87R"
        + b"("
        + _int(1)
        + _int(rows)
        + _int(cols)
        + b"\x86"
        + dtype
        + b"\x89"
        + _str(a.tobytes())
        + b"tb"
    )


def batch_bytes(images: np.ndarray, labels: list[int], batch_label: bytes) -> bytes:
    """A batch file's bytes from uint8 N x 32 x 32 x 3 RGB images and their labels."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)  # R, G, B planes per row
    filenames = [f"img_{i}.png".encode() for i in range(len(images))]
    return (
        b"\x80\x02}("
        + _str(b"data")
        + _uint8_array(np.ascontiguousarray(rows, dtype=np.uint8))
        + _str(b"labels")
        + b"]("
        + b"".join(_int(v) for v in labels)
        + b"e"
        + _str(b"batch_label")
        + _str(batch_label)
        + _str(b"filenames")
        + b"]("
        + b"".join(_str(f) for f in filenames)
        + b"e"
        + b"u."
    )


def make_images(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Images whose R, G and B planes differ, so a channel mix-up shows."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    images[:, 0, 0] = [255, 0, 128]  # a red-ish corner pixel in every image
    return images, [int(v) for v in rng.integers(0, 10, size=n)]


def write_folder(root: Path, per_batch: int = 4) -> dict[str, tuple[np.ndarray, list[int]]]:
    """``root/cifar-10-batches-py/`` with five training batches and a test batch."""
    folder = root / FOLDER
    folder.mkdir(parents=True)
    written = {}
    for i, name in enumerate([*TRAIN_FILES, "test_batch"]):
        images, labels = make_images(per_batch, seed=i)
        (folder / name).write_bytes(batch_bytes(images, labels, f"{name} of 5".encode()))
        written[name] = (images, labels)
    (folder / "batches.meta").write_bytes(b"\x80\x02}.")
    return written


def write_tarball(path: Path, folder: Path) -> Path:
    """The official archive's layout: every file under ``cifar-10-batches-py/``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=FOLDER)
    return path


def expected(written: dict[str, tuple[np.ndarray, list[int]]]):
    train = [written[name] for name in TRAIN_FILES]
    return (
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]),
        *written["test_batch"],
    )


def python3_pickle(obj: object) -> bytes:
    import pickle

    buf = io.BytesIO()
    pickle.dump(obj, buf, protocol=2)
    return buf.getvalue()
