"""Figure data from the results store: tidy tables for plots and CSV files.

``seed-fig6.csv``: ``protocol,model,density,trial,test_accuracy`` (density 1.0
for the dense model); ``seed-fig7.csv``: ``protocol,model,trial,epoch,val_accuracy``
at 50 % density, plus the dense model.

``supermask-mnist.csv``, ``supermask-conv.csv`` and ``supermask-retrain.csv``: Zhou et al.'s supermasks and
retraining by criterion (:func:`write_supermask_figure_data`).

``fc-lenet300.csv``: :data:`FC_COLUMNS`, one row per stored run of the LeNet-300-100 sweep
(:mod:`lth.frankle_carbin`); ``fc-conv.csv`` (Conv-2/4/6) and ``fc-vgg.csv`` the same with
``network,dataset,lr,warmup`` (:data:`FC_SWEEP_COLUMNS`).

``liu-unstructured.csv`` (:data:`LIU_UNSTRUCTURED_COLUMNS`) and ``liu-structured.csv``
(:data:`LIU_STRUCTURED_COLUMNS`): the runs of Liu et al.'s comparison (:mod:`lth.liu`).
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


# ------------------------------------------------------------------ Liu et al. (lth.liu)

LIU_UNSTRUCTURED_COLUMNS = ["network", "dataset", "lr", "schedule", "method", "density", "flops", "trial",
                            "test_accuracy"]
LIU_STRUCTURED_COLUMNS = ["network", "dataset", "lr", "method", "budget", "filters_kept", "params", "flops",
                          "seconds_per_epoch", "trial", "test_accuracy"]


def liu_unstructured_frame(runs) -> pd.DataFrame:
    """One row per stored lottery run of Liu sweeps (:data:`LIU_UNSTRUCTURED_COLUMNS`): ``schedule`` iterative or
    one-shot, ``method`` ticket or random; the dense network of each trial as schedule and method ``unpruned``
    (density 1). ``flops``: :func:`run_flops`; ``test_accuracy`` of the final weights."""
    from lth.liu import UNSTRUCTURED

    rows = []
    for run in runs:
        if run.kind != "lottery":
            continue
        config = run.config
        schedule, method = ("unpruned", "unpruned") if config["level"] == 0 else UNSTRUCTURED[config["variant"]]
        rows.append({"network": config["model"]["name"], "dataset": config["dataset"]["name"],
                     "lr": config["training"]["learning_rate"], "schedule": schedule, "method": method,
                     "density": run.result["density"], "flops": run_flops(run), "trial": config["seed"],
                     "test_accuracy": run.result["test_accuracy"]})
    frame = pd.DataFrame(rows, columns=LIU_UNSTRUCTURED_COLUMNS)
    return frame.sort_values(["network", "lr", "schedule", "method", "density", "trial"],
                             ascending=[True, False, True, True, False, True], ignore_index=True)


def liu_structured_frame(sw, runs) -> pd.DataFrame:
    """One row per stored structured run of sweep ``sw`` (:data:`LIU_STRUCTURED_COLUMNS`), and one per dense
    network it was built from (method ``unpruned``, budget ``full``). ``budget`` is ``ticket`` (the parent's
    iterations), ``scratch-e`` or ``scratch-b``; filters, parameters and FLOPs are counted from the built
    networks; ``seconds_per_epoch`` is :func:`lth.liu.measure_speed`'s recorded measurement (NaN if none)."""
    from lth import liu

    speeds = liu.read_bench(liu.SPEED_FILE)

    def seconds(fraction, which):
        keys = [liu.speed_key(sw, f) for f in ([fraction] if fraction is not None else sw.structured_fractions)]
        found = [speeds[key][which]["seconds"] for key in keys if key in speeds]
        return found[0] if found else np.nan

    dense = liu.dense_size(sw.model.name, sw.model.width, sw.dataset.name)
    rows = []
    for run in runs:
        config = run.config
        if run.kind == "lottery" and config["level"] == 0:
            rows.append({"lr": config["training"]["learning_rate"], "method": "unpruned", "budget": "full",
                         "filters_kept": dense["filters"], "params": dense["params"], "flops": dense["flops"],
                         "seconds_per_epoch": seconds(None, "dense"), "trial": config["seed"],
                         "test_accuracy": run.result["test_accuracy"]})
        elif run.kind == "structured":
            method, budget = liu.STRUCTURED[config["method"]]
            rows.append({"lr": config["parent"]["training"]["learning_rate"], "method": method, "budget": budget,
                         "filters_kept": run.result["filters"], "params": run.result["params"],
                         "flops": run.result["flops"], "seconds_per_epoch": seconds(config["fraction"], "structured"),
                         "trial": config["parent"]["seed"], "test_accuracy": run.result["test_accuracy"]})
    frame = pd.DataFrame(rows, columns=LIU_STRUCTURED_COLUMNS[2:]).assign(network=sw.network,
                                                                         dataset=sw.dataset.name)
    order = {"full": 0, "ticket": 1, "scratch-e": 2, "scratch-b": 3}
    frame = frame.assign(_order=frame.budget.map(order)).sort_values(
        ["lr", "filters_kept", "_order", "trial"], ascending=[False, False, True, True], ignore_index=True)
    return frame[LIU_STRUCTURED_COLUMNS]


def write_liu_figure_data(store: ResultsStore | None = None) -> list:
    """Regenerate ``liu-unstructured.csv`` and ``liu-structured.csv`` from the runs of the Liu sweeps at their default
    scale (:func:`lth.liu.sweep`) stored so far; returns their paths."""
    from lth import liu

    sweeps = [liu.sweep(network) for network in liu.NETWORKS]
    stored = {sw.network: sw.stored(store) for sw in sweeps}
    folder = paths.figures_root()
    folder.mkdir(parents=True, exist_ok=True)
    frames = {"liu-unstructured.csv": liu_unstructured_frame([run for runs in stored.values() for run in runs]),
              "liu-structured.csv": pd.concat([liu_structured_frame(sw, stored[sw.network]) for sw in sweeps],
                                              ignore_index=True)}
    for name, frame in frames.items():
        frame.to_csv(folder / name, index=False)
    return [folder / name for name in frames]


# ------------------------------------------------------------------ supermasks (lth.supermasks)

SUPERMASK_FILES = {"supermask-mnist.csv": "lenet300", "supermask-conv.csv": "conv4"}


def write_supermask_figure_data(store: ResultsStore | None = None) -> list:
    """Regenerate ``supermask-mnist.csv`` and ``supermask-conv.csv`` (``criterion,weights,density,trial,test_accuracy``;
    weights init, signed_constant, reshuffle, reinit or learned) and ``supermask-retrain.csv``
    (:data:`lth.supermasks.RETRAIN_COLUMNS`) from the runs of the supermask sweeps at their default scale
    (:func:`lth.supermasks.sweep`) stored so far; returns their paths."""
    from lth import supermasks

    folder = paths.figures_root()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, network in SUPERMASK_FILES.items():
        supermasks.supermask_frame(supermasks.sweep(network), store).to_csv(folder / name, index=False)
        out.append(folder / name)
    retrain = supermasks.retrain_frame(supermasks.sweep("lenet300").stored("retrain", store))
    retrain.to_csv(folder / "supermask-retrain.csv", index=False)
    return out + [folder / "supermask-retrain.csv"]
