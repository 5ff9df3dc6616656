"""How Keras' progress bar prints a number, so our tables read like the post's logs, and
when it draws a bar at all."""

from __future__ import annotations

import sys


def progbar(value: float) -> str:
    """``value`` as Keras' progress bar prints a metric (``0.0990``, ``2.4414e-05``).

    Keras 2 and 3 both use ``%.4f`` when ``abs(value) > 1e-3``, else ``%.4e``. So a rate of
    exactly 1e-3 would print ``1.0000e-03``; the post's last linear rate prints ``0.0010``
    because it is a hair above 1e-3 both as Keras stores it (float32(1e-3) =
    0.0010000000474974513) and as the post's float64 formula gives it
    (0.1 * (1 - 99/100) = 0.0010000000000000009). Every one of the 18 rates the post prints
    formats the same with or without the float32 rounding.
    """
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def verbosity(asked: int | None, terminal: bool | None = None) -> int:
    """Keras' fit verbosity: ``asked``, else a progress bar (1) where standard output is a
    terminal and one line per epoch (2) where it is not (a file, a pipe, CI's log), as
    Keras' own documentation advises for output that is not interactive: a bar there is
    a carriage-return line per update. ``terminal``: default, whether stdout is a tty."""
    if asked is not None:
        return asked
    return 1 if (sys.stdout.isatty() if terminal is None else terminal) else 2
