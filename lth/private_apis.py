"""Every use lth makes of tf_keras' and TF-MOT's undocumented internals, one named function each.

The fast training paths drive the optimisers' slots and TF-MOT's pruning wrappers directly,
which neither library documents. Each function here says what it relies on, so that an upgrade
that breaks one breaks it here, where ``tests/test_private_apis.py`` names the installed versions
(:func:`installed_versions`), rather than deep inside a traced training step.
"""
from __future__ import annotations

from importlib import metadata

import lth  # noqa: F401
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper

PACKAGES = ("tensorflow", "tf-keras", "tensorflow-model-optimization")


def installed_versions() -> str:
    """The installed versions of the libraries whose internals are used here, for error messages."""
    def version(package):
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    return ", ".join(f"{package} {version(package)}" for package in PACKAGES)


# ------------------------------------------------------------------ TF-MOT's pruning wrapper
# PruneLowMagnitude keeps per pruned weight a (weight, mask, threshold) triple in ``pruning_vars``,
# its step counter in ``pruning_step``, and its mask logic in a ``Pruning`` object (``pruning_obj``,
# built with the layer).

PruneLowMagnitude = pruning_wrapper.PruneLowMagnitude
"""TF-MOT's pruning wrapper class, from its internal module: the public API exports only the function
``prune_low_magnitude`` that makes one, and so no class to recognise one by."""


def pruning_variables(wrapper) -> list[tuple]:
    """``(weight, mask, threshold)`` variables per pruned weight of a TF-MOT wrapper (``pruning_vars``)."""
    return list(wrapper.pruning_vars)


def pruning_step(wrapper):
    """The wrapper's step counter variable (``pruning_step``; -1 until training starts, as
    ``UpdatePruningStep.on_train_begin`` sets it to 0)."""
    return wrapper.pruning_step


def prunes_in_blocks(wrapper) -> bool:
    """Does the wrapper prune blocks or m-by-n groups rather than single weights (``block_size``,
    ``sparsity_m_by_n``)?"""
    return tuple(wrapper.block_size) != (1, 1) or bool(wrapper.sparsity_m_by_n)


def magnitude_mask(wrapper, weights):
    """``(threshold, mask)`` that the wrapper's schedule would set for ``weights`` now: TF-MOT's own
    mask computation (``pruning_obj._maybe_update_block_mask``), without assigning anything."""
    return wrapper.pruning_obj._maybe_update_block_mask(weights)


def apply_weight_mask(wrapper):
    """Zero the wrapper's pruned weights (``pruning_obj.weight_mask_op``, what its ``call`` does in training)."""
    return wrapper.pruning_obj.weight_mask_op()


# ------------------------------------------------------------------ tf_keras optimisers
# tf_keras' Optimizer keeps its learning rate (a float variable or a schedule) in ``_learning_rate``
# and finds a variable's slots by ``_index_dict[_var_key(variable)]``; Adam's slots are the lists
# ``_momentums`` and ``_velocities``, SGD's momentum slots the list ``momentums``.


def learning_rate(optimizer):
    """The learning rate of ``optimizer``'s next step: its schedule at ``optimizer.iterations``, or its
    fixed rate (``_learning_rate``; the public property only follows a schedule inside ``apply_gradients``)."""
    rate = optimizer._learning_rate
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = rate(optimizer.iterations)
    return rate


def _slot_index(optimizer, variable) -> int:
    return optimizer._index_dict[optimizer._var_key(variable)]


def adam_slots(optimizer, variable) -> tuple:
    """The first- and second-moment slot variables ``(m, v)`` of ``variable`` in a built tf_keras Adam."""
    index = _slot_index(optimizer, variable)
    return optimizer._momentums[index], optimizer._velocities[index]


def momentum_slot(optimizer, variable):
    """The momentum slot variable of ``variable`` in a built tf_keras SGD with momentum."""
    return optimizer.momentums[_slot_index(optimizer, variable)]
