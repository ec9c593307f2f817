"""Optimisers: the learning-rate schedule, the tf_keras optimisers built from hparams, and their step.

:func:`apply_gradients` takes a tf_keras Adam or SGD step with TensorFlow's fused
training kernels (one kernel per variable), or :mod:`lth.native`'s Adam ops when the
caller asks for them; both training engines step through it. The optimisers' slots are
reached through :mod:`lth.private_apis`.
"""
from __future__ import annotations

from typing import NamedTuple

import lth  # noqa: F401
import tensorflow as tf
import tf_keras as keras

from lth import native, private_apis
from lth.hparams import TrainingHparams


class WarmupStepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 over ``warmup`` steps, then ×``gamma`` at each milestone."""

    def __init__(self, peak, warmup=0, milestones=(), gamma=0.1):
        self.peak, self.warmup, self.milestones, self.gamma = float(peak), int(warmup), tuple(milestones), float(gamma)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        lr = tf.constant(self.peak, tf.float32)
        if self.warmup > 0:
            lr *= tf.minimum(1.0, (step + 1.0) / self.warmup)
        for milestone in self.milestones:
            lr *= tf.where(step >= milestone, self.gamma, 1.0)
        return lr

    def get_config(self):
        return {"peak": self.peak, "warmup": self.warmup, "milestones": list(self.milestones), "gamma": self.gamma}


def make_optimizer(hp: TrainingHparams):
    schedule = WarmupStepDecay(hp.learning_rate, hp.warmup_iterations, hp.lr_milestones, hp.lr_gamma)
    if hp.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=schedule)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=hp.momentum)


def fused_update_applies(optimizer) -> bool:
    """Whether :func:`apply_gradients` can take ``optimizer``'s step with TensorFlow's fused kernels."""
    plain = (getattr(optimizer, "weight_decay", None) is None and not optimizer.use_ema
             and optimizer.clipnorm is None and optimizer.global_clipnorm is None and optimizer.clipvalue is None)
    if isinstance(optimizer, keras.optimizers.Adam):
        return plain and not optimizer.amsgrad and not optimizer.adaptive_epsilon
    if isinstance(optimizer, keras.optimizers.SGD):
        return plain and not optimizer.nesterov
    return False


class DenseGradient(NamedTuple):
    """K dense layers' kernel gradient left as its two factors: ``inputs [K, B, N]`` transposed times
    ``output_grads [K, B, M]`` (the loss's gradient with respect to ``inputs @ kernel``). With
    ``native_adam``, :func:`apply_gradients` computes it inside the Adam step
    (:func:`lth.native.dense_grad_masked_adam`); otherwise it is multiplied out first."""

    inputs: tf.Tensor
    output_grads: tf.Tensor

    def product(self):
        return tf.matmul(self.inputs, self.output_grads, transpose_a=True)


def fuses_dense_gradients(optimizer) -> bool:
    """Can :func:`apply_gradients` take :class:`DenseGradient` factors into ``optimizer``'s step itself
    (a plain Adam, with ``native_adam``)?"""
    return isinstance(optimizer, keras.optimizers.Adam) and fused_update_applies(optimizer)


def apply_gradients(optimizer, grads, variables, masks=None, native_adam: bool = False) -> None:
    """One step of a built tf_keras Adam or SGD optimiser, one fused kernel per variable.

    ``ResourceApplyAdam`` and ``ResourceApplyKerasMomentum`` compute exactly the
    optimisers' ``update_step`` (same formulas, same slot variables, the learning
    rate schedule read at the current iteration), in one kernel instead of a chain
    of element-wise ops; on these small networks that chain costs more than the
    matmuls. Optimisers this does not cover (:func:`fused_update_applies`) take
    their own ``apply_gradients``.

    ``masks`` (per variable, a tensor of its shape or None) are multiplied into the
    variables after the step, so that the pruned weights of a network whose masks are
    fixed stay exactly zero. With ``native_adam`` (the caller has checked
    :func:`lth.native.available`) an Adam step and its mask are one pass over memory
    (:func:`lth.native.masked_adam`, the same bits as the step followed by the multiply),
    and a :class:`DenseGradient` is multiplied out inside that pass
    (:func:`lth.native.dense_grad_masked_adam`).
    """
    if not isinstance(native_adam, bool):
        raise TypeError(f"native_adam must be True or False, got {native_adam!r}")
    masks = [None] * len(variables) if masks is None else list(masks)
    if len(masks) != len(variables):
        raise ValueError(f"{len(masks)} masks for {len(variables)} variables")
    # No update before every gradient is computed. Otherwise, in a traced step, a layer's update
    # can run while its weights are still needed for the input gradient to the layer below it.
    # TensorFlow then copies the variable before changing it (copy-on-write). For LeNet-5's
    # first dense layer that copy made the update several times slower (6.6-7.3x in the profiles).
    with tf.control_dependencies(tf.nest.flatten([g for g in grads if g is not None])):
        grads = [None if g is None else tf.nest.map_structure(tf.identity, g) for g in grads]
    native_adam = native_adam and fuses_dense_gradients(optimizer)
    if not native_adam:
        grads = [g.product() if isinstance(g, DenseGradient) else g for g in grads]
    if not fused_update_applies(optimizer):
        optimizer.apply_gradients(zip(grads, variables))
        _multiply(variables, masks)
        return
    lr = tf.cast(private_apis.learning_rate(optimizer), tf.float32)
    if isinstance(optimizer, keras.optimizers.Adam):
        step = tf.cast(optimizer.iterations + 1, tf.float32)
        beta_1_power, beta_2_power = tf.pow(optimizer.beta_1, step), tf.pow(optimizer.beta_2, step)
        scalars = dict(beta1_power=beta_1_power, beta2_power=beta_2_power, lr=lr, beta1=tf.constant(optimizer.beta_1),
                       beta2=tf.constant(optimizer.beta_2), epsilon=tf.constant(optimizer.epsilon))
        masked_natively = native_adam and any(mask is not None for mask in masks)
        for grad, variable, mask in zip(grads, variables, masks):
            m, v = private_apis.adam_slots(optimizer, variable)
            if isinstance(grad, DenseGradient):  # native_adam: computed inside the step
                native.dense_grad_masked_adam(variable, m, v, inputs=grad.inputs, output_grads=grad.output_grads,
                                              mask=mask, **scalars)
            elif mask is not None and masked_natively:
                native.masked_adam(variable, m, v, grad=grad, mask=mask, **scalars)
            else:
                tf.raw_ops.ResourceApplyAdam(var=variable.handle, m=m.handle, v=v.handle, grad=grad, **scalars)
        _multiply(variables, [None if masked_natively else mask for mask in masks])  # the masks not applied above
    else:
        momentum = tf.constant(float(optimizer.momentum))
        for grad, variable in zip(grads, variables):
            accum = private_apis.momentum_slot(optimizer, variable)
            tf.raw_ops.ResourceApplyKerasMomentum(var=variable.handle, accum=accum.handle, lr=lr, grad=grad,
                                                  momentum=momentum)
        _multiply(variables, masks)
    optimizer.iterations.assign_add(1)


def _multiply(variables, masks) -> None:
    for variable, mask in zip(variables, masks):
        if mask is not None:
            variable.assign(variable * mask)
