"""Training many small networks at once, each exactly as if trained alone.

:func:`train` takes a list of :class:`Trainee` (a model, its own data-order
seed, whether to hold its masks fixed) and trains them in one compiled graph:
every step, each model draws its own batch, takes its own gradient and its own
optimiser step. A chunk of ``eval_every`` steps is one ``tf.function`` call
(a ``tf.range`` loop), so Python overhead is paid once per evaluation, not per
step. Models that stop early leave the graph; results are handed to
``on_done`` as soon as each model finishes.

Two engines do the stepping. ``graph`` (:class:`_Graphs`) puts the K models
side by side as K sub-graphs, each with its TF-MOT wrappers and its own Keras
optimiser: the reference. ``stacked`` (:class:`_StackedGraphs`,
:mod:`lth.stacked`) trains the K models as one stacked network, with the same
results (fixed masks, or masks that TF-MOT schedules change) and faster.
:func:`choose_engine` takes ``stacked`` wherever it applies to two or more
models (for one, the graph engine is a little faster).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import lth  # noqa: F401
import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth import optimizers, pruning, stacked
from lth.hparams import TrainingHparams
from lth.store import code_version

tf.get_logger().setLevel("ERROR")  # retracing notices: expected when models leave a group

EVAL_BATCH = 1000
CHECKPOINT_EVERY = 10  # evaluations between checkpoints (1,000 steps, ~1 min, of the seed protocol)


class BatchStream:
    """Batches of training indices: a fresh seeded permutation each pass, batches may span passes."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size = n, batch_size
        self.rng = np.random.default_rng(seed)
        self.buffer = np.empty(0, dtype=np.int32)

    def take(self, steps: int) -> np.ndarray:
        needed = steps * self.batch_size
        while len(self.buffer) < needed:
            self.buffer = np.concatenate([self.buffer, self.rng.permutation(self.n).astype(np.int32)])
        out, self.buffer = self.buffer[:needed], self.buffer[needed:]
        return out.reshape(steps, self.batch_size)


@dataclass
class Trainee:
    """One network to train: its model, data-order seed and mask policy.

    ``hold_masks``: re-apply the masks after every optimiser step, so pruned
    weights stay exactly zero (a fixed mask). Otherwise a wrapped model's
    TF-MOT schedule governs its masks, as with ``fit`` + ``UpdatePruningStep``.
    """

    model: keras.Model
    seed: int
    hold_masks: bool = False
    name: str = ""
    hparams: TrainingHparams | None = None  # own optimiser / stopping settings; default: the shared ones
    optimizer: object = None
    history: dict = field(default_factory=dict)

    def __post_init__(self):
        self.wrapped = list(pruning.wrappers(self.model).values())
        self.masked_vars = [(w, m) for layer in self.wrapped for (w, m, _) in layer.pruning_vars]


def _step_masks(trainee, variables) -> list:
    """Per variable of ``trainee``, the mask its optimiser step multiplies in: its TF-MOT mask if it
    holds its masks fixed (its pruned weights stay exactly zero), else None."""
    if not trainee.hold_masks:
        return [None] * len(variables)
    masks = {weight.ref(): mask for weight, mask in trainee.masked_vars}
    return [masks.get(variable.ref()) for variable in variables]


class _Monitor:
    """Patience-based stopping and best-weights tracking for one trainee (Keras EarlyStopping rules)."""

    def __init__(self, hp: TrainingHparams):
        self.hp = hp
        self.best_stop = None
        self.wait = 0
        self.best_value = None
        self.best_iteration = None
        self.best_weights = None

    @staticmethod
    def _better(metric, new, old):
        if old is None:
            return True
        return new < old if metric.endswith("loss") else new > old

    def update(self, model, row: dict, first: bool) -> bool:
        """Record this evaluation; True when training should stop."""
        hp = self.hp
        if hp.best_monitor != "none" and self._better(hp.best_monitor, row[hp.best_monitor], self.best_value):
            self.best_value, self.best_iteration = row[hp.best_monitor], row["iteration"]
            self.best_weights = model.get_weights()
        if hp.stop_monitor == "none":
            return False
        value = row[hp.stop_monitor]
        self.wait += 1
        if self._better(hp.stop_monitor, value, self.best_stop):
            self.best_stop, self.wait = value, 0
            return False
        return self.wait >= hp.patience and not first


def _metrics(logits, labels):
    loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int64), labels), tf.float32))
    return loss, accuracy


class _Graphs:
    """Compiled chunk and evaluation functions, one per set of active trainees."""

    def __init__(self, trainees, x_train, y_train, batch_size):
        self.trainees, self.x, self.y, self.batch_size = trainees, x_train, y_train, batch_size
        self.chunks, self.evals = {}, {}

    def chunk(self, active: tuple):
        if active not in self.chunks:
            members = [self.trainees[i] for i in active]
            variables = [m.model.trainable_variables for m in members]
            masks = [_step_masks(m, v) for m, v in zip(members, variables)]
            x, y = self.x, self.y

            @tf.function(input_signature=[tf.TensorSpec([len(members), None, self.batch_size], tf.int32)])
            def run(indices):
                steps = tf.shape(indices)[1]
                totals = tf.zeros([len(members), 2])
                for i in tf.range(steps):
                    rows = []
                    for j, member in enumerate(members):
                        batch = indices[j, i]
                        xb, yb = tf.gather(x, batch), tf.gather(y, batch)
                        with tf.GradientTape() as tape:
                            loss, accuracy = _metrics(member.model(xb, training=True), yb)
                        grads = tape.gradient(loss, variables[j])
                        optimizers.apply_gradients(member.optimizer, grads, variables[j], masks[j])
                        rows.append(tf.stack([loss, accuracy]))
                    totals += tf.stack(rows)
                return totals / tf.cast(steps, tf.float32)

            self.chunks[active] = run
        return self.chunks[active]

    def evaluate(self, active: tuple, x, y):
        key = (active, id(x))
        if key not in self.evals:
            members = [self.trainees[i] for i in active]
            n = int(x.shape[0])
            batches = math.ceil(n / EVAL_BATCH)

            @tf.function
            def run():
                totals = tf.zeros([len(members), 2])
                for b in tf.range(batches):
                    start = b * EVAL_BATCH
                    xb, yb = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
                    size = tf.cast(tf.shape(yb)[0], tf.float32)
                    totals += tf.stack([tf.stack(_metrics(m.model(xb, training=False), yb)) * size
                                        for m in members])
                return totals / n

            self.evals[key] = run
        return self.evals[key]().numpy()

    def optimizer_state(self):
        return [[v.numpy() for v in t.optimizer.variables] for t in self.trainees]

    def load_optimizer_state(self, state) -> None:
        for t, values in zip(self.trainees, state):
            _assign_all(t.optimizer.variables, values)

    def sync(self, active: tuple, steps: int) -> None:
        """What ``UpdatePruningStep.on_epoch_end`` does: re-mask the weights."""
        for i in active:
            for layer in self.trainees[i].wrapped:
                layer.pruning_obj.weight_mask_op()


def _assign_all(variables, values) -> None:
    if len(variables) != len(values):
        raise ValueError(f"checkpoint holds {len(values)} optimiser variables, the optimiser has {len(variables)}")
    for variable, value in zip(variables, values):
        variable.assign(value)


def _stacked_metrics(logits, labels):
    """Per-network mean loss and accuracy of stacked logits ``[K, B, C]``: two ``[K]`` vectors."""
    loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True), axis=1)
    hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int64), labels), tf.float32)
    return loss, tf.reduce_mean(hits, axis=1)


def _stacked_gradients(tape, total, variables, dense_products=None) -> list:
    """The gradients of ``total`` for the stacked ``variables``. A dense kernel found in ``dense_products``
    (see :class:`lth.stacked.StackedNetwork`) gets its gradient as factors, an
    :class:`lth.optimizers.DenseGradient` the optimiser step multiplies out itself: the tape then
    differentiates with respect to the layer's product instead of its kernel."""
    dense_products = dense_products or {}
    sources = [dense_products[v.ref()][1] if v.ref() in dense_products else v for v in variables]
    grads = tape.gradient(total, sources)
    return [optimizers.DenseGradient(dense_products[v.ref()][0], g) if v.ref() in dense_products else g
            for v, g in zip(variables, grads)]


class _StackedGraphs:
    """The stacked engine: the active trainees as one :class:`lth.stacked.StackedNetwork`.

    When trainees stop, the rest are stacked anew, their optimiser state carried
    over slice by slice. After each chunk the stacked weights are written back
    into the Keras models, so monitors, the final evaluation and the store see
    ordinary models.
    """

    def __init__(self, trainees, x_train, y_train, batch_size, hp):
        self.trainees, self.x, self.y, self.batch_size, self.hp = trainees, x_train, y_train, batch_size, hp
        self.active, self.net, self.optimizer, self.fn, self.evals = None, None, None, None, {}

    def _restack(self, active: tuple):
        net = stacked.StackedNetwork([self.trainees[i].model for i in active],
                                     [stacked.scheduled(self.trainees[i]) for i in active])
        optimizer = optimizers.make_optimizer(self.trainees[active[0]].hparams or self.hp)
        optimizer.jit_compile = True  # used only where optimizers.apply_gradients cannot fuse the update
        optimizer.build(net.trainable_variables)
        if self.optimizer is not None:
            keep = [self.active.index(i) for i in active]
            for old, new in zip(self.optimizer.variables, optimizer.variables):
                new.assign(tf.gather(old, keep) if old.shape.rank else old)
        self.active, self.net, self.optimizer, self.evals = active, net, optimizer, {}
        x, y = self.x, self.y
        fuse_dense = optimizers.fuses_dense_gradients(optimizer)

        @tf.function(input_signature=[tf.TensorSpec([len(active), None, self.batch_size], tf.int32)])
        def run(indices):
            steps = tf.shape(indices)[1]
            totals = tf.zeros([len(active), 2])
            for i in tf.range(steps):
                batch = indices[:, i]
                net.update_masks()
                products = {} if fuse_dense else None
                with tf.GradientTape() as tape:
                    logits = net(tf.gather(x, batch), dense_products=products)
                    losses, accuracies = _stacked_metrics(logits, tf.gather(y, batch))
                    total = tf.reduce_sum(losses)
                grads = _stacked_gradients(tape, total, net.trainable_variables, products)
                optimizers.apply_gradients(optimizer, grads, net.trainable_variables, net.step_masks())
                totals += tf.stack([losses, accuracies], axis=1)
            return totals / tf.cast(steps, tf.float32)

        self.fn = run

    def chunk(self, active: tuple):
        if active != self.active:
            self._restack(active)
        return self.fn

    def optimizer_state(self):
        """The stacked optimiser's variables, with the trainees they belong to (None before the first chunk)."""
        if self.optimizer is None:
            return None
        return self.active, [v.numpy() for v in self.optimizer.variables]

    def load_optimizer_state(self, state) -> None:
        if state is None:
            return
        active, values = state
        self._restack(tuple(active))
        _assign_all(self.optimizer.variables, values)

    def sync(self, active: tuple, steps: int) -> None:
        """Mask the weights (as the graph engine's sync does); write the stacked weights, masks and
        thresholds back into the Keras models; advance the fixed-mask layers' TF-MOT step counters
        (scheduled ones advanced step by step)."""
        self.net.mask_weights()
        self.net.write_back(range(len(active)))
        for i in active:
            for layer, moves in zip(self.trainees[i].wrapped, stacked.scheduled(self.trainees[i])):
                if not moves:
                    layer.pruning_step.assign_add(steps)

    def evaluate(self, active: tuple, x, y):
        if active != self.active:
            raise ValueError(f"stacked evaluation of {active}, but {self.active} are stacked")
        key = id(x)
        if key not in self.evals:
            net, k, n = self.net, len(active), int(x.shape[0])
            batches = math.ceil(n / EVAL_BATCH)

            @tf.function
            def run():
                totals = tf.zeros([k, 2])
                for b in tf.range(batches):
                    start = b * EVAL_BATCH
                    xb, yb = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
                    size = tf.shape(yb)[0]
                    logits = net(xb, shared=True)
                    losses, accuracies = _stacked_metrics(logits, tf.broadcast_to(yb[None], [k, size]))
                    totals += tf.stack([losses, accuracies], axis=1) * tf.cast(size, tf.float32)
                return totals / n

            self.evals[key] = run
        return self.evals[key]().numpy()


ENGINES = ("auto", "stacked", "graph")


def choose_engine(trainees, hp, engine: str = "auto") -> str:
    """``stacked`` when the trainees stack (see :func:`lth.stacked.unsupported`) and ``engine`` allows it.

    ``auto`` trains a single trainee on the graph engine: a stack of one has the stacked
    engine's reshapes without its savings (about 3-10 % slower in ``bench/train_speed.py``).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown training engine {engine!r}; known: {list(ENGINES)}")
    if engine == "graph" or (engine == "auto" and len(trainees) == 1):
        return "graph"
    reason = stacked.unsupported(trainees, hp)
    if reason is None:
        return "stacked"
    if engine == "stacked":
        raise ValueError(f"these trainees cannot train stacked: {reason}")
    return "graph"


def train(trainees: list[Trainee], data, hp: TrainingHparams, on_done=None, progress=None,
          engine: str | None = None, checkpoint: Path | str | None = None,
          checkpoint_every: int = CHECKPOINT_EVERY) -> list[dict]:
    """Train every trainee for ``hp.iterations`` steps (or until it early-stops).

    ``engine``: ``"stacked"`` trains the trainees as one stacked network
    (:mod:`lth.stacked`), ``"graph"`` as K sub-graphs of one compiled function,
    ``"auto"`` (default, or the ``LTH_ENGINE`` environment variable) stacks
    when it can. Each result names the engine that trained it.

    Returns one result per trainee: its history (train / validation, and test
    if ``hp.eval_test_each``) at every evaluation, where it stopped, the
    best-monitor iteration, and the test loss and accuracy of the reported
    weights. ``on_done(index, result)`` is called as each trainee finishes.

    ``checkpoint``: a file where the group's whole training state (weights, masks and
    TF-MOT step counters, optimiser slots, data order, monitors, histories, finished
    results) is written every ``checkpoint_every`` evaluations. If the file exists when
    training starts, training resumes from it, exactly where it was written: an
    interrupted sweep loses at most ``checkpoint_every`` evaluations of each group. The
    file is removed when the group finishes. Each resumed result carries ``resumed``:
    the step it resumed from, the wall and CPU seconds spent before, and the code
    version that wrote the checkpoint.
    """
    started, cpu_started = time.time(), time.process_time()
    tensors = {name: (tf.constant(data.features(split)), tf.constant(split.y))
               for name, split in [("train", data.train), ("val", data.validation), ("test", data.test)]}
    streams = [BatchStream(len(data.train), hp.batch_size, t.seed) for t in trainees]
    for t in trainees:
        own = t.hparams or hp
        shared = ("batch_size", "iterations", "eval_every", "eval_test_each")
        if any(getattr(own, k) != getattr(hp, k) for k in shared):
            raise ValueError(f"trainee {t.name!r} differs from the group in one of {shared}")
    engine = choose_engine(trainees, hp, engine or os.environ.get("LTH_ENGINE", "auto"))
    graphs = (_StackedGraphs(trainees, *tensors["train"], hp.batch_size, hp) if engine == "stacked"
              else _Graphs(trainees, *tensors["train"], hp.batch_size))
    monitors = [_Monitor(t.hparams or hp) for t in trainees]
    results: list[dict | None] = [None] * len(trainees)
    for t in trainees:
        t.optimizer = optimizers.make_optimizer(t.hparams or hp)
        t.optimizer.build(t.model.trainable_variables)
        for layer in t.wrapped:  # what UpdatePruningStep.on_train_begin does
            if int(layer.pruning_step.numpy()) == -1:
                layer.pruning_step.assign(0)
        t.history = {k: [] for k in ["iteration", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
                     + (["test_loss", "test_accuracy"] if hp.eval_test_each else [])}
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be at least 1 evaluation, got {checkpoint_every}")
    fingerprint = _group_fingerprint(trainees, hp, engine)
    active, step, resumed = tuple(range(len(trainees))), 0, None
    if checkpoint is not None and checkpoint.exists():
        state = _read_checkpoint(checkpoint, fingerprint)
        for t, monitor, stream, saved in zip(trainees, monitors, streams, state["trainees"]):
            t.model.set_weights(saved["weights"])
            t.history = saved["history"]
            monitor.__dict__.update(saved["monitor"])
            stream.rng.bit_generator.state, stream.buffer = saved["stream"]
        results = state["results"]
        graphs.load_optimizer_state(state["optimizer"])
        active, step = tuple(state["active"]), state["step"]
        resumed = {"step": step, "wall_time_s": state["wall_time_s"], "cpu_time_s": state["cpu_time_s"],
                   "git_commit": state["git_commit"]}
        for result in results:
            if result is not None:
                result.setdefault("resumed", resumed)

    commit = code_version()["git_commit"] if checkpoint is not None else None

    def save_checkpoint():
        prior_wall, prior_cpu = (resumed["wall_time_s"], resumed["cpu_time_s"]) if resumed else (0.0, 0.0)
        _write_checkpoint(checkpoint, {
            "fingerprint": fingerprint, "step": step, "active": list(active), "results": results,
            "optimizer": graphs.optimizer_state(), "git_commit": commit,
            "wall_time_s": prior_wall + time.time() - started,
            "cpu_time_s": prior_cpu + time.process_time() - cpu_started,
            "trainees": [{"weights": t.model.get_weights(), "history": t.history,
                          "monitor": {k: v for k, v in m.__dict__.items() if k != "hp"},
                          "stream": (stream.rng.bit_generator.state, stream.buffer)}
                         for t, m, stream in zip(trainees, monitors, streams)]})

    def finish(i, stopped_at):
        t, monitor = trainees[i], monitors[i]
        if monitor.best_weights is not None:
            final_weights = t.model.get_weights()
            t.model.set_weights(monitor.best_weights)
        loss, accuracy = evaluate(t.model, *tensors["test"])
        if monitor.best_weights is not None:
            val_at_best = evaluate(t.model, *tensors["val"])
            t.model.set_weights(final_weights)
        else:
            val_at_best = (t.history["val_loss"][-1], t.history["val_accuracy"][-1])
        results[i] = {
            "history": t.history, "stopped_at": int(stopped_at),
            "best_iteration": int(monitor.best_iteration if monitor.best_iteration is not None else stopped_at),
            "test_loss": float(loss), "test_accuracy": float(accuracy),
            "val_loss": float(val_at_best[0]), "val_accuracy": float(val_at_best[1]),
            "wall_time_s": time.time() - started + (resumed["wall_time_s"] if resumed else 0.0), "engine": engine,
        }
        if resumed:
            results[i]["resumed"] = resumed
        if on_done:
            on_done(i, results[i])

    evaluations_since_checkpoint = 0
    while active and step < hp.iterations:
        n = min(hp.eval_every, hp.iterations - step)
        indices = np.stack([streams[i].take(n) for i in active])
        train_metrics = graphs.chunk(active)(tf.constant(indices)).numpy()
        step += n
        graphs.sync(active, n)
        evaluations = {"val": graphs.evaluate(active, *tensors["val"])}
        if hp.eval_test_each:
            evaluations["test"] = graphs.evaluate(active, *tensors["test"])
        still = []
        for j, i in enumerate(active):
            row = {"iteration": step, "train_loss": train_metrics[j, 0], "train_accuracy": train_metrics[j, 1],
                   "val_loss": evaluations["val"][j, 0], "val_accuracy": evaluations["val"][j, 1]}
            if hp.eval_test_each:
                row.update(test_loss=evaluations["test"][j, 0], test_accuracy=evaluations["test"][j, 1])
            for key, value in row.items():
                trainees[i].history[key].append(int(value) if key == "iteration" else round(float(value), 6))
            if monitors[i].update(trainees[i].model, row, first=step == n):
                finish(i, step)
            else:
                still.append(i)
        active = tuple(still)
        evaluations_since_checkpoint += 1
        if checkpoint is not None and active and evaluations_since_checkpoint >= checkpoint_every:
            save_checkpoint()
            evaluations_since_checkpoint = 0
        if progress:
            progress(step, hp.iterations, len(active))
    for i in active:
        finish(i, step)
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    return results


def _group_fingerprint(trainees, hp: TrainingHparams, engine: str) -> str:
    """What a checkpoint must have been written by: the same trainees (names, seeds, mask policy,
    weight shapes), hyperparameters and engine."""
    parts = [engine, json.dumps(hp.to_dict(), sort_keys=True)]
    for t in trainees:
        parts.append(json.dumps([t.name, t.seed, t.hold_masks, (t.hparams or hp).to_dict(),
                                 [list(w.shape) for w in t.model.weights]], sort_keys=True))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _write_checkpoint(path: Path, state: dict) -> None:
    """Write atomically: a crash while writing leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    with open(staging, "wb") as f:
        pickle.dump(state, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(staging, path)


def _read_checkpoint(path: Path, fingerprint: str) -> dict:
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except Exception as error:  # a truncated or foreign file: say which, keep it for inspection
        raise CheckpointError(f"cannot read training checkpoint {path}: {error}; "
                              "delete it to train this group from the start") from error
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        raise CheckpointError(f"training checkpoint {path} was written for other trainees or settings; "
                              "delete it to train this group from the start")
    return state


class CheckpointError(RuntimeError):
    """A training checkpoint that cannot be resumed from."""


def set_deterministic(enabled: bool = True) -> None:
    """Make TF ops deterministic (bit-identical reruns on one machine); ``LTH_DETERMINISTIC=1`` does it at import."""
    if enabled:
        tf.config.experimental.enable_op_determinism()


_EVALUATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def evaluate(model, x, y) -> tuple[float, float]:
    """Mean loss and accuracy of one model on ``(x, y)``, in batches; compiled once per model."""
    if model not in _EVALUATORS:
        @tf.function
        def run(x, y):
            n = tf.shape(y)[0]
            totals = tf.zeros([2])
            for start in tf.range(0, n, EVAL_BATCH):
                xb, yb = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
                totals += tf.stack(_metrics(model(xb, training=False), yb)) * tf.cast(tf.shape(yb)[0], tf.float32)
            return totals / tf.cast(n, tf.float32)

        _EVALUATORS[model] = run
    loss, accuracy = _EVALUATORS[model](tf.convert_to_tensor(x), tf.convert_to_tensor(y)).numpy()
    return float(loss), float(accuracy)


set_deterministic(os.environ.get("LTH_DETERMINISTIC") == "1")
