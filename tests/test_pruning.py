import numpy as np
import pytest

from lth import models, pruning


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"a": rng.normal(size=(30, 20)), "b": rng.normal(size=(20, 10))}


def test_layerwise_sparsity_is_exact_per_layer():
    w = _weights()
    masks = {n: np.ones(v.shape, bool) for n, v in w.items()}
    for _ in range(5):
        kept = {n: m.sum() for n, m in masks.items()}
        masks = pruning.magnitude_masks(w, masks, 0.2, rate_factors={"b": 0.5})
        assert masks["a"].sum() == kept["a"] - round(0.2 * kept["a"])
        assert masks["b"].sum() == kept["b"] - round(0.1 * kept["b"])


def test_magnitude_pruning_removes_smallest():
    w = {"a": np.array([[0.1, -5.0], [2.0, -0.01]])}
    mask = pruning.magnitude_masks(w, {"a": np.ones((2, 2), bool)}, 0.5)["a"]
    assert mask.tolist() == [[False, True], [True, False]]


def test_pruned_weights_stay_pruned_across_rounds():
    w = _weights()
    first = pruning.magnitude_masks(w, {n: np.ones(v.shape, bool) for n, v in w.items()}, 0.5)
    w2 = {n: v * 100 for n, v in _weights(1).items()}  # new weights would rank differently
    second = pruning.magnitude_masks(w2, first, 0.5)
    for n in w:
        assert not (second[n] & ~first[n]).any()


def test_global_scope_meets_total():
    w = _weights()
    masks = pruning.prune_masks({n: np.abs(v) for n, v in w.items()},
                                {n: np.ones(v.shape, bool) for n, v in w.items()}, 0.75, scope="global")
    assert sum(m.sum() for m in masks.values()) == 800 - 600


def test_masks_at_density_and_filters():
    w = _weights()
    masks = pruning.masks_at_density({n: np.abs(v) for n, v in w.items()}, 0.1)
    assert masks["a"].sum() == 60 and masks["b"].sum() == 20
    conv = {"c": np.random.default_rng(0).normal(size=(3, 3, 4, 8))}
    fm = pruning.filter_masks(conv, 0.25)["c"]
    per_filter = fm.reshape(-1, 8).all(axis=0) | ~fm.reshape(-1, 8).any(axis=0)
    assert per_filter.all() and (~fm.reshape(-1, 8).any(axis=0)).sum() == 2


@pytest.mark.parametrize("criterion", pruning.CRITERIA)
def test_every_criterion_scores(criterion):
    w_i, w_f = _weights(0)["a"], _weights(1)["a"]
    s = pruning.score(criterion, w_i, w_f, np.random.default_rng(0))
    assert s.shape == w_i.shape


def test_pack_unpack_round_trip():
    masks = {"a": np.random.default_rng(0).random((7, 5)) > 0.5}
    back = pruning.unpack_masks(pruning.pack_masks(masks))
    assert np.array_equal(back["a"], masks["a"])


def test_set_masks_zeros_weights_and_reports_sparsity():
    model = pruning.wrap(models.build("lenet300", seed=0), ["fc1", "fc2", "output"])
    w = pruning.kernels(model)
    masks = pruning.masks_at_density({n: np.abs(v) for n, v in w.items()}, 0.2)
    pruning.set_masks(model, masks)
    for name, kernel in pruning.kernels(model).items():
        assert (kernel[~masks[name]] == 0).all()
    report = {r["layer"]: r for r in pruning.sparsity_report(model)}
    assert report["fc1"]["kept"] == round(0.2 * 784 * 300)


@pytest.mark.parametrize("value", [1.5, 0, -0.1])
def test_bad_density(value):
    with pytest.raises(ValueError, match=f"density must be in \\(0, 1\\], got {value}"):
        pruning.check_density(value)


def test_bad_mask_shape():
    model = pruning.wrap(models.build("lenet300", seed=0), ["fc1"])
    with pytest.raises(ValueError, match="mask for fc1 has shape"):
        pruning.set_masks(model, {"fc1": np.ones((3, 3), bool)})


def test_wrap_unknown_layer():
    with pytest.raises(ValueError, match="cannot prune layers \\['fc9'\\]"):
        pruning.wrap(models.build("lenet300", seed=0), ["fc9"])


def test_wrap_at_density_keeps_the_largest_weights():
    net = models.build("lenet300", seed=0)
    wrapped = pruning.wrap_at_density(net, ["fc1", "fc2", "output"], 0.2)
    masks = pruning.get_masks(wrapped)
    assert pruning.density(masks) == pytest.approx(0.2, abs=1e-3)
    original = {layer.name: layer.kernel.numpy() for layer in net.layers if layer.name in masks}
    for name, kernel in pruning.kernels(wrapped).items():
        assert (kernel[~masks[name]] == 0).all()
        assert np.abs(original[name][masks[name]]).min() >= np.abs(original[name][~masks[name]]).max()
    with pytest.raises(ValueError, match="1.5"):
        pruning.wrap_at_density(net, ["fc1"], 1.5)
