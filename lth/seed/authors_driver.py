"""The seed authors' procedure, run by plain Keras ``fit``, in whatever TensorFlow is installed.

This file is this project's own driver (not the authors' script): it repeats what their
published scripts do (repository Theys96/lottery-ticket-hypothesis, ``code/LotteryTicket_lr.py``
and ``code/LotteryTicket_baseline_lr.py``) so that the procedure can run unchanged in two
environments, the TensorFlow of early 2020 (Python 3.7, TF 2.1, TF-MOT 0.3; ``make legacy-env``)
and this project's main stack (TF 2.21 with ``tf_keras``). It therefore imports nothing from
``lth`` and keeps to Python 3.7 syntax; :mod:`lth.seed.screen` runs it in a subprocess and
stores what it prints.

The procedure, as in those scripts:

* the LeNet-5-like network with a softmax output and categorical cross-entropy on one-hot
  labels, raw uint8 pixels, Adam at ``learning_rate``;
* ``fit(x, y, epochs, steps_per_epoch=100, validation_data=test set)`` with no batch size,
  so Keras infers ceil(60,000 / 100) = 600 (``fit_batch_size`` passes one instead);
* ``dense``: early stop on ``val_accuracy`` (the test set), patience 20;
* ``pruning``: the two hidden dense layers wrapped in ``prune_low_magnitude`` with
  ``PolynomialDecay`` from 0 to 1 - density, from 20 % to 60 % of ``epochs`` * 100 steps,
  every 2 %; ``UpdatePruningStep``; no early stop. ``train_epochs`` < ``epochs`` stops ``fit``
  early while the schedule stays that of ``epochs`` (the first epochs of the authors' run).

Usage: ``python authors_driver.py SPEC_JSON OUT_JSON``; SPEC_JSON holds the keys of
:data:`SPEC_KEYS`. Progress goes to stderr, one line per epoch.
"""
import gzip
import json
import math
import os
import platform
import random
import sys
import time

import numpy as np

SPEC_KEYS = ("role", "density", "epochs", "train_epochs", "learning_rate", "fit_batch_size", "seed", "data_dir")
STEPS_PER_EPOCH = 100
PRUNING_BEGIN, PRUNING_END, PRUNING_EVERY = 0.2, 0.6, 0.02  # as lth.seed.schedule (a test checks they agree)
PATIENCE = 20
IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _keras():
    """Keras 2 as this TensorFlow has it: ``tf_keras`` on the main stack, ``tf.keras`` in TF 2.1."""
    import tensorflow as tf

    try:
        import tf_keras as keras
    except ImportError:
        keras = tf.keras
    return tf, keras


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist(data_dir):
    out = {}
    for split, (images, labels) in IDX_NAMES.items():
        found = []
        for name in (images, labels):
            candidates = [os.path.join(data_dir, name), os.path.join(data_dir, name + ".gz")]
            path = next((c for c in candidates if os.path.exists(c)), None)
            if path is None:
                raise FileNotFoundError("MNIST file {} not found in {}".format(name, data_dir))
            found.append(read_idx(path))
        out[split] = (found[0].reshape(-1, 28, 28, 1), found[1])
    return out


def build(spec):
    tf, keras = _keras()
    layers = keras.layers

    def dense(units, activation):
        layer = layers.Dense(units=units, activation=activation)
        if spec["role"] != "pruning":
            return layer
        from tensorflow_model_optimization.sparsity import keras as sparsity

        steps = spec["epochs"] * STEPS_PER_EPOCH
        schedule = sparsity.PolynomialDecay(
            initial_sparsity=0.0, final_sparsity=1.0 - spec["density"],
            begin_step=math.floor(PRUNING_BEGIN * steps), end_step=math.floor(PRUNING_END * steps),
            frequency=max(1, math.floor(PRUNING_EVERY * steps)))
        return sparsity.prune_low_magnitude(layer, pruning_schedule=schedule)

    model = keras.Sequential([
        layers.Conv2D(input_shape=(28, 28, 1), filters=6, kernel_size=(5, 5), padding="same", activation="relu"),
        layers.MaxPool2D(pool_size=(2, 2)),
        layers.Conv2D(filters=16, kernel_size=(5, 5), padding="valid", activation="relu"),
        layers.MaxPool2D(pool_size=(2, 2)),
        layers.Flatten(),
        dense(120, "relu"),
        dense(84, "relu"),
        layers.Dense(units=10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=spec["learning_rate"]),
                  loss=keras.losses.categorical_crossentropy, metrics=["accuracy"])
    return model


def masks_density(model):
    """Share of nonzero mask entries over the pruned layers (1.0 for an unwrapped model)."""
    kept = total = 0
    for weight in model.weights:
        if "mask" in weight.name:
            values = weight.numpy()
            kept += int(np.count_nonzero(values))
            total += values.size
    return kept / total if total else 1.0


def environment():
    import tensorflow as tf

    versions = {"python": platform.python_version(), "tensorflow": tf.__version__, "numpy": np.__version__}
    try:
        import tensorflow_model_optimization as tfmot
        versions["tensorflow-model-optimization"] = getattr(tfmot, "__version__", None)
    except ImportError:
        versions["tensorflow-model-optimization"] = None
    try:
        import tf_keras
        versions["keras"] = "tf_keras " + tf_keras.__version__
    except ImportError:
        versions["keras"] = "tf.keras " + tf.keras.__version__
    return versions


def run(spec):
    missing = [k for k in SPEC_KEYS if k not in spec]
    if missing:
        raise ValueError("spec lacks keys {}".format(missing))
    if spec["role"] not in ("dense", "pruning"):
        raise ValueError("role must be 'dense' or 'pruning', got {!r}".format(spec["role"]))
    tf, keras = _keras()
    random.seed(spec["seed"])
    np.random.seed(spec["seed"])
    tf.random.set_seed(spec["seed"])
    data = load_mnist(spec["data_dir"])
    x_train, y_train = data["train"][0], keras.utils.to_categorical(data["train"][1], 10)
    x_test, y_test = data["test"][0], keras.utils.to_categorical(data["test"][1], 10)
    model = build(spec)
    seen_batch = []
    epoch_times = []

    class Progress(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if not seen_batch and logs and "size" in logs:  # TF 2.1 reports the batch it used
                seen_batch.append(int(logs["size"]))

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.time() - self.started)
            left = (spec["train_epochs"] - epoch - 1) * sum(epoch_times) / len(epoch_times)
            sys.stderr.write("{} {} lr {} epoch {}/{}: loss {:.4f} acc {:.4f} val_acc {:.4f} ({:.1f} s, ~{:.0f} min left)\n"
                             .format(spec["role"], spec.get("density"), spec["learning_rate"], epoch + 1,
                                     spec["train_epochs"], logs["loss"], logs["accuracy"], logs["val_accuracy"],
                                     epoch_times[-1], left / 60))
            sys.stderr.flush()

    callbacks = [Progress()]
    if spec["role"] == "pruning":
        from tensorflow_model_optimization.sparsity import keras as sparsity
        callbacks.append(sparsity.UpdatePruningStep())
    else:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", min_delta=0, patience=PATIENCE,
                                                       mode="auto"))
    kwargs = {} if spec["fit_batch_size"] is None else {"batch_size": spec["fit_batch_size"]}
    started = time.time()
    history = model.fit(x=x_train, y=y_train, validation_data=(x_test, y_test), epochs=spec["train_epochs"],
                        steps_per_epoch=STEPS_PER_EPOCH, callbacks=callbacks, verbose=0, **kwargs).history
    curves = {"epoch": list(range(1, len(history["loss"]) + 1)),
              "train_loss": [float(v) for v in history["loss"]],
              "train_accuracy": [float(v) for v in history["accuracy"]],
              "val_loss": [float(v) for v in history["val_loss"]],
              "val_accuracy": [float(v) for v in history["val_accuracy"]],
              "seconds": [round(t, 3) for t in epoch_times]}
    return {"history": curves,
            "test_accuracy": curves["val_accuracy"][-1],  # the test set is the validation set, as the authors'
            "epochs_trained": len(curves["epoch"]),
            "final_density": masks_density(model),
            "batch_size_seen": seen_batch[0] if seen_batch else None,
            "wall_time_s": round(time.time() - started, 3),
            "environment": environment()}


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: authors_driver.py SPEC_JSON OUT_JSON\n")
        return 2
    with open(argv[1]) as f:
        spec = json.load(f)
    result = run(spec)
    with open(argv[2] + ".part", "w") as f:
        json.dump(result, f)
    os.replace(argv[2] + ".part", argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
