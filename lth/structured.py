"""Structured pruning that builds a smaller network: Li et al.'s (2017) L1-norm filter pruning.

Masking whole filters (:func:`lth.pruning.filter_masks`) leaves a network of the original size
whose zeros still cost time. Here the pruned network is built anew, with fewer filters in each
pruned convolution and correspondingly fewer input channels in whatever reads its output (the
next convolution, a batch norm, a dense layer after a flatten or a global pool), so its
parameters, FLOPs and time per epoch are genuinely smaller:

* :func:`removable_layers`: the convolutions whose filters can go: every one whose output does
  not meet another tensor in an ``Add`` (a ResNet block's second convolution and its shortcut must
  keep the residual's width, so Li et al. prune only the first convolution of each block);
* :func:`choose_filters`: per layer, the filters with the largest sum of ``|w|`` in the trained
  network (Li et al.'s criterion), keeping ``1 - fraction`` of them;
* :func:`smaller_model`: the network with only those filters, holding the kept filters' weights
  of a given full network (the ticket: the original initial weights) or fresh ones from a seed
  (Liu et al.'s Scratch-E and Scratch-B);
* :func:`job`: a :class:`lth.runs.StructuredRun` as a job for :func:`lth.jobs.run_jobs`;
* :func:`epoch_seconds`: the measured seconds per epoch of several networks, timed in one process.
"""
from __future__ import annotations

import time

import lth  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_keras import layers as kl

from lth import models, pruning

# Layers whose output has the channels of their input, in the same order (their weights, if any,
# are one value per channel: batch norm's gamma, beta, moving mean and variance).
CHANNELWISE = (kl.BatchNormalization, kl.ReLU, kl.Activation, kl.MaxPooling2D, kl.AveragePooling2D, kl.Dropout,
               kl.GlobalAveragePooling2D, kl.GlobalMaxPooling2D)
MERGING = (kl.Add,)


def _inbound(model) -> dict:
    """``{layer name: [names of the layers it reads]}`` of a Sequential or functional model."""
    if isinstance(model, keras.Sequential):
        names = [layer.name for layer in model.layers]
        return {name: ([names[i - 1]] if i else []) for i, name in enumerate(names)}
    out = {}
    for entry in model.get_config()["layers"]:
        nodes = entry.get("inbound_nodes") or []
        out[entry["name"]] = [inbound[0] for node in nodes for inbound in node]
    return out


def _trace(model):
    """For every layer: the layers it reads, and whether its output channels are those of its input."""
    inbound = _inbound(model)
    return [(layer, inbound.get(layer.name, [])) for layer in model.layers]


def removable_layers(model) -> list[str]:
    """The convolutions of ``model`` whose filters can be removed: those whose output channels, through
    channel-wise layers (batch norm, activations, pooling), never meet another tensor in an ``Add``."""
    readers: dict = {}
    for layer, sources in _trace(model):
        for source in sources:
            readers.setdefault(source, []).append(layer)

    def reaches_merge(name, seen=()):
        for reader in readers.get(name, []):
            if isinstance(reader, MERGING):
                return True
            if isinstance(reader, CHANNELWISE) and reader.name not in seen and reaches_merge(reader.name, seen + (name,)):
                return True
        return False

    return [layer.name for layer, _ in _trace(model) if isinstance(layer, kl.Conv2D) and not reaches_merge(layer.name)]


def choose_filters(trained: dict, fraction: float) -> dict:
    """Li et al.'s choice: per convolution kernel of ``trained`` (``{layer: [kh, kw, in, out] array}``) the
    sorted indices of the filters kept, the ``round(fraction * out)`` with the smallest sum of ``|w|`` gone.
    The ranking is :func:`lth.pruning.filter_masks`' (the masked-filter form of the same pruning)."""
    if not 0 < fraction < 1:
        raise ValueError(f"the fraction of filters removed must be in (0, 1), got {fraction}")
    masks = pruning.filter_masks(trained, fraction)
    kept = {name: np.flatnonzero(mask.reshape(-1, mask.shape[-1]).any(axis=0)) for name, mask in masks.items()}
    empty = sorted(name for name, index in kept.items() if len(index) == 0)
    if empty:
        raise ValueError(f"fraction {fraction} removes every filter of {empty}")
    return kept


def _channels(model, kept: dict) -> dict:
    """``{layer: indices of the full model's channels its output holds}`` (None: all of them) when the
    convolutions in ``kept`` keep only those filters."""
    out: dict = {}
    for layer, sources in _trace(model):
        inputs = [out[s] for s in sources if s in out]
        here = inputs[0] if inputs else None
        if layer.name in kept:
            if not isinstance(layer, kl.Conv2D):
                raise ValueError(f"only convolutions' filters are removed; {layer.name!r} is a {type(layer).__name__}")
            out[layer.name] = np.asarray(kept[layer.name])
        elif isinstance(layer, MERGING):
            if any(not _same(i, here) for i in inputs):
                raise ValueError(f"{layer.name!r} adds tensors whose channels were pruned differently")
            out[layer.name] = here
        elif isinstance(layer, kl.Flatten) and here is not None:
            positions, width = int(np.prod(layer.input_shape[1:-1])), layer.input_shape[-1]
            out[layer.name] = (np.arange(positions)[:, None] * width + here[None, :]).ravel()
        elif isinstance(layer, (kl.Conv2D, kl.Dense)):
            out[layer.name] = None
        elif isinstance(layer, (kl.InputLayer, kl.Flatten) + CHANNELWISE):
            out[layer.name] = here
        else:
            raise ValueError(f"cannot prune filters through layer {layer.name!r} ({type(layer).__name__})")
    return out


def _same(a, b) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def _sliced_weights(layer, inputs, outputs) -> list:
    """``layer``'s weights restricted to the input channels ``inputs`` and its filters ``outputs`` (None: all)."""
    weights = layer.get_weights()
    if isinstance(layer, kl.Conv2D):
        kernel = weights[0] if inputs is None else weights[0][:, :, inputs, :]
        if outputs is not None:
            kernel = kernel[..., outputs]
        bias = [] if len(weights) == 1 else [weights[1] if outputs is None else weights[1][outputs]]
        return [kernel] + bias
    if isinstance(layer, kl.Dense):
        return [weights[0] if inputs is None else weights[0][inputs, :]] + weights[1:]
    if isinstance(layer, kl.BatchNormalization):
        return [w if inputs is None else w[inputs] for w in weights]
    if weights:
        raise ValueError(f"cannot slice the weights of layer {layer.name!r} ({type(layer).__name__})")
    return []


def smaller_model(model, kept: dict, seed: int | None = None):
    """``model`` rebuilt with only the filters ``kept`` (``{convolution: filter indices}``) and the input
    channels that follow from them, the whole network otherwise the same.

    ``seed`` None: every weight is the full model's weight of a kept filter and channel, so the
    smaller network computes exactly what ``model`` computes with the removed filters (and their
    batch-norm scale and shift) set to zero. Otherwise fresh weights drawn from ``seed`` by each
    layer's own initialiser, scaled to the smaller layers' fan-in (a network trained from scratch).
    """
    unknown = sorted(set(kept) - set(removable_layers(model)))
    if unknown:
        raise ValueError(f"cannot remove filters of {unknown}: not removable convolutions of {model.name}; "
                         f"removable: {removable_layers(model)}")
    channels = _channels(model, kept)
    config = model.get_config()
    for entry in config["layers"]:
        name = entry["config"].get("name")
        if name in kept:
            entry["config"]["filters"] = int(len(kept[name]))
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    small = model.__class__.from_config(config)
    if seed is None:
        for layer, sources in _trace(model):
            inputs = channels[sources[0]] if sources else None
            weights = _sliced_weights(layer, inputs, kept.get(layer.name))
            if weights:
                small.get_layer(layer.name).set_weights(weights)
    return small


def count_filters(model) -> int:
    """Filters of all the convolutions of ``model``."""
    return int(sum(layer.filters for layer in model.layers if isinstance(layer, kl.Conv2D)))


def describe(model) -> dict:
    """Filters, parameters and FLOPs (multiply-adds, :mod:`lth.flops`) of a built network."""
    from lth import flops

    return {"filters": count_filters(model), "params": models.count_weights(model), "flops": flops.count(model)}


# ------------------------------------------------------------------ Liu et al.'s runs


def scratch_b_iterations(iterations: int, flop_ratio: float, cap: float = 2.0) -> int:
    """Liu et al.'s Scratch-B budget: ``iterations`` scaled by the FLOP reduction ``flop_ratio`` (the dense
    network's FLOPs over the smaller one's), at most ``cap`` times."""
    return int(round(iterations * min(cap, flop_ratio)))


def _initial_dense(parent):
    from lth.jobs import load_data

    return models.build(parent.model.name, seed=parent.seed, input_shape=load_data(parent.dataset).input_shape,
                        width=parent.model.width)


def plan(parent, fraction: float, store=None) -> dict | None:
    """The filters Li et al.'s pruning keeps of ``parent``'s trained network (``{convolution: indices}``),
    or None while the parent is not stored."""
    from lth.experiments import Lottery

    stored = Lottery(parent.dataset, parent.model, parent.training, parent.pruning, parent.seed, store).stored(0, "ticket")
    if stored is None:
        return None
    final = {key[len("final/"):]: value for key, value in stored.arrays().items() if key.startswith("final/")}
    return choose_filters({name: final[name] for name in removable_layers(_initial_dense(parent))}, fraction)


def network(desc, kept: dict, dense=None):
    """The smaller network ``desc`` trains (a :class:`lth.runs.StructuredRun`), with its initial weights;
    ``dense``: the parent's initial network, if already built."""
    from lth.runs import derive_seed

    dense = dense if dense is not None else _initial_dense(desc.parent)
    if desc.method == "ticket":
        return smaller_model(dense, kept)
    return smaller_model(dense, kept, seed=derive_seed("structured-reinit", desc.parent.seed, desc.fraction))


def job(desc, store=None):
    """The job of a :class:`lth.runs.StructuredRun`, or None while its parent is not stored. The ticket, Scratch-E
    and Scratch-B of one parent and fraction see the same order of batches (Scratch-B sees more of it); both
    scratch budgets start from the same fresh weights. The result records the filters, parameters and FLOPs
    of the trained network and of its dense parent, and the number of filters kept per convolution."""
    from lth import training
    from lth.jobs import Job
    from lth.runs import derive_seed

    kept = plan(desc.parent, desc.fraction, store)
    if kept is None:
        return None
    sizes = {}

    def build():
        dense = _initial_dense(desc.parent)
        sizes.update({f"dense_{key}": value for key, value in describe(dense).items()})
        return training.Trainee(network(desc, kept, dense), name=desc.method,
                                seed=derive_seed("structured-data", desc.parent.seed, desc.fraction))

    def finish(trainee, train_result):
        result = train_result | sizes | describe(trainee.model) | {
            "kept": {name: int(len(index)) for name, index in kept.items()}}
        return result, {f"kept/{name}": np.asarray(index, dtype=np.int32) for name, index in kept.items()}

    return Job(desc, desc.parent.dataset, desc.training, build, finish, desc.parent.seed)


# ------------------------------------------------------------------ measured time per epoch


def epoch_seconds(networks: dict, examples: int, batch_size: int, steps: int = 30, repeats: int = 3,
                  learning_rate: float = 0.01, momentum: float = 0.9, seed: int = 0) -> dict:
    """Measured seconds per epoch of ``examples`` training images for each of ``networks`` (``{label: model}``).

    One compiled SGD step per network (cross-entropy from logits, momentum, as training uses) on
    random inputs of the networks' input shape (a step's time does not depend on the values).
    After one untimed warm-up, the networks take turns for ``repeats`` rounds of ``steps`` steps,
    so that all of them meet the same machine load; a network's time per step is the fastest of
    its rounds (the least disturbed), times the steps of an epoch. Returns, per label, ``seconds``
    (wall) and ``cpu_seconds`` (process CPU time) per epoch.
    """
    if steps < 1 or repeats < 1:
        raise ValueError(f"steps and repeats must be >= 1, got steps={steps}, repeats={repeats}")
    rng = np.random.default_rng(seed)
    steppers = {}
    for label, net in networks.items():
        x = tf.constant(rng.random((batch_size,) + tuple(net.input_shape[1:]), dtype=np.float32))
        y = tf.constant(rng.integers(0, net.output_shape[-1], batch_size))
        optimizer = keras.optimizers.SGD(learning_rate, momentum=momentum)

        @tf.function
        def run(n, net=net, x=x, y=y, optimizer=optimizer):
            for _ in tf.range(n):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, net(x, training=True),
                                                                                       from_logits=True))
                optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
            return loss

        run(tf.constant(2)).numpy()  # trace, compile and warm up, untimed
        steppers[label] = run
    best = {label: (np.inf, np.inf) for label in networks}
    for _ in range(repeats):
        for label, run in steppers.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run(tf.constant(steps)).numpy()
            wall, cpu = (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps
            best[label] = (min(best[label][0], wall), min(best[label][1], cpu))
    per_epoch = examples / batch_size
    return {label: {"seconds": wall * per_epoch, "cpu_seconds": cpu * per_epoch} for label, (wall, cpu) in best.items()}
