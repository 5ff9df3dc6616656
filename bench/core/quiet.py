"""What a library writes straight to file descriptor 2 (below Python's ``sys.stderr``),
with one known line that says nothing wrong dropped and every other line passed on.

TensorFlow's CUDA build (the one the package index serves) looks for NVIDIA's driver at
its first device listing. Where there is none it says so at import, as information
("Could not find cuda drivers on your machine, GPU will not be used"), and then logs the
same fact as an error: ``E0000 ... cuda_platform.cc:52] failed call to cuInit: INTERNAL:
CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)``, on every CPU run. Its only
switch, ``TF_CPP_MIN_LOG_LEVEL=3``, would hide every error TensorFlow logs, so that line
alone is dropped, and only where the driver cannot be loaded: with a driver, a failed
cuInit is a real error and stays.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Callable, Iterator

CUINIT = "failed call to cuInit"
DRIVER = "libcuda.so.1"  # NVIDIA's driver library, as TensorFlow loads it


def cuda_driver() -> bool:
    """Whether NVIDIA's driver library can be loaded here (as TensorFlow would load it)."""
    try:
        ctypes.CDLL(DRIVER)
    except OSError:
        return False
    return True


def needless_cuinit(line: str, driver: bool | None = None) -> bool:
    """Whether ``line`` is TensorFlow's failed cuInit on a machine without the driver
    (``driver``: whether it loads; default: ``cuda_driver()``)."""
    return CUINIT in line and not (cuda_driver() if driver is None else driver)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


@contextlib.contextmanager
def dropping(unwanted: Callable[[str], bool]) -> Iterator[None]:
    """Inside the block, what is written to file descriptor 2 is held; after it (an
    exception too), every held line ``unwanted`` does not pick is written there, in order."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to filter
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().splitlines(keepends=True)
            kept = [line for line in lines if not unwanted(line.decode("utf-8", "replace"))]
            _write_all(2, b"".join(kept))
