"""A regular install holds what a command needs: the wheel ships golden/ inside the
package (as bench.golden_data), and an installed package reads it from there; code run
from a checkout reads the checkout's golden/ (bench/report/golden.py, golden_dir)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from bench.report import golden

# Wheels built and Python started in real processes: the integration tier (nox -s unit).
pytestmark = pytest.mark.integration

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


PROBE = (
    "import bench.report.golden as g; print(g.golden_dir()); "
    "print(len(g.epoch_lines()), len(g.classification_reports()))"
)


def _probe(cwd: Path, *path: Path) -> tuple[Path, list[int]]:
    """Where the golden reader finds its files, run from ``cwd`` by this interpreter with
    only ``path`` and its site-packages to import from. ``-S`` leaves this environment's
    editable install out: its finder would map bench.golden_data to this checkout."""
    site = sysconfig.get_paths()["purelib"]
    env = {"PYTHONPATH": os.pathsep.join([*map(str, path), site]), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-S", "-c", PROBE], cwd=cwd, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    where, counts = done.stdout.splitlines()
    return Path(where), [int(n) for n in counts.split()]


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The wheel unpacked as pip would put it (site-packages)."""
    site = tmp_path_factory.mktemp("site")
    zipfile.ZipFile(wheel).extractall(site)
    return site


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of the checkout's files that a clone has at its root."""
    root = tmp_path_factory.mktemp("clone")
    for name in ("bench", "golden"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


COUNTS = [len(golden.epoch_lines()), len(golden.classification_reports())]


def test_the_installed_package_reads_golden_from_itself(installed, tmp_path):
    """Away from any checkout, the golden reader finds the package's copy."""
    where, counts = _probe(tmp_path, installed)
    assert where.is_relative_to(installed) and counts == COUNTS


def test_a_checkout_reads_its_golden_folder_installed_or_not(installed, checkout):
    """``python -m bench`` at a clone's root imports the clone's bench/, which has no
    bench/golden_data, ahead of any installed copy: the README's first line, pasted at the
    root after `pip install .`. With or without that install, the checkout's golden/."""
    for path in ([installed], []):
        where, counts = _probe(checkout, *path)
        assert where == checkout / "golden" and counts == COUNTS, path


def test_another_projects_folder_around_an_install_is_not_a_checkout(installed, tmp_path):
    """`pip install --target .` in another project's root puts bench/ beside that project's
    pyproject.toml and maybe a golden/ of its own: the package's copy is still read."""
    vendor = tmp_path / "vendor"
    shutil.copytree(installed, vendor)
    (vendor / "pyproject.toml").write_text('[project]\nname = "someone-elses"\n')
    (vendor / "golden").mkdir()
    where, counts = _probe(tmp_path, vendor)
    assert where == vendor / "bench" / "golden_data" and counts == COUNTS
