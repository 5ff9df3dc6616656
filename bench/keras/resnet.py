"""The post's ResNet: ``ResNet.build`` from Deep Learning for Computer Vision with Python.

A pre-activation bottleneck ResNet, as the post uses it (``reg=0.0005``). Faithful to
the book's code, including its one quirk, kept on purpose and pinned by a test:
``build`` does not pass ``reg`` on to ``residual_module``, so only the stem convolution
and the classifier use the ``reg`` given to ``build``; every convolution inside the
residual modules keeps the module's default of 1e-4.
"""

from __future__ import annotations

from typing import Any

from bench.keras.compat import keras

layers = keras.layers
l2 = keras.regularizers.l2


class ResNet:
    @staticmethod
    def residual_module(
        data: Any,
        K: int,
        stride: tuple[int, int],
        chanDim: int,
        red: bool = False,
        reg: float = 0.0001,
        bnEps: float = 2e-5,
        bnMom: float = 0.9,
    ) -> Any:
        """BN-ReLU-conv1x1(K/4), BN-ReLU-conv3x3(K/4, stride), BN-ReLU-conv1x1(K), + shortcut.

        A reducing module (``red``) projects the shortcut with a strided 1x1 convolution of
        ``act1`` - the input after BN and ReLU - rather than of the raw input.
        """
        shortcut = data
        bn1 = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(data)
        act1 = layers.Activation("relu")(bn1)
        conv1 = layers.Conv2D(int(K * 0.25), (1, 1), use_bias=False, kernel_regularizer=l2(reg))(
            act1
        )
        bn2 = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(conv1)
        act2 = layers.Activation("relu")(bn2)
        conv2 = layers.Conv2D(
            int(K * 0.25),
            (3, 3),
            strides=stride,
            padding="same",
            use_bias=False,
            kernel_regularizer=l2(reg),
        )(act2)
        bn3 = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(conv2)
        act3 = layers.Activation("relu")(bn3)
        conv3 = layers.Conv2D(K, (1, 1), use_bias=False, kernel_regularizer=l2(reg))(act3)
        if red:
            shortcut = layers.Conv2D(
                K, (1, 1), strides=stride, use_bias=False, kernel_regularizer=l2(reg)
            )(act1)
        return layers.add([conv3, shortcut])

    @staticmethod
    def build(
        width: int,
        height: int,
        depth: int,
        classes: int,
        stages: tuple[int, ...],
        filters: tuple[int, ...],
        reg: float = 0.0001,
        bnEps: float = 2e-5,
        bnMom: float = 0.9,
    ) -> Any:
        """The CIFAR variant: BN, 3x3 stem conv, ``stages`` of bottleneck modules, BN-ReLU,
        8x8 average pooling, a dense softmax classifier. Channels last."""
        chanDim = -1
        inputs = keras.Input(shape=(height, width, depth))
        x = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(inputs)
        x = layers.Conv2D(
            filters[0], (3, 3), use_bias=False, padding="same", kernel_regularizer=l2(reg)
        )(x)
        for i, modules in enumerate(stages):
            stride = (1, 1) if i == 0 else (2, 2)
            # The book's quirk: no reg= here, so the modules use their default 1e-4.
            x = ResNet.residual_module(
                x, filters[i + 1], stride, chanDim, red=True, bnEps=bnEps, bnMom=bnMom
            )
            for _ in range(modules - 1):
                x = ResNet.residual_module(
                    x, filters[i + 1], (1, 1), chanDim, bnEps=bnEps, bnMom=bnMom
                )
        x = layers.BatchNormalization(axis=chanDim, epsilon=bnEps, momentum=bnMom)(x)
        x = layers.Activation("relu")(x)
        x = layers.AveragePooling2D((8, 8))(x)
        x = layers.Flatten()(x)
        x = layers.Dense(classes, kernel_regularizer=l2(reg))(x)
        x = layers.Activation("softmax")(x)
        return keras.Model(inputs, x, name="resnet")


def forward_flops(model: Any) -> int:
    """Floating-point operations of one image's forward pass through ``model``'s
    convolutions and dense layers (multiply and add counted as two; BN, ReLU and the
    additions are a fraction of a percent and left out)."""
    flops = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, h, w, _ = layer.output.shape
            flops += 2 * h * w * kh * kw * cin * cout
        elif isinstance(layer, layers.Dense):
            cin, cout = layer.kernel.shape
            flops += 2 * cin * cout
    return int(flops)
