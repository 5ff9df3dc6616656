"""Run a set of runs (experiments x seeds) in this process, one after another
(``bench.ray_runs`` runs them as Ray tasks instead).

Each run goes through ``bench.lifecycle.complete`` (finished already? -> train -> write ->
clear state) into the run-set folder that ``bench.runset`` owns, and ``plan.json`` says
how each ended. A run that raises is recorded as failed with its error and the others go
on; the report marks it. An interruption marks the run interrupted and propagates.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from bench.core import data, files, results
from bench.core.experiments import Run, configure
from bench.run import lifecycle, runset


def run_all(
    out: Path,
    runs: list[Run],
    dataset: data.Dataset,
    *,
    quick: bool,
    force: bool = False,
    verbose: int = 1,
) -> int:
    """Train every run not finished already; return how many failed.

    A run whose results file is there and valid is not trained again (unless ``force``);
    an interrupted one resumes from its state. An unreadable results file counts as a
    failed run: it is reported, not overwritten.
    """
    check_reusable(out, runs, dataset, force)
    plan = runset.new_plan(runs, quick)
    runset.write_plan(out, plan)
    failed = 0
    for k, (run, entry) in enumerate(zip(runs, plan["runs"], strict=True), 1):
        head = f"run {k} of {len(runs)}: {run.experiment.name}, seed {run.seed}"
        try:
            entry["status"] = _one(out, run, dataset, head, force, verbose)
        except KeyboardInterrupt:
            entry["status"] = "interrupted"
            runset.write_plan(out, plan)
            raise
        except Exception as exc:  # one broken run must not cost the others
            if files.disk_full(exc):  # ... but a full disk costs every one: stop, one line
                _stop_for_space(out, plan, entry, exc)
            failed += 1
            entry.update(status="failed", error=_error(exc))
            print(f"[ERROR] {head} failed: {entry['error']}", file=sys.stderr)
            if not isinstance(exc, results.ResultsError):
                traceback.print_exc()
        runset.write_plan(out, plan)
    return failed


def _stop_for_space(
    out: Path, plan: dict[str, Any], entry: dict[str, Any], exc: Exception
) -> NoReturn:
    """Record the run as failed where the plan can still be written, and stop the set with
    one line (no traceback: the cause is the disk, not the code)."""
    entry.update(status="failed", error=_error(exc))
    with contextlib.suppress(ValueError, OSError):
        runset.write_plan(out, plan)
    if isinstance(exc, files.DiskFullError):
        raise exc
    raise files.DiskFullError(f"no space left on the device: {exc}") from None


def check_reusable(out: Path, runs: list[Run], dataset: data.Dataset, force: bool) -> None:
    """A finished run with other settings stops the whole set before anything trains
    (``ValueError`` naming them); an unreadable one is left to be reported as failed."""
    for run in runs:
        with contextlib.suppress(results.ResultsError):
            lifecycle.finished(runset.run_paths(out, run)[0], run, dataset, force)


def _one(out: Path, run: Run, dataset: data.Dataset, head: str, force: bool, verbose: int) -> str:
    path, state_dir = runset.run_paths(out, run)
    epochs, images = run.experiment.epochs, f"{len(dataset.train_y):,} {dataset.name} images"
    trained = lifecycle.complete(
        run,
        dataset,
        path,
        state_dir,
        force=force,
        verbose=verbose,
        on_start=lambda: print(f"[INFO] {head}, {epochs} epochs, {images}", flush=True),
    )
    if trained is None:
        print(f"[INFO] {head}: finished already ({path}; --force trains it again)")
    return "ok"


def _error(exc: Exception) -> str:
    if isinstance(exc, results.ResultsError):
        return f"{exc} (delete it or use --force)"
    return f"{type(exc).__name__}: {exc}"


def plan_runs(
    names: list[str], seeds: int, dataset: str, subset: int | None, deterministic: bool,
    **overrides: Any,
) -> list[Run]:  # fmt: skip
    """Every (experiment, seed) of a reproduction, each configured by
    ``bench.experiments.configure`` with ``overrides``."""

    chosen = [configure(name, **overrides) for name in names]
    return [Run(e, seed, dataset, subset, deterministic) for e in chosen for seed in range(seeds)]
