"""Tables and statistics for the book's chapters."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from lth import stats
from lth.runs import SEED_ROLES


def median_iqr(frame: pd.DataFrame, by: list, value: str = "test_accuracy") -> pd.DataFrame:
    """Median, interquartile range and count of ``value`` per group."""
    grouped = frame.groupby(by)[value]
    table = pd.DataFrame({"median": grouped.median(), "q25": grouped.quantile(0.25),
                          "q75": grouped.quantile(0.75), "n": grouped.count()})
    table["iqr"] = table["q75"] - table["q25"]
    return table.reset_index()


def mann_whitney(frame: pd.DataFrame, a: str, b: str, by: list, model_col: str = "model",
                 value: str = "test_accuracy", seed: int = 0) -> pd.DataFrame:
    """Two-sided exact Mann–Whitney U test of model ``a`` against ``b`` within each group, with the effect.

    Per group: both medians, ``n`` (the smaller group), ``U``, the raw two-sided ``p_value`` and
    ``p_holm``, Holm-corrected across the groups of this call, and ``effect_pp``, the difference
    of medians in percentage points, with its seeded bootstrap 95 % interval (:mod:`lth.stats`).
    """
    rows = []
    for i, (key, group) in enumerate(frame.groupby(by)):
        x = group.loc[group[model_col] == a, value].to_numpy(float)
        y = group.loc[group[model_col] == b, value].to_numpy(float)
        if len(x) == 0 or len(y) == 0:
            continue
        low, high = stats.bootstrap_interval(100 * x, 100 * y, seed=[seed, i])
        key = key if isinstance(key, tuple) else (key,)
        rows.append(dict(zip(by, key)) | {
            f"median_{a}": float(np.median(x)), f"median_{b}": float(np.median(y)), "n": min(len(x), len(y)),
            "U": float(scipy_stats.rankdata(np.concatenate([x, y]))[:len(x)].sum() - len(x) * (len(x) + 1) / 2),
            "p_value": stats.rank_sum_p(x, y, "two-sided"), "effect_pp": stats.effect(100 * x, 100 * y),
            "ci_low_pp": low, "ci_high_pp": high})
    table = pd.DataFrame(rows)
    if len(table):
        table.insert(table.columns.get_loc("p_value") + 1, "p_holm", stats.holm(table.p_value))
    return table


MODEL_NAMES = {"ticket": "ticket", "random": "random re-init", "random_mask": "random mask", "pruning": "pruning",
               "dense": "dense"}


def mann_whitney_for_reading(table: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """:func:`mann_whitney`'s table as a reader's: named columns, effects and interval in pp to two decimals,
    the interval as one "[low, high]" column; ``published_effect_pp`` (if present) beside our effect."""
    columns = {"protocol": "protocol", "density": "density", "n": "trials (fewer group)",
               f"median_{a}": f"{MODEL_NAMES[a]} median", f"median_{b}": f"{MODEL_NAMES[b]} median",
               "effect_pp": "effect (pp)", "published_effect_pp": "published effect (pp)", "ci": "95 % CI (pp)",
               "U": "U", "p_value": "p", "p_holm": "p, Holm-corrected"}
    out = table.copy()
    if len(out):
        out["ci"] = [f"[{lo:+.2f}, {hi:+.2f}]" for lo, hi in zip(out.ci_low_pp, out.ci_high_pp)]
        out = out.round({"effect_pp": 2, "published_effect_pp": 2})
    kept = [c for c in columns if c != "published_effect_pp" or c in out.columns]  # all, on an empty table too
    return out.reindex(columns=kept).rename(columns=columns)


def trial_counts(fig6: pd.DataFrame, protocols, densities, models=SEED_ROLES[1:]) -> pd.DataFrame:
    """Trials stored per (protocol, model) and density, every expected cell listed (0 where none).

    Rows are (protocol, model) with the dense model first; columns are the densities, the dense
    model's single cell under 1.0. Cells that do not exist (dense at a pruned density) are NaN.
    """
    counts = fig6.groupby(["protocol", "model", "density"]).trial.nunique() if len(fig6) else pd.Series(dtype=int)
    columns = [1.0] + sorted((float(d) for d in densities), reverse=True)
    rows = []
    for protocol in protocols:
        for model in ("dense", *models):
            cells = [1.0] if model == "dense" else columns[1:]
            rows.append({"protocol": protocol, "model": model,
                         **{d: int(counts.get((protocol, model, d), 0)) if d in cells else np.nan for d in columns}})
    return pd.DataFrame(rows).set_index(["protocol", "model"])[columns]


def collapses(fig7: pd.DataFrame, drop: float = 0.1) -> pd.DataFrame:
    """Did each network's validation accuracy fall far below its own best, and when?

    From curves with columns ``protocol, model, trial, epoch, val_accuracy`` (plus any
    extra grouping columns): per curve its best and final accuracy, whether it ends more
    than ``drop`` below its best (``collapsed``), and ``onset``, the first epoch at which it
    is more than ``drop`` below its best so far (NaN if never).
    """
    keys = [c for c in fig7.columns if c not in ("epoch", "val_accuracy")]
    rows = []
    for key, curve in fig7.sort_values("epoch").groupby(keys):
        accuracy = curve.val_accuracy.to_numpy()
        below = accuracy < np.maximum.accumulate(accuracy) - drop
        rows.append(dict(zip(keys, key)) | {
            "best": float(accuracy.max()), "best_epoch": int(curve.epoch.iloc[int(accuracy.argmax())]),
            "final": float(accuracy[-1]), "collapsed": bool(accuracy[-1] < accuracy.max() - drop),
            "onset": float(curve.epoch.iloc[int(below.argmax())]) if below.any() else float("nan")})
    return pd.DataFrame(rows, columns=keys + ["best", "best_epoch", "final", "collapsed", "onset"])


# :func:`collapses`' columns as a reader's table names them (accuracies are fractions: show them as percent)
COLLAPSE_LABELS = {"best": "best accuracy", "best_epoch": "best epoch", "final": "final accuracy",
                   "onset": "collapse onset (epoch)"}


def unpruned_twin_verdict(collapse: pd.DataFrame) -> str:
    """What the unpruned twins say about the pruning networks' collapse, as one sentence.

    ``collapse`` is :func:`collapses` of the curves of pruning networks (model ``pruning``)
    and their unpruned twins (model ``unpruned``) of the same trials.
    """
    twins = collapse[collapse.model == "unpruned"]
    pruned = collapse[(collapse.model == "pruning") & collapse.trial.isin(twins.trial)]
    if len(twins) == 0:
        return "No unpruned twin is stored at this scale yet, so this question stays open."
    if not pruned.collapsed.any():
        return ("The pruning networks of these trials did not collapse either, so the twins cannot tell here what "
                "breaks them.")
    if twins.collapsed.all():
        return ("Every twin collapsed without ever being pruned: at these settings long training alone breaks the "
                "network, and pruning is not needed for it.")
    if not twins.collapsed.any():
        return ("No twin collapsed: without pruning the network keeps its accuracy, so it is pruning, at this "
                "learning rate, that breaks the pruning networks.")
    return (f"{int(twins.collapsed.sum())} of {len(twins)} twins collapsed without being pruned: long training "
            "alone breaks the network in some trials, and pruning adds to it in the others.")


def _percent(density: float) -> str:
    return f"{density * 100:g} %"


def _published_levels(published: pd.DataFrame | None) -> dict:
    """(model, density) -> the published Fig. 6 median; the dense model's published mean under (dense, 1.0)."""
    if published is None:
        return {}
    medians = published[published.stat == "median"]
    levels = {(m, float(d)): float(v) for m, d, v in zip(medians.model, medians.density, medians.value)}
    dense = published[(published.model == "dense") & (published.stat == "mean")]
    return levels | ({("dense", 1.0): float(dense.value.iloc[0])} if len(dense) else {})


def seed_claims(fig6: pd.DataFrame, protocol: str, alpha: float = stats.ALPHA, margin: stats.Margin | None = None,
                published: pd.DataFrame | None = None, seed: int = 0) -> pd.DataFrame:
    """The seed paper's claims about its Fig. 6, each decided on our runs of ``protocol`` (:mod:`lth.stats`).

    Effects are differences of medians in pp, per (model, density) cell; "beats" and "falls below"
    are one-sided exact Mann–Whitney tests, "alike" a TOST, Holm-corrected across a claim's cells
    at level ``alpha``. ``margin`` defaults to the trial-to-trial standard deviation of the dense
    model of ``protocol`` (:func:`lth.stats.sd_margin`). ``published`` (the digitised Fig. 6,
    ``figures.published_fig6()``) gives the published effect: median minus median, or minus the
    dense model's published mean.
    """
    part = fig6[fig6.protocol == protocol]

    def accuracies(model, density):
        return part.loc[(part.model == model) & np.isclose(part.density, density), "test_accuracy"].to_numpy()

    margin = margin or stats.sd_margin(accuracies("dense", 1.0), f"the dense model's test accuracy ({protocol})")
    levels = _published_levels(published)
    densities = sorted(part.loc[part.model != "dense", "density"].unique(), reverse=True)
    models = [m for m in ("pruning", "ticket", "random") if m in set(part.model)]
    retrained = "ticket" in models and "random" in models

    def claim(key, text, direction, pairs):
        """``pairs``: (cell, model A, density A, model B, density B), one per cell of the claim."""
        frame = stats.cells_frame([(cell, accuracies(ma, da), accuracies(mb, db)) for cell, ma, da, mb, db in pairs])
        published_effects = {cell: 100 * (levels[(ma, da)] - levels[(mb, db)]) for cell, ma, da, mb, db in pairs
                             if (ma, da) in levels and (mb, db) in levels}
        return stats.Claim(key, text, direction, margin, published=published_effects), frame

    def against_dense(keep):
        return [(f"{m}, {_percent(d)}", m, d, "dense", 1.0) for d in densities if keep(d) for m in models]

    def ticket_against_random(keep):
        return [(_percent(d), "ticket", d, "random", d) for d in densities if keep(d) and retrained]

    rows = [
        claim("pruned_beat_dense", "All pruned models beat the dense one down to 5 % density", "greater",
              against_dense(lambda d: d >= 0.05)),
        claim("pruned_below_dense", "At 2 % and 1 % the pruned models fall below the dense one", "less",
              against_dense(lambda d: d <= 0.02)),
        claim("ticket_beats_random", "Tickets beat random re-initialisation between 10 % and 2 %", "greater",
              ticket_against_random(lambda d: 0.02 <= d <= 0.1)),
        claim("ticket_alike_random_above_10", "...but above 10 % ticket and random re-initialisation are alike",
              "alike", ticket_against_random(lambda d: d > 0.1)),
        claim("ticket_alike_random_at_1", "At 1 % ticket and random re-initialisation are alike", "alike",
              ticket_against_random(lambda d: np.isclose(d, 0.01))),
        claim("pruning_leads_high", "The pruning network leads at high densities (≥ 33 %)", "greater",
              [(f"{_percent(d)}, vs {m}", "pruning", d, m, d) for d in densities if d >= 0.33
               for m in models if m != "pruning" and "pruning" in models]),
    ]
    return stats.claims_table(rows, alpha=alpha, seed=seed, missing="no such densities in this run")


def _fig7_gains(curves: pd.DataFrame, first_pruning_epoch: float) -> pd.DataFrame:
    """Per trial, how far the pruning network's best validation accuracy rises after a point (fractions).

    ``keeps_rising``: its best after the retrained models' last epoch minus its best until then
    (NaN without a retrained curve or an epoch after it); ``pruning_lifts``: its best after
    ``first_pruning_epoch`` minus its best until then (NaN if either side is empty).
    """
    curves = {key: group.sort_values("epoch") for key, group in curves.groupby(["model", "trial"])}

    def gain(curve, stop):
        before, after = curve[curve.epoch <= stop], curve[curve.epoch > stop]
        return after.val_accuracy.max() - before.val_accuracy.max() if len(before) and len(after) else np.nan

    rows = []
    for (model, trial), pruning in curves.items():
        if model != "pruning":
            continue
        retrained = [curves[(m, trial)] for m in ("ticket", "random") if (m, trial) in curves]
        rows.append({"trial": trial, "pruning_lifts": gain(pruning, first_pruning_epoch),
                     "keeps_rising": gain(pruning, max(int(c.epoch.max()) for c in retrained)) if retrained else np.nan})
    return pd.DataFrame(rows, columns=["trial", "keeps_rising", "pruning_lifts"])


def seed_fig7_claims(fig7: pd.DataFrame, protocol: str, first_pruning_epoch: float, alpha: float = stats.ALPHA,
                     margin: stats.Margin | None = None, published: pd.DataFrame | None = None,
                     seed: int = 0) -> pd.DataFrame:
    """The seed paper's claims about its Fig. 7 (50 % density), decided on every trial's curves.

    From curves with columns ``protocol, model, trial, epoch, val_accuracy`` (epochs counted
    from 1; the record of epoch ``first_pruning_epoch`` is the last one before the first pruning
    step). Per trial, a gain in pp: 7a, the pruning network's best after the retrained models' last
    epoch minus its best until then; 7b, its best after the first pruning step minus its best
    before it. Each claim says the gain is positive: a one-sided exact Wilcoxon signed-rank test
    over the trials, with the median gain's bootstrap interval. ``margin`` defaults to the
    trial-to-trial standard deviation of the dense model's best validation accuracy. ``published``
    (``figures.published_fig7()``, one 500-epoch trial per panel) gives the published gain,
    the median over its panels.
    """
    part = fig7[fig7.protocol == protocol]
    gains = _fig7_gains(part, first_pruning_epoch)
    dense_best = part[part.model == "dense"].groupby("trial").val_accuracy.max()
    margin = margin or stats.sd_margin(dense_best, f"the dense model's best validation accuracy ({protocol})")
    if published is not None:
        from lth.seed.schedule import pruning_epochs

        curves = published.rename(columns={"panel": "trial", "test_accuracy": "val_accuracy"})
        published_gains = _fig7_gains(curves, pruning_epochs(int(curves.epoch.max()))[0]).median(numeric_only=True)
    rows = []
    for key, text in [("keeps_rising", "Fig. 7a: the pruning network still improves after the retrained models "
                                        "have early-stopped"),
                      ("pruning_lifts", "Fig. 7b: pruning lifts the pruning network above its best before pruning "
                                        "began")]:
        values = gains[key].dropna()
        published_effect = {"50 %": 100 * published_gains[key]} if published is not None else {}
        frame = stats.cells_frame([("50 %", values, None)] if len(values) else [])
        rows.append((stats.Claim(f"fig7_{key}", text, "greater", margin, b=None, published=published_effect), frame))
    return stats.claims_table(rows, alpha=alpha, seed=seed, missing="no stored curve covers it")


def liu_claims(unstructured: pd.DataFrame, structured: pd.DataFrame | None = None, seed: int = 0) -> pd.DataFrame:
    """Liu et al.'s claims (PROTOCOLS.md §3, the seed's Sec. 4.2 and Fig. 5), per network, decided by :mod:`lth.stats`.

    Rows are :func:`lth.figures.liu_unstructured_frame`'s and :func:`lth.figures.liu_structured_frame`'s. Each
    cell holds paired differences in pp: the ticket minus its random re-initialisation with the same mask
    (same trial, schedule and density; pooled over the densities), the low learning rate minus the high
    one at matched trial, schedule, method and density, or the structured ticket minus Scratch-E built from
    the same dense network (pooled over both rates). "Beats" and "lower" are one-sided exact Wilcoxon
    signed-rank tests, "no gain" and "alike" a TOST against the margin, Holm-corrected over a claim's cells.
    Pooling densities gives each cell enough pairs to be decided at three trials (a 3-against-3 rank test
    cannot reach p < 0.05); the pairs of one trial share its dense network, so they are not fully independent.
    Margin: one trial-to-trial standard deviation of the unpruned network at the higher learning rate.
    """
    from lth import stats

    from lth.figures import LIU_STRUCTURED_COLUMNS

    def _paired(frame, a, b, keys):
        return stats.paired_differences(frame, a, b, keys).to_numpy(float)

    structured = structured if structured is not None else pd.DataFrame(columns=LIU_STRUCTURED_COLUMNS)
    claims = []
    for network in sorted(set(unstructured.network) | set(structured.network)):
        part = unstructured[unstructured.network == network]
        rates = sorted(set(part.lr) | set(structured.loc[structured.network == network, "lr"]))
        high, low = (rates[-1], rates[0]) if rates else (np.nan, np.nan)
        dense = part.loc[(part.method == "unpruned") & np.isclose(part.lr, high), "test_accuracy"]
        margin = stats.sd_margin(dense, f"the unpruned {network}'s test accuracy at learning rate {high:g}")
        schedules = [s for s in ("iterative", "one-shot") if s in set(part.schedule)]
        keys = ["trial", "density"]

        def ticket_gain(lr):
            return [(s, _paired(part, {"lr": lr, "schedule": s, "method": "ticket"},
                                {"lr": lr, "schedule": s, "method": "random"}, keys), None)
                    for s in schedules]

        def claim(key, text, direction, cells):
            cells = [c for c in cells if len(c[1])]
            claims.append((stats.Claim(f"{network}_{key}", f"{network}: {text}", direction, margin, b=None),
                           stats.cells_frame(cells)))

        claim("high_lr_no_gain", f"at learning rate {high:g} the ticket is no better than random re-initialisation "
              "(unstructured; ticket minus random within the margin)", "alike", ticket_gain(high))
        claim("low_lr_ticket_wins", f"at learning rate {low:g} the ticket beats random re-initialisation "
              "(unstructured)", "greater", ticket_gain(low))
        claim("low_lr_lower", f"learning rate {low:g} ends lower than {high:g} (unstructured, ticket and random "
              "alike)", "less",
              [(s, np.concatenate([_paired(part, {"lr": low, "schedule": s, "method": m},
                                           {"lr": high, "schedule": s, "method": m}, keys)
                                   for m in ("ticket", "random")]), None) for s in schedules])
        own = structured[structured.network == network]
        kind = "units" if network == "lenet300" else "filters"  # a dense network's structure is its hidden units
        claim("structured_alike", f"structured (L1-norm {kind}): the ticket and random re-initialisation "
              "(Scratch-E) are alike at both learning rates", "alike",
              [(f"{kept:,} {kind} kept", _paired(own, {"filters_kept": kept, "budget": "ticket"},
                                                  {"filters_kept": kept, "budget": "scratch-e"}, ["lr", "trial"]),
                None)
               for kept in sorted(set(own.loc[own.method != "unpruned", "filters_kept"]), reverse=True)])
    return stats.claims_table(claims, seed=seed, missing="no stored runs in these cells yet")
