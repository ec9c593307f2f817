import numpy as np
import pytest
import tf_keras as keras

from lth import models, pruning, supermasks, training


def test_evaluate_matches_keras_evaluate(mnist_small):
    model = models.build("lenet300", seed=0)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    expected_loss, expected_accuracy = model.evaluate(mnist_small.features(mnist_small.test), mnist_small.test.y,
                                                      batch_size=500, verbose=0)
    loss, accuracy = training.evaluate(model, mnist_small.features(mnist_small.test), mnist_small.test.y)
    assert accuracy == pytest.approx(expected_accuracy, abs=1e-6)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert supermasks.evaluate(model, mnist_small) == pytest.approx(accuracy)


def test_supermask_at_full_density_is_the_untrained_network(mnist_small):
    plain = models.build("lenet300", seed=3)
    wrapped = pruning.wrap(plain, ["fc1", "fc2", "output"])
    init = pruning.kernels(wrapped)
    final = {n: w + 0.1 for n, w in init.items()}
    untrained = supermasks.evaluate(plain, mnist_small)
    assert supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", 1.0) == untrained
    signed = supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", 0.5, "signed_constant")
    kernels = pruning.kernels(wrapped)
    assert all(len(np.unique(np.abs(k[k != 0]))) == 1 for k in kernels.values())  # one magnitude per layer
    assert 0.0 <= signed <= 1.0
    with pytest.raises(ValueError, match="'ones'.*allowed"):
        supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", 0.5, "ones")
