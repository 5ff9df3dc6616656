"""Sessions: `nox -s unit`, `nox -s smoke` and `nox -s lint` (CI runs these three),
`nox -s bench` (pytest-benchmark), `nox -s repro -- --quick` (the quick reproduction),
`nox -s compat` (the TensorFlow release matrix and Keras 3 on JAX, `nox -s lock` re-pins
it), `nox -s torch` (Keras 3 on PyTorch, outside CI) and `nox -s nightly` (tf-nightly, for
early warning).
Every test session prints the Python, TensorFlow and Keras versions in pytest's header
before the first test."""

from pathlib import Path

import nox

nox.options.sessions = ["lint", "unit", "smoke"]
nox.options.error_on_missing_interpreters = True
# uv builds an environment with TensorFlow in seconds where pip takes a minute; where uv is
# not installed (`pip install nox` without the uv extra), nox falls back to virtualenv + pip.
nox.options.default_venv_backend = "uv|virtualenv"

PYPROJECT = nox.project.load_toml("pyproject.toml")
# Both tiers of tests/unit: the fast one (a bare `pytest`) and the one that trains Keras.
BOTH_TIERS = ["-m", "not gpu and not smoke and not benchmark"]
UNIT = ["tests/unit", "tests/keras"]
# TensorFlow's C++ start-up chatter hides the test output. Property tests try their full
# number of generated cases in nox (tests/tiers.py); a bare pytest tries a fifth.
ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "BENCH_FULL_TIER": "1"}

# The TensorFlow matrix: row -> what the row asks pip for. The rows are the oldest release
# we support, the last with Keras 2, the first with Keras 3 (with Keras 3.0: left alone pip
# pairs it with the newest Keras), the latest, and the latest with Keras 2 again through
# tf-keras. `nox -s lock` pins each row's whole environment into constraints/<row>.txt;
# `nox -s compat` installs from those pins only.
COMPAT = {
    "2.12": ["tensorflow==2.12.*"],
    "2.15": ["tensorflow==2.15.*"],
    "2.16": ["tensorflow==2.16.*", "keras==3.0.*"],
    "2.21": ["tensorflow==2.21.*"],
    "2.21-tf-keras": ["tensorflow==2.21.*", "tf-keras==2.21.*"],
    # Keras 3 on JAX (CPU), without TensorFlow installed at all.
    "keras-3.15-jax": ["keras==3.15.*", "jax[cpu]==0.10.*"],
}
# Keras 3 on PyTorch: outside CI (`nox -s torch`), its wheels bring CUDA libraries of
# several GB (README, "Keras 3 backends").
TORCH = {"keras-3.15-torch": ["keras==3.15.*", "torch==2.*"]}
ROWS = {**COMPAT, **TORCH}
# TF_USE_LEGACY_KERAS is what makes tf.keras mean tf-keras on TensorFlow >= 2.16.
LEGACY_ENV = {"TF_USE_LEGACY_KERAS": "1"}
CONSTRAINTS = Path("constraints")


def _pytest(session: nox.Session, *args: str, package: str = ".") -> None:
    """Install the package (editable: the tests read golden/ beside it) and run pytest."""
    session.install("-e", package, *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("python", "-m", "pytest", "--strict-markers", *args, *session.posargs, env=ENV)


@nox.session
def unit(session: nox.Session) -> None:
    """Both tiers of tests/unit: the fast one (schedules, golden data, readers, statistics,
    the CLI's errors: a bare `pytest`) and the one marked `keras`, which builds and trains
    small Keras models. Two workers: the Keras tier is mostly single-threaded tracing."""
    _pytest(session, *BOTH_TIERS, "-n", "2", "--durations=5", *UNIT)


@nox.session
def smoke(session: nox.Session) -> None:
    """The real ResNet trained for a few epochs on the CPU, on the embedded digits set, the
    same runs as Ray tasks on a local Ray bound to 127.0.0.1 (the `ray` extra), and on
    TensorFlow and JAX side by side (the `jax` extra).

    Two workers (pytest-xdist): most of a smoke test is Keras tracing the model, which is
    single-threaded, so two at once on two cores take 60 % of the time of one after another.
    """
    _pytest(session, "-m", "smoke", "-n", "2", "--durations=10", "tests/smoke",
            package=".[ray,jax]")  # fmt: skip


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
            "--benchmark-columns=min,median,mean,stddev,rounds", package=".[ray]")  # fmt: skip


@nox.session
def repro(session: nox.Session) -> None:
    """`bench reproduce` with the given arguments: `nox -s repro -- --quick` (the README's
    main job), or `nox -s repro -- --data-dir PATH` for the post's full runs."""
    session.install("-e", ".")
    session.run("python", "-m", "bench", "reproduce", *session.posargs, env=ENV)


def _row_env(row: str) -> dict[str, str]:
    """A row that installs tf-keras runs with it as tf.keras; a row without TensorFlow runs
    Keras 3 on the backend it installs."""
    legacy = any(requirement.startswith("tf-keras") for requirement in ROWS[row])
    backend = _backend(row)
    return {**ENV, **(LEGACY_ENV if legacy else {}),
            **({"KERAS_BACKEND": backend} if backend != "tensorflow" else {})}  # fmt: skip


def _backend(row: str) -> str:
    names = [r.split("[")[0].split("=")[0] for r in ROWS[row]]
    return next((b for b in ("jax", "torch") if b in names), "tensorflow")


def _install_row(session: nox.Session, row: str, *constraints: str) -> None:
    """The row's packages, ours and the test tools. A row without TensorFlow gets our
    package without its TensorFlow dependency (pip would add it)."""
    test = nox.project.dependency_groups(PYPROJECT, "test")
    if _backend(row) == "tensorflow":
        session.install(*constraints, *ROWS[row], "-e", ".", *test)
        return
    others = [d for d in PYPROJECT["project"]["dependencies"] if not d.startswith("tensorflow")]
    session.install(*constraints, *ROWS[row], *others, *test)
    session.install("--no-deps", "-e", ".")


@nox.session
@nox.parametrize("row", list(ROWS))
def lock(session: nox.Session, row: str) -> None:
    """Re-pin a matrix row: resolve its TensorFlow with our dependencies, freeze the result."""
    _install_row(session, row)
    frozen = session.run("python", "-m", "pip", "freeze", "--exclude-editable", silent=True)
    CONSTRAINTS.mkdir(exist_ok=True)
    header = f"# nox -s \"lock(row='{row}')\": {' '.join(ROWS[row])} with our dependencies\n"
    (CONSTRAINTS / f"{row}.txt").write_text(header + frozen, encoding="utf-8")


def _compat_checks(session: nox.Session, env: dict[str, str], row: str | None) -> None:
    """What each TensorFlow gets: the unit suite, a two-epoch training run, the drift probe
    (whose result becomes the row's column in reports/api-drift.md; printed only without).
    A Keras 3 backend other than TensorFlow also gets the resume smoke tests."""
    session.run("python", "-m", "pytest", "--strict-markers", "-q", *BOTH_TIERS, "-n", "2",
                *UNIT, env=env)  # fmt: skip
    if row and _backend(row) != "tensorflow":
        session.run("python", "-m", "pytest", "--strict-markers", "-q", "-m", "smoke", "-n",
                    "2", "tests/smoke/test_resume_smoke.py", env=env)  # fmt: skip
    out = Path(session.create_tmp()) / "train"
    session.run("python", "-m", "bench", "train", "--dataset", "digits", "--model", "quick",
                "--epochs", "2", "--schedule", "standard", "--force", "--out", str(out),
                env=env)  # fmt: skip
    where = ["--name", row] if row else ["--print-only"]
    session.run("python", "-m", "bench", "drift", *where, env=env)


@nox.session
@nox.parametrize("row", list(COMPAT))
def compat(session: nox.Session, row: str) -> None:
    """One TensorFlow release, from its pinned environment: `nox -s compat` runs every row,
    `nox -s "compat(row='2.15')"` one. Each row adds its column to reports/api-drift.md."""
    _install_row(session, row, "-c", str(CONSTRAINTS / f"{row}.txt"))
    _compat_checks(session, _row_env(row), row)


@nox.session
def torch(session: nox.Session) -> None:
    """Keras 3 on PyTorch (CPU), the compat checks of a row, from its pins. Not in CI: the
    wheels are several GB (README). Adds its column to reports/api-drift.md."""
    (row,) = TORCH
    _install_row(session, row, "-c", str(CONSTRAINTS / f"{row}.txt"))
    _compat_checks(session, _row_env(row), row)


@nox.session
def nightly(session: nox.Session) -> None:
    """tf-nightly, unpinned: early warning of the next release's drift. Not part of CI.

    tf-nightly installs the `tensorflow` module under another distribution name, so our
    package goes in without its dependencies (pip would add a released tensorflow) and the
    others are named here from pyproject.toml.
    """
    others = [d for d in PYPROJECT["project"]["dependencies"] if not d.startswith("tensorflow")]
    session.install("tf-nightly", *others, *nox.project.dependency_groups(PYPROJECT, "test"))
    session.install("--no-deps", "-e", ".")
    _compat_checks(session, ENV, None)
