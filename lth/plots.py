"""The book's figures (seaborn). Each function draws on an axis and returns it."""
from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import seaborn as sns

from lth import wording
from lth.runs import SEED_ROLES
from lth.seed.schedule import STEPS_PER_EPOCH

EPOCH_LABEL = f"epoch ({STEPS_PER_EPOCH} steps)"
MODEL_ORDER = list(SEED_ROLES[1:])  # the pruned models (the dense one is a band, not a box)
MODEL_LABELS = {"dense": "dense original", "pruning": "pruning network", "ticket": "lottery ticket (original init)",
                "random": "random re-initialisation", "random_reinit": "random re-initialisation",
                "random_mask": "random mask (original init; baseline)",
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


def _percent_axis(ax) -> None:
    """Accuracies stored as fractions, read as the tables print them: in per cent."""
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if not ax.get_ylabel().endswith("(%)"):
        ax.set_ylabel(f"{ax.get_ylabel()} (%)")


def seed_fig6(frame: pd.DataFrame, protocol: str, ax=None, models=None, published: pd.DataFrame | None = None):
    """Boxplots of test accuracy per density with every trial as a dot, the dense model's mean ± std as a band.

    ``models`` picks the boxes (default: every model of :data:`MODEL_ORDER` the protocol has stored, the
    random-mask baseline included); leaving the pruning network out lets
    the axis zoom in on the retrained models when the pruning networks lie far below them.
    ``published`` (:func:`lth.figures.published_fig6`) marks each box's published median
    (a white diamond) and draws the published dense mean as a dashed line.
    """
    ax = _axis(ax)
    part = frame[frame.protocol == protocol]
    shown = models is None
    # only the models stored under this protocol get a box (a baseline not trained yet leaves no gap)
    models = [m for m in (MODEL_ORDER if models is None else models) if m in set(part.model)]
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
    if published is not None:
        _mark_published_medians(ax, published, order, models)
    which = "" if shown else f", {' and '.join(models)} only"
    ax.set(title=f"Test accuracy after (re)training, {protocol} protocol{which}", xlabel="density of fc1 + fc2 (%)",
           ylabel="test accuracy")
    _percent_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    return ax


def _mark_published_medians(ax, published: pd.DataFrame, order: list, models) -> None:
    """The published Fig. 6 medians on our boxes (seaborn places hue boxes evenly in 0.8 of a slot)."""
    medians = published[published.stat == "median"]
    width = 0.8 / max(len(models), 1)  # no box yet (only the dense model stored): no median to mark
    for i, model in enumerate(models):
        xs, ys = [], []
        for slot, label in enumerate(order):
            value = medians[(medians.model == model) & ((medians.density * 100).round(1).astype(str) == label)].value
            if len(value):
                xs.append(slot - 0.4 + width * (i + 0.5))
                ys.append(float(value.iloc[0]))
        ax.scatter(xs, ys, marker="D", s=28, color="white", edgecolor="black", zorder=5,
                   label="published median (Havinga & Sawhney)" if i == 0 else None)
    dense = published[(published.model == "dense") & (published.stat == "mean")].value
    if len(dense):
        ax.axhline(float(dense.iloc[0]), color="black", ls="--", lw=1, label="published dense mean")


def seed_fig7(frame: pd.DataFrame, protocol: str, trial: int, pruning_epochs=None, ax=None,
              published: pd.DataFrame | None = None):
    """Validation accuracy per epoch of the four models at 50 % density for one trial; ``published``
    (:func:`lth.figures.published_fig7`) draws the published curves of panel a behind, dashed."""
    ax = _axis(ax)
    if published is not None:
        _published_curves(ax, published[published.panel == "a"])
    part = frame[(frame.protocol == protocol) & (frame.trial == trial)].copy()
    part["model"] = part.model.map(MODEL_LABELS)
    # each model in its colour of every figure, so that the published curve behind ours has our curve's colour
    palette = {label: MODEL_COLORS.get(label, "dimgrey") for label in part.model.unique()}
    sns.lineplot(data=part, x="epoch", y="val_accuracy", hue="model", palette=palette, ax=ax, lw=1)
    _mark_pruning_steps(ax, pruning_epochs)
    ax.set(title=f"Validation accuracy while training at 50 % density ({protocol}, trial {trial})",
           xlabel=EPOCH_LABEL, ylabel="validation accuracy")
    _percent_axis(ax)
    ax.legend(fontsize=8)
    return ax


def _published_curves(ax, published: pd.DataFrame, models=MODEL_ORDER) -> None:
    for model in models:
        part = published[published.model == model]
        if len(part):
            ax.plot(part.epoch, part.test_accuracy, ls="--", lw=1, color=MODEL_COLORS[MODEL_LABELS[model]], alpha=0.8,
                    label=f"published: {MODEL_LABELS[model]}")


def screen_curves(curves: pd.DataFrame, published: pd.DataFrame, ax=None):
    """The screen's pruning networks per cell (median over trials, each trial faint) over the two
    published Fig. 7 pruning curves (black)."""
    ax = _axis(ax)
    for panel, style in (("a", "-"), ("b", ":")):
        part = published[(published.panel == panel) & (published.model == "pruning")]
        ax.plot(part.epoch, part.test_accuracy, color="black", ls=style, lw=1.5, label=f"published Fig. 7{panel}")
    pruning = curves[curves.role == "pruning"].copy()
    if len(pruning):
        pruning["cell"] = (pruning.environment + ", lr " + pruning.learning_rate.astype(str) + ", batch "
                           + pruning.batch)
        sns.lineplot(data=pruning, x="epoch", y="test_accuracy", hue="cell", estimator="median", errorbar=None,
                     lw=1.2, ax=ax)
        sns.lineplot(data=pruning, x="epoch", y="test_accuracy", hue="cell", units="trial", estimator=None,
                     lw=0.5, alpha=0.3, legend=False, ax=ax)
    ax.set(title="50 % pruning network, first 150 epochs: the screen's cells against the published curves",
           xlabel=EPOCH_LABEL, ylabel="test accuracy", ylim=(0.95, 1.0), xlim=(0, 150))
    _percent_axis(ax)
    ax.legend(loc="lower right", fontsize=7)
    return ax


def control_curves(frame: pd.DataFrame, pruning_epochs=None, ax=None):
    """The same network's validation accuracy per epoch as trained by lth and by plain Keras fit."""
    ax = _axis(ax)
    sns.lineplot(data=frame, x="epoch", y="val_accuracy", hue="trained_by", lw=1, ax=ax)
    _mark_pruning_steps(ax, pruning_epochs)
    ax.set(title="Faithful pruning network at 50 % density, trial 0: lth against Keras fit",
           xlabel=EPOCH_LABEL, ylabel="validation (= test) accuracy")
    _percent_axis(ax)
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
           xlabel=EPOCH_LABEL, ylabel="validation (= test) accuracy")
    _percent_axis(ax)
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
           xlabel=EPOCH_LABEL, ylabel="validation accuracy")
    _percent_axis(ax)
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


# ------------------------------------------------------------------ Frankle & Carbin (lth.frankle_carbin)

FC_METHOD_ORDER = ["ticket", "random", "oneshot", "random_mask"]
FC_LABELS = {"ticket": "winning ticket (iterative, original init)", "random": "random re-initialisation",
             "oneshot": "one-shot pruning (original init)", "random_mask": "random mask (original init)"}
FC_COLORS = dict(zip(FC_METHOD_ORDER, sns.color_palette(n_colors=len(FC_METHOD_ORDER))))


def _compression_axis(ax) -> None:
    """A second x axis on top: the compression ratio (100 / weights remaining in %)."""
    def inverse(x):
        return 100 / np.maximum(x, 1e-9)  # its own inverse; matplotlib also probes 0

    top = ax.secondary_xaxis("top", functions=(inverse, inverse))
    # an axis that does not reach 2x (the first rounds of a sweep) would otherwise show only "1x"
    reaches = 100 / max(min(ax.get_xlim()), 1e-9)
    top.set_xticks([1, 2, 5, 10, 20, 50, 100] if reaches >= 2 else [1, 1.1, 1.25, 1.5])
    top.xaxis.set_major_formatter(mticker.FormatStrFormatter("%gx"))
    top.xaxis.set_minor_formatter(mticker.NullFormatter())
    top.set_xlabel("compression ratio of the prunable weights")


def _unpruned_band(ax, frame: pd.DataFrame, value: str, percent: bool) -> None:
    """The unpruned network's mean ± std (round 0) as a grey band across the axis."""
    from lth.frankle_carbin import unpruned

    mean, std, n = unpruned(frame, value)
    if not n:
        return
    scale = 100 if percent else 1
    if std == std:  # not NaN
        ax.axhspan(scale * (mean - std), scale * (mean + std), color="grey", alpha=0.2)
    ax.axhline(scale * mean, color="grey", lw=1, label=f"unpruned: mean ± std ({wording.count(n, 'trial')})")


def fc_against_density(frame: pd.DataFrame, value: str, ylabel: str, title: str, interval: str = "minmax",
                       percent: bool = False, ax=None):
    """Mean of ``value`` over trials against weights remaining (bottom, log, decreasing) and compression ratio
    (top), one line per method with the range over trials (``interval="minmax"``) or a 95 % interval of the
    mean (``"ci95"``) as a band, and the unpruned network's mean ± std as a grey band. Rows are
    :func:`lth.figures.fc_frame`'s of one network and setting; round 0 (the unpruned network) starts every line."""
    from lth.frankle_carbin import summary

    ax = _axis(ax)
    scale = 100 if percent else 1
    _unpruned_band(ax, frame, value, percent)
    dense = frame[frame["round"] == 0]
    for method in [m for m in FC_METHOD_ORDER if m in set(frame.method)]:
        part = pd.concat([dense.assign(method=method), frame[(frame.method == method) & (frame["round"] > 0)]])
        line = summary(part, value, by=["round"], interval=interval)
        x = line.density * 100
        ax.plot(x, line["mean"] * scale, marker="o", ms=3, color=FC_COLORS[method], label=FC_LABELS[method])
        ax.fill_between(x, line.low * scale, line.high * scale, color=FC_COLORS[method], alpha=0.15, lw=0)
    band = "range over trials" if interval == "minmax" else "95 % interval of the mean"
    ax.set(title=title, xlabel="weights remaining (%)", ylabel=ylabel)
    if len(frame):
        per_round = frame.groupby("round").density.mean() * 100
        _density_axis(ax, per_round.iloc[::max(1, len(per_round) // 6)])
        _compression_axis(ax)
        ax.legend(fontsize=8, title=f"mean; band: {band}", title_fontsize=8)
    else:
        _nothing_stored(ax)
    return ax


def fc_curves(curves: pd.DataFrame, rounds: dict, methods=("ticket", "random"), axes=None):
    """Test accuracy over training iterations (mean over trials), one panel per method, one line per round
    (``rounds``: ``{round: label}``, e.g. the rounds nearest 100, 51.3, 21.1, 7.0, 3.6 and 1.9 %); round 0
    (the unpruned network) in every panel. F&C's Figs. 3 and 4."""
    if axes is None:
        _, axes = plt.subplots(1, len(methods), figsize=(5 * len(methods), 4), sharey=True, layout="constrained")
    axes = list(np.atleast_1d(axes))
    palette = dict(zip(rounds, sns.color_palette("viridis", n_colors=len(rounds))))
    for ax, method in zip(axes, methods):
        for round_, label in rounds.items():
            part = curves[(curves["round"] == round_) & ((curves.method == method) | (curves["round"] == 0))]
            if len(part):
                mean = part.groupby("iteration").test_accuracy.mean()
                ax.plot(mean.index, mean * 100, color=palette[round_], lw=1, label=label)
        ax.set(title=FC_LABELS[method], xlabel="training iteration", ylabel="test accuracy (%)")
        ax.legend(fontsize=8, title="weights remaining", title_fontsize=8)
    return axes


# ------------------------------------------------------------------ supermasks (lth.supermasks)

SUPERMASK_WEIGHT_LABELS = {"init": "kept weights as initialised", "signed_constant": "signed constants",
                           "reshuffle": "kept weights reshuffled within their layer",
                           "reinit": "kept weights re-initialised"}


def supermask_panels(frame: pd.DataFrame, title: str, chance: float = 0.1, axes=None):
    """Untrained test accuracy against weights remaining, one panel per weight treatment, one line per criterion
    (mean over trials, 95 % bootstrap band), chance as a dashed line: the seed's Fig. 8 (Zhou et al.'s Fig. 5).
    ``frame``: :func:`lth.supermasks.supermask_frame` (learned masks are left out here)."""
    part = frame[frame.weights.isin(SUPERMASK_WEIGHT_LABELS)].copy()
    # nothing stored at all: every treatment's panel, each saying so
    treatments = [w for w in SUPERMASK_WEIGHT_LABELS if w in set(part.weights)] or list(SUPERMASK_WEIGHT_LABELS)
    if axes is None:
        _, axes = plt.subplots(2, 2, figsize=(12, 8), sharex=True, sharey=True, layout="constrained")
    axes = list(getattr(axes, "flat", axes))
    part["density (%)"] = part.density * 100
    part["test accuracy (%)"] = part.test_accuracy * 100
    criteria = sorted(set(part.criterion))
    palette = dict(zip(criteria, sns.color_palette("tab10", n_colors=max(len(criteria), 1))))
    for ax, weights in zip(axes, treatments):
        panel = part[part.weights == weights]
        if len(panel):
            sns.lineplot(data=panel, x="density (%)", y="test accuracy (%)", hue="criterion", hue_order=criteria,
                         palette=palette, marker="o", ms=4, errorbar=("ci", 95), ax=ax, legend=ax is axes[0])
            _density_axis(ax, panel["density (%)"])
        else:
            _nothing_stored(ax)
            ax.set_ylim(0, 100)
        ax.axhline(100 * chance, color="red", ls="--", lw=1, label="chance")
        ax.set(title=SUPERMASK_WEIGHT_LABELS[weights], xlabel="weights remaining (%)", ylabel="test accuracy (%)")
    for ax in axes[len(treatments):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if axes[0].get_legend():
        axes[0].get_legend().remove()
    axes[0].figure.legend(handles, labels, loc="outside right upper", fontsize=8, title="mask criterion",
                          title_fontsize=8)
    axes[0].figure.suptitle(title)
    return axes


def published_beside_ours(table: pd.DataFrame, ax=None):
    """Zhou et al.'s supermask accuracies beside ours (:func:`lth.supermasks.published_table`), one pair of bars per
    network and mask; the published value is on their data set (MNIST or CIFAR-10), ours on the one we ran."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    rows = [{"mask": "\n".join([r.network, *r.mask.split(", ")]), "source": source, "test accuracy (%)": 100 * value}
            for r in table.itertuples() for source, value in (("Zhou et al. 2019", r.published), ("this book", r.ours))
            if value == value]
    sns.barplot(data=pd.DataFrame(rows, columns=["mask", "source", "test accuracy (%)"]), x="mask",
                y="test accuracy (%)", hue="source", ax=ax)
    ax.axhline(10, color="red", ls="--", lw=1, label="chance")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.set(title="Best supermask and learned mask: published and ours", xlabel="")
    return ax


def retrain_by_criterion(frame: pd.DataFrame, title: str, ax=None):
    """Test accuracy at early stop of tickets pruned iteratively by each criterion and retrained from the original
    initialisation, against weights remaining (Zhou et al.'s Fig. 2); round 0 (the dense network) starts every line.
    ``frame``: :func:`lth.supermasks.retrain_frame`."""
    ax = _axis(ax)
    dense = frame[frame["round"] == 0]
    criteria = sorted(set(frame.criterion))
    part = pd.concat([frame[frame["round"] > 0]] + [dense.assign(criterion=c) for c in criteria], ignore_index=True)
    part["density (%)"] = part.density * 100
    part["test accuracy (%)"] = part.test_accuracy * 100
    if len(part):
        sns.lineplot(data=part, x="density (%)", y="test accuracy (%)", hue="criterion", hue_order=criteria,
                     palette=dict(zip(criteria, sns.color_palette("tab10", n_colors=len(criteria)))),
                     marker="o", ms=4, errorbar=("ci", 95), ax=ax)
        _density_axis(ax, part.groupby("round")["density (%)"].mean())
        ax.legend(fontsize=7, ncol=2, title="mask criterion", title_fontsize=7)
    ax.set(title=title, xlabel="weights remaining (%)", ylabel="test accuracy at early stop (%)")
    return ax


# ------------------------------------------------------------------ Liu et al. (lth.liu)

LIU_LABELS = {"ticket": "winning ticket (original init)", "random": "random re-initialisation"}


def liu_unstructured(frame: pd.DataFrame, network: str, schedule: str, lr: float, ax=None):
    """One panel of Liu et al.'s Fig. 7 (the seed's Fig. 5): test accuracy against weights remaining for the ticket
    and its random re-initialisation, for one network, pruning schedule (iterative or one-shot) and initial
    learning rate; mean over trials with the range over trials as a band, the unpruned network's mean ± std
    as a grey band. Rows are :func:`lth.figures.liu_unstructured_frame`'s."""
    ax = _axis(ax)
    part = frame[(frame.network == network) & np.isclose(frame.lr, lr)]
    dense = part.loc[part.method == "unpruned", "test_accuracy"] * 100
    if len(dense):
        if len(dense) > 1:
            ax.axhspan(dense.mean() - dense.std(), dense.mean() + dense.std(), color="grey", alpha=0.2)
        ax.axhline(dense.mean(), color="grey", lw=1, label=f"unpruned: mean ± std ({len(dense)} trials)")
    pruned = part[(part.schedule == schedule) & part.method.isin(list(LIU_LABELS))]
    for method, label in LIU_LABELS.items():
        rows = pruned[pruned.method == method]
        if rows.empty:
            continue
        line = rows.groupby("density").test_accuracy.agg(["mean", "min", "max"]).sort_index() * 100
        ax.plot(line.index * 100, line["mean"], marker="o", ms=3, color=FC_COLORS[method], label=label)
        ax.fill_between(line.index * 100, line["min"], line["max"], color=FC_COLORS[method], alpha=0.15, lw=0)
    ax.set(title=f"{schedule}, initial learning rate {lr:g}", xlabel="weights remaining (%)",
           ylabel="test accuracy (%)")
    if len(pruned):
        densities = sorted(pruned.density.unique() * 100, reverse=True)
        _density_axis(ax, densities[::max(1, len(densities) // 5)])
        _compression_axis(ax)
    else:
        _nothing_stored(ax)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, title="mean; band: range over trials", title_fontsize=8)
    return ax


def _nothing_stored(ax):
    """Say so on an empty panel (a sweep whose runs are not stored yet), rather than show bare axes."""
    ax.text(0.5, 0.5, "no runs stored yet\n(the introduction's training status\nsays what is left)",
            transform=ax.transAxes, ha="center", va="center", color="grey")
