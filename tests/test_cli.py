"""The command line end to end: the foundation issue's acceptance run and the figure CSVs."""
import os
import re
import subprocess
import sys

import pandas as pd


def _cli(*args, results):
    env = dict(os.environ, LTH_RESULTS_DIR=str(results))
    return subprocess.run([sys.executable, "-m", "lth", *args], capture_output=True, text=True, timeout=900, env=env)


def test_run_lenet300_5000_iterations_20_percent_pruned(tmp_path):
    out = _cli("run", "--model", "lenet300", "--iterations", "5000", "--levels", "1", results=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(l for l in out.stdout.splitlines() if l.startswith("level 1 ticket"))
    density = float(re.search(r"density\s+([\d.]+)%", line).group(1))
    accuracy = float(re.search(r"test accuracy ([\d.]+)", line).group(1))
    assert abs(density - 80.0) < 0.1
    assert accuracy >= 0.97
    assert "stored in" in line and str(tmp_path) in line
    again = _cli("run", "--model", "lenet300", "--iterations", "5000", "--levels", "1", results=tmp_path)
    assert line in again.stdout  # resumed from the store: same numbers, same folder


def test_figures_csvs_have_the_documented_columns(tmp_path):
    out = _cli("figures", results=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    fig6 = pd.read_csv(tmp_path / "figures" / "seed-fig6.csv")
    fig7 = pd.read_csv(tmp_path / "figures" / "seed-fig7.csv")
    assert list(fig6.columns) == ["protocol", "model", "density", "trial", "test_accuracy"]
    assert list(fig7.columns) == ["protocol", "model", "trial", "epoch", "val_accuracy"]
