import math

import pandas as pd
import pytest

from lth import analysis


def _curves(values_by_trial):
    return pd.DataFrame([{"protocol": "faithful", "model": "pruning", "trial": t, "epoch": e + 1, "val_accuracy": v}
                         for t, values in values_by_trial.items() for e, v in enumerate(values)])


def test_collapses_finds_the_fall_and_its_onset():
    table = analysis.collapses(_curves({0: [0.9, 0.95, 0.97, 0.85, 0.2], 1: [0.9, 0.95, 0.96, 0.955, 0.96]}))
    fell, held = table.set_index("trial").loc[0], table.set_index("trial").loc[1]
    assert (fell.best, fell.best_epoch, fell.final, fell.collapsed, fell.onset) == (0.97, 3, 0.2, True, 4.0)
    assert not held.collapsed and math.isnan(held.onset)


def test_unpruned_twin_verdict_needs_a_collapsed_pruning_network_to_explain():
    fell, kept = [0.95, 0.97, 0.2], [0.95, 0.97, 0.97]

    def verdict(pruning, unpruned):
        curves = pd.concat([_curves(pruning).assign(model="pruning"), _curves(unpruned).assign(model="unpruned")])
        return analysis.unpruned_twin_verdict(analysis.collapses(curves))

    assert "long training alone breaks" in verdict({0: fell, 1: fell}, {0: fell, 1: fell})
    assert "it is pruning" in verdict({0: fell, 1: fell}, {0: kept, 1: kept})
    assert verdict({0: fell, 1: fell}, {0: fell, 1: kept}).startswith("1 of 2 twins collapsed")
    assert "did not collapse either" in verdict({0: kept}, {0: kept})
    assert "did not collapse either" in verdict({0: kept, 1: fell}, {0: kept})  # trial 1 has no twin
    assert "stays open" in analysis.unpruned_twin_verdict(analysis.collapses(_curves({0: fell}).assign(model="pruning")))


def test_collapses_threshold_is_relative_to_the_best_so_far():
    table = analysis.collapses(_curves({0: [0.5, 0.39, 0.9, 0.85]}), drop=0.1)
    assert table.onset.iloc[0] == 2.0 and not table.collapsed.iloc[0]


def test_median_iqr_and_mann_whitney():
    frame = pd.DataFrame({"model": ["ticket"] * 4 + ["random"] * 4, "density": 0.5,
                          "test_accuracy": [0.99, 0.98, 0.985, 0.99, 0.90, 0.91, 0.92, 0.905]})
    table = analysis.median_iqr(frame, ["model"]).set_index("model")
    assert table.loc["ticket", "median"] == pytest.approx(0.9875) and table.loc["random", "n"] == 4
    test = analysis.mann_whitney(frame, "ticket", "random", ["density"])
    assert test.U.iloc[0] == 16 and test.p_value.iloc[0] < 0.05
    same = frame.assign(test_accuracy=0.5)
    assert analysis.mann_whitney(same, "ticket", "random", ["density"]).p_value.iloc[0] == 1.0


def test_trial_counts_lists_every_expected_cell():
    fig6 = pd.DataFrame([{"protocol": "faithful", "model": m, "density": d, "trial": t, "test_accuracy": 0.9}
                         for m, d, trials in [("dense", 1.0, range(3)), ("ticket", 0.5, range(2)),
                                              ("ticket", 0.5, range(2))] for t in trials])
    table = analysis.trial_counts(fig6, ["faithful", "corrected"], [0.1, 0.5])
    assert list(table.columns) == [1.0, 0.5, 0.1]
    assert table.loc[("faithful", "dense"), 1.0] == 3 and math.isnan(table.loc[("faithful", "dense"), 0.5])
    assert table.loc[("faithful", "ticket"), 0.5] == 2  # trials, not rows: a repeated trial counts once
    assert table.loc[("faithful", "random"), 0.1] == 0 and table.loc[("corrected", "pruning"), 0.5] == 0
    assert math.isnan(table.loc[("corrected", "ticket"), 1.0])
    assert analysis.trial_counts(fig6.iloc[:0], ["faithful"], [0.5]).loc[("faithful", "dense"), 1.0] == 0


def _fig7(curves_by_model_trial, protocol="faithful"):
    return pd.DataFrame([{"protocol": protocol, "model": m, "trial": t, "epoch": e + 1, "val_accuracy": v}
                         for (m, t), values in curves_by_model_trial.items() for e, v in enumerate(values)])


def test_seed_fig7_claims_checks_each_trial():
    # Trial 0: retrained models stop after epoch 3; pruning first prunes after epoch 4 and then rises.
    # Trial 1: pruning peaks before the retrained models stop and before pruning, then falls.
    fig7 = _fig7({("pruning", 0): [0.90, 0.92, 0.93, 0.93, 0.95, 0.96], ("ticket", 0): [0.9, 0.94, 0.94],
                  ("random", 0): [0.9, 0.93],
                  ("pruning", 1): [0.90, 0.97, 0.96, 0.95, 0.50, 0.11], ("ticket", 1): [0.9, 0.95, 0.95]})
    claims = analysis.seed_fig7_claims(fig7, "faithful", first_pruning_epoch=4).set_index("claim")
    assert list(claims.checks) == [2, 2] and list(claims.passed) == [1, 1]
    assert set(claims.verdict) == {"partly"}
    only_rises = analysis.seed_fig7_claims(fig7[fig7.trial == 0], "faithful", first_pruning_epoch=4)
    assert set(only_rises.verdict) == {"holds"}


def test_seed_fig7_claims_uses_the_retrained_models_last_epoch_and_the_first_pruning_step():
    # The pruning network's best comes at epoch 4: after the ticket stops (3) but not after the
    # random re-initialisation (5), and not after the first pruning step (epoch 4 is before it).
    fig7 = _fig7({("pruning", 0): [0.90, 0.92, 0.93, 0.99, 0.95, 0.96], ("ticket", 0): [0.9, 0.94, 0.94],
                  ("random", 0): [0.9, 0.93, 0.93, 0.93, 0.93]})
    claims = analysis.seed_fig7_claims(fig7, "faithful", first_pruning_epoch=4)
    assert list(claims.passed) == [0, 0] and set(claims.verdict) == {"does not hold"}
    assert list(analysis.seed_fig7_claims(fig7, "faithful", first_pruning_epoch=3).passed) == [0, 1]


def test_seed_fig7_claims_without_curves_says_so():
    claims = analysis.seed_fig7_claims(_fig7({("ticket", 0): [0.9, 0.95]}), "faithful", first_pruning_epoch=4)
    assert list(claims.checks) == [0, 0] and set(claims.verdict) == {"not tested (no stored curve covers it)"}
    empty = analysis.seed_fig7_claims(_fig7({("pruning", 0): [0.9]}), "corrected", first_pruning_epoch=4)
    assert list(empty.checks) == [0, 0]
