"""The command lines, code blocks and links the README and the docs/ pages show, each with
its line number, so that tests can run or parse them as a reader would paste them, and
follow the links as a reader would click them (tests/unit/test_readme.py,
tests/readme/test_main_job.py).

A command is what a reader pastes into a shell: a line of a ``bash`` block (a trailing
``\\`` joins the next line, a ``#`` starts a comment, ``&&`` separates commands), or an
inline code span in the prose that starts with a command this suite provides
(``python -m bench``, ``bench``, ``nox``, ``pytest``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# A fence: ``` or ~~~, maybe indented (in a list), its language the first word after it.
FENCE = re.compile(r"^\s*(```|~~~)\s*([\w-]*)")
# A code span may wrap onto the next line of its paragraph, never across a blank line.
INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
# Inline spans that are commands of this suite (prose names others, e.g. `pip install
# tensorflow`, as facts rather than as lines to paste).
SUITE_COMMAND = (
    r"(?:[A-Za-z_][A-Za-z0-9_]*=\S* )*(?:python3? -m (?:bench|nox|pytest)|bench|nox|pytest)(?: |$)"
)
INLINE_COMMANDS = re.compile(SUITE_COMMAND)
# Fenced blocks whose lines are commands; any other block is output or text and must not
# hold a line that starts like one (tests/unit/test_readme.py). In a console block, a
# command is a line after a "$ " prompt and the other lines are its output.
SHELL = ("bash", "sh", "shell", "zsh", "console", "shell-session")
PROMPTED = ("console", "shell-session")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=\S*")


# A link or image: [text](target "title") or ![alt](<target>); the text may hold code spans.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
# A reference definition: [label]: target
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?", re.MULTILINE)
# A target with a scheme (https:, mailto:) or a host (//) leaves the repository.
EXTERNAL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")
HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")


def pages() -> list[Path]:
    """The prose whose commands and links are checked: the README, every docs/ page, and
    reports/README.md."""
    return [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "reports" / "README.md"]


def page_name(path: Path) -> str:
    """A page as its checks name it: its path from the repository's root."""
    return path.relative_to(ROOT).as_posix()


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # the README line of the block's first line of code
    code: str


@dataclass(frozen=True)
class Command:
    line: int  # the README line the command starts on
    text: str  # as written, continuations joined, comment dropped
    words: tuple[str, ...]  # as the shell splits it, leading VAR=value assignments dropped
    inline: bool  # an inline code span, not a line of a bash block
    page: str = "README.md"  # the page it is on, from the repository's root

    def where(self) -> str:
        return f"{self.page} line {self.line}: {self.text}"


def blocks(text: str) -> list[Block]:
    """Every fenced code block, in order."""
    found, fence, language, start, lines = [], None, "", 0, []
    for number, line in enumerate(text.splitlines(), 1):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence, language, start, lines = opening.group(1), opening.group(2), number + 1, []
        elif fence is not None and line.strip() == fence:
            found.append(Block(language, start, "\n".join(lines) + "\n"))
            fence = None
        elif fence is not None:
            lines.append(line)
    return found


def _without_comment(line: str) -> str:
    """``line`` up to a ``#`` outside quotes that starts a word (the shell's comment)."""
    quote = None
    for at, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (at == 0 or line[at - 1].isspace()):
            return line[:at].strip()
    return line.strip()


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split("&&") if part.strip()]


def _command(line: int, text: str, inline: bool) -> Command:
    words = shlex.split(text)
    while words and ASSIGNMENT.fullmatch(words[0]):
        words.pop(0)
    return Command(line, text, tuple(words), inline)


def _block_commands(block: Block) -> list[Command]:
    found, pending, start = [], "", 0
    for offset, raw in enumerate([*block.code.splitlines(), ""]):
        typed = raw.strip()
        if typed.startswith("$ "):
            typed = typed[2:]
        elif block.language in PROMPTED and not pending:
            continue  # output shown under a command
        line = _without_comment(typed)
        if not pending:
            start = block.line + offset
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        text, pending = (pending + line).strip(), ""
        found += [_command(start, part, False) for part in _split(text)]
    return found


def _prose(text: str) -> str:
    """``text`` with its fenced blocks blanked, every line keeping its number."""
    lines, fence = text.splitlines(), None
    for k, line in enumerate(lines):
        opening = FENCE.match(line)
        if fence is None and opening:
            fence, lines[k] = opening.group(1), ""
        elif fence is not None:
            fence, lines[k] = (None if line.strip() == fence else fence), ""
    return "\n".join(lines)


def _inline_commands(text: str) -> list[Command]:
    """Inline spans outside the fenced blocks, a span that wraps read as one line."""
    prose, found = _prose(text), []
    for span in INLINE.finditer(prose):
        if "\n\n" in span.group(1):
            continue  # not a code span: a paragraph ends inside it
        words = " ".join(span.group(1).split())
        if INLINE_COMMANDS.match(words):
            number = prose.count("\n", 0, span.start()) + 1
            found += [_command(number, part, True) for part in _split(words)]
    return found


def commands(text: str, page: str = "README.md") -> list[Command]:
    """Every command of a page's bash blocks, then every inline one, in order."""
    shell = [c for b in blocks(text) if b.language in SHELL for c in _block_commands(b)]
    return [replace(c, page=page) for c in shell + _inline_commands(text)]


def first_two(text: str) -> tuple[Command, Command]:
    """The README's first two lines of code: the main job and the test command."""
    first = blocks(text)[0]
    numbered = [(first.line + k, line) for k, line in enumerate(first.code.splitlines())]
    main, tests = [_command(n, _without_comment(line), False) for n, line in numbered][:2]
    return main, tests


def hidden_commands(text: str, page: str = "README.md") -> list[str]:
    """Lines of blocks that are neither shell nor Python but start like a suite command
    (after a "$ " prompt too): a command there would escape every check."""
    return [
        f"{page} line {b.line + k}: {line.strip()} (in a {b.language or 'plain'} block)"
        for b in blocks(text)
        if b.language not in (*SHELL, "python")
        for k, line in enumerate(b.code.splitlines())
        if re.match(SUITE_COMMAND, line.strip().removeprefix("$ "))
    ]


@dataclass(frozen=True, order=True)
class Link:
    line: int  # the page's line the link is on
    target: str  # as written: a path relative to the page, maybe with a #fragment


def links(text: str) -> list[Link]:
    """Every link, image and reference definition of a page's prose that stays in the
    repository (a code span or a fenced block shows a link, it does not make one)."""
    prose = INLINE.sub(lambda span: re.sub(r"[^\n]", " ", span.group()), _prose(text))
    found = [*LINK.finditer(prose), *REFERENCE.finditer(prose)]
    return sorted(
        Link(prose.count("\n", 0, m.start()) + 1, m.group(1))
        for m in found
        if m.group(1) and not EXTERNAL.match(m.group(1))
    )


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (a link's text, no markup) in lower
    case, each character that is not a letter, a digit, "-", "_" or a space dropped, and
    each space made a "-"."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page's headings make; a repeated one gets "-1", "-2", ... as on
    GitHub."""
    found: set[str] = set()
    for line in _prose(text).splitlines():
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            name, count = base, 0
            while name in found:
                count += 1
                name = f"{base}-{count}"
            found.add(name)
    return found


def link_problem(page: Path, text: str, link: Link) -> str | None:
    """None if ``link`` on ``page`` (whose text is ``text``) names a file or folder of the
    repository and, into a markdown page, one of its headings' anchors; else what is
    wrong."""
    path, _, fragment = link.target.partition("#")
    if not path:  # an anchor of the page itself
        return None if unquote(fragment) in anchors(text) else f"no heading #{fragment} here"
    target = (page.parent / unquote(path)).resolve()
    if not target.is_relative_to(ROOT):
        return "leads out of the repository"
    if not target.exists():
        return f"no file {target.relative_to(ROOT).as_posix()}"
    if fragment and target.suffix == ".md":
        if unquote(fragment) not in anchors(target.read_text(encoding="utf-8")):
            return f"{target.relative_to(ROOT).as_posix()} has no heading #{fragment}"
    return None
