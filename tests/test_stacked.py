"""The stacked engine trains K networks exactly as the graph engine (and so as one by one) does."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from lth import engines, models, native, optimizers, pruning, stacked, training
from lth.hparams import TrainingHparams

needs_native = pytest.mark.skipif(not native.available(),
                                  reason=f"lth.native does not run here: {native.unavailable_reason()}")

HP = TrainingHparams(iterations=40, eval_every=20, batch_size=32)


def _trainees(name, k=3, density=0.3, hparams=None):
    out = []
    for i in range(k):
        net = models.build(name, seed=i)
        wrapped = pruning.wrap_at_density(net, models.prunable_layers(name, net), density)
        out.append(training.Trainee(wrapped, seed=i, hold_masks=i % 2 == 0, name=f"{name}-{i}", hparams=hparams))
    return out


@pytest.mark.parametrize("name, native_op, engine", [
    ("lenet300", False, "stacked"), pytest.param("lenet5", True, "stacked", marks=needs_native),
    ("lenet5", False, "stacked"), ("lenet300", False, "stacked-xla"), ("lenet5", False, "stacked-xla")])
def test_stacked_matches_graph_engine(mnist_small, name, native_op, engine, monkeypatch):
    """LeNet-5's convolutions run as lth.native's fused ops where they can, else as TensorFlow's ops
    (compiled by XLA in ``stacked-xla``): all match the graph engine."""
    monkeypatch.setenv("LTH_NATIVE", "1" if native_op else "0")
    native.unavailable_reason.cache_clear()
    runs = {}
    try:
        for name_of_engine in ("graph", engine):
            trainees = _trainees(name)
            results = training.train(trainees, mnist_small, HP, engine=name_of_engine)
            assert [r["engine"] for r in results] == [name_of_engine] * 3
            assert {r["native_ops"] for r in results} == {native_op}  # masked Adam in both, convolutions stacked
            runs[name_of_engine] = (results, trainees)
    finally:
        native.unavailable_reason.cache_clear()
    (graph_results, graph), (stacked_results, stack) = runs["graph"], runs[engine]
    for g, s, gr, sr in zip(graph, stack, graph_results, stacked_results):
        for a, b in zip(g.model.get_weights(), s.model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
        masks = pruning.get_masks(s.model)
        assert all(np.array_equal(masks[n], pruning.get_masks(g.model)[n]) for n in masks)
        for n, kernel in pruning.kernels(s.model).items():
            assert (kernel[~masks[n]] == 0).all()
        assert [int(l.pruning_step.numpy()) for l in s.wrapped] == [int(l.pruning_step.numpy()) for l in g.wrapped]
        np.testing.assert_allclose(gr["history"]["val_loss"], sr["history"]["val_loss"], rtol=1e-4)


def _scheduled_trainees(name, k=3, hparams=None):
    """Networks whose TF-MOT schedules re-prune them every 5 steps (as the faithful retraining does)."""
    out = []
    for i in range(k):
        net = models.build(name, seed=i)
        schedule = pruning.polynomial_decay(0.3, initial_density=0.3, begin_step=1, end_step=40, frequency=5)
        wrapped = pruning.wrap(net, models.prunable_layers(name, net), schedule)
        pruning.set_masks(wrapped, pruning.masks_at_density(
            {n: np.abs(w) for n, w in pruning.kernels(wrapped).items()}, 0.3))
        out.append(training.Trainee(wrapped, seed=i, name=f"{name}-scheduled-{i}", hparams=hparams))
    return out


@pytest.mark.parametrize("optimizer, make", [("adam", _trainees), ("sgd", _trainees), ("adam", _scheduled_trainees)])
def test_restacking_carries_optimizer_state(mnist_small, optimizer, make):
    """Networks leaving the stack: the rest go on exactly as in the graph engine (masks, steps and all)."""
    hp = TrainingHparams(optimizer=optimizer, learning_rate=0.01, iterations=40, eval_every=20, batch_size=32)
    x, y = tf.constant(mnist_small.features(mnist_small.train)), tf.constant(mnist_small.train.y)
    finals = {}
    for engine in ("graph", "stacked"):
        trainees = make("lenet300", k=3, hparams=hp)
        graphs = engines.create(engine, trainees, x, y, hp)
        streams = [training.BatchStream(len(y), 32, t.seed) for t in trainees]
        for active in [(0, 1, 2), (0, 2), (2,)]:
            graphs.chunk(active)(tf.constant(np.stack([streams[i].take(10) for i in active])))
            graphs.sync(active, 10)
        finals[engine] = [(t.model.get_weights(), pruning.get_masks(t.model),
                           [int(layer.pruning_step.numpy()) for layer in t.wrapped]) for t in trainees]
    for (g, g_masks, g_steps), (s, s_masks, s_steps) in zip(finals["graph"], finals["stacked"]):
        for a, b in zip(g, s):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        assert all(np.array_equal(g_masks[n], s_masks[n]) for n in g_masks) and g_steps == s_steps
    assert [steps for _, _, steps in finals["stacked"]] == [[20] * 3, [10] * 3, [30] * 3]


def test_what_does_not_stack():
    assert stacked.unsupported(_trainees("lenet300", k=2), HP) is None
    vgg = [training.Trainee(models.build("vgg16", seed=i, input_shape=(32, 32, 3)), seed=i) for i in range(2)]
    assert "Sequential" in stacked.unsupported(vgg, HP)
    layers = keras.layers
    dropout = [training.Trainee(keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(10),
                                                  layers.Dropout(0.5), layers.Dense(10)]), seed=i) for i in range(2)]
    assert "Dropout" in stacked.unsupported(dropout, HP)
    assert stacked.unsupported([training.Trainee(models.build("conv2", seed=0), seed=0)], HP) is None
    mixed = [training.Trainee(models.build("lenet300", seed=0), seed=0),
             training.Trainee(models.build("lenet5", seed=0), seed=1)]
    assert "architecture" in stacked.unsupported(mixed, HP)
    schedule = pruning.polynomial_decay(0.5, begin_step=200, end_step=600, frequency=20)
    moving = [training.Trainee(pruning.wrap(models.build("lenet5", seed=0), ["fc1", "fc2"], schedule), seed=0)]
    assert stacked.unsupported(moving, HP) is None
    net = models.build("lenet5", seed=0)
    blocks = keras.models.clone_model(net, clone_function=lambda layer: pruning.sparsity_api.prune_low_magnitude(
        layer.__class__.from_config(layer.get_config()), block_size=(2, 2)) if layer.name == "fc1"
        else layer.__class__.from_config(layer.get_config()))
    assert "blocks" in stacked.unsupported([training.Trainee(blocks, seed=0)], HP)
    differ = _trainees("lenet300", k=2)
    differ[1].hparams = TrainingHparams(learning_rate=0.5, iterations=40, eval_every=20, batch_size=32)
    assert "optimiser" in stacked.unsupported(differ, HP)
    assert engines.choose_engine(differ, HP) == "graph"
    with pytest.raises(ValueError, match="cannot train stacked: .*optimiser"):
        engines.choose_engine(differ, HP, "stacked")
    with pytest.raises(ValueError, match="cannot train stacked-xla: .*optimiser"):
        engines.choose_engine(differ, HP, "stacked-xla")
    with pytest.raises(ValueError, match="'turbo'.*known"):
        engines.choose_engine(moving, HP, "turbo")
    assert engines.choose_engine(_trainees("lenet300", k=2), HP, "stacked-xla") == "stacked-xla"


def test_scheduled_masks_match_tf_mot_in_the_graph_engine(mnist_small):
    """Pruning networks (masks recomputed by TF-MOT schedules) stacked with fixed-mask networks:
    the same masks, thresholds, pruning steps and weights as TF-MOT's own wrappers in the graph engine."""
    # a small learning rate: Adam turns float round-off between the engines (another summation
    # order with two threads) into weight differences that grow with the learning rate
    hp = TrainingHparams(learning_rate=0.002, iterations=60, eval_every=20, batch_size=32)
    runs = {}
    for engine in ("graph", "stacked"):
        trainees = []
        for i, final in enumerate([0.3, 0.1, None]):
            net = models.build("lenet5", seed=i)
            layers = models.prunable_layers("lenet5", net)
            if final is None:  # a fixed-mask network in the same stack
                trainees.append(training.Trainee(pruning.wrap_at_density(net, layers, 0.5), seed=i, hold_masks=True))
            else:  # prunes at steps 10, 15, ..., 40: inside chunks and at a chunk boundary
                schedule = pruning.polynomial_decay(final, begin_step=10, end_step=40, frequency=5)
                trainees.append(training.Trainee(pruning.wrap(net, layers, schedule), seed=i))
        results = training.train(trainees, mnist_small, hp, engine=engine)
        assert {r["engine"] for r in results} == {engine}
        runs[engine] = (results, trainees)
    (graph_results, graph), (stacked_results, stack) = runs["graph"], runs["stacked"]
    for g, s, gr, sr in zip(graph, stack, graph_results, stacked_results):
        masks, graph_masks = pruning.get_masks(s.model), pruning.get_masks(g.model)
        for name in masks:
            assert np.array_equal(masks[name], graph_masks[name]), name
        for gl, sl in zip(g.wrapped, s.wrapped):
            assert int(sl.pruning_step.numpy()) == int(gl.pruning_step.numpy()) == 60
            np.testing.assert_allclose(sl.pruning_vars[0][2].numpy(), gl.pruning_vars[0][2].numpy(), rtol=1e-4)
        for a, b in zip(g.model.get_weights(), s.model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=3e-4)
        np.testing.assert_allclose(gr["history"]["val_loss"], sr["history"]["val_loss"], rtol=1e-3)
    assert [round(pruning.density(pruning.get_masks(t.model)), 2) for t in stack] == [0.3, 0.1, 0.5]


@pytest.mark.parametrize("activation, pools_first", [("relu", True), ("tanh", False)])
def test_max_pool_moves_before_bias_and_relu_only_when_exact(activation, pools_first):
    def build(seed):
        keras.utils.set_random_seed(seed)
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(3, 3, padding="same", activation=activation),
                                 keras.layers.MaxPool2D(2), keras.layers.Flatten(), keras.layers.Dense(4)])
    nets = [build(seed) for seed in (0, 1)]
    for net in nets:  # biases far from zero, so bias-before-pool and bias-after-pool would differ if wrong
        net.layers[0].bias.assign(np.array([-0.5, 0.0, 0.5], "float32"))
    net = stacked.StackedNetwork(nets)
    assert (net._pool_first(0) is not None) == pools_first
    x = np.random.default_rng(0).standard_normal((2, 5, 8, 8, 1)).astype("float32")
    logits = net(tf.constant(x)).numpy()
    for i, model in enumerate(nets):
        np.testing.assert_allclose(logits[i], model(x[i]).numpy(), atol=1e-5)


@pytest.mark.parametrize("optimizer, masked, native_op", [
    ("adam", False, False), ("sgd", False, False), pytest.param("adam", True, True, marks=needs_native),
    ("adam", True, False), ("sgd", True, False), pytest.param("sgd", True, True, marks=needs_native)])
def test_fused_update_is_the_optimizers_own_step(optimizer, masked, native_op):
    """apply_gradients (with masks and native_adam: lth.native's masked Adam) equals the optimiser's
    own step followed by the mask multiply."""
    hp = TrainingHparams(optimizer=optimizer, learning_rate=0.05, momentum=0.9, warmup_iterations=3,
                         lr_milestones=(4,), lr_gamma=0.5)
    rng = np.random.default_rng(0)
    start = [rng.standard_normal((3, 4)).astype("float32"), rng.standard_normal(4).astype("float32")]
    grads = [[tf.constant(rng.standard_normal(w.shape).astype("float32")) for w in start] for _ in range(6)]
    masks = [tf.constant((rng.random((3, 4)) < 0.5).astype("float32")), None] if masked else None
    finals = []
    for fused in (False, True):
        variables = [tf.Variable(w) for w in start]
        opt = optimizers.make_optimizer(hp)
        opt.build(variables)
        assert optimizers.fused_update_applies(opt)
        for g in grads:
            if fused:
                optimizers.apply_gradients(opt, g, variables, masks, native_adam=native_op)
            else:
                opt.apply_gradients(zip(g, variables))
                if masked:
                    variables[0].assign(variables[0] * masks[0])
        finals.append(([v.numpy() for v in variables], [v.numpy() for v in opt.variables]))
    (weights, slots), (fused_weights, fused_slots) = finals
    for a, b in zip(weights + slots, fused_weights + fused_slots):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if masked:
        assert (fused_weights[0][masks[0].numpy() == 0] == 0).all()
        with pytest.raises(ValueError, match="1 masks for 2 variables"):
            optimizers.apply_gradients(opt, grads[0], variables, masks[:1])
        with pytest.raises(TypeError, match="native_adam must be True or False, got 1"):
            optimizers.apply_gradients(opt, grads[0], variables, masks, native_adam=1)
    assert not optimizers.fused_update_applies(keras.optimizers.Adam(amsgrad=True))


def test_scheduled_pruned_weights_move_between_mask_updates(mnist_small):
    """Under a TF-MOT schedule a pruned weight is zeroed before each forward pass, not after the
    optimiser step: it moves with its gradient in between (and may re-enter the mask when the
    schedule next fires). The stacked engine keeps that, step by step, as the graph engine does."""
    hp = TrainingHparams(learning_rate=0.01, iterations=2, eval_every=2, batch_size=32)
    x, y = tf.constant(mnist_small.features(mnist_small.train)), tf.constant(mnist_small.train.y)
    kernels = {}
    for engine in ("graph", "stacked"):
        net = models.build("lenet300", seed=0)
        schedule = pruning.polynomial_decay(0.4, initial_density=0.5, begin_step=1, end_step=2, frequency=1)
        trainee = training.Trainee(pruning.wrap(net, models.prunable_layers("lenet300", net), schedule), seed=0)
        pruning.set_masks(trainee.model, pruning.masks_at_density(
            {n: np.abs(k) for n, k in pruning.kernels(trainee.model).items()}, 0.5))
        graphs = engines.create(engine, [trainee], x, y, hp)
        batches = training.BatchStream(len(y), 32, 0)
        run = graphs.chunk((0,))
        steps = []
        for _ in range(2):  # one step per call, no sync: the weights as the optimiser left them
            run(tf.constant(batches.take(1)[None]))
            layer = trainee.wrapped[0]
            kernel = graphs.net.layers[1].kernel[0] if engine == "stacked" else layer.pruning_vars[0][0]
            mask = graphs.net.layers[1].mask[0] if engine == "stacked" else layer.pruning_vars[0][1]
            steps.append((kernel.numpy().copy(), mask.numpy().astype(bool)))
        kernels[engine] = steps
    for (graph_kernel, graph_mask), (stacked_kernel, stacked_mask) in zip(kernels["graph"], kernels["stacked"]):
        assert np.array_equal(graph_mask, stacked_mask)
        assert (graph_kernel[~graph_mask] != 0).mean() > 0.5  # pruned weights moved after the step
        np.testing.assert_allclose(graph_kernel, stacked_kernel, rtol=1e-4, atol=1e-5)
    (_, before), (_, after) = kernels["graph"]
    assert before.mean() == pytest.approx(0.5, abs=1e-3) and after.mean() == pytest.approx(0.4, abs=1e-3)


@pytest.mark.parametrize("name", ["lenet300", "lenet5"])
def test_shared_input_gives_each_networks_logits(name):
    """Evaluation feeds one batch to all K networks: the first layer runs once for all of them."""
    nets = [pruning.wrap_at_density(models.build(name, seed=i), models.prunable_layers(name, models.build(name, seed=i)),
                                    0.4) for i in range(3)]
    net = stacked.StackedNetwork(nets)
    x = np.random.default_rng(0).random((5, 28, 28, 1)).astype("float32")
    shared = net(tf.constant(x), shared=True).numpy()
    broadcast = net(tf.constant(np.broadcast_to(x, (3,) + x.shape))).numpy()
    assert shared.shape == (3, 5, 10)
    np.testing.assert_allclose(shared, broadcast, rtol=1e-5, atol=1e-5)
    for i, model in enumerate(nets):
        np.testing.assert_allclose(shared[i], model(x).numpy(), rtol=1e-4, atol=1e-5)
