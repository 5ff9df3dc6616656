"""JSON read from a file: a regular file of bounded size, bounded nesting, no NaN.

Python's ``json`` parser, ``jsonschema`` and ``json.dumps`` all recurse once per level of
nesting, and each has its own depth at which it hits the recursion limit: a file nested to
a depth that gets past one of them ends in a ``RecursionError`` in the next. So the depth
is measured first, by a scan that does not recurse, and anything deeper than any file of
the suite could be (``MAX_DEPTH``) is refused before it is parsed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import files

# Deeper than any file the suite writes (a results file is 4 levels deep), far below
# Python's recursion limit (1,000) on every parser that sees the data after this one.
MAX_DEPTH = 64
# A 100-epoch results file is about 30 kB; plan.json grows with the runs it lists.
MAX_BYTES = 4 * 1024 * 1024

# A string, left to right; one left open runs to the end (so the scan never backtracks).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


class _NotFiniteError(ValueError):
    pass


def _no_constant(name: str) -> None:
    raise _NotFiniteError(name)  # Python's json reads NaN and Infinity, which JSON does not allow


def depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text (brackets in strings ignored)."""
    brackets = np.frombuffer(_NOT_BRACKET.sub(b"", _STRING.sub(b"", raw)), dtype=np.uint8)
    if not len(brackets):
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def loads(raw: bytes, where: str, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON bytes; ``ValueError`` naming ``where`` for anything that is not JSON
    (not UTF-8, malformed, NaN or infinite, nested deeper than ``max_depth``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    if depth(raw) > max_depth:
        raise ValueError(f"{where}: nested deeper than {max_depth} levels: not read")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except _NotFiniteError as exc:
        raise ValueError(f"{where}: holds a NaN or infinite number ({exc})") from None
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{where}: not valid JSON ({exc})") from None


def read(path: Path, limit: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON in ``path``, read through ``files.read_regular``; ``ValueError`` naming it."""
    return loads(files.read_regular(Path(path), limit), str(path), max_depth)


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
