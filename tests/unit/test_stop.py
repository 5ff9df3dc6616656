"""A Ctrl+C or SIGTERM that library code swallows still stops the work (bench.stop).

The swallowing is staged with ``signal.raise_signal`` inside a ``try/except
KeyboardInterrupt``, which is what NumPy's ``np.array`` of a JAX array did to a real
Ctrl+C: the handler ran, the exception was lost.
"""

import signal
import threading

import pytest
from swallow import swallowed

from bench.core import stop


@pytest.mark.parametrize(
    ("signum", "kind"), [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, stop.Terminated)]
)
def test_a_swallowed_signal_is_raised_again_by_check(signum, kind):
    with stop.handled():
        stop.check()  # nothing asked yet
        assert swallowed(signum)
        with pytest.raises(kind) as raised:
            stop.check()
        assert type(raised.value) is kind


def test_leaving_restores_the_handlers_and_forgets_the_request():
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stop.handled():
        assert swallowed(signal.SIGINT)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    stop.check()
    with stop.handled():
        stop.check()  # a new command starts with no request


def test_an_ignored_ctrl_c_stays_ignored():
    """A shell starts background jobs with SIGINT ignored; that choice is kept."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stop.handled():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            stop.check()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_outside_the_main_thread_nothing_changes():
    seen = []

    def body():
        with stop.handled():
            seen.append(signal.getsignal(signal.SIGTERM))

    before = signal.getsignal(signal.SIGTERM)
    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == [before]
