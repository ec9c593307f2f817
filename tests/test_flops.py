"""lth.flops against counts done by hand (multiply-adds of Dense and Conv2D kernels)."""
import numpy as np
import pytest

from lth import flops, models, pruning

# LeNet-300-100 on 28x28 MNIST: 784*300 + 300*100 + 100*10 multiply-adds, one per kernel weight
LENET300_FLOPS = 235_200 + 30_000 + 1_000
# Conv-2 on 32x32x3 CIFAR-10, 'same' 3x3 convolutions at 32*32 positions, a 2x2 pool, FC 16*16*64-256-256-10
CONV2_CIFAR = {"conv1": 3 * 3 * 3 * 64 * 1024, "conv2": 3 * 3 * 64 * 64 * 1024,
               "fc1": 16 * 16 * 64 * 256, "fc2": 256 * 256, "output": 256 * 10}
# Conv-2 on 28x28x1 Fashion-MNIST: 28*28 positions, then 14*14*64 inputs to fc1
CONV2_FASHION = {"conv1": 3 * 3 * 1 * 64 * 784, "conv2": 3 * 3 * 64 * 64 * 784,
                 "fc1": 14 * 14 * 64 * 256, "fc2": 256 * 256, "output": 256 * 10}


def test_lenet300_dense():
    model = models.build("lenet300", seed=0)
    assert flops.count(model) == LENET300_FLOPS == 266_200
    assert flops.layer_flops(model) == {"fc1": 235_200, "fc2": 30_000, "output": 1_000}


@pytest.mark.parametrize("shape, expected", [((32, 32, 3), CONV2_CIFAR), ((28, 28, 1), CONV2_FASHION)])
def test_conv2_dense(shape, expected):
    model = models.build("conv2", seed=0, input_shape=shape)
    assert flops.layer_flops(model) == expected
    assert flops.count(model) == sum(expected.values())
    assert sum(expected.values()) == (43_780_608 if shape[0] == 32 else 32_632_320)


def test_masks_count_only_kept_weights_times_positions():
    model = pruning.wrap(models.build("conv2", seed=0, input_shape=(28, 28, 1)), ["conv1", "conv2", "fc1", "fc2", "output"])
    rng = np.random.default_rng(0)
    masks = {name: rng.random(k.shape) < 0.3 for name, k in pruning.kernels(model).items()}
    by_hand = (masks["conv1"].sum() * 784 + masks["conv2"].sum() * 784 + masks["fc1"].sum()
               + masks["fc2"].sum() + masks["output"].sum())
    assert flops.count(model, masks) == by_hand
    assert flops.count(model) == sum(CONV2_FASHION.values())  # no masks: every weight, wrapped or not


def test_lenet300_footprint_half_of_fc1():
    model = models.build("lenet300", seed=0)
    masks = {"fc1": np.arange(235_200).reshape(784, 300) % 2 == 0, "fc2": np.ones((300, 100), bool),
             "output": np.ones((100, 10), bool)}
    out = flops.footprint(model, masks)
    assert out["flops"] == 117_600 + 30_000 + 1_000
    assert out["dense_flops"] == 266_200
    assert out["speedup"] == pytest.approx(266_200 / 148_600)
    assert (out["prunable_weights"], out["prunable_kept"]) == (266_200, 148_600)
    assert out["density"] == pytest.approx(148_600 / 266_200)
    assert out["compression"] == pytest.approx(266_200 / 148_600)
    # the whole network: 266,610 weights (kernels and 410 biases), 117,600 removed
    assert (out["weights"], out["weights_kept"]) == (266_610, 266_610 - 117_600)
    assert out["compression_total"] == pytest.approx(266_610 / 149_010)


def test_unmasked_footprint_is_the_dense_network():
    out = flops.footprint(models.build("lenet300", seed=0))
    assert (out["flops"], out["speedup"], out["compression"], out["compression_total"]) == (266_200, 1.0, 1.0, 1.0)


def test_a_genuinely_smaller_model_needs_no_masks():
    narrow = models.build("conv2", seed=0, input_shape=(28, 28, 1), width=16)
    assert flops.layer_flops(narrow) == {"conv1": 9 * 16 * 784, "conv2": 9 * 16 * 16 * 784, "fc1": 14 * 14 * 16 * 64,
                                         "fc2": 64 * 64, "output": 64 * 10}


def test_masks_of_unknown_layers_are_refused():
    with pytest.raises(ValueError, match="flatten"):
        flops.count(models.build("lenet300", seed=0), {"flatten": np.ones(3, bool)})
