"""How bench's progress and notices reach a console.

Below the command line nothing prints: a module says what it is doing through Python's
``logging`` (``logging.getLogger(__name__)``, under the ``bench`` logger), which stays quiet
unless the application shows it, as a library's output should. ``shown`` is how the command
line shows it, and a Ray worker for the command that started it: each record's message as
it is, one line (a traceback after it where one is attached), ERROR and above on standard
error and the rest on standard output, flushed at once so that the order with Keras'
progress bar and the command's own lines holds when both streams go to one file.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

LOGGER = "bench"


class _Lines(logging.Handler):
    """Writes to the streams ``sys`` holds when the record comes, not when the handler was
    made: a test's captured streams, or a redirection made later, see the lines too."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr if record.levelno >= logging.ERROR else sys.stdout
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def shown(level: int = logging.INFO) -> Iterator[None]:
    """Show bench's records of ``level`` and above while the block runs (the command line's
    lines), not passed on to other handlers; the ``bench`` logger is as it was afterwards."""
    logger = logging.getLogger(LOGGER)
    before = logger.level, logger.propagate
    handler = _Lines()
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # shown once: a root handler (absl's, pytest's) would repeat it
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before[0])  # setLevel, not the attribute: it clears logging's cache
        logger.propagate = before[1]
