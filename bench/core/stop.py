"""Ctrl+C, SIGTERM and SIGHUP, remembered until the work stops.

Python raises a signal's KeyboardInterrupt wherever the main thread happens to be, and
some library code there swallows it: NumPy's ``np.array`` of a JAX array, which Keras 3
calls after every JAX batch, lost 3 of 8 Ctrl+C's sent to a JAX training run
(2026-11-30, AMD EPYC, JAX 0.10.2, Keras 3.15.1); the run went on and exited 0. So the
handler also records the request, and whatever loops (each training batch and epoch,
each lr-find step) calls ``check``, which raises it again.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM (what a cluster scheduler sends on pre-emption) or SIGHUP (the terminal
    closed), handled as Ctrl+C is; its argument names the signal."""


_requested: type[KeyboardInterrupt] | None = None


def _handler(kind: type[KeyboardInterrupt]) -> Any:
    def handle(signum: int, frame: Any) -> None:
        global _requested
        _requested = kind
        raise kind(signal.Signals(signum).name)

    return handle


@contextmanager
def handled() -> Iterator[None]:
    """Inside, SIGINT raises KeyboardInterrupt and SIGTERM ``Terminated``, and each is
    remembered for ``check``. Signals reach the main thread only, so elsewhere (a test's
    thread) nothing changes; nor does a SIGINT someone chose to ignore or handle."""
    global _requested
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested = None
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _handler(Terminated))}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _handler(KeyboardInterrupt))
    if signal.getsignal(signal.SIGHUP) == signal.SIG_DFL:  # not under nohup, which ignores it
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, _handler(Terminated))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _requested = None


def check() -> None:
    """Raise the Ctrl+C or SIGTERM received inside ``handled``, even if it was swallowed."""
    if _requested is not None:
        raise _requested


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's code for the signal: 143 for SIGTERM and SIGHUP, 130 for Ctrl+C."""
    return 128 + (signal.SIGTERM if isinstance(interrupt, Terminated) else signal.SIGINT)


def message(command: str, interrupt: KeyboardInterrupt, state_dir: Path | None = None) -> str:
    """The one line a stopped command prints, true at any moment: it names the signal, and
    says the state is kept only where there is one to resume from."""
    name = str(interrupt) or ("SIGTERM" if isinstance(interrupt, Terminated) else "SIGINT")
    how = f"terminated ({name})" if isinstance(interrupt, Terminated) else "interrupted"
    if state_dir is not None and Path(state_dir).exists():
        return (
            f"bench {command}: {how}; run the same command again to resume (state kept "
            f"in {state_dir})"
        )
    # Outside training the line names the key too; inside, it reads as it always has.
    how = "interrupted (Ctrl+C)" if how == "interrupted" else how
    who = f"bench {command}" if command else "bench"  # stopped while its arguments were read
    return f"{who}: {how}; stopped before anything was left half-written"
