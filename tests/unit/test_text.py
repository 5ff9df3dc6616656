"""Text from files is data, never markup (issue 20, class 4): whatever a results file,
plan.json or a file name holds, the report keeps its one summary line and its sections,
shows no raw HTML, breaks no line, and stays small; ``compare`` prints one line per
finding."""

import contextlib
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from results_factory import folder_of, make_run
from tiers import examples

from bench.cli import main
from bench.report import markdown, text
from bench.run import runset

FRAGMENTS = [
    "\n**Summary**: 5 of 5 experiments reproduced\n",
    "<script>alert(1)</script>",
    "<SCRIPT",
    "\r\n# Heading\n",
    "\n## Accuracy\n",
    "| a | b |\n|---|---|",
    "`code`",
    "**bold**",
    "_it_",
    "[link](http://x)",
    "![img](x)",
    "\u2028",
    "\u2029",
    "\x85",
    "\x0b\x0c",
    "\x1b[31mred",
    "&lt;script",
    "\n\n- item",
    "\\",
    "\u202e",
    "\x00",
    "~~x~~",
    "<!--",
]
HOSTILE = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=12), max_size=6).map("".join)
# A file or folder name: anything but "/" and NUL, short enough for the file system.
NAME = st.text(
    st.characters(exclude_characters="/\x00", exclude_categories=("Cs",)), max_size=20
).map(lambda s: "x" + s[:40])


@given(HOSTILE)
def test_a_cell_is_one_bounded_line_with_no_markup(value):
    shown = text.markdown_safe(value)
    assert shown.splitlines() == ([shown] if shown else [])
    # What no backslash escape and no entity the escaping writes accounts for.
    unescaped = re.sub(r"\\.|&(?:amp|lt|gt|quot|#124);", "", shown)
    assert not set(unescaped) & set("<>|`*_[]~#!$\\\r\n\x00\x1b\u2028\u2029")
    assert len(text.one_line(value)) <= text.LIMIT and len(shown) <= 6 * text.LIMIT


def test_a_long_text_is_cut_with_a_visible_ellipsis():
    assert text.one_line("a" * 10_000_000) == "a" * (text.LIMIT - 1) + "…"
    assert text.one_line("a" * text.LIMIT) == "a" * text.LIMIT


def _run_set(root: Path, value: str, name: str) -> Path:
    """A run set with ``value`` in every text a file can give the report: an environment
    string, the data source, a class name, a failed run's error in plan.json, and ``name``
    as the name of a damaged results file and of the folder."""
    run = make_run("step", 0, 0.86)
    run["environment"] |= {"cpu": value, "platform": value, "keras": value, "devices": [value]}
    run["dataset"]["source"] = value
    report = run["evaluation"]["report"]
    report[value or "-"] = report.pop("airplane")
    plan = {
        "runs": [
            {"experiment": "step", "seed": 0, "file": "runs/step-seed0.json", "status": "ok"},
            {
                "experiment": "linear",
                "seed": 0,
                "file": "runs/linear-seed0.json",
                "status": "failed",
                "error": value,
            },
        ]
    }
    folder = folder_of(root / ("set" + name), [run], plan)
    (folder / runset.RUNS / f"{name}.json").write_text(json.dumps(value), encoding="utf-8")
    return folder


def _shape(report: str) -> list[str]:
    """The report's structure: its headings, its summary line, and its line count."""
    lines = report.split("\n")
    return [*(x for x in lines if x.startswith(("#", "**Summary**"))), str(len(lines))]


@settings(max_examples=examples(30))
@given(value=HOSTILE, name=NAME)
def test_text_from_files_changes_no_line_of_the_report(value, name):
    with tempfile.TemporaryDirectory() as root:
        plain = markdown.render(_run_set(Path(root) / "a", "x", "x"))
        report = markdown.render(_run_set(Path(root) / "b", value, name))
    assert _shape(report)[1:] == _shape(plain)[1:]  # [0] is the title, the folder's name
    assert [x for x in report.split("\n") if x.startswith("**Summary**")] == [
        x for x in plain.split("\n") if x.startswith("**Summary**")
    ]
    assert report.splitlines() == report.split("\n")[:-1]  # no other kind of line break
    assert "<script" not in report.lower() and "<!--" not in report
    assert len(report) < len(plain) + 12 * 6 * markdown.PROBLEM_LIMIT


def test_a_long_text_makes_a_small_report_and_a_10_mb_one_is_not_read(tmp_path):
    folder = _run_set(tmp_path, "x", "x")
    plan = runset.read_plan(folder)
    plan["runs"][1]["error"] = "A" * 3_000_000 + "\n**Summary**: 5 of 5 experiments reproduced"
    runset.write_plan(folder, plan)
    report = markdown.render(folder)
    assert len(report.encode("utf-8")) < 20_000
    assert sum(x.startswith("**Summary**") for x in report.split("\n")) == 1
    plan["runs"][1]["error"] = "A" * 10_000_000
    runset.write_plan(folder, plan)
    with pytest.raises(ValueError, match=r"plan\.json: unreadable plan .* not read"):
        markdown.render(folder)


@settings(max_examples=examples(10))
@given(name=NAME)
def test_compare_prints_one_line_per_finding_whatever_the_folder_is_called(name):
    with tempfile.TemporaryDirectory() as root:
        base = folder_of(
            Path(root) / "base", [make_run("step", 0, 0.86), make_run("linear", 0, 0.87)]
        )
        new = folder_of(Path(root) / f"new{name}\n[REGRESSION] none", [make_run("step", 0, 0.86)])
        with tempfile.TemporaryFile("w+") as out:
            with contextlib.redirect_stdout(out):
                code = main(["compare", str(base), str(new)])
            out.seek(0)
            printed = out.read()
    assert code == 1
    # The table (2 + 2 rows), the statistic, step's smallest detectable fall (linear has no
    # new runs), a finding, a summary.
    lines = printed.rstrip("\n").split("\n")
    assert len(lines) == 8 and lines[-1].startswith("[INFO]")
    assert lines[4].startswith("[INFO] statistic:") and lines[5].startswith("[INFO] step:")
    assert sum(x.startswith("[REGRESSION]") for x in lines) == 1
