"""Controls of the seed chapter for the faithful pruning networks (:class:`lth.runs.SeedControlRun`).

* :func:`keras_fit`: the pruning network trained by plain Keras ``fit`` instead of
  :mod:`lth.training`, from the same initial weights: if the two disagree, ``lth`` is wrong.
* :func:`unpruned`: the pruning networks' unpruned twins: is it pruning, or long training,
  that breaks them?
"""
from __future__ import annotations

import time

from lth import models, pruning, training
from lth.jobs import Job, load_data, plain_result, run_jobs
from lth.runs import SEED_MODEL, SeedControlRun, derive_seed
from lth.seed import protocol as seed_protocol
from lth.seed.schedule import STEPS_PER_EPOCH, pruning_schedule
from lth.store import ResultsStore, provenance


def describe(control: str, protocol: str, trial: int, epochs: int, density: float = 0.5,
             subset: int | None = None) -> SeedControlRun:
    """The control ``control`` of the pruning network of (``protocol``, ``trial``, ``density``)."""
    seed_protocol.check(protocol, density, epochs)
    return SeedControlRun(control=control, protocol=protocol, trial=trial, density=float(density),
                          dataset=seed_protocol.dataset(protocol, subset),
                          training=seed_protocol.training_hparams(protocol, "pruning", epochs))


def keras_fit(density: float = 0.5, trial: int = 0, epochs: int = 500, subset: int | None = None,
              store: ResultsStore | None = None, run_missing: bool = True):
    """The faithful pruning network trained the authors' way, by plain Keras ``fit``; stored once.

    Same initial weights as the ``lth`` run of this density and trial; ``fit`` with
    ``steps_per_epoch=100`` and no batch size (so batches of 600), the test set as
    validation data and TF-MOT's ``UpdatePruningStep`` callback, as in the authors'
    script. The loss is this package's (logits and a sparse cross-entropy, not the authors'
    softmax and one-hot labels: :mod:`lth.seed.authors_driver` has theirs), and Keras
    shuffles with its own generator. With ``run_missing=False`` returns the stored run or None.
    """
    import tensorflow as tf
    import tf_keras as keras

    store = store or ResultsStore()
    desc = describe("keras_fit", "faithful", trial, epochs, density, subset)
    stored = store.load(desc.kind, desc.to_dict())
    if stored is not None or not run_missing:
        return stored
    data = load_data(desc.dataset)
    seed = seed_protocol.init_seed(trial, density)
    net = models.build(SEED_MODEL, seed=seed, input_shape=data.input_shape)
    net = pruning.wrap(net, models.prunable_layers(SEED_MODEL, net), pruning_schedule(density, epochs * STEPS_PER_EPOCH))
    net.compile(optimizer=keras.optimizers.Adam(learning_rate=desc.training.learning_rate),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    tf.random.set_seed(derive_seed("seed-protocol-keras-control", trial, density))
    started, cpu_started = time.time(), time.process_time()
    history = net.fit(data.features(data.train), data.train.y, epochs=epochs, steps_per_epoch=STEPS_PER_EPOCH,
                      validation_data=(data.features(data.validation), data.validation.y),
                      callbacks=[pruning.sparsity_api.UpdatePruningStep()], verbose=0).history
    loss, accuracy = net.evaluate(data.features(data.test), data.test.y, batch_size=1000, verbose=0)
    result = {"history": {"iteration": [STEPS_PER_EPOCH * (i + 1) for i in range(len(history["loss"]))],
                          "train_loss": history["loss"], "train_accuracy": history["accuracy"],
                          "val_loss": history["val_loss"], "val_accuracy": history["val_accuracy"]},
              "test_loss": float(loss), "test_accuracy": float(accuracy),
              "final_density": pruning.density(pruning.get_masks(net)), "engine": "keras_fit"}
    record = provenance(seed, time.time() - started) | {
        "group_size": 1, "engine": "keras_fit", "native_ops": False,
        "cpu_time_s": round(time.process_time() - cpu_started, 3)}
    return store.save(desc.kind, desc.to_dict(), result, record)


def unpruned(protocol: str = "faithful", trials=range(3), epochs: int = 500, density: float = 0.5,
             subset: int | None = None, store: ResultsStore | None = None, run_missing: bool = True,
             group_size: int = 4, progress=None) -> list:
    """The pruning networks' unpruned twins: is it pruning, or long training, that breaks them?

    For each trial, the pruning network at ``density`` trained exactly as it was (same initial
    weights, same data order, same optimiser, all ``epochs`` without early stopping) but never
    pruned. If the twins collapse too, training this long at this learning rate, not pruning,
    breaks the network. The twins of several trials train together, ``group_size`` at a time.
    With ``run_missing=False`` returns only the stored twins (missing ones left out).
    """
    store = store or ResultsStore()
    batch = [unpruned_job(describe("unpruned", protocol, trial, epochs, density, subset)) for trial in trials]
    if run_missing:
        run_jobs(batch, store, group_size, progress)
    return [run for job in batch if (run := store.load(job.kind, job.config)) is not None]


def unpruned_job(desc: SeedControlRun) -> Job:
    """The job of one unpruned twin: its pruning network's initial weights and data order, no pruning."""
    if desc.control != "unpruned":
        raise ValueError(f"not an unpruned twin: control {desc.control!r}")
    seed = seed_protocol.init_seed(desc.trial, desc.density)

    def build():
        net = models.build(SEED_MODEL, seed=seed, input_shape=load_data(desc.dataset).input_shape)
        return training.Trainee(net, seed=seed_protocol.data_seed(desc.protocol, "pruning", desc.trial, desc.density),
                                name=f"{desc.protocol}-unpruned-{desc.density}-{desc.trial}", hparams=desc.training)

    return Job(desc, desc.dataset, desc.training, build, plain_result, seed)
