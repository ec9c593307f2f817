"""The sweep runner on a Dask cluster writes the same runs as the local runner."""
import pytest

from lth import experiments, jobs
from lth.hparams import DatasetHparams, ModelHparams, TrainingHparams
from lth.store import ResultsStore

DATA = DatasetHparams(subset=500, n_validation=500)
TRAIN = TrainingHparams(iterations=40, eval_every=20, batch_size=32)


def test_dask_runner_matches_local(tmp_path):
    pytest.importorskip("dask.distributed")
    two_jobs = lambda: [experiments.train_job(DATA, ModelHparams("lenet300"), TRAIN, seed) for seed in (0, 1)]  # noqa: E731
    local = jobs.run_jobs(two_jobs(), ResultsStore(tmp_path / "local"), group_size=1)
    client = jobs.dask_client("local", workers=1)
    try:
        remote = jobs.run_jobs(two_jobs(), ResultsStore(tmp_path / "dask"), group_size=1, client=client)
    finally:
        client.close()
    assert [r.path.name for r in remote] == [r.path.name for r in local]
    for a, b in zip(local, remote):
        assert a.result["history"] == b.result["history"]
        assert a.result["test_accuracy"] == b.result["test_accuracy"]
    assert ResultsStore(tmp_path / "dask").check() == []
