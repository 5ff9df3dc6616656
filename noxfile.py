"""Sessions: `nox -s lint unit readme smoke` is the README's test command and CI's,
`nox -s scale` (Ray and Keras backends, on demand), `nox -s bench` (pytest-benchmark),
`nox -s repro -- --quick` (the quick reproduction), `nox -s compat` (the TensorFlow release
matrix and Keras 3 on JAX, `nox -s lock` re-pins it), `nox -s torch` (Keras 3 on PyTorch,
outside CI) and `nox -s nightly` (tf-nightly, for early warning).
Every test session prints the Python, TensorFlow and Keras versions in pytest's header
before the first test."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NoReturn

import nox
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

nox.options.sessions = ["lint", "unit", "readme", "smoke"]
nox.options.error_on_missing_interpreters = True
# uv builds an environment with TensorFlow in seconds where pip takes a minute; where uv is
# not installed (`pip install nox` without the uv extra), nox falls back to virtualenv + pip.
nox.options.default_venv_backend = "uv|virtualenv"
# uv installs without bytecode, as pip does not; where PYTHONDONTWRITEBYTECODE is set (as on
# this project's machines), every process then compiles TensorFlow's sources again: 12.5 s
# to import it, against 5.4 s compiled at install (measured 2026-12-03, AMD EPYC). Every
# environment a session builds is compiled once, at install.
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")

PYPROJECT = nox.project.load_toml("pyproject.toml")
# Both tiers of tests/unit: the fast one (a bare `pytest`) and the one that trains Keras.
BOTH_TIERS = ["-m", "not gpu and not smoke and not benchmark and not readme"]
UNIT = ["tests/unit", "tests/keras"]
# TensorFlow's C++ start-up chatter hides the test output. Property tests try their full
# number of generated cases in nox (tests/tiers.py); a bare pytest tries a tenth.
ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "BENCH_FULL_TIER": "1"}
# The upgrade check's commands (bench fingerprint and the per-environment steps).
STEPS = ("-m", "bench")

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
# several GB (docs/backends.md, "PyTorch").
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
def readme(session: nox.Session) -> None:
    """The README as a new user follows it: HEAD cloned, a fresh virtualenv, the README's
    first line pasted verbatim at the clone's root, then its Python API block
    (tests/readme/). Commit first: the clone is of HEAD."""
    _pytest(session, "-m", "readme", "-v", "tests/readme")


# Ray's and the Keras backends' smoke tests: `nox -s scale`, on demand (README, tests).
SCALE = ["tests/smoke/test_ray_smoke.py", "tests/smoke/test_backends_smoke.py"]


@nox.session
def smoke(session: nox.Session) -> None:
    """The real ResNet trained for a few epochs on the CPU, on the embedded digits set:
    every run's life (resume, kills, signals, locks), lr-find feeding train, the extra
    schedules. Two workers (pytest-xdist): most of a smoke test is Keras tracing the model,
    which is single-threaded, so two at once on two cores take 60 % of the time of one
    after another."""
    ignored = [f"--ignore={path}" for path in SCALE]
    _pytest(session, "-m", "smoke", "-n", "2", "--durations=10", *ignored, "tests/smoke")


@nox.session
def scale(session: nox.Session) -> None:
    """The same runs as Ray tasks on a local Ray bound to 127.0.0.1 (the `ray` extra), and
    on TensorFlow and JAX side by side (the `jax` extra)."""
    _pytest(session, "-m", "smoke", "-n", "2", "--durations=10", *SCALE, package=".[ray,jax]")


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
    """What each TensorFlow gets: the Keras tier of the unit suite, a two-epoch training run,
    the drift probe (whose result becomes the row's column in reports/api-drift.md; printed
    only without) and, in a row, the fingerprint against the committed reference.
    A Keras 3 backend other than TensorFlow also gets the resume smoke tests."""
    # The Keras tier: what depends on the release (the fast tier is plain Python, and runs
    # in `nox -s unit`; the process tier starts the CLI, the same on every release).
    session.run("python", "-m", "pytest", "--strict-markers", "-q", "-m", "keras", "-n", "2",
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
    if row:
        _fingerprint_check(session, env, row)


# The committed baseline fingerprint (made by the latest pinned row; not the post's data).
REFERENCE = Path("reports/fingerprints/reference-2.21.json")
# Rows that really compute something else than the reference (docs/fingerprint.md) must
# keep differing from it (exit 1), every other row must agree (exit 0): Keras 2 keeps
# BatchNorm's moving variance with the unbiased batch variance (Keras 3: biased).
DIFFERS_FROM_REFERENCE = {"2.12", "2.15", "2.21-tf-keras"}


def _fingerprint_check(session: nox.Session, env: dict[str, str], row: str) -> None:
    out = Path(session.create_tmp()) / f"fingerprint-{row}.json"
    session.run("python", *STEPS, "fingerprint", "--out", str(out), env=env)
    expected = 1 if row in DIFFERS_FROM_REFERENCE else 0
    session.run(
        "python", *STEPS, "compare", str(REFERENCE), str(out), env=env, success_codes=[expected]
    )


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
    wheels are several GB (docs/backends.md). Adds its column to reports/api-drift.md."""
    (row,) = TORCH
    _install_row(session, row, "-c", str(CONSTRAINTS / f"{row}.txt"))
    _compat_checks(session, _row_env(row), row)


@nox.session
def nightly(session: nox.Session) -> None:
    """tf-nightly, unpinned: early warning of the next release's drift. Not part of CI.

    tf-nightly installs the `tensorflow` module under another distribution name, so our
    package goes in without its dependencies (pip would add a released tensorflow) and the
    others are named here from pyproject.toml. Then the upgrade check, from the project's
    pinned environment to tf-nightly.
    """
    session.install(
        "tf-nightly",
        *_dependencies(["tf-nightly"]),
        *nox.project.dependency_groups(PYPROJECT, "test"),
    )
    session.install("--no-deps", "-e", ".")
    _compat_checks(session, ENV, None)
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    version = _versions(python, "tf-nightly")["tensorflow"]
    print(f"[INFO] tf-nightly under test: {version}")
    if _upgrade(session, ["tf-nightly"], None):
        session.error(f"REGRESSED on tf-nightly {version}: see the report's first line")


# --- calibrating the upgrade check's speed verdict: `nox -s calibrate_speed`
# Rounds of `bench upgrade-speed`, each a fresh process: plain ones back to back (the same
# environment on both sides: what the machine alone does), then plain and slowed ones in
# A B B A blocks (a known slowdown: CALIBRATION_MS slept inside every timed step).
CALIBRATION_ROUNDS = {"same": 24, "slowed": 16}
CALIBRATION_MS = 80.0
CALIBRATION_FILE = Path("tests/data/speed-rounds.json")


@nox.session
def calibrate_speed(session: nox.Session) -> None:
    """Record the rounds tests/unit/test_speed_verdict.py resamples (about 15 minutes on
    2 cores): the verdict's false-alarm rate and its power come from them."""
    session.install("-e", ".")
    block = (0.0, CALIBRATION_MS, CALIBRATION_MS, 0.0)
    plan = [("same", 0.0)] * CALIBRATION_ROUNDS["same"]
    plan += [("slowed", ms) for _ in range(CALIBRATION_ROUNDS["slowed"] // 4) for ms in block]
    rounds = []
    with tempfile.TemporaryDirectory(prefix="calibrate-") as tmp:
        for k, (series, added) in enumerate(plan):
            out = Path(tmp) / f"{k}.json"
            session.log(f"round {k + 1} of {len(plan)}: {series}, {added:g} ms added")
            session.run(
                "python",
                *STEPS,
                "upgrade-speed",
                "--out",
                str(out),
                "--added-ms",
                str(added),
                env=ENV,
            )
            measured = json.loads(out.read_text(encoding="utf-8"))
            rounds.append(
                {"series": series, "added_ms": added, "ms_per_step": measured["ms_per_step"]}
            )
    environment = measured["environment"]
    CALIBRATION_FILE.parent.mkdir(exist_ok=True)
    record = {
        "recorded": time.strftime("%Y-%m-%d"),
        "environment": environment,
        "steps": measured["setup"]["steps"],
        "rounds": rounds,
    }
    CALIBRATION_FILE.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    session.log(f"wrote {CALIBRATION_FILE}")


# --- calibrating the upgrade check's convergence verdict: `nox -s calibrate_convergence`
# Seeds of the convergence set-up (bench.api.upgrade.CONVERGENCE, what each round trains):
# plain ones (what seeds alone spread) and ones with a known loss of accuracy (a share of
# the training labels made random), alternated. One process: a seed's accuracy does not
# depend on the process it trains in (deterministic ops, seeded).
CONVERGENCE_SEEDS = 12
CONVERGENCE_NOISE = 0.05
CONVERGENCE_FILE = Path("tests/data/convergence-seeds.json")
RECORD_SEEDS = """import json, sys, time
from bench.api import upgrade
seeds, noise, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
found = []
for seed in range(seeds):
    for share in (0.0, noise):
        found.append(upgrade.convergence_seed(seed, share))
        accuracy = found[-1]["accuracy"]
        print(f"seed {seed}, label noise {share:g}: accuracy {accuracy:.4f}", flush=True)
record = {"recorded": time.strftime("%Y-%m-%d"), "setup": upgrade.CONVERGENCE, "seeds": found}
open(out, "w", encoding="utf-8").write(json.dumps(record, indent=1) + "\\n")"""


@nox.session
def calibrate_convergence(session: nox.Session) -> None:
    """Record the seeds tests/unit/test_convergence_verdict.py resamples (about 12 minutes
    on 2 cores): the verdict's false-alarm rate and its power come from them."""
    session.install("-e", ".")
    CONVERGENCE_FILE.parent.mkdir(exist_ok=True)
    args = [str(CONVERGENCE_SEEDS), str(CONVERGENCE_NOISE), str(CONVERGENCE_FILE)]
    session.run("python", "-c", RECORD_SEEDS, *args, env=ENV)
    session.log(f"wrote {CONVERGENCE_FILE}")


# --- the upgrade check: `nox -s upgrade -- SPEC... [--from SPEC...]`
# The packages a spec may name: those whose release changes what the post's code computes.
UPGRADABLE = ("tensorflow", "tensorflow-cpu", "tf-nightly", "keras", "tf-keras", "jax", "jaxlib")
# They install the `tensorflow` module under another name: our `tensorflow` requirement
# would add a released TensorFlow beside them.
TENSORFLOW_ALIASES = ("tensorflow-cpu", "tf-nightly")
# Without --from, the "from" side is the project's pinned environment of the candidate's
# kind (``_kind``): the current release's row, built afresh as the candidate is. Each kind
# runs with its own variables.
CURRENT_ROW = {"tensorflow": "2.21", "tf-keras": "2.21-tf-keras", "jax": "keras-3.15-jax"}
KIND_ENV = {"tensorflow": {}, "tf-keras": LEGACY_ENV, "jax": {"KERAS_BACKEND": "jax"}}
# Rounds per side (bench.report.rounds wants 6 pairs, the fewest with a 95 % interval);
# each trains one convergence seed, so 6 seeds a side (docs/upgrade.md).
SPEED_ROUNDS = 6


def _refuse(message: str) -> NoReturn:
    """The check could not run: one line naming the session, exit 2, nothing written."""
    print(f"nox -s {REFUSING[0]}: {message}", file=sys.stderr)
    raise SystemExit(2)


REFUSING = ["upgrade"]  # the session whose checks refuse: bisect sets its own name


def _names(specs: list[str]) -> list[str]:
    """The package each spec names; a spec that is not a requirement on one of UPGRADABLE
    is one line, exit 2."""
    names = []
    for spec in specs:
        try:
            name = canonicalize_name(Requirement(spec).name)
        except InvalidRequirement:
            _refuse(f"bad spec {spec!r}: expected e.g. tensorflow==2.22.* or keras==3.16.*")
        if name not in UPGRADABLE:
            _refuse(f"{spec!r} names {name}; a spec names one of {', '.join(UPGRADABLE)}")
        names.append(name)
    return names


def _upgrade_args(posargs: list[str]) -> tuple[list[str], list[str] | None]:
    """The candidate's specs, and the "from" side's (after --from, which comes last) or None."""
    args, old = list(posargs), None
    if "--from" in args:
        at = args.index("--from")
        args, old = args[:at], args[at + 1 :]
        if not old:
            _refuse("--from needs a spec, e.g. --from 'tensorflow==2.15.*'")
    if not args:
        _refuse('give a candidate spec, e.g. nox -s upgrade -- "tensorflow==2.21.*"')
    _names(args)
    _names(old or [])
    return args, old


def _kind(specs: list[str]) -> str:
    """How a side runs Keras: "jax" (Keras 3 on JAX, no TensorFlow) where its specs name jax
    or jaxlib and no TensorFlow, "tf-keras" (Keras 2 as tf.keras) where they name tf-keras,
    else "tensorflow" (Keras 3 on TensorFlow, or Keras 2 inside TensorFlow 2.15 and older)."""
    names = _names(specs)
    if "tf-keras" in names:
        return "tf-keras"
    tensorflow = any(n in ("tensorflow", *TENSORFLOW_ALIASES) for n in names)
    return "jax" if {"jax", "jaxlib"} & set(names) and not tensorflow else "tensorflow"


def _dependencies(specs: list[str]) -> list[str]:
    """Our package's dependencies, less TensorFlow where a spec brings its module under
    another name or the side runs on JAX."""
    drop = any(n in TENSORFLOW_ALIASES for n in _names(specs)) or _kind(specs) == "jax"
    deps = PYPROJECT["project"]["dependencies"]
    return [d for d in deps if not (drop and d.startswith("tensorflow"))]


def _reason(output: str) -> str:
    """The installer's reason, in one line: uv's "cause:"/"Because ..." line where there is
    one, else the last error line (pip ends with it)."""
    lines = [line.strip(" \u2570\u2500\u25b6") for line in output.splitlines() if line.strip()]
    causes = [line for line in lines if "because" in line.lower()]
    errors = [line for line in lines if "error" in line.lower()]
    return " ".join((causes or errors or lines or ["no output"])[-1].split())[:300]


def _uv() -> str | None:
    """uv on PATH, or beside the Python running nox (`nox[uv]` installs it there, which is
    not on PATH when nox runs as `VENV/bin/python -m nox`)."""
    return shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))


def _install(python: str, what: str, *args: str) -> None:
    """``args`` and then our package into the environment of ``python`` (uv if present,
    else pip); a failure is one line naming ``what`` and the installer's reason, exit 2."""
    uv = _uv()
    uv_install = [uv, "pip", "install", "--compile-bytecode", "--python", python]
    base = uv_install if uv else [python, "-m", "pip", "install"]
    for step in (list(args), ["--no-deps", "-e", "."]):
        done = subprocess.run([*base, *step], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            _refuse(f"cannot install {what}: {_reason(done.stderr + done.stdout)}")


def _side(where: Path, specs: list[str] | None, kind: str) -> str:
    """A fresh environment at ``where``: ``specs`` with our dependencies, or (None) the
    current row's pins. Its python."""
    uv = _uv()
    make = [uv, "venv", "-q", str(where)] if uv else [sys.executable, "-m", "venv", str(where)]
    subprocess.run(make, check=True, capture_output=True)
    python = str(where / "bin" / "python")
    if specs is None:
        row = CURRENT_ROW[kind]
        pins = ["-c", str(CONSTRAINTS / f"{row}.txt"), *ROWS[row]]
        _install(python, f"constraints/{row}.txt", *pins, *_dependencies(ROWS[row]))
    else:
        _install(python, " ".join(specs), *specs, *_dependencies(specs))
    return python


VERSIONS = """import json; from importlib import metadata as m
def v(n):
    try: return m.version(n)
    except m.PackageNotFoundError: return None
print(json.dumps({n: v(n) for n in %r}))"""


def _versions(python: str, side: str) -> dict[str, str | None]:
    """The side's installed versions of UPGRADABLE (``tensorflow`` is tf-nightly's or
    tensorflow-cpu's where those bring it); one line, exit 2, where it has no Keras."""
    probe = VERSIONS % (UPGRADABLE,)
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _refuse(f"the {side} side's python cannot report its packages: {_reason(done.stderr)}")
    found = json.loads(done.stdout)
    found["tensorflow"] = next(
        (found[n] for n in ("tensorflow", *TENSORFLOW_ALIASES) if found[n]), None
    )
    if not (found["keras"] or found["tf-keras"]):
        _refuse(f"the {side} side has no Keras: nothing to check")
    return found


def _label(versions: dict[str, str | None], names: list[str]) -> str:
    """A side's name in the report folder: TensorFlow's version alone where only it is
    named (upgrade-2.15.1-to-2.21.0), else each named package with its version."""
    if set(names) <= {"tensorflow", *TENSORFLOW_ALIASES}:
        return str(versions["tensorflow"])
    shown = [f"{n}{versions[n]}" for n in dict.fromkeys(names) if versions[n]]
    return "-".join(shown) or str(versions["tensorflow"])


def _title(versions: dict[str, str | None]) -> str:
    shown = {"tensorflow": "TensorFlow", "keras": "Keras", "tf-keras": "tf-keras", "jax": "JAX"}
    return ", ".join(f"{title} {versions[n]}" for n, title in shown.items() if versions[n])


def _sides_at_once(
    session: nox.Session, sides: dict[str, str], work: Path, envs: dict[str, dict]
) -> None:
    """Each side's drift probe and fingerprint, both sides at once (neither is timed; the
    fingerprint pins its own threads), each side's output shown when it ends."""
    started = {
        side: subprocess.Popen(
            [python, *STEPS, "upgrade-side", "--out", str(work / side)],
            env={**os.environ, **envs[side]},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for side, python in sides.items()
    }
    for side, process in started.items():
        output, _ = process.communicate()
        session.log(f"the {side} side's drift probe and fingerprint:\n{output.strip()}")
        if process.returncode != 0:
            session.error(f"the {side} side's drift probe or fingerprint failed (above)")


def _measure(
    session: nox.Session, sides: dict[str, str], work: Path, envs: dict[str, dict]
) -> None:
    """Each side's drift and fingerprint, then the rounds: each a fresh process timing steps
    and then training one convergence seed (a side's k-th round trains seed k), the sides
    alternated in blocks ("from", to, to, "from") so that a drift of the machine hits both,
    ``speed-N.json`` numbered by its place in the whole sequence."""
    _sides_at_once(session, sides, work, envs)
    order = ("from", "to", "to", "from") * (SPEED_ROUNDS // 2)
    for place, side in enumerate(order):
        seed = order[:place].count(side)
        session.log(f"round {place + 1} of {len(order)}: {side}, convergence seed {seed}")
        out = work / side / f"speed-{place}.json"
        step = ["upgrade-speed", "--out", str(out), "--seed", str(seed)]
        session.run(sides[side], *STEPS, *step, env=envs[side], external=True, silent=True)


def _publish(staged: Path, folder: Path) -> None:
    """``staged`` becomes ``folder`` whole: copied beside it first, then renamed into place,
    so an interruption leaves the old report or the new one, never a part."""
    incoming = folder.with_name(f".{folder.name}.incoming")
    outgoing = folder.with_name(f".{folder.name}.outgoing")
    try:
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.copytree(staged, incoming)
        if folder.exists():
            folder.rename(outgoing)
        incoming.rename(folder)
    finally:
        if outgoing.exists() and not folder.exists():
            outgoing.rename(folder)  # interrupted between the two renames: the old stays
        shutil.rmtree(outgoing, ignore_errors=True)
        shutil.rmtree(incoming, ignore_errors=True)


def _kinds(specs: list[str], old_specs: list[str] | None) -> dict[str, str]:
    """Each side's kind: the candidate's from its specs, the "from" side's from its own
    specs, or, pinned, the candidate's."""
    return {"from": _kind(old_specs) if old_specs else _kind(specs), "to": _kind(specs)}


def _upgrade(session: nox.Session, specs: list[str], old_specs: list[str] | None) -> int:
    """Both sides built in a temporary folder (removed however the session ends), measured,
    and UPGRADE.md published under reports/. 1 if it says REGRESSED."""
    kinds = _kinds(specs, old_specs)
    envs = {side: {**ENV, **KIND_ENV[kind]} for side, kind in kinds.items()}
    with tempfile.TemporaryDirectory(prefix="upgrade-") as tmp:
        work = Path(tmp)
        # Both built at once: the installer waits on the index and the disk, not the CPU.
        with ThreadPoolExecutor(2) as pool:
            building = {
                "from": pool.submit(_side, work / "from-env", old_specs, kinds["from"]),
                "to": pool.submit(_side, work / "to-env", specs, kinds["to"]),
            }
            sides = {side: built.result() for side, built in building.items()}
        versions = {side: _versions(python, side) for side, python in sides.items()}
        named = _names([*specs, *(old_specs or [])])
        labels = {side: _label(versions[side], named) for side in sides}
        titles = {side: _title(versions[side]) for side in sides}
        print(f"[INFO] upgrade check: {titles['from']} -> {titles['to']}")
        _measure(session, sides, work, envs)
        staged = work / "report"
        # session.run gives no exit code back (True on any success code): the verdict is
        # the report's own first line.
        session.run(
            sides["to"],
            *STEPS,
            "upgrade-report",
            str(work / "from"),
            str(work / "to"),
            "--old-name",
            titles["from"],
            "--new-name",
            titles["to"],
            "--out",
            str(staged / "UPGRADE.md"),
            env=envs["to"],
            external=True,
            success_codes=[0, 1],
        )
        for side in sides:
            shutil.copytree(work / side, staged / side)
        folder = Path("reports") / f"upgrade-{labels['from']}-to-{labels['to']}"
        _publish(staged, folder)
    print(f"[INFO] wrote {folder / 'UPGRADE.md'}")
    verdict = (folder / "UPGRADE.md").read_text(encoding="utf-8").splitlines()[0]
    return int(verdict.startswith("**REGRESSED**"))


@nox.session
def upgrade(session: nox.Session) -> None:
    """What changes for the post on an upgrade: `nox -s upgrade -- SPEC...` with one or
    more requirement specs on tensorflow, tf-nightly, keras, tf-keras or jax (e.g.
    "tensorflow==2.22.*" "keras==3.16.*"), against the project's pinned environment, or
    against `--from SPEC...` (last). Both sides are built afresh from the index. Drift
    probe, training-step fingerprint, a short convergence run over seeds and per-step speed
    in each, then reports/upgrade-<from>-to-<to>/UPGRADE.md. Exit 0: nothing regressed; 1:
    something did; 2: the check could not run (bad spec, a side not installable or without
    Keras)."""
    specs, old_specs = _upgrade_args(session.posargs)
    if _upgrade(session, specs, old_specs):
        session.error("REGRESSED: see the report's first line")


# --- bisect: `nox -s bisect -- GOOD BAD`
# Fingerprints already taken, by version: valid while bench/ is unchanged (the key holds a
# hash of its sources) and for this Python.
BISECT_CACHE = Path(".cache/bisect")


def _released(name: str) -> list[Version]:
    """Every final release of ``name`` on the index that this Python can install, oldest
    first (pip's ``index versions``; one line, exit 2, where the index cannot be read)."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    ask = [sys.executable, "-m", "pip", "index", "versions", name, "--python-version", python]
    done = subprocess.run(ask, capture_output=True, text=True, check=False)
    listed = [line for line in done.stdout.splitlines() if line.startswith("Available versions:")]
    if done.returncode != 0 or not listed:
        _refuse(f"cannot list {name}'s releases: {_reason(done.stderr + done.stdout)}")
    found = []
    for text in listed[0].split(":", 1)[1].split(","):
        try:
            found.append(Version(text.strip()))
        except InvalidVersion:
            continue
    return sorted(v for v in found if not (v.is_prerelease or v.is_devrelease))


def _bisect_range(good: str, bad: str) -> tuple[str, list[Version]]:
    """The package both specs name, and its releases from GOOD's newest match to BAD's."""
    names = _names([good, bad])
    if names[0] != names[1]:
        _refuse(f"GOOD and BAD name different packages ({names[0]}, {names[1]}): one at a time")
    released = _released(names[0])
    ends = []
    for spec in (good, bad):
        matching = [v for v in released if Requirement(spec).specifier.contains(v)]
        if not matching:
            _refuse(f"no release of {names[0]} on the index matches {spec!r}")
        ends.append(matching[-1])
    if ends[1] <= ends[0]:
        _refuse(f"BAD ({ends[1]}) must be a later release than GOOD ({ends[0]})")
    return names[0], [v for v in released if ends[0] <= v <= ends[1]]


def _sources_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path("bench").rglob("*.py")):
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def _bisect_fingerprint(session: nox.Session, name: str, version: Version, tmp: Path) -> Path:
    """``name==version``'s fingerprint, from the cache or taken in a fresh environment
    (removed after)."""
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    cached = BISECT_CACHE / f"{name}-{version}-{python}-{_sources_hash()}.json"
    if cached.is_file():
        session.log(f"{name} {version}: fingerprint from {cached}")
        return cached
    spec = f"{name}=={version}"
    where = tmp / f"env-{version}"
    started = time.monotonic()
    side = _side(where, [spec], _kind([spec]))
    env = {**ENV, **KIND_ENV[_kind([spec])]}
    out = tmp / f"{version}.json"
    session.run(side, *STEPS, "fingerprint", "--out", str(out), env=env, external=True)
    shutil.rmtree(where)
    session.log(f"{name} {version}: environment and fingerprint {time.monotonic() - started:.0f} s")
    BISECT_CACHE.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(out, cached)
    return cached


def _compare(python: str, baseline: Path, candidate: Path) -> tuple[bool, str]:
    """Whether two fingerprints agree, and the comparison's text (``bench compare``)."""
    ask = [python, *STEPS, "compare", str(baseline), str(candidate)]
    done = subprocess.run(
        ask, capture_output=True, text=True, check=False, env={**os.environ, **ENV}
    )
    if done.returncode not in (0, 1):
        _refuse(f"cannot compare {candidate.name} with {baseline.name}: {_reason(done.stderr)}")
    return done.returncode == 0, done.stdout.strip()


def _bisect_search(
    session: nox.Session,
    versions: list[Version],
    fingerprint: Callable[[Version], Path],
    agrees: Callable[[Path], bool],
) -> tuple[dict[Version, bool], Version | None]:
    """Binary search for the first release whose fingerprint differs from the first's:
    each visited release's verdict, and that release (None where the last one agrees).
    It assumes a difference, once it appears, stays: a release between two visited ones
    that differs and then reverts is not seen."""
    verdicts = {versions[0]: True, versions[-1]: agrees(fingerprint(versions[-1]))}
    if verdicts[versions[-1]]:
        return verdicts, None
    low, high = 0, len(versions) - 1
    while high - low > 1:
        middle = (low + high) // 2
        session.log(
            f"bisect: {versions[low]} agrees, {versions[high]} differs: trying {versions[middle]}"
        )
        verdicts[versions[middle]] = agrees(fingerprint(versions[middle]))
        low, high = (middle, high) if verdicts[versions[middle]] else (low, middle)
    return verdicts, versions[high]


def _bisect_text(
    name: str,
    versions: list[Version],
    verdicts: dict[Version, bool],
    first: Version | None,
    divergence: str,
    seconds: float,
) -> str:
    """BISECT.md: the finding first, then each release's verdict and the divergence."""
    good, bad = versions[0], versions[-1]
    if first is None:
        head = (
            f"**{name} {bad} agrees with {good}**: the releases between them were not "
            f"fingerprinted (a change that reverted before {bad} is not seen)"
        )
    else:
        head = f"**First release that differs from {good}: {name} {first}**"
    counts = (
        f"Releases on the index from {good} to {bad}: {len(versions)}; fingerprinted (each "
        "in a fresh environment, with the newest dependencies the installer chose, or read "
        f"from .cache/bisect/): {len(verdicts)}; {seconds:.0f} s in all."
    )
    lines = [head, "", f"# Bisect: {name} {good} -> {bad}", "", counts, ""]
    lines += [f"| release | fingerprint against {good} |", "|---|---|"]
    for version in versions:
        seen = verdicts.get(version)
        lines.append(f"| {version} | {'-' if seen is None else 'agrees' if seen else 'differs'} |")
    if first is not None:
        lines += ["", f"## {name} {first} against {good}", "", "```", divergence, "```"]
    unseen = (
        "What it cannot see: a change between two visited releases that differs and then "
        "reverts, and any change the fingerprint does not measure (docs/fingerprint.md)."
    )
    lines += ["", unseen, ""]
    return "\n".join(lines)


@nox.session
def bisect(session: nox.Session) -> None:
    """The first release whose training-step fingerprint differs from GOOD's: `nox -s
    bisect -- GOOD BAD`, two specs on the same package (e.g. "tensorflow==2.15.*"
    "tensorflow==2.21.*"). Lists the releases between them on the index, fingerprints the
    ones a binary search visits (each cached by version under .cache/bisect/), and writes
    reports/bisect-<package>-<good>-to-<bad>/BISECT.md with the first divergence: set-up,
    update, quantity. Exit 0 when it ran; 2 when it could not (bad specs, no such release,
    an environment that cannot be built)."""
    REFUSING[0] = "bisect"
    if len(session.posargs) != 2:
        _refuse('give two specs: nox -s bisect -- "tensorflow==2.15.*" "tensorflow==2.21.*"')
    started = time.monotonic()
    name, versions = _bisect_range(*session.posargs)
    session.log(f"bisect: {len(versions)} releases of {name}, {versions[0]} to {versions[-1]}")
    session.install("-e", ".")
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    with tempfile.TemporaryDirectory(prefix="bisect-") as tmp:

        def fingerprint(version: Version) -> Path:
            return _bisect_fingerprint(session, name, version, Path(tmp))

        good = fingerprint(versions[0])

        def agrees(path: Path) -> bool:
            return _compare(python, good, path)[0]

        verdicts, first = _bisect_search(session, versions, fingerprint, agrees)
        divergence = _compare(python, good, fingerprint(first))[1] if first else ""
        text = _bisect_text(name, versions, verdicts, first, divergence, time.monotonic() - started)
        staged = Path(tmp) / "report"
        staged.mkdir()
        (staged / "BISECT.md").write_text(text, encoding="utf-8")
        for version in verdicts:
            shutil.copyfile(fingerprint(version), staged / f"fingerprint-{version}.json")
        folder = Path("reports") / f"bisect-{name}-{versions[0]}-to-{versions[-1]}"
        _publish(staged, folder)
    print(text.splitlines()[0])
    print(f"[INFO] wrote {folder / 'BISECT.md'}")
