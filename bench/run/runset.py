"""The run-set folder: its layout, its plan, its lock, and reading it back.

::

    OUT/plan.json                 what was asked for and how each run ended (rewritten,
                                  atomically, as runs end)
    OUT/runs/<exp>-seed<s>.json   one results file per finished run (bench.core.results)
    OUT/state/<exp>-seed<s>/      an unfinished run's training state (bench.core.state)
    OUT/.lock, OUT/.lock.holder   held by the one command writing the set
    OUT/REPORT.md, OUT/*.png      bench.report's output

``bench train`` writes the same files into its ``--out`` with the results file at the top
(``OUT/<exp>-seed<s>.json``). Everything here reads or writes files only; nothing imports
TensorFlow or a renderer.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from bench.core import experiments, files, identity, results

PLAN = "plan.json"
RUNS = "runs"
STATE = "state"
LOCK = ".lock"
STATUSES = ("pending", "ok", "failed", "interrupted")

PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["runs"],
    "properties": {
        "quick": {"type": "boolean"},
        "dataset": {"enum": ["cifar10", "digits"]},
        "subset": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
        "seeds": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "experiments": {"type": "array", "items": {"enum": list(experiments.ALL)}},
        "setup": {
            "type": "object",
            "description": "what every run of the set shares "
            "(bench.core.identity.SETUP); plans before it was recorded lack it",
        },
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["experiment", "seed", "file", "status"],
                "properties": {
                    "experiment": {"enum": list(experiments.ALL)},
                    "seed": {"type": "integer", "minimum": 0},
                    "file": {"type": "string", "pattern": rf"^{RUNS}/[^/]+-seed\d+\.json$"},
                    "status": {"enum": list(STATUSES)},
                    "error": {"type": "string"},
                },
            },
        },
    },
}


def results_path(out: Path, experiment: str, seed: int, *, in_runs: bool = True) -> Path:
    """Where a run's results file goes: ``OUT/runs/`` in a run set, ``OUT/`` for ``train``."""
    name = results.file_name(experiment, seed)
    return Path(out) / RUNS / name if in_runs else Path(out) / name


def state_dir(out: Path, experiment: str, seed: int) -> Path:
    return Path(out) / STATE / Path(results.file_name(experiment, seed)).stem


def run_paths(out: Path, run: experiments.Run) -> tuple[Path, Path]:
    """A run's results file and state folder in the run set ``out``."""
    name, seed = run.experiment.name, run.seed
    return results_path(out, name, seed), state_dir(out, name, seed)


def new_plan(
    runs: list[experiments.Run], quick: bool, setup: dict[str, Any], kept: list[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The plan of a run set about to train ``runs`` (every one pending) after the entries
    ``kept`` from the set's earlier commands (runs of the same set-up not asked for now)."""
    asked = [
        {
            "experiment": r.experiment.name,
            "seed": r.seed,
            "file": f"{RUNS}/{results.file_name(r.experiment.name, r.seed)}",
            "status": "pending",
        }
        for r in runs
    ]
    files_asked = {entry["file"] for entry in asked}
    entries = [entry for entry in kept if entry["file"] not in files_asked] + asked
    return {
        "quick": quick,
        "dataset": runs[0].dataset,
        "subset": runs[0].subset,
        "seeds": sorted({entry["seed"] for entry in entries}),
        "experiments": list(dict.fromkeys(entry["experiment"] for entry in entries)),
        "setup": setup,
        "runs": entries,
    }


def write_plan(out: Path, plan: dict[str, Any]) -> None:
    text = json.dumps(plan, indent=1) + "\n"
    files.atomic_write(Path(out) / PLAN, lambda f: f.write(text.encode("utf-8")))


def read_plan(out: Path) -> dict[str, Any] | None:
    """plan.json, or None if the folder has none; ValueError if it is not a valid plan."""
    path = Path(out) / PLAN
    if not path.exists():
        return None
    try:
        plan = files.read_json(path)
    except ValueError as exc:
        why = str(exc).removeprefix(f"{path}: ")
        raise ValueError(f"{path}: unreadable plan ({why})") from None

    error = best_match(Draft202012Validator(PLAN_SCHEMA).iter_errors(plan))
    if error is not None:
        where = ".".join(map(str, error.absolute_path)) or "the file"
        raise ValueError(f"{path}: not a plan ({where}: {error.message})")
    return plan


@dataclass
class RunSet:
    """What a run-set folder holds: valid results by experiment (in bench.core.experiments'
    order), one problem line per failed, missing or invalid run, and the plan."""

    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    plan: dict[str, Any] | None = None

    def all_runs(self) -> list[dict[str, Any]]:
        return [run for group in self.runs.values() for run in group]


def load_one_setup(folder: Path) -> RunSet:
    """Read ``folder`` as one set-up's distinct runs: every results file validated, the
    plan's failures and gaps named, and two kinds of file turned from runs into problem
    lines: a copy of another seed's training (``drop_copies``) and a run of another set-up
    than the set's (``keep_one_setup``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"no results folder at {folder}")
    plan = read_plan(folder)
    # A plan that records its set-up keeps every command's runs; an older release's listed
    # only its last command's, so it cannot say a file is foreign.
    keeps_all = plan is not None and "setup" in plan
    listed = {entry["file"] for entry in plan["runs"]} if keeps_all else None
    runs: dict[str, list[dict]] = {}
    problems: dict[str, str] = {}  # one line per run, however many ways it went wrong
    for path in sorted((folder / RUNS).glob("*.json")):
        if listed is not None and f"{RUNS}/{path.name}" not in listed:
            problems[path.stem] = (
                "not in plan.json: no command of this set trained it (a "
                "copy, or a file from elsewhere)"
            )
            continue
        try:
            run = results.read(path)
        except results.ResultsError as exc:
            problems[path.stem] = f"unreadable results: {exc}"
            continue
        runs.setdefault(run["experiment"], []).append(run)
    drop_copies(runs, problems)
    for entry in (plan or {}).get("runs", []):
        path = folder / entry["file"]
        if entry["status"] != "ok":
            problems.setdefault(path.stem, f"{entry['status']}: {entry.get('error', '')}")
        elif not path.exists():
            problems.setdefault(path.stem, "missing: plan says ok but no results file")
    keep_one_setup(runs, problems, (plan or {}).get("setup"))
    ordered = {name: runs[name] for name in experiments.ALL if name in runs}
    return RunSet(ordered, sorted(problems.items()), plan)


def drop_copies(runs: dict[str, list[dict]], problems: dict[str, str]) -> None:
    """Two seeds never train alike: a run whose losses are another seed's, epoch for
    epoch, is a copy under another seed, a problem line and not a second seed (it would
    count twice and shrink the seeds' spread)."""
    for name, group in runs.items():
        seen: dict[tuple, int] = {}
        for run in list(group):
            trace = (tuple(run["history"]["loss"]), tuple(run["history"]["val_loss"]))
            if trace in seen:
                stem = Path(results.file_name(name, run["seed"])).stem
                problems.setdefault(
                    stem, f"the same training as seed {seen[trace]} (a copy under another seed)"
                )
                group.remove(run)
            else:
                seen[trace] = run["seed"]


def keep_one_setup(
    runs: dict[str, list[dict]], problems: dict[str, str], setup: dict[str, Any] | None
) -> None:
    """A run set holds one set-up: the plan's, or (a set without one) its most common.
    A results file of another is a problem line, never a row ranked against the others."""
    every = [run for group in runs.values() for run in group]
    found = [identity.setup_of(identity.from_results(run)) for run in every]
    if setup is None and found:
        texts = [json.dumps(s, sort_keys=True) for s in found]
        setup = found[max(range(len(found)), key=lambda i: (texts.count(texts[i]), -i))]
    for run, its in zip(every, found, strict=True):
        differ = identity.setup_differences(its, setup) if setup is not None else []
        if differ:
            name = Path(results.file_name(run["experiment"], run["seed"])).stem
            problems.setdefault(name, f"another set-up than the set's ({'; '.join(differ)})")
            runs[run["experiment"]].remove(run)
    for name in [n for n, group in runs.items() if not group]:
        del runs[name]


def _holder() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}: {' '.join(sys.argv[:3])}"


@contextlib.contextmanager
def lock(out: Path) -> Iterator[None]:
    """Hold ``out`` for this command alone; another holder makes it a ``ValueError`` at
    once. The operating system drops the lock when its process dies, so a killed command
    never blocks the next one."""

    out = Path(out)
    made = files.make_folders(out)
    holder = out / f"{LOCK}.holder"
    made += [] if (out / LOCK).exists() else [out / LOCK]
    file_lock = FileLock(str(out / LOCK), timeout=0)
    try:
        file_lock.acquire()
    except Timeout:
        try:
            who = files.read_regular(holder, 4096).decode("utf-8", "replace").strip()
        except ValueError:
            who = "another process"
        raise ValueError(f"{out} is in use by {who}; wait for it or use another --out") from None
    try:
        text = _holder()
        files.atomic_write(holder, lambda f: f.write(text.encode("utf-8")))
        yield
    except (ValueError, OSError):
        holder.unlink(missing_ok=True)
        _undo(made)  # a refused command leaves nothing behind, not even its lock
        raise
    finally:
        holder.unlink(missing_ok=True)
        file_lock.release()


def _undo(made: list[Path]) -> None:
    """Remove the lock file and the folders a refused command created (folders only while
    empty: what it wrote before it was refused stays)."""
    for path in sorted(made, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            if path.name == LOCK:
                path.unlink()
            else:
                path.rmdir()
