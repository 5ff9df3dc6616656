"""The post's training figure, drawn without pyplot's global state, and saved whole."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.files import atomic_write


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
