"""Figure data from the results store: tidy tables for plots and CSV files.

``seed-fig6.csv``: ``protocol,model,density,trial,test_accuracy`` (density 1.0
for the dense model); ``seed-fig7.csv``: ``protocol,model,trial,epoch,val_accuracy``
at 50 % density, plus the dense model.

``fc-lenet300.csv``: :data:`FC_COLUMNS`, one row per stored run of the LeNet-300-100 sweep
(:mod:`lth.frankle_carbin`); ``fc-conv.csv`` (Conv-2/4/6) and ``fc-vgg.csv`` the same with
``network,dataset,lr,warmup`` (:data:`FC_SWEEP_COLUMNS`).
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from lth import paths
from lth.seed.schedule import STEPS_PER_EPOCH
from lth.store import ResultsStore

FIG6_COLUMNS = ["protocol", "model", "density", "trial", "test_accuracy"]
FIG7_COLUMNS = ["protocol", "model", "trial", "epoch", "val_accuracy"]
FC_COLUMNS = ["method", "round", "density", "compression", "flops", "trial", "early_stop_iteration",
              "test_accuracy_at_early_stop", "final_test_accuracy"]
FC_SWEEP_COLUMNS = FC_COLUMNS + ["network", "dataset", "lr", "warmup"]
FC_CURVE_COLUMNS = ["method", "round", "density", "trial", "iteration", "test_accuracy"]


def seed_runs(store: ResultsStore | None = None, epochs: int = 500, subset=None, batch_size: int | None = None) -> list:
    """Stored runs of the seed's experiment at this scale and batch size (default: the authors' 600)."""
    from lth.seed.protocol import BATCH_SIZE

    store = store or ResultsStore()
    batch_size = BATCH_SIZE if batch_size is None else batch_size
    if not (store.root / "seed_protocol").exists():
        return []
    return [run for run in store.runs("seed_protocol") if run.config["training"]["iterations"] == epochs * STEPS_PER_EPOCH
            and run.config["dataset"].get("subset") == subset and run.config["training"]["batch_size"] == batch_size]


def seed_fig6(runs) -> pd.DataFrame:
    rows = [{"protocol": r.config["protocol"], "model": r.config["role"],
             "density": 1.0 if r.config["density"] is None else r.config["density"],
             "trial": r.config["trial"], "test_accuracy": r.result["test_accuracy"]} for r in runs]
    frame = pd.DataFrame(rows, columns=FIG6_COLUMNS).astype(
        {"protocol": str, "model": str, "density": float, "trial": int, "test_accuracy": float})
    return frame.sort_values(["protocol", "model", "density", "trial"], ignore_index=True)


def seed_fig7(runs, density: float = 0.5) -> pd.DataFrame:
    """Validation accuracy per epoch of the runs at ``density`` and the dense ones.

    Controls (:mod:`lth.seed.controls`) count as their control's name (``unpruned``,
    ``keras_fit``) at the density of the pruning network they shadow.
    """
    rows = []
    for r in runs:
        model = r.config["control"] if "control" in r.config else r.config["role"]
        if r.config["density"] not in (None, density):
            continue
        history = r.result["history"]
        for iteration, accuracy in zip(history["iteration"], history["val_accuracy"]):
            rows.append({"protocol": r.config["protocol"], "model": model, "trial": r.config["trial"],
                         "epoch": iteration // STEPS_PER_EPOCH, "val_accuracy": accuracy})
    frame = pd.DataFrame(rows, columns=FIG7_COLUMNS).astype(
        {"protocol": str, "model": str, "trial": int, "epoch": int, "val_accuracy": float})
    return frame.sort_values(["protocol", "model", "trial", "epoch"], ignore_index=True)


def write_seed_figure_data(store: ResultsStore | None = None, epochs: int = 500) -> list:
    """Regenerate both CSV files from the stored runs; returns their paths."""
    runs = seed_runs(store, epochs)
    folder = paths.figures_root()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, frame in [("seed-fig6.csv", seed_fig6(runs)), ("seed-fig7.csv", seed_fig7(runs))]:
        frame.to_csv(folder / name, index=False)
        out.append(folder / name)
    return out


def published_fig6() -> pd.DataFrame:
    """The seed's Fig. 6 as published, digitised (``model,density,stat,value``; book/published_figures.md)."""
    return pd.read_csv(paths.published_root() / "published-fig6.csv")


def published_fig7() -> pd.DataFrame:
    """The seed's Fig. 7 as published, digitised (``panel,model,epoch,test_accuracy``)."""
    return pd.read_csv(paths.published_root() / "published-fig7.csv")


def lottery_frame(runs) -> pd.DataFrame:
    """One row per lottery run: seed, level, variant, density, accuracies, early-stop iteration, lr."""
    rows = [{"seed": r.config["seed"], "level": r.config["level"], "variant": r.config["variant"],
             "density": r.result["density"], "test_accuracy": r.result["test_accuracy"],
             "val_loss": r.result["val_loss"], "early_stop_iteration": r.result["best_iteration"],
             "learning_rate": r.config["training"]["learning_rate"]} for r in runs if r is not None]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ Frankle & Carbin (lth.frankle_carbin)


@functools.lru_cache(maxsize=None)
def _kernel_costs(model: str, width, dataset: str) -> dict:
    """``{layer: (kernel weights, output positions)}`` of every Dense and Conv2D layer of a run's network."""
    from lth import flops, models
    from lth.frankle_carbin import INPUT_SHAPES

    net = models.build(model, seed=0, input_shape=INPUT_SHAPES[dataset], width=width)
    sizes, positions = flops.kernel_sizes(net), flops.positions(net)
    return {name: (sizes[name], positions[name]) for name in sizes}


def run_flops(run) -> int:
    """Multiply-adds of one example's forward pass through a stored lottery run's pruned network
    (:mod:`lth.flops`), from its per-layer densities: kept weights times output positions."""
    model, dataset = run.config["model"], run.config["dataset"]["name"]
    density = run.result.get("layer_density", {})
    return int(sum(round(density.get(name, 1.0) * size) * positions
                   for name, (size, positions) in _kernel_costs(model["name"], model.get("width"), dataset).items()))


def fc_frame(runs, sweep_columns: bool = False) -> pd.DataFrame:
    """One row per stored Frankle & Carbin run (:data:`FC_COLUMNS`; with ``sweep_columns``, :data:`FC_SWEEP_COLUMNS`).

    ``density`` is the share of the prunable weights kept, ``compression`` its inverse (the prunable
    weights' compression ratio), ``flops`` :func:`run_flops`; ``test_accuracy_at_early_stop`` is the test
    accuracy at ``early_stop_iteration`` (minimum validation loss), ``final_test_accuracy`` at the last
    iteration (NaN for a run that did not record test accuracy at every evaluation).
    """
    from lth.frankle_carbin import METHODS

    rows = []
    for run in runs:
        config, result = run.config, run.result
        final = result["history"].get("test_accuracy") or [np.nan]
        row = {"method": METHODS[config["variant"]], "round": config["level"], "density": result["density"],
               "compression": 1 / result["density"], "flops": run_flops(run), "trial": config["seed"],
               "early_stop_iteration": result["best_iteration"],
               "test_accuracy_at_early_stop": result["test_accuracy"], "final_test_accuracy": final[-1]}
        if sweep_columns:
            training = config["training"]
            row |= {"network": config["model"]["name"], "dataset": config["dataset"]["name"],
                    "lr": training["learning_rate"], "warmup": training["warmup_iterations"]}
        rows.append(row)
    columns = FC_SWEEP_COLUMNS if sweep_columns else FC_COLUMNS
    frame = pd.DataFrame(rows, columns=columns)
    keys = (["network", "lr", "warmup"] if sweep_columns else []) + ["method", "round", "trial"]
    return frame.sort_values(keys, ignore_index=True)


def fc_curves(runs) -> pd.DataFrame:
    """Test accuracy at every evaluation of each stored run that recorded it (:data:`FC_CURVE_COLUMNS`)."""
    from lth.frankle_carbin import METHODS

    rows = [{"method": METHODS[r.config["variant"]], "round": r.config["level"], "density": r.result["density"],
             "trial": r.config["seed"], "iteration": iteration, "test_accuracy": accuracy}
            for r in runs for iteration, accuracy in zip(r.result["history"]["iteration"],
                                                         r.result["history"].get("test_accuracy", []))]
    return pd.DataFrame(rows, columns=FC_CURVE_COLUMNS)


FC_FILES = {"fc-lenet300.csv": ("lenet300",), "fc-conv.csv": ("conv2", "conv4", "conv6"), "fc-vgg.csv": ("vgg",)}


def write_fc_figure_data(store: ResultsStore | None = None) -> list:
    """Regenerate ``fc-lenet300.csv``, ``fc-conv.csv`` and ``fc-vgg.csv`` from the runs of the sweeps at their
    default scale (:func:`lth.frankle_carbin.sweep`) stored so far; returns their paths."""
    from lth import frankle_carbin

    folder = paths.figures_root()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, networks in FC_FILES.items():
        runs = [run for network in networks for _, run in frankle_carbin.sweep(network).stored(store)]
        fc_frame(runs, sweep_columns=name != "fc-lenet300.csv").to_csv(folder / name, index=False)
        out.append(folder / name)
    return out
