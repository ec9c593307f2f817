"""Training many small networks at once, each exactly as if trained alone.

:func:`train` takes a list of :class:`Trainee` (a model, its own data-order
seed, whether to hold its masks fixed) and trains them as one group on one
of :mod:`lth.engines`' engines: between evaluations the engine runs a compiled
chunk of steps, in which each model draws its own batch, takes its own gradient
and its own optimiser step. Models that stop early leave the group; results are
handed to ``on_done`` as soon as each model finishes. The group's whole state can
be checkpointed and resumed exactly (:class:`_Checkpoint`).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
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

from lth import engines, pruning, private_apis
from lth.hparams import TrainingHparams
from lth.store import code_version

CHECKPOINT_EVERY = 10  # evaluations between checkpoints (1,000 steps, ~1 min, of the seed protocol)
SHARED_FIELDS = ("batch_size", "iterations", "eval_every", "eval_test_each")  # one value per group


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
        self.masked_vars = [(w, m) for layer in self.wrapped for (w, m, _) in private_apis.pruning_variables(layer)]


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


class _Group:
    """The state of a training group that a checkpoint saves: each trainee's data order, monitor,
    history and result, the trainees still active, the step, and the clock (with the time spent
    before a resume, ``resumed``)."""

    def __init__(self, trainees, hp: TrainingHparams, n_train: int):
        self.trainees, self.hp = trainees, hp
        self.streams = [BatchStream(n_train, hp.batch_size, t.seed) for t in trainees]
        self.monitors = [_Monitor(t.hparams or hp) for t in trainees]
        self.results: list[dict | None] = [None] * len(trainees)
        self.active, self.step, self.resumed = tuple(range(len(trainees))), 0, None
        self.started, self.cpu_started = time.time(), time.process_time()
        for t in trainees:
            t.history = {k: [] for k in ["iteration", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
                         + (["test_loss", "test_accuracy"] if hp.eval_test_each else [])}

    def batches(self, steps: int) -> np.ndarray:
        """The active trainees' next ``steps`` batches of training indices, ``[K, steps, batch_size]``."""
        return np.stack([self.streams[i].take(steps) for i in self.active])

    def evaluated(self, train_metrics: np.ndarray, evaluations: dict, first: bool):
        """Record an evaluation of the active trainees (``[K, 2]`` loss and accuracy: ``train_metrics``
        and one per split in ``evaluations``; ``first``: the run's first) in their histories; yield
        each trainee whose monitor says stop as it is recorded, and leave the others active."""
        still = []
        for j, i in enumerate(self.active):
            row = {"iteration": self.step, "train_loss": train_metrics[j, 0], "train_accuracy": train_metrics[j, 1]}
            row |= {f"{split}_{metric}": values[j, m] for split, values in evaluations.items()
                    for m, metric in enumerate(("loss", "accuracy"))}
            for key, value in row.items():
                self.trainees[i].history[key].append(int(value) if key == "iteration" else round(float(value), 6))
            if self.monitors[i].update(self.trainees[i].model, row, first):
                yield i
            else:
                still.append(i)
        self.active = tuple(still)

    def wall_time(self) -> float:
        return (self.resumed["wall_time_s"] if self.resumed else 0.0) + time.time() - self.started

    def cpu_time(self) -> float:
        return (self.resumed["cpu_time_s"] if self.resumed else 0.0) + time.process_time() - self.cpu_started

    def state(self) -> dict:
        return {"step": self.step, "active": list(self.active), "results": self.results,
                "wall_time_s": self.wall_time(), "cpu_time_s": self.cpu_time(),
                "trainees": [{"weights": t.model.get_weights(), "history": t.history,
                              "monitor": {k: v for k, v in m.__dict__.items() if k != "hp"},
                              "stream": (stream.rng.bit_generator.state, stream.buffer)}
                             for t, m, stream in zip(self.trainees, self.monitors, self.streams)]}

    def restore(self, state: dict) -> None:
        for t, monitor, stream, saved in zip(self.trainees, self.monitors, self.streams, state["trainees"]):
            t.model.set_weights(saved["weights"])
            t.history = saved["history"]
            monitor.__dict__.update(saved["monitor"])
            stream.rng.bit_generator.state, stream.buffer = saved["stream"]
        self.results, self.active, self.step = state["results"], tuple(state["active"]), state["step"]
        self.resumed = {"step": self.step, "wall_time_s": state["wall_time_s"], "cpu_time_s": state["cpu_time_s"],
                        "git_commit": state["git_commit"], "native_ops": state.get("native_ops")}
        for result in self.results:
            if result is not None:
                result.setdefault("resumed", self.resumed)
                result.setdefault("native_ops", self.resumed["native_ops"])


class _Checkpoint:
    """A group's checkpoint file, written every ``every`` evaluations and read back on a resume.

    The file holds :meth:`_Group.state`, the engine's optimiser state, a fingerprint of the group
    (:func:`_group_fingerprint`), the code version that wrote it, and whether native ops ran.
    """

    def __init__(self, path, fingerprint: str, every: int):
        self.path, self.fingerprint, self.every = Path(path), fingerprint, every
        self.commit = code_version()["git_commit"]
        self.evaluations = 0

    def resume(self, group: _Group, engine: engines.Engine) -> None:
        if self.path.exists():
            state = _read_checkpoint(self.path, self.fingerprint)
            group.restore(state)
            engine.load_optimizer_state(state["optimizer"])

    def evaluated(self, group: _Group, engine: engines.Engine) -> None:
        """After an evaluation: write the checkpoint if ``every`` evaluations have passed and some trainee trains on."""
        self.evaluations += 1
        if group.active and self.evaluations >= self.every:
            _write_checkpoint(self.path, group.state() | {
                "fingerprint": self.fingerprint, "optimizer": engine.optimizer_state(), "git_commit": self.commit,
                "native_ops": _native_ops(engine, group)})
            self.evaluations = 0


def _native_ops(engine: engines.Engine, group: _Group) -> bool | None:
    """Did lth.native's ops run for this group, in this process or before its resume? None if they did
    not run here and the checkpoint resumed from predates this record."""
    if engine.native_ops or not group.resumed:
        return engine.native_ops
    return group.resumed["native_ops"]


def _finish(group: _Group, i: int, engine: engines.Engine, tensors: dict) -> dict:
    """Trainee ``i``'s result: the test metrics (and validation metrics) of its reported weights."""
    t, monitor = group.trainees[i], group.monitors[i]
    if monitor.best_weights is not None:
        final_weights = t.model.get_weights()
        t.model.set_weights(monitor.best_weights)
    loss, accuracy = evaluate(t.model, *tensors["test"])
    if monitor.best_weights is not None:
        val_at_best = evaluate(t.model, *tensors["val"])
        t.model.set_weights(final_weights)
    else:
        val_at_best = (t.history["val_loss"][-1], t.history["val_accuracy"][-1])
    result = {
        "history": t.history, "stopped_at": int(group.step),
        "best_iteration": int(monitor.best_iteration if monitor.best_iteration is not None else group.step),
        "test_loss": float(loss), "test_accuracy": float(accuracy),
        "val_loss": float(val_at_best[0]), "val_accuracy": float(val_at_best[1]),
        "wall_time_s": group.wall_time(), "engine": engine.name, "native_ops": _native_ops(engine, group),
    }
    if group.resumed:
        result["resumed"] = group.resumed
    return result


def train(trainees: list[Trainee], data, hp: TrainingHparams, on_done=None, progress=None,
          engine: str | None = None, checkpoint: Path | str | None = None,
          checkpoint_every: int = CHECKPOINT_EVERY) -> list[dict]:
    """Train every trainee for ``hp.iterations`` steps (or until it early-stops).

    ``engine`` (see :mod:`lth.engines`): ``"stacked"`` trains the trainees as one stacked
    network, ``"graph"`` as K sub-graphs of one compiled function, ``"stacked-xla"`` stacked
    and compiled by XLA, ``"auto"`` (default, or the ``LTH_ENGINE`` environment variable)
    stacks when it can. Each result names the engine that trained it and whether
    :mod:`lth.native`'s ops ran (``native_ops``).

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

    ``LTH_DETERMINISTIC=1`` makes TensorFlow's ops deterministic first (:func:`set_deterministic`).
    """
    for t in trainees:
        if any(getattr(t.hparams or hp, k) != getattr(hp, k) for k in SHARED_FIELDS):
            raise ValueError(f"trainee {t.name!r} differs from the group in one of {SHARED_FIELDS}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be at least 1 evaluation, got {checkpoint_every}")
    set_deterministic(os.environ.get("LTH_DETERMINISTIC") == "1")
    tensors = {name: (tf.constant(data.features(split)), tf.constant(split.y))
               for name, split in [("train", data.train), ("val", data.validation), ("test", data.test)]}
    name = engines.choose_engine(trainees, hp, engine or os.environ.get("LTH_ENGINE", "auto"))
    stepper = engines.create(name, trainees, *tensors["train"], hp)
    group = _Group(trainees, hp, len(data.train))
    saver = _Checkpoint(checkpoint, _group_fingerprint(trainees, hp, name), checkpoint_every) if checkpoint else None
    if saver:
        saver.resume(group, stepper)
    splits = ["val", "test"] if hp.eval_test_each else ["val"]
    with _quiet_retracing():
        while group.active and group.step < hp.iterations:
            steps = min(hp.eval_every, hp.iterations - group.step)
            train_metrics = stepper.chunk(group.active)(tf.constant(group.batches(steps))).numpy()
            group.step += steps
            stepper.sync(group.active, steps)
            evaluations = {split: stepper.evaluate(group.active, *tensors[split]) for split in splits}
            for i in group.evaluated(train_metrics, evaluations, first=group.step == steps):
                _done(group, i, stepper, tensors, on_done)
            if saver:
                saver.evaluated(group, stepper)
            if progress:
                progress(group.step, hp.iterations, len(group.active))
        for i in group.active:
            _done(group, i, stepper, tensors, on_done)
    if saver:
        saver.path.unlink(missing_ok=True)
    return group.results


def _done(group: _Group, i: int, engine: engines.Engine, tensors: dict, on_done) -> None:
    group.results[i] = _finish(group, i, engine, tensors)
    if on_done:
        on_done(i, group.results[i])


@contextlib.contextmanager
def _quiet_retracing():
    """TensorFlow's retracing warnings off for the block: expected when models leave a group."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


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
    """Make TF ops deterministic (bit-identical reruns on one machine), for the rest of the process;
    :func:`train` calls it when ``LTH_DETERMINISTIC=1``."""
    if enabled:
        tf.config.experimental.enable_op_determinism()


_EVALUATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def evaluate(model, x, y) -> tuple[float, float]:
    """Mean loss and accuracy of one model on ``(x, y)``, in batches; compiled once per model."""
    if model not in _EVALUATORS:
        _EVALUATORS[model] = engines.batched_evaluation(
            lambda xb, yb: tf.stack(engines.mean_loss_and_accuracy(model(xb, training=False), yb))[None], 1)
    loss, accuracy = _EVALUATORS[model](tf.convert_to_tensor(x), tf.convert_to_tensor(y)).numpy()[0]
    return float(loss), float(accuracy)
