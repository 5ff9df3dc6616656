"""Shared by every suite: quiet TensorFlow, and say which versions ran the tests."""

import contextlib
import importlib.util
import os
import platform
import signal
from importlib import metadata
from pathlib import Path

import golden_rates
import pytest
from _pytest.mark.expression import Expression  # pytest's own -m parser
from hypothesis import settings
from tiers import examples

# Property tests: no example database (nothing written into the checkout), and the same
# examples on every run, so CI's result is reproducible; `--hypothesis-seed` or
# HYPOTHESIS_PROFILE=explore (random examples, more of them) looks further.
# A bare pytest (the fast tier) tries a 25th of the examples nox does (tests/tiers.py).
settings.register_profile(
    "suite", database=None, derandomize=True, deadline=None, max_examples=examples(100)
)
settings.register_profile("explore", database=None, deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

# TensorFlow's C++ start-up chatter (CPU features, oneDNN) hides the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The smoke tests press Ctrl+C on the commands they start. A shell starts a background job
# with SIGINT ignored, and that is inherited: the commands would ignore Ctrl+C, as they
# rightly do under nohup. The suite restores it, so that it tests the same in the
# background (CI) as in a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Tiers that live in folders of their own, by the marker their tests carry: a run whose -m
# deselects a folder's marker does not even import its modules, which load TensorFlow at
# collection (that alone took most of a bare pytest's 30 s).
TIER_FOLDERS = {
    "keras": "keras",
    "smoke": "smoke",
    "gpu": "gpu",
    "benchmarks": "benchmark",
    "readme": "readme",
}
HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path, config):
    marker = TIER_FOLDERS.get(collection_path.name)
    if marker is None or collection_path.parent != HERE or not config.option.markexpr:
        return None
    selected = Expression.compile(config.option.markexpr).evaluate(lambda name, **_: name == marker)
    return not selected or None


def pytest_report_header(config):
    """The versions that ran the tests, read from the installed packages' metadata (not by
    importing TensorFlow, which a bare `pytest` of the fast tier never needs)."""
    found = {"python": platform.python_version()}
    for name in ("tensorflow", "tf-nightly", "keras", "tf-keras", "jax", "torch", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return "versions: " + ", ".join(f"{k} {v}" for k, v in found.items())


@pytest.fixture(scope="session")
def derivation():
    """golden/derive_schedules.py, the exact-rational schedule tables (independent of bench)."""
    return golden_rates.DERIVATION


@pytest.fixture(scope="session")
def noxfile():
    """noxfile.py as a module, loaded once: nox registers each session as it is defined and
    warns (a future error) when a second load registers it again."""
    path = Path(__file__).resolve().parents[1] / "noxfile.py"
    spec = importlib.util.spec_from_file_location("noxfile_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
