"""``ResNet.build`` with the post's arguments is the book's network, quirk included."""

import numpy as np
import pytest
from keras_helpers import producer

from bench.core import experiments
from bench.keras.compat import keras
from bench.keras.resnet import ResNet

# Builds or trains Keras models: the second tier (nox -s unit), not a bare pytest.
pytestmark = pytest.mark.keras


@pytest.fixture(scope="module")
def model():
    return ResNet.build(**experiments.MODEL_ARGS)


def _layers(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def _count(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_parameter_counts(model):
    assert model.count_params() == 886_102
    assert _count(model.trainable_weights) == 873_872
    assert _count(model.non_trainable_weights) == 12_230


def test_shapes(model):
    assert tuple(model.input.shape) == (None, 32, 32, 3)
    assert tuple(model.output.shape) == (None, 10)
    assert model.layers[-1].get_config()["activation"] == "softmax"


def test_85_convolutions_none_with_bias(model):
    convs = _layers(model, keras.layers.Conv2D)
    assert len(convs) == 1 + 27 * 3 + 3  # stem, 3 per module, 3 projection shortcuts
    assert not any(conv.use_bias for conv in convs)


def test_projection_shortcuts_read_act1(model):
    adds = _layers(model, keras.layers.Add)
    assert len(adds) == 27
    projections = []
    for add in adds:
        residual, shortcut = (producer(t) for t in add.input)
        assert isinstance(residual, keras.layers.Conv2D)
        if isinstance(shortcut, keras.layers.Conv2D):
            projections.append(shortcut)
            act1 = producer(shortcut.input)
            # act1: the module's input after BN and ReLU, which also feeds its first conv.
            assert isinstance(act1, keras.layers.Activation)
            assert isinstance(producer(act1.input), keras.layers.BatchNormalization)
        else:  # identity: the previous module's output
            assert isinstance(shortcut, keras.layers.Add)
    assert [(p.filters, p.kernel_size, p.strides) for p in projections] == [
        (64, (1, 1), (1, 1)),
        (128, (1, 1), (2, 2)),
        (256, (1, 1), (2, 2)),
    ]


def test_reg_reaches_only_stem_and_classifier(model):
    # The book's quirk: build() does not pass reg to the modules, which keep 1e-4.
    convs = _layers(model, keras.layers.Conv2D)
    (dense,) = _layers(model, keras.layers.Dense)
    assert convs[0].kernel_regularizer.l2 == pytest.approx(0.0005)
    assert dense.kernel_regularizer.l2 == pytest.approx(0.0005)
    assert {round(float(c.kernel_regularizer.l2), 10) for c in convs[1:]} == {0.0001}


def test_batch_norm_settings(model):
    norms = _layers(model, keras.layers.BatchNormalization)
    assert len(norms) == 1 + 27 * 3 + 1
    assert {(n.epsilon, n.momentum) for n in norms} == {(2e-5, 0.9)}
    # Channels last: Keras 3 keeps axis=-1, Keras 2 resolves it to [3].
    assert all(list(np.atleast_1d(n.axis)) in ([-1], [3]) for n in norms)
