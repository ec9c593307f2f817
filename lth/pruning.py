"""Pruning on TF-MOT: wrap layers, schedules, masks, and mask criteria.

Masks are dictionaries ``{layer name: bool array shaped like its kernel}``.
A model is "wrapped" when its prunable layers are TF-MOT
``PruneLowMagnitude`` wrappers; its masks are then TF-MOT's mask variables.
Three ways a wrapped model can treat its masks while training:

* a TF-MOT schedule (``polynomial_decay``) recomputes
  the masks from weight magnitudes when it fires;
* ``FixedMask`` never fires: the masks you assign stay, and the trainer
  re-applies them after every step so pruned weights stay exactly zero.
"""
from __future__ import annotations

import lth  # noqa: F401
import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import PruneLowMagnitude

sparsity_api = tfmot.sparsity.keras

CRITERIA = (
    "large_final", "small_final", "large_init", "small_init", "large_init_large_final",
    "small_init_small_final", "magnitude_increase", "movement", "large_final_same_sign", "random",
)
STRUCTURED = ("l1_filter",)  # whole output channels (filters, hidden units)
SCOPES = ("layerwise", "global")


# ------------------------------------------------------------------ schedules


class FixedMask(sparsity_api.PruningSchedule):
    """A schedule that never prunes: the mask assigned to the wrapper stays as it is."""

    @tf.autograph.experimental.do_not_convert
    def __call__(self, step):
        return tf.constant(False), tf.constant(0.0)

    def get_config(self):
        return {"class_name": "FixedMask", "config": {}}


def check_density(density) -> float:
    if isinstance(density, bool) or not isinstance(density, (int, float, np.floating, np.integer)):
        raise TypeError(f"density must be a number in (0, 1], got {density!r}")
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density}")
    return float(density)


def polynomial_decay(final_density, *, begin_step, end_step, frequency, initial_density=1.0, power=3):
    """Zhu & Gupta's gradual pruning: density falls from ``initial_density`` to ``final_density``."""
    return sparsity_api.PolynomialDecay(
        initial_sparsity=1.0 - check_density(initial_density), final_sparsity=1.0 - check_density(final_density),
        begin_step=int(begin_step), end_step=int(end_step), frequency=int(frequency), power=power)


# ------------------------------------------------------------------ wrapping


def wrap(model, layer_names, schedule=None):
    """A copy of ``model`` whose layers ``layer_names`` are TF-MOT pruning wrappers.

    ``schedule`` is one schedule for all, or a dict ``{layer name: schedule}``;
    default :class:`FixedMask`. Weights are copied from ``model``; masks start at 1.
    """
    layer_names = list(layer_names)
    known = [layer.name for layer in model.layers]
    unknown = [name for name in layer_names if name not in known]
    if unknown:
        raise ValueError(f"cannot prune layers {unknown}: not in model {model.name}; its layers: {known}")

    def schedule_for(name):
        if isinstance(schedule, dict):
            return schedule.get(name, FixedMask())
        return schedule if schedule is not None else FixedMask()

    def clone(layer):
        fresh = layer.__class__.from_config(layer.get_config())
        if layer.name in layer_names:
            return sparsity_api.prune_low_magnitude(fresh, pruning_schedule=schedule_for(layer.name))
        return fresh

    wrapped = keras.models.clone_model(model, clone_function=clone)
    copy_weights(model, wrapped)
    return wrapped


def wrap_at_density(model, layer_names, density: float):
    """``model`` wrapped (fixed masks) with its kernels in ``layer_names`` pruned to ``density`` by magnitude."""
    wrapped = wrap(model, layer_names)
    magnitudes = {name: np.abs(kernel) for name, kernel in kernels(wrapped).items()}
    set_masks(wrapped, masks_at_density(magnitudes, check_density(density)))
    return wrapped


def _inner(layer):
    return layer.layer if isinstance(layer, PruneLowMagnitude) else layer


def _layer_name(layer):
    return _inner(layer).name


def copy_weights(source, target) -> None:
    """Copy the real weights of ``source`` into ``target`` layer by layer (wrapped or not)."""
    by_name = {_layer_name(layer): _inner(layer) for layer in source.layers}
    for layer in target.layers:
        inner = _inner(layer)
        if inner.name in by_name and inner.weights:
            inner.set_weights(by_name[inner.name].get_weights())


def wrappers(model) -> dict:
    return {layer.layer.name: layer for layer in model.layers if isinstance(layer, PruneLowMagnitude)}


def kernels(model) -> dict:
    """The current prunable kernels of a wrapped model, as numpy arrays."""
    return {name: w.pruning_vars[0][0].numpy() for name, w in wrappers(model).items()}


def get_masks(model) -> dict:
    return {name: w.pruning_vars[0][1].numpy().astype(bool) for name, w in wrappers(model).items()}


def set_masks(model, masks: dict) -> None:
    """Assign ``masks`` to a wrapped model and zero the pruned weights."""
    layers = wrappers(model)
    missing = sorted(set(layers) - set(masks))
    extra = sorted(set(masks) - set(layers))
    if missing or extra:
        raise ValueError(f"masks do not fit the model's pruned layers {sorted(layers)}: missing {missing}, extra {extra}")
    for name, wrapper in layers.items():
        weight, mask, _ = wrapper.pruning_vars[0]
        if tuple(mask.shape) != np.shape(masks[name]):
            raise ValueError(f"mask for {name} has shape {np.shape(masks[name])}, expected {tuple(mask.shape)}")
        mask.assign(np.asarray(masks[name], dtype=np.float32))
        weight.assign(weight.numpy() * np.asarray(masks[name], dtype=np.float32))


def sparsity_report(model) -> list[dict]:
    """Per pruned layer: weights, weights kept, density."""
    rows = []
    for name, mask in get_masks(model).items():
        rows.append({"layer": name, "weights": int(mask.size), "kept": int(mask.sum()),
                     "density": float(mask.mean())})
    return rows


def density(masks: dict) -> float:
    """Overall density of a set of masks (kept / all)."""
    return float(sum(m.sum() for m in masks.values()) / sum(m.size for m in masks.values()))


# ------------------------------------------------------------------ mask criteria


def score(criterion: str, w_init: np.ndarray, w_final: np.ndarray, rng=None) -> np.ndarray:
    """Zhou et al.'s mask criteria: a larger score means "keep"."""
    if criterion == "large_final":
        return np.abs(w_final)
    if criterion == "small_final":
        return -np.abs(w_final)
    if criterion == "large_init":
        return np.abs(w_init)
    if criterion == "small_init":
        return -np.abs(w_init)
    if criterion == "large_init_large_final":
        return np.minimum(np.abs(w_init), np.abs(w_final))
    if criterion == "small_init_small_final":
        return -np.maximum(np.abs(w_init), np.abs(w_final))
    if criterion == "magnitude_increase":
        return np.abs(w_final) - np.abs(w_init)
    if criterion == "movement":
        return np.abs(w_final - w_init)
    if criterion == "large_final_same_sign":
        return np.where(np.sign(w_init) == np.sign(w_final), np.abs(w_final), -np.inf)
    if criterion == "random":
        return (rng or np.random.default_rng(0)).random(np.shape(w_final))
    raise ValueError(f"unknown mask criterion {criterion!r}; known: {list(CRITERIA)}")


def _keep_top(scores: np.ndarray, candidates: np.ndarray, n_keep: int) -> np.ndarray:
    """Boolean mask keeping exactly ``n_keep`` of the ``candidates`` with the highest scores (ties by index)."""
    flat_scores, flat_candidates = scores.ravel(), candidates.ravel()
    index = np.flatnonzero(flat_candidates)
    order = index[np.argsort(-flat_scores[index], kind="stable")]
    keep = np.zeros(flat_scores.size, dtype=bool)
    keep[order[:n_keep]] = True
    return keep.reshape(scores.shape)


def prune_masks(scores: dict, masks: dict, fraction: float, *, rate_factors=None, scope="layerwise") -> dict:
    """New masks that remove ``fraction`` of the still-kept weights, lowest scores first.

    Layer-wise: each layer loses ``round(fraction * factor * kept)`` weights,
    ``factor`` from ``rate_factors`` (default 1). Global: one ranking across
    all layers (rate factors do not apply).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"pruning fraction must be in [0, 1), got {fraction}")
    if scope not in SCOPES:
        raise ValueError(f"unknown pruning scope {scope!r}; allowed: {list(SCOPES)}")
    rate_factors = rate_factors or {}
    if scope == "layerwise":
        new = {}
        for name, mask in masks.items():
            kept = int(mask.sum())
            n_prune = int(round(fraction * rate_factors.get(name, 1.0) * kept))
            new[name] = _keep_top(scores[name], mask, kept - n_prune)
        return new
    names = list(masks)
    all_scores = np.concatenate([scores[n].ravel() for n in names])
    all_masks = np.concatenate([masks[n].ravel() for n in names])
    kept = int(all_masks.sum())
    keep = _keep_top(all_scores, all_masks, kept - int(round(fraction * kept)))
    out, start = {}, 0
    for name in names:
        size = masks[name].size
        out[name] = keep[start:start + size].reshape(masks[name].shape)
        start += size
    return out


def magnitude_masks(weights: dict, masks: dict, fraction: float, **kwargs) -> dict:
    """Unstructured magnitude pruning: remove ``fraction`` of the kept weights with smallest |w|."""
    return prune_masks({n: np.abs(w) for n, w in weights.items()}, masks, fraction, **kwargs)


def random_masks_like(masks: dict, rng) -> dict:
    """Random masks keeping as many weights in each layer as ``masks`` do, at positions drawn uniformly by
    ``rng`` (Blalock et al.'s random-pruning baseline: the same per-layer density, no criterion)."""
    out = {}
    for name, mask in masks.items():
        keep = np.zeros(mask.size, dtype=bool)
        keep[rng.choice(mask.size, size=int(mask.sum()), replace=False)] = True
        out[name] = keep.reshape(mask.shape)
    return out


def masks_at_density(scores: dict, target_density: float, *, rate_factors=None, scope="layerwise") -> dict:
    """One-shot masks keeping ``target_density`` of each layer (or of all layers, globally)."""
    target_density = check_density(target_density)
    full = {n: np.ones(s.shape, dtype=bool) for n, s in scores.items()}
    if scope == "global":
        return prune_masks(scores, full, 1.0 - target_density, scope="global") if target_density < 1 else full
    rate_factors = rate_factors or {}
    out = {}
    for name, s in scores.items():
        factor = rate_factors.get(name, 1.0)
        layer_density = 1.0 - (1.0 - target_density) * factor
        out[name] = _keep_top(s, full[name], int(round(layer_density * s.size)))
    return out


def filter_masks(weights: dict, fraction: float, masks: dict | None = None) -> dict:
    """Li et al.'s structured L1-norm filter pruning: drop whole output channels with smallest sum |w|.

    For a conv kernel (kh, kw, in, out) or a dense kernel (in, out) the unit is the
    output channel (a filter, or a hidden unit). ``fraction`` of the channels still
    kept under ``masks`` are removed; their whole column is masked.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"filter pruning fraction must be in [0, 1), got {fraction}")
    out = {}
    for name, w in weights.items():
        alive = np.ones(w.shape[-1], dtype=bool) if masks is None else masks[name].reshape(-1, w.shape[-1]).any(axis=0)
        norms = np.where(alive, np.abs(w).reshape(-1, w.shape[-1]).sum(axis=0), np.inf)
        n_drop = int(round(fraction * alive.sum()))
        keep = alive.copy()
        keep[np.argsort(norms, kind="stable")[:n_drop]] = False
        out[name] = np.broadcast_to(keep, w.shape).copy()
    return out


def pack_masks(masks: dict) -> dict:
    """Masks as packed bits for compact storage (see :func:`unpack_masks`)."""
    return {f"mask/{n}": np.packbits(m.ravel()) for n, m in masks.items()} | {
        f"shape/{n}": np.asarray(m.shape, dtype=np.int64) for n, m in masks.items()}


def unpack_masks(arrays: dict) -> dict:
    out = {}
    for key in arrays:
        if key.startswith("mask/"):
            name = key[len("mask/"):]
            shape = tuple(arrays[f"shape/{name}"])
            out[name] = np.unpackbits(arrays[key], count=int(np.prod(shape))).astype(bool).reshape(shape)
    return out
