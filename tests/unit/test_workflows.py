"""The GitHub workflows and the Dependabot configuration, checked here with no GitHub:
each file against its schema (check-jsonschema's built-in copies of SchemaStore's), the
workflows by zizmor for unsafe patterns (offline audits), and each against the project
whose checks it runs: the matrix is noxfile.py's, CI runs the README's test command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

# check-jsonschema and zizmor run as processes: the integration tier (nox -s unit).
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GITHUB = ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
DEPENDABOT = GITHUB / "dependabot.yml"
BIN = Path(sys.executable).parent  # the test group installs both tools beside pytest


def _start(name: str, *args: str) -> subprocess.Popen:
    path = BIN / name
    assert path.is_file(), f"{name} is not installed: install the project's test group"
    return subprocess.Popen(
        [str(path), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def tools() -> dict[str, subprocess.CompletedProcess]:
    """Each tool's run, all started together: each takes about a second to start, and
    on two cores they overlap. check-jsonschema takes every workflow in one run."""
    started = {
        "workflows": _start(
            "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ),
        "dependabot": _start(
            "check-jsonschema", "--builtin-schema", "vendor.dependabot", str(DEPENDABOT)
        ),
        "zizmor": _start("zizmor", "--offline", "--no-progress", str(GITHUB / "workflows")),
    }
    done = {}
    for name, process in started.items():
        out, err = process.communicate()
        done[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return done


def test_there_is_a_workflow_per_job():
    assert {p.stem for p in WORKFLOWS} == {"ci", "compat", "upgrade", "nightly"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_each_workflow_fits_githubs_schema(tools, path):
    # The tool names each file that fails its schema (or cannot be parsed), and exits 0
    # only if none does: a failure that names no file fails every workflow's test.
    done = tools["workflows"]
    said = done.stdout + done.stderr
    assert str(path) not in said, said
    assert done.returncode == 0 or any(str(p) in said for p in WORKFLOWS), said


def test_dependabot_fits_its_schema_and_bumps_what_the_upgrade_check_takes(tools, noxfile):
    done = tools["dependabot"]
    assert done.returncode == 0, done.stdout + done.stderr
    allowed = re.findall(r"dependency-name: (\S+)", DEPENDABOT.read_text())
    assert allowed and set(allowed) <= set(noxfile.UPGRADABLE)


def test_zizmor_finds_nothing_unsafe(tools):
    done = tools["zizmor"]
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_matrix_is_the_noxfiles_one_job_per_row(noxfile):
    text = (GITHUB / "workflows" / "compat.yml").read_text()
    (rows,) = re.findall(r"^\s+row: (\[.*\])$", text, re.MULTILINE)
    assert json.loads(rows) == list(noxfile.COMPAT)
    assert "fail-fast: false" in text


def test_ci_runs_the_readme_test_command():
    assert "run: bash .ci/run" in (GITHUB / "workflows" / "ci.yml").read_text()


def test_the_upgrade_workflow_follows_the_pinned_rows(noxfile):
    text = (GITHUB / "workflows" / "upgrade.yml").read_text()
    for row in noxfile.CURRENT_ROW.values():
        assert f'"constraints/{row}.txt"' in text
    (pattern,) = re.findall(r"grep -E '\^\((.*?)\)==", text)
    assert set(pattern.split("|")) <= set(noxfile.UPGRADABLE)
    script = text.split("run: |")[1]
    for row in noxfile.CURRENT_ROW.values():
        assert f"constraints/{row}.txt" in script.split("for row in ")[1].splitlines()[0]


@pytest.mark.parametrize("name", ["upgrade", "nightly"])
def test_a_summary_and_artifact_hold_this_runs_report_not_the_committed_examples(name):
    text = (GITHUB / "workflows" / f"{name}.yml").read_text()
    assert "*-example/*) ;;" in text and "!reports/upgrade-*-example/" in text
    assert any(Path(p).name.endswith("-example") for p in (ROOT / "reports").glob("upgrade-*"))
