"""Text read from a file, made safe to show: data, never markup, never a new line.

Anything a report or a comparison shows that came from a file (an error text in
plan.json, an environment string, a class name, a file or folder name) passes through
here. A results file is anyone's to edit, so its text could otherwise add a second
"**Summary**" line, a heading, a ``<script>``, or make a 10 MB report out of one field.

``one_line`` is for a terminal: one line, no control character, at most ``limit``
characters. ``markdown_safe`` is for markdown (REPORT.md, BACKENDS.md), a table cell
included, and for HTML made from it: ``one_line`` and then every character that markdown
or HTML would read as markup written so that it shows as itself.
"""

from __future__ import annotations

import unicodedata

LIMIT = 200
ELLIPSIS = "…"
# Unicode's control, format (bidi overrides, zero-width), line/paragraph separator,
# surrogate, private-use and unassigned characters: none is text a reader should get raw.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
_SPACE = {"\n": " ", "\r": " ", "\t": " "}
# HTML's specials become entities (the ampersand first, so no entity is read twice); the
# markdown specials get the backslash escape CommonMark defines for ASCII punctuation.
_MARKUP = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "|": "&#124;", '"': "&quot;"} | {
    c: "\\" + c for c in "\\`*_[]~#!$"
}


def one_line(value: object, limit: int = LIMIT) -> str:
    """``value`` as one line of at most ``limit`` characters (the last one an ellipsis
    when it was longer); control characters are shown as U+FFFD."""
    text = str(value)
    cut = len(text) > limit
    text = text[: limit - 1] if cut else text  # cut first: a 10 MB text costs no more
    shown = "".join(
        _SPACE.get(c, "\ufffd" if unicodedata.category(c) in _HIDDEN else c) for c in text
    )
    return shown + ELLIPSIS if cut else shown


def markdown_safe(value: object, limit: int = LIMIT) -> str:
    """``one_line(value)`` with every markdown and HTML special shown as itself: safe inside
    a markdown table cell, a list item, a heading, or HTML."""
    return "".join(_MARKUP.get(c, c) for c in one_line(value, limit))
