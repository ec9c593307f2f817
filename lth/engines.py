"""Training engines: how a group of trainees takes its steps and is evaluated.

Every engine implements :class:`Engine`. Between evaluations :func:`lth.training.train` asks it for
one compiled ``chunk`` of steps (each model draws its own batch, takes its own gradient and its own
optimiser step, all inside one ``tf.range`` loop, so Python overhead is paid once per evaluation),
then ``sync``\\ s the Keras models and ``evaluate``\\ s them.

* ``graph`` (:class:`GraphEngine`), the reference: the K models side by side as K sub-graphs of
  one function, each with its TF-MOT wrappers and its own Keras optimiser.
* ``stacked`` (:class:`StackedEngine`, :mod:`lth.stacked`): the K models as one stacked network,
  with the same results (fixed masks, or masks that TF-MOT schedules change) and faster.
* ``stacked-xla``: the stacked engine with its training chunk compiled by XLA
  (``jit_compile=True``), on TensorFlow's own ops (XLA cannot compile :mod:`lth.native`'s).

:func:`choose_engine` picks one; :func:`create` builds it with the :class:`NativeOps` it may use.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass

import lth  # noqa: F401
import numpy as np
import tensorflow as tf
import tf_keras as keras

from lth import native, optimizers, private_apis, stacked

EVAL_BATCH = 1000
ENGINES = ("auto", "stacked", "graph", "stacked-xla")


@dataclass(frozen=True)
class NativeOps:
    """Which of :mod:`lth.native`'s ops an engine's traced functions may use, each where it fits:
    the fused convolution + max-pool ops (stacked engine), the masked Adam step, and dense kernels'
    gradients computed inside that step (stacked engine). Use only where :func:`lth.native.available`."""

    convolutions: bool = True
    adam: bool = True
    dense_gradients: bool = True

    @classmethod
    def none(cls) -> NativeOps:
        return cls(False, False, False)

    @classmethod
    def default(cls) -> NativeOps:
        """All of them where :mod:`lth.native` runs, else none."""
        return cls() if native.available() else cls.none()


def mean_loss_and_accuracy(logits, labels, axis=None):
    """Mean cross-entropy and accuracy of ``logits`` for integer ``labels``; ``axis=1`` on stacked
    logits ``[K, B, C]`` gives two ``[K]`` vectors, one value per network."""
    losses = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int64), labels), tf.float32)
    return tf.reduce_mean(losses, axis=axis), tf.reduce_mean(hits, axis=axis)


def batched_evaluation(metrics, k: int):
    """A compiled ``(x, y) -> [k, 2]``: the mean loss and accuracy of k networks over all of ``(x, y)``,
    computed ``EVAL_BATCH`` examples at a time (``metrics(xb, yb) -> [k, 2]`` per batch) and weighted
    by batch size. The one batched evaluation loop of both engines and :func:`lth.training.evaluate`."""
    @tf.function
    def run(x, y):
        n = tf.shape(y)[0]
        totals = tf.zeros([k, 2])
        for start in tf.range(0, n, EVAL_BATCH):
            xb, yb = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
            totals += metrics(xb, yb) * tf.cast(tf.shape(yb)[0], tf.float32)
        return totals / tf.cast(n, tf.float32)

    return run


def _compiled_chunk(step, k: int, batch_size: int, jit_compile: bool = False):
    """A compiled chunk of training steps: indices ``[k, steps, batch_size]`` -> the k networks' mean
    training loss and accuracy ``[k, 2]`` over the steps; ``step(batch [k, batch_size]) -> [k, 2]``."""
    @tf.function(input_signature=[tf.TensorSpec([k, None, batch_size], tf.int32)], jit_compile=jit_compile)
    def run(indices):
        steps = tf.shape(indices)[1]
        totals = tf.zeros([k, 2])
        for i in tf.range(steps):
            totals += step(indices[:, i])
        return totals / tf.cast(steps, tf.float32)

    return run


def _assign_all(variables, values) -> None:
    if len(variables) != len(values):
        raise ValueError(f"checkpoint holds {len(values)} optimiser variables, the optimiser has {len(variables)}")
    for variable, value in zip(variables, values):
        variable.assign(value)


class Engine(abc.ABC):
    """A group's training and evaluation, for any subset ``active`` (a tuple of indices into ``trainees``)
    of the trainees still training.

    Each trainee is a :class:`lth.training.Trainee` (``model``, ``hold_masks``, ``hparams``,
    ``wrapped``). ``native_ops`` tells whether any function the engine has run so far contains
    :mod:`lth.native`'s ops. Creating an engine starts the wrappers' pruning steps (what
    ``UpdatePruningStep.on_train_begin`` does).
    """

    name: str

    def __init__(self, trainees, x_train, y_train, hp, native_ops: NativeOps):
        self.trainees, self.x, self.y, self.hp, self.native = trainees, x_train, y_train, hp, native_ops
        self.native_ops = False
        self._inspected: dict = {}  # id -> traced function (kept, so that no other function takes its id)
        for t in trainees:
            for layer in t.wrapped:
                step = private_apis.pruning_step(layer)
                if int(step.numpy()) == -1:
                    step.assign(0)

    @abc.abstractmethod
    def chunk(self, active: tuple):
        """A compiled function: indices ``[len(active), steps, batch_size]`` (each trainee's batches) ->
        ``[len(active), 2]``, each trainee's mean training loss and accuracy over those steps."""

    @abc.abstractmethod
    def evaluate(self, active: tuple, x, y) -> np.ndarray:
        """``[len(active), 2]``: each active trainee's mean loss and accuracy on ``(x, y)``."""

    @abc.abstractmethod
    def sync(self, active: tuple, steps: int) -> None:
        """After a chunk of ``steps`` steps: bring the Keras models (weights, masks, TF-MOT step counters)
        to where training left them, as ``UpdatePruningStep.on_epoch_end`` would."""

    @abc.abstractmethod
    def optimizer_state(self):
        """The optimiser state, as a checkpoint stores it (picklable)."""

    @abc.abstractmethod
    def load_optimizer_state(self, state) -> None:
        """Restore what :meth:`optimizer_state` returned."""

    def _note_native_ops(self, function) -> None:
        """Record whether the traced ``function`` (a concrete function) runs lth.native's ops."""
        if id(function) not in self._inspected:
            self._inspected[id(function)] = function
            self.native_ops = self.native_ops or native.used_by(function)

    def _evaluate_with(self, evaluator, x, y) -> np.ndarray:
        function = evaluator.get_concrete_function(x, y)
        self._note_native_ops(function)
        return function(x, y).numpy()


def _step_masks(trainee, variables) -> list:
    """Per variable of ``trainee``, the mask its optimiser step multiplies in: its TF-MOT mask if it
    holds its masks fixed (its pruned weights stay exactly zero), else None."""
    if not trainee.hold_masks:
        return [None] * len(variables)
    masks = {weight.ref(): mask for weight, mask in trainee.masked_vars}
    return [masks.get(variable.ref()) for variable in variables]


class GraphEngine(Engine):
    """The reference engine: each trainee its own Keras model, wrappers and optimiser (``trainee.optimizer``),
    K sub-graphs in one compiled function per set of active trainees."""

    name = "graph"

    def __init__(self, trainees, x_train, y_train, hp, native_ops: NativeOps):
        super().__init__(trainees, x_train, y_train, hp, native_ops)
        self.chunks, self.evaluators = {}, {}
        for t in trainees:
            t.optimizer = optimizers.make_optimizer(t.hparams or hp)
            t.optimizer.build(t.model.trainable_variables)

    def chunk(self, active: tuple):
        if active not in self.chunks:
            members = [self.trainees[i] for i in active]
            variables = [m.model.trainable_variables for m in members]
            masks = [_step_masks(m, v) for m, v in zip(members, variables)]
            x, y, native_adam = self.x, self.y, self.native.adam

            def step(batch):
                rows = []
                for j, member in enumerate(members):
                    xb, yb = tf.gather(x, batch[j]), tf.gather(y, batch[j])
                    with tf.GradientTape() as tape:
                        loss, accuracy = mean_loss_and_accuracy(member.model(xb, training=True), yb)
                    grads = tape.gradient(loss, variables[j])
                    optimizers.apply_gradients(member.optimizer, grads, variables[j], masks[j], native_adam)
                    rows.append(tf.stack([loss, accuracy]))
                return tf.stack(rows)

            run = _compiled_chunk(step, len(members), self.hp.batch_size)
            self._note_native_ops(run.get_concrete_function())
            self.chunks[active] = run
        return self.chunks[active]

    def evaluate(self, active: tuple, x, y) -> np.ndarray:
        if active not in self.evaluators:
            models = [self.trainees[i].model for i in active]
            self.evaluators[active] = batched_evaluation(
                lambda xb, yb: tf.stack([tf.stack(mean_loss_and_accuracy(m(xb, training=False), yb)) for m in models]),
                len(models))
        return self._evaluate_with(self.evaluators[active], x, y)

    def optimizer_state(self):
        return [[v.numpy() for v in t.optimizer.variables] for t in self.trainees]

    def load_optimizer_state(self, state) -> None:
        for t, values in zip(self.trainees, state):
            _assign_all(t.optimizer.variables, values)

    def sync(self, active: tuple, steps: int) -> None:
        """What ``UpdatePruningStep.on_epoch_end`` does: re-mask the weights."""
        for i in active:
            for layer in self.trainees[i].wrapped:
                private_apis.apply_weight_mask(layer)


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


class StackedEngine(Engine):
    """The active trainees as one :class:`lth.stacked.StackedNetwork` with one optimiser.

    When trainees stop, the rest are stacked anew, their optimiser state carried
    over slice by slice. After each chunk the stacked weights are written back
    into the Keras models, so monitors, the final evaluation and the store see
    ordinary models. ``xla``: compile the training chunk with XLA (no lth.native ops then).
    """

    name = "stacked"

    def __init__(self, trainees, x_train, y_train, hp, native_ops: NativeOps, xla: bool = False):
        if xla and native_ops != NativeOps.none():
            raise ValueError(f"XLA cannot compile lth.native's ops: with xla, native_ops must be none, got {native_ops}")
        super().__init__(trainees, x_train, y_train, hp, native_ops)
        self.xla = xla
        self.name = "stacked-xla" if xla else "stacked"
        self.active, self.net, self.optimizer, self.fn, self.evaluator = None, None, None, None, None

    def _restack(self, active: tuple):
        net = stacked.StackedNetwork([self.trainees[i].model for i in active],
                                     [stacked.scheduled(self.trainees[i]) for i in active],
                                     native=self.native.convolutions)
        optimizer = optimizers.make_optimizer(self.trainees[active[0]].hparams or self.hp)
        optimizer.jit_compile = True  # used only where optimizers.apply_gradients cannot fuse the update
        optimizer.build(net.trainable_variables)
        if self.optimizer is not None:
            keep = [self.active.index(i) for i in active]
            for old, new in zip(self.optimizer.variables, optimizer.variables):
                new.assign(tf.gather(old, keep) if old.shape.rank else old)
        self.active, self.net, self.optimizer = active, net, optimizer
        x, y, k = self.x, self.y, len(active)
        native_adam = self.native.adam
        fuse_dense = native_adam and self.native.dense_gradients and optimizers.fuses_dense_gradients(optimizer)

        def step(batch):
            net.update_masks()
            products = {} if fuse_dense else None
            with tf.GradientTape() as tape:
                logits = net(tf.gather(x, batch), dense_products=products)
                losses, accuracies = mean_loss_and_accuracy(logits, tf.gather(y, batch), axis=1)
                total = tf.reduce_sum(losses)
            grads = _stacked_gradients(tape, total, net.trainable_variables, products)
            optimizers.apply_gradients(optimizer, grads, net.trainable_variables, net.step_masks(), native_adam)
            return tf.stack([losses, accuracies], axis=1)

        self.fn = _compiled_chunk(step, k, self.hp.batch_size, jit_compile=self.xla)
        self._note_native_ops(self.fn.get_concrete_function())

        def metrics(xb, yb):
            logits = net(xb, shared=True)
            losses, accuracies = mean_loss_and_accuracy(logits, tf.broadcast_to(yb[None], [k, tf.shape(yb)[0]]),
                                                        axis=1)
            return tf.stack([losses, accuracies], axis=1)

        self.evaluator = batched_evaluation(metrics, k)

    def chunk(self, active: tuple):
        if active != self.active:
            self._restack(active)
        return self.fn

    def evaluate(self, active: tuple, x, y) -> np.ndarray:
        if active != self.active:
            raise ValueError(f"stacked evaluation of {active}, but {self.active} are stacked")
        return self._evaluate_with(self.evaluator, x, y)

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
                    private_apis.pruning_step(layer).assign_add(steps)


def choose_engine(trainees, hp, engine: str = "auto") -> str:
    """``stacked`` when the trainees stack (see :func:`lth.stacked.unsupported`) and ``engine`` allows it.

    ``auto`` trains a single trainee on the graph engine: a stack of one has the stacked
    engine's reshapes without its savings (``bench/train_speed.py`` measures both).
    ``stacked-xla`` is asked for by name only.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown training engine {engine!r}; known: {list(ENGINES)}")
    if engine == "graph" or (engine == "auto" and len(trainees) == 1):
        return "graph"
    reason = stacked.unsupported(trainees, hp)
    if reason is None:
        return "stacked" if engine == "auto" else engine
    if engine != "auto":
        raise ValueError(f"these trainees cannot train {engine}: {reason}")
    return "graph"


def create(name: str, trainees, x_train, y_train, hp, native_ops: NativeOps | None = None) -> Engine:
    """The engine ``name`` (as :func:`choose_engine` returns it) for ``trainees``; ``native_ops``
    default: :meth:`NativeOps.default` (none for ``stacked-xla``)."""
    if name == "graph":
        return GraphEngine(trainees, x_train, y_train, hp, native_ops or NativeOps.default())
    if name == "stacked":
        return StackedEngine(trainees, x_train, y_train, hp, native_ops or NativeOps.default())
    if name == "stacked-xla":
        return StackedEngine(trainees, x_train, y_train, hp, native_ops or NativeOps.none(), xla=True)
    raise ValueError(f"unknown training engine {name!r}; known: {[e for e in ENGINES if e != 'auto']}")
