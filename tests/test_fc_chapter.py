"""The Frankle & Carbin chapter: its glued numbers against the store, at quick parameters and, on an empty store,
at the published parameters (the book before the sweeps have run: it must still build and say what is missing)."""
import ast
import os

import papermill
import pytest
import yaml
from test_notebooks import glued

from lth import figures, paths, stats
from lth import frankle_carbin as fc
from lth.store import ResultsStore

NOTEBOOK = paths.REPO_ROOT / "notebooks" / "frankle_carbin.ipynb"


def _execute(tmp_path, parameters=None):
    results = tmp_path / "results"
    previous = os.environ.get("LTH_RESULTS_DIR")
    os.environ["LTH_RESULTS_DIR"] = str(results)  # the kernel inherits it
    try:
        papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"), parameters=parameters or {},
                                   cwd=str(NOTEBOOK.parent), progress_bar=False, kernel_name="python3")
    finally:
        if previous is None:
            os.environ.pop("LTH_RESULTS_DIR")
        else:
            os.environ["LTH_RESULTS_DIR"] = previous
    return glued(tmp_path / "out.ipynb"), ResultsStore(results / "runs")


def _defaults() -> dict:
    return {k: eval(v["default"]) for k, v in papermill.inspect_notebook(NOTEBOOK).items()}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    return _execute(tmp_path_factory.mktemp("fc-quick"))


def _text(value):
    """A glued string: ``glued`` parses most, but one holding an apostrophe comes back as its repr."""
    return ast.literal_eval(value) if isinstance(value, str) and value[:1] in "'\"" and value[-1:] == value[:1] else value


def test_quick_chapter_glues_the_stored_numbers(quick):
    """Every number the chapter glues, recomputed from the store with lth.frankle_carbin."""
    values, store = quick
    values = {k: _text(v) for k, v in values.items()}
    p = _defaults()
    lenet = fc.sweep("lenet300", iterations=p["LENET_ITERATIONS"], levels=p["LENET_LEVELS"], trials=p["LENET_TRIALS"],
                     random_mask_trials=p["LENET_RANDOM_MASK_TRIALS"], subset=p["LENET_SUBSET"])
    runs = [run for _, run in lenet.stored(store)]
    assert len(runs) == len(lenet.planned())
    assert values["fc_scale"] == lenet.describe()
    assert values["fc_coverage"] == fc.coverage(lenet, runs) == f"{len(runs)} of {len(runs)} runs stored"
    assert values["fc_lenet_flops"] == f"{fc.network_weights(lenet)[2]:,}"
    frame = figures.fc_frame(runs)
    mean, std, n = fc.unpruned(frame, "test_accuracy_at_early_stop")
    assert n == p["LENET_TRIALS"]
    assert values["fc_dense_accuracy"] == f"{mean:.2%}"
    assert values["fc_dense_std"] == (f"{std * 100:.2f} pp over {n} trials" if n > 1 else f"{n} trial, no spread to give")
    claims = fc.lenet_claims(frame)
    assert (values["fc_claims_total"], values["fc_claims_held"]) == (len(claims), int((claims.verdict == "holds").sum()))
    for row in claims.to_dict("records"):
        assert values[f"fc_claim_{row['key']}"] == stats.quote(row), row["key"]
    conv_sweeps = [fc.sweep(n, width=p["CONV_WIDTH"], iterations=p["CONV_ITERATIONS"][n], levels=p["CONV_LEVELS"][n],
                            trials=p["CONV_TRIALS"], subset=p["CONV_SUBSET"]) for n in p["CONV_NETWORKS"]]
    conv_runs = {sw.network: [run for _, run in sw.stored(store)] for sw in conv_sweeps}
    assert [len(conv_runs[sw.network]) for sw in conv_sweeps] == [len(sw.planned()) for sw in conv_sweeps]
    assert values["fc_conv_scale"] == "; ".join(
        f"{sw.describe()}, {fc.network_weights(sw)[2] / 1e6:.3g} M multiply-adds per image unpruned "
        f"({fc.coverage(sw, conv_runs[sw.network])})" for sw in conv_sweeps)
    assert "Fashion-MNIST (the stand-in for CIFAR-10)" in values["fc_conv_scale"]
    conv_claims = fc.conv_claims(figures.fc_frame([r for found in conv_runs.values() for r in found], sweep_columns=True))
    assert values["fc_conv_claims_total"] == len(conv_claims) == 3 * len(p["CONV_NETWORKS"])
    assert values["fc_conv_claims_held"] == int((conv_claims.verdict == "holds").sum())
    vgg = fc.sweep("vgg", width=p["VGG_WIDTH"], iterations=p["VGG_ITERATIONS"], levels=p["VGG_LEVELS"],
                   trials=p["VGG_TRIALS"], subset=p["VGG_SUBSET"], settings=p["VGG_SETTINGS"])
    vgg_runs = [run for _, run in vgg.stored(store)]
    assert len(vgg_runs) == len(vgg.planned())
    assert values["fc_vgg_scale"] == (f"{vgg.describe()}, {fc.network_weights(vgg)[2] / 1e6:.3g} M multiply-adds per "
                                      f"image unpruned; {fc.coverage(vgg, vgg_runs)}")
    vgg_claims = fc.vgg_claims(figures.fc_frame(vgg_runs, sweep_columns=True))
    assert (values["fc_vgg_claims_total"], values["fc_vgg_claims_held"]) == (
        len(vgg_claims), int((vgg_claims.verdict == "holds").sum()))


def test_published_parameters_on_an_empty_store_build_and_say_what_is_missing(tmp_path):
    params = yaml.safe_load((paths.REPO_ROOT / "book" / "params" / "frankle_carbin.yaml").read_text())
    values, store = _execute(tmp_path, params)
    assert not list(store.root.glob("lottery/*"))  # RUN_MISSING false: nothing trained
    assert values["fc_coverage"].startswith(f"0 of {len(fc.sweep('lenet300').planned())} runs stored")
    assert "0 of 111 runs stored" in values["fc_conv_scale"]  # Conv-2: 3 trials x (1 + 2 x 18 rounds)
    assert values["fc_claims_held"] == 0
    assert values["fc_claim_early_stop_21"].startswith("not tested")
