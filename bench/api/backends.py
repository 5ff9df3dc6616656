"""``bench reproduce --backends tensorflow,jax``: the same run set on several Keras 3
backends, side by side.

Keras fixes its backend when it is first imported, so each backend's runs are a
``bench reproduce`` of their own, in a child process with ``KERAS_BACKEND`` set, into
``OUT/<backend>/`` (its own results, plan and REPORT.md; interrupted, the same command
resumes each). Then ``OUT/BACKENDS.md`` holds every other backend against the first,
through ``bench.report.compare``: accuracy and val_loss per backend, whether the
learning-rate histories are equal, the ms/step ratio, and whether the backends agree
within the report's tolerance (the comparison's ``verdict``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from tabulate import tabulate

from bench.api import runs
from bench.core import backend, files
from bench.report import compare, text
from bench.run import runset

log = logging.getLogger(__name__)

BACKENDS_REPORT = "BACKENDS.md"


def parse(text: str) -> list[str]:
    """``tensorflow,jax`` -> the backends, in order; at least two, each known, none twice."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [n for n in names if n not in backend.KNOWN]
    if unknown:
        raise ValueError(
            f"unknown Keras backend(s) {', '.join(unknown)}: choose from {', '.join(backend.KNOWN)}"
        )
    if len(names) < 2 or len(set(names)) != len(names):
        raise ValueError(f"--backends wants two or more different backends, got {text!r}")
    return names


def reproduce(out: Path, names: list[str], argv: list[str]) -> int:
    """``run_all`` under ``out``'s lock; an interruption is ``runs.Interrupted``."""
    files.check_writable(out)
    with runset.lock(out):
        try:
            return run_all(out, names, argv)
        except KeyboardInterrupt as interrupt:
            raise runs.Interrupted(out, interrupt) from None


def run_all(out: Path, names: list[str], argv: list[str]) -> int:
    """``bench reproduce ARGV`` once per backend into ``out/<backend>``, then BACKENDS.md;
    the number of backends whose reproduction failed."""
    failed = []
    for k, name in enumerate(names, 1):
        log.info("[INFO] backend %s of %s: %s -> %s", k, len(names), name, Path(out) / name)
        env = {**os.environ, "KERAS_BACKEND": name}
        command = [sys.executable, "-m", "bench", "reproduce", *argv, "--out", str(out / name)]
        code = subprocess.run(command, env=env).returncode
        if code in (130, 143):  # interrupted: the same command resumes it
            raise KeyboardInterrupt
        if code:
            failed.append(name)
    log.info("[INFO] backends compared: %s", write(out, names))
    return len(failed)


def render(out: Path, names: list[str]) -> str:
    """BACKENDS.md: each other backend against the first."""

    base = names[0]
    lines = [
        f"# The same runs on Keras backends: {', '.join(names)}",
        "",
        "Each backend's own report: "
        + ", ".join(f"[{n}]({n}/REPORT.md)" for n in names)
        + ". Accuracy differences are judged with the report's tolerance (test-set "
        "noise and the seeds' spread); the learning-rate histories must be equal; "
        "speed is shown, not judged.",
        "",
    ]
    for name in names[1:]:
        result = compare.compare(Path(out) / base, Path(out) / name)
        agree = "DIFFER" if result.verdict.differ else "agree"
        rows = [[text.markdown_safe(cell) for cell in row] for row in result.rows]
        lines += [
            f"## {name} against {base}: {agree}",
            "",
            tabulate(rows, headers=result.headers, tablefmt="github", disable_numparse=True),
            "",
            *(f"- {text.markdown_safe(problem, 400)}" for problem in result.problems),
            *(
                f"- not compared: {text.markdown_safe(unused, 400)}"
                for unused in result.not_compared
            ),
            "",
        ]
    return "\n".join(lines)


def write(out: Path, names: list[str]) -> Path:
    text = render(out, names)
    return files.atomic_write(Path(out) / BACKENDS_REPORT, lambda f: f.write(text.encode("utf-8")))
