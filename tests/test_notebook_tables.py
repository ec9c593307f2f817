"""lth.notebook.format_table / show_table: tables as a reader should see them."""
import pandas as pd
import pytest

from lth.notebook import format_table, show_table


def test_missing_values_percentages_and_precision():
    frame = pd.DataFrame({"trials": [5, None], "accuracy": [0.981234, float("nan")], "p_value": [1.2345e-5, 0.04321],
                          "steps": [50_000, 7]}).astype({"trials": "Int64"})
    text = format_table(frame, percent=["accuracy"])
    assert text.trials.tolist() == ["5", "–"]  # not <NA>
    assert text.accuracy.tolist() == ["98.12%", "–"]  # not NaN
    assert text.p_value.tolist() == ["1.234e-05", "0.04321"]
    assert text.steps.tolist() == ["50,000", "7"]


def test_unknown_percent_column_is_named():
    with pytest.raises(ValueError, match=r"percent columns \['acc'\] are not in the table"):
        format_table(pd.DataFrame({"accuracy": [0.5]}), percent=["acc"])


def test_show_table_has_a_caption_and_escapes_cells(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda table: shown.append(table))
    show_table(pd.DataFrame({"claim": ["p < 0.05 & more"]}), caption="Claims & verdicts")
    html = shown[0]._repr_html_()
    assert "<caption>Claims &amp; verdicts</caption>" in html
    assert "<td>p &lt; 0.05 &amp; more</td>" in html
    assert repr(shown[0]).splitlines()[0] == "Claims & verdicts"
