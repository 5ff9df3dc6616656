"""Which Keras backend a run is for, read as Keras 3 reads it, without importing Keras; a
run's backend is part of what makes it that run."""

import json

import pytest
from results_factory import make_run

from bench import backend, experiments, state


@pytest.fixture
def no_settings(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path


def test_tensorflow_by_default(no_settings):
    assert backend.configured() == "tensorflow"


def test_keras_json_then_the_environment_variable(no_settings, monkeypatch):
    (no_settings / "keras.json").write_text(json.dumps({"backend": "jax"}))
    assert backend.configured() == "jax"
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert backend.configured() == "torch"


@pytest.mark.parametrize("text", ["{", "[]", '{"backend": 3}', '{"backend": ""}'])
def test_a_broken_keras_json_is_keras_default(no_settings, text):
    (no_settings / "keras.json").write_text(text)
    assert backend.configured() == "tensorflow"


def test_a_run_on_another_backend_is_another_run(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    run = experiments.Run(experiments.get("none"), seed=0)
    assert run.backend == "jax"
    recorded = make_run("none", 0, 0.84)  # written by TensorFlow's Keras
    assert "backend" in state.differences(state.recorded_identity(recorded),
                                          {**state.recorded_identity(recorded),
                                           "backend": run.backend})  # fmt: skip
