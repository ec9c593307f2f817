"""The seed paper's own experiment (Havinga & Sawhney 2020, Sec. 3 and 4.3).

Four models per density, on the authors' LeNet-5-like net and MNIST:

* ``dense``: the original, trained alone;
* ``pruning``: the pruning network, TF-MOT polynomial decay from density 1 to
  the target, from 20 % to 60 % of training, every 2 %; never early-stops;
* ``ticket``: the original initial weights with the learned masks, retrained;
* ``random``: fresh random weights with the same masks, retrained.

The authors' code calls ``fit`` with ``steps_per_epoch=100`` and no batch size;
Keras then infers the batch size as ceil(60,000 / 100) = 600, so each of their
"epochs" is one full pass over MNIST in 100 steps of 600 images (not Keras'
default batch of 32). Both protocols use that batch size.

Two protocols:

* ``faithful``, as the authors' code ran it: raw pixels; the test set is the
  validation set; the dense model early-stops on it; ticket and random are
  wrapped again in a pruning schedule at the target sparsity, so TF-MOT
  recomputes their masks from 20 % to 60 % of training; they early-stop on
  training accuracy (patience 20 "epochs").
* ``corrected``: masks held fixed (pruned weights stay exactly zero); 5,000
  training images held out for validation; every early stop and model choice
  uses validation accuracy; the test set is used once, for the final number.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from lth import models, pruning, training
from lth.experiments import Job, _plain_result, derive_seed, run_jobs
from lth.hparams import DatasetHparams, TrainingHparams
from lth.store import ResultsStore

PROTOCOLS = ("faithful", "corrected")
MODELS = ("dense", "pruning", "ticket", "random")
DENSITIES = (0.5, 0.33, 0.2, 0.1, 0.05, 0.02, 0.01)
MODEL_NAME = "lenet5"
STEPS_PER_EPOCH = 100
BATCH_SIZE = 600  # what Keras inferred for the authors' fit(steps_per_epoch=100) on 60,000 images


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
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {list(PROTOCOLS)}")
    if density is not None:
        pruning.check_density(density)
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")


def dataset(protocol: str, subset: int | None = None) -> DatasetHparams:
    return DatasetHparams(name="mnist", scale="raw", validation="test" if protocol == "faithful" else "holdout",
                          subset=subset)


def training_hparams(protocol: str, role: str, epochs: int, batch_size: int = BATCH_SIZE) -> TrainingHparams:
    """Adam 0.01, batch 600 (or ``batch_size``), 100-step epochs; stopping rules per role and protocol."""
    base = TrainingHparams(optimizer="adam", learning_rate=0.01, batch_size=batch_size,
                           iterations=epochs * STEPS_PER_EPOCH, eval_every=STEPS_PER_EPOCH,
                           stop_monitor="none", best_monitor="none", patience=20)
    if role == "pruning":
        return base
    if protocol == "faithful":
        monitor = "val_accuracy" if role == "dense" else "train_accuracy"
        return TrainingHparams(**(base.to_dict() | {"stop_monitor": monitor}))
    return TrainingHparams(**(base.to_dict() | {"stop_monitor": "val_accuracy", "best_monitor": "val_accuracy"}))


def config(protocol: str, role: str, trial: int, epochs: int, density: float | None = None,
           subset: int | None = None, batch_size: int = BATCH_SIZE) -> dict:
    check(protocol, density, epochs)
    if role not in MODELS:
        raise ValueError(f"unknown model role {role!r}; known: {list(MODELS)}")
    return {"protocol": protocol, "role": role, "trial": trial, "epochs": epochs,
            "density": None if role == "dense" else float(density), "model": MODEL_NAME,
            "dataset": dataset(protocol, subset).to_dict(),
            "training": training_hparams(protocol, role, epochs, batch_size).to_dict()}


def _init_seed(trial, density):
    return derive_seed("seed-protocol-init", trial, density)


def _job(protocol, role, trial, epochs, density, subset, store, batch_size=BATCH_SIZE) -> Job | None:
    cfg = config(protocol, role, trial, epochs, density, subset, batch_size)
    data_hp = dataset(protocol, subset)
    train_hp = training_hparams(protocol, role, epochs, batch_size)
    total_steps = epochs * STEPS_PER_EPOCH
    mask = None
    if role in ("ticket", "random"):
        parent = store.load("seed_protocol", config(protocol, "pruning", trial, epochs, density, subset, batch_size))
        if parent is None:
            return None
        mask = pruning.unpack_masks(parent.arrays())
    init_seed = {"dense": derive_seed("seed-protocol-dense", trial),
                 "random": derive_seed("seed-protocol-random", trial, density)}.get(role, _init_seed(trial, density))

    def build():
        from lth.experiments import load_data

        net = models.build(MODEL_NAME, seed=init_seed, input_shape=load_data(data_hp).input_shape)
        layers = models.prunable_layers(MODEL_NAME, net)
        hold = False
        if role == "pruning":
            net = pruning.wrap(net, layers, pruning.seed_schedule(density, total_steps))
        elif role in ("ticket", "random"):
            if protocol == "faithful":  # as the authors: a schedule at the target sparsity keeps re-pruning
                schedule = pruning.seed_schedule(density, total_steps, initial_density=density)
            else:
                schedule, hold = pruning.FixedMask(), True
            net = pruning.wrap(net, layers, schedule)
            pruning.set_masks(net, mask)
        return training.Trainee(net, seed=derive_seed("seed-protocol-data", protocol, role, trial, density),
                                hold_masks=hold, name=f"{protocol}-{role}-{density}-{trial}", hparams=train_hp)

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

    group_train = training_hparams(protocol, "pruning", epochs, batch_size)
    return Job("seed_protocol", cfg, data_hp, group_train, build, finish, init_seed)


def jobs(protocols=PROTOCOLS, densities=DENSITIES, trials=range(5), epochs=500, subset=None, store=None,
         stage="all", batch_size=BATCH_SIZE) -> list[Job]:
    """The jobs whose inputs are stored: stage 1 = dense + pruning, stage 2 = ticket + random."""
    store = store or ResultsStore()
    out = []
    for protocol in protocols:
        for trial in trials:
            if stage in ("all", 1):
                out.append(_job(protocol, "dense", trial, epochs, None, subset, store, batch_size))
                out += [_job(protocol, "pruning", trial, epochs, d, subset, store, batch_size) for d in densities]
            if stage in ("all", 2):
                out += [j for d in densities for role in ("ticket", "random")
                        if (j := _job(protocol, role, trial, epochs, d, subset, store, batch_size)) is not None]
    return [j for j in out if j is not None]


def stored_runs(protocols=PROTOCOLS, densities=DENSITIES, trials=range(5), epochs=500, subset=None,
                store=None, batch_size=BATCH_SIZE) -> list:
    """The stored runs of these cells (missing ones left out)."""
    store = store or ResultsStore()
    configs = [config(p, role, t, epochs, d, subset, batch_size)
               for p, role, d, t in _cells(protocols, densities, trials)]
    return [run for c in configs if (run := store.load("seed_protocol", c)) is not None]


def _roles(density) -> tuple:
    """The model roles trained at ``density`` (None: the dense model)."""
    return MODELS[:1] if density is None else MODELS[1:]


def _cells(protocols, densities, trials) -> list[tuple]:
    """Every run of the experiment as (protocol, role, density, trial); density None for the dense model."""
    cells = [(p, role, None, t) for p in protocols for t in trials for role in _roles(None)]
    return cells + [(p, role, float(d), t) for p in protocols for t in trials for d in densities
                    for role in _roles(d)]


def tasks(protocols=PROTOCOLS, densities=DENSITIES, trials=range(5), store=None, trials_per_task=1,
          epochs=500, subset=None, batch_size=BATCH_SIZE) -> list[tuple]:
    """The experiment as independent tasks ``(protocol, trials, density)``, in sweep order.

    ``density`` None is the dense model; otherwise the task trains the pruning networks of
    its ``trials`` (a tuple) together, then their tickets and random re-initialisations
    (which need the masks). Each task holds up to ``trials_per_task`` trials of one
    (protocol, density) that are not complete in ``store`` (all trials without a store).
    Tasks come in the order of their first trial; within it the dense models first, then
    per density the two protocols side by side, so whole cells fill early.
    """
    if trials_per_task < 1:
        raise ValueError(f"trials_per_task must be >= 1, got {trials_per_task}")
    cells = [(protocol, None) for protocol in protocols] + [(p, float(d)) for d in densities for p in protocols]
    out = []
    for position, (protocol, density) in enumerate(cells):
        todo = [t for t in trials if store is None or any(
            store.load("seed_protocol", config(protocol, role, t, epochs, density, subset, batch_size)) is None
            for role in _roles(density))]
        for start in range(0, len(todo), trials_per_task):
            block = tuple(todo[start:start + trials_per_task])
            out.append(((block[0], position), (protocol, block, density)))
    return [task for _, task in sorted(out, key=lambda item: item[0])]


def run_task(protocol, trials, density, epochs=500, subset=None, store=None, group_size=2,
             batch_size=BATCH_SIZE, progress=None) -> None:
    """Train whatever of one task (see :func:`tasks`) is not stored yet; ``trials`` an int or a tuple."""
    store = store or ResultsStore()
    trials = (trials,) if isinstance(trials, int) else tuple(trials)
    if density is None:
        batch = jobs([protocol], [], trials, epochs, subset, store, stage=1, batch_size=batch_size)
        run_jobs(batch, store, group_size, progress)
        return
    for stage in (1, 2):
        batch = jobs([protocol], [density], trials, epochs, subset, store, stage=stage, batch_size=batch_size)
        run_jobs([j for j in batch if j.config["role"] != "dense"], store, group_size, progress)


PROGRESS_TOPIC = "lth-seed-progress"


def _describe(task) -> str:
    protocol, trials, density = task
    return f"{protocol}, trial(s) {', '.join(map(str, trials))}, {'dense' if density is None else f'density {density}'}"


def _remote_task(task, epochs, subset, root, group_size, batch_size) -> list[str]:
    """A Dask task: one :func:`run_task` into the store at ``root``; returns its progress messages.

    Each message is also sent to the scheduler as it happens (topic :data:`PROGRESS_TOPIC`),
    so the sweep's log shows a run as soon as it is stored, not when its whole task ends.
    """
    from distributed import get_worker

    worker = get_worker()
    messages = []

    def report(message):
        messages.append(message)
        worker.log_event(PROGRESS_TOPIC, message)

    report(f"task started: {_describe(task)}")
    run_task(*task, epochs=epochs, subset=subset, store=ResultsStore(root), group_size=group_size,
             batch_size=batch_size, progress=report)
    return messages


def run(protocols=PROTOCOLS, densities=DENSITIES, trials=range(5), epochs=500, subset=None, store=None,
        group_size=2, progress=None, client=None, batch_size=BATCH_SIZE, trials_per_task=1) -> list:
    """Run (or resume) the whole experiment; returns every stored run.

    The work is split into independent :func:`tasks` of up to ``trials_per_task`` trials,
    run in order here or, with a Dask ``client``, as many at once as the cluster has
    workers (earlier tasks first). Within a task the networks that can train together
    (its pruning networks; its tickets and random re-initialisations) do, ``group_size``
    at a time, stacked (:mod:`lth.stacked`).
    """
    store = store or ResultsStore()
    for protocol in protocols:
        check(protocol)
    for d in densities:
        pruning.check_density(d)
    todo = tasks(protocols, densities, trials, store, trials_per_task, epochs, subset, batch_size)
    if client is None:
        for task in todo:
            run_task(*task, epochs=epochs, subset=subset, store=store, group_size=group_size,
                     batch_size=batch_size, progress=progress)
    else:
        _run_on_dask(client, todo, epochs, subset, store, group_size, batch_size, progress)
    return stored_runs(protocols, densities, trials, epochs, subset, store, batch_size)


def _run_on_dask(client, todo, epochs, subset, store, group_size, batch_size, progress) -> None:
    """Run the tasks ``todo`` on a Dask cluster, earlier ones first; forward the workers' messages live.

    A task that fails does not stop the others: each failure is reported as it happens, and
    once every task has ended one error names them all (their finished runs stay stored, so
    running the sweep again retries only what is missing).
    """
    import time
    from collections import Counter

    from dask.distributed import as_completed

    received = []

    def forward(event):  # a worker's message, live
        received.append(event[1])
        if progress:
            progress(event[1])

    client.subscribe_topic(PROGRESS_TOPIC, forward)
    sent, failed = [], []
    try:
        futures = {client.submit(_remote_task, task, epochs, subset, str(store.root), group_size, batch_size,
                                 pure=False, priority=len(todo) - i): task for i, task in enumerate(todo)}
        for future in as_completed(list(futures)):
            try:
                sent += future.result()
            except Exception as error:  # noqa: BLE001 - reported, and raised below once all tasks ended
                failed.append(f"{_describe(futures[future])}: {type(error).__name__}: {error}")
                if progress:
                    progress(f"task failed: {failed[-1]}")
        deadline = time.monotonic() + 10
        while Counter(sent) - Counter(received) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        client.unsubscribe_topic(PROGRESS_TOPIC)
    for message in (Counter(sent) - Counter(received)).elements():  # events lost on the way, if any
        if progress:
            progress(message)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(todo)} sweep tasks failed (the others' runs are stored; "
                           f"run the sweep again to retry): " + "; ".join(failed))


KERAS_CONTROL = "seed_keras_fit"


def keras_control_config(density: float, trial: int, epochs: int, subset: int | None = None) -> dict:
    return {"control": "keras_fit", "protocol": "faithful", "role": "pruning", "trial": trial, "epochs": epochs,
            "density": pruning.check_density(density), "model": MODEL_NAME,
            "dataset": dataset("faithful", subset).to_dict(),
            "training": training_hparams("faithful", "pruning", epochs).to_dict()}


def keras_control(density: float = 0.5, trial: int = 0, epochs: int = 500, subset: int | None = None,
                  store: ResultsStore | None = None, run_missing: bool = True):
    """The faithful pruning network trained the authors' way, by plain Keras ``fit``; stored once.

    Same initial weights as the ``lth`` run of this density and trial; ``fit`` with
    ``steps_per_epoch=100`` and no batch size (so batches of 600), the test set as
    validation data and TF-MOT's ``UpdatePruningStep`` callback, as in the authors'
    script. Only the data order differs (Keras shuffles with its own generator). A
    control for :mod:`lth.training`: if the two disagree, ``lth`` is wrong. With
    ``run_missing=False`` returns the stored run or None.
    """
    import time

    import tensorflow as tf
    import tf_keras as keras

    from lth.experiments import load_data
    from lth.store import provenance

    store = store or ResultsStore()
    cfg = keras_control_config(density, trial, epochs, subset)
    stored = store.load(KERAS_CONTROL, cfg)
    if stored is not None or not run_missing:
        return stored
    data = load_data(dataset("faithful", subset))
    seed = _init_seed(trial, density)
    net = models.build(MODEL_NAME, seed=seed, input_shape=data.input_shape)
    net = pruning.wrap(net, models.prunable_layers(MODEL_NAME, net),
                       pruning.seed_schedule(density, epochs * STEPS_PER_EPOCH))
    net.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
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
    record = provenance(seed, time.time() - started) | {"group_size": 1,
                                                         "cpu_time_s": round(time.process_time() - cpu_started, 3)}
    return store.save(KERAS_CONTROL, cfg, result, record)


UNPRUNED_CONTROL = "seed_unpruned"


def unpruned_control_config(protocol: str, trial: int, epochs: int, density: float = 0.5,
                            subset: int | None = None) -> dict:
    """The config of the unpruned twin of the pruning network of (``protocol``, ``trial``, ``density``)."""
    check(protocol, density, epochs)
    return {"control": "unpruned", "protocol": protocol, "trial": trial, "epochs": epochs,
            "twin_of_density": float(density), "model": MODEL_NAME,
            "dataset": dataset(protocol, subset).to_dict(),
            "training": training_hparams(protocol, "pruning", epochs).to_dict()}


def unpruned_control(protocol: str = "faithful", trials=range(3), epochs: int = 500, density: float = 0.5,
                     subset: int | None = None, store: ResultsStore | None = None, run_missing: bool = True,
                     group_size: int = 4, progress=None) -> list:
    """The pruning networks' unpruned twins: is it pruning, or long training, that breaks them?

    For each trial, the pruning network at ``density`` trained exactly as it was (same
    initial weights, same data order, Adam 0.01, batch 600, all ``epochs`` without early
    stopping) but never pruned. If the twins collapse too, training this long
    at this learning rate, not pruning, breaks the network. The twins of several trials
    train together, ``group_size`` at a time. With ``run_missing=False`` returns only the
    stored twins (missing ones left out).
    """
    store = store or ResultsStore()
    train_hp = training_hparams(protocol, "pruning", epochs)
    data_hp = dataset(protocol, subset)
    batch = []
    for trial in trials:
        cfg = unpruned_control_config(protocol, trial, epochs, density, subset)

        def build(trial=trial):
            from lth.experiments import load_data

            net = models.build(MODEL_NAME, seed=_init_seed(trial, density), input_shape=load_data(data_hp).input_shape)
            return training.Trainee(net, seed=derive_seed("seed-protocol-data", protocol, "pruning", trial, density),
                                    name=f"{protocol}-unpruned-{density}-{trial}", hparams=train_hp)

        batch.append(Job(UNPRUNED_CONTROL, cfg, data_hp, train_hp, build, _plain_result, _init_seed(trial, density)))
    if run_missing:
        run_jobs(batch, store, group_size, progress)
    return [run for job in batch if (run := store.load(job.kind, job.config)) is not None]


def describe_scale(runs, epochs: int, subset) -> str:
    """One sentence naming what was run: model, data, epochs, trials per (protocol, model, density) cell."""
    data = ("full MNIST (60,000 training images; the corrected protocol holds 5,000 of them out for validation)"
            if subset is None else f"the first {subset:,} MNIST images per split")
    per_cell = Counter((r.config["protocol"], r.config["role"], r.config["density"]) for r in runs)
    low, high = min(per_cell.values(), default=0), max(per_cell.values(), default=0)
    count = f"{high} trial{'s' if high != 1 else ''}" if low == high else f"{low} to {high} trials"
    return f"LeNet-5-like network on {data}, {epochs} epochs of {STEPS_PER_EPOCH} steps, {count} per cell"


def _machine_hours(run) -> float:
    """A run's share of its training group's machine time, in hours.

    The group's process CPU time over the machine's cores where it was recorded (a paused
    or crowded sweep does not inflate it), else its wall time (older runs).
    """
    p = run.provenance
    seconds = p["cpu_time_s"] / (p.get("cpu_count") or 1) if "cpu_time_s" in p else p["wall_time_s"]
    return seconds / p.get("group_size", 8) / 3600


def compute_hours(runs) -> float:
    """Machine time of the runs in hours (see :func:`_machine_hours`)."""
    return sum(_machine_hours(r) for r in runs)


def remaining_hours(runs, protocols=PROTOCOLS, densities=DENSITIES, trials=range(5)) -> tuple[float, int]:
    """Estimated machine hours to fill every cell to ``trials``, and the number of runs missing.

    Each missing run is costed at the mean of the stored runs of its protocol and role (of its
    role under any protocol if none; of all stored runs if its role has none either). Runs that
    recorded their CPU time are preferred: older runs only have wall time, which counts pauses.
    """
    def mean(values):
        return sum(values) / len(values) if values else None

    have = {(r.config["protocol"], r.config["role"], r.config["density"], r.config["trial"]) for r in runs}
    timed = {(r.config["protocol"], r.config["role"]) for r in runs if "cpu_time_s" in r.provenance}
    cost = {}
    for r in runs:
        key = (r.config["protocol"], r.config["role"])
        if key not in timed or "cpu_time_s" in r.provenance:
            cost.setdefault(key, []).append(_machine_hours(r))
    overall = mean([h for hours in cost.values() for h in hours]) or 0.0
    missing = [cell for cell in _cells(protocols, densities, trials) if cell not in have]
    total = 0.0
    for protocol, role, _, _ in missing:
        estimate = mean(cost.get((protocol, role), []))
        if estimate is None:
            estimate = mean([h for (p, r), hours in cost.items() if r == role for h in hours])
        total += overall if estimate is None else estimate
    return total, len(missing)


def mask_changes(runs) -> float:
    """Share of faithful ticket / random runs whose mask TF-MOT changed during retraining (nan if none)."""
    flags = [r.result["mask_changed"] for r in runs
             if r.config["protocol"] == "faithful" and r.config["role"] in ("ticket", "random")]
    return sum(flags) / len(flags) if flags else float("nan")
