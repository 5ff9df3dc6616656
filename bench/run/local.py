"""Run a set of runs (experiments x seeds) in this process, one after another
(``bench.run.ray_tasks`` runs them as Ray tasks instead).

Each run goes through ``bench.run.lifecycle.train_unless_finished`` (finished already? ->
train -> write -> clear state) into the run-set folder that ``bench.run.runset`` owns, and
``plan.json`` says how each ended. A run that raises is recorded as failed with its error
and the others go on; the report marks it. An interruption marks the run interrupted and
propagates.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bench.core import data, files, results, state
from bench.core.experiments import Run
from bench.run import lifecycle, plan, runset

log = logging.getLogger(__name__)


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
    runs_plan = plan.Plan(out, runs, dataset, quick=quick, force=force)
    failed = 0
    for k, run in enumerate(runs, 1):
        head = runs_plan.head(k)
        try:
            runs_plan.mark(k, _one(out, run, dataset, head, force, verbose))
        except KeyboardInterrupt:
            runs_plan.mark(k, "interrupted")
            raise
        except Exception as exc:  # one broken run must not cost the others
            if files.disk_full(exc):  # ... but a full disk costs every one
                runs_plan.stop_for_space(k, exc, _error(exc))
            failed += 1
            runs_plan.mark(k, "failed", _error(exc))
            # A bug's traceback follows; a damaged file or a divergence is a result.
            bug = not isinstance(exc, (results.ResultsError, state.DivergedError))
            log.error("[ERROR] %s failed: %s", head, runs_plan.error(k), exc_info=bug)
    return failed


def _one(out: Path, run: Run, dataset: data.Dataset, head: str, force: bool, verbose: int) -> str:
    path, state_dir = runset.run_paths(out, run)
    epochs, images = run.experiment.epochs, f"{len(dataset.train_y):,} {dataset.name} images"
    trained = lifecycle.train_unless_finished(
        run,
        dataset,
        path,
        state_dir,
        force=force,
        verbose=verbose,
        on_start=lambda: log.info("[INFO] %s, %s epochs, %s", head, epochs, images),
    )
    if trained is None:
        log.info("[INFO] %s: finished already (%s; --force trains it again)", head, path)
    return "ok"


def _error(exc: Exception) -> str:
    if isinstance(exc, results.ResultsError):
        return f"{exc} (delete it or use --force)"
    return f"{type(exc).__name__}: {exc}"
