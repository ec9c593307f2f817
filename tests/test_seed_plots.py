"""The seed chapter's figures: our curves and the published ones behind them share each model's colour."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import pandas as pd  # noqa: E402

from lth import plots  # noqa: E402


def test_fig7_draws_each_model_in_the_colour_of_its_published_curve():
    ours = pd.DataFrame([{"protocol": "faithful", "model": m, "trial": 0, "epoch": e, "val_accuracy": 0.9 + e / 100}
                         for m in ("dense", "pruning", "ticket", "random") for e in (1, 2, 3)])
    published = pd.DataFrame([{"panel": "a", "model": m, "epoch": e, "test_accuracy": 0.98}
                              for m in ("pruning", "ticket", "random") for e in (1, 2, 3)])
    ax = plots.seed_fig7(ours, "faithful", trial=0, published=published)
    colour = {line.get_label(): mcolors.to_hex(line.get_color()) for line in ax.get_lines()}
    for model in ("pruning", "ticket", "random"):
        label = plots.MODEL_LABELS[model]
        assert colour[label] == colour[f"published: {label}"] == mcolors.to_hex(plots.MODEL_COLORS[label])
    retrained = {colour[plots.MODEL_LABELS[m]] for m in ("pruning", "ticket", "random")}
    assert colour[plots.MODEL_LABELS["dense"]] not in retrained
    # accuracies are stored as fractions and read in per cent, as the chapter's tables print them
    ax.figure.canvas.draw()
    assert ax.get_ylabel() == "validation accuracy (%)"
    assert all(t.get_text().endswith("%") for t in ax.get_yticklabels() if t.get_text())


def test_fig6_draws_a_protocol_that_has_only_its_dense_model_stored():
    # a new protocol's sweep stores its dense models first: the panel shows their band and the published
    # dense mean, and no box or published median yet (this divided by zero models before)
    ours = pd.DataFrame([{"protocol": "faithful-lr0.001", "model": "dense", "density": 1.0, "trial": t,
                          "test_accuracy": 0.983 + t / 1000} for t in (0, 1)])
    published = pd.DataFrame([{"model": "ticket", "density": 0.5, "stat": "median", "value": 0.989},
                              {"model": "dense", "density": 1.0, "stat": "mean", "value": 0.986}])
    ax = plots.seed_fig6(ours, "faithful-lr0.001", published=published)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "dense original, mean ± std (n=2)" in labels and "published dense mean" in labels
    assert "published median (Havinga & Sawhney)" not in labels
