"""A run's life, in one place: finished already? -> train -> write atomically -> clear state.

``bench train``, ``bench reproduce`` and any executor that runs runs elsewhere call
``train_unless_finished``; nothing else decides whether a run trains or where its files go.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.core import data, identity, results, state
from bench.core.experiments import Run


def finished(path: Path, run: Run, dataset: data.Dataset, force: bool = False) -> bool:
    """Whether ``path`` holds ``run`` finished (so there is nothing to do).

    Results of the same run with other settings (epochs, subset, data, seed, ...) are not
    this run's: a ``ValueError`` names what differs, before any training. An unreadable
    results file is an error (``ResultsError``) rather than a reason to train again: it may
    be the only copy of hours of work.
    """
    if force or not Path(path).exists():
        return False
    differ = identity.differences(
        identity.from_results(results.read(path)), identity.of(run, dataset)
    )
    if differ:
        raise ValueError(
            f"{path} holds a finished run with other settings ({', '.join(differ)}): add "
            "--force to train it again, or use another --out"
        )
    return True


def train_unless_finished(
    run: Run,
    dataset: data.Dataset,
    results_path: Path,
    state_dir: Path,
    *,
    force: bool = False,
    verbose: int = 1,
    on_start: Callable[[], None] | None = None,
) -> dict[str, Any] | None:
    """Train ``run`` unless ``results_path`` holds it already; return its new results, or
    None when it was finished already (any state it left behind is then dropped).

    ``on_start`` is called just before training. The state in ``state_dir`` lets the same
    call after an interruption resume; it is dropped only once the results file is safely
    written, so no kill or failed write loses a trained epoch.
    """
    if finished(results_path, run, dataset, force):
        state.finish(state_dir)  # a kill after the results write can leave it behind
        return None
    if on_start is not None:
        on_start()
    from bench.keras import train  # lazy: TensorFlow loads only once a run is about to train

    try:
        trained = train.run(run, dataset, state_dir=state_dir, force=force, verbose=verbose)
    except state.DivergedError:
        state.finish(state_dir)  # resuming would diverge again: the same command starts over
        raise
    results.write(results_path, trained)
    state.finish(state_dir)
    return trained
