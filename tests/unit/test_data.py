"""Loading CIFAR-10 from what a user has (written here in its exact format), and digits."""

import gzip
import pickle

import numpy as np
import pytest

from bench.core import data

import cifar_files as cf


@pytest.fixture
def no_keras_cache(tmp_path, monkeypatch):
    """No $BENCH_CIFAR10, and Keras' caches pointed at empty folders."""
    monkeypatch.delenv(data.CIFAR10_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture
def cifar(tmp_path):
    written = cf.write_folder(tmp_path / "src")
    return tmp_path / "src", cf.expected(written)


def _no_download():
    raise OSError("network unreachable")


def _assert_round_trip(dataset, want):
    train_x, train_y, test_x, test_y = want
    assert dataset.name == "cifar10"
    assert dataset.train_x.dtype == np.uint8 and dataset.train_x.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(dataset.train_x, train_x)  # pixels and channel order
    np.testing.assert_array_equal(dataset.train_y, train_y)
    np.testing.assert_array_equal(dataset.test_x, test_x)
    np.testing.assert_array_equal(dataset.test_y, test_y)
    assert list(dataset.train_x[0, 0, 0]) == [255, 0, 128]  # R, G, B
    assert dataset.class_names[0] == "airplane" and len(dataset.class_names) == 10


@pytest.mark.parametrize("which", ["batches folder", "its parent", "tarball", "tarball's folder"])
def test_data_dir_forms(cifar, tmp_path, no_keras_cache, which):
    src, want = cifar
    tarball = cf.write_tarball(tmp_path / "dl" / "cifar-10-python.tar.gz", src / cf.FOLDER)
    given = {
        "batches folder": src / cf.FOLDER,
        "its parent": src,
        "tarball": tarball,
        "tarball's folder": tarball.parent,
    }[which]
    _assert_round_trip(data.load_cifar10(given, download=_no_download), want)


def test_environment_variable(cifar, monkeypatch, no_keras_cache):
    src, want = cifar
    monkeypatch.setenv(data.CIFAR10_ENV, str(src))
    _assert_round_trip(data.load_cifar10(download=_no_download), want)


def test_data_dir_wins_over_environment(cifar, tmp_path, monkeypatch, no_keras_cache):
    src, want = cifar
    monkeypatch.setenv(data.CIFAR10_ENV, str(tmp_path / "nowhere"))
    _assert_round_trip(data.load_cifar10(src, download=_no_download), want)


@pytest.mark.parametrize(
    "layout",
    [
        "cifar-10-batches-py-target/cifar-10-batches-py",  # Keras 3, extracted
        "cifar-10-batches-py-target_archive",  # Keras 3, the tarball
        "cifar-10-batches-py",  # Keras 2, extracted
        "cifar-10-batches-py.tar.gz",  # Keras 2, the tarball
    ],
)
@pytest.mark.parametrize("home", ["KERAS_HOME", "HOME"])
def test_keras_caches(cifar, tmp_path, no_keras_cache, layout, home):
    src, want = cifar
    root = tmp_path / ("keras_home" if home == "KERAS_HOME" else "home/.keras")
    target = root / "datasets" / layout
    if layout.endswith(("archive", ".tar.gz")):
        cf.write_tarball(target, src / cf.FOLDER)
    else:
        target.parent.mkdir(parents=True)
        (src / cf.FOLDER).rename(target)
    _assert_round_trip(data.load_cifar10(download=_no_download), want)


def test_falls_back_to_keras_download(no_keras_cache):
    sentinel = data.Dataset("cifar10", *[np.zeros(1)] * 4, data.CIFAR10_CLASSES, "download")
    assert data.load_cifar10(download=lambda: sentinel) is sentinel


def test_nothing_anywhere_says_where_it_looked(no_keras_cache, tmp_path):
    with pytest.raises(data.DataError) as info:
        data.load_cifar10(download=_no_download)
    message = str(info.value)
    assert "\n" not in message
    assert (
        str(tmp_path / "keras_home" / "datasets" / "cifar-10-batches-py-target_archive") in message
    )
    assert str(tmp_path / "home" / ".keras" / "datasets" / "cifar-10-batches-py.tar.gz") in message
    assert "network unreachable" in message
    assert "--data-dir" in message and data.CIFAR10_ENV in message and "--dataset digits" in message


def test_wrong_data_dir(tmp_path, no_keras_cache):
    with pytest.raises(data.DataError, match=r"no CIFAR-10 at .*empty \(from --data-dir\)"):
        data.load_cifar10(tmp_path / "empty", download=_no_download)


def _corrupt(path, how):
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "garbage":
        path.write_bytes(b"this is not a pickle at all" * 10)
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "python3 pickle":  # Python 3's pickle of the same dict: bytes via _codecs
        path.write_bytes(
            cf.python3_pickle({b"data": np.zeros((1, 3072), np.uint8), b"labels": [1]})
        )
    elif how == "not a batch":
        path.write_bytes(pickle.dumps({b"data": [1, 2, 3]}, protocol=4))
    elif how == "wrong row size":
        images, labels = cf.make_images(2, seed=0)
        path.write_bytes(cf.batch_bytes(images[:, :16, :16], labels, b"x"))
    elif how == "bad labels":
        images, _ = cf.make_images(2, seed=0)
        path.write_bytes(cf.batch_bytes(images, [3, 11], b"x"))


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", "is corrupt or truncated"),
        ("garbage", "is corrupt or truncated"),
        ("empty", "is corrupt or truncated"),
        ("python3 pickle", "was not loaded: it asks for _codecs.encode"),
        ("not a batch", "is not a CIFAR-10 batch: no uint8 'data' array"),
        ("bad labels", "is not a CIFAR-10 batch: labels outside 0..9"),
        ("wrong row size", "is not a CIFAR-10 batch: rows must be 3072 bytes"),
    ],
)
def test_bad_batch_files_are_clear_errors(cifar, no_keras_cache, how, message):
    src, _ = cifar
    _corrupt(src / cf.FOLDER / "data_batch_3", how)
    with pytest.raises(data.DataError, match=message) as info:
        data.load_cifar10(src, download=_no_download)
    assert "data_batch_3" in str(info.value) and "\n" not in str(info.value)


class _Exploit:
    """Unpickling this runs a shell command - if the loader lets it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_malicious_pickle_runs_nothing(cifar, tmp_path, no_keras_cache, protocol):
    src, _ = cifar
    marker = tmp_path / "pwned"
    (src / cf.FOLDER / "test_batch").write_bytes(pickle.dumps(_Exploit(marker), protocol=protocol))
    with pytest.raises(
        data.DataError,
        match=r"test_batch is not a CIFAR-10 batch file and was not loaded: "
        r"it asks for (posix|os|nt)\.system",
    ):
        data.load_cifar10(src, download=_no_download)
    assert not marker.exists()


def test_malicious_pickle_inside_tarball(cifar, tmp_path, no_keras_cache):
    src, _ = cifar
    marker = tmp_path / "pwned"
    (src / cf.FOLDER / "data_batch_1").write_bytes(pickle.dumps(_Exploit(marker), protocol=2))
    tarball = cf.write_tarball(tmp_path / "cifar-10-python.tar.gz", src / cf.FOLDER)
    with pytest.raises(
        data.DataError, match=r"cifar-10-batches-py/data_batch_1 is not a CIFAR-10 batch file"
    ):
        data.load_cifar10(tarball, download=_no_download)
    assert not marker.exists()


@pytest.mark.parametrize("how", ["truncated", "not gzip", "missing member"])
def test_bad_tarballs(cifar, tmp_path, no_keras_cache, how):
    src, _ = cifar
    if how == "missing member":
        (src / cf.FOLDER / "test_batch").unlink()
    tarball = cf.write_tarball(tmp_path / "cifar-10-python.tar.gz", src / cf.FOLDER)
    raw = tarball.read_bytes()
    if how == "truncated":
        tarball.write_bytes(raw[: len(raw) // 2])
    elif how == "not gzip":
        tarball.write_bytes(gzip.decompress(raw)[:100])
    message = {
        "truncated": "is not a readable .tar.gz",
        "not gzip": "is not a readable .tar.gz",
        "missing member": "has no cifar-10-batches-py/test_batch",
    }[how]
    with pytest.raises(data.DataError, match=message):
        data.load_cifar10(tarball, download=_no_download)


# --- digits ---


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def test_digits_split_and_format(digits):
    assert (len(digits.train_y), len(digits.test_y)) == (1437, 360)
    assert digits.train_x.shape == (1437, 32, 32, 3) and digits.train_x.dtype == np.uint8
    assert digits.train_x.max() == 255 and digits.train_x.min() == 0
    # grey: three equal channels; 8x8 -> 32x32 by 4x4 pixel blocks
    assert (digits.train_x[..., 0] == digits.train_x[..., 2]).all()
    assert (digits.train_x[:, ::4, ::4] == digits.train_x[:, 3::4, 3::4]).all()
    assert np.bincount(digits.test_y).min() >= 35  # stratified: 35 or 36 of each digit


def test_digits_are_sklearns(digits):
    from sklearn.datasets import load_digits

    raw = load_digits()
    first = digits.train_x[0, ::4, ::4, 0]
    matches = np.flatnonzero((np.rint(raw.images * 255 / 16) == first).all(axis=(1, 2)))
    assert raw.target[matches[0]] == digits.train_y[0]


def test_digits_split_is_fixed(digits):
    again = data.load_digits()
    np.testing.assert_array_equal(again.test_x, digits.test_x)


def test_subset_is_stratified_and_seeded(digits):
    small = data.subset(digits, 100, seed=1)
    assert (len(small.train_y), len(small.test_y)) == (100, 25)
    assert np.bincount(small.train_y, minlength=10).min() >= 9
    same = data.subset(digits, 100, seed=1)
    other = data.subset(digits, 100, seed=2)
    np.testing.assert_array_equal(small.train_x, same.train_x)
    assert not np.array_equal(small.train_x, other.train_x)


def test_subset_of_everything_is_the_dataset(digits):
    assert data.subset(digits, 1437, seed=0) is digits


@pytest.mark.parametrize("n", [5, 1438, 0])
def test_subset_out_of_range(digits, n):
    with pytest.raises(
        data.DataError,
        match=r"subset must be between 10 \(one image per class\) and the 1,437 training "
        r"images of digits",
    ):
        data.subset(digits, n, seed=0)


def test_one_hot_is_label_binarizer():
    encoded = data.one_hot(np.array([3, 0, 9]), 10)
    assert encoded.shape == (3, 10) and encoded.argmax(axis=1).tolist() == [3, 0, 9]
    assert encoded.sum() == 3


def test_unknown_dataset():
    with pytest.raises(
        data.DataError, match="unknown dataset 'mnist': choose one of cifar10, digits"
    ):
        data.load("mnist")


@pytest.mark.parametrize("n", [1427, 1430, 1436])
def test_subset_close_to_the_data_size_is_what_the_range_says(digits, n):
    # Fewer than 10 images left out cannot be stratified: they are left out at random.
    picked = data.subset(digits, n, seed=0)
    assert len(picked.train_y) == n and set(picked.train_y.tolist()) == set(range(10))
    assert data.subset(digits, n, seed=0).train_y.tolist() == picked.train_y.tolist()


def test_an_oversized_tar_member_is_refused_before_it_is_read(cifar, tmp_path, no_keras_cache):
    src, _ = cifar
    big = src / cf.FOLDER / "data_batch_3"
    big.write_bytes(bytes(data.MAX_BATCH_BYTES + 1))  # zeros: a tiny .tar.gz, a huge member
    tarball = cf.write_tarball(tmp_path / "cifar-10-python.tar.gz", src / cf.FOLDER)
    assert tarball.stat().st_size < 100_000
    with pytest.raises(data.DataError, match=r"data_batch_3 is 31,035,705 bytes, more than"):
        data.load_cifar10(tarball, download=_no_download)
    with pytest.raises(data.DataError, match=r"data_batch_3 is 31,035,705 bytes, more than"):
        data.load_cifar10(src, download=_no_download)
