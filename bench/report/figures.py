"""Every figure the suite draws, without pyplot's global state, and saving one whole.

The post's learning-rate and training figures, and the report's (built from results
dicts); nothing here computes a number a table shows.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core.data import TITLES
from bench.core.files import atomic_write, read_regular
from bench.core.schedules import rate_figure

if TYPE_CHECKING:
    from bench.core.experiments import Experiment


def overlay_figure(curves: Mapping[str, Sequence[float]], title: str, ylabel: str) -> Any:
    """Several per-epoch curves on one set of axes (the report's comparison figure)."""
    # lazy: matplotlib (half a second) loads only to draw
    import matplotlib.style
    from matplotlib.figure import Figure

    with matplotlib.style.context("ggplot"):
        fig = Figure()
        ax = fig.add_subplot()
        for label, values in curves.items():
            ax.plot(range(len(values)), values, label=label)
        ax.set_title(title)
        ax.set_xlabel("Epoch #")
        ax.set_ylabel(ylabel)
        ax.legend()
    return fig


def training_figure(history: Mapping[str, Sequence[float]], title: str) -> Any:
    """Loss and accuracy per epoch, with the post's labels, colours and style."""
    # lazy: matplotlib (half a second) loads only to draw
    import matplotlib.style
    from matplotlib.figure import Figure

    epochs = range(len(history["loss"]))
    with matplotlib.style.context("ggplot"):
        fig = Figure()
        ax = fig.add_subplot()
        for key, label in (
            ("loss", "train_loss"),
            ("val_loss", "val_loss"),
            ("accuracy", "train_acc"),
            ("val_accuracy", "val_acc"),
        ):
            ax.plot(epochs, history[key], label=label)
        ax.set_title(title)
        ax.set_xlabel("Epoch #")
        ax.set_ylabel("Loss/Accuracy")
        ax.legend()
    return fig


def schedule_figure(experiment: Experiment, epochs: int, steps: int) -> Any:
    """The experiment's schedule over a run of ``epochs`` x ``steps`` updates (per update
    for a per-iteration schedule), or None where it has none."""
    schedule = experiment.schedule(epochs, steps)
    if schedule is None:
        return None
    return schedule.plot(range(epochs * steps if experiment.per_iteration else epochs))


def save_run_figures(
    run: dict[str, Any], experiment: Experiment, lr_plot: Path, train_plot: Path
) -> Saved:
    """The post's two figures of a finished run (its results), saved (the rate only where
    it has a schedule)."""

    title = f"Training Loss and Accuracy on {TITLES[run['dataset']['name']]}"
    drawn = {Path(train_plot): training_figure(run["history"], title)}
    figure = schedule_figure(experiment, experiment.epochs, run["dataset"]["steps_per_epoch"])
    if figure is not None:
        drawn[Path(lr_plot)] = figure
    return save_all(drawn)


def finder_figure(
    rates: Sequence[float],
    losses: Sequence[float],
    smoothed: Sequence[float],
    marks: Mapping[str, float],
) -> Any:
    """The range test: loss against rate (log axis), each batch's and smoothed, with the
    suggested rates marked."""
    # lazy: matplotlib (half a second) loads only to draw
    import matplotlib.style
    from matplotlib.figure import Figure

    with matplotlib.style.context("ggplot"):
        fig = Figure()
        ax = fig.add_subplot()
        ax.plot(rates, losses, alpha=0.35, label="batch loss")
        ax.plot(rates, smoothed, label="smoothed (EMA 0.98)")
        for (name, rate), colour in zip(marks.items(), ("tab:green", "tab:purple"), strict=False):
            ax.axvline(rate, linestyle="--", color=colour, label=f"{name}: {rate:.2e}")
        ax.set_xscale("log")
        ax.set_title("Learning rate range test")
        ax.set_xlabel("Learning Rate (log scale)")
        ax.set_ylabel("Loss")
        ax.legend()
    return fig


def report_figure_names(runs: Mapping[str, Any]) -> list[str]:
    """The report's figure files, in the order it shows them."""
    per_run = [f"{kind}_{name}.png" for name in runs for kind in ("lr", "train")]
    return [*per_run, "val_accuracy.png"] if runs else []


def report_figures(runs: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The report's figures by file name (``report_figure_names``): each experiment's rate
    and training curves (its first seed), then every experiment's mean val_accuracy."""

    figures = {}
    for name, group in runs.items():
        first = min(group, key=lambda r: r["seed"])
        history = first["history"]
        figures[f"lr_{name}.png"] = rate_figure(
            range(len(history["lr"])), history["lr"], f"Learning Rate Schedule ({name})"
        )
        title = f"Training Loss and Accuracy ({name}, {first['dataset']['name']})"
        figures[f"train_{name}.png"] = training_figure(history, title)
    if runs:
        curves = {
            name: [
                statistics.fmean(v)
                for v in zip(*(r["history"]["val_accuracy"] for r in group), strict=True)
            ]
            for name, group in runs.items()
        }
        figures["val_accuracy.png"] = overlay_figure(
            curves, "Validation accuracy, all experiments", "val_accuracy"
        )
    return figures


def check_path(path: Path) -> None:
    """``ValueError`` unless a figure can be saved at ``path``: checked before training, so
    a typo in a plot name does not fail an hour later."""
    # lazy: matplotlib (half a second) loads only to draw
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    supported = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(
            f"{path}: cannot draw a .{fmt} figure (use one of: {', '.join(sorted(supported))})"
        )
    if Path(path).is_dir():
        raise ValueError(f"{path} is a folder, not a figure file")


def render(fig: Any, path: Path) -> bytes:
    """``fig`` as the bytes of the file ``path`` names (format from its suffix, PNG by
    default)."""

    buffer = io.BytesIO()
    fig.savefig(buffer, format=Path(path).suffix.lstrip(".") or "png")
    return buffer.getvalue()


def save(fig: Any, path: Path) -> Path:
    """``fig`` to ``path`` (format from the suffix, PNG by default), atomically."""
    drawn = render(fig, path)
    return atomic_write(Path(path), lambda f: f.write(drawn))


@dataclass(frozen=True)
class Saved:
    """Figures a command saved where its user named them: every path written, and those
    that replaced a different file, one this command did not write (another command's, or
    an earlier run's), which the command says."""

    written: list[Path]
    replaced: list[Path]


def save_all(drawn: Mapping[Path, Any]) -> Saved:
    """Each figure saved at its path, all rendered before the first is written. A file
    that holds the same bytes already is not replaced, only written again: drawing the
    same figure twice loses nothing."""
    rendered = {Path(path): render(fig, path) for path, fig in drawn.items()}
    replaced = [path for path, data in rendered.items() if _holds_other(path, data)]
    written = [atomic_write(p, lambda f, d=d: f.write(d)) for p, d in rendered.items()]
    return Saved(written, replaced)


def _holds_other(path: Path, data: bytes) -> bool:
    """Whether something other than ``data`` is at ``path``."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    except OSError:  # something is there that cannot be looked at
        return True
    try:
        return size != len(data) or read_regular(path, len(data)) != data
    except ValueError:  # not a regular file, or it changed while read
        return True
