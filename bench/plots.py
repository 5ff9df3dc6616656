"""The post's training figure, drawn without pyplot's global state, and saved whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.files import atomic_write


def rate_figure(
    steps: Sequence[float], rates: Sequence[float], title: str, xlabel: str = "Epoch #"
) -> Any:
    """The post's learning-rate figure: one line, its title and labels, ggplot style."""
    import matplotlib.style
    from matplotlib.figure import Figure

    with matplotlib.style.context("ggplot"):
        fig = Figure()
        ax = fig.add_subplot()
        ax.plot(steps, rates)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Learning Rate")
    return fig


def overlay_figure(curves: Mapping[str, Sequence[float]], title: str, ylabel: str) -> Any:
    """Several per-epoch curves on one set of axes (the report's comparison figure)."""
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


def save(fig: Any, path: Path) -> Path:
    """``fig`` to ``path`` (format from the suffix, PNG by default), atomically."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    return atomic_write(Path(path), lambda f: fig.savefig(f, format=fmt))
