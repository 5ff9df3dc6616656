"""Which Keras backend a run is for, read as Keras 3 reads it, without importing Keras; a
run's backend is part of what makes it that run."""

import ast
import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from results_factory import make_run

from bench.core import backend, experiments, identity

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


def test_tensorflow_by_default(no_settings):
    assert backend.configured() == "tensorflow"


def test_keras_json_then_the_environment_variable(no_settings, monkeypatch):
    (no_settings / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert backend.configured() == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert backend.configured() == "torch"


@pytest.mark.parametrize("text", ["{", "[]", '{"backend": 3}', '{"backend": ""}'])
def test_a_broken_keras_json_is_keras_default(no_settings, text):
    (no_settings / "keras.json").write_text(text)
    assert backend.configured() == "tensorflow"


def test_a_run_on_another_backend_is_another_run(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    run = experiments.Run(experiments.get("none"), seed=0)
    assert run.backend == "jax"
    recorded = make_run("none", 0, 0.84)
    recorded["environment"]["backend"] = "tensorflow"  # written by TensorFlow's Keras
    was = identity.from_results(recorded)
    now = dataclasses.replace(was, backend=run.backend)
    assert identity.differences(was, now) == ["backend"]


# Imports every module of the package, runs a command and one short training on one of
# Keras 3's other backends, then checks that TensorFlow was never imported.
WITHOUT_TF = """
import importlib, pkgutil, sys
import bench
for module in pkgutil.walk_packages(bench.__path__, "bench."):
    if module.name != "bench.__main__":  # it would run the CLI
        importlib.import_module(module.name)
from bench.keras import compat
from bench.cli import main
out = sys.argv[1]
assert main(["schedules", "--plot-dir", out]) == 0
assert main(["train", "--dataset", "digits", "--model", "quick", "--epochs", "1",
             "--subset", "40", "--schedule", "step", "--verbose", "0", "--out", out]) == 0
assert compat.BACKEND == sys.argv[2] and compat.tf is None
assert "tensorflow" not in sys.modules, "TensorFlow was imported"
"""


def _installed_keras() -> tuple[str, int]:
    """The installed ``keras`` package's version and major, as bench.compat reads it for
    another backend (on a tf-keras row, compat.KERAS_VERSION is tf-keras's instead)."""
    try:
        version = metadata.version("keras")
    except metadata.PackageNotFoundError:
        version = "0 (not installed)"
    return version, int(version.split(".")[0])


@pytest.mark.keras
@pytest.mark.parametrize("name", ["jax", "torch"])
def test_another_backend_never_imports_tensorflow(tmp_path, name):
    pytest.importorskip(
        name,
        reason=f"KERAS_BACKEND={name} needs {name} installed (its nox "
        "row has it: nox -s compat, nox -s torch)",
    )
    keras, major = _installed_keras()
    if major < 3:  # TensorFlow <= 2.15 brings jax, and Keras 2
        pytest.skip(f"Keras {keras} runs TensorFlow only: {name} needs Keras 3")
    # A stand-in TensorFlow first on the path: importing it at all fails the run, even
    # where the real one is installed.
    stand_in = tmp_path / "stand-in" / "tensorflow"
    stand_in.mkdir(parents=True)
    (stand_in / "__init__.py").write_text("raise RuntimeError('TensorFlow was imported')\n")
    path = os.pathsep.join(filter(None, [str(stand_in.parent), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "KERAS_BACKEND": name, "PYTHONPATH": path}
    proc = subprocess.run(
        [sys.executable, "-c", WITHOUT_TF, str(tmp_path / "out"), name],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = json.loads((tmp_path / "out" / "step-seed42.json").read_text())
    assert run["environment"]["backend"] == name and run["environment"]["tensorflow"] is None
    assert run["environment"][name]  # the backend's own version


def test_keras_2_with_another_backend_says_it_needs_keras_3():
    keras, major = _installed_keras()
    if major >= 3:
        pytest.skip(f"Keras {keras} runs JAX and PyTorch: the Keras 2 rows check this")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run(
        [sys.executable, "-c", "import bench.keras.compat"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"ImportError: KERAS_BACKEND=jax needs Keras 3, found Keras {keras}: Keras 2 runs "
        "TensorFlow only; install it: python -m pip install 'keras>=3'"
    )


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("jax", "install the jax extra: python -m pip install -e '.[jax]' (in the checkout)"),
        ("torch", "install it: python -m pip install torch"),
        ("tensorflow", "install it: python -m pip install tensorflow"),
    ],
)
def test_a_backend_not_installed_says_what_to_install(name, said, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n: None if n == name else find_spec(n))
    with pytest.raises(ValueError) as refused:
        backend.check(name)
    assert str(refused.value) == (
        f"Keras' {name} backend needs {name}, which is not installed here; {said}"
    )


def test_every_extra_a_message_names_is_one_pyproject_declares():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(backend.EXTRAS.values()) <= set(declared["optional-dependencies"])


def test_every_not_installed_message_says_what_to_install():
    """Each `raise` in bench/ whose message says something is not installed builds the
    message with backend.install (the extra, or the package, to install)."""
    found = []
    for path in sorted((ROOT / "bench").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            text = ast.get_source_segment(source, node) if isinstance(node, ast.Raise) else ""
            if "not installed" in (text or ""):
                found.append((f"{path.relative_to(ROOT)}:{node.lineno}", "install(" in text))
    assert len(found) >= 3, found  # backend.check, Ray's --ray, Keras 2 with another backend
    assert [where for where, says in found if not says] == []
