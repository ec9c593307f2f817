"""The Frankle & Carbin chapter: its glued numbers against the store, at quick parameters and, on an empty store,
at the published parameters (the book before the sweeps have run: it must still build and say what is missing)."""
import os

import papermill
import pytest
import yaml
from test_notebooks import glued

from lth import figures, paths
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


def test_quick_chapter_glues_the_stored_numbers(quick):
    values, store = quick
    p = _defaults()
    lenet = fc.sweep("lenet300", iterations=p["LENET_ITERATIONS"], levels=p["LENET_LEVELS"], trials=p["LENET_TRIALS"],
                     random_mask_trials=p["LENET_RANDOM_MASK_TRIALS"], subset=p["LENET_SUBSET"])
    runs = [run for _, run in lenet.stored(store)]
    assert len(runs) == len(lenet.planned())
    assert values["fc_scale"] == lenet.describe()
    assert values["fc_coverage"] == f"{len(runs)} of {len(runs)} runs stored"
    frame = figures.fc_frame(runs)
    mean, _, n = fc.unpruned(frame, "test_accuracy_at_early_stop")
    assert n == p["LENET_TRIALS"]
    assert float(values["fc_dense_accuracy"].rstrip("%")) / 100 == pytest.approx(mean, abs=6e-5)
    claims = fc.lenet_claims(frame)
    assert (values["fc_claims_total"], values["fc_claims_held"]) == (len(claims), int((claims.verdict == "holds").sum()))
    for row in claims.to_dict("records"):
        assert f"fc_claim_{row['key']}" in values
    conv = [run for n in p["CONV_NETWORKS"] for _, run in fc.sweep(
        n, width=p["CONV_WIDTH"], iterations=p["CONV_ITERATIONS"][n], levels=p["CONV_LEVELS"][n],
        trials=p["CONV_TRIALS"], subset=p["CONV_SUBSET"]).stored(store)]
    conv_claims = fc.conv_claims(figures.fc_frame(conv, sweep_columns=True))
    assert values["fc_conv_claims_total"] == len(conv_claims) == 3 * len(p["CONV_NETWORKS"])
    assert "Fashion-MNIST (the stand-in for CIFAR-10)" in values["fc_conv_scale"]
    assert "multiply-adds per image unpruned" in values["fc_vgg_scale"]


def test_published_parameters_on_an_empty_store_build_and_say_what_is_missing(tmp_path):
    params = yaml.safe_load((paths.REPO_ROOT / "book" / "params" / "frankle_carbin.yaml").read_text())
    values, store = _execute(tmp_path, params)
    assert not list(store.root.glob("lottery/*"))  # RUN_MISSING false: nothing trained
    assert values["fc_coverage"].startswith(f"0 of {len(fc.sweep('lenet300').planned())} runs stored")
    assert "0 of 111 runs stored" in values["fc_conv_scale"]  # Conv-2: 3 trials x (1 + 2 x 18 rounds)
    assert values["fc_claims_held"] == 0
    assert values["fc_claim_early_stop_21"].startswith("not tested")
