"""Writing files whole or not at all; reading only regular files of a bounded size."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()
# What a write says when the disk (or the user's quota, or the file-size limit) is full.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class DiskFullError(ValueError):
    """No space to write a file; what was there before is as it was."""


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk is full (however deep a library wrapped it)."""
    while exc is not None:
        if isinstance(exc, DiskFullError) or getattr(exc, "errno", None) in _FULL:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _free(folder: Path) -> str:
    try:
        return f"{shutil.disk_usage(folder).free:,} bytes free"
    except OSError:
        return "free space unknown"


def check_space(folder: Path, needed: int, what: str) -> None:
    """``DiskFullError`` unless ``folder``'s file system has ``needed`` bytes free for
    ``what``: asked before a writer that cannot fail cleanly (h5py) is let loose."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DiskFullError(f"no space for {what} in {folder}: {free:,} bytes free, "
                            f"{needed:,} needed; free some space and run the same command "
                            "again")  # fmt: skip


# The longest path the suite writes inside an output folder, with room to spare:
# state/EXPERIMENT-seedSEED/backup/ and Keras' names, plus a temporary file's suffix
# (tests/smoke/test_resume_smoke.py measures every path a run writes against it).
ROOM = 128
# atomic_write's temporary file is named ".NAME.XXXXXXXX.tmp": 14 bytes more than NAME.
_TEMPORARY_EXTRA = len("." + ".XXXXXXXX.tmp")


def make_folders(folder: Path) -> list[Path]:
    """``folder`` and its missing parents, made top down; the ones made, deepest last.

    pathlib's ``mkdir(parents=True)`` recurses once per missing folder (a deep ``--out``
    ends in a ``RecursionError``), and leaves the ones it made where it fails: this does
    neither.
    """
    folder = Path(folder)
    missing = [p for p in (folder, *folder.parents) if not p.is_dir()][::-1]
    made: list[Path] = []
    try:
        for path in missing:
            path.mkdir(exist_ok=True)
            made.append(path)
    except OSError:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    return made


def atomic_write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place.

    A crash, a kill or an exception leaves either the old file or the new one, never half
    of one, and no temporary file behind (short of SIGKILL mid-write).
    """
    path = Path(path)
    make_folders(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        if exc.errno in _FULL:
            raise _full_error(path, exc) from None
        raise
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # as open() would create it, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in _FULL:
            raise _full_error(path, exc) from None
        raise
    return path


def _full_error(path: Path, exc: OSError) -> DiskFullError:
    return DiskFullError(f"cannot write {path}: {exc.strerror} ({_free(path.parent)}); "
                         "what was there is as it was")  # fmt: skip


def check_writable_file(path: Path) -> None:
    """``check_writable`` for a file's folder, and ``ValueError`` if ``path`` is already a
    folder or something else that is not a regular file (the rename at the end would fail,
    after all the work)."""
    path = Path(path)
    exists = _exists(path)
    if exists and not path.is_file():
        raise ValueError(f"cannot write to {path}: it is a folder or a special file")
    if not exists and _is_link(path):
        raise ValueError(f"cannot write to {path}: a link to nothing (dangling, or a loop)")
    check_writable(path.parent)
    size, name_max = len(os.fsencode(path.name)), _system_limit(path.parent, "PC_NAME_MAX", 255)
    if size + _TEMPORARY_EXTRA > name_max:
        raise ValueError(f"cannot write to {_shown(path)}: its name is {size} bytes, and "
                         f"this file system allows {name_max - _TEMPORARY_EXTRA} for a file "
                         "written whole")  # fmt: skip


def check_writable(folder: Path) -> None:
    """Raise ``ValueError`` unless ``folder`` exists as a writable folder or could be created.

    Checked before any work starts, so bad ``--out`` fails at once and creates nothing.
    """
    folder = Path(folder).absolute()
    try:
        str(folder).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"cannot write to {folder!r}: its name is not valid UTF-8") from None
    probe = folder
    while not _exists(probe):
        if _is_link(probe):  # mkdir would fail on it after all the work, "File exists"
            raise ValueError(f"cannot write to {_shown(folder)}: {_shown(probe)} is a link to "
                             "nothing (dangling, or a loop)")  # fmt: skip
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(f"cannot write to {folder}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to {folder}: {probe} is not writable")
    _check_length(folder, probe)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a name too long for the file system: it is not there
        return False


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except OSError:
        return False


def _system_limit(folder: Path, name: str, fallback: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return fallback


def _shown(folder: Path) -> str:
    text = str(folder)
    return text if len(text) <= 100 else f"{text[:60]}...{text[-36:]}"


def _check_length(folder: Path, probe: Path) -> None:
    """Refuse a folder whose names or whole path the file system cannot hold, with room
    for the files the suite writes inside (``ROOM``): found now, not halfway through."""
    name_max = _system_limit(probe, "PC_NAME_MAX", 255)
    longest = max(len(os.fsencode(part)) for part in folder.parts)
    if longest > name_max:
        raise ValueError(f"cannot write to {_shown(folder)}: a name in it is {longest} bytes, "
                         f"more than the {name_max} this file system allows")  # fmt: skip
    path_max = _system_limit(probe, "PC_PATH_MAX", 4096)
    size = len(os.fsencode(str(folder)))
    if size + ROOM > path_max:
        raise ValueError(f"cannot write to {_shown(folder)}: its path is {size:,} bytes, and "
                         f"the files inside need it under {path_max - ROOM:,}")  # fmt: skip


# What each kind of file that is not a regular one is called in a refusal.
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _check_regular(path: Path, info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path}: {_kind(info.st_mode)}, not a regular file: not read")
    if info.st_size > limit:
        raise ValueError(f"{path}: {info.st_size:,} bytes, more than the {limit:,} such a "
                         "file may hold: not read")  # fmt: skip


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file (a symlink to one counts) of at most
    ``limit`` bytes; else ``ValueError``, one line naming it.

    A FIFO would block the reader forever and a symlink to /dev/zero fill its memory, so
    the type and size are checked before a byte is read. The file is opened non-blocking
    and checked again on its descriptor, since it may be swapped between the two looks,
    and never more than ``limit`` bytes are read, since a regular file may still grow.
    """
    path = Path(path)
    try:
        _check_regular(path, os.stat(path), limit)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        _check_regular(path, os.fstat(fd), limit)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise ValueError(f"{path}: grew past the {limit:,} bytes such a file may hold: not read")
    return b"".join(chunks)
