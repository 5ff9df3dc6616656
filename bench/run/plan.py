"""One plan of runs, shared by every executor: what to run, in what order, and how each
run ended, kept in the run set's plan.json as runs end.

The in-process executor (``bench.run.local``) and the Ray one (``bench.run.ray_tasks``)
differ only in where a run trains; both refuse reused results with other settings first
(``check_reusable``), then mark each run through a ``Plan`` and print its "run k of n"
line from here.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, NoReturn

from bench.core import data, files, identity, results
from bench.core.experiments import Run, configure
from bench.run import lifecycle, runset


def plan_runs(
    names: list[str],
    seeds: int,
    dataset: str,
    subset: int | None,
    deterministic: bool,
    subset_seed: int = 0,
    **overrides: Any,
) -> list[Run]:
    """Every (experiment, seed) of a reproduction, each configured by
    ``bench.core.experiments.configure`` with ``overrides``."""

    chosen = [configure(name, **overrides) for name in names]
    return [
        Run(e, seed, dataset, subset, deterministic, subset_seed=subset_seed)
        for e in chosen
        for seed in range(seeds)
    ]


def check_reusable(out: Path, runs: list[Run], dataset: data.Dataset, force: bool) -> None:
    """A finished run with other settings stops the whole set before anything trains
    (``ValueError`` naming them); an unreadable one is left to be reported as failed."""
    for run in runs:
        with contextlib.suppress(results.ResultsError):
            lifecycle.finished(runset.run_paths(out, run)[0], run, dataset, force)


def check_one_setup(out: Path, setup: dict[str, Any]) -> dict[str, Any] | None:
    """A run set holds one set-up: refuse (``ValueError``, before anything trains) a
    command whose set-up differs from the plan's or from any valid results file's in
    ``out``; return the plan already there, if any."""
    previous = runset.read_plan(out)
    theirs = [("plan.json", (previous or {}).get("setup"))]
    for path in sorted((Path(out) / runset.RUNS).glob("*.json")):
        with contextlib.suppress(results.ResultsError):
            recorded = identity.from_results(results.read(path))
            theirs.append((path.name, identity.setup_of(recorded)))
    for name, other in theirs:
        differ = identity.setup_differences(other, setup) if other is not None else []
        if differ:
            raise ValueError(
                f"{out} holds a run set of another set-up ({name}: "
                f"{'; '.join(differ)}): use another --out"
            )
    return previous


class Plan:
    """The runs of one command, in order, each pending until marked, after the runs of the
    set's earlier commands; plan.json is rewritten (atomically) at every mark."""

    def __init__(
        self, out: Path, runs: list[Run], dataset: data.Dataset, *, quick: bool, force: bool = False
    ):
        setup = identity.setup_of(identity.of(runs[0], dataset))
        previous = check_one_setup(out, setup)
        check_reusable(out, runs, dataset, force)
        self.out, self.runs = Path(out), list(runs)
        kept = (previous or {}).get("runs", [])
        self.document = runset.new_plan(self.runs, quick, setup, kept)
        self.offset = len(self.document["runs"]) - len(self.runs)  # earlier commands' runs
        runset.write_plan(self.out, self.document)

    def head(self, k: int) -> str:
        """``run k of n: EXPERIMENT, seed S`` for the k-th run (1-based) of this command."""
        run = self.runs[k - 1]
        return f"run {k} of {len(self.runs)}: {run.experiment.name}, seed {run.seed}"

    def mark(self, k: int, status: str, error: str | None = None) -> None:
        entry = self.document["runs"][self.offset + k - 1]
        entry["status"] = status
        if error is not None:
            entry["error"] = error
        runset.write_plan(self.out, self.document)

    def error(self, k: int) -> str:
        return self.document["runs"][self.offset + k - 1].get("error", "")

    def stop_for_space(self, k: int, exc: BaseException, error: str) -> NoReturn:
        """A full disk costs every run, not one: record run k as failed where the plan can
        still be written, and stop the set with one line (no traceback: the cause is the
        disk, not the code). Both executors stop here."""
        with contextlib.suppress(ValueError, OSError):
            self.mark(k, "failed", error)
        if isinstance(exc, files.DiskFullError):
            raise exc
        raise files.DiskFullError(f"no space left on the device: {exc}") from None
