"""The suite's use cases as plain functions: what the command line does, callable from
Python with keyword arguments (README, "Python API")."""

from bench.api.reading import compare, report
from bench.api.runs import Interrupted, reproduce, train_one
from bench.api.tools import drift, lr_find, rates_from, schedules, speed

__all__ = ["Interrupted", "compare", "drift", "lr_find", "rates_from", "report", "reproduce",
           "schedules", "speed", "train_one"]  # fmt: skip
