"""The post's data: CIFAR-10 from wherever a user has it, or the embedded ``digits`` set.

Images stay uint8 (N, 32, 32, 3) here; ``bench.keras.train`` scales each batch to [0, 1] as it
is fed, so there is no float64 copy of the dataset (the post's ``astype("float") / 255.0``
costs 1.2 GB for CIFAR-10's training set alone). Labels stay integers; the post's
``LabelBinarizer`` one-hot encoding is ``one_hot`` below.

CIFAR-10 is looked for, in order:

1. ``--data-dir PATH`` or ``$BENCH_CIFAR10``: the official ``cifar-10-python.tar.gz``,
   its extracted ``cifar-10-batches-py/`` folder, or a folder holding either;
2. Keras' caches under ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``, in both layouts:
   Keras 3's ``cifar-10-batches-py-target_archive`` (and its extracted
   ``cifar-10-batches-py-target/cifar-10-batches-py/``), Keras 2's
   ``cifar-10-batches-py.tar.gz`` (and ``cifar-10-batches-py/``);
3. ``keras.datasets.cifar10.load_data()``, which downloads it where a network exists.

The batch files are Python 2 pickles. They are read with an unpickler that can build
numpy arrays and nothing else, so a tampered file cannot run code; anything that is not a
CIFAR-10 batch is a ``DataError`` naming the file.

``digits`` is scikit-learn's ``load_digits`` (1,797 real 8x8 grey images of the digits
0-9, shipped inside scikit-learn): each image is scaled from 0..16 to 0..255, enlarged
4x by pixel replication to 32x32 and copied into three channels, so the post's ResNet
runs on it unchanged. Its split is fixed: a stratified 360-image test set drawn with
``random_state=0``, the other 1,437 images for training.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from bench.core import files

CIFAR10_ENV = "BENCH_CIFAR10"
# CIFAR-10's label order, five a row as its own batches.meta lists them (fmt: skip keeps
# the two rows).
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
DIGITS_CLASSES = tuple(str(d) for d in range(10))
DIGITS_TEST_IMAGES = 360
DATASETS = ("cifar10", "digits")
TITLES = {"cifar10": "CIFAR-10", "digits": "digits"}  # as the post's messages name them

_FOLDER = "cifar-10-batches-py"
_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
_TEST_FILE = "test_batch"
_IMAGE_BYTES = 32 * 32 * 3
# The largest official batch file (data_batch_*: 31,035,704 bytes); a member or file larger
# than this is refused before a byte of it is read, so a tampered archive cannot fill memory.
MAX_BATCH_BYTES = 31_035_704


class DataError(ValueError):
    """A dataset is missing, unreadable, or not what it claims to be."""


@dataclass(frozen=True)
class Dataset:
    """Train and test images (uint8, N x 32 x 32 x 3, RGB) with integer labels."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    class_names: tuple[str, ...]
    source: str  # where it was read from, for the results file

    @functools.cached_property
    def sha256(self) -> str:
        """sha256 of the images and labels (train, then test): computed once per dataset,
        however often a run's identity asks (CIFAR-10 is 184 MB of them)."""

        digest = hashlib.sha256()
        for array in (self.train_x, self.train_y, self.test_x, self.test_y):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()


# --- the restricted unpickler ---

# The one function numpy's own array pickles call, obtained without naming numpy internals.
_RECONSTRUCT = np.ndarray(0).__reduce__()[0]
_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
}


class _Refused(pickle.UnpicklingError):
    pass


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"it asks for {module}.{name}") from None


def _parse_batch(f: BinaryIO, where: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch file -> (uint8 N x 32 x 32 x 3 RGB images, int64 labels)."""
    try:
        batch = _ArraysOnly(f, encoding="bytes").load()
    except _Refused as exc:
        raise DataError(f"{where} is not a CIFAR-10 batch file and was not loaded: {exc}") from None
    except Exception as exc:  # truncated or garbled pickles raise almost anything
        raise DataError(f"{where} is corrupt or truncated: {type(exc).__name__}: {exc}") from None
    data = batch.get(b"data") if isinstance(batch, dict) else None
    labels = batch.get(b"labels") if isinstance(batch, dict) else None
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2):
        raise DataError(f"{where} is not a CIFAR-10 batch: no uint8 'data' array of rows")
    if data.shape[1] != _IMAGE_BYTES or not isinstance(labels, list | np.ndarray):
        raise DataError(f"{where} is not a CIFAR-10 batch: rows must be {_IMAGE_BYTES} bytes")
    labels = np.asarray(labels)
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where} is not a CIFAR-10 batch: {len(data)} images, labels don't match")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise DataError(f"{where} is not a CIFAR-10 batch: labels outside 0..9")
    # Each row is three 32x32 planes, R then G then B: to channels-last.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def _assemble(read: Callable[[str], tuple[np.ndarray, np.ndarray]], source: str) -> Dataset:
    train = [read(name) for name in _TRAIN_FILES]
    test_x, test_y = read(_TEST_FILE)
    return Dataset(
        name="cifar10",
        train_x=np.concatenate([x for x, _ in train]),
        train_y=np.concatenate([y for _, y in train]),
        test_x=test_x,
        test_y=test_y,
        class_names=CIFAR10_CLASSES,
        source=source,
    )


def _check_size(where: str, size: int) -> None:
    files.check_size(where, size, MAX_BATCH_BYTES, "any CIFAR-10 batch", DataError)


def _from_folder(folder: Path) -> Dataset:
    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        path = folder / name
        try:
            _check_size(str(path), path.stat().st_size)
            with path.open("rb") as f:
                return _parse_batch(f, str(path))
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None

    return _assemble(read, str(folder))


def _from_tarball(path: Path) -> Dataset:
    # Members are read straight from the archive: nothing is extracted, so no member
    # name can write outside a folder.
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = {
                Path(m.name).name: m
                for m in tar.getmembers()
                if m.isfile() and Path(m.name).parent.name == _FOLDER
            }

            def read(name: str) -> tuple[np.ndarray, np.ndarray]:
                if name not in members:
                    raise DataError(f"{path} has no {_FOLDER}/{name}: not CIFAR-10's archive")
                _check_size(f"{path}:{members[name].name}", members[name].size)
                return _parse_batch(
                    io.BytesIO(tar.extractfile(members[name]).read()),
                    f"{path}:{members[name].name}",
                )

            return _assemble(read, str(path))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{path} is not a readable .tar.gz: {exc}") from None


def _candidates(path: Path) -> Iterator[Path]:
    """What a user may mean by ``path``: the archive, the batches folder, or their parent."""
    yield path
    yield path / _FOLDER
    yield path / "cifar-10-python.tar.gz"


def _open(path: Path) -> Dataset | None:
    if path.is_file():
        return _from_tarball(path)
    if (path / _TEST_FILE).is_file():
        return _from_folder(path)
    return None


def keras_cache_paths() -> list[Path]:
    """Where Keras 3 and Keras 2 keep a downloaded CIFAR-10, newest layout first."""
    roots = [Path(os.environ["KERAS_HOME"])] if os.environ.get("KERAS_HOME") else []
    roots.append(Path.home() / ".keras")
    paths = []
    for root in roots:
        datasets = root / "datasets"
        paths += [
            datasets / "cifar-10-batches-py-target" / _FOLDER,  # Keras 3, extracted
            datasets / "cifar-10-batches-py-target_archive",  # Keras 3, the tarball
            datasets / _FOLDER,  # Keras 2, extracted
            datasets / "cifar-10-batches-py.tar.gz",  # Keras 2, the tarball
        ]
    return paths


def load_cifar10(
    data_dir: str | Path | None = None, download: Callable[[], Dataset] | None = None
) -> Dataset:
    """CIFAR-10 from ``data_dir``, ``$BENCH_CIFAR10``, Keras' caches or ``download`` (Keras'
    own, ``bench.keras.compat.download_cifar10``, handed in by the layer that may load
    Keras; without one, not found is an error here)."""
    given = data_dir or os.environ.get(CIFAR10_ENV)
    if given:
        for candidate in _candidates(Path(given).expanduser()):
            dataset = _open(candidate)
            if dataset is not None:
                return dataset
        how = "--data-dir" if data_dir else f"${CIFAR10_ENV}"
        raise DataError(
            f"no CIFAR-10 at {given} (from {how}): expected cifar-10-python.tar.gz or its "
            f"{_FOLDER}/ folder with data_batch_1..5 and test_batch"
        )
    looked = keras_cache_paths()
    for path in looked:
        dataset = _open(path)
        if dataset is not None:
            return dataset
    try:
        if download is None:
            raise DataError("no download was offered")
        return download()
    except Exception as exc:
        raise DataError(
            f"CIFAR-10 not found: looked in {', '.join(map(str, looked))} and Keras' download "
            f"failed ({type(exc).__name__}: {str(exc)[:120]}); pass --data-dir or set "
            f"${CIFAR10_ENV} to cifar-10-python.tar.gz or its {_FOLDER}/ folder, "
            f"or use --dataset digits"
        ) from None


def load_digits() -> Dataset:
    """scikit-learn's digits as 32x32x3 uint8 images, with the fixed split above."""
    # lazy: scikit-learn takes over a second to load; only the digits set needs these
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    grey = np.rint(digits.images * (255 / 16)).astype(np.uint8)  # 0..16 -> 0..255
    big = grey.repeat(4, axis=1).repeat(4, axis=2)  # 8x8 -> 32x32
    images = np.repeat(big[..., np.newaxis], 3, axis=3)
    train_x, test_x, train_y, test_y = train_test_split(
        images,
        digits.target.astype(np.int64),
        test_size=DIGITS_TEST_IMAGES,
        stratify=digits.target,
        random_state=0,
    )
    return Dataset("digits", train_x, train_y, test_x, test_y, DIGITS_CLASSES, "sklearn.datasets")


def load(
    name: str, data_dir: str | Path | None = None, download: Callable[[], Dataset] | None = None
) -> Dataset:
    """The dataset called ``name`` (one of ``DATASETS``)."""
    if name == "cifar10":
        return load_cifar10(data_dir, download)
    if name == "digits":
        return load_digits()
    raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")


def subset(dataset: Dataset, train_images: int, seed: int) -> Dataset:
    """A seeded, stratified subset: ``train_images`` training images and the same share
    of the test set (at least one image per class in each)."""
    classes = len(dataset.class_names)
    available = len(dataset.train_y)
    if isinstance(train_images, bool) or not isinstance(train_images, int):
        raise DataError(f"subset must be a whole number, got {train_images!r}")
    if not classes <= train_images <= available:
        raise DataError(
            f"subset must be between {classes} (one image per class) and the {available:,} "
            f"training images of {dataset.name}, got {train_images:,}"
        )
    if train_images == available:
        return dataset
    test_images = max(classes, round(train_images * len(dataset.test_y) / available))

    def pick(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.model_selection import train_test_split  # lazy: sklearn takes 1 s to load

        if n >= len(y):
            return x, y
        if len(y) - n < classes:  # too few left out to stratify them: leave them at random
            drop = np.random.default_rng(seed).choice(len(y), len(y) - n, replace=False)
            keep = np.setdiff1d(np.arange(len(y)), drop)
        else:
            keep, _ = train_test_split(
                np.arange(len(y)), train_size=n, stratify=y, random_state=seed
            )
        keep.sort()  # keep the dataset's own order; fit shuffles anyway
        return x[keep], y[keep]

    train_x, train_y = pick(dataset.train_x, dataset.train_y, train_images)
    test_x, test_y = pick(dataset.test_x, dataset.test_y, test_images)
    return Dataset(
        dataset.name, train_x, train_y, test_x, test_y, dataset.class_names, dataset.source
    )


def epoch_order(seed: int, epoch: int, images: int) -> np.ndarray:
    """The order of the ``images`` training images in ``epoch`` (0-based) of a run seeded
    ``seed``: a function of these alone, the same on every backend and after a resume.
    numpy's RandomState, not its Generator: RandomState's streams are frozen across numpy
    releases, so a run resumed after a numpy upgrade still sees the same batches."""
    return np.random.RandomState([seed, epoch]).permutation(images)


def one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    """The post's ``LabelBinarizer`` encoding, fitted on all ``classes`` labels (so a subset
    missing a class still gets ``classes`` columns)."""
    from sklearn.preprocessing import LabelBinarizer  # lazy: sklearn takes 1 s to load

    return LabelBinarizer().fit(np.arange(classes)).transform(labels)
