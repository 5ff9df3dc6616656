"""Sessions: `nox -s unit`, `nox -s smoke` and `nox -s lint` (CI runs these three),
`nox -s bench` (pytest-benchmark), `nox -s repro -- --quick` (the quick reproduction).
Every test session prints the Python, TensorFlow and Keras versions in pytest's header
before the first test."""

import nox

nox.options.sessions = ["lint", "unit", "smoke"]
nox.options.error_on_missing_interpreters = True

PYPROJECT = nox.project.load_toml("pyproject.toml")
# TensorFlow's C++ start-up chatter hides the test output.
ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}


def _pytest(session: nox.Session, *args: str) -> None:
    """Install the package (editable: the tests read golden/ beside it) and run pytest."""
    session.install("-e", ".", *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("python", "-m", "pytest", "--strict-markers", *args, *session.posargs, env=ENV)


@nox.session
def unit(session: nox.Session) -> None:
    """Schedules, golden data, experiments and the real-Keras checks (bare `pytest`)."""
    _pytest(session, "tests/unit")


@nox.session
def smoke(session: nox.Session) -> None:
    """The real ResNet trained for a few epochs on the CPU, on the embedded digits set.

    Two workers (pytest-xdist): most of a smoke test is Keras tracing the model, which is
    single-threaded, so two at once on two cores take 60 % of the time of one after another.
    """
    _pytest(session, "-m", "smoke", "-n", "2", "--durations=10", "tests/smoke")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, as configured in pyproject.toml."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """pytest-benchmark timings, saved under .benchmarks/ for --benchmark-compare."""
    _pytest(session, "-m", "benchmark", "-s", "tests/benchmarks", "--benchmark-autosave",
            "--benchmark-columns=min,median,mean,stddev,rounds")  # fmt: skip


@nox.session
def repro(session: nox.Session) -> None:
    """`bench reproduce` with the given arguments: `nox -s repro -- --quick` (the README's
    main job), or `nox -s repro -- --data-dir PATH` for the post's full runs."""
    session.install("-e", ".")
    session.run("python", "-m", "bench", "reproduce", *session.posargs, env=ENV)
