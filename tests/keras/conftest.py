"""The Keras tier: every test here builds or trains a Keras model. `nox -s unit` runs it
with tests/unit; a bare `pytest` (the fast tier) leaves this folder out."""

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/keras/" in item.nodeid:
            item.add_marker(pytest.mark.keras)
