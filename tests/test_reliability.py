"""Sweeps survive SIGKILL, numbers are reproducible, concurrent writers are safe."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lth import paths
from lth.store import ResultsStore

WORKER = Path(__file__).with_name("sweep_worker.py")
EXPECTED_RUNS = 2 * (1 + 2 * 2)  # two seeds; level 0, then ticket + random at levels 1 and 2


def _env(**extra):
    env = dict(os.environ, LTH_DETERMINISTIC="1", **extra)
    env.pop("LTH_FAULT_INJECT", None)
    env.update(extra)
    return env


def _sweep(root, **extra):
    return subprocess.run([sys.executable, str(WORKER), str(root)], env=_env(**extra), capture_output=True,
                          text=True, timeout=900)


def _snapshot(root):
    """Every stored run's metrics, without wall times."""
    out = {}
    for run in ResultsStore(root).runs():
        result = {k: v for k, v in run.result.items() if k != "wall_time_s"}
        out[run.path.name] = (run.config, result)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    done = _sweep(root)
    assert done.returncode == 0, done.stderr[-2000:]
    snapshot = _snapshot(root)
    assert len(snapshot) == EXPECTED_RUNS
    return snapshot


def test_killed_mid_run_and_mid_write_then_resumed_equals_uninterrupted(reference, tmp_path):
    root = tmp_path / "store"
    # 1. SIGKILL from outside while a network is training (after the first runs are stored)
    proc = subprocess.Popen([sys.executable, str(WORKER), str(root)], env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    # count stored runs only: a glob of the store's folders would also count a training group's
    # checkpoint and its sidecar under .checkpoints, and kill the sweep before any run is stored
    while time.time() < deadline and (not root.exists() or len(list(ResultsStore(root).runs())) < 2):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored_after_kill = len(list(ResultsStore(root).runs()))
    assert 2 <= stored_after_kill < EXPECTED_RUNS
    # 2. SIGKILL inside the store while a result is half written, then again just before the rename
    for fault in ("mid_write:1", "before_rename:2"):
        killed = _sweep(root, LTH_FAULT_INJECT=fault)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        assert list(root.glob("*/.tmp-*")), "the killed writer should leave its staging folder behind"
        assert ResultsStore(root).check() == []  # half-written results are never read as results
    # 3. resume to the end
    done = _sweep(root)
    assert done.returncode == 0 and "sweep complete" in done.stdout, done.stderr[-2000:]
    assert _snapshot(root) == reference
    assert ResultsStore(root).clean_staging(min_age_s=0) >= 1


def test_same_seed_bit_identical_different_seed_differs(reference, tmp_path):
    again = tmp_path / "again"
    assert _sweep(again).returncode == 0
    snapshot = _snapshot(again)
    assert snapshot == reference
    by_seed = {}
    for config, result in snapshot.values():
        if config["level"] == 0:
            by_seed[config["seed"]] = result["history"]["train_loss"]
    assert by_seed[0] != by_seed[1]


def test_two_sweeps_sharing_one_store(reference, tmp_path):
    root = tmp_path / "shared"
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(root)], env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs) and all("sweep complete" in o for o in outputs)
    store = ResultsStore(root)
    assert store.check() == []
    assert _snapshot(root) == reference
    assert not list(root.glob("*/.tmp-*"))


def test_committed_results_store_passes_its_check():
    root = paths.REPO_ROOT / "results" / "runs"
    assert ResultsStore(root).check() == []
