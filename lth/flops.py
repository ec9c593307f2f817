"""A network's theoretical cost and size, pruned or not, as Blalock et al. (2020) ask pruning results to be reported.

FLOPs here are **multiply-adds** (one multiplication and one addition count once) of the Dense and
Conv2D kernels in one forward pass of one example: each kept kernel weight times the output positions
it is applied at (the output's height x width for a convolution, 1 for a dense layer). Biases, batch
norm, activations and pooling are not counted; they are a small and unprunable share of these
networks' work. A weight that a mask removes costs nothing: the *theoretical* speed-up, which sparse
kernels or smaller layers would have to realise.

* :func:`count`: the FLOPs of a model, with or without masks (a genuinely smaller model needs none).
* :func:`footprint`: FLOPs, weights remaining and compression ratios, of the prunable weights and of
  the whole network, beside the dense network's.
"""
from __future__ import annotations

import numpy as np
import tf_keras as keras

from lth import models, pruning

COUNTED = (keras.layers.Dense, keras.layers.Conv2D)


def _counted_layers(model) -> dict:
    """``{name: (layer, wrapper or layer)}`` of the Dense and Conv2D layers, seen through pruning wrappers."""
    out = {}
    for layer in model.layers:
        inner = layer.layer if isinstance(layer, pruning.PruneLowMagnitude) else layer
        if isinstance(inner, COUNTED):
            out[inner.name] = (inner, layer)
    return out


def positions(model) -> dict:
    """Output positions of each Dense and Conv2D layer: height x width of a convolution's output, 1 for a
    dense layer (applied once per example)."""
    out = {}
    for name, (inner, layer) in _counted_layers(model).items():
        shape = layer.output_shape
        out[name] = int(np.prod(shape[1:-1])) if isinstance(inner, keras.layers.Conv2D) else 1
    return out


def kernel_sizes(model) -> dict:
    """Weights in each Dense and Conv2D kernel."""
    return {name: int(np.prod(inner.kernel.shape)) for name, (inner, _) in _counted_layers(model).items()}


def layer_flops(model, masks: dict | None = None) -> dict:
    """Multiply-adds per Dense and Conv2D layer; ``masks`` ``{layer: bool array}`` (any subset of the layers)
    count only the kept weights of the layers they name."""
    kept = kernel_sizes(model) | {name: int(np.sum(m)) for name, m in (masks or {}).items()}
    unknown = sorted(set(kept) - set(positions(model)))
    if unknown:
        raise ValueError(f"masks name layers {unknown} that are not Dense or Conv2D layers of {model.name}")
    return {name: kept[name] * n for name, n in positions(model).items()}


def count(model, masks: dict | None = None) -> int:
    """Multiply-adds of one forward pass of one example through ``model``'s Dense and Conv2D kernels.

    ``masks`` (``{layer name: bool array}``, e.g. :func:`lth.pruning.get_masks`) counts only the weights
    they keep; None counts every weight, which is right for a dense model or a genuinely smaller one
    (fewer filters or units), and counts a wrapped model's pruned weights as if they were there.
    """
    return int(sum(layer_flops(model, masks).values()))


def footprint(model, masks: dict | None = None, prunable: list | None = None) -> dict:
    """FLOPs and size of ``model`` under ``masks`` beside its dense self (Blalock et al.'s measures).

    ``prunable``: the layers pruning may touch (default the layers ``masks`` name, or all Dense and
    Conv2D layers). Returns ``flops`` and ``dense_flops`` (multiply-adds), ``speedup`` (their ratio),
    ``prunable_weights`` / ``prunable_kept`` (kernel weights of the prunable layers), ``density``
    (their ratio, the "weights remaining"), ``compression`` (prunable weights / kept: the compression
    ratio of the prunable weights), ``weights`` / ``weights_kept`` (every real weight: kernels,
    biases, batch-norm parameters) and ``compression_total`` (the whole network's compression ratio).
    """
    sizes = kernel_sizes(model)
    names = list(prunable if prunable is not None else (masks if masks else sizes))
    kept = {name: int(np.sum(masks[name])) if masks and name in masks else sizes[name] for name in names}
    total = models.count_weights(model)
    removed = sum(sizes[name] - kept[name] for name in names)
    flops, dense = count(model, masks), count(model)
    prunable_weights, prunable_kept = sum(sizes[n] for n in names), sum(kept.values())
    return {"flops": flops, "dense_flops": dense, "speedup": dense / flops,
            "prunable_weights": prunable_weights, "prunable_kept": prunable_kept,
            "density": prunable_kept / prunable_weights, "compression": prunable_weights / prunable_kept,
            "weights": total, "weights_kept": total - removed, "compression_total": total / (total - removed)}
