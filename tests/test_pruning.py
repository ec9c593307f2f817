import numpy as np
import pytest

from lth import models, pruning


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"a": rng.normal(size=(30, 20)), "b": rng.normal(size=(20, 10))}


def _largest(values, n):
    """Mask of the ``n`` largest of ``values`` (all distinct), by a threshold rather than an argsort."""
    return values >= np.sort(values, axis=None)[-n]


def test_layerwise_sparsity_is_exact_per_layer():
    w = _weights()
    masks = {n: np.ones(v.shape, bool) for n, v in w.items()}
    for _ in range(5):
        kept = {n: m.sum() for n, m in masks.items()}
        masks = pruning.magnitude_masks(w, masks, 0.2, rate_factors={"b": 0.5})
        assert masks["a"].sum() == kept["a"] - round(0.2 * kept["a"])
        assert masks["b"].sum() == kept["b"] - round(0.1 * kept["b"])
    for n, v in w.items():  # the weights never changed, so the survivors are each layer's largest |w|
        assert masks[n].tolist() == _largest(np.abs(v), masks[n].sum()).tolist()


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
    # one ranking across both layers: the 200 largest |w| of all 800, wherever they are
    threshold = np.sort(np.concatenate([np.abs(v).ravel() for v in w.values()]))[-200]
    for n, v in w.items():
        assert masks[n].tolist() == (np.abs(v) >= threshold).tolist()
    assert masks["a"].sum() == 146 and masks["b"].sum() == 54  # not 150 / 50 as a layer-wise rule keeps


def test_masks_at_density_and_filters():
    w = _weights()
    masks = pruning.masks_at_density({n: np.abs(v) for n, v in w.items()}, 0.1)
    assert masks["a"].sum() == 60 and masks["b"].sum() == 20
    for n, v in w.items():
        assert masks[n].tolist() == _largest(np.abs(v), masks[n].sum()).tolist()
    conv = {"c": np.random.default_rng(0).normal(size=(3, 3, 4, 8))}
    fm = pruning.filter_masks(conv, 0.25)["c"]
    per_filter = fm.reshape(-1, 8).all(axis=0) | ~fm.reshape(-1, 8).any(axis=0)
    assert per_filter.all() and (~fm.reshape(-1, 8).any(axis=0)).sum() == 2
    # the two filters dropped are the two of smallest L1 norm (filters 0 and 5 of this kernel)
    l1 = np.abs(conv["c"]).sum(axis=(0, 1, 2))
    assert set(np.flatnonzero(~fm.any(axis=(0, 1, 2)))) == set(np.argsort(l1)[:2]) == {0, 5}


# Zhou et al.'s criteria on four weights, scored by hand: |w_i| = 2, 1, 0.5, 3 and |w_f| = 1.5, 4, 0.25, 3.5;
# the signs agree for the second and third weight only
W_INIT = np.array([2.0, -1.0, 0.5, -3.0])
W_FINAL = np.array([-1.5, -4.0, 0.25, 3.5])
HAND_SCORES = {
    "large_final": [1.5, 4, 0.25, 3.5],
    "small_final": [-1.5, -4, -0.25, -3.5],
    "large_init": [2, 1, 0.5, 3],
    "small_init": [-2, -1, -0.5, -3],
    "large_init_large_final": [1.5, 1, 0.25, 3],  # min(|w_i|, |w_f|)
    "small_init_small_final": [-2, -4, -0.5, -3.5],  # -max(|w_i|, |w_f|)
    "magnitude_increase": [-0.5, 3, -0.25, 0.5],  # |w_f| - |w_i|
    "movement": [3.5, 3, 0.25, 6.5],  # |w_f - w_i|
    "large_final_same_sign": [-np.inf, 4, 0.25, -np.inf],
}


@pytest.mark.parametrize("criterion", [c for c in pruning.CRITERIA if c != "random"])
def test_every_criterion_scores(criterion):
    assert set(HAND_SCORES) == set(pruning.CRITERIA) - {"random"}  # a new criterion needs its hand scores
    assert pruning.score(criterion, W_INIT, W_FINAL).tolist() == HAND_SCORES[criterion]


def test_random_criterion_ignores_the_weights():
    w_i, w_f = _weights(0)["a"], _weights(1)["a"]
    s = pruning.score("random", w_i, w_f, np.random.default_rng(5))
    assert s.shape == w_i.shape and s.min() >= 0 and s.max() < 1 and abs(s.mean() - 0.5) < 0.05
    assert np.array_equal(s, pruning.score("random", -w_f, 3 * w_i, np.random.default_rng(5)))
    assert not np.array_equal(s, pruning.score("random", w_i, w_f, np.random.default_rng(6)))


def test_pack_unpack_round_trip():
    masks = {"a": np.random.default_rng(0).random((7, 5)) > 0.5}
    packed = pruning.pack_masks(masks)
    assert packed["mask/a"].nbytes == 5 and packed["shape/a"].tolist() == [7, 5]  # 35 bits in 5 bytes
    back = pruning.unpack_masks(packed)
    assert np.array_equal(back["a"], masks["a"])


def test_set_masks_zeros_weights_and_reports_sparsity():
    model = pruning.wrap(models.build("lenet300", seed=0), ["fc1", "fc2", "output"])
    w = pruning.kernels(model)
    masks = pruning.masks_at_density({n: np.abs(v) for n, v in w.items()}, 0.2)
    pruning.set_masks(model, masks)
    for name, kernel in pruning.kernels(model).items():
        assert (kernel[~masks[name]] == 0).all()
        np.testing.assert_array_equal(kernel[masks[name]], w[name][masks[name]])  # the kept ones untouched
    assert pruning.sparsity_report(model) == [
        {"layer": name, "weights": size, "kept": round(0.2 * size), "density": round(0.2 * size) / size}
        for name, size in [("fc1", 784 * 300), ("fc2", 300 * 100), ("output", 100 * 10)]]


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
    assert {n: int(m.sum()) for n, m in masks.items()} == {"fc1": 47040, "fc2": 6000, "output": 200}
    assert pruning.density(masks) == (47040 + 6000 + 200) / 266200
    original = {layer.name: layer.kernel.numpy() for layer in net.layers if layer.name in masks}
    for name, kernel in pruning.kernels(wrapped).items():
        assert (kernel[~masks[name]] == 0).all()
        assert np.abs(original[name][masks[name]]).min() >= np.abs(original[name][~masks[name]]).max()
    with pytest.raises(ValueError, match="1.5"):
        pruning.wrap_at_density(net, ["fc1"], 1.5)
