"""Every command line the README shows is checked against the real thing, naming the README
line that fails: `python -m bench` lines are parsed by bench's own argument parser (inline
mentions: the command and each flag they name), `nox -s` names sessions nox lists, `pytest
-m` names registered markers, `pip install` names extras pyproject.toml declares. The first
line (the main job) runs verbatim in tests/readme/; the second is what `.ci/run` runs.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from functools import cache

import pytest
from readme_lines import README, ROOT, Command, commands, first_two, hidden_commands

from bench.cli import build_parser

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

EXTERNAL = {"ray"}  # other projects' commands, shown as their documentation gives them
BOOLEAN = {"and", "or", "not"}


def _bench_problem(words: list[str], inline: bool) -> str | None:
    """None if bench's parser takes ``words`` (after ``bench``); else its message. An inline
    mention names a command and maybe some flags, not a whole line: each flag is looked up
    in the command's --help."""
    if inline:
        usage = _bench_help(words[0])
        if usage is None:
            return f"no command {words[0]!r}"
        flags = [w.split("=")[0] for w in words[1:] if w.startswith("-")]
        unknown = [f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}\b", usage)]
        return f"{words[0]} has no {', '.join(unknown)}" if unknown else None
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(words)
        except SystemExit as exc:
            return err.getvalue().strip() or f"exit {exc.code}"
    return None


@cache
def _bench_help(command: str) -> str | None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            build_parser().parse_args([command, "--help"])
        except SystemExit as exc:
            return out.getvalue() if exc.code == 0 else None
    return None


@cache
def nox_sessions() -> frozenset[str]:
    """Every session `nox --list` shows, parametrized ones also by their plain name."""
    listed = subprocess.run(
        [sys.executable, "-m", "nox", "--list", "-f", str(ROOT / "noxfile.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    names = {m.group(1) for m in re.finditer(r"^[*-] (\S+) ->", listed, re.MULTILINE)}
    return frozenset(names | {name.split("(")[0] for name in names})


def _nox_problem(words: list[str]) -> str | None:
    at = words.index("-s") if "-s" in words else None
    if at is None:
        return None  # plain `nox`: the default sessions
    names = []
    for word in words[at + 1 :]:
        if word.startswith("-"):
            break
        names.append(word)
    unknown = [n for n in names if n not in nox_sessions()]
    return f"no nox session {', '.join(unknown)}" if unknown or not names else None


def _pytest_problem(words: list[str], markers: set[str]) -> str | None:
    if "-m" not in words:
        return None
    expression = words[words.index("-m") + 1]
    used = set(re.findall(r"[A-Za-z_]\w*", expression)) - BOOLEAN
    unknown = sorted(used - markers)
    return f"no pytest marker {', '.join(unknown)}" if unknown else None


def _pip_problem(words: list[str]) -> str | None:
    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    for word in words:
        asked = re.fullmatch(r"\.\[([\w,-]+)\]", word)
        unknown = set(asked.group(1).split(",")) - extras if asked else set()
        if unknown:
            return f"pyproject.toml has no extra {', '.join(sorted(unknown))}"
    return None


def problem(command: Command, markers: set[str]) -> str | None:
    """What is wrong with one README command, or None."""
    words = list(command.words)
    if words[:3] == ["python", "-m", "bench"] or words[:1] == ["bench"]:
        rest = words[3:] if words[0] == "python" else words[1:]
        return _bench_problem(rest, command.inline)
    if words[:1] == ["nox"] or words[:3] == ["python", "-m", "nox"]:
        return _nox_problem(words)
    if words[:1] == ["pytest"] or words[:3] == ["python", "-m", "pytest"]:
        return _pytest_problem(words, markers)
    if words[:1] == ["pip"] or words[:3] == ["python", "-m", "pip"]:
        return _pip_problem(words)
    if words[0] in EXTERNAL:
        return None
    return f"{words[0]!r} is a command no check here knows: check it, or list it as external"


@pytest.fixture(scope="module")
def markers(pytestconfig) -> set[str]:
    return {line.split(":")[0].split("(")[0].strip() for line in pytestconfig.getini("markers")}


def _problems(text: str, markers: set[str]) -> list[str]:
    found = [(c, problem(c, markers)) for c in commands(text)]
    return [f"{c.where()}\n    {why}" for c, why in found if why]


def test_every_readme_command_parses(markers):
    text = README.read_text(encoding="utf-8")
    found = commands(text)
    assert len([c for c in found if not c.inline]) >= 30  # the blocks were read at all
    assert _problems(text, markers) == []
    assert hidden_commands(text) == []


def test_a_command_in_a_plain_block_or_behind_a_variable_is_still_seen(markers):
    plain = "# t\n\n```\npython -m bench reproduce --quik\n```\n"
    assert hidden_commands(plain) == [
        "README.md line 4: python -m bench reproduce --quik (in a plain block)"
    ]
    (found,) = _problems("# t\n\nRun `KERAS_BACKEND=jax bench trian`.\n", markers)
    assert (
        found.startswith("README.md line 3: KERAS_BACKEND=jax bench trian")
        and "no command" in found
    )


@pytest.mark.parametrize(
    ("good", "bad", "says"),
    [
        (
            "python -m bench reproduce --quick",
            "python -m bench reproduce --quik",
            "unrecognized arguments: --quik",
        ),
        ("python -m bench train -s step", "python -m bench trian -s step", "invalid choice"),
        ("`bench lr-find --steps 20`", "`bench lr-find --stepz 20`", "lr-find has no --stepz"),
        ("nox -s lint unit", "nox -s lint units", "no nox session units"),
        ("pytest -m gpu", "pytest -m 'not gpuu'", "no pytest marker gpuu"),
        (
            "python -m pip install -e '.[jax]'",
            "python -m pip install -e '.[jaxx]'",
            "no extra jaxx",
        ),
        ("ray start --head", "rya start --head", "no check here knows"),
    ],
)
def test_a_renamed_flag_command_session_or_marker_fails_naming_the_line(good, bad, says, markers):
    def page(line: str) -> str:
        block = f"```bash\n{line}\n```\n" if not line.startswith("`") else f"See {line}.\n"
        return f"# title\n\ntext\n\n{block}"

    assert _problems(page(good), markers) == []
    (found,) = _problems(page(bad), markers)
    line = 5 if bad.startswith("`") else 6  # the inline span's line, or the block's command
    assert found.startswith(f"README.md line {line}: {bad.strip('`')}"), found
    assert says in found, found


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = first_two(README.read_text(encoding="utf-8"))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests.text in ci, f".ci/run does not run the README's test command: {tests.text}"


def test_the_first_line_is_the_main_job():
    main, tests = first_two(README.read_text(encoding="utf-8"))
    assert main.line == 4 and "python -m bench reproduce --quick" in main.text
    assert "nox" in tests.text
