import numpy as np
import pytest
import tf_keras as keras

from lth import models, pruning, supermasks, training

LENET300_LAYERS = ("fc1", "fc2", "output")


def top_scores_mask(scores: np.ndarray, density: float) -> np.ndarray:
    """True for the round(density * size) largest scores, by a cut at the k-th largest (no tie at the cut)."""
    n_keep = int(round(density * scores.size))
    cut = np.partition(scores.ravel(), scores.size - n_keep)[scores.size - n_keep]
    return scores >= cut


def mlp_accuracy(images: np.ndarray, labels: np.ndarray, kernels: dict, biases: dict,
                 layers=LENET300_LAYERS) -> float:
    """Test accuracy of a ReLU multilayer perceptron (logits out), computed in numpy, without TensorFlow."""
    h = images.reshape(len(images), -1).astype(np.float32) / 255
    for i, name in enumerate(layers):
        h = h @ kernels[name] + biases[name]
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return float(np.mean(np.argmax(h, axis=1) == labels))


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
    wrapped = pruning.wrap(plain, LENET300_LAYERS)
    init = pruning.kernels(wrapped)
    final = {n: w + 0.1 for n, w in init.items()}
    untrained = supermasks.evaluate(plain, mnist_small)
    assert supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", 1.0) == untrained
    with pytest.raises(ValueError, match="'ones'.*allowed"):
        supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", 0.5, "ones")


@pytest.mark.parametrize("values", ["init", "signed_constant"])
def test_supermask_accuracy_is_the_masked_untrained_networks(mnist_small, values):
    """The mask keeps the largest |final| weights of each layer, the kept weights are the initial ones (or their
    sign times the layer's initial standard deviation), and the accuracy is that network's, computed in numpy."""
    density = 0.3
    plain = models.build("lenet300", seed=3)
    wrapped = pruning.wrap(plain, LENET300_LAYERS)
    init = pruning.kernels(wrapped)
    rng = np.random.default_rng(0)
    final = {n: w + rng.normal(0, 2 * w.std(), w.shape).astype(np.float32) for n, w in init.items()}
    accuracy = supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", density, values)

    masks = {n: top_scores_mask(np.abs(final[n]), density) for n in LENET300_LAYERS}
    chosen = pruning.get_masks(wrapped)
    for name in LENET300_LAYERS:
        assert np.array_equal(chosen[name], masks[name]), name
    if values == "init":
        kept = init
    else:
        kept = {n: np.where(w > 0, w.std(), -w.std()).astype(np.float32) for n, w in init.items()}
    expected = {n: np.where(masks[n], kept[n], np.float32(0)) for n in LENET300_LAYERS}
    for name, kernel in pruning.kernels(wrapped).items():
        np.testing.assert_allclose(kernel, expected[name], rtol=1e-6, err_msg=name)
    biases = {n: plain.get_layer(n).bias.numpy() for n in LENET300_LAYERS}
    test = mnist_small.test
    assert accuracy == pytest.approx(mlp_accuracy(test.x, test.y, expected, biases), abs=1 / len(test))
