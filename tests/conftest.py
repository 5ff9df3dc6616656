"""Shared by every suite: quiet TensorFlow, and say which versions ran the tests."""

import os

# TensorFlow's C++ start-up chatter (CPU features, oneDNN) hides the test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_report_header(config):
    from bench.compat import versions

    return "versions: " + ", ".join(f"{k} {v}" for k, v in versions().items())
