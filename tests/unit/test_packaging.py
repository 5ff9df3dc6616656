"""A regular install holds what a command needs: the wheel ships golden/ inside the
package (as bench.golden_data), and the code reads it from there, not from a checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from bench.report import golden

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel setuptools builds from a copy of the sources (the build writes beside
    them), without build isolation: no index needed."""
    src = tmp_path_factory.mktemp("src")
    for name in ("bench", "golden"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    build = f"from setuptools import build_meta; print(build_meta.build_wheel({str(out)!r}))"
    subprocess.run([sys.executable, "-c", build], cwd=src, check=True, capture_output=True)
    (found,) = out.glob("*.whl")
    return found


def test_the_wheel_holds_every_golden_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in [*sorted((ROOT / "golden").glob("*.csv")), ROOT / "golden" / "README.md"]:
        assert f"bench/golden_data/{path.name}" in names, f"{path.name} is not in the wheel"


def test_the_installed_package_reads_golden_from_itself(wheel, tmp_path):
    """Unpacked as pip would put it (site-packages), away from any checkout, the golden
    reader finds its files and they read as the checkout's do."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = ("import bench.report.golden as g; print(g.golden_dir()); "
             "print(len(g.epoch_lines()), len(g.classification_reports()))")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(site), "PATH": ""})  # fmt: skip
    assert done.returncode == 0, done.stderr
    where, counts = done.stdout.splitlines()
    assert Path(where).is_relative_to(site)
    here = [len(golden.epoch_lines()), len(golden.classification_reports())]
    assert counts.split() == [str(n) for n in here]
