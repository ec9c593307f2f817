import numpy as np
import pytest
import tf_keras as keras

from lth import models, pruning


def test_lenet5_parameter_counts():
    d = models.describe("lenet5")
    assert d["total"] == 61706
    assert d["prunable_layers"] == {"fc1": 48120, "fc2": 10164}


def test_lenet300_parameter_count():
    assert models.describe("lenet300")["total"] == 266610


def _dense(n_in, n_out):
    return n_in * n_out + n_out


def _conv(k, c_in, c_out, bias=True, batch_norm=False):
    """A k x k convolution's weights (with its batch norm's gamma, beta, moving mean and variance)."""
    return k * k * c_in * c_out + (c_out if bias else 0) + (4 * c_out if batch_norm else 0)


def _conv_net(widths, flat):
    convs = sum(_conv(3, c_in, c_out) for c_in, c_out in zip((3,) + widths, widths))
    return convs + _dense(flat, 256) + _dense(256, 256) + _dense(256, 10)


def _vgg(plan):
    widths = tuple(w for w in plan if w != "M")
    return sum(_conv(3, c_in, c_out, bias=False, batch_norm=True)
               for c_in, c_out in zip((3,) + widths, widths)) + _dense(512, 10)


def _resnet20():
    total, c_in = _conv(3, 3, 16, bias=False, batch_norm=True), 16
    for filters in (16, 32, 64):
        for _ in range(3):
            total += _conv(3, c_in, filters, bias=False, batch_norm=True)
            total += _conv(3, filters, filters, bias=False, batch_norm=True)
            if c_in != filters:  # the 1x1 projection shortcut of the first block of stages 2 and 3
                total += _conv(1, c_in, filters, bias=False, batch_norm=True)
            c_in = filters
    return total + _dense(64, 10)


# every model's weights counted by hand from its architecture, and the layers it prunes
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512]
RESNET_CONVS = ["stem_conv"] + [f"s{s}b{b}{half}_conv" for s in (1, 2, 3) for b in (1, 2, 3) for half in "ab"]
BY_HAND = {
    "lenet300": (_dense(784, 300) + _dense(300, 100) + _dense(100, 10), ["fc1", "fc2", "output"]),
    "mlp": (_dense(784, 100) + _dense(100, 10), ["fc1", "output"]),
    "lenet5": (_conv(5, 1, 6) + _conv(5, 6, 16) + _dense(400, 120) + _dense(120, 84) + _dense(84, 10), ["fc1", "fc2"]),
    "conv2": (_conv_net((64, 64), 16 * 16 * 64), ["conv1", "conv2", "fc1", "fc2", "output"]),
    "conv4": (_conv_net((64, 64, 128, 128), 8 * 8 * 128), [f"conv{i}" for i in range(1, 5)] + ["fc1", "fc2", "output"]),
    "conv6": (_conv_net((64, 64, 128, 128, 256, 256), 4 * 4 * 256),
              [f"conv{i}" for i in range(1, 7)] + ["fc1", "fc2", "output"]),
    "vgg16": (_vgg(VGG16), [f"conv{i}" for i in range(1, 14)] + ["output"]),
    "vgg19": (_vgg(VGG19), [f"conv{i}" for i in range(1, 17)] + ["output"]),
    "resnet20": (_resnet20(), RESNET_CONVS + ["s2b1_shortcut", "s3b1_shortcut", "output"]),
}


def test_hand_counts_match_the_documented_sizes():
    """The helpers above against counts documented elsewhere: LeNet-300-100's and the seed's LeNet-5-like net's."""
    assert BY_HAND["lenet300"][0] == 266610 and BY_HAND["lenet5"][0] == 61706


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_model_builds_and_outputs_logits(name):
    assert set(BY_HAND) == set(models.MODELS)  # a new model needs its hand count
    model = models.build(name, seed=0)
    total, prunable = BY_HAND[name]
    assert models.count_weights(model) == model.count_params() == total
    assert sorted(models.prunable_layers(name, model)) == sorted(prunable)
    # logits: the output layer's affine map of the features before it, no softmax or ReLU after it
    x = np.random.default_rng(0).random((2,) + models.spec(name).input_shape).astype(np.float32)
    features = keras.Model(model.inputs, model.layers[-2].output)(x).numpy()
    kernel, bias = model.get_layer("output").get_weights()
    logits = model(x).numpy()
    assert logits.shape == (2, 10) and (logits < 0).any()
    np.testing.assert_allclose(logits, features @ kernel + bias, rtol=1e-4, atol=1e-5)


def test_lenet300_forward_pass_in_numpy():
    model = models.build("lenet300", seed=0)
    w1, b1, w2, b2, w3, b3 = model.get_weights()
    x = np.random.default_rng(1).random((5, 28, 28, 1)).astype(np.float32)
    relu = lambda z: np.maximum(z, 0)
    expected = relu(relu(x.reshape(5, 784) @ w1 + b1) @ w2 + b2) @ w3 + b3
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_unknown_model_lists_known():
    with pytest.raises(ValueError, match="unknown model 'lenet7'.*lenet300"):
        models.build("lenet7", seed=0)


def test_same_seed_same_weights_different_seed_different():
    a, b, c = (models.build("lenet300", seed=s).get_weights() for s in (3, 3, 4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_wrapped_count_excludes_mask_variables():
    model = models.build("lenet5", seed=0)
    wrapped = pruning.wrap(model, ["fc1", "fc2"])
    # TF-MOT adds a mask as large as each kernel (fc1 400 x 120, fc2 120 x 84), a threshold and a step counter
    assert wrapped.count_params() == 61706 + 400 * 120 + 120 * 84 + 2 * 2
    assert models.count_weights(wrapped) == 61706
