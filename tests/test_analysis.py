import math

import numpy as np

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
    assert test.U.iloc[0] == 16 and test.p_value.iloc[0] == pytest.approx(2 / 70)  # exact: 2 of C(8, 4) splits
    assert test.effect_pp.iloc[0] == pytest.approx(100 * (0.9875 - 0.9075))
    assert test.ci_low_pp.iloc[0] <= test.effect_pp.iloc[0] <= test.ci_high_pp.iloc[0]
    same = frame.assign(test_accuracy=0.5)
    assert analysis.mann_whitney(same, "ticket", "random", ["density"]).p_value.iloc[0] == 1.0


def test_mann_whitney_for_reading_names_its_columns_and_keeps_them_on_an_empty_table():
    frame = pd.DataFrame({"model": ["ticket"] * 4 + ["random_mask"] * 4, "density": 0.5,
                          "test_accuracy": [0.99, 0.98, 0.985, 0.99, 0.90, 0.91, 0.92, 0.905]})
    test = analysis.mann_whitney(frame, "ticket", "random_mask", ["density"])
    shown = analysis.mann_whitney_for_reading(test, "ticket", "random_mask").iloc[0]
    assert shown["random mask median"] == pytest.approx(0.9075) and shown["effect (pp)"] == 8.0
    assert shown["95 % CI (pp)"] == f"[{test.ci_low_pp[0]:+.2f}, {test.ci_high_pp[0]:+.2f}]"
    assert shown["p"] == pytest.approx(2 / 70) and "published effect (pp)" not in shown.index
    empty = analysis.mann_whitney_for_reading(test.iloc[:0], "ticket", "random")
    assert empty.empty and {"density", "ticket median", "random re-init median"} <= set(empty.columns)


def test_mann_whitney_corrects_across_the_groups_of_one_call():
    frame = pd.DataFrame([{"model": m, "density": d, "test_accuracy": v}
                          for d, shift in [(0.5, 0.0), (0.1, 0.05)]
                          for m, values in [("ticket", [0.95, 0.96, 0.97, 0.98]), ("random", [0.94, 0.955, 0.965, 0.975])]
                          for v in np.array(values) - (shift if m == "random" else 0)])
    test = analysis.mann_whitney(frame, "ticket", "random", ["density"]).set_index("density")
    assert test.p_holm.to_numpy() == pytest.approx([min(1, 2 * test.p_value.min()), test.p_value.max()])
    assert test.loc[0.1, "p_value"] == pytest.approx(2 / 70)


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


def test_fig7_gains_use_the_retrained_models_last_epoch_and_the_first_pruning_step():
    # The pruning network's best comes at epoch 4: after the ticket stops (3) but not after the
    # random re-initialisation (5), and not after the first pruning step (epoch 4 is before it).
    fig7 = _fig7({("pruning", 0): [0.90, 0.92, 0.93, 0.99, 0.95, 0.96], ("ticket", 0): [0.9, 0.94, 0.94],
                  ("random", 0): [0.9, 0.93, 0.93, 0.93, 0.93],
                  ("pruning", 1): [0.90, 0.92, 0.93, 0.93, 0.95, 0.96], ("ticket", 1): [0.9, 0.94, 0.94],
                  ("pruning", 2): [0.90, 0.91]})
    gains = analysis._fig7_gains(fig7, first_pruning_epoch=4).set_index("trial")
    assert gains.loc[0, "keeps_rising"] == pytest.approx(0.96 - 0.99)  # best after epoch 5 minus best until it
    assert gains.loc[0, "pruning_lifts"] == pytest.approx(0.96 - 0.99)
    assert gains.loc[1, "keeps_rising"] == pytest.approx(0.96 - 0.93)  # after the ticket's epoch 3
    assert analysis._fig7_gains(fig7, first_pruning_epoch=3).set_index("trial").loc[0, "pruning_lifts"] == \
        pytest.approx(0.99 - 0.93)
    assert math.isnan(gains.loc[2, "keeps_rising"]) and math.isnan(gains.loc[2, "pruning_lifts"])  # nothing after


def _rising(gains, protocol="faithful"):
    """Curves whose pruning network gains ``gains[t]`` after epoch 3, with a ticket stopping at 3 and a dense model."""
    curves = {}
    for t, gain in enumerate(gains):
        curves[("pruning", t)] = [0.90, 0.95, 0.96, 0.95, 0.96 + gain]
        curves[("ticket", t)] = [0.9, 0.94, 0.94]
        curves[("dense", t)] = [0.95, 0.97 + 0.001 * (t % 3)]
    return _fig7(curves, protocol)


def test_seed_fig7_claims_decide_the_gain_over_trials():
    rising = analysis.seed_fig7_claims(_rising([0.01, 0.012, 0.008, 0.011, 0.009, 0.01, 0.013]), "faithful",
                                       first_pruning_epoch=3).set_index("key")
    assert list(rising.verdict) == ["holds", "holds"] and list(rising.checks) == [1, 1]
    assert rising.loc["fig7_keeps_rising", "effect"] == pytest.approx(1.0)  # median gain, pp
    assert rising.loc["fig7_keeps_rising", "p_holm"] == pytest.approx(1 / 128)  # 7 positive gains, one-sided
    assert rising.loc["fig7_keeps_rising", "trials"] == 7 and "Wilcoxon" in rising.loc["fig7_keeps_rising", "test"]
    assert rising.margin.iloc[0] == pytest.approx(100 * np.std([0.97, 0.971, 0.972, 0.97, 0.971, 0.972, 0.97], ddof=1))
    falling = analysis.seed_fig7_claims(_rising([-0.05] * 7), "faithful", first_pruning_epoch=3)
    assert set(falling.verdict) == {"does not hold"}
    few = analysis.seed_fig7_claims(_rising([0.01, -0.002, 0.004]), "faithful", first_pruning_epoch=3)
    assert set(few.verdict) == {"undecided at 3 trials"} and (few.trials_needed > 3).all()


def test_seed_fig7_claims_without_curves_says_so():
    claims = analysis.seed_fig7_claims(_fig7({("ticket", 0): [0.9, 0.95]}), "faithful", first_pruning_epoch=4)
    assert list(claims.checks) == [0, 0] and set(claims.verdict) == {"not tested (no stored curve covers it)"}
    empty = analysis.seed_fig7_claims(_fig7({("pruning", 0): [0.9]}), "corrected", first_pruning_epoch=4)
    assert list(empty.checks) == [0, 0]


def test_seed_fig7_claims_quote_the_published_gain():
    published = pd.DataFrame([{"panel": p, "model": "pruning", "epoch": e, "test_accuracy": v}
                              for p, top in [("a", 0.99), ("b", 0.98)]
                              for e, v in [(50, 0.97), (100, 0.975), (101, 0.96), (500, top)]])
    claims = analysis.seed_fig7_claims(_rising([0.01] * 5), "faithful", 3, published=published).set_index("key")
    # 500 epochs: the first pruning step after epoch 100; gains 1.5 and 0.5 pp, their median 1 pp
    assert claims.loc["fig7_pruning_lifts", "published"] == pytest.approx(1.0)


def _fig6(cells, protocol="faithful"):
    """Fig. 6 rows from {(model, density): accuracies}."""
    return pd.DataFrame([{"protocol": protocol, "model": m, "density": d, "trial": t, "test_accuracy": v}
                         for (m, d), values in cells.items() for t, v in enumerate(values)])


def test_seed_claims_decide_each_claim_with_its_test_and_margin():
    dense = [0.980, 0.984, 0.976, 0.980, 0.985, 0.975, 0.980]  # margin: their SD, 0.37 pp
    high = [0.9900, 0.9905, 0.9895, 0.9900, 0.9905, 0.9895, 0.9900]  # 1 pp above dense, ten times tighter
    fig6 = _fig6({("dense", 1.0): dense, ("ticket", 0.5): high, ("random", 0.5): high,
                  ("ticket", 0.02): high, ("random", 0.02): dense})
    claims = analysis.seed_claims(fig6, "faithful").set_index("key")
    margin = 100 * np.std(dense, ddof=1)
    assert claims.margin.to_numpy() == pytest.approx(margin) and "7 trials" in claims.margin_justification.iloc[0]
    assert claims.loc["pruned_beat_dense", "verdict"] == "holds" and claims.loc["pruned_beat_dense", "checks"] == 2
    assert claims.loc["ticket_beats_random", "verdict"] == "holds"
    assert claims.loc["ticket_beats_random", "effect"] == pytest.approx(1.0)
    assert claims.loc["ticket_beats_random", "p_holm"] == pytest.approx(1 / math.comb(14, 7))  # separated samples
    assert claims.loc["ticket_alike_random_above_10", "verdict"] == "holds"  # identical samples at 50 %
    assert claims.loc["ticket_alike_random_above_10", "test"].startswith("TOST")
    below = claims.loc["pruned_below_dense"]  # the ticket at 2 % lies 1 pp above the dense model, not below
    assert below.verdict == "does not hold" and below.cell == "ticket, 2 %" and below.p_holm_against < 0.05
    assert claims.loc["pruning_leads_high", "verdict"].startswith("not tested")  # no pruning network
    worse = analysis.seed_claims(_fig6({("dense", 1.0): dense, ("ticket", 0.05): dense, ("random", 0.05): high}),
                                 "faithful").set_index("key")
    assert worse.loc["ticket_beats_random", "verdict"] == "does not hold"
    assert worse.loc["ticket_beats_random", "p_holm_against"] < 0.05


def test_seed_claims_published_effects():
    fig6 = _fig6({("dense", 1.0): [0.98, 0.981], ("ticket", 0.1): [0.985, 0.986], ("random", 0.1): [0.984, 0.983]})
    published = pd.DataFrame([("ticket", 0.1, "median", 0.989), ("random", 0.1, "median", 0.9877),
                              ("dense", None, "mean", 0.985875)], columns=["model", "density", "stat", "value"])
    claims = analysis.seed_claims(fig6, "faithful", published=published).set_index("key")
    assert claims.loc["ticket_beats_random", "published"] == pytest.approx(0.13)
    assert claims.loc["pruned_beat_dense", "published"] == pytest.approx(100 * (0.989 - 0.985875))  # or random's
    assert claims.loc["ticket_beats_random", "verdict"] == "undecided at 2 trials"
