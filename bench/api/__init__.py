"""The suite's use cases as plain functions: what the command line does, callable from
Python with keyword arguments (README, "Python API").

They print nothing. Their progress and notices (the command line's ``[INFO] ...`` lines,
and a failed run's ``[ERROR]`` line) go to the ``bench`` logger, quiet unless the caller
shows it: ``logging.basicConfig(level=logging.INFO, format="%(message)s")`` shows them as
the command line does (on stderr). Keras' own progress bar is Keras', shown as ever.
"""

from bench.api.reading import compare, report
from bench.api.runs import Interrupted, reproduce, train_one
from bench.api.tools import drift, lr_find, rates_from, schedules, speed

__all__ = [
    "Interrupted",
    "compare",
    "drift",
    "lr_find",
    "rates_from",
    "report",
    "reproduce",
    "schedules",
    "speed",
    "train_one",
]
