"""Tables and statistics for the book's chapters."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def median_iqr(frame: pd.DataFrame, by: list, value: str = "test_accuracy") -> pd.DataFrame:
    """Median, interquartile range and count of ``value`` per group."""
    grouped = frame.groupby(by)[value]
    table = pd.DataFrame({"median": grouped.median(), "q25": grouped.quantile(0.25),
                          "q75": grouped.quantile(0.75), "n": grouped.count()})
    table["iqr"] = table["q75"] - table["q25"]
    return table.reset_index()


def mann_whitney(frame: pd.DataFrame, a: str, b: str, by: list, model_col: str = "model",
                 value: str = "test_accuracy") -> pd.DataFrame:
    """Two-sided Mann–Whitney U test of model ``a`` against ``b`` within each group."""
    rows = []
    for key, group in frame.groupby(by):
        x = group.loc[group[model_col] == a, value].to_numpy()
        y = group.loc[group[model_col] == b, value].to_numpy()
        if len(x) == 0 or len(y) == 0:
            continue
        if np.all(np.concatenate([x, y]) == x[0]):
            u, p = len(x) * len(y) / 2, 1.0
        else:
            u, p = stats.mannwhitneyu(x, y, alternative="two-sided")
        key = key if isinstance(key, tuple) else (key,)
        rows.append(dict(zip(by, key)) | {f"median_{a}": float(np.median(x)), f"median_{b}": float(np.median(y)),
                                          "n": min(len(x), len(y)), "U": float(u), "p_value": float(p)})
    return pd.DataFrame(rows)


def trial_counts(fig6: pd.DataFrame, protocols, densities, models=("pruning", "ticket", "random")) -> pd.DataFrame:
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


def _verdict(checks: list, missing: str) -> str:
    if not checks:
        return f"not tested ({missing})"
    return "holds" if all(checks) else ("partly" if any(checks) else "does not hold")


def _claims_table(rows: list, missing: str = "no such densities in this run") -> pd.DataFrame:
    """One row per (claim, checks): how many checks there were, how many passed, and the verdict."""
    return pd.DataFrame([{"claim": claim, "checks": len(checks), "passed": int(sum(map(bool, checks))),
                          "verdict": _verdict(checks, missing)} for claim, checks in rows])


def seed_claims(fig6: pd.DataFrame, protocol: str, alpha: float = 0.05) -> pd.DataFrame:
    """The seed paper's claims about its Fig. 6, each checked on our runs of ``protocol``.

    Medians are compared with the dense model's mean; ticket vs random uses the
    two-sided Mann–Whitney U test at level ``alpha``.
    """
    part = fig6[fig6.protocol == protocol]
    dense = part[part.model == "dense"].test_accuracy.mean()
    med = part[part.model != "dense"].groupby(["density", "model"]).test_accuracy.median().unstack()
    tests = mann_whitney(part[part.model != "dense"], "ticket", "random", ["density"])
    p = dict(zip(tests.density, tests.p_value)) if len(tests) else {}
    densities = sorted(med.index, reverse=True)
    models = [m for m in ("pruning", "ticket", "random") if m in med.columns]
    rows = [
        ("All pruned models beat the dense one down to 5 % density",
         [med.loc[d, m] > dense for d in densities if d >= 0.05 for m in models]),
        ("At 2 % and 1 % the pruned models fall below the dense one",
         [med.loc[d, m] < dense for d in densities if d <= 0.02 for m in models]),
        ("Tickets beat random re-initialisation between 10 % and 2 % (p < 0.05)",
         [med.loc[d, "ticket"] > med.loc[d, "random"] and p.get(d, 1.0) < alpha
          for d in densities if 0.02 <= d <= 0.1 and "ticket" in med and "random" in med]),
        ("...but not at higher densities (no significant difference above 10 %)",
         [p.get(d, 1.0) >= alpha for d in densities if d > 0.1 and d in p]),
        ("At 1 % ticket and random re-initialisation are alike (p ≥ 0.05)",
         [p.get(d, 1.0) >= alpha for d in densities if d == 0.01 and d in p]),
        ("The pruning network leads at high densities (≥ 33 %)",
         [med.loc[d, "pruning"] >= med.loc[d, [m for m in models if m != "pruning"]].max()
          for d in densities if d >= 0.33 and "pruning" in med]),
    ]
    return _claims_table(rows)


def seed_fig7_claims(fig7: pd.DataFrame, protocol: str, first_pruning_epoch: float) -> pd.DataFrame:
    """The seed paper's claims about its Fig. 7 (50 % density), checked trial by trial.

    From curves with columns ``protocol, model, trial, epoch, val_accuracy`` (epochs counted
    from 1; the record of epoch ``first_pruning_epoch`` is the last one before the first
    pruning step). A claim is checked once per trial that has the curves it needs: 7a holds in
    a trial if the pruning network's best after the retrained models' last epoch beats its best
    until then, 7b if its best after the first pruning step beats its best before it.
    """
    part = fig7[fig7.protocol == protocol]
    curves = {key: group.sort_values("epoch") for key, group in part.groupby(["model", "trial"])}
    keeps_rising, pruning_lifts = [], []
    for trial in sorted(part.trial.unique()):
        pruning = curves.get(("pruning", trial))
        if pruning is None:
            continue
        retrained = [curves[(m, trial)] for m in ("ticket", "random") if (m, trial) in curves]
        if retrained:
            stop = max(int(c.epoch.max()) for c in retrained)
            before, after = pruning[pruning.epoch <= stop], pruning[pruning.epoch > stop]
            keeps_rising.append(len(after) > 0 and after.val_accuracy.max() > before.val_accuracy.max())
        before, after = pruning[pruning.epoch <= first_pruning_epoch], pruning[pruning.epoch > first_pruning_epoch]
        if len(before) and len(after):
            pruning_lifts.append(after.val_accuracy.max() > before.val_accuracy.max())
    rows = [
        ("Fig. 7a: the pruning network still improves after the retrained models have early-stopped",
         keeps_rising),
        ("Fig. 7b: pruning lifts the pruning network above its best before pruning began",
         pruning_lifts),
    ]
    return _claims_table(rows, "no stored curve covers it")


def fc_claims(frame: pd.DataFrame) -> pd.DataFrame:
    """Frankle & Carbin's claims about LeNet-300-100, checked on mean values per density."""
    dense = frame[frame.level == 0]
    mean = frame[frame.level > 0].groupby(["level", "variant"])[["test_accuracy", "early_stop_iteration",
                                                                 "density"]].mean()

    def at(variant, column):
        if variant not in mean.index.get_level_values("variant"):
            return pd.Series(dtype=float)
        part = mean.xs(variant, level="variant")
        return pd.Series(part[column].to_numpy(), index=part["density"].round(4))

    ticket_acc, ticket_it = at("ticket", "test_accuracy"), at("ticket", "early_stop_iteration")
    random_acc, random_it = at("random_reinit", "test_accuracy"), at("random_reinit", "early_stop_iteration")
    oneshot_acc = at("oneshot", "test_accuracy")
    dense_acc, dense_it = dense.test_accuracy.mean(), dense.early_stop_iteration.mean()
    rows = [
        ("The unpruned network reaches about 98 % test accuracy", [dense_acc >= 0.975] if len(dense) else []),
        ("Tickets (density ≤ 51 %) stop earlier than the unpruned network",
         [ticket_it[d] < dense_it for d in ticket_it.index if d <= 0.52]),
        ("Tickets match or beat the unpruned network's accuracy down to 13.5 %",
         [ticket_acc[d] >= dense_acc for d in ticket_acc.index if d >= 0.135]),
        ("Random re-initialisation learns slower than the ticket",
         [random_it[d] > ticket_it[d] for d in random_it.index if d in ticket_it.index]),
        ("Random re-initialisation reaches lower accuracy than the ticket",
         [random_acc[d] < ticket_acc[d] for d in random_acc.index if d in ticket_acc.index]),
        ("Iterative pruning beats one-shot pruning below 30 % density",
         [ticket_acc[d] > oneshot_acc[d2] for d in ticket_acc.index if d < 0.3
          for d2 in oneshot_acc.index if abs(d2 - d) < 0.01]),
    ]
    return _claims_table(rows)


def liu_claims(frame: pd.DataFrame, tolerance: float = 0.003) -> pd.DataFrame:
    """Liu et al.'s claims, on mean test accuracy per (pruning, learning rate, density).

    "Alike" means the ticket and random re-initialisation differ by less than ``tolerance``.
    """
    pruned = frame[frame.level > 0]
    mean = pruned.groupby(["pruning", "learning_rate", "level", "variant"]).test_accuracy.mean().unstack("variant")
    if "ticket" not in mean or "random_reinit" not in mean:
        return pd.DataFrame(columns=["claim", "checks", "passed", "verdict"])
    gap = (mean["ticket"] - mean["random_reinit"]).reset_index(name="gap")
    rates = sorted(frame.learning_rate.unique())
    high, low = (rates[-1], rates[0]) if len(rates) > 1 else (None, None)

    def gaps(pruning_kind, lr):
        return gap[(gap.pruning == pruning_kind) & (gap.learning_rate == lr)].gap.tolist()

    by_lr = pruned[pruned.variant == "ticket"].groupby(["pruning", "learning_rate"]).test_accuracy.mean()
    rows = [
        ("Unstructured, high learning rate: the ticket brings no gain over random re-init",
         [g < tolerance for g in gaps("unstructured", high)] if high is not None else []),
        ("Unstructured, low learning rate: the ticket beats random re-init",
         [g > 0 for g in gaps("unstructured", low)] if low is not None else []),
        ("The low learning rate gives lower accuracy than the high one",
         [by_lr[(k, low)] < by_lr[(k, high)] for k in frame.pruning.unique()
          if (k, low) in by_lr and (k, high) in by_lr] if high is not None else []),
        ("Structured pruning: ticket and random re-init are alike at every learning rate",
         [abs(g) < tolerance for lr in rates for g in gaps("structured", lr)]),
    ]
    return _claims_table(rows)
