"""A run's life, in one place: finished already? -> train -> write atomically -> clear state.

``bench train``, ``bench reproduce`` and any executor that runs runs elsewhere call
``complete``; nothing else decides whether a run trains or where its files go.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import data, results, state
from bench.experiments import Run


def finished(path: Path, force: bool = False) -> bool:
    """Whether ``path`` holds a finished run's valid results (so there is nothing to do).

    An unreadable results file is an error (``ResultsError``) rather than a reason to train
    again: it may be the only copy of hours of work.
    """
    if force or not Path(path).exists():
        return False
    results.read(path)
    return True


def complete(
    run: Run,
    dataset: Callable[[], data.Dataset],
    results_path: Path,
    state_dir: Path,
    *,
    force: bool = False,
    verbose: int = 1,
    on_start: Callable[[], None] | None = None,
) -> dict[str, Any] | None:
    """Train ``run`` unless ``results_path`` holds it already; return its new results, or
    None when it was finished already.

    ``dataset`` is called only when training starts (loading CIFAR-10 takes seconds), and
    ``on_start`` just before. The state in ``state_dir`` lets the same call after an
    interruption resume; it is dropped once the results file is safely written.
    """
    if finished(results_path, force):
        return None
    if on_start is not None:
        on_start()
    from bench import train  # TensorFlow: imported once there is something to train

    trained = train.run(run, dataset(), state_dir=state_dir, force=force, verbose=verbose)
    results.write(results_path, trained)
    state.finish(state_dir)
    return trained
