"""The use cases around a reproduction: the schedules' tables, the learning-rate range
test, the training speed, and the API-drift probe."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.api import dataset as datasets
from bench.core import backend, experiments, files
from bench.core.progbar import progbar
from bench.keras import lr_find as finder
from bench.report import figures, golden

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduleTable:
    """Each experiment's rate per epoch (``schedules.EPOCH_RATE``), as Keras' bar prints it;
    for an experiment whose rate follows the run (plateau), its starting rate and rule."""

    epochs: int
    steps: int
    names: list[str]
    rows: list[list[Any]]
    figures: list[Path]
    replaced: list[Path]  # figures that replaced a file this call had not written
    rules: dict[str, str] = field(default_factory=dict)


def schedules(
    names: list[str] | None = None, epochs: int = experiments.EPOCHS, plot_dir: Path | None = None
) -> ScheduleTable:
    """The rates of ``names`` (default: the post's five) over ``epochs`` at the post's 391
    steps per epoch; with ``plot_dir``, the post's lr_*_schedule.png too."""
    every = [experiments.get(name) for name in names or experiments.EXPERIMENTS]
    chosen = [e for e in every if e.plateau is None]
    # Keras keeps the rate in float32 and prints that, so we do too (2.4414e-05, 0.0010).
    columns = [[progbar(float(np.float32(r))) for r in e.epoch_rates(epochs)] for e in chosen]
    rows = [[epoch + 1, *(c[epoch] for c in columns)] for epoch in range(epochs)] if chosen else []
    steps = experiments.steps_per_epoch(experiments.TRAIN_IMAGES)
    drawn = {}
    for e in chosen if plot_dir is not None else ():
        figure = figures.schedule_figure(e, epochs, steps)
        if figure is not None and e.lr_plot is not None:
            drawn[Path(plot_dir) / e.lr_plot] = figure
    saved = figures.save_all(drawn)
    rules = {e.name: _plateau_rule(e.init_lr, e.plateau) for e in every if e.plateau is not None}
    names = [e.name for e in chosen]
    return ScheduleTable(epochs, steps, names, rows, saved.written, saved.replaced, rules)


def _plateau_rule(init_lr: float, plateau: dict[str, Any]) -> str:
    """What can be said of a plateau experiment's rate before a run: where it starts, and
    the rule of Keras' ReduceLROnPlateau that moves it."""
    monitor = plateau["monitor"]
    return (
        f"starts at {init_lr:g}, times {plateau['factor']:g} whenever {monitor} has not "
        f"improved for {plateau['patience']} epochs, never below {plateau['min_lr']:g} (Keras' "
        f"ReduceLROnPlateau): it follows the run's {monitor}, so it has no table"
    )


def rates_from(lr_from: Path, schedule: str) -> tuple[dict[str, float], str]:
    """The rates a ``bench lr-find`` CSV gives ``schedule`` (cyclic: base and max; one-cycle:
    max), and where they came from (the results file records it)."""
    found = finder.cyclic_range(finder.read_csv(lr_from))
    taken = experiments.get(schedule).policy.tunable
    rates = {k: v for k, v in found.items() if k in taken} or found
    shown = ", ".join(f"{k} {v:.3g}" for k, v in rates.items())
    return rates, f"bench lr-find {lr_from}: {shown} ({finder.RULE})"


# What each suggestion means, and the rule that turns a sweep into a cyclic range.
MEANINGS, RULE = finder.MEANINGS, finder.RULE


@dataclass(frozen=True)
class RangeTest:
    """A finished range test: the sweep, its suggested rates and the files written."""

    sweep: finder.Sweep
    suggestions: dict[str, float]
    csv: Path
    plot: Path
    replaced: list[Path]  # the plot, where it replaced a file this call had not written


def lr_find(
    *,
    out: Path = Path("output/lr-find"),
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
    mode: str = "exp",
    dataset: str = "cifar10",
    data_dir: Path | None = None,
    subset: int | None = None,
    subset_seed: int = 0,
    batch_size: int = experiments.BATCH_SIZE,
    seed: int = 42,
    model: Literal["post", "quick"] = "post",
) -> RangeTest:
    """The learning-rate range test: sweep the rate, write its CSV and plot."""
    tried = finder.rates(start, end, steps, mode)
    backend.check()
    files.check_writable(out)
    setup = experiments.configure("none", batch_size=batch_size, model=model)
    data = datasets.load(dataset, data_dir, subset, subset_seed)
    log.info(
        "[INFO] sweeping the rate from %g to %g over %s updates (%s), batch %s",
        start,
        end,
        steps,
        mode,
        setup.batch_size,
    )
    result = finder.find(
        data, tried, model_args=setup.model_args, batch_size=setup.batch_size, seed=seed
    )
    marks = finder.suggestions(result)
    csv_path = finder.write_csv(Path(out) / "lr_find.csv", result)
    figure = figures.finder_figure(result.rates, result.losses, result.smoothed, marks)
    saved = figures.save_all({Path(out) / "lr_find.png": figure})
    return RangeTest(result, marks, csv_path, *saved.written, saved.replaced)


def speed(
    *,
    out: Path = Path("output/speed.json"),
    steps: int = 300,
    batch_size: int = experiments.BATCH_SIZE,
    model: Literal["post", "quick"] = "post",
) -> dict[str, Any]:
    """The post's ResNet's ms/step and images/s here, with the post's beside them, written
    to ``out`` as JSON."""
    files.check_writable_file(Path(out))
    backend.check()
    from bench.keras import speed as timing  # lazy: Keras loads once the arguments are checked

    post_ms, post_ips = golden.post_throughput()  # before the timing: a bad file fails now
    result = timing.measure(steps, batch_size, model)
    result |= {"post_ms_per_step": post_ms, "post_images_per_second": post_ips}
    text = json.dumps(result, indent=1) + "\n"
    files.atomic_write(Path(out), lambda f: f.write(text.encode("utf-8")))
    return result


def drift(
    name: str | None, rows: Path, report: Path, save: bool = True
) -> tuple[dict[str, Any], str, tuple[Path, Path] | None]:
    """The API-drift probe on the installed Keras; with ``save``, its row merged into the
    drift table. The row, its column heading, and the two files written."""
    from bench.keras import drift as probe  # lazy: the probe imports Keras

    row = probe.current_row(name)
    return row, probe.column(row), (probe.save(row, rows, report) if save else None)
