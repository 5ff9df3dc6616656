"""Every command line the README and the docs/ pages show is checked against the real thing,
naming the page and line that fails: `python -m bench` lines are parsed by bench's own
argument parser (inline mentions: the command and each flag they name), `nox -s` names
sessions nox lists, `pytest -m` names registered markers, `pip install` names extras
pyproject.toml declares. Every relative link resolves, to a heading where it names one, and
the README stays short enough to read (at most 250 lines: the rest is in docs/). The first
line (the main job) runs verbatim in tests/readme/; the second is what `.ci/run` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from readme_lines import (
    ASSIGNMENT,
    README,
    ROOT,
    Command,
    blocks,
    commands,
    first_two,
    hidden_commands,
    link_problem,
    links,
    page_name,
    pages,
)

from bench import api
from bench.cli import build_parser
from bench.core import backend

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

EXTERNAL = {"ray"}  # other projects' commands, shown as their documentation gives them
BOOLEAN = {"and", "or", "not"}


def _bench_problem(words: list[str], inline: bool) -> str | None:
    """None if bench's parser takes ``words`` (after ``bench``) and each flag is spelt in
    full (argparse would take a prefix, which a new flag can make ambiguous); else what is
    wrong. An inline mention may leave out what a whole line needs (`bench compare`)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(words)
        except SystemExit as exc:
            said = err.getvalue().strip() or f"exit {exc.code}"
            mention = "arguments are required" in said or "expected one argument" in said
            if not (inline and mention):
                return said
    if not words:
        return None  # `bench` itself, named in the prose
    usage = _bench_help(words[0])
    if usage is None:
        return f"no command {words[0]!r}"
    flags = [w.split("=")[0] for w in words[1:] if w.startswith("-")]
    unknown = [f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", usage)]
    return f"{words[0]} has no {', '.join(unknown)}" if unknown else None


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


def _option_values(words: list[str], short: str, long: tuple[str, ...]) -> list[str] | None:
    """The values given to an option, spelt any way its parser takes (``-s a b``, ``-sa``,
    ``--session a``, ``--session=a``); None where it is not given."""
    found, taking = None, False
    for word in words:
        if word in (short, *long):
            found, taking = found or [], True
        elif word.startswith(tuple(f"{name}=" for name in long)):
            found, taking = [*(found or []), word.split("=", 1)[1]], False
        elif word.startswith(short) and not word.startswith("--") and len(word) > len(short):
            found, taking = [*(found or []), word[len(short) :]], False
        elif taking and not word.startswith("-"):
            found.append(word)
        else:
            taking = False
    return found


def _nox_problem(words: list[str]) -> str | None:
    names = _option_values(words, "-s", ("--session", "--sessions"))
    names = (names or []) + (_option_values(words, "-e", ()) or [])
    if not names:
        given = any(w in ("-s", "-e", "--session", "--sessions") for w in words)
        return "no nox session named" if given else None  # plain `nox`: the default sessions
    unknown = [n for n in names if n not in nox_sessions()]
    return f"no nox session {', '.join(unknown)}" if unknown else None


def _pytest_problem(words: list[str], markers: set[str]) -> str | None:
    expressions = _option_values(words, "-m", ())
    if not expressions:
        return None
    used = {w for e in expressions for w in re.findall(r"[A-Za-z_]\w*", e)} - BOOLEAN
    unknown = sorted(used - markers)
    return f"no pytest marker {', '.join(unknown)}" if unknown else None


def _pip_problem(words: list[str]) -> str | None:
    extras = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    )
    for word in words:
        asked = re.fullmatch(r"(?:\.|\./|lr-schedules-repro)\[([\w,-]+)\]", word)
        unknown = set(asked.group(1).split(",")) - extras if asked else set()
        if unknown:
            return f"pyproject.toml has no extra {', '.join(sorted(unknown))}"
    return None


def _program(words: list[str]) -> tuple[str, list[str]]:
    """The program a command runs and its words: `python -m X ...` (or python3) runs X."""
    if len(words) > 2 and words[0] in ("python", "python3") and words[1] == "-m":
        return words[2], words[3:]
    return words[0], words[1:]


def _bench_words(command: Command) -> list[str] | None:
    """The words after ``python -m bench`` or ``bench``; None for any other command."""
    program, rest = _program(list(command.words))
    return rest if program == "bench" else None


CHECKS = {"nox": _nox_problem, "pip": _pip_problem}


def problem(command: Command, markers: set[str]) -> str | None:
    """What is wrong with one README command, or None."""
    program, rest = _program(list(command.words))
    if program == "bench":
        return _bench_problem(rest, command.inline)
    if program == "pytest":
        return _pytest_problem(rest, markers)
    if program in CHECKS:
        return CHECKS[program](rest)
    if program in EXTERNAL:
        return None
    return f"{program!r} is a command no check here knows: check it, or list it as external"


@pytest.fixture(scope="module")
def markers(pytestconfig) -> set[str]:
    return {line.split(":")[0].split("(")[0].strip() for line in pytestconfig.getini("markers")}


PAGES = pages()
MAX_README_LINES = 250


def _problems(text: str, markers: set[str], page: str = "README.md") -> list[str]:
    found = [(c, problem(c, markers)) for c in commands(text, page)]
    return [f"{c.where()}\n    {why}" for c, why in found if why]


@pytest.mark.parametrize("path", PAGES, ids=page_name)
def test_every_command_of_the_readme_and_the_docs_parses(path, markers):
    text = path.read_text(encoding="utf-8")
    assert _problems(text, markers, page_name(path)) == []
    assert hidden_commands(text, page_name(path)) == []


def test_the_blocks_were_read_at_all():
    shown = {
        page_name(path): [c for c in commands(path.read_text(encoding="utf-8")) if not c.inline]
        for path in PAGES
    }
    assert len(shown["README.md"]) >= 15
    assert sum(map(len, shown.values())) >= 50


def test_a_command_in_a_plain_block_or_behind_a_variable_is_still_seen(markers):
    plain = "# t\n\n```\npython -m bench reproduce --quik\n```\n"
    assert hidden_commands(plain) == [
        "README.md line 4: python -m bench reproduce --quik (in a plain block)"
    ]
    (found,) = _problems("# t\n\nRun `KERAS_BACKEND=jax bench trian`.\n", markers)
    assert found.startswith("README.md line 3: KERAS_BACKEND=jax bench trian")
    assert "invalid choice: 'trian'" in found


@pytest.mark.parametrize(
    ("good", "bad", "says"),
    [
        (
            "python -m bench reproduce --quick",
            "python -m bench reproduce --quik",
            "unrecognized arguments: --quik",
        ),
        ("python -m bench train -s step", "python -m bench trian -s step", "invalid choice"),
        (
            "`bench lr-find --steps 20`",
            "`bench lr-find --stepz 20`",
            "unrecognized arguments: --stepz",
        ),
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


def _bench_args(command: Command) -> argparse.Namespace | None:
    """A README line of ``bench`` parsed by bench's parser (None for any other command)."""
    words = _bench_words(command)
    if words is None:
        return None
    with contextlib.redirect_stderr(io.StringIO()):
        return build_parser().parse_args(words)  # every README line parses (the test above)


def _environment(command: Command) -> dict[str, str]:
    """The VAR=value assignments a README line starts with."""
    words = shlex.split(command.text)
    return dict(w.split("=", 1) for w in itertools.takewhile(ASSIGNMENT.fullmatch, words))


def writes(args: argparse.Namespace) -> list[str]:
    """The paths a parsed ``bench`` command writes (a folder with a trailing "/", as git
    matches a folder's pattern), defaults included. ``drift`` without --print-only writes
    the committed drift table: updating it is that command's purpose (nox -s compat)."""
    if args.command == "train":  # relative plot paths land in --out
        return [f"{args.out}/", str(args.out / args.lr_plot), str(args.out / args.train_plot)]
    if args.command == "reproduce":
        settings = {k: getattr(args, k) for k in ("seeds", "quick", "subset", "epochs")}
        runs = api.runs.planned(args.schedules, dataset=args.dataset, **settings)
        chosen = {k: getattr(args, k) for k in ("name", "quick", "seeds", "subset", "backends")}
        return [f"{args.out or api.runs.default_out(runs, **chosen)}/"]
    folder = {"lr-find": "out", "schedules": "plot_dir", "report": "folder"}.get(args.command)
    if folder is not None:
        return [f"{getattr(args, folder)}/"] if getattr(args, folder) else []
    return [str(args.out)] if args.command in ("speed", "fingerprint") else []


def _git(*words: str) -> list[str]:
    found = subprocess.run(["git", *words], cwd=ROOT, capture_output=True, text=True, check=False)
    if found.returncode not in (0, 1):  # check-ignore: 1 when nothing is ignored
        pytest.skip(f"not a git checkout: {found.stderr.strip()}")
    return found.stdout.splitlines()


def test_what_the_readme_and_docs_commands_write_is_ignored_and_holds_no_committed_file(
    monkeypatch,
):
    """Every bench line of the README's and the docs' blocks (inline spans are mentions,
    whose paths are placeholders such as FILE.json) writes where git ignores it, and where
    no committed file lies: running the README leaves `git status` clean."""
    written = {}
    for page in PAGES:
        for command in commands(page.read_text(encoding="utf-8"), page_name(page)):
            args = None if command.inline else _bench_args(command)
            if args is None:
                continue
            monkeypatch.setenv(
                "KERAS_BACKEND", _environment(command).get("KERAS_BACKEND", "tensorflow")
            )
            for path in writes(args):
                if not Path(path).is_absolute():  # outside the checkout: not git's to track
                    written.setdefault(path, command.where())
    assert "output/lr.png" in written and "reports/quick/" in written  # the defaults count
    ignored = set(_git("check-ignore", "--no-index", *written))
    tracked = _git("ls-files", "--", *written)
    exposed = [
        f"{where}\n    {p} is not ignored" for p, where in written.items() if p not in ignored
    ]
    assert exposed == []
    assert tracked == [], f"committed files where README or docs commands write: {tracked}"


def _extras_used(command: Command) -> set[str]:
    """The suite's extras a README line needs: a Keras backend one brings (KERAS_BACKEND=jax,
    --backends ...,jax), or Ray (--ray)."""
    asked = {_environment(command).get("KERAS_BACKEND", "")}
    for word in command.words:
        asked |= set(word.split(","))
    if "--ray" in command.words:
        asked.add("ray")
    return {backend.EXTRAS[name] for name in asked if name in backend.EXTRAS}


def _extras_installed(command: Command) -> set[str]:
    if "install" not in command.words:
        return set()
    return {e for w in command.words for e in re.findall(r"[\[,]([\w-]+)(?=[,\]])", w)}


@pytest.mark.parametrize("path", PAGES, ids=page_name)
def test_no_block_uses_an_extra_before_it_installs_it(path):
    """A block that installs an extra installs it before its first line that needs it (a
    block without the install is for a machine that has it: "A GPU box with JAX")."""
    late = []
    for block in blocks(path.read_text(encoding="utf-8")):
        if block.language not in ("bash", "sh"):
            continue
        lines = commands(f"```bash\n{block.code}```\n")
        for extra in set().union(*map(_extras_installed, lines)):
            first_install = next(k for k, c in enumerate(lines) if extra in _extras_installed(c))
            used = [c for c in lines[:first_install] if extra in _extras_used(c)]
            late += [
                f"{page_name(path)} line {block.line + c.line - 2}: {c.text} (needs {extra})"
                for c in used
            ]
    assert late == []


@pytest.mark.parametrize(
    ("page", "line", "says"),
    [
        ("```console\n$ python -m bench reproduce --quik\n/done\n```\n", 2, "--quik"),
        ('```bash title="main"\npython -m bench reproduce --quik\n```\n', 2, "--quik"),
        ("- step:\n  ```bash\n  python -m bench reproduce --quik\n  ```\n", 3, "--quik"),
        ("~~~bash\npython -m bench reproduce --quik\n~~~\n", 2, "--quik"),
        ("```bash\npython -m bench reproduce --quik \\\n```\n", 2, "--quik"),
        ("```bash\npython -m bench reproduce --qui\n```\n", 2, "reproduce has no --qui"),
        ("Run `python3 -m bench reproduce --quik`.\n", 1, "--quik"),
        ("Run `python -m nox -s unitz`.\n", 1, "no nox session unitz"),
        ("Run `nox --session unitz`.\n", 1, "no nox session unitz"),
        ("Run `nox --session=unitz`.\n", 1, "no nox session unitz"),
        ("Run `nox -e unitz`.\n", 1, "no nox session unitz"),
        ("Run `nox -sunitz`.\n", 1, "no nox session unitz"),
        ("Run `python -m pytest -m gpuu`.\n", 1, "no pytest marker gpuu"),
        ("Run `pytest -mgpuu`.\n", 1, "no pytest marker gpuu"),
        ("```bash\npip install 'lr-schedules-repro[jaxx]'\n```\n", 2, "no extra jaxx"),
        ("```bash\npip install './[jaxx]'\n```\n", 2, "no extra jaxx"),
        ("The `bench\nschedules --plot-dirr` flag.\n", 1, "unrecognized arguments: --plot-dirr"),
    ],
)
def test_every_way_of_writing_a_command_is_checked(page, line, says, markers):
    (found,) = _problems(page, markers)
    assert found.startswith(f"README.md line {line}: ") and says in found, found


def test_a_console_blocks_output_is_not_a_command(markers):
    page = "```console\n$ nox -s lint\nnox > Session lint was successful.\n```\n"
    assert [c.text for c in commands(page)] == ["nox -s lint"]
    assert _problems(page, markers) == []


def test_the_readme_is_short_enough_to_read():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, (
        f"README.md has {len(lines)} lines, more than {MAX_README_LINES}: move detail to docs/"
    )


def _link_problems(path: Path, text: str) -> list[str]:
    found = [(link, link_problem(path, text, link)) for link in links(text)]
    return [f"{page_name(path)} line {k.line}: ({k.target}) {why}" for k, why in found if why]


@pytest.mark.parametrize("path", PAGES, ids=page_name)
def test_every_relative_link_resolves(path):
    assert _link_problems(path, path.read_text(encoding="utf-8")) == []


def test_the_readme_links_every_docs_page():
    linked = {
        (README.parent / k.target.partition("#")[0]).resolve()
        for k in links(README.read_text(encoding="utf-8"))
    }
    assert [page_name(p) for p in PAGES if p.parent.name == "docs" and p not in linked] == []


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("See [the CLI](cli.md).\n", None, None),
        ("See [the CLI](nowhere.md).\n", 1, "no file docs/nowhere.md"),
        ("Text.\n\nSee ![a figure](../reports/none.png).\n", 3, "no file reports/none.png"),
        ("See [a folder](../bench/).\n", None, None),
        ("Text.\n\n[ref]: ../missing.md\n", 3, "no file missing.md"),
        ("See [`the API`](../README.md#python-api).\n", None, None),
        ("See [the API](../README.md#python-apj).\n", 1, "README.md has no heading #python-apj"),
        ("# Top\n\nSee [top](#top).\n", None, None),
        ("# Top\n\nSee [top](#bottom).\n", 3, "no heading #bottom here"),
        ("# A, b: `c_d`\n\n# A, b: `c_d`\n\n[x](#a-b-c_d-1)\n", None, None),
        ("See [x](../../outside.md).\n", 1, "leads out of the repository"),
        ("See [x](https://example.org/nowhere) and <https://example.org>.\n", None, None),
        ("Shown, not linked: `[x](nowhere.md)`.\n\n```md\n[x](nowhere.md)\n```\n", None, None),
    ],
)
def test_a_broken_link_or_anchor_fails_naming_the_line(text, line, says):
    page = ROOT / "docs" / "a-page.md"  # as if in docs/: links resolve from there
    problems = _link_problems(page, text)
    if says is None:
        assert problems == []
    else:
        (found,) = problems
        assert found.startswith(f"docs/a-page.md line {line}: ") and found.endswith(says), found
