"""Every chapter notebook: parameters, quick papermill runs, glued numbers, the strict book build."""
import json
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

    from lth import analysis, figures, plots, seed_protocol
    from lth.store import ResultsStore

    folder, store_root = executed
    values = glued(folder / "our_experiments.ipynb")
    params = papermill.inspect_notebook(ROOT / "notebooks" / "our_experiments.ipynb")
    defaults = {k: eval(v["default"]) for k, v in params.items()}
    runs = seed_protocol.stored_runs(defaults["PROTOCOLS"], defaults["DENSITIES"], range(defaults["TRIALS"]),
                                     defaults["EPOCHS"], subset=defaults["SUBSET"],
                                     store=ResultsStore(store_root / "runs"))
    expected = 2 * defaults["TRIALS"] * (1 + 3 * len(defaults["DENSITIES"]))
    assert values["our_runs"] == len(runs) == expected
    fig6 = figures.seed_fig6(runs)
    tests = analysis.mann_whitney(fig6[fig6.protocol == "faithful"], "ticket", "random", ["density"])
    tests2 = analysis.mann_whitney(fig6[fig6.protocol == "corrected"], "ticket", "random", ["density"])
    assert values["our_significant"] == int((tests.p_value < 0.05).sum() + (tests2.p_value < 0.05).sum())
    assert values["our_trials_min"] == values["our_trials_max"] == defaults["TRIALS"]
    cells = 2 * (1 + 3 * len(defaults["DENSITIES"]))
    assert values["our_cells_total"] == cells
    assert values["our_cells_complete"] == (cells if defaults["TRIALS"] >= 5 else 0)
    pruning_runs = [r for r in runs if r.config["role"] == "pruning"]
    curves = [figures.seed_fig7([r], r.config["density"]).assign(density=r.config["density"]) for r in pruning_runs]
    collapse = analysis.collapses(pd.concat(curves, ignore_index=True))
    assert values["our_pruning_total"] == len(pruning_runs) == len(collapse)
    assert values["our_collapsed"] == int(collapse.collapsed.sum())
    fig7 = figures.seed_fig7(runs)
    first_pruning = plots.pruning_epochs(defaults["EPOCHS"])[0]
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
    assert len(small) == 4 * defaults["SMALL_BATCH_TRIALS"]
    assert values["our_small_batch_trials"] == defaults["SMALL_BATCH_TRIALS"]
    twins = seed_protocol.unpruned_control("faithful", range(defaults["UNPRUNED_TRIALS"]), defaults["EPOCHS"],
                                           subset=defaults["SUBSET"], store=ResultsStore(store_root / "runs"),
                                           run_missing=False)
    assert values["our_twins"] == len(twins) == defaults["UNPRUNED_TRIALS"]
    twin_collapse = analysis.collapses(figures.seed_fig7(twins))
    assert values["our_twins_collapsed"] == int(twin_collapse.collapsed.sum())


def test_frankle_carbin_glued_accuracy_matches_the_store(executed):
    from lth.store import ResultsStore

    folder, store_root = executed
    values = glued(folder / "frankle_carbin.ipynb")
    dense = [r.result["test_accuracy"] for r in ResultsStore(store_root / "runs").runs("lottery")
             if r.config["level"] == 0 and r.config["training"]["optimizer"] == "adam"
             and r.config["training"]["iterations"] == 1500]
    assert dense
    assert float(values["fc_dense_accuracy"].rstrip("%")) / 100 == pytest.approx(sum(dense) / len(dense), abs=6e-5)


def test_every_chapter_glues_its_scale(executed):
    folder, _ = executed
    for name, key in [("background", "bg_scale"), ("frankle_carbin", "fc_scale"), ("liu_comparison", "liu_scale"),
                      ("our_experiments", "our_scale"), ("supermasks", "sm_scale"), ("benchmark", "bench_host")]:
        assert key in glued(folder / f"{name}.ipynb"), f"{name} glues no {key}"


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
