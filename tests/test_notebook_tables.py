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


def test_an_empty_table_is_a_sentence_naming_its_caption(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda table: shown.append(table))
    empty = pd.DataFrame(columns=["method", "test accuracy"])
    show_table(empty, caption="Conv-2 on Fashion-MNIST: mean ± std over trials.", percent=["test accuracy"])
    assert repr(shown[0]).startswith("Conv-2 on Fashion-MNIST: mean ± std over trials: nothing stored yet")
    assert "<th>" not in shown[0]._repr_html_() and "training status" in shown[0]._repr_html_()
    with pytest.raises(ValueError, match=r"percent columns \['acc'\]"):  # still checked on an empty table
        show_table(empty, percent=["acc"])


def test_an_empty_panel_says_nothing_is_stored():
    import matplotlib

    matplotlib.use("Agg")
    from lth import plots

    empty = pd.DataFrame(columns=["method", "round", "density", "trial", "test_accuracy", "network", "lr", "schedule"])
    for ax in (plots.fc_against_density(empty, "test_accuracy", "test accuracy", "Conv-2"),
               plots.liu_unstructured(empty, "vgg16", "iterative", 0.1)):
        assert any("no runs stored yet" in t.get_text() for t in ax.texts)
        assert ax.get_legend() is None


def test_an_empty_supermask_figure_shows_every_weight_treatment_saying_so():
    import matplotlib

    matplotlib.use("Agg")
    from lth import plots

    empty = pd.DataFrame(columns=["criterion", "weights", "density", "trial", "test_accuracy"])
    axes = plots.supermask_panels(empty, "Conv-4")
    assert [ax.get_title() for ax in axes] == list(plots.SUPERMASK_WEIGHT_LABELS.values())
    assert all(any("no runs stored yet" in t.get_text() for t in ax.texts) for ax in axes)


def test_the_compression_axis_is_labelled_before_a_sweep_reaches_2x():
    import matplotlib

    matplotlib.use("Agg")
    from lth import plots

    frame = pd.DataFrame({"method": ["ticket"] * 4, "round": [0, 0, 1, 1], "density": [1.0, 1.0, 0.8, 0.8],
                          "trial": [0, 1, 0, 1], "test_accuracy": [0.98, 0.981, 0.982, 0.979],
                          "compression": [1.0, 1.0, 1.25, 1.25], "flops": [1.0, 1.0, 0.8, 0.8]})
    ax = plots.fc_against_density(frame, "test_accuracy", "test accuracy", "first rounds")
    ax.figure.canvas.draw()
    top = next(child for child in ax.child_axes)
    labels = {t.get_text() for t in top.get_xticklabels() if t.get_visible()}
    assert "1.25x" in labels  # 80 % of the weights: 1.25x


def test_row_numbers_are_hidden_and_a_named_index_is_kept(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda table: shown.append(table))
    show_table(pd.DataFrame({"model": ["ticket", "random"], "accuracy": [0.98, 0.97]}))
    assert "<th>0</th>" not in shown[0]._repr_html_() and not repr(shown[0]).splitlines()[1].startswith("0")
    show_table(pd.DataFrame({"accuracy": [0.98]}, index=pd.Index(["ticket"], name="model")))
    assert "<th>ticket</th>" in shown[1]._repr_html_()
