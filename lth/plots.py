"""The book's figures (seaborn). Each function draws on an axis and returns it."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

MODEL_ORDER = ["pruning", "ticket", "random"]
MODEL_LABELS = {"dense": "dense original", "pruning": "pruning network", "ticket": "lottery ticket (original init)",
                "random": "random re-initialisation", "random_reinit": "random re-initialisation",
                "oneshot": "one-shot pruning", "unpruned": "unpruned twin (same init and data, never pruned)"}
# one colour per model in every figure, whichever models a figure shows
MODEL_COLORS = dict(zip((MODEL_LABELS[m] for m in MODEL_ORDER), sns.color_palette(n_colors=len(MODEL_ORDER))))


def _density_axis(ax, densities_percent):
    """Log-scaled density axis, decreasing to the right, ticked at the densities shown."""
    ax.set_xscale("log")
    ticks = sorted(set(round(float(d), 1) for d in densities_percent))
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.invert_xaxis()


def _mark_pruning_steps(ax, epochs) -> None:
    """Thin vertical lines at the epochs where the pruning schedule fires (one legend entry)."""
    for i, epoch in enumerate(epochs or []):
        ax.axvline(epoch, color="black", alpha=0.15, lw=0.8, label="pruning step" if i == 0 else None)


def _axis(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    return ax


def seed_fig6(frame: pd.DataFrame, protocol: str, ax=None, models=MODEL_ORDER):
    """Boxplots of test accuracy per density with every trial as a dot, the dense model's mean ± std as a band.

    ``models`` picks the boxes (default all three); leaving the pruning network out lets
    the axis zoom in on the retrained models when the pruning networks lie far below them.
    """
    ax = _axis(ax)
    part = frame[frame.protocol == protocol]
    sparse = part[part.model.isin(models)].copy()
    sparse["density (%)"] = (sparse.density * 100).round(1).astype(str)
    order = [str(round(d * 100, 1)) for d in sorted(sparse.density.unique(), reverse=True)]
    sparse["model"] = sparse.model.map(MODEL_LABELS)
    hue_order = [MODEL_LABELS[m] for m in models]
    sns.boxplot(data=sparse, x="density (%)", y="test_accuracy", hue="model", order=order, hue_order=hue_order,
                palette=MODEL_COLORS, ax=ax, whis=(0, 100), fliersize=0)
    sns.stripplot(data=sparse, x="density (%)", y="test_accuracy", hue="model", order=order, hue_order=hue_order,
                  palette={label: "black" for label in hue_order}, dodge=True, size=3, alpha=0.6, legend=False, ax=ax)
    dense = part[part.model == "dense"].test_accuracy
    if len(dense):
        mean, std = dense.mean(), dense.std(ddof=1) if len(dense) > 1 else 0.0
        ax.axhspan(mean - std, mean + std, color="grey", alpha=0.25, label=f"dense original, mean ± std (n={len(dense)})")
        ax.axhline(mean, color="grey", lw=1)
    which = "" if list(models) == list(MODEL_ORDER) else f", {' and '.join(models)} only"
    ax.set(title=f"Test accuracy after (re)training, {protocol} protocol{which}", xlabel="density of fc1 + fc2 (%)",
           ylabel="test accuracy")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    return ax


def seed_fig7(frame: pd.DataFrame, protocol: str, trial: int, pruning_epochs=None, ax=None):
    """Validation accuracy per epoch of the four models at 50 % density for one trial."""
    ax = _axis(ax)
    part = frame[(frame.protocol == protocol) & (frame.trial == trial)].copy()
    part["model"] = part.model.map(MODEL_LABELS)
    sns.lineplot(data=part, x="epoch", y="val_accuracy", hue="model", ax=ax, lw=1)
    _mark_pruning_steps(ax, pruning_epochs)
    ax.set(title=f"Validation accuracy while training at 50 % density ({protocol}, trial {trial})",
           xlabel="epoch (100 steps)", ylabel="validation accuracy")
    ax.legend(fontsize=8)
    return ax


def control_curves(frame: pd.DataFrame, pruning_epochs=None, ax=None):
    """The same network's validation accuracy per epoch as trained by lth and by plain Keras fit."""
    ax = _axis(ax)
    sns.lineplot(data=frame, x="epoch", y="val_accuracy", hue="trained_by", lw=1, ax=ax)
    _mark_pruning_steps(ax, pruning_epochs)
    ax.set(title="Faithful pruning network at 50 % density, trial 0: lth against Keras fit",
           xlabel="epoch (100 steps)", ylabel="validation (= test) accuracy")
    ax.legend(fontsize=8)
    return ax


def batch_comparison(frame: pd.DataFrame, pruning_epochs=None, ax=None):
    """The pruning network's validation accuracy per epoch, one line per trial, coloured by batch size."""
    ax = _axis(ax)
    part = frame[frame.model == "pruning"].copy()
    part["batch size"] = part.batch_size.astype(str)
    sns.lineplot(data=part, x="epoch", y="val_accuracy", hue="batch size", units="trial", estimator=None, lw=1,
                 ax=ax)
    _mark_pruning_steps(ax, pruning_epochs)
    ax.set(title="Pruning network at 50 % density, faithful protocol: batch 32 against 600",
           xlabel="epoch (100 steps)", ylabel="validation (= test) accuracy")
    ax.legend(fontsize=8)
    return ax


def unpruned_comparison(frame: pd.DataFrame, protocol: str, pruning_epochs=None, ax=None):
    """Pruning networks and their unpruned twins: validation accuracy per epoch, one line per trial."""
    ax = _axis(ax)
    part = frame[(frame.protocol == protocol) & frame.model.isin(["pruning", "unpruned"])].copy()
    part["model"] = part.model.map(MODEL_LABELS)
    sns.lineplot(data=part, x="epoch", y="val_accuracy", hue="model", units="trial", estimator=None, lw=1,
                 hue_order=[MODEL_LABELS["pruning"], MODEL_LABELS["unpruned"]], ax=ax)
    _mark_pruning_steps(ax, pruning_epochs)
    ax.set(title=f"50 % density, {protocol} protocol: pruning network against its unpruned twin",
           xlabel="epoch (100 steps)", ylabel="validation accuracy")
    ax.legend(fontsize=8)
    return ax


def accuracy_vs_density(frame: pd.DataFrame, y="test_accuracy", hue="variant", title="", ylabel="test accuracy",
                        ax=None):
    """Mean and 95 % bootstrap interval of ``y`` against density (log axis, decreasing)."""
    ax = _axis(ax)
    part = frame.copy()
    part["density (%)"] = part.density * 100
    part[hue] = part[hue].map(lambda v: MODEL_LABELS.get(v, v))
    sns.lineplot(data=part, x="density (%)", y=y, hue=hue, marker="o", errorbar=("ci", 95), ax=ax)
    _density_axis(ax, part["density (%)"])
    ax.set(title=title, xlabel="weights remaining (%)", ylabel=ylabel)
    return ax


def error_vs_width(frame: pd.DataFrame, ax=None):
    """Training and test error against hidden width (Neyshabur et al.'s Fig. 1, the seed's Fig. 3)."""
    ax = _axis(ax)
    long = frame.melt(id_vars=["width", "seed"], value_vars=["train_error", "test_error"], var_name="split",
                      value_name="error")
    long["split"] = long.split.map({"train_error": "training error", "test_error": "test error"})
    sns.lineplot(data=long, x="width", y="error", hue="split", marker="o", ax=ax)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(sorted(frame.width.unique()))
    ax.xaxis.set_major_formatter(mticker.FormatStrFormatter("%d"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set(title="Error against network size (one hidden layer, MNIST)", xlabel="hidden units H",
           ylabel="error (1 − accuracy)")
    return ax


def bars(frame: pd.DataFrame, x: str, y: str, hue: str | None, title: str, xlabel: str, ylabel: str, ax=None,
         chance: float | None = None):
    ax = _axis(ax)
    sns.barplot(data=frame, x=x, y=y, hue=hue, ax=ax, errorbar=("ci", 95))
    if chance is not None:
        ax.axhline(chance, color="red", ls="--", lw=1, label="chance")
        ax.legend(fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.tick_params(axis="x", rotation=30)
    return ax


def pruning_epochs(epochs: int, steps_per_epoch: int = 100) -> list:
    """Epochs at which the seed's schedule prunes (20 % to 60 % of training, every 2 %)."""
    total = epochs * steps_per_epoch
    begin, end, every = np.floor(0.2 * total), np.floor(0.6 * total), max(1, int(np.floor(0.02 * total)))
    return [step / steps_per_epoch for step in np.arange(begin, end + 1, every)]


def ticket_vs_random(frame: pd.DataFrame, title: str, ax=None):
    """Ticket against random re-initialisation per density, one line style per learning rate."""
    ax = _axis(ax)
    part = frame.copy()
    part["density (%)"] = part.density * 100
    part["model"] = part.variant.map(MODEL_LABELS)
    part["learning rate"] = part.learning_rate.astype(str)
    sns.lineplot(data=part, x="density (%)", y="test_accuracy", hue="model", style="learning rate", marker="o",
                 errorbar=("ci", 95), ax=ax)
    _density_axis(ax, part["density (%)"])
    ax.set(title=title, xlabel="weights remaining (%)", ylabel="test accuracy")
    return ax
