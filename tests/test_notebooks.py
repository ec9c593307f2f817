"""Every chapter notebook: parameters, quick papermill runs, glued numbers, the strict book build."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import papermill
import pytest
import yaml

from lth import paths

ROOT = paths.REPO_ROOT
NOTEBOOKS = ["background", "frankle_carbin", "liu_comparison", "our_experiments", "supermasks", "benchmark"]


def glued(notebook_path: Path) -> dict:
    """Values glued with myst_nb.glue (text/plain representations, parsed where possible)."""
    nb = json.loads(Path(notebook_path).read_text())
    out = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            text = output.get("data", {}).get("application/papermill.record/text/plain")
            if name and text is not None:
                try:
                    out[name] = json.loads(text.replace("'", '"'))
                except ValueError:
                    out[name] = text
    return out


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_parameters_cell_and_published_params_agree(name):
    params = papermill.inspect_notebook(ROOT / "notebooks" / f"{name}.ipynb")
    assert params, f"{name} has no cell tagged 'parameters'"
    assert all(key.isupper() for key in params)
    published = yaml.safe_load((ROOT / "book" / "params" / f"{name}.yaml").read_text())
    unknown = set(published) - set(params)
    assert not unknown, f"book/params/{name}.yaml sets parameters the notebook lacks: {unknown}"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """All notebooks run by papermill at their quick defaults against an empty results store."""
    folder = tmp_path_factory.mktemp("executed")
    store = tmp_path_factory.mktemp("results")
    import os

    os.environ["LTH_RESULTS_DIR"] = str(store)
    for name in NOTEBOOKS:
        papermill.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(folder / f"{name}.ipynb"),
                                   cwd=str(ROOT / "notebooks"), progress_bar=False, kernel_name="python3")
    yield folder, store
    os.environ.pop("LTH_RESULTS_DIR", None)


def test_our_experiments_glued_numbers_match_the_store(executed):
    import pandas as pd

    from lth import analysis, figures
    from lth.seed import controls, report, schedule
    from lth.seed import protocol as seed_protocol
    from lth.store import ResultsStore

    folder, store_root = executed
    values = glued(folder / "our_experiments.ipynb")
    defaults = _defaults("our_experiments")
    runs = seed_protocol.stored_runs(defaults["PROTOCOLS"], defaults["DENSITIES"], range(defaults["TRIALS"]),
                                     defaults["EPOCHS"], subset=defaults["SUBSET"],
                                     store=ResultsStore(store_root / "runs"))
    protocols = defaults["PROTOCOLS"]
    assert set(protocols) == set(seed_protocol.PROTOCOLS)  # the quick run exercises every protocol, the new one too
    # per trial the dense model and, per density, the pruning network, ticket, random re-initialisation and
    # random-mask baseline
    expected = len(protocols) * defaults["TRIALS"] * (1 + 4 * len(defaults["DENSITIES"]))
    assert values["our_runs"] == len(runs) == expected
    fig6 = figures.seed_fig6(runs)
    tests = [analysis.mann_whitney(fig6[fig6.protocol == p], "ticket", "random", ["density"]) for p in protocols]
    assert values["our_significant"] == sum(int((t.p_value < 0.05).sum()) for t in tests)
    baseline = pd.concat([analysis.mann_whitney(fig6[fig6.protocol == p], "ticket", "random_mask", ["density"])
                          .assign(protocol=p) for p in protocols], ignore_index=True)
    assert values["our_mask_baseline"] == report.baseline_sentence(baseline)
    assert values["our_max_speedup"] == f"{report.footprints(defaults['DENSITIES'])['speed-up'].max():.2f}x"
    assert values["our_trials_min"] == values["our_trials_max"] == defaults["TRIALS"]
    cells = len(protocols) * (1 + 4 * len(defaults["DENSITIES"]))
    assert values["our_cells_total"] == cells
    assert values["our_cells_complete"] == (cells if defaults["TRIALS"] >= 5 else 0)
    pruning_runs = [r for r in runs if r.config["role"] == "pruning"]
    curves = [figures.seed_fig7([r], r.config["density"]).assign(density=r.config["density"]) for r in pruning_runs]
    collapse = analysis.collapses(pd.concat(curves, ignore_index=True))
    assert values["our_pruning_total"] == len(pruning_runs) == len(collapse)
    assert values["our_collapsed"] == int(collapse.collapsed.sum())
    fig7 = figures.seed_fig7(runs)
    first_pruning = schedule.pruning_epochs(defaults["EPOCHS"])[0]
    for protocol in defaults["PROTOCOLS"]:
        claims = pd.concat([analysis.seed_claims(fig6, protocol),
                            analysis.seed_fig7_claims(fig7, protocol, first_pruning)])
        assert values["claims_total"] == len(claims)
        assert values[f"claims_held_{protocol}"] == int((claims.verdict == "holds").sum())
    from html import escape

    shown = json.loads((folder / "our_experiments.ipynb").read_text())
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for c in shown["cells"] for o in c.get("outputs", []))
    for claim in claims.claim:  # the claims table shows each claim in full, not cut at 50 characters
        assert f"<td>{escape(claim, quote=False)}</td>" in html, claim
    small = seed_protocol.stored_runs(["faithful"], [0.5], range(defaults["SMALL_BATCH_TRIALS"]), defaults["EPOCHS"],
                                      subset=defaults["SUBSET"], store=ResultsStore(store_root / "runs"),
                                      batch_size=32)
    assert len(small) == 5 * defaults["SMALL_BATCH_TRIALS"]  # dense + the four models at 50 %
    assert values["our_small_batch_trials"] == defaults["SMALL_BATCH_TRIALS"]
    twins = controls.unpruned("faithful", range(defaults["UNPRUNED_TRIALS"]), defaults["EPOCHS"],
                              subset=defaults["SUBSET"], store=ResultsStore(store_root / "runs"), run_missing=False)
    assert values["our_twins"] == len(twins) == defaults["UNPRUNED_TRIALS"]
    twin_collapse = analysis.collapses(figures.seed_fig7(twins))
    assert values["our_twins_collapsed"] == int(twin_collapse.collapsed.sum())


def _defaults(name: str) -> dict:
    """The quick defaults of a notebook's parameters cell (what the ``executed`` fixture ran)."""
    return {k: eval(v["default"]) for k, v in papermill.inspect_notebook(ROOT / "notebooks" / f"{name}.ipynb").items()}


def _number(pattern: str, text: str) -> int:
    """The integer (with thousands commas) that ``pattern``'s group matches in ``text``."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in {text!r}"
    return int(match.group(1).replace(",", ""))


def _percent(text: str) -> float:
    return float(text.rstrip("%")) / 100


def test_liu_comparison_glued_numbers_match_the_store(executed):
    import pandas as pd

    from lth import analysis, figures, liu
    from lth.store import ResultsStore

    folder, store_root = executed
    values, p = glued(folder / "liu_comparison.ipynb"), _defaults("liu_comparison")
    sweeps = [liu.sweep(n, dataset=p["DATASET"], width=p["WIDTH"][n], iterations=p["ITERATIONS"][n],
                        eval_every=p["EVAL_EVERY"], levels=p["LEVELS"], control_every=p["CONTROL_EVERY"],
                        trials=p["TRIALS"], subset=p["SUBSET"], structured_fractions=p["STRUCTURED_FRACTIONS"],
                        group_size=p["GROUP_SIZE"]) for n in p["NETWORKS"]]
    runs = {sw.network: sw.stored(ResultsStore(store_root / "runs")) for sw in sweeps}
    assert [len(runs[sw.network]) for sw in sweeps] == [len(sw.planned()) for sw in sweeps]
    assert values["liu_scale"] == " | ".join(sw.describe() for sw in sweeps)
    unstructured = figures.liu_unstructured_frame([run for found in runs.values() for run in found])
    structured = pd.concat([figures.liu_structured_frame(sw, runs[sw.network]) for sw in sweeps])
    claims = analysis.liu_claims(unstructured, structured)
    assert values["liu_claims_total"] == len(claims)
    assert values["liu_claims_held"] == int((claims.verdict == "holds").sum())


def test_background_glued_scales_match_the_store(executed):
    from lth.store import ResultsStore

    from lth import experiments
    from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams

    folder, store_root = executed
    values, defaults = glued(folder / "background.ipynb"), _defaults("background")
    # the chapter's own dense runs, by their descriptions: other chapters store Adam LeNet-300-100 runs of the
    # same length in the shared quick store (the supermasks chapter's dense and retraining runs)
    store = ResultsStore(store_root / "runs")
    train = TrainingHparams(iterations=defaults["PRUNE_ITERATIONS"], eval_every=100, best_monitor="val_loss",
                            eval_test_each=True)
    data_hp = DatasetHparams(name="mnist", subset=defaults["SUBSET"])
    lotteries = [experiments.Lottery(data_hp, ModelHparams("lenet300"), train, PruningHparams(), seed, store)
                 for seed in range(defaults["PRUNE_TRIALS"])]
    dense = [lottery.stored(0, "ticket") for lottery in lotteries]
    assert all(run is not None for run in dense)
    assert _number(r"([\d,]+) iterations", values["bg_scale"]) == defaults["PRUNE_ITERATIONS"]
    assert _number(r"(\d+) trial", values["bg_scale"]) == len(dense) == defaults["PRUNE_TRIALS"]
    widths = [r for r in ResultsStore(store_root / "runs").runs("train") if r.config["model"]["name"] == "mlp"
              and r.config["training"]["iterations"] == defaults["WIDTH_ITERATIONS"]]
    listed = re.search(r"widths ([\d, ]+);", values["bg_width_scale"]).group(1)
    assert [int(w) for w in listed.split(",")] == sorted({r.config["model"]["width"] for r in widths})
    assert _number(r"(\d+) trial", values["bg_width_scale"]) == len(widths) // len(defaults["WIDTHS"])


def test_supermasks_glued_accuracies_match_a_numpy_recomputation(executed):
    """Best large_final_same_sign supermask accuracy over the densities, per weight choice, recomputed in numpy
    from the stored dense runs (initial and trained kernels) and compared with the glued percentages."""
    import numpy as np
    from test_supermasks import LENET300_LAYERS, mlp_accuracy, top_scores_mask

    from lth import experiments, jobs, supermasks
    from lth.store import ResultsStore

    folder, store_root = executed
    values, p = glued(folder / "supermasks.ipynb"), _defaults("supermasks")
    lenet, _ = supermasks.chapter_sweeps(p)
    test = jobs.load_data(lenet.dense.dataset).test
    zeros = {n: np.zeros(n_out, np.float32) for n, n_out in [("fc1", 300), ("fc2", 100), ("output", 10)]}
    accuracy = {"init": np.zeros(len(p["DENSITIES"])), "signed_constant": np.zeros(len(p["DENSITIES"]))}
    for dense in lenet.dense_runs()[:p["TRIALS"]]:
        lottery = experiments.Lottery(dense.dataset, dense.model, dense.training, dense.pruning, dense.seed,
                                      ResultsStore(store_root / "runs"))
        init, final = lottery.dense_weights()
        same_sign = {n: np.where(np.sign(init[n]) == np.sign(final[n]), np.abs(final[n]), -np.inf) for n in init}
        signed = {n: np.where(w > 0, w.std(), -w.std()).astype(np.float32) for n, w in init.items()}
        for i, density in enumerate(p["DENSITIES"]):
            masks = {n: top_scores_mask(same_sign[n], density) for n in LENET300_LAYERS}
            assert all(np.isfinite(same_sign[n][masks[n]]).all() for n in masks), "the cut fell among -inf scores"
            for name, kept in [("init", init), ("signed_constant", signed)]:
                kernels = {n: np.where(masks[n], kept[n], np.float32(0)) for n in LENET300_LAYERS}
                accuracy[name][i] += mlp_accuracy(test.x, test.y, kernels, zeros) / p["TRIALS"]
    tolerance = 0.0005 + 1 / len(test)  # the glue's rounding to 0.1 %, and one image of float32 rounding
    init, const = re.search(r"reaches ([\d.]+%) with its initial weights and ([\d.]+%) with signed constants",
                            values["sm_untrained_sentence"]).groups()
    assert _percent(init) == pytest.approx(accuracy["init"].max(), abs=tolerance)
    assert _percent(const) == pytest.approx(accuracy["signed_constant"].max(), abs=tolerance)
    assert _number(r"(\d+) trials", values["sm_scale"]) == p["TRIALS"]


def test_benchmark_glued_host_matches_the_benchmark_file(executed):
    folder, _ = executed
    values, defaults = glued(folder / "benchmark.ipynb"), _defaults("benchmark")
    host = json.loads((ROOT / "notebooks" / defaults["BENCH_FILE"]).read_text())["host"]
    text = values["bench_host"]
    assert _number(r"^(\d+) cores", text) == host["cores"]
    assert _number(r"matmul (\d+) GFLOP/s", text) == pytest.approx(host["matmul_gflops"], abs=0.5)
    samples = host.get("matmul_gflops_samples", [])
    if len(samples) > 1:
        low, high = re.search(r"(\d+)\u2013(\d+)\)", text).groups()
        assert _number(r"best of (\d+) measurements", text) == len(samples)
        assert (int(low), int(high)) == pytest.approx((min(samples), max(samples)), abs=0.5)
    if host.get("repeats", 1) > 1:
        assert _number(r"fastest of (\d+) interleaved runs", text) == host["repeats"]


def test_the_book_reads_no_virtual_environment():
    """Sphinx reads every .md under the root: a venv's package READMEs would break the strict build."""
    venvs = re.findall(r"^(?:VENV|LEGACY)\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert sorted(venvs) == [".venv", ".venv-legacy"]
    excluded = yaml.safe_load((ROOT / "_config.yml").read_text())["exclude_patterns"]
    assert set(venvs) <= set(excluded)


def test_book_builds_strictly(executed, tmp_path):
    folder, _ = executed
    for item in ["_config.yml", "_toc.yml"]:
        shutil.copy(ROOT / item, tmp_path / item)
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("chapters"))
    shutil.copytree(folder, tmp_path / "book" / "chapters")
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jb), "build", str(tmp_path), "-W", "-n", "--keep-going"],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    html = tmp_path / "_build" / "html"
    for name in NOTEBOOKS:
        page = (html / "book" / "chapters" / f"{name}.html").read_text()
        assert "<img" in page, f"chapter {name} shows no figure"
    assert "Frankle" in (html / "book" / "references.html").read_text()


@pytest.mark.parametrize("parameters, message", [
    ({"TRIALZ": 3}, "unknown notebook parameters ['TRIALZ']"),
    ({"TRIALS": "three"}, "notebook parameter TRIALS must be int, got 'three'"),
])
def test_bad_notebook_parameters_fail_at_the_top(tmp_path, parameters, message):
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(str(ROOT / "notebooks" / "our_experiments.ipynb"), str(tmp_path / "out.ipynb"),
                                   parameters=parameters, cwd=str(ROOT / "notebooks"), progress_bar=False)
    assert message in str(info.value)


def test_show_table_does_not_cut_long_cells(capsys):
    import pandas as pd

    from lth.notebook import show_table

    claim = "A claim whose text runs well past pandas' default of fifty characters per cell"
    show_table(pd.DataFrame({"claim": [claim], "verdict": ["holds"]}))
    assert claim in capsys.readouterr().out
    assert pd.get_option("display.max_colwidth") == 50  # the option is restored
