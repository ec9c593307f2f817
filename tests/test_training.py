import subprocess
import sys

import numpy as np
import tensorflow as tf

from lth import models, native, optimizers, pruning, training
from lth.hparams import TrainingHparams

HP = TrainingHparams(iterations=60, eval_every=30, batch_size=32, best_monitor="val_loss")


def _ticket(seed, density=0.3):
    model = pruning.wrap(models.build("lenet300", seed=seed), ["fc1", "fc2", "output"])
    masks = pruning.masks_at_density({n: np.abs(v) for n, v in pruning.kernels(model).items()}, density)
    pruning.set_masks(model, masks)
    return model, masks


def test_fixed_mask_stays_fixed_and_pruned_weights_stay_zero(mnist_small):
    model, masks = _ticket(0)
    level = tf.get_logger().level
    result, = training.train([training.Trainee(model, seed=0, hold_masks=True)], mnist_small, HP)
    assert tf.get_logger().level == level  # quietened while training only
    assert result["engine"] == "graph" and result["native_ops"] is native.available()  # masked Adam where it runs
    assert all(np.array_equal(pruning.get_masks(model)[n], masks[n]) for n in masks)
    for name, kernel in pruning.kernels(model).items():
        assert (kernel[~masks[name]] == 0).all()
        assert (kernel[masks[name]] != 0).mean() > 0.99  # survivors did train


def test_many_models_in_one_graph_match_one_by_one(mnist_small):
    alone = []
    for seed in (1, 2):
        model, _ = _ticket(seed)
        training.train([training.Trainee(model, seed=seed, hold_masks=True)], mnist_small, HP)
        alone.append(model.get_weights())
    together = [_ticket(seed)[0] for seed in (1, 2)]
    training.train([training.Trainee(m, seed=s, hold_masks=True) for m, s in zip(together, (1, 2))],
                   mnist_small, HP)
    for single, model in zip(alone, together):
        for a, b in zip(single, model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_history_and_early_stopping(mnist_small):
    hp = TrainingHparams(iterations=3000, eval_every=10, batch_size=32, stop_monitor="val_loss", patience=2,
                         best_monitor="val_accuracy")
    model = models.build("lenet300", seed=0)
    result = training.train([training.Trainee(model, seed=0)], mnist_small, hp)[0]
    assert result["stopped_at"] < 3000
    assert result["history"]["iteration"][-1] == result["stopped_at"]
    assert result["best_iteration"] in result["history"]["iteration"]
    best = result["history"]["iteration"].index(result["best_iteration"])
    assert result["val_accuracy"] == np.float32(result["history"]["val_accuracy"][best]).item() or \
        abs(result["val_accuracy"] - result["history"]["val_accuracy"][best]) < 1e-6


def test_warmup_and_step_decay():
    schedule = optimizers.WarmupStepDecay(0.1, warmup=10, milestones=(20, 30), gamma=0.1)
    values = [float(schedule(s)) for s in (0, 9, 19, 20, 30)]
    np.testing.assert_allclose(values, [0.01, 0.1, 0.1, 0.01, 0.001], rtol=1e-6)


def test_batch_stream_covers_each_pass():
    stream = training.BatchStream(10, 5, seed=0)
    batch = stream.take(2)
    assert sorted(batch.ravel().tolist()) == list(range(10))


def test_importing_training_changes_no_global_state():
    """Importing lth.training, even with LTH_DETERMINISTIC=1 set, leaves TensorFlow's logger and op
    determinism alone (train applies LTH_DETERMINISTIC when it runs)."""
    script = ("import lth, tensorflow as tf\n"
              "from tensorflow.python.framework import config  # test only: no public getter\n"
              "level = tf.get_logger().level\n"
              "import lth.training, lth.engines\n"
              "assert tf.get_logger().level == level, tf.get_logger().level\n"
              "assert not config.is_op_determinism_enabled()\n"
              "print('unchanged')\n")
    env = dict(__import__("os").environ, LTH_DETERMINISTIC="1")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "unchanged" in done.stdout, done.stderr[-2000:]
