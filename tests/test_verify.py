"""lth verify: stored runs trained again with their recorded engine and group agree bit for bit."""
import json

from lth import experiments, jobs, verify
from lth.hparams import DatasetHparams, ModelHparams, TrainingHparams

DATA = DatasetHparams(subset=600, n_validation=300)
TRAIN = TrainingHparams(iterations=30, eval_every=10, batch_size=32)


def test_verify_retrains_in_the_recorded_group_and_reports_differences(store):
    stored = jobs.run_jobs([experiments.train_job(DATA, ModelHparams("lenet300"), TRAIN, seed) for seed in (0, 1)],
                           store, group_size=2)
    assert all(r.provenance["group_size"] == 2 and len(r.provenance["group_members"]) == 2 for r in stored)
    report = verify.verify(2, store, progress=lambda message: None)
    assert report["runs"] == 2 and report["identical"] == 2 and report["largest_difference"] == 0.0
    # a stored number that training does not give again is found and measured
    record = json.loads((stored[1].path / "run.json").read_text())
    record["result"]["test_accuracy"] -= 0.25
    (stored[1].path / "run.json").write_text(json.dumps(record))
    report = verify.verify(2, store, progress=lambda message: None)
    assert report["identical"] == 1 and abs(report["largest_difference"] - 0.25) < 1e-9
