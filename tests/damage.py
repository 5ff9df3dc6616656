"""Hypothesis strategies that damage a file the suite reads: a JSON document (a key
dropped, a value retyped, NaN, deep nesting, truncated, a non-UTF-8 byte) or a text/CSV
file (a line dropped or repeated, a cell replaced, truncated)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

DEEP = "__deep__"  # stands for nesting deeper than Python's recursion limit
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.just([]),
    st.just({}),
    st.just(DEEP),
)


def paths(doc: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path to a value inside ``doc`` (dict keys and list indices)."""
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in items:
        yield (*prefix, key)
        yield from paths(value, (*prefix, key))


def _text(doc: Any) -> str:
    text = json.dumps(doc, allow_nan=True)
    return text.replace(json.dumps(DEEP), "[" * 50_000 + "]" * 50_000)


@st.composite
def damaged_json(draw: st.DrawFn, doc: Any) -> bytes:
    """``doc`` as JSON bytes, damaged once."""
    kind = draw(st.sampled_from(["drop", "replace", "replace", "truncate", "garble"]))
    text = _text(doc)
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text) - 1))].encode()
    if kind == "garble":
        at = draw(st.integers(0, len(text)))
        return (
            text[:at].encode()
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00"]))
            + text[at:].encode()
        )
    damaged = copy.deepcopy(doc)
    path = draw(st.sampled_from(list(paths(doc))))
    parent = damaged
    for key in path[:-1]:
        parent = parent[key]
    if kind == "drop":
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(JUNK)
    return _text(damaged).encode()


@st.composite
def damaged_lines(draw: st.DrawFn, text: str, separator: str = ",") -> str:
    """``text`` with one line dropped or repeated, one cell replaced, or cut short."""
    lines = text.splitlines(keepends=True)
    kind = draw(st.sampled_from(["drop", "repeat", "cell", "cell", "truncate"]))
    at = draw(st.integers(0, len(lines) - 1))
    if kind == "drop":
        del lines[at]
    elif kind == "repeat":
        lines.insert(at, lines[at])
    elif kind == "cell":
        cells = lines[at].rstrip("\n").split(separator)
        column = draw(st.integers(0, len(cells) - 1))
        cells[column] = draw(
            st.sampled_from(
                ["", "x", "nan", "inf", "-1", "1e400", "0", "poly", "cosine", "101", "9.9.9"]
            )
        )
        lines[at] = separator.join(cells) + "\n"
    else:
        joined = "".join(lines)
        return joined[: draw(st.integers(0, len(joined) - 1))]
    return "".join(lines)
