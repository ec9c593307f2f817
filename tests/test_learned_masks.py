import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from lth import learned_masks, models, stacked, training
from lth.hparams import DatasetHparams, ModelHparams, TrainingHparams
from lth.runs import LearnedMaskRun, from_stored

QUICK = TrainingHparams(optimizer="sgd", learning_rate=100.0, momentum=0.9, batch_size=100, iterations=200,
                        eval_every=100, best_monitor="none")


def frozen(net) -> dict:
    return {w.name: w.numpy().copy() for w in net.weights if "scores" not in w.name and "draw" not in w.name}


@pytest.fixture(scope="module")
def trained(mnist_small):
    """LeNet-300-100's learned mask after 200 steps on 2,000 MNIST images, and its frozen weights before training."""
    net = learned_masks.scored_network("lenet300", 3, mnist_small.input_shape)
    before = frozen(net)
    result = training.train([training.Trainee(net, seed=1)], mnist_small, QUICK)[0]
    return net, before, result


def test_the_frozen_weights_are_the_models_initial_weights():
    plain = models.build("lenet300", seed=3)
    net = learned_masks.scored_network("lenet300", 3, (28, 28, 1))
    for name in ("fc1", "fc2", "output"):
        kernel, bias = plain.get_layer(name).get_weights()
        np.testing.assert_array_equal(net.get_layer(name).kernel.numpy(), kernel)
        np.testing.assert_array_equal(net.get_layer(name).bias.numpy(), bias)
    constant = learned_masks.scored_network("lenet300", 3, (28, 28, 1), weights="signed_constant")
    kernel = plain.get_layer("fc1").get_weights()[0]
    np.testing.assert_allclose(constant.get_layer("fc1").kernel.numpy(), np.sign(kernel) * kernel.std(), rtol=1e-6)
    assert [w.name for w in net.trainable_weights] == ["fc1/scores:0", "fc2/scores:0", "output/scores:0"]


def test_training_changes_the_scores_and_nothing_else(trained):
    net, before, result = trained
    after = frozen(net)
    assert before.keys() == after.keys() and len(after) == 6  # kernel and bias of three layers
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    assert all(np.abs(layer.scores.numpy()).max() > 0 for layer in learned_masks.scored_layers(net).values())
    assert result["engine"] == "graph"  # the scored layers never stack


def test_learned_mask_beats_chance_clearly(trained, mnist_small):
    net, _, result = trained
    accuracies = learned_masks.sampled_accuracies(net, mnist_small, 3)
    assert min(accuracies) > 0.6, accuracies  # chance: 10 %; the untrained network with every weight: about 10 %
    assert accuracies[0] == pytest.approx(result["test_accuracy"], abs=1e-6)  # draw 0 is the one training reports


def test_expected_density_follows_the_scores(mnist_small):
    net = learned_masks.scored_network("lenet300", 0, (28, 28, 1), score_init=0.0)
    assert learned_masks.expected_density(net)["all"] == pytest.approx(0.5)
    logits = {"fc1": -2.0, "fc2": 0.5, "output": 3.0}
    for name, layer in learned_masks.scored_layers(net).items():
        layer.scores.assign(tf.fill(layer.scores.shape, logits[name]))
    density = learned_masks.expected_density(net)
    sizes = {name: layer.scores.shape.num_elements() for name, layer in learned_masks.scored_layers(net).items()}
    for name, logit in logits.items():
        assert density[name] == pytest.approx(1 / (1 + np.exp(-logit)), rel=1e-6)
    expected_all = sum(sizes[n] / (1 + np.exp(-logits[n])) for n in sizes) / sum(sizes.values())
    assert density["all"] == pytest.approx(expected_all, rel=1e-6)
    # the masks drawn in training keep that share of the weights (binomial: 235,200 draws in fc1)
    layer = net.get_layer("fc1")
    kept = float(tf.reduce_mean(layer.mask(training=True)).numpy())
    assert kept == pytest.approx(density["fc1"], abs=5 * np.sqrt(density["fc1"] / sizes["fc1"]))


def test_draws_are_reproducible_and_distinct():
    net = learned_masks.scored_network("lenet300", 0, (28, 28, 1))
    layer = net.get_layer("fc2")
    first_eval, again = layer.mask(training=False).numpy(), layer.mask(training=False).numpy()
    np.testing.assert_array_equal(first_eval, again)  # evaluation draw 0 is always the same mask
    layer.eval_draw.assign(1)
    assert not np.array_equal(layer.mask(training=False).numpy(), first_eval)
    one, two = layer.mask(training=True).numpy(), layer.mask(training=True).numpy()
    assert not np.array_equal(one, two) and int(layer.draws.numpy()) == 2
    layer.draws.assign(0)
    np.testing.assert_array_equal(layer.mask(training=True).numpy(), one)  # the counter fixes the draw


def test_straight_through_gradient_reaches_the_scores():
    net = learned_masks.scored_network("lenet300", 0, (28, 28, 1))
    layer = net.get_layer("output")
    with tf.GradientTape() as tape:
        mask = layer.mask(training=True)
        total = tf.reduce_sum(mask * layer.kernel)
    grad = tape.gradient(total, layer.scores).numpy()
    p = 1 / (1 + np.exp(-layer.scores.numpy()))
    np.testing.assert_allclose(grad, layer.kernel.numpy() * p * (1 - p), rtol=1e-5)


def test_conv_network_and_refused_layers():
    net = learned_masks.scored_network("conv4", 0, (28, 28, 1), width=8)
    assert [type(layer).__name__ for layer in net.layers][:3] == ["ScoredConv2D", "ScoredConv2D", "MaxPooling2D"]
    plain = models.build("conv4", seed=0, input_shape=(28, 28, 1), width=8)
    x = tf.random.uniform((2, 28, 28, 1))
    for layer in learned_masks.scored_layers(net).values():
        layer.scores.assign(tf.fill(layer.scores.shape, 50.0))  # keep every weight: the plain network's output
    np.testing.assert_allclose(net(x, training=False).numpy(), plain(x).numpy(), rtol=1e-4, atol=1e-5)
    assert stacked.unsupported([training.Trainee(net, 0), training.Trainee(net, 1)], QUICK) is not None
    with pytest.raises(ValueError, match="Sequential"):
        learned_masks.scored_network("resnet20", 0, (28, 28, 1))


def test_learned_mask_run_description_round_trips_and_refuses_bad_values():
    desc = LearnedMaskRun(DatasetHparams(), ModelHparams(), QUICK, 2, weights="signed_constant")
    assert from_stored("learned_mask", desc.to_dict()) == desc
    with pytest.raises(ValueError, match="weights must be one of"):
        LearnedMaskRun(DatasetHparams(), ModelHparams(), QUICK, 0, weights="reshuffle")
    with pytest.raises(ValueError, match="eval_samples must be an int >= 1"):
        LearnedMaskRun(DatasetHparams(), ModelHparams(), QUICK, 0, eval_samples=0)


def test_job_stores_mean_over_draws_density_and_scores(store):
    from lth import jobs

    desc = LearnedMaskRun(DatasetHparams(subset=2000), ModelHparams(), dataclasses.replace(QUICK, iterations=100), 0,
                          eval_samples=3)
    run = jobs.run_jobs([learned_masks.job(desc)], store)[0]
    assert run.result["test_accuracy"] == pytest.approx(np.mean(run.result["test_accuracies"]))
    assert len(run.result["test_accuracies"]) == 3
    assert 0 < run.result["density"] < 1 and set(run.result["layer_density"]) == {"fc1", "fc2", "output"}
    assert run.arrays()["scores/fc1"].shape == (784, 300)
    assert run.provenance["engine"] == "graph"
