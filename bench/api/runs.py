"""The use cases that train: one run (the post's ``train.py``) and a run set.

Plain functions with keyword arguments, so a notebook or a test calls them as the CLI
does. Every one that writes into a folder takes that folder's lock first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bench.api import dataset as datasets
from bench.core import backend, experiments, files, progbar, results, stop
from bench.report import figures, markdown
from bench.run import lifecycle, local, plan, ray_tasks, runset

log = logging.getLogger(__name__)


class Interrupted(KeyboardInterrupt):
    """A Ctrl+C, SIGTERM or SIGHUP (``cause``) stopped the work; what it had done is kept
    in ``state_dir``, where it exists, for the same call to resume."""

    def __init__(self, state_dir: Path, cause: KeyboardInterrupt):
        super().__init__(str(cause))
        self.state_dir, self.cause = Path(state_dir), cause
        self.terminated = isinstance(cause, stop.Terminated)


def _stopped(state_dir: Path, interrupt: KeyboardInterrupt) -> Interrupted:
    return Interrupted(state_dir, interrupt)


@dataclass(frozen=True)
class TrainedRun:
    """What ``train_one`` did: its results file, whether it trained the run now (else the
    run was finished already and its plots were drawn from that file), and its plots
    (``plots.replaced``: those that replaced a file this call had not written)."""

    results: Path
    trained: bool
    plots: figures.Saved

    @property
    def written(self) -> list[Path]:
        """Every file written, the results file first where it was."""
        return [self.results, *self.plots.written] if self.trained else self.plots.written


def _plot_paths(out: Path, *plots: Path) -> tuple[Path, ...]:
    """``plots`` under ``out`` (a relative path lands in it), each checked writable as a
    figure before any work starts."""
    files.check_writable(out)
    placed = tuple(Path(out) / plot for plot in plots)
    for plot in placed:
        files.check_writable_file(plot)
        figures.check_path(plot)
    return placed


def train_one(
    schedule: str = "none",
    *,
    out: Path = Path("output"),
    epochs: int | None = None,
    dataset: str = "cifar10",
    data_dir: Path | None = None,
    subset: int | None = None,
    subset_seed: int = 0,
    batch_size: int | None = None,
    seed: int = 42,
    deterministic: bool = False,
    force: bool = False,
    verbose: int | None = None,
    model: Literal["post", "quick"] = "post",
    rates: dict[str, float] | None = None,
    lr_source: str | None = None,
    lr_plot: Path = Path("lr.png"),
    train_plot: Path = Path("training.png"),
) -> TrainedRun:
    """Train one experiment as the post's ``train.py`` does, unless ``out`` holds it
    finished already, then draw its plots (relative plot paths land in ``out``).
    ``verbose``: Keras' (default: ``progbar.verbosity``)."""
    backend.check()  # an unknown or missing backend: one line now, not after the data
    experiment = experiments.configure(
        schedule,
        epochs=epochs,
        batch_size=batch_size,
        model=model,
        rates=rates,
        lr_source=lr_source,
    )
    run = experiments.Run(experiment, seed, dataset, subset, deterministic, subset_seed=subset_seed)
    lr_plot, train_plot = _plot_paths(out, lr_plot, train_plot)
    path = runset.results_path(out, experiment.name, seed, in_runs=False)
    state_dir = runset.state_dir(out, experiment.name, seed)
    # The post prints the schedule line before loading for its own schedules, after for
    # Keras' (none, standard): its train.py decides them at those two places.
    per_epoch = experiment.policy.schedule_name is not None
    if per_epoch:
        log.info(experiment.info)
    data = datasets.load(dataset, data_dir, subset, subset_seed)
    if not per_epoch:
        log.info(experiment.info)
    # Before the lock: a finished run with other settings is refused, writing nothing.
    finished = lifecycle.finished(path, run, data, force) and not state_dir.exists()
    how = {"force": force, "verbose": progbar.verbosity(verbose)}
    with runset.lock(out):
        try:
            trained = (
                None
                if finished
                else lifecycle.train_unless_finished(run, data, path, state_dir, **how)
            )
        except KeyboardInterrupt as interrupt:
            raise _stopped(state_dir, interrupt) from None
        # A finished run's plots are drawn from its results file: nothing trains again.
        done = trained or results.read(path)
        plots = figures.save_run_figures(done, experiment, lr_plot, train_plot)
    return TrainedRun(path, trained is not None, plots)


def set_name(
    *,
    quick: bool,
    dataset: str,
    epochs: int,
    seeds: int,
    subset: int | None,
    backends: str | None = None,
) -> str:
    """The default run-set name; a backend other than TensorFlow (the default) is named,
    so that its runs never land beside TensorFlow's."""
    name = "quick" if quick else f"{dataset}-{epochs}ep-{seeds}seed"
    name += f"-subset{subset}" if subset and not quick else ""
    if backends:
        return f"{name}-backends"
    configured = backend.configured()
    return name if configured == backend.DEFAULT else f"{name}-{configured}"


def default_out(
    runs: list[experiments.Run],
    *,
    name: str | None = None,
    quick: bool = False,
    seeds: int = 1,
    subset: int | None = None,
    backends: str | None = None,
) -> Path:
    """Where a reproduction of ``runs`` goes without ``out``: ``reports/NAME``, ``name`` or
    the default run-set name."""
    if name:
        return Path("reports") / name
    first = runs[0]
    setup = {"dataset": first.dataset, "epochs": first.experiment.epochs, "subset": subset}
    return Path("reports") / set_name(quick=quick, seeds=seeds, backends=backends, **setup)


@dataclass(frozen=True)
class Reproduction:
    """Where a run set went, its report, and how many of its runs failed."""

    out: Path
    report: Path
    failed: int


def reproduce(
    schedules: str | None = None,
    *,
    seeds: int = 1,
    quick: bool = False,
    out: Path | None = None,
    name: str | None = None,
    dataset: str | None = None,
    data_dir: Path | None = None,
    subset: int | None = None,
    subset_seed: int = 0,
    epochs: int | None = None,
    batch_size: int | None = None,
    deterministic: bool = False,
    force: bool = False,
    verbose: int | None = None,
    ray: str | None = None,
    workers: int | None = None,
) -> Reproduction:
    """Train the experiments (``schedules``: ``post``, ``extra``, ``all`` or names) x
    ``seeds`` into the run set ``out`` (default ``reports/NAME``), then write its report.
    ``ray`` ("" for a local instance, or an address) runs each run as a Ray task."""
    if workers is not None and ray is None:
        raise ValueError("--workers goes with --ray (runs at once on a CPU-only Ray)")
    backend.check()
    verbose = progbar.verbosity(verbose)
    if ray is not None:
        ray_tasks.require()
    runs = planned(
        schedules,
        seeds=seeds,
        quick=quick,
        dataset=dataset,
        subset=subset,
        subset_seed=subset_seed,
        epochs=epochs,
        batch_size=batch_size,
        deterministic=deterministic,
    )
    chosen = {"name": name, "quick": quick, "seeds": seeds, "subset": subset}
    out = Path(out) if out is not None else default_out(runs, **chosen)
    files.check_writable(out)
    markdown.check_golden()
    data = datasets.load(runs[0].dataset, data_dir, subset, subset_seed)
    with runset.lock(out):
        try:
            failed = _execute(
                out, runs, data, ray, workers, quick=quick, force=force, verbose=verbose
            )
        except KeyboardInterrupt as interrupt:
            raise _stopped(out / runset.STATE, interrupt) from None
        log.info("[INFO] results: %s", out / runset.RUNS)
        report = markdown.write(out)
    return Reproduction(out, report, failed)


def planned(
    schedules: str | None,
    *,
    seeds: int = 1,
    quick: bool = False,
    dataset: str | None = None,
    subset: int | None = None,
    subset_seed: int = 0,
    epochs: int | None = None,
    batch_size: int | None = None,
    deterministic: bool = False,
) -> list[experiments.Run]:
    """The runs a reproduction of ``schedules`` x ``seeds`` trains, in order (``reproduce``'s
    settings, the same defaults)."""
    name = dataset or (experiments.QUICK_DATASET if quick else "cifar10")
    return plan.plan_runs(
        experiments.names(schedules),
        seeds,
        name,
        subset,
        deterministic,
        subset_seed,
        quick_setup=quick,
        epochs=epochs,
        batch_size=batch_size,
    )


def _execute(
    out: Path,
    runs: list[experiments.Run],
    data: Any,
    ray: str | None,
    workers: int | None,
    **options: Any,
) -> int:
    """The runs, in this process or as Ray tasks; how many failed."""
    if ray is None:
        return local.run_all(out, runs, data, **options)
    slots = ray_tasks.connect(ray or None, workers)
    try:
        log.info("[INFO] Ray: %s", slots.where)
        ray_tasks.check_storage(out)
        return ray_tasks.run_all(out, runs, data, slots, **options)
    finally:
        ray_tasks.shutdown()
