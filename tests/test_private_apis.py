"""Each of lth.private_apis' accessors still does what it says with the installed tf_keras and TF-MOT.

When an upgrade breaks one, the failure names the accessor and the installed versions.
"""
import contextlib

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from lth import models, optimizers, private_apis, pruning
from lth.hparams import TrainingHparams


@contextlib.contextmanager
def accessor(name):
    try:
        yield
    except Exception as error:  # noqa: BLE001  (any failure: the accessor broke)
        pytest.fail(f"lth.private_apis.{name} no longer works with {private_apis.installed_versions()}: "
                    f"{type(error).__name__}: {error}. Update lth/private_apis.py (and only it) for these versions.")


def _wrapped_dense(schedule=None, **kwargs):
    """A built TF-MOT wrapper of a 6x4 dense layer."""
    keras.utils.set_random_seed(0)
    layer = pruning.sparsity_api.prune_low_magnitude(keras.layers.Dense(4), pruning_schedule=schedule
                                                     or pruning.FixedMask(), **kwargs)
    keras.Sequential([keras.Input((6,)), layer])
    return layer


def test_installed_versions_names_the_three_libraries():
    versions = private_apis.installed_versions()
    assert [part.split(" ")[0] for part in versions.split(", ")] == list(private_apis.PACKAGES)
    assert tf.__version__ in versions


def test_wrapper_class_and_its_variables():
    with accessor("PruneLowMagnitude"):
        net = pruning.wrap(models.build("lenet300", seed=0), ["fc1"])
        assert isinstance(net.get_layer("prune_low_magnitude_fc1"), private_apis.PruneLowMagnitude)
    layer = _wrapped_dense()
    with accessor("pruning_variables"):
        (weight, mask, threshold), = private_apis.pruning_variables(layer)
        assert weight is layer.layer.kernel
        assert tuple(mask.shape) == (6, 4) and (mask.numpy() == 1).all() and tuple(threshold.shape) == ()
    with accessor("pruning_step"):
        step = private_apis.pruning_step(layer)
        assert int(step.numpy()) == -1  # training not started
        assert any(step is weight for weight in layer.non_trainable_weights)  # saved with the model's weights


def test_block_pruning_is_told_apart():
    with accessor("prunes_in_blocks"):
        assert not private_apis.prunes_in_blocks(_wrapped_dense())
        assert private_apis.prunes_in_blocks(_wrapped_dense(block_size=(2, 2)))
        assert private_apis.prunes_in_blocks(_wrapped_dense(sparsity_m_by_n=(2, 4)))


def test_magnitude_mask_keeps_the_largest_weights_without_assigning():
    schedule = pruning.polynomial_decay(0.5, begin_step=0, end_step=10, frequency=1)
    layer = _wrapped_dense(schedule)
    weights = np.arange(1, 25, dtype="float32").reshape(6, 4) * np.where(np.arange(24) % 2, 1, -1).reshape(6, 4)
    layer.layer.kernel.assign(weights)
    private_apis.pruning_step(layer).assign(10)  # the schedule's end: density 0.5
    with accessor("magnitude_mask"):
        threshold, mask = private_apis.magnitude_mask(layer, layer.layer.kernel)
        np.testing.assert_array_equal(mask.numpy(), (np.abs(weights) > 12).astype("float32"))
        assert float(threshold) == 13  # the smallest magnitude kept
        assert (private_apis.pruning_variables(layer)[0][1].numpy() == 1).all()  # nothing assigned


def test_apply_weight_mask_zeroes_the_pruned_weights():
    layer = _wrapped_dense()
    weight, mask, _ = private_apis.pruning_variables(layer)[0]
    weight.assign(np.ones((6, 4), "float32"))
    keep = np.eye(6, 4, dtype="float32")
    mask.assign(keep)
    with accessor("apply_weight_mask"):
        private_apis.apply_weight_mask(layer)
        np.testing.assert_array_equal(weight.numpy(), keep)


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_optimizer_learning_rate_and_slots(kind):
    hp = TrainingHparams(optimizer=kind, learning_rate=0.1, warmup_iterations=4, momentum=0.5)
    optimizer = optimizers.make_optimizer(hp)
    variable = tf.Variable(np.zeros((3, 2), "float32"))
    optimizer.build([variable])
    grad = tf.constant(np.arange(6, dtype="float32").reshape(3, 2))
    optimizer.apply_gradients([(grad, variable)])
    with accessor("learning_rate"):  # warm-up: the schedule at step 1 of 4
        np.testing.assert_allclose(float(private_apis.learning_rate(optimizer)), 0.1 * 2 / 4, rtol=1e-6)
        fixed = keras.optimizers.Adam(learning_rate=0.25)
        assert float(private_apis.learning_rate(fixed)) == 0.25
    if kind == "adam":
        with accessor("adam_slots"):
            m, v = private_apis.adam_slots(optimizer, variable)
            np.testing.assert_allclose(m.numpy(), (1 - optimizer.beta_1) * grad.numpy(), rtol=1e-6)
            np.testing.assert_allclose(v.numpy(), (1 - optimizer.beta_2) * grad.numpy() ** 2, rtol=1e-5)
    else:
        with accessor("momentum_slot"):  # tf_keras SGD: m = momentum * m - lr * g, from m = 0 at rate 0.1 / 4
            np.testing.assert_allclose(private_apis.momentum_slot(optimizer, variable).numpy(),
                                       -0.1 / 4 * grad.numpy(), rtol=1e-6)
