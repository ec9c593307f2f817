"""The command line end to end: every number it prints is checked against the model or the store it reports on."""
import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from lth import paths
from lth.seed.schedule import STEPS_PER_EPOCH

STORED_RUNS = paths.REPO_ROOT / "results" / "runs"
SEED_ITERATIONS, SEED_BATCH = 500 * STEPS_PER_EPOCH, 600  # what `lth figures` plots: 500 epochs, the authors' batch


def _cli(*args, results):
    env = dict(os.environ, LTH_RESULTS_DIR=str(results))
    return subprocess.run([sys.executable, "-m", "lth", *args], capture_output=True, text=True, timeout=900, env=env)


def _copy_stored_runs(kind, dest, limit=None) -> list:
    """Copy the repository's stored runs of ``kind`` (finished ones only) into ``dest``/``kind``."""
    folders = sorted(p for p in (STORED_RUNS / kind).iterdir() if p.is_dir() and not p.name.startswith("."))
    folders = folders[:limit]
    assert folders, f"the repository stores no {kind} runs"
    for folder in folders:
        shutil.copytree(folder, dest / kind / folder.name)
    return [dest / kind / folder.name for folder in folders]


def test_models_prints_each_model_s_weight_counts(tmp_path):
    from lth import models

    out = _cli("models", results=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert sorted(rows) == sorted(models.MODELS)

    def counts(name):
        return [int(n.replace(",", "")) for n in rows[name].split()[1:3]]

    # LeNet-300-100: 784*300+300, 300*100+100, 100*10+10; every layer pruned.
    assert counts("lenet300") == [266_610, 266_610]
    assert rows["lenet300"].endswith("fc1 235,500, fc2 30,100, output 1,010")
    # The seed's LeNet-5: conv1 5*5*6+6 = 156, conv2 5*5*6*16+16 = 2,416, fc1 400*120+120 = 48,120,
    # fc2 120*84+84 = 10,164, output 84*10+10 = 850; only fc1 and fc2 are pruned.
    assert counts("lenet5") == [61_706, 48_120 + 10_164]
    assert rows["lenet5"].endswith("fc1 48,120, fc2 10,164")
    for name in rows:  # every total agrees with Keras' own count of the built model
        model = models.build(name, seed=0)
        prunable = models.prunable_layers(name, model)
        assert counts(name) == [model.count_params(), sum(model.get_layer(l).count_params() for l in prunable)], name


def test_run_prints_the_stored_runs_numbers(tmp_path):
    from lth.store import ResultsStore

    out = _cli("run", "--model", "lenet300", "--iterations", "5000", "--levels", "1", results=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(l for l in out.stdout.splitlines() if l.startswith("level 1 ticket"))
    density = float(re.search(r"density\s+([\d.]+)%", line).group(1))
    accuracy = float(re.search(r"test accuracy ([\d.]+)", line).group(1))
    iteration = int(re.search(r"\(iteration (\d+)\)", line).group(1))
    run = ResultsStore(tmp_path / "runs").read(re.search(r"stored in (\S+)$", line).group(1))
    assert run.path.parent.parent == tmp_path / "runs"
    # 20 % of each hidden layer's kernel, 10 % of the output layer's (half rate):
    # (188,160 + 24,000 + 900) / (235,200 + 30,000 + 1,000) weights kept.
    assert density == 80.04 == round(100 * run.result["density"], 2)
    assert run.result["layer_density"] == pytest.approx({"fc1": 0.8, "fc2": 0.8, "output": 0.9})
    assert accuracy == round(run.result["test_accuracy"], 4) and accuracy >= 0.97
    assert iteration == run.result["best_iteration"]
    again = _cli("run", "--model", "lenet300", "--iterations", "5000", "--levels", "1", results=tmp_path)
    assert line in again.stdout  # resumed from the store: same numbers, same folder


@pytest.mark.parametrize("damage", ["config edited", "run.json cut short"])
def test_check_results_names_the_one_damaged_run(tmp_path, damage):
    runs = tmp_path / "runs"
    folders = _copy_stored_runs("seed_protocol", runs, limit=3)
    summary = re.compile(r"checked (\d+) stored runs under (\S+): (\d+) problem")
    clean = _cli("check-results", "--root", str(runs), results=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr[-2000:]
    assert summary.search(clean.stdout).groups() == ("3", str(runs), "0")

    damaged = folders[1] / "run.json"
    text = damaged.read_text()
    if damage == "config edited":  # the config no longer hashes to its folder's name
        record = json.loads(text)
        record["config"]["trial"] += 1
        damaged.write_text(json.dumps(record))
    else:
        damaged.write_text(text[: len(text) // 2])
    out = _cli("check-results", "--root", str(runs), results=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr[-2000:]
    problems = [l for l in out.stdout.splitlines() if l.startswith("PROBLEM:")]
    assert len(problems) == 1 and str(folders[1]) in problems[0], problems
    assert not any(str(folder) in problems[0] for folder in (folders[0], folders[2]))
    assert summary.search(out.stdout).groups() == ("3", str(runs), "1")


def test_figures_csvs_hold_the_stored_runs_numbers(tmp_path):
    """The figure CSVs written from a copy of the repository's seed runs, against those runs' own files."""
    folders = _copy_stored_runs("seed_protocol", tmp_path / "runs")
    out = _cli("figures", results=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    records = [json.loads((folder / "run.json").read_text()) for folder in folders]
    plotted = [r for r in records if r["config"]["training"]["iterations"] == SEED_ITERATIONS
               and r["config"]["training"]["batch_size"] == SEED_BATCH and r["config"]["dataset"]["subset"] is None]
    assert plotted, "no stored seed run at 500 epochs and batch 600"

    fig6 = pd.read_csv(tmp_path / "figures" / "seed-fig6.csv")
    assert list(fig6.columns) == ["protocol", "model", "density", "trial", "test_accuracy"]
    expected6 = sorted((r["config"]["protocol"], r["config"]["role"], r["config"]["density"] or 1.0,
                        r["config"]["trial"], r["result"]["test_accuracy"]) for r in plotted)
    assert sorted(fig6.itertuples(index=False, name=None)) == expected6

    fig7 = pd.read_csv(tmp_path / "figures" / "seed-fig7.csv")
    assert list(fig7.columns) == ["protocol", "model", "trial", "epoch", "val_accuracy"]
    expected7 = sorted((r["config"]["protocol"], r["config"]["role"], r["config"]["trial"], step // STEPS_PER_EPOCH, accuracy)
                       for r in plotted if r["config"]["density"] in (None, 0.5)
                       for step, accuracy in zip(r["result"]["history"]["iteration"],
                                                 r["result"]["history"]["val_accuracy"]))
    assert len(fig7) == len(expected7)
    assert sorted(fig7.itertuples(index=False, name=None)) == expected7


def test_seed_screen_decision_waits_for_the_screen_and_names_its_short_cells(tmp_path):
    """The repository's screen runs (trials 0 and part of 1) are not yet the 3 trials per cell the rule needs."""
    from lth.seed import report, screen
    from lth.store import ResultsStore

    _copy_stored_runs(screen.KIND, tmp_path / "runs")
    out = _cli("seed-screen", "--decision", results=tmp_path)
    stored = screen.stored(ResultsStore(tmp_path / "runs"))
    assert stored, "no screen run copied"
    expected = report.sweep_decision(report.screen_table(report.screen_curves(stored)))
    if expected["complete"]:  # the screen has finished since this test was written: the decision is printed
        assert out.returncode == (0 if expected["protocol"] else 4)
        assert out.stdout.splitlines()[-1] == f"protocol: {expected['protocol'] or 'none'}"
        return
    assert out.returncode == 3, out.stderr[-2000:]
    assert out.stdout.splitlines() == [expected["reason"], "protocol: none"]
    assert "the screen is not complete" in expected["reason"] and "of 3)" in expected["reason"]
    empty = _cli("seed-screen", "--decision", results=tmp_path / "nothing")
    assert empty.returncode == 3 and "no cell stored" in empty.stdout
