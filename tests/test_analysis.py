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
