"""K networks of one architecture as a single stacked network.

Training K small networks side by side as K separate sub-graphs (what
:mod:`lth.training`'s graph engine does) costs K times the per-op overhead,
which dominates at small batch sizes. Here the K networks' weights are stacked
along a leading axis: a dense layer becomes one batched matmul
(``[K, B, in] @ [K, in, out]``) and a convolution one grouped convolution (the
K networks' channels side by side, one group each). The loss is the sum of the
K networks' mean losses, so the gradient of network k's slice is exactly the
gradient of network k's own loss; Adam and SGD with momentum act element by
element, so one optimiser over the stacked variables takes exactly the K
separate optimiser steps. Masks are re-applied after each step, so pruned
weights are exactly zero in every forward pass (as with TF-MOT's wrappers,
whose weight-mask op zeroes them before each call). A convolution followed by a
2x2 max-pool with ReLU (or no activation) pools before its bias and activation:
the same values, and a quarter of the element-wise work on the largest tensors.

Only what the book's small networks need is supported: ``Sequential`` models
of Flatten, Dense, Conv2D and MaxPool2D layers with element-wise activations,
unwrapped or in TF-MOT wrappers whose masks do not change during training
(:class:`lth.pruning.FixedMask`). :func:`unsupported` says why a set of
networks cannot be stacked; :func:`lth.training.train` then falls back to its
graph engine.
"""
from __future__ import annotations

import lth  # noqa: F401
import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers as kl

from lth import pruning

OPTIMIZER_FIELDS = ("optimizer", "learning_rate", "momentum", "warmup_iterations", "lr_milestones", "lr_gamma")


def _is_wrapper(layer) -> bool:
    return isinstance(layer, pruning.PruneLowMagnitude)


def _inner(layer):
    return layer.layer if _is_wrapper(layer) else layer


def _shape_of(layer) -> tuple:
    """What must match across the K networks for their layers to stack."""
    config = {k: v for k, v in _inner(layer).get_config().items() if k not in ("name", "trainable")}
    config = {k: v for k, v in config.items() if not k.endswith(("initializer", "regularizer", "constraint"))}
    return type(_inner(layer)).__name__, repr(sorted(config.items())), _is_wrapper(layer)


def unsupported(trainees, hp) -> str | None:
    """Why these trainees cannot train as one stacked network, or None if they can."""
    models = [t.model for t in trainees]
    if not all(isinstance(m, keras.Sequential) for m in models):
        return "only Sequential models stack"
    shapes = [tuple(_shape_of(layer) for layer in m.layers) for m in models]
    if any(s != shapes[0] for s in shapes):
        return "the networks differ in architecture"
    for layer in models[0].layers:
        inner = _inner(layer)
        if not isinstance(inner, (kl.Flatten, kl.Dense, kl.Conv2D, kl.MaxPooling2D, kl.InputLayer)):
            return f"layer {layer.name!r} ({type(inner).__name__}) does not stack"
        if isinstance(inner, kl.Conv2D) and (inner.data_format != "channels_last" or inner.groups != 1
                                             or tuple(inner.dilation_rate) != (1, 1)):
            return f"layer {layer.name!r}: only channels_last, ungrouped, undilated convolutions stack"
    for t in trainees:
        for layer in t.wrapped:
            if not t.hold_masks and not isinstance(layer.pruning_schedule, pruning.FixedMask):
                return f"trainee {t.name!r}: layer {layer.name!r} has a pruning schedule that changes its mask"
    settings = {tuple(getattr(t.hparams or hp, f) for f in OPTIMIZER_FIELDS) for t in trainees}
    if len(settings) > 1:
        return "the trainees' optimiser settings differ"
    return None


class _Layer:
    """One layer of the stack: its kind, stacked variables and the K networks' variables they came from."""

    def __init__(self, layers):
        first = layers[0]
        self.inner = _inner(first)
        self.kind = type(self.inner).__name__
        self.kernel = self.bias = self.mask = None
        self.sources = []  # (stacked variable, [the K networks' variables])
        if isinstance(self.inner, (kl.Dense, kl.Conv2D)):
            inners = [_inner(layer) for layer in layers]
            self.kernel = self._stack([i.kernel for i in inners])
            if self.inner.use_bias:
                self.bias = self._stack([i.bias for i in inners])
            if _is_wrapper(first):
                self.mask = tf.constant(np.stack([layer.pruning_vars[0][1].numpy() for layer in layers]))
                self.kernel.assign(self.kernel * self.mask)

    def _stack(self, variables):
        stacked = tf.Variable(np.stack([v.numpy() for v in variables]), trainable=True)
        self.sources.append((stacked, variables))
        return stacked

    def weights(self):
        return [v for v in (self.kernel, self.bias) if v is not None]


class StackedNetwork:
    """The K networks' forward pass on stacked inputs ``[K, B, ...]`` -> logits ``[K, B, classes]``."""

    def __init__(self, models):
        self.k = len(models)
        self.layers = [_Layer(group) for group in zip(*[m.layers for m in models])]
        self.trainable_variables = [v for layer in self.layers for v in layer.weights()]

    def __call__(self, x):
        k = self.k
        grouped = False  # True: activations are [B, H, W, K*C], the K networks' channels side by side
        pooled_early = None  # the MaxPool layer already applied by the convolution before it
        for position, layer in enumerate(self.layers):
            inner = layer.inner
            if isinstance(inner, kl.Conv2D):
                if not grouped:
                    x = tf.transpose(x, [1, 2, 3, 0, 4])
                    shape = tf.shape(x)
                    x = tf.reshape(x, tf.concat([shape[:3], [k * x.shape[-1]]], 0))
                    grouped = True
                kernel = layer.kernel  # [K, kh, kw, C, O]
                kh, kw, c, o = kernel.shape[1:]
                kernel = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]), [kh, kw, c, k * o])
                x = tf.nn.conv2d(x, kernel, strides=inner.strides, padding=inner.padding.upper())
                pool = self._pool_first(position)
                if pool is not None:  # max-pool first: bias and activation then touch a quarter of the values
                    x = tf.nn.max_pool2d(x, pool.pool_size, pool.strides, pool.padding.upper())
                    pooled_early = pool
                if layer.bias is not None:
                    x = tf.nn.bias_add(x, tf.reshape(layer.bias, [k * o]))
                x = inner.activation(x)
            elif isinstance(inner, kl.MaxPooling2D):
                if not grouped:
                    raise ValueError("MaxPool2D stacks only after a convolution")
                if inner is not pooled_early:
                    x = tf.nn.max_pool2d(x, inner.pool_size, inner.strides, inner.padding.upper())
            elif isinstance(inner, kl.Flatten):
                if grouped:
                    shape = tf.shape(x)
                    x = tf.reshape(x, tf.concat([shape[:3], [k, x.shape[-1] // k]], 0))
                    x = tf.transpose(x, [3, 0, 1, 2, 4])
                    grouped = False
                x = tf.reshape(x, [k, tf.shape(x)[1], int(np.prod(x.shape[2:]))])
            elif isinstance(inner, kl.Dense):
                if grouped:
                    raise ValueError("Dense stacks only on flat inputs")
                x = tf.matmul(x, layer.kernel)
                if layer.bias is not None:
                    x = x + layer.bias[:, None, :]
                x = inner.activation(x)
        return x

    def _pool_first(self, position):
        """The MaxPool layer right after convolution ``position``, if pooling may come before bias and activation.

        max(a + b, c + b) = max(a, c) + b for a per-channel bias b, and ReLU (or no
        activation) is non-decreasing, so pooling first gives the same values and the
        same gradients (up to exact ties) on a quarter of the elements.
        """
        conv = self.layers[position].inner
        following = self.layers[position + 1].inner if position + 1 < len(self.layers) else None
        if not isinstance(following, kl.MaxPooling2D) or following.padding != "valid":
            return None
        if conv.activation not in (keras.activations.relu, keras.activations.linear):
            return None
        return following

    def apply_masks(self):
        """Keep pruned weights exactly zero after an optimiser step."""
        for layer in self.layers:
            if layer.mask is not None:
                layer.kernel.assign(layer.kernel * layer.mask)

    def write_back(self, indices):
        """Copy the stacked weights of networks ``indices`` into their Keras models."""
        for layer in self.layers:
            for stacked, variables in layer.sources:
                values = stacked.numpy()
                for i in indices:
                    variables[i].assign(values[i])
