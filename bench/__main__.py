"""``python -m bench`` and the ``bench`` command (``run``): the command line, and a signal
while it starts.

Importing the CLI takes seconds (NumPy, scikit-learn, Matplotlib); a Ctrl+C, SIGTERM or
SIGHUP then would be a traceback or a silent death. Until ``main`` installs its own
handlers (``bench.core.stop``), these say one line and exit as the shell expects. The
installed ``bench`` command imports this module too (pyproject.toml), not ``bench.cli``
directly, so it starts the same way.
"""

import signal
import sys

CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 143}
DEFAULTS = {
    signal.SIGINT: signal.default_int_handler,
    signal.SIGTERM: signal.SIG_DFL,
    signal.SIGHUP: signal.SIG_DFL,
}


def _starting(signum, frame):
    name = signal.Signals(signum).name
    print(f"bench: stopped by {name} while starting; nothing was done", file=sys.stderr)
    sys.exit(CODES[signum])


_installed = [s for s in CODES if signal.getsignal(s) is DEFAULTS[s]]  # nohup's stay ignored
for _signum in _installed:
    signal.signal(_signum, _starting)
try:
    from bench.cli import main  # after the handlers: this import is the wait
finally:
    for _signum in _installed:
        signal.signal(_signum, DEFAULTS[_signum])


def run() -> int:
    """The ``bench`` command: the CLI, imported above with the start-up handlers."""
    return main()


if __name__ == "__main__":
    sys.exit(run())
