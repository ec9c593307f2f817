import numpy as np
import pytest

from lth import models, pruning


def test_lenet5_parameter_counts():
    d = models.describe("lenet5")
    assert d["total"] == 61706
    assert d["prunable_layers"] == {"fc1": 48120, "fc2": 10164}


def test_lenet300_parameter_count():
    assert models.describe("lenet300")["total"] == 266610


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_every_model_builds_and_outputs_logits(name):
    model = models.build(name, seed=0)
    x = np.zeros((2,) + models.spec(name).input_shape, np.float32)
    assert model(x).shape == (2, 10)
    assert models.prunable_layers(name, model)


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
    assert wrapped.count_params() > 61706
    assert models.count_weights(wrapped) == 61706
