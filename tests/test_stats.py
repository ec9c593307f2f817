"""lth.stats on synthetic samples whose truth is known: differences found, likeness shown within a
margin, small samples left undecided with a power estimate, Holm and the exact tests by hand."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from lth import stats

MARGIN = stats.Margin(0.3, "test margin: 0.3 pp")


def _normal(mean, sd, n, seed):
    return np.random.default_rng(seed).normal(mean, sd, n)


def _row(direction, a, b, margin=MARGIN, **kwargs):
    """The claims-table row of one cell; ``b=None``: ``a`` holds paired differences."""
    claim = stats.Claim("k", "a claim", direction, margin, **kwargs, **({"b": None} if b is None else {}))
    return stats.claim_row(claim, stats.cells_frame([("cell", a, b)]))


def test_a_clear_difference_is_called_a_difference():
    a, b = _normal(0.99, 0.002, 10, 1), _normal(0.97, 0.002, 10, 2)  # 2 pp apart, 0.2 pp spread
    beats = _row("greater", a, b)
    assert beats["verdict"] == "holds" and beats["passed"] == beats["checks"] == 1
    assert beats["effect"] == pytest.approx(100 * (np.median(a) - np.median(b)))
    assert 1.5 < beats["ci_low"] < beats["effect"] < beats["ci_high"] < 2.5
    assert beats["p_holm"] == pytest.approx(1 / math.comb(20, 10))  # fully separated: the exact minimum
    assert math.isnan(beats["trials_needed"])
    assert _row("less", a, b)["verdict"] == "does not hold"  # the same data refute "A falls below B"
    assert _row("alike", a, b)["verdict"] == "does not hold"  # and "alike within 0.3 pp"


def test_equal_distributions_are_called_alike_at_a_margin_from_the_dense_spread():
    dense = _normal(0.98, 0.001, 10, 3)
    margin = stats.sd_margin(dense, "a synthetic dense model")
    assert margin.value == pytest.approx(100 * np.std(dense, ddof=1))
    a, b = _normal(0.98, 0.001, 40, 4), _normal(0.98, 0.001, 40, 5)
    alike = _row("alike", a, b, margin)
    assert alike["verdict"] == "holds"
    assert -margin.value < alike["ci_low"] < alike["ci_high"] < margin.value
    assert alike["p_holm"] < 0.05 and alike["test"].startswith("TOST")
    # Equal groups refute "A beats B": no gain as large as the margin.
    assert _row("greater", a, b, margin)["verdict"] == "does not hold"


def test_a_small_sample_is_undecided_with_a_power_estimate_above_its_size():
    a, b = _normal(0.982, 0.003, 3, 6), _normal(0.980, 0.003, 3, 7)  # 0.2 pp apart, 0.3 pp spread
    row = _row("greater", a, b)
    assert row["verdict"] == "undecided at 3 trials" and row["undecided"] == 1
    assert row["ci_low"] < 0 < MARGIN.value < row["ci_high"]  # the interval spans zero and the margin
    assert row["trials_needed"] > 3
    alike = _row("alike", a, b)
    assert alike["verdict"] == "undecided at 3 trials" and alike["trials_needed"] > 3
    assert "about" in stats.quote(row) and "trials per group would decide it" in stats.quote(row)


def test_trials_needed_is_never_at_or_below_the_trials_that_left_a_cell_undecided(monkeypatch):
    a, b = _normal(0.982, 0.003, 3, 6), _normal(0.980, 0.003, 3, 7)
    monkeypatch.setattr(stats, "trials_needed", lambda *args, **kwargs: 2.0)  # an estimate below the 3 stored
    row = _row("greater", a, b)
    assert row["verdict"] == "undecided at 3 trials" and row["trials_needed"] == 4


def test_holm_matches_a_hand_computation():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; kept monotone: 0.06 for the last
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert stats.holm([0.02]) == pytest.approx([0.02])


def test_holm_runs_across_the_cells_of_one_claim():
    rng = np.random.default_rng(8)
    cells = [(f"c{i}", rng.normal(0.98 + 0.001 * i, 0.002, 6), rng.normal(0.98, 0.002, 6)) for i in range(4)]
    table = stats.decide_cells(stats.Claim("k", "t", "greater", MARGIN), stats.cells_frame(cells))
    assert list(table.cell) == ["c0", "c1", "c2", "c3"]
    assert table.p_holm.to_numpy() == pytest.approx(stats.holm(table.p))
    assert table.p_holm_against.to_numpy() == pytest.approx(stats.holm(table.p_against))
    assert (table.p_holm >= table.p).all()


def test_bootstrap_and_claims_table_are_reproducible_from_a_seed():
    a, b = _normal(0.98, 0.003, 7, 9), _normal(0.979, 0.003, 7, 10)
    first = stats.bootstrap_interval(a, b, seed=3)
    assert stats.bootstrap_interval(a, b, seed=3) == first
    # Medians of 7 resampled values take few values, so another seed can give the same interval; means cannot.
    assert stats.bootstrap_interval(a, b, "mean", seed=4) != stats.bootstrap_interval(a, b, "mean", seed=3)
    claims = [(stats.Claim("k", "t", d, MARGIN, statistic="mean"), stats.cells_frame([("x", a, b), ("y", b, a)]))
              for d in ("greater", "alike")]
    pd.testing.assert_frame_equal(stats.claims_table(claims, seed=5), stats.claims_table(claims, seed=5))
    assert not stats.claims_table(claims, seed=5).ci_low.equals(stats.claims_table(claims, seed=6).ci_low)


def test_the_exact_rank_tests_agree_with_scipy_ties_included():
    rng = np.random.default_rng(11)
    for _ in range(8):
        a, b = rng.integers(0, 4, 5) / 100, rng.integers(0, 4, 6) / 100  # many ties
        if len(set(np.concatenate([a, b]))) == 1:
            continue
        for alternative in ("greater", "less", "two-sided"):
            expected = scipy_stats.mannwhitneyu(a, b, alternative=alternative,
                                                method=scipy_stats.PermutationMethod(n_resamples=np.inf)).pvalue
            assert stats.rank_sum_p(a, b, alternative) == pytest.approx(expected)
        d = rng.integers(-2, 4, 7) / 100
        if d.any():
            expected = scipy_stats.wilcoxon(d, alternative="greater", zero_method="pratt",
                                            method=scipy_stats.PermutationMethod(n_resamples=np.inf)).pvalue
            assert stats.signed_rank_p(d, "greater") == pytest.approx(expected)
    assert stats.rank_sum_p([5, 6, 7, 8, 9], [0, 1, 2, 3, 4]) == pytest.approx(1 / 252)
    assert stats.rank_sum_p([1, 2], [1, 2], shift=-10) == pytest.approx(1 / 6)  # a + 10 lies above b
    assert stats.signed_rank_p([1, 2, 3, 4, 5]) == pytest.approx(1 / 32)


def test_trials_needed_by_the_normal_approximation():
    # n = 2 (z_0.95 + z_0.8)^2 sd^2 / distance^2 / (3 / pi) = 2 * 2.4865^2 / 0.9549 = 12.95
    assert stats.trials_needed(1.0, 1.0, 0.05) == 13
    assert stats.trials_needed(1.0, 1.0, 0.05, paired=True) == 7  # one group: half, 6.47
    assert stats.trials_needed(0.0, 1.0, 0.05) == 4  # no spread: the exact test's floor, 1/C(8, 4) < 0.05
    assert stats.trials_needed(0.0, 1.0, 0.05, paired=True) == 5  # 1/2^5 < 0.05
    assert stats.trials_needed(1.0, 0.0) == math.inf and math.isnan(stats.trials_needed(math.nan, 1.0))


def test_the_power_estimate_gives_about_the_stated_power():
    rng = np.random.default_rng(12)
    n = int(stats.trials_needed(1.0, 1.0, 0.05))
    rejected = [stats.rank_sum_p(rng.normal(1.0, 1.0, n), rng.normal(0.0, 1.0, n)) < 0.05 for _ in range(400)]
    assert 0.7 < np.mean(rejected) < 0.9  # 80 % power asked for


def test_paired_gains_use_the_signed_rank_test():
    rising = np.array([0.004, 0.006, 0.005, 0.007, 0.003, 0.006, 0.005])
    row = _row("greater", rising, None)
    assert row["verdict"] == "holds" and row["p_holm"] == pytest.approx(1 / 128)
    assert "Wilcoxon" in row["test"] and row["effect"] == pytest.approx(0.5)
    assert _row("greater", -rising, None)["verdict"] == "does not hold"


def test_without_a_margin_nothing_is_alike_and_the_reason_is_given():
    margin = stats.sd_margin([0.98], "one dense trial")
    assert math.isnan(margin.value) and "needs 2 trials, 1 stored" in margin.justification
    a, b = _normal(0.98, 0.001, 30, 13), _normal(0.98, 0.001, 30, 14)
    assert _row("alike", a, b, margin)["verdict"] == "undecided at 30 trials"
    assert _row("greater", a + 0.01, b, margin)["verdict"] == "holds"  # a difference needs no margin


def test_claims_without_cells_are_not_tested_and_bad_specs_are_named():
    empty = stats.claim_row(stats.Claim("k", "t", "greater", MARGIN), stats.cells_frame([]), missing="no data")
    assert empty["verdict"] == "not tested (no data)" and empty["checks"] == 0
    with pytest.raises(ValueError, match="direction must be one of .* got 'beats'"):
        stats.Claim("k", "t", "beats", MARGIN)
    with pytest.raises(ValueError, match="statistic must be one of .* got 'mode'"):
        stats.Claim("k", "t", "greater", MARGIN, statistic="mode")


def test_quote_states_verdict_effect_interval_and_corrected_p():
    a, b = _normal(0.99, 0.002, 10, 1), _normal(0.97, 0.002, 10, 2)
    row = _row("greater", a, b, published={"cell": 1.5})
    text = stats.quote(row)
    assert text.startswith(f"holds: effect +{row['effect']:.2f} pp, 95 % CI [+{row['ci_low']:.2f}, ")
    assert f"Holm-corrected p = {row['p_holm']:.3g}" in text and "published +1.50 pp" in text


def test_claims_for_reading_names_units_and_formats_the_interval():
    a, b = _normal(0.982, 0.003, 3, 6), _normal(0.980, 0.003, 3, 7)
    table = stats.claims_table([(stats.Claim("k", "t", "greater", MARGIN), stats.cells_frame([("c", a, b)]))])
    shown = stats.claims_for_reading(table).iloc[0]
    assert shown["95 % CI (pp)"] == f"[{table.ci_low[0]:+.2f}, {table.ci_high[0]:+.2f}]".replace("-", "−")
    assert shown["trials needed"] == int(table.trials_needed[0]) and shown["cells held / refuted / all"] == "0 / 0 / 1"


def test_claims_for_reading_gives_a_unit_column_when_claims_differ_in_unit():
    a, b = _normal(0.99, 0.002, 5, 8), _normal(0.97, 0.002, 5, 9)
    table = stats.claims_table([(stats.Claim("acc", "t", "greater", MARGIN), stats.cells_frame([("c", a, b)])),
                                (stats.Claim("speed", "t", "less", MARGIN, scale=1.0, unit="%"),
                                 stats.cells_frame([("c", 100 * b, 100 * a)]))])
    shown = stats.claims_for_reading(table)
    assert list(shown.unit) == ["pp", "%"] and list(shown["effect"]) == list(table.effect)
    assert not [c for c in shown.columns if "(pp)" in c or "(%)" in c]
    alone = stats.claims_for_reading(table.iloc[:1])
    assert "unit" not in alone and "effect (pp)" in alone


def test_paired_differences_pair_rows_on_the_keys_and_drop_the_unpaired():
    frame = pd.DataFrame({"method": ["ticket"] * 3 + ["random"] * 3, "lr": [0.1] * 6,
                          "trial": [0, 1, 2, 0, 1, 3], "density": [0.5, 0.5, 0.5, 0.5000000001, 0.5, 0.5],
                          "test_accuracy": [0.90, 0.95, 0.99, 0.80, 0.94, 0.10]})
    d = stats.paired_differences(frame, {"method": "ticket", "lr": 0.1}, {"method": "random", "lr": 0.1},
                                 ["trial", "density"])
    # trial 0 pairs although its densities differ in the tenth decimal; trials 2 and 3 have no partner
    assert sorted(d.index.get_level_values("trial")) == [0, 1]
    assert np.allclose(d.sort_index().to_numpy(), [0.10, 0.01])
    single = stats.paired_differences(frame, {"method": "ticket"}, {"method": "random"}, ["trial"])
    assert list(single.index) == [0, 1] and np.allclose(single.to_numpy(), [0.10, 0.01])
    assert stats.paired_differences(frame, {"method": "ticket"}, {"method": "oneshot"}, ["trial"]).empty


def test_an_alike_claim_without_a_margin_says_so_in_its_test():
    margin = stats.sd_margin([0.98], "one dense run")
    claim = stats.Claim("k", "alike", "alike", margin)
    text = stats.describe_test(claim, 2)
    assert "nan" not in text and "no margin yet" in text and "needs 2 trials, 1 stored" in text


def test_held_sentence_counts_the_claims_that_hold_or_says_none_can_be_checked():
    table = pd.DataFrame({"verdict": ["holds", "undecided at 3 trials", "holds"]})
    assert stats.held_sentence(table, "Conv claims") == "2 of the 3 Conv claims hold here."
    assert stats.held_sentence(table.iloc[:0], "VGG claims").startswith("No VGG claims can be checked yet")
