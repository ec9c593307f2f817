"""Figure data from the results store: tidy tables for plots and CSV files.

``seed-fig6.csv``: ``protocol,model,density,trial,test_accuracy`` (density 1.0
for the dense model); ``seed-fig7.csv``: ``protocol,model,trial,epoch,val_accuracy``
at 50 % density, plus the dense model.
"""
from __future__ import annotations

import pandas as pd

from lth import paths
from lth.seed.schedule import STEPS_PER_EPOCH
from lth.store import ResultsStore

FIG6_COLUMNS = ["protocol", "model", "density", "trial", "test_accuracy"]
FIG7_COLUMNS = ["protocol", "model", "trial", "epoch", "val_accuracy"]


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
