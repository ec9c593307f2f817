"""The seed paper's own experiment (Havinga & Sawhney 2020, Sec. 3 and 4.3), as sweep tasks.

Four models per density, on the authors' LeNet-5-like net and MNIST:

* ``dense``: the original, trained alone;
* ``pruning``: the pruning network, TF-MOT polynomial decay from density 1 to the target
  on the authors' schedule (:mod:`lth.seed.schedule`); never early-stops;
* ``ticket``: the original initial weights with the learned masks, retrained;
* ``random``: fresh random weights with the same masks, retrained.
* ``random_mask``: not one of the paper's models but the random-pruning baseline every pruning result
  is set beside (Blalock et al. 2020): the original initial weights, as the ticket, under a random mask
  with as many weights per layer as the learned one, retrained as the ticket is.

The authors' code calls ``fit`` with ``steps_per_epoch=100`` and no batch size; Keras then
infers the batch size as ceil(60,000 / 100) = 600, so each of their "epochs" is one full
pass over MNIST in 100 steps of 600 images (not Keras' default batch of 32). Every
protocol uses that batch size.

The protocols (:data:`SPECS`):

* ``faithful``, as the authors' public code ran it: raw pixels; Adam 0.01; the test set is
  the validation set; the dense model early-stops on it; the retrained models are wrapped
  again in a pruning schedule at the target sparsity, so TF-MOT recomputes their masks
  from 20 % to 60 % of training; they early-stop on training accuracy (patience 20 "epochs").
* ``corrected``: masks held fixed (pruned weights stay exactly zero); 5,000 training images
  held out for validation; every early stop and model choice uses validation accuracy; the
  test set is used once, for the final number.
* ``faithful-lr0.001``: ``faithful`` at Adam's default learning rate, 0.001.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lth import models, pruning, training
from lth.hparams import DatasetHparams, TrainingHparams
from lth.jobs import Job, dispatch, load_data, run_jobs
from lth.runs import SEED_MODEL as MODEL_NAME
from lth.runs import SEED_ROLES as MODELS
from lth.runs import SeedRun, derive_seed
from lth.seed.schedule import STEPS_PER_EPOCH, pruning_schedule
from lth.store import ResultsStore


@dataclass(frozen=True)
class ProtocolSpec:
    """What distinguishes one protocol from another."""

    learning_rate: float
    test_as_validation: bool  # the authors' flaw: early stopping and model choice on the test set
    masks: str  # "tfmot_schedule": TF-MOT keeps re-pruning the retrained models (the authors); "fixed"

    def __post_init__(self):
        if self.masks not in MASK_MODES:
            raise ValueError(f"ProtocolSpec.masks must be one of {list(MASK_MODES)}, got {self.masks!r}")


MASK_MODES = ("tfmot_schedule", "fixed")


SPECS = {"faithful": ProtocolSpec(learning_rate=0.01, test_as_validation=True, masks="tfmot_schedule"),
         "corrected": ProtocolSpec(learning_rate=0.01, test_as_validation=False, masks="fixed"),
         # the faithful protocol at Adam's default rate: the configuration the seed-fidelity screen points to
         # (lth.seed.screen; the chapter's screen section gives the evidence and its verdicts)
         "faithful-lr0.001": ProtocolSpec(learning_rate=0.001, test_as_validation=True, masks="tfmot_schedule")}
PROTOCOLS = tuple(SPECS)
DENSITIES = (0.5, 0.33, 0.2, 0.1, 0.05, 0.02, 0.01)
RETRAINED = ("ticket", "random", "random_mask")  # the models retrained under a pruning network's masks
BATCH_SIZE = 600  # what Keras inferred for the authors' fit(steps_per_epoch=100) on 60,000 images
PATIENCE = 20


def keras_inferred_batch_size(n_images: int = 60_000, steps_per_epoch: int = STEPS_PER_EPOCH) -> int:
    """The batch size tf_keras' ``fit`` uses for in-memory arrays given ``steps_per_epoch`` and no ``batch_size``.

    Measured, not computed: one step of a one-weight model on ``n_images`` dummy rows,
    recording the batch it is handed.
    """
    import tensorflow as tf
    import tf_keras as keras

    seen = []

    class Recorder(keras.Model):
        def train_step(self, data):
            x, _ = data
            seen.append(int(x.shape[0]) if x.shape[0] is not None else int(tf.shape(x)[0]))
            return {}

    inputs = keras.Input((1,))
    model = Recorder(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    x = np.zeros((n_images, 1), np.float32)
    model.fit(x, x, steps_per_epoch=steps_per_epoch, epochs=1, verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=lambda *a: setattr(model, "stop_training", True))])
    return seen[0]


def check(protocol: str, density: float | None = None, epochs: int | None = None) -> None:
    if protocol not in SPECS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {list(PROTOCOLS)}")
    if density is not None:
        pruning.check_density(density)
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")


def dataset(protocol: str, subset: int | None = None) -> DatasetHparams:
    check(protocol)
    return DatasetHparams(name="mnist", scale="raw", validation="test" if SPECS[protocol].test_as_validation
                          else "holdout", subset=subset)


def training_hparams(protocol: str, role: str, epochs: int, batch_size: int = BATCH_SIZE) -> TrainingHparams:
    """The protocol's Adam, batch 600 (or ``batch_size``), 100-step epochs; stopping rules per role and protocol."""
    check(protocol, epochs=epochs)
    base = dict(optimizer="adam", learning_rate=SPECS[protocol].learning_rate, batch_size=batch_size,
                iterations=epochs * STEPS_PER_EPOCH, eval_every=STEPS_PER_EPOCH,
                stop_monitor="none", best_monitor="none", patience=PATIENCE)
    if role == "pruning":
        return TrainingHparams(**base)
    if SPECS[protocol].test_as_validation:  # as the authors: dense on validation (= test), retrained on train
        return TrainingHparams(**base | {"stop_monitor": "val_accuracy" if role == "dense" else "train_accuracy"})
    return TrainingHparams(**base | {"stop_monitor": "val_accuracy", "best_monitor": "val_accuracy"})


def describe(protocol: str, role: str, trial: int, epochs: int, density: float | None = None,
             subset: int | None = None, batch_size: int = BATCH_SIZE) -> SeedRun:
    """The description (what the store hashes) of one run of the experiment."""
    check(protocol, density, epochs)
    if role not in MODELS:
        raise ValueError(f"unknown model role {role!r}; known: {list(MODELS)}")
    return SeedRun(protocol=protocol, role=role, trial=trial, density=None if role == "dense" else float(density),
                   dataset=dataset(protocol, subset), training=training_hparams(protocol, role, epochs, batch_size))


def init_seed(trial: int, density: float) -> int:
    """The initial weights of the pruning network (and so of its ticket) of ``trial`` at ``density``."""
    return derive_seed("seed-protocol-init", trial, density)


def data_seed(protocol: str, role: str, trial: int, density) -> int:
    return derive_seed("seed-protocol-data", protocol, role, trial, density)


def _stored(store: ResultsStore, desc: SeedRun):
    return store.load(desc.kind, desc.to_dict())


def job(desc: SeedRun, store: ResultsStore) -> Job | None:
    """The job of one run; None while the pruning network whose masks it needs is not stored."""
    protocol, role, trial, density = desc.protocol, desc.role, desc.trial, desc.density
    total_steps = desc.training.iterations
    mask = None
    if role in RETRAINED:
        parent = _stored(store, describe(protocol, "pruning", trial, desc.epochs, density, desc.dataset.subset,
                                         desc.training.batch_size))
        if parent is None:
            return None
        mask = pruning.unpack_masks(parent.arrays())
        if role == "random_mask":  # as many weights per layer as the learned mask, in random places
            mask = pruning.random_masks_like(mask, np.random.default_rng(
                derive_seed("seed-protocol-random-mask", trial, density)))
    seed = {"dense": derive_seed("seed-protocol-dense", trial),
            "random": derive_seed("seed-protocol-random", trial, density)}.get(role, init_seed(trial, density))

    def build():
        net = models.build(MODEL_NAME, seed=seed, input_shape=load_data(desc.dataset).input_shape)
        layers = models.prunable_layers(MODEL_NAME, net)
        hold = False
        if role == "pruning":
            net = pruning.wrap(net, layers, pruning_schedule(density, total_steps))
        elif role in RETRAINED:
            if SPECS[protocol].masks == "tfmot_schedule":  # as the authors: a schedule at the target keeps re-pruning
                schedule = pruning_schedule(density, total_steps, initial_density=density)
            else:
                schedule, hold = pruning.FixedMask(), True
            net = pruning.wrap(net, layers, schedule)
            pruning.set_masks(net, mask)
        return training.Trainee(net, seed=data_seed(protocol, role, trial, density), hold_masks=hold,
                                name=f"{protocol}-{role}-{density}-{trial}", hparams=desc.training)

    def finish(trainee, result):
        arrays = None
        masks = pruning.get_masks(trainee.model)
        if masks:
            result = result | {"final_density": pruning.density(masks),
                               "mask_changed": bool(mask is not None and any(
                                   not np.array_equal(mask[n], masks[n]) for n in masks))}
            if role == "pruning":
                arrays = pruning.pack_masks(masks)
        return result, arrays

    group_training = training_hparams(protocol, "pruning", desc.epochs, desc.training.batch_size)
    return Job(desc, desc.dataset, group_training, build, finish, seed)


def jobs(protocols=PROTOCOLS, densities=DENSITIES, trials=range(5), epochs=500, subset=None, store=None,
         stage="all", batch_size=BATCH_SIZE) -> list[Job]:
    """The jobs whose inputs are stored: stage 1 = dense + pruning, stage 2 = the retrained models
    (ticket, random re-initialisation, random mask)."""
    store = store or ResultsStore()
    descs = []
    for protocol in protocols:
        for trial in trials:
            if stage in ("all", 1):
                descs.append(describe(protocol, "dense", trial, epochs, None, subset, batch_size))
                descs += [describe(protocol, "pruning", trial, epochs, d, subset, batch_size) for d in densities]
            if stage in ("all", 2):
                descs += [describe(protocol, role, trial, epochs, d, subset, batch_size)
                          for d in densities for role in RETRAINED]
    return [j for desc in descs if (j := job(desc, store)) is not None]


def stored_runs(protocols=PROTOCOLS, densities=DENSITIES, trials=range(5), epochs=500, subset=None,
                store=None, batch_size=BATCH_SIZE) -> list:
    """The stored runs of these cells (missing ones left out)."""
    store = store or ResultsStore()
    descs = [describe(p, role, t, epochs, d, subset, batch_size) for p, role, d, t in cells(protocols, densities, trials)]
    return [run for desc in descs if (run := _stored(store, desc)) is not None]


def roles(density) -> tuple:
    """The model roles trained at ``density`` (None: the dense model)."""
    return MODELS[:1] if density is None else MODELS[1:]


def cells(protocols, densities, trials) -> list[tuple]:
    """Every run of the experiment as (protocol, role, density, trial); density None for the dense model."""
    cells = [(p, role, None, t) for p in protocols for t in trials for role in roles(None)]
    return cells + [(p, role, float(d), t) for p in protocols for t in trials for d in densities
                    for role in roles(d)]


def tasks(protocols=PROTOCOLS, densities=DENSITIES, trials=range(5), store=None, trials_per_task=1,
          epochs=500, subset=None, batch_size=BATCH_SIZE) -> list[tuple]:
    """The experiment as independent tasks ``(protocol, trials, density)``, in sweep order.

    ``density`` None is the dense model; otherwise the task trains the pruning networks of
    its ``trials`` (a tuple) together, then their retrained models (which need the masks). Each task holds up to ``trials_per_task`` trials of one
    (protocol, density) that are not complete in ``store`` (all trials without a store).
    Tasks come in the order of their first trial; within it the dense models first, then
    per density the protocols side by side, so whole cells fill early.
    """
    if trials_per_task < 1:
        raise ValueError(f"trials_per_task must be >= 1, got {trials_per_task}")
    cells = [(protocol, None) for protocol in protocols] + [(p, float(d)) for d in densities for p in protocols]
    out = []
    for position, (protocol, density) in enumerate(cells):
        todo = [t for t in trials if store is None or any(
            _stored(store, describe(protocol, role, t, epochs, density, subset, batch_size)) is None
            for role in roles(density))]
        for start in range(0, len(todo), trials_per_task):
            block = tuple(todo[start:start + trials_per_task])
            out.append(((block[0], position), (protocol, block, density)))
    return [task for _, task in sorted(out, key=lambda item: item[0])]


def run_task(protocol, trials, density, epochs=500, subset=None, store=None, group_size=2,
             batch_size=BATCH_SIZE, progress=None) -> None:
    """Train whatever of one task (see :func:`tasks`) is not stored yet; ``trials`` an int or a tuple."""
    store = ResultsStore(store) if isinstance(store, str) else (store or ResultsStore())
    trials = (trials,) if isinstance(trials, int) else tuple(trials)
    if density is None:
        run_jobs(jobs([protocol], [], trials, epochs, subset, store, stage=1, batch_size=batch_size), store,
                 group_size, progress)
        return
    for stage in (1, 2):
        batch = jobs([protocol], [density], trials, epochs, subset, store, stage=stage, batch_size=batch_size)
        run_jobs([j for j in batch if j.desc.role != "dense"], store, group_size, progress)


def describe_task(task) -> str:
    protocol, trials, density = task
    return f"{protocol}, trial(s) {', '.join(map(str, trials))}, {'dense' if density is None else f'density {density}'}"


def run(protocols=PROTOCOLS, densities=DENSITIES, trials=range(5), epochs=500, subset=None, store=None,
        group_size=2, progress=None, client=None, batch_size=BATCH_SIZE, trials_per_task=1) -> list:
    """Run (or resume) the whole experiment; returns every stored run.

    The work is split into independent :func:`tasks` of up to ``trials_per_task`` trials,
    run in order here or, with a Dask ``client``, as many at once as the cluster has
    workers (earlier tasks first; :func:`lth.jobs.dispatch`). Within a task the networks
    that can train together (its pruning networks; its retrained models) do, ``group_size`` at a time, stacked.
    """
    store = store or ResultsStore()
    for protocol in protocols:
        check(protocol)
    for d in densities:
        pruning.check_density(d)
    todo = tasks(protocols, densities, trials, store, trials_per_task, epochs, subset, batch_size)
    where = store if client is None else str(store.root)  # a Dask worker opens the store at its path
    dispatch([(describe_task(task), "lth.seed.protocol:run_task", dict(zip(("protocol", "trials", "density"), task), epochs=epochs,
                                                       subset=subset, store=where, group_size=group_size,
                                                       batch_size=batch_size))
              for task in todo], client, progress)
    return stored_runs(protocols, densities, trials, epochs, subset, store, batch_size)
