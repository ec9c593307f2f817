"""The seed chapter's tables with the published Fig. 6 / 7 numbers beside ours (lth.seed.report), on small frames."""
import math

import pandas as pd
import pytest

from lth.seed import report


@pytest.fixture
def published6():
    rows = [("pruning", 0.5, "median", 0.989), ("pruning", 0.5, "q1", 0.988), ("pruning", 0.5, "q3", 0.990),
            ("ticket", 0.5, "median", 0.987), ("ticket", 0.33, "median", 0.986), ("random", 0.33, "median", 0.985),
            ("ticket", 0.33, "outlier", 0.95), ("dense", float("nan"), "mean", 0.9858),
            ("dense", float("nan"), "sd", 0.0018)]
    return pd.DataFrame(rows, columns=["model", "density", "stat", "value"])


@pytest.fixture
def fig6():
    rows = [("faithful", "dense", 1.0, t, a) for t, a in enumerate([0.974, 0.976, 0.978])]
    rows += [("faithful", "pruning", 0.5, t, a) for t, a in enumerate([0.97, 0.98, 0.99])]
    rows += [("faithful", "ticket", 0.33, t, a) for t, a in enumerate([0.976, 0.978])]
    rows += [("faithful", "random", 0.33, t, a) for t, a in enumerate([0.974, 0.975])]
    rows += [("faithful", "random", 0.01, 0, 0.95)]  # the paper has no such box here: a dash, not a failure
    rows += [("corrected", "dense", 1.0, 0, 0.99), ("corrected", "pruning", 0.5, 0, 0.9)]
    return pd.DataFrame(rows, columns=["protocol", "model", "density", "trial", "test_accuracy"])


def test_median_table_sets_the_published_median_and_quartiles_beside_ours(fig6, published6):
    table = report.median_table(fig6, published6, protocols=["faithful", "corrected"])
    assert list(table.protocol) == ["faithful"] * 5 + ["corrected"] * 2
    assert list(table.model[:5]) == ["dense", "pruning", "ticket", "random", "random"]
    row = table[(table.protocol == "faithful") & (table.model == "pruning")].iloc[0]
    assert (row.n, row.ours, row["published median"]) == (3, 0.98, 0.989)
    assert row[report.DIFFERENCE] == pytest.approx(100 * (0.98 - 0.989))
    assert (row.q25, row.q75) == (pytest.approx(0.975), pytest.approx(0.985))
    assert (row["published q25"], row["published q75"]) == (0.988, 0.990)
    ticket = table[(table.model == "ticket")].iloc[0]  # 0.33 from a config and from the CSV join
    assert ticket["published median"] == 0.986 and math.isnan(ticket["published q25"])
    for model, density in [("dense", 1.0), ("random", 0.01)]:
        row = table[(table.protocol == "faithful") & (table.model == model) & (table.density == density)].iloc[0]
        assert math.isnan(row["published median"]) and math.isnan(row[report.DIFFERENCE])
    assert report.median_table(fig6.iloc[:0], published6).empty


def test_dense_table_sets_the_published_mean_and_sd_beside_ours(fig6, published6):
    table = report.dense_table(fig6, published6, protocols=["faithful", "corrected", "faithful-lr0.001"])
    assert list(table.protocol) == ["faithful", "corrected"]  # no dense run of the third protocol: no row
    faithful = table.iloc[0]
    assert (faithful.n, faithful["ours: mean"], faithful["published mean"]) == (3, pytest.approx(0.976), 0.9858)
    assert faithful["ours: sd"] == pytest.approx(0.002)
    assert faithful[report.DIFFERENCE] == pytest.approx(100 * (0.976 - 0.9858))
    assert math.isnan(table.iloc[1]["ours: sd"])  # one trial has no sample sd


def test_published_effect_is_the_published_ticket_median_minus_the_random_one(published6):
    tests = pd.DataFrame({"density": [0.33, 0.5], "effect_pp": [0.25, 0.1], "ci_low_pp": [0.0, -0.1]})
    out = report.with_published_effect(tests, published6)
    assert list(out.columns) == ["density", "effect_pp", "published_effect_pp", "ci_low_pp"]
    assert out.published_effect_pp[0] == pytest.approx(100 * (0.986 - 0.985))
    assert math.isnan(out.published_effect_pp[1])  # no published random box at 50 % in this frame
    assert "published_effect_pp" in report.with_published_effect(pd.DataFrame(), published6)


def test_published_column_matches_an_index_level_and_a_fixed_density(published6):
    batch = pd.DataFrame({32: [0.95, 0.96], 600: [0.97, 0.975]},
                         index=pd.MultiIndex.from_tuples([("pruning", 0), ("ticket", 0)], names=["model", "trial"]))
    out = report.published_column(batch, published6, density=0.5, name="published median (50 %)")
    assert list(out["published median (50 %)"]) == [0.989, 0.987]


def test_published_fig7_summary_per_panel():
    published7 = pd.DataFrame({"panel": ["a", "a", "a", "b", "b", "a"], "model": ["pruning"] * 5 + ["ticket"],
                               "epoch": [5, 6, 7, 5, 6, 5], "test_accuracy": [0.97, 0.99, 0.98, 0.96, 0.965, 0.5]})
    summary = report.published_fig7_summary(published7)
    assert summary.loc["published Fig. 7a"].tolist() == [0.99, 0.98, 7]
    assert summary.loc["published Fig. 7b"].tolist() == [0.965, 0.965, 6]


def test_runs_stored_counts_each_protocols_cells_and_says_which_are_empty():
    from types import SimpleNamespace

    runs = [SimpleNamespace(config={"protocol": "faithful", "role": role, "density": density, "trial": 0})
            for role, density in [("dense", None), ("pruning", 0.5), ("ticket", 0.5), ("random", 0.5)]]
    # per trial: the dense model and, at each density, the pruning network, ticket, random re-initialisation and
    # random-mask baseline
    counts = report.runs_stored(runs, ["faithful", "faithful-lr0.001"], [0.5, 0.1], range(2))
    assert counts.to_dict("records") == [{"protocol": "faithful", "stored": 4, "expected": 18, "trials": 2},
                                         {"protocol": "faithful-lr0.001", "stored": 0, "expected": 18, "trials": 2}]
    sentence = report.stored_sentence(counts)
    assert sentence.startswith("faithful: 4 of the 18 runs that 2 trials per cell ask for; faithful-lr0.001: 0 of "
                               "the 18 runs that 2 trials per cell ask for.")
    assert "No run of faithful-lr0.001 is stored yet" in sentence
    assert "No run" not in report.stored_sentence(counts.iloc[:1])


def test_panels_text_names_each_stacked_panel():
    assert report.panels_text(["faithful", "corrected"]) == "faithful (top) and corrected (bottom)"
    assert report.panels_text(["faithful", "corrected", "faithful-lr0.001"]) == (
        "faithful (top), corrected (middle) and faithful-lr0.001 (bottom)")
    assert report.panels_text(["corrected"]) == "corrected"


def test_claims_sentence_counts_verdicts_or_says_none_is_tested():
    claims = pd.DataFrame({"protocol": ["faithful", "faithful-lr0.001", "x", "x", "x"],
                           "verdict": ["holds", "not tested (no such densities in this run)", "holds",
                                       "does not hold", "undecided at 3 trials"]})
    counts = pd.DataFrame({"protocol": ["faithful", "faithful-lr0.001", "x"], "stored": [10, 0, 3],
                           "expected": [20, 220, 20]})
    assert report.claims_sentence(claims, counts, skip=("faithful",)) == (
        "Under faithful-lr0.001 no claim is tested yet (0 of 220 runs stored). "
        "Under x (3 of 20 runs stored) 1 hold, 1 do not hold and 1 are undecided.")
    assert report.claims_sentence(claims, counts.iloc[:1], skip=("faithful",)) == ""


def test_operating_points_give_size_cost_and_accuracy_beside_the_dense_model():
    fig6 = pd.DataFrame([{"protocol": "corrected", "model": m, "density": d, "trial": t, "test_accuracy": a + t / 1000}
                         for m, d, a in [("dense", 1.0, 0.98), ("ticket", 0.1, 0.985), ("random_mask", 0.1, 0.97)]
                         for t in range(3)])
    table = report.operating_points(fig6, "corrected", [0.5, 0.1]).set_index("model")
    assert list(table.index) == ["dense", "ticket", "random_mask"]  # no row for a cell with no run
    assert table.loc["ticket", "weights remaining"] == pytest.approx(0.1, abs=1e-3)
    assert table.loc["ticket", "compression (prunable)"] == "10.0x"
    assert table.loc["ticket", "test accuracy"] == "98.60% ± 0.10%"
    assert table.loc["random_mask", "change from dense"] == "-1.00 pp (dense 98.10%)"
    sizes = report.footprints([0.5, 0.1]).set_index("density")
    # only fc1 and fc2 are pruned: the convolutions' multiply-adds stay, so the speed-up stays small
    assert sizes.loc[1.0, "FLOPs (multiply-adds)"] > sizes.loc[0.1, "FLOPs (multiply-adds)"] > 0.8 * sizes.loc[
        1.0, "FLOPs (multiply-adds)"]
    assert table.loc["dense", "FLOPs (multiply-adds)"] == sizes.loc[1.0, "FLOPs (multiply-adds)"]


def test_the_baseline_sentence_counts_cells_by_the_written_rule():
    tests = pd.DataFrame({"protocol": ["corrected"] * 3, "density": [0.5, 0.1, 0.01], "n": [5, 5, 3],
                          "effect_pp": [0.1, 0.8, -0.5], "p_holm": [0.6, 0.01, 0.04]})
    assert report.baseline_sentence(tests) == (
        "of 3 (protocol, density) cells tested, the ticket is ahead of the random mask in 1 (corrected 10%), "
        "behind it in 1 (corrected 1%), and the rest are not resolved at these trial counts (smallest n: 3)")
    assert report.baseline_sentence(pd.DataFrame()) == "no random-mask run is stored yet, so no cell is tested"
