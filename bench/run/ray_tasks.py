"""Run a run set's runs as Ray tasks: one task per (experiment, seed), on this machine's
GPUs (or CPU cores) or on a Ray cluster.

The task body is ``bench.run.lifecycle.train_unless_finished``, the function every run goes
through, so the results files are the in-process path's. Each task runs in a fresh worker process
(``max_calls=1``: TensorFlow keeps its GPU memory until its process ends), with one GPU
where the cluster has GPUs (memory growth on), else its share of the cores for
TensorFlow's thread pools. A worker that dies is replaced and its run retried
(``max_retries``); the retry resumes from the run's sealed state under ``--out``.

The driver - this module outside ``_task`` - never imports TensorFlow (it would take GPU
memory for nothing). A local instance binds to 127.0.0.1 only: it is this machine's alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core import backend, console, data, files, state
from bench.core.experiments import Run
from bench.run import lifecycle, plan, runset

RETRIES = 3
log = logging.getLogger(__name__)


def require() -> None:
    """``ValueError`` (one line) unless Ray can be imported."""
    try:
        import ray  # noqa: F401  # lazy: Ray is the optional `ray` extra; is it importable?
    except ImportError:
        raise ValueError(
            f"--ray needs Ray, which is not installed; {backend.install('ray')}"
        ) from None


@dataclass(frozen=True)
class Slots:
    """What each task asks Ray for, and how many run at once."""

    gpus: int
    cpus: int
    concurrent: int
    where: str


def connect(address: str | None, workers: int | None) -> Slots:
    """Join the cluster at ``address`` (or ``$RAY_ADDRESS``), or start a local instance on
    127.0.0.1 with all this machine's CPUs and GPUs."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address is None:
        # Ray's own switch for a single-machine instance (as on macOS): every process binds
        # and talks on the loopback address, nothing on the network.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray  # lazy: Ray is the optional `ray` extra

    ray.init(
        address=address,
        include_dashboard=False if address is None else None,
        logging_level=logging.ERROR,
        log_to_driver=True,
    )
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    where = f"cluster at {address}" if address else "local instance on 127.0.0.1"
    if gpus:
        return Slots(1, max(1, cpus // gpus), gpus, f"{where}: {gpus} GPUs, one per run")
    concurrent = min(workers or 1, cpus)
    share = max(1, cpus // concurrent)
    return Slots(0, share, concurrent, f"{where}: {concurrent} runs at once, {share} cores each")


def _task(
    run: Run, dataset: data.Dataset, paths: tuple[str, str], verbose: int, threads: int
) -> float:
    """One run, in a Ray worker: the only place Keras (and TensorFlow, on its backend) is
    imported."""
    from bench.keras import compat  # lazy: in the worker only; the driver never loads TensorFlow

    compat.configure_worker(threads)
    start = time.perf_counter()
    with console.shown():  # the run's lines, as in the driver; Ray forwards them to it
        lifecycle.train_unless_finished(
            run, dataset, Path(paths[0]), Path(paths[1]), verbose=verbose
        )
    return time.perf_counter() - start


def check_storage(out: Path) -> None:
    """Every node must see ``out``: a file written here is read back by a task pinned to
    each alive node; one line naming a node that cannot see it."""
    import ray  # lazy: Ray is the optional `ray` extra
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    token = uuid.uuid4().hex
    probe = Path(out).absolute() / f".ray-probe-{token}"
    probe.write_text(token)

    def sees(path: str) -> bool:
        try:
            return Path(path).read_text() == token
        except OSError:
            return False

    look = ray.remote(num_cpus=0)(sees)
    try:
        nodes = [n for n in ray.nodes() if n["Alive"]]
        answers = ray.get(
            [
                look.options(
                    scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
                ).remote(str(probe))
                for n in nodes
            ]
        )
    finally:
        probe.unlink(missing_ok=True)
    blind = [n["NodeManagerAddress"] for n, ok in zip(nodes, answers, strict=True) if not ok]
    if blind:
        raise ValueError(
            f"{out} is not visible from Ray node(s) {', '.join(blind)}: --out "
            "must be storage every worker sees (a shared file system)"
        )


def run_all(
    out: Path,
    runs: list[Run],
    dataset: data.Dataset,
    slots: Slots,
    *,
    quick: bool,
    force: bool = False,
    verbose: int = 1,
) -> int:
    """Submit every unfinished run as a task; follow them as they end; return how many
    failed. Interrupted (Ctrl+C, SIGTERM): the tasks are cancelled and the plan says so."""
    import ray  # lazy: Ray is the optional `ray` extra

    runs_plan = plan.Plan(out, runs, dataset, quick=quick, force=force)
    if force:  # here, not in the task: a retried task must resume, never start over
        for run in runs:
            _forget(out, run)
    task = ray.remote(max_calls=1, max_retries=RETRIES)(_task)
    shared = ray.put(dataset)
    pending = {}
    for k, run in enumerate(runs, 1):
        paths = tuple(str(path.absolute()) for path in runset.run_paths(out, run))
        # The run's Keras backend goes with it: a worker's own settings may differ.
        runtime = {"env_vars": {"KERAS_BACKEND": run.backend}}
        ref = task.options(
            name=Path(paths[0]).stem, num_gpus=slots.gpus, num_cpus=slots.cpus, runtime_env=runtime
        ).remote(run, shared, paths, max(verbose, 2) if verbose else 0, slots.cpus)
        pending[ref] = k
    try:
        return _follow(runs_plan, pending)
    except (KeyboardInterrupt, files.DiskFullError):  # the others stop; their states stay
        for ref, k in pending.items():
            ray.cancel(ref, force=True)
            with contextlib.suppress(ValueError, OSError):  # a full disk may refuse the plan
                runs_plan.mark(k, "interrupted")
        raise


def _forget(out: Path, run: Run) -> None:
    results, state_dir = runset.run_paths(out, run)
    results.unlink(missing_ok=True)
    state.finish(state_dir)


def _follow(runs_plan: plan.Plan, pending: dict[Any, int]) -> int:
    """Wait for the tasks one by one: a line per run that ends, the plan marked each
    time; an estimate of what is left from the runs finished so far."""
    import ray  # lazy: Ray is the optional `ray` extra

    total, failed, done, start = len(pending), 0, 0, time.monotonic()
    while pending:
        (ref,), _ = ray.wait(list(pending), num_returns=1)
        k = pending.pop(ref)
        done += 1
        head = runs_plan.head(k)
        try:
            seconds = ray.get(ref)
            runs_plan.mark(k, "ok")
            elapsed = time.monotonic() - start
            left = elapsed / done * (total - done)
            log.info(
                "[INFO] %s finished in %.0f s (%s of %s ended, %.0f s so far, about %.0f s left)",
                head,
                seconds,
                done,
                total,
                elapsed,
                left,
            )
        except ray.exceptions.RayError as exc:
            failed += 1
            cause = getattr(exc, "cause", None) or exc
            error = f"{type(cause).__name__}: {cause}".split("\n")[0]
            if files.disk_full(cause):  # as in local.run_all: the other runs would meet it
                runs_plan.stop_for_space(k, cause, error)
            runs_plan.mark(k, "failed", error)
            log.error("[ERROR] %s failed: %s", head, runs_plan.error(k))
    return failed


def shutdown() -> None:
    import ray  # lazy: Ray is the optional `ray` extra

    ray.shutdown()
