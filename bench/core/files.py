"""The file boundary: every guard between bench and a file a user can touch.

Writing: a file is written whole or not at all (``atomic_write``), a full disk is one line
that leaves the old file as it was, and an output folder or file is checked before any work
(``check_writable``, ``check_writable_file``: creatable, writable, names and path short
enough for the files written inside, no dangling link in the way). Reading: only regular
files (``read_regular``: no FIFO, device or folder, a symlink only to a regular file), never
more bytes than the kind of file may hold (``read_regular``'s limit, ``check_size``), and
JSON no deeper than ``MAX_DEPTH`` (``read_json``, ``nesting``). docs/guards.md tables each
guard, the threat it meets and where it is used.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


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
        raise DiskFullError(
            f"no space for {what} in {folder}: {free:,} bytes free, "
            f"{needed:,} needed; free some space and run the same command "
            "again"
        )


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
    return DiskFullError(
        f"cannot write {path}: {exc.strerror} ({_free(path.parent)}); what was there is as it was"
    )


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
        raise ValueError(
            f"cannot write to {_shown(path)}: its name is {size} bytes, and "
            f"this file system allows {name_max - _TEMPORARY_EXTRA} for a file "
            "written whole"
        )


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
            raise ValueError(
                f"cannot write to {_shown(folder)}: {_shown(probe)} is a link to "
                "nothing (dangling, or a loop)"
            )
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
        raise ValueError(
            f"cannot write to {_shown(folder)}: a name in it is {longest} bytes, "
            f"more than the {name_max} this file system allows"
        )
    path_max = _system_limit(probe, "PC_PATH_MAX", 4096)
    size = len(os.fsencode(str(folder)))
    if size + ROOM > path_max:
        raise ValueError(
            f"cannot write to {_shown(folder)}: its path is {size:,} bytes, and "
            f"the files inside need it under {path_max - ROOM:,}"
        )


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
        raise ValueError(
            f"{path}: {info.st_size:,} bytes, more than the {limit:,} such a "
            "file may hold: not read"
        )


def check_size(
    where: str, size: int, limit: int, than: str, error: type[ValueError] = ValueError
) -> None:
    """``error`` unless ``size`` bytes (a file's, or an archive member's) is at most
    ``limit``, checked before a byte of it is read; ``than`` says what the limit is (the
    largest such file)."""
    if size > limit:
        raise error(f"{where} is {size:,} bytes, more than {than} ({limit:,}): not read")


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


# --- JSON ---
# Python's ``json`` parser, ``jsonschema`` and ``json.dumps`` all recurse once per level of
# nesting, and each has its own depth at which it hits the recursion limit: a file nested to
# a depth that gets past one of them ends in a ``RecursionError`` in the next. So the depth
# is measured first, by a scan that does not recurse, and anything deeper than any file of
# the suite could be (``MAX_DEPTH``) is refused before it is parsed.

# Deeper than any file the suite writes (a results file is 4 levels deep), far below
# Python's recursion limit (1,000) on every parser that sees the data after this one.
MAX_DEPTH = 64
# A 100-epoch results file is about 30 kB; plan.json grows with the runs it lists.
MAX_JSON_BYTES = 4 * 1024 * 1024

# A string, left to right; one left open runs to the end (so the scan never backtracks).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


class _NotFiniteError(ValueError):
    pass


def _no_constant(name: str) -> None:
    raise _NotFiniteError(name)  # Python's json reads NaN and Infinity, which JSON does not allow


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text (brackets in strings ignored)."""
    brackets = np.frombuffer(_NOT_BRACKET.sub(b"", _STRING.sub(b"", raw)), dtype=np.uint8)
    if not len(brackets):
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def parse_json(raw: bytes, where: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON bytes; ``ValueError`` naming ``where`` for anything that is not JSON
    (not UTF-8, malformed, NaN or infinite, nested deeper than ``max_depth``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    if json_depth(raw) > max_depth:
        raise ValueError(f"{where}: nested deeper than {max_depth} levels: not read")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except _NotFiniteError as exc:
        raise ValueError(f"{where}: holds a NaN or infinite number ({exc})") from None
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{where}: not valid JSON ({exc})") from None


def read_json(path: Path, limit: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON in ``path``, read through ``read_regular``; ``ValueError`` naming it."""
    return parse_json(read_regular(Path(path), limit), str(path), max_depth)


def nesting(value: Any, max_depth: int = MAX_DEPTH) -> int:
    """How deep a parsed (or about to be dumped) value nests, without recursing: a value
    built in memory may be deeper than any file, and ``json.dumps`` recurses."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list | tuple):
            level += 1
            deepest = max(deepest, level)
            if deepest > max_depth:
                return deepest
            stack.extend(
                (child, level) for child in (item.values() if isinstance(item, dict) else item)
            )
    return deepest
