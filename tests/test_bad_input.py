"""Bad input is refused early with an error naming the value (issue: reliability)."""
import subprocess
import sys

import pytest

from lth import data, experiments, jobs, models, pruning, runs
from lth.seed import protocol as seed_protocol
from lth.seed import screen
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams

CASES = [
    (lambda: models.build("resnet9000", seed=0), ValueError, "resnet9000"),
    (lambda: models.build("lenet300", seed="zero"), TypeError, "zero"),
    (lambda: data.load("svhn"), ValueError, "svhn"),
    (lambda: DatasetHparams(name="svhn"), ValueError, "svhn"),
    (lambda: DatasetHparams(scale="weird"), ValueError, "weird"),
    (lambda: DatasetHparams(n_validation=-5), ValueError, "-5"),
    (lambda: DatasetHparams(subset="10"), TypeError, "'10'"),
    (lambda: ModelHparams(name="mlp7"), ValueError, "mlp7"),
    (lambda: ModelHparams(name="lenet300", width=10), ValueError, "width=10"),
    (lambda: models.build("lenet5", seed=0, width=5), ValueError, "lenet5"),
    (lambda: TrainingHparams(iterations=0), ValueError, "got 0"),
    (lambda: TrainingHparams(iterations=-10), ValueError, "-10"),
    (lambda: TrainingHparams(iterations=10.5), TypeError, "10.5"),
    (lambda: TrainingHparams(learning_rate="fast"), TypeError, "fast"),
    (lambda: TrainingHparams(optimizer="rmsprop"), ValueError, "rmsprop"),
    (lambda: TrainingHparams(stop_monitor="test_accuracy"), ValueError, "test_accuracy"),
    (lambda: TrainingHparams(batch_size=0), ValueError, "got 0"),
    (lambda: TrainingHparams.from_dict({"iterations": 10, "epochs": 3}), ValueError, "epochs"),
    (lambda: TrainingHparams.from_dict(["iterations"]), TypeError, "iterations"),
    (lambda: PruningHparams(criterion="largest"), ValueError, "largest"),
    (lambda: PruningHparams(fraction=1.5), ValueError, "1.5"),
    (lambda: PruningHparams(scope="per-neuron"), ValueError, "per-neuron"),
    (lambda: pruning.check_density(1.5), ValueError, "1.5"),
    (lambda: pruning.check_density(0), ValueError, "got 0"),
    (lambda: pruning.check_density("half"), TypeError, "half"),
    (lambda: pruning.score("biggest", None, None), ValueError, "biggest"),
    (lambda: seed_protocol.describe("sloppy", "ticket", 0, 500, 0.1), ValueError, "sloppy"),
    (lambda: seed_protocol.describe("faithful", "ticket", 0, 500, 2.0), ValueError, "2.0"),
    (lambda: seed_protocol.describe("faithful", "winner", 0, 500, 0.1), ValueError, "winner"),
    (lambda: seed_protocol.describe("faithful", "ticket", 0, -1, 0.1), ValueError, "-1"),
    (lambda: experiments.Lottery(DatasetHparams(), ModelHparams(), TrainingHparams(), PruningHparams(), 0)
     .desc(-1, "ticket"), ValueError, "-1"),
    (lambda: experiments.Lottery(DatasetHparams(), ModelHparams(), TrainingHparams(), PruningHparams(), 0)
     .desc(1, "golden"), ValueError, "golden"),
    (lambda: jobs.run_jobs([], group_size=0), ValueError, "group_size"),
    (lambda: jobs.dask_client("local", workers=0), ValueError, "got 0"),
    (lambda: seed_protocol.describe("faithful", "ticket", 0, 500, 0.1, batch_size=-32), ValueError, "-32"),
    (lambda: seed_protocol.describe("faithful", "ticket", 0, 500, 0.1, batch_size=32.0), TypeError, "32.0"),
    (lambda: runs.from_stored("seed_protcol", {}), ValueError, "seed_protcol"),
    (lambda: runs.SeedRun.from_dict({"protocol": "faithful", "epochs": 500}), ValueError, "epochs"),
    (lambda: screen.describe("cloud", "dense", 0), ValueError, "cloud"),
    (lambda: screen.describe("main", "pruning", 0, learning_rate=1), ValueError, "learning_rate"),
    (lambda: screen.describe("main", "pruning", 0, fit_batch_size=0), ValueError, "fit_batch_size"),
    (lambda: screen.describe("main", "pruning", 0, train_epochs=600), ValueError, "600"),
    (lambda: screen.python_for("conda"), ValueError, "conda"),
]


@pytest.mark.parametrize("call, error, names", CASES)
def test_refused_with_clear_message(call, error, names):
    with pytest.raises(error) as info:
        call()
    assert names in str(info.value)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "lth", *args], capture_output=True, text=True, timeout=300, env=env)


def test_cli_bad_model_and_config_key(tmp_path):
    out = _cli("run", "--model", "lenet7", "--iterations", "10")
    assert out.returncode == 2 and "unknown model 'lenet7'" in out.stderr
    config = tmp_path / "c.yaml"
    config.write_text("training:\n  iterations: 10\n  epochs: 5\n")
    out = _cli("run", "--config", str(config))
    assert out.returncode == 2 and "epochs" in out.stderr
    config.write_text("training:\n  iterations: ten\n")
    out = _cli("run", "--config", str(config))
    assert out.returncode == 2 and "'ten'" in out.stderr


def test_cli_sweep_seed_refuses_a_bad_batch_size():
    out = _cli("sweep-seed", "--trials", "1", "--epochs", "1", "--batch-size", "-5")
    assert out.returncode == 2 and "-5" in out.stderr


def test_cli_models_lists_counts():
    out = _cli("models")
    assert out.returncode == 0 and "61,706" in out.stdout and "266,610" in out.stdout


def test_cli_check_results_fails_on_corrupt_store(tmp_path):
    bad = tmp_path / "runs" / "k" / "0000000000000000"
    bad.mkdir(parents=True)
    (bad / "run.json").write_text("{")
    out = _cli("check-results", "--root", str(tmp_path / "runs"))
    assert out.returncode == 1 and str(bad) in out.stdout
