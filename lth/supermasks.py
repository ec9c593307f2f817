"""Masks evaluated without training (Zhou et al. 2019) and prune-then-evaluate demos.

A supermask is a mask chosen from the initial and trained weights of a dense
run, applied to the *untrained* initial weights; the network is then scored
on the test set as it is. ``signed_constant`` replaces every kept weight by
the sign of its initial value times its layer's initial standard deviation.
"""
from __future__ import annotations

import numpy as np

from lth import pruning, training

INIT_VALUES = ("init", "signed_constant")


def evaluate(model, data, split="test") -> float:
    """Accuracy of ``model`` on a split of ``data``."""
    part = {"test": data.test, "val": data.validation, "train": data.train}[split]
    return training.evaluate(model, data.features(part), part.y)[1]


def apply_weights_and_masks(model, kernels: dict, masks: dict) -> None:
    """Set a wrapped model's prunable kernels to ``kernels`` and its masks to ``masks``."""
    for name, wrapper in pruning.wrappers(model).items():
        wrapper.pruning_vars[0][0].assign(kernels[name].astype(np.float32))
    pruning.set_masks(model, masks)


def supermask_accuracy(model, data, init: dict, final: dict, criterion: str, density: float,
                       values: str = "init", seed: int = 0) -> float:
    """Test accuracy of the untrained network under ``criterion``'s mask at ``density``."""
    if values not in INIT_VALUES:
        raise ValueError(f"unknown supermask weight values {values!r}; allowed: {list(INIT_VALUES)}")
    rng = np.random.default_rng(seed)
    scores = {n: pruning.score(criterion, init[n], final[n], rng) for n in init}
    masks = pruning.masks_at_density(scores, density)
    kernels = init if values == "init" else {n: np.sign(w) * w.std() for n, w in init.items()}
    apply_weights_and_masks(model, kernels, masks)
    return evaluate(model, data)


def supermask_table(lottery, data, criteria, densities, values=INIT_VALUES) -> "pd.DataFrame":
    """Test accuracy of untrained masked networks for every criterion, density and weight choice."""
    import pandas as pd

    init, final = lottery.dense_weights()
    model = lottery.network()
    rows = [{"seed": lottery.seed, "criterion": c, "density": d, "values": v,
             "test_accuracy": supermask_accuracy(model, data, init, final, c, d, v, seed=lottery.seed)}
            for c in criteria for d in densities for v in values]
    return pd.DataFrame(rows)


def prune_trained_table(lottery, data, densities) -> "pd.DataFrame":
    """Accuracy of the trained dense network pruned without retraining: magnitude, L1 unit, random."""
    import pandas as pd

    init, final = lottery.dense_weights()
    model = lottery.network()
    rng = np.random.default_rng(lottery.seed)
    rows = []
    for density in densities:
        pruning.check_density(density)
        full = {n: np.ones(w.shape, dtype=bool) for n, w in final.items()}
        hidden = {n: w for n, w in final.items() if n != "output"}
        methods = {
            "magnitude (unstructured)": pruning.masks_at_density({n: np.abs(w) for n, w in final.items()}, density),
            "L1 norm of units (structured)": pruning.filter_masks(hidden, 1 - density) | {"output": full["output"]}
            if "output" in final else pruning.filter_masks(hidden, 1 - density),
            "random choice of weights": pruning.masks_at_density({n: rng.random(w.shape) for n, w in final.items()}, density),
        }
        for method, masks in methods.items():
            apply_weights_and_masks(model, final, masks)
            rows.append({"seed": lottery.seed, "method": method, "density": density,
                         "kept": pruning.density(masks), "test_accuracy": evaluate(model, data)})
    return pd.DataFrame(rows)
