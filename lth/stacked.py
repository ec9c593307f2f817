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
separate optimiser steps. Fixed masks are re-applied after each step, so pruned
weights are exactly zero in every forward pass (as with TF-MOT's wrappers,
whose weight-mask op zeroes them before each call). A network whose TF-MOT
schedule changes its masks (a pruning network, or the seed authors' faithful
retraining) does what its wrappers do in ``call``, step by step: advance its
pruning step, let its schedule decide whether to recompute the masks from the
weight magnitudes (TF-MOT's own mask code, one network at a time), then zero
the pruned weights before the forward pass. A convolution followed by a
2x2 max-pool with ReLU (or no activation) pools before its bias and activation:
the same values, and a quarter of the element-wise work on the largest tensors.
With ``native`` (where :mod:`lth.native` runs), a convolution and such a max-pool run as one
of its fused ops instead where :func:`lth.native.conv_pool_fits` says one takes them
(LeNet-5's two convolutions): the same values up to round-off.
The forward pass can hand out each dense layer's input and product (``dense_products``), so
that the training step can leave a kernel's gradient as those two factors and its Adam step
compute it in the same pass (:class:`lth.optimizers.DenseGradient`).

Only what the book's small networks need is supported: ``Sequential`` models
of Flatten, Dense, Conv2D and MaxPool2D layers with element-wise activations,
unwrapped or in TF-MOT wrappers with element-wise (not block or m-by-n)
pruning. :func:`unsupported` says why a set of
networks cannot be stacked; :func:`lth.training.train` then falls back to its
graph engine. TF-MOT's wrappers are read and driven through :mod:`lth.private_apis`.
"""
from __future__ import annotations

import lth  # noqa: F401
import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers as kl

from lth import native, private_apis, pruning

OPTIMIZER_FIELDS = ("optimizer", "learning_rate", "momentum", "warmup_iterations", "lr_milestones", "lr_gamma")


def _is_wrapper(layer) -> bool:
    return isinstance(layer, private_apis.PruneLowMagnitude)


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
            if private_apis.prunes_in_blocks(layer):
                return f"trainee {t.name!r}: layer {layer.name!r} prunes in blocks, which does not stack"
    settings = {tuple(getattr(t.hparams or hp, f) for f in OPTIMIZER_FIELDS) for t in trainees}
    if len(settings) > 1:
        return "the trainees' optimiser settings differ"
    return None


def scheduled(trainee) -> list[bool]:
    """Per wrapped layer of ``trainee``: does its TF-MOT schedule change the mask while it trains?"""
    return [not trainee.hold_masks and not isinstance(layer.pruning_schedule, pruning.FixedMask)
            for layer in trainee.wrapped]


class _Layer:
    """One layer of the stack: its kind, stacked variables and the K networks' variables they came from.

    A pruned layer's mask is a constant if every network holds its mask fixed; otherwise a
    variable, with the networks whose schedules change it listed in ``scheduled``.
    """

    def __init__(self, layers, scheduled):
        first = layers[0]
        self.inner = _inner(first)
        self.kind = type(self.inner).__name__
        self.kernel = self.bias = self.mask = self.threshold = None
        self.wrappers, self.scheduled = [], [False] * len(layers)
        self.sources = []  # (stacked variable, [the K networks' variables])
        if isinstance(self.inner, (kl.Dense, kl.Conv2D)):
            inners = [_inner(layer) for layer in layers]
            self.kernel = self._stack([i.kernel for i in inners])
            if self.inner.use_bias:
                self.bias = self._stack([i.bias for i in inners])
            if _is_wrapper(first):
                self.wrappers, self.scheduled = list(layers), list(scheduled)
                _, masks, thresholds = zip(*[private_apis.pruning_variables(layer)[0] for layer in layers])
                if any(self.scheduled):
                    self.mask = self._stack(masks, trainable=False)
                    self.threshold = self._stack(thresholds, trainable=False)
                    hold = [not s for s in self.scheduled]
                    self.hold = tf.reshape(tf.constant(hold), [-1] + [1] * (self.mask.shape.rank - 1))
                else:
                    self.mask = tf.constant(np.stack([mask.numpy() for mask in masks]))
                self.kernel.assign(self.kernel * self.mask)

    def _stack(self, variables, trainable=True):
        stacked = tf.Variable(np.stack([v.numpy() for v in variables]), trainable=trainable)
        self.sources.append((stacked, variables))
        return stacked

    def weights(self):
        return [v for v in (self.kernel, self.bias) if v is not None]

    def update_masks(self):
        """What each scheduled network's TF-MOT wrapper does at the start of a training call.

        Advance its pruning step; if its schedule fires at that step, recompute its mask
        and threshold from its current weights (TF-MOT's own code); then zero the pruned
        weights of every network (the weight-mask op).
        """
        masks, thresholds = [], []
        for k, wrapper in enumerate(self.wrappers):
            if not self.scheduled[k]:
                masks.append(self.mask[k])
                thresholds.append(self.threshold[k])
                continue
            step = private_apis.pruning_step(wrapper)
            step.assign_add(1)
            fires = wrapper.pruning_schedule(step)[0]
            threshold, mask = tf.cond(
                fires,
                lambda k=k, wrapper=wrapper: private_apis.magnitude_mask(wrapper, self.kernel[k]),
                lambda k=k: (self.threshold[k], self.mask[k]))
            masks.append(mask)
            thresholds.append(threshold)
        self.mask.assign(tf.stack(masks))
        self.threshold.assign(tf.stack(thresholds))
        self.kernel.assign(self.kernel * self.mask)


class StackedNetwork:
    """The K networks' forward pass on stacked inputs ``[K, B, ...]`` -> logits ``[K, B, classes]``."""

    def __init__(self, models, scheduled=None, native: bool = False):
        """``scheduled[k]``: per wrapped layer of network k, does its schedule change its mask (see
        :func:`scheduled`)? Default: no network's does (the masks are held fixed). ``native``: run
        convolutions as :mod:`lth.native`'s fused ops where they fit (the caller has checked
        :func:`lth.native.available`)."""
        if not isinstance(native, bool):
            raise TypeError(f"native must be True or False, got {native!r}")
        self.k, self.native = len(models), native
        flags = [iter(s) for s in scheduled] if scheduled is not None else None
        self.layers = []
        for group in zip(*[m.layers for m in models]):
            wrapped = _is_wrapper(group[0]) and isinstance(_inner(group[0]), (kl.Dense, kl.Conv2D))
            per_network = [next(f) for f in flags] if wrapped and flags is not None else [False] * self.k
            self.layers.append(_Layer(group, per_network))
        self.trainable_variables = [v for layer in self.layers for v in layer.weights()]
        self.scheduled_layers = [layer for layer in self.layers if any(layer.scheduled)]

    def __call__(self, x, shared: bool = False, dense_products: dict | None = None):
        """Logits ``[K, B, classes]`` of inputs ``[K, B, ...]``, or with ``shared`` of one batch ``[B, ...]``
        that all K networks see (evaluation): their first layer then runs as one ungrouped
        convolution (or :func:`lth.native.conv_pool` on the one batch) or one matmul with the K
        networks' outputs side by side.

        ``dense_products``, if a dict, receives per stacked dense kernel (keyed by its
        ``ref()``) the layer's inputs ``[K, B, N]`` and its product with the kernel ``[K, B, M]``
        (before bias and activation): the factors of the kernel's gradient
        (:class:`lth.optimizers.DenseGradient`)."""
        k = self.k
        grouped = False  # True: activations are [B, H, W, K*C], the K networks' channels side by side
        pooled_early = None  # the MaxPool layer already applied by the convolution before it
        for position, layer in enumerate(self.layers):
            inner = layer.inner
            if isinstance(inner, kl.Conv2D):
                x, pooled_early, activated, grouped = self._convolve(position, x, grouped, shared)
                shared = False
                if not activated:
                    if layer.bias is not None:
                        x = tf.nn.bias_add(x, tf.reshape(layer.bias, [-1]))
                    x = inner.activation(x)
            elif isinstance(inner, kl.MaxPooling2D):
                if inner is pooled_early:
                    continue
                if not grouped:
                    raise ValueError("MaxPool2D stacks only after a convolution")
                x = tf.nn.max_pool2d(x, inner.pool_size, inner.strides, inner.padding.upper())
            elif isinstance(inner, kl.Flatten):
                if shared:
                    x = tf.reshape(x, [tf.shape(x)[0], int(np.prod(x.shape[1:]))])
                    continue
                if grouped:
                    shape = tf.shape(x)
                    x = tf.reshape(x, tf.concat([shape[:3], [k, x.shape[-1] // k]], 0))
                    x = tf.transpose(x, [3, 0, 1, 2, 4])
                    grouped = False
                x = tf.reshape(x, [k, tf.shape(x)[1], int(np.prod(x.shape[2:]))])
            elif isinstance(inner, kl.Dense):
                if grouped:
                    raise ValueError("Dense stacks only on flat inputs")
                if shared:  # [B, in] @ [in, K*out] -> [K, B, out]
                    n_in, n_out = layer.kernel.shape[1:]
                    kernel = tf.reshape(tf.transpose(layer.kernel, [1, 0, 2]), [n_in, k * n_out])
                    x = tf.transpose(tf.reshape(tf.matmul(x, kernel), [-1, k, n_out]), [1, 0, 2])
                    shared = False
                else:
                    inputs, x = x, tf.matmul(x, layer.kernel)
                    if dense_products is not None:
                        dense_products[layer.kernel.ref()] = (inputs, x)
                if layer.bias is not None:
                    x = x + layer.bias[:, None, :]
                x = inner.activation(x)
        return x

    def _convolve(self, position, x, grouped: bool, shared: bool):
        """Convolution ``position`` of ``x`` (stacked ``[K, B, ...]``, shared ``[B, ...]`` or grouped
        ``[B, H, W, K*C]``), and the max-pool after it where it may come first (:meth:`_pool_first`):
        grouped outputs ``[B, H', W', K*O]``, the pool layer applied (None if none), whether bias
        and activation are applied too (else the outputs come before them), and whether the outputs
        are grouped (else stacked ``[K, B, H', W', O]``: the native op's layout for a Flatten after its
        pool, which so needs no transpose). Runs as one of :mod:`lth.native`'s fused ops where one applies."""
        layer, pool = self.layers[position], self._pool_first(position)
        images = x[None] if shared else x  # [K, B, H, W, C], or [1, B, H, W, C] seen by all K networks
        if not grouped and self._fused_op_fits(position, images):
            fused = native.conv_pool(images, layer.kernel, layer.inner.padding.upper(), **self._bias_relu(layer))
            return fused, pool, True, True
        if grouped and self._fused_op_fits(position, x):
            following = self.layers[position + 2].inner if position + 2 < len(self.layers) else None
            stacked_output = isinstance(following, kl.Flatten)
            pooled = native.grouped_conv_pool(x, layer.kernel, stacked_output=stacked_output, **self._bias_relu(layer))
            return pooled, pool, True, not stacked_output
        k = self.k
        if not grouped and not shared:
            x = tf.transpose(x, [1, 2, 3, 0, 4])
            shape = tf.shape(x)
            x = tf.reshape(x, tf.concat([shape[:3], [k * x.shape[-1]]], 0))
        kh, kw, c, o = layer.kernel.shape[1:]  # [K, kh, kw, C, O]
        kernel = tf.reshape(tf.transpose(layer.kernel, [1, 2, 3, 0, 4]), [kh, kw, c, k * o])
        x = tf.nn.conv2d(x, kernel, strides=layer.inner.strides, padding=layer.inner.padding.upper())
        if pool is not None:  # max-pool first: bias and activation then touch a quarter of the values
            x = tf.nn.max_pool2d(x, pool.pool_size, pool.strides, pool.padding.upper())
        return x, pool, False, True

    @staticmethod
    def _bias_relu(layer) -> dict:
        """The native ops' ``bias`` (flattened to ``[K*O]``, or None) and ``relu`` arguments for ``layer``."""
        bias = tf.reshape(layer.bias, [-1]) if layer.bias is not None else None
        return {"bias": bias, "relu": layer.inner.activation is keras.activations.relu}  # else linear

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

    def _fused_op_fits(self, position, x) -> bool:
        """Can convolution ``position`` of ``x`` (stacked or shared ``[K or 1, B, H, W, C]``, or grouped
        ``[B, H, W, K*C]``) and the max-pool after it run as one of :mod:`lth.native`'s fused ops?
        Only if ``native`` is on and the pool may come first (:meth:`_pool_first`); the op's own
        limits are :func:`lth.native.conv_pool_fits`'."""
        pool = self._pool_first(position)
        if not self.native or pool is None:
            return False
        layer = self.layers[position]
        return native.conv_pool_fits(tuple(x.shape), tuple(layer.kernel.shape), padding=layer.inner.padding.upper(),
                                     strides=layer.inner.strides, pool_size=pool.pool_size, pool_strides=pool.strides)

    def update_masks(self):
        """Before a training step: the scheduled networks' TF-MOT mask updates (see :meth:`_Layer.update_masks`)."""
        for layer in self.scheduled_layers:
            layer.update_masks()

    def step_masks(self) -> list:
        """Per trainable variable, the mask the optimiser step multiplies into it (None: none), so
        that the pruned weights of fixed-mask networks stay exactly zero.

        Scheduled networks' pruned weights move with their gradients until the next
        :meth:`update_masks`, as under TF-MOT (and may so re-enter the mask): their slices
        of a mixed layer's mask are ones.
        """
        masks = []
        for layer in self.layers:
            mask = None
            if layer.mask is not None and not all(layer.scheduled):
                mask = layer.mask if not any(layer.scheduled) else tf.where(layer.hold, layer.mask, 1.0)
            masks += [mask if variable is layer.kernel else None for variable in layer.weights()]
        return masks

    def mask_weights(self):
        """Zero every pruned weight (TF-MOT's weight-mask op; done at the end of each chunk)."""
        for layer in self.scheduled_layers:
            layer.kernel.assign(layer.kernel * layer.mask)

    def write_back(self, indices):
        """Copy the stacked weights of networks ``indices`` into their Keras models."""
        for layer in self.layers:
            for stacked, variables in layer.sources:
                values = stacked.numpy()
                for i in indices:
                    variables[i].assign(values[i])
