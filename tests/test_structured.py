"""lth.structured: Li et al.'s filter pruning builds a genuinely smaller network that computes what the
full network computes with the removed filters set to zero."""
import numpy as np
import pytest

from lth import flops, models, structured
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams
from lth.runs import LotteryRun, StructuredRun, from_stored

SHAPE = (28, 28, 1)


def _randomise_batch_norm(model, rng):
    """Batch-norm statistics and scales away from their defaults, so that slicing them is tested."""
    for layer in model.layers:
        if isinstance(layer, structured.kl.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.normal(1, 0.3, gamma.shape), rng.normal(0, 0.3, beta.shape),
                               rng.normal(0, 0.3, mean.shape), rng.uniform(0.5, 2, var.shape)])


def _network(name):
    model = models.build(name, seed=3, input_shape=SHAPE, width=4 if name == "vgg16" else None)
    _randomise_batch_norm(model, np.random.default_rng(0))
    return model


def _kept(model, fraction=0.5, seed=1):
    """A random choice of filters per removable convolution (any choice must work, not only the L1 one)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name in structured.removable_layers(model):
        n = model.get_layer(name).filters
        out[name] = np.sort(rng.choice(n, n - int(round(fraction * n)), replace=False))
    return out


def _zeroed(model, kept):
    """A copy of ``model`` whose removed filters are zero: kernel, bias, and the batch norm's scale and shift
    (so that the channel's output is zero after the batch norm too)."""
    copy = models.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for name, index in kept.items():
        layer = copy.get_layer(name)
        drop = np.setdiff1d(np.arange(layer.filters), index)
        weights = layer.get_weights()
        weights[0][..., drop] = 0
        if len(weights) > 1:
            weights[1][drop] = 0
        layer.set_weights(weights)
        bn_name = name.replace("conv", "bn") if name.startswith("conv") else name.replace("_conv", "_bn")
        if bn_name in [l.name for l in copy.layers]:
            bn = copy.get_layer(bn_name)
            gamma, beta, mean, var = bn.get_weights()
            gamma[drop], beta[drop] = 0, 0
            bn.set_weights([gamma, beta, mean, var])
    return copy


def test_removable_layers_skip_convolutions_that_meet_a_shortcut():
    resnet = _network("resnet20")
    removable = structured.removable_layers(resnet)
    assert removable == [f"s{s}b{b}a_conv" for s in (1, 2, 3) for b in (1, 2, 3)]
    vgg = _network("vgg16")
    assert structured.removable_layers(vgg) == [f"conv{i}" for i in range(1, 14)]


@pytest.mark.parametrize("name", ["vgg16", "resnet20", "conv2"])
def test_smaller_model_holds_the_kept_filters_and_computes_the_zeroed_network(name):
    full = _network(name)
    kept = _kept(full)
    small = structured.smaller_model(full, kept)
    for layer_name, index in kept.items():
        assert small.get_layer(layer_name).get_weights()[0].shape[-1] == len(index)
    assert models.count_weights(small) < models.count_weights(full)
    assert flops.count(small) < flops.count(full)
    assert structured.count_filters(small) == structured.count_filters(full) - sum(
        full.get_layer(n).filters - len(i) for n, i in kept.items())
    x = np.random.default_rng(2).normal(size=(3,) + SHAPE).astype(np.float32)
    expected = _zeroed(full, kept)(x, training=False).numpy()
    np.testing.assert_allclose(small(x, training=False).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_kernels_are_exact_slices_in_a_chain_of_pruned_convolutions():
    full = _network("vgg16")
    kept = _kept(full)
    small = structured.smaller_model(full, kept)
    expected = full.get_layer("conv2").get_weights()[0][:, :, kept["conv1"], :][..., kept["conv2"]]
    np.testing.assert_array_equal(small.get_layer("conv2").get_weights()[0], expected)
    gamma = full.get_layer("bn2").get_weights()[0][kept["conv2"]]
    np.testing.assert_array_equal(small.get_layer("bn2").get_weights()[0], gamma)
    output = full.get_layer("output").get_weights()[0][kept["conv13"], :]
    np.testing.assert_array_equal(small.get_layer("output").get_weights()[0], output)


def test_resnet_blocks_keep_the_first_convolutions_filters_and_the_second_reads_only_them():
    full = _network("resnet20")
    kept = _kept(full)
    small = structured.smaller_model(full, kept)
    a = full.get_layer("s2b1a_conv").get_weights()[0]
    b = full.get_layer("s2b1b_conv").get_weights()[0]
    np.testing.assert_array_equal(small.get_layer("s2b1a_conv").get_weights()[0], a[..., kept["s2b1a_conv"]])
    np.testing.assert_array_equal(small.get_layer("s2b1b_conv").get_weights()[0], b[:, :, kept["s2b1a_conv"], :])
    shortcut = full.get_layer("s2b1_shortcut").get_weights()[0]
    np.testing.assert_array_equal(small.get_layer("s2b1_shortcut").get_weights()[0], shortcut)


def test_choose_filters_keeps_the_largest_l1_norms():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 2, 8))
    kernel[..., [1, 6]] *= 10  # the two largest
    kernel[..., [0, 3]] *= 0.01  # the two smallest
    kept = structured.choose_filters({"conv": kernel}, 0.25)
    assert list(kept["conv"]) == [1, 2, 4, 5, 6, 7]
    with pytest.raises(ValueError, match=r"must be in \(0, 1\), got 1.0"):
        structured.choose_filters({"conv": kernel}, 1.0)


def test_fresh_weights_come_from_the_seed():
    full = _network("resnet20")
    kept = _kept(full)
    a, b = (structured.smaller_model(full, kept, seed=7) for _ in range(2))
    c = structured.smaller_model(full, kept, seed=8)
    sliced = structured.smaller_model(full, kept)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    assert not np.array_equal(a.get_layer("s1b1a_conv").get_weights()[0], c.get_layer("s1b1a_conv").get_weights()[0])
    assert not np.array_equal(a.get_layer("s1b1a_conv").get_weights()[0],
                              sliced.get_layer("s1b1a_conv").get_weights()[0])


def test_refuses_layers_that_cannot_lose_filters():
    full = _network("resnet20")
    with pytest.raises(ValueError, match="s1b1b_conv"):
        structured.smaller_model(full, {"s1b1b_conv": np.arange(4)})


def test_scratch_b_iterations_scale_with_flops_at_most_twice():
    assert structured.scratch_b_iterations(1000, 1.5) == 1500
    assert structured.scratch_b_iterations(1000, 3.7) == 2000


def test_epoch_seconds_times_both_networks():
    full = _network("vgg16")
    small = structured.smaller_model(full, _kept(full))
    times = structured.epoch_seconds({"dense": full, "structured": small}, examples=640, batch_size=32, steps=2,
                                     repeats=1)
    assert set(times) == {"dense", "structured"}
    assert all(t["seconds"] > 0 and t["cpu_seconds"] >= 0 for t in times.values())


def test_structured_run_round_trips_and_validates():
    parent = LotteryRun(DatasetHparams(name="fashion_mnist"), ModelHparams("vgg16", width=8),
                        TrainingHparams(optimizer="sgd", learning_rate=0.1), PruningHparams(scope="global"), 0, 0,
                        "ticket")
    desc = StructuredRun(parent, 0.5, "scratch_b", TrainingHparams(optimizer="sgd", iterations=2000))
    assert from_stored("structured", desc.to_dict()) == desc
    with pytest.raises(ValueError, match="method must be one of"):
        StructuredRun(parent, 0.5, "fine_tune", TrainingHparams())
    with pytest.raises(ValueError, match="level 0"):
        StructuredRun(parent.at(1), 0.5, "ticket", TrainingHparams())
    with pytest.raises(ValueError, match=r"fraction must be a float in \(0, 1\)"):
        StructuredRun(parent, 1.5, "ticket", TrainingHparams())
