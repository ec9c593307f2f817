"""Learned supermasks (Zhou et al. 2019, Sec. 5): the weights stay at their initial values, only a mask is learned.

Every Dense and Conv2D layer keeps its initial kernel and bias frozen and gets a real-valued
*score* per weight. Each training step multiplies the kernel by a Bernoulli mask drawn with
probability ``sigmoid(score)``; the gradient passes straight through the draw to that probability
(``sample + p - stop_gradient(p)``), as in Zhou et al.'s code (``masked_networks.py``). Scores start
at ``score_init`` (0: every weight kept with probability 1/2). The mask is drawn at evaluation too;
a run reports the mean test accuracy over ``eval_samples`` draws, and the expected density
(the mean of ``sigmoid(score)``), as Zhou et al. do.

Draws are stateless (:func:`tf.random.stateless_uniform`) from a per-layer seed and a counter that
is one of the layer's (non-trainable) weights, so a run resumed from a checkpoint draws exactly the
masks it would have drawn; evaluation draw ``i`` always uses the same seed, whatever the training.

The networks train on :mod:`lth.training`'s reference (graph) engine: the layers here are not
Keras ``Dense``/``Conv2D`` layers, so :func:`lth.stacked.unsupported` never stacks them.
"""
from __future__ import annotations

import lth  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers as kl

from lth import models, training
from lth.jobs import Job, load_data
from lth.runs import LearnedMaskRun, derive_seed

KEPT_LAYERS = (kl.Flatten, kl.MaxPooling2D, kl.InputLayer)  # layers copied as they are


def _constant(value: np.ndarray):
    return lambda shape, dtype=None: tf.constant(value, dtype=dtype or tf.float32)


class _ScoredLayer(keras.layers.Layer):
    """A frozen ``kernel`` and ``bias`` whose kernel is multiplied by a learned Bernoulli mask."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray, activation, draw_seed: int, score_init: float, **kwargs):
        super().__init__(**kwargs)
        self._values = (np.asarray(kernel, np.float32), np.asarray(bias, np.float32))
        self.activation = keras.activations.get(activation)
        self.draw_seed, self.score_init = int(draw_seed), float(score_init)

    def build(self, input_shape):
        kernel, bias = self._values
        self.kernel = self.add_weight("kernel", kernel.shape, initializer=_constant(kernel), trainable=False)
        self.bias = self.add_weight("bias", bias.shape, initializer=_constant(bias), trainable=False)
        self.scores = self.add_weight("scores", kernel.shape, initializer=keras.initializers.Constant(self.score_init),
                                      trainable=True)
        self.draws = self.add_weight("draws", (), dtype=tf.int64, initializer="zeros", trainable=False)
        self.eval_draw = self.add_weight("eval_draw", (), dtype=tf.int64, initializer="zeros", trainable=False)
        super().build(input_shape)

    def mask(self, training: bool):
        """A Bernoulli draw of the mask; in training, with the straight-through gradient to ``sigmoid(scores)``.
        Training draws count up from 1, evaluation draws down from -1: the two never share a seed."""
        p = tf.sigmoid(self.scores)
        counter = self.draws.assign_add(1) if training else -1 - self.eval_draw
        seed = tf.stack([tf.constant(self.draw_seed, tf.int64), tf.cast(counter, tf.int64)])
        sample = tf.cast(tf.random.stateless_uniform(tf.shape(p), seed) < p, p.dtype)
        return sample + p - tf.stop_gradient(p) if training else sample

    def call(self, inputs, training=None):
        return self.activation(self.product(inputs, self.kernel * self.mask(bool(training))) + self.bias)

    def get_config(self):
        """What the layer is (shapes, activation, seeds), not its values: enough to compare two networks' layers."""
        return super().get_config() | {"kernel_shape": list(self._values[0].shape),
                                       "activation": keras.activations.serialize(self.activation),
                                       "draw_seed": self.draw_seed, "score_init": self.score_init}


class ScoredDense(_ScoredLayer):
    def product(self, inputs, kernel):
        return tf.matmul(inputs, kernel)


class ScoredConv2D(_ScoredLayer):
    def __init__(self, *args, strides=(1, 1), padding="same", **kwargs):
        super().__init__(*args, **kwargs)
        self.strides, self.padding = tuple(strides), padding.upper()

    def product(self, inputs, kernel):
        return tf.nn.conv2d(inputs, kernel, self.strides, self.padding)

    def get_config(self):
        return super().get_config() | {"strides": list(self.strides), "padding": self.padding.lower()}


def _frozen_kernel(kernel: np.ndarray, weights: str) -> np.ndarray:
    if weights == "init":
        return kernel
    return np.sign(kernel) * kernel.std()  # signed constant: Zhou et al.'s make_signed_consts


def scored_network(model: str, seed: int, input_shape, width: int | None = None, weights: str = "init",
                   score_init: float = 0.0):
    """Network ``model`` as drawn from ``seed`` (the same initial weights as :func:`lth.models.build`), with every
    Dense and Conv2D layer frozen (kernel as initialised, or as signed constants) under a learned mask."""
    net = models.build(model, seed=seed, input_shape=input_shape, width=width)
    if not isinstance(net, keras.Sequential):
        raise ValueError(f"learned masks need a Sequential network, got {model!r}")
    stack = [keras.Input(input_shape)]
    for layer in net.layers:
        if isinstance(layer, (kl.Dense, kl.Conv2D)):
            kernel, bias = layer.get_weights()
            common = dict(kernel=_frozen_kernel(kernel, weights), bias=bias, activation=layer.activation,
                          draw_seed=derive_seed("mask-draws", seed, layer.name), score_init=score_init, name=layer.name)
            stack.append(ScoredDense(**common) if isinstance(layer, kl.Dense) else
                         ScoredConv2D(**common, strides=layer.strides, padding=layer.padding))
        elif isinstance(layer, KEPT_LAYERS):
            stack.append(layer.__class__.from_config(layer.get_config()))
        else:
            raise ValueError(f"learned masks cover Dense, Conv2D, pooling and Flatten layers; {model!r} has "
                             f"{layer.name!r} ({type(layer).__name__})")
    return keras.Sequential(stack, name=f"{net.name}_learned_mask")


def scored_layers(net) -> dict:
    return {layer.name: layer for layer in net.layers if isinstance(layer, _ScoredLayer)}


def expected_density(net) -> dict:
    """Per layer and ``"all"``: the expected share of weights kept, the mean of ``sigmoid(score)``."""
    probabilities = {name: tf.sigmoid(layer.scores).numpy() for name, layer in scored_layers(net).items()}
    out = {name: float(p.mean()) for name, p in probabilities.items()}
    return out | {"all": float(sum(p.sum() for p in probabilities.values())
                                / sum(p.size for p in probabilities.values()))}


def sampled_accuracies(net, data, samples: int, split: str = "test") -> list[float]:
    """Accuracy on ``split`` under each of evaluation draws 0..``samples``-1 of the mask."""
    part = {"test": data.test, "val": data.validation, "train": data.train}[split]
    layers = scored_layers(net).values()
    out = []
    for draw in range(samples):
        for layer in layers:
            layer.eval_draw.assign(draw)
        with training._quiet_retracing():  # each network traces its own evaluation once: expected
            out.append(training.evaluate(net, data.features(part), part.y)[1])
    for layer in layers:
        layer.eval_draw.assign(0)
    return out


def job(desc: LearnedMaskRun) -> Job:
    """The job that learns the mask of ``desc`` and stores its accuracy, density and final scores."""

    def build():
        net = scored_network(desc.model.name, desc.seed, load_data(desc.dataset).input_shape, desc.model.width,
                             desc.weights, desc.score_init)
        return training.Trainee(net, seed=derive_seed("data-order", desc.seed, "learned-mask"),
                                name=f"learned-mask-{desc.seed}")

    def finish(trainee, train_result):
        accuracies = sampled_accuracies(trainee.model, load_data(desc.dataset), desc.eval_samples)
        density = expected_density(trainee.model)
        result = train_result | {
            "test_accuracy_draw_0": train_result["test_accuracy"], "test_accuracy": float(np.mean(accuracies)),
            "test_accuracies": accuracies, "density": density.pop("all"), "layer_density": density}
        arrays = {f"scores/{name}": layer.scores.numpy() for name, layer in scored_layers(trainee.model).items()}
        return result, arrays

    return Job(desc, desc.dataset, desc.training, build, finish, desc.seed)
