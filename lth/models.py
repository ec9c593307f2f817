"""Models by name, all built with ``tf_keras`` (TF-MOT needs Keras 2).

Every model outputs logits. Each registered model names the layers that
pruning applies to (``prunable``) and, where a paper prunes one layer at a
different rate, that layer's rate factor (``rate_factors``: F&C prune the
output layer at half the rate of the hidden layers).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import lth  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
import numpy as np
import tf_keras as keras
from tf_keras import layers


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable
    description: str
    input_shape: tuple = (28, 28, 1)
    prunable: Callable | None = None  # model -> names of prunable layers; None: all Dense/Conv
    rate_factors: dict = field(default_factory=dict)  # layer name -> factor on the pruning rate


def _dense_and_conv(model) -> list[str]:
    return [l.name for l in model.layers if isinstance(l, (layers.Dense, layers.Conv2D))]


def lenet300(input_shape, num_classes):
    """LeNet-300-100 as Frankle & Carbin: Gaussian Glorot initialisation."""
    init = "glorot_normal"
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Flatten(name="flatten"),
        layers.Dense(300, activation="relu", kernel_initializer=init, name="fc1"),
        layers.Dense(100, activation="relu", kernel_initializer=init, name="fc2"),
        layers.Dense(num_classes, kernel_initializer=init, name="output"),
    ], name="lenet300")


def mlp(input_shape, num_classes, width=100):
    """One hidden layer of ``width`` ReLU units (Neyshabur et al.'s size experiment)."""
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Flatten(name="flatten"),
        layers.Dense(width, activation="relu", name="fc1"),
        layers.Dense(num_classes, name="output"),
    ], name=f"mlp{width}")


def lenet5(input_shape, num_classes):
    """The seed authors' LeNet-5-like net (61,706 parameters on MNIST), Keras default init."""
    return keras.Sequential([
        keras.Input(input_shape),
        layers.Conv2D(6, 5, padding="same", activation="relu", name="conv1"),
        layers.MaxPool2D(2, name="pool1"),
        layers.Conv2D(16, 5, padding="valid", activation="relu", name="conv2"),
        layers.MaxPool2D(2, name="pool2"),
        layers.Flatten(name="flatten"),
        layers.Dense(120, activation="relu", name="fc1"),
        layers.Dense(84, activation="relu", name="fc2"),
        layers.Dense(num_classes, name="output"),
    ], name="lenet5")


PUBLISHED_WIDTH = 64  # the first convolution's filters in Frankle & Carbin's Conv-2/4/6 and in VGG


def _scaled(filters: int, width: int | None) -> int:
    """``filters`` of the published network at ``width`` (its first convolution's filters; None: published)."""
    return filters if width is None else max(1, filters * width // PUBLISHED_WIDTH)


def _conv_net(widths, name):
    def build(input_shape, num_classes, width=None):
        init = "glorot_normal"
        stack = [keras.Input(input_shape)]
        for i, filters in enumerate(widths):
            stack.append(layers.Conv2D(_scaled(filters, width), 3, padding="same", activation="relu",
                                       kernel_initializer=init, name=f"conv{i + 1}"))
            if i % 2 == 1:
                stack.append(layers.MaxPool2D(2, name=f"pool{i // 2 + 1}"))
        stack += [
            layers.Flatten(name="flatten"),
            layers.Dense(_scaled(256, width), activation="relu", kernel_initializer=init, name="fc1"),
            layers.Dense(_scaled(256, width), activation="relu", kernel_initializer=init, name="fc2"),
            layers.Dense(num_classes, kernel_initializer=init, name="output"),
        ]
        return keras.Sequential(stack, name=name)

    build.__doc__ = (f"Frankle & Carbin's {name}: 3x3 convolutions {list(widths)}, pool after each pair, FC 256-256; "
                     f"``width`` scales every layer by width / {PUBLISHED_WIDTH}.")
    return build


VGG_PLANS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512],
}


def _vgg(plan_name):
    def build(input_shape, num_classes, width=None):
        x = inputs = keras.Input(input_shape)
        conv, pool = 0, 0
        for item in VGG_PLANS[plan_name]:
            if item == "M":
                pool += 1
                x = layers.MaxPool2D(2, name=f"pool{pool}")(x)
            else:
                conv += 1
                x = layers.Conv2D(_scaled(item, width), 3, padding="same", use_bias=False,
                                  kernel_initializer="he_normal", name=f"conv{conv}")(x)
                x = layers.BatchNormalization(name=f"bn{conv}")(x)
                x = layers.ReLU(name=f"relu{conv}")(x)
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        outputs = layers.Dense(num_classes, name="output")(x)
        return keras.Model(inputs, outputs, name=plan_name)

    build.__doc__ = (f"{plan_name.upper()} for CIFAR (batch norm, global average pool, one FC layer), as open_lth; "
                     f"``width`` scales every convolution by width / {PUBLISHED_WIDTH}.")
    return build


def resnet20(input_shape, num_classes, width=None):
    """ResNet-20 for CIFAR (He et al. 2016): 3 stages of 3 basic blocks, 16/32/64 filters; ``width`` sets the
    first stage's filters (published 16), the later stages twice and four times as many."""

    def conv_bn(x, filters, stride, name, relu=True):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                          kernel_initializer="he_normal", name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x) if relu else x

    x = inputs = keras.Input(input_shape)
    base = 16 if width is None else width
    x = conv_bn(x, base, 1, "stem")
    for stage, filters in enumerate([base, 2 * base, 4 * base]):
        for block in range(3):
            stride = 2 if stage > 0 and block == 0 else 1
            name = f"s{stage + 1}b{block + 1}"
            y = conv_bn(x, filters, stride, f"{name}a")
            y = conv_bn(y, filters, 1, f"{name}b", relu=False)
            if stride != 1 or x.shape[-1] != filters:
                x = layers.Conv2D(filters, 1, strides=stride, use_bias=False, kernel_initializer="he_normal",
                                  name=f"{name}_shortcut")(x)
                x = layers.BatchNormalization(name=f"{name}_shortcut_bn")(x)
            x = layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, y]))
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(num_classes, name="output")(x)
    return keras.Model(inputs, outputs, name="resnet20")


def _conv_rates(convolutions: int, conv_factor: float) -> dict:
    """Frankle & Carbin's per-layer rates for Conv-2/4/6 as factors on the FC layers' 20 %: convolutions at
    10 % (Conv-6: 15 %), the output layer at 10 %."""
    return {f"conv{i + 1}": conv_factor for i in range(convolutions)} | {"output": 0.5}


MODELS = {
    spec.name: spec
    for spec in [
        ModelSpec("lenet300", lenet300, "LeNet-300-100 (Frankle & Carbin 2019)",
                  rate_factors={"output": 0.5}),
        ModelSpec("mlp", mlp, "One hidden layer of `width` units (Neyshabur et al. 2015)"),
        ModelSpec("lenet5", lenet5, "LeNet-5-like net of the seed paper; only fc1, fc2 pruned",
                  prunable=lambda model: ["fc1", "fc2"]),
        ModelSpec("conv2", _conv_net([64, 64], "conv2"), "Conv-2 (Frankle & Carbin 2019)",
                  input_shape=(32, 32, 3), rate_factors=_conv_rates(2, 0.5)),
        ModelSpec("conv4", _conv_net([64, 64, 128, 128], "conv4"), "Conv-4 (Frankle & Carbin 2019)",
                  input_shape=(32, 32, 3), rate_factors=_conv_rates(4, 0.5)),
        ModelSpec("conv6", _conv_net([64, 64, 128, 128, 256, 256], "conv6"), "Conv-6 (Frankle & Carbin 2019)",
                  input_shape=(32, 32, 3), rate_factors=_conv_rates(6, 0.75)),
        ModelSpec("vgg16", _vgg("vgg16"), "VGG-16 for CIFAR-10 (Liu et al. 2019)", input_shape=(32, 32, 3)),
        ModelSpec("vgg19", _vgg("vgg19"), "VGG-19 for CIFAR-10 (Frankle & Carbin 2019)", input_shape=(32, 32, 3)),
        ModelSpec("resnet20", resnet20, "ResNet-20 for CIFAR-10 (He et al. 2016)", input_shape=(32, 32, 3)),
    ]
}


WIDTH_SCALED = ("mlp", "conv2", "conv4", "conv6", "vgg16", "vgg19", "resnet20")  # models that take a ``width``


def spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {sorted(MODELS)}")
    return MODELS[name]


def build(name: str, *, seed: int, input_shape: tuple | None = None, num_classes: int = 10,
          width: int | None = None):
    """Build model ``name`` with weights drawn from ``seed`` (same seed, same weights).

    ``width`` sets the hidden units of ``mlp``, and the first convolution's filters of the models in
    :data:`WIDTH_SCALED` (the other layers in proportion); other models refuse it.
    """
    model_spec = spec(name)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    keras.utils.set_random_seed(int(seed))
    shape = tuple(input_shape or model_spec.input_shape)
    if width is not None:
        if name not in WIDTH_SCALED:
            raise ValueError(f"width applies only to models {sorted(WIDTH_SCALED)}, not {name!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive int, got {width!r}")
        return model_spec.build(shape, num_classes, width=width)
    return model_spec.build(shape, num_classes)


def prunable_layers(name: str, model) -> list[str]:
    """Names of the layers of ``model`` that model ``name`` prunes."""
    model_spec = spec(name)
    return list(model_spec.prunable(model) if model_spec.prunable else _dense_and_conv(model))


def count_weights(model) -> int:
    """Real weights (kernels, biases, batch-norm parameters), excluding TF-MOT's masks and thresholds."""
    return int(sum(np.prod(v.shape) for v in model.weights
                   if not any(tag in v.name for tag in ("mask", "threshold", "pruning_step"))))


def describe(name: str) -> dict:
    """Parameter counts of a registered model: total and per prunable layer."""
    model = build(name, seed=0)
    prunable = {layer: int(sum(np.prod(w.shape) for w in model.get_layer(layer).weights))
                for layer in prunable_layers(name, model)}
    return {"name": name, "description": spec(name).description, "input_shape": spec(name).input_shape,
            "total": count_weights(model), "prunable_layers": prunable, "prunable": sum(prunable.values())}
