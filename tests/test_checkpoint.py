"""An interrupted training group resumes from its checkpoint exactly where it stopped."""
import dataclasses
import pickle
import time

import numpy as np
import pytest

from lth import experiments, models, pruning, training
from lth.hparams import TrainingHparams
from lth.store import code_version

# one trainee early-stops (patience 1 on validation loss), the others train all 80 steps
HP = TrainingHparams(iterations=80, eval_every=10, batch_size=32, learning_rate=0.01)
EARLY = TrainingHparams(iterations=80, eval_every=10, batch_size=32, learning_rate=0.01,
                        stop_monitor="val_loss", patience=1, best_monitor="val_loss")


class Interrupted(Exception):
    pass


def _trainees():
    """A fixed-mask network, one whose TF-MOT schedule re-prunes it every 10 steps, and an early stopper."""
    out = []
    for i in range(3):
        net = models.build("lenet300", seed=i)
        if i == 1:
            schedule = pruning.polynomial_decay(0.3, initial_density=1.0, begin_step=0, end_step=60, frequency=10)
            wrapped = pruning.wrap(net, models.prunable_layers("lenet300", net), schedule)
        else:
            wrapped = pruning.wrap_at_density(net, models.prunable_layers("lenet300", net), 0.3)
        out.append(training.Trainee(wrapped, seed=i, hold_masks=i != 1, name=f"t{i}",
                                    hparams=EARLY if i == 2 else None))
    return out


def _interrupt_at(step):
    def progress(done, total, active):
        if done >= step:
            raise Interrupted(done)
    return progress


@pytest.mark.parametrize("engine", ["graph", "stacked"])
def test_interrupted_training_resumes_exactly(mnist_small, tmp_path, engine):
    whole = _trainees()
    expected = training.train(whole, mnist_small, HP, engine=engine)
    assert expected[2]["stopped_at"] < HP.iterations  # the early stopper did stop early

    path = tmp_path / "group.pkl"
    finished = []
    started = time.time()
    with pytest.raises(Interrupted):
        training.train(_trainees(), mnist_small, HP, engine=engine, checkpoint=path, checkpoint_every=2,
                       on_done=lambda i, r: finished.append(i), progress=_interrupt_at(60))
    before_break = time.time() - started
    assert path.exists()
    with open(path, "rb") as f:
        saved = pickle.load(f)
    assert saved["step"] == 60 and 0 < saved["wall_time_s"] <= before_break
    resumed_trainees = _trainees()
    again = []
    started = time.time()
    results = training.train(resumed_trainees, mnist_small, HP, engine=engine, checkpoint=path,
                             on_done=lambda i, r: again.append(i))
    after_break = time.time() - started
    assert not path.exists()  # removed once the group finished
    assert sorted(finished + again) == [0, 1, 2]  # each trainee reported once, before or after the break
    for want, got, a, b in zip(expected, results, whole, resumed_trainees):
        assert got["history"] == want["history"]
        assert (got["stopped_at"], got["best_iteration"]) == (want["stopped_at"], want["best_iteration"])
        assert got["test_accuracy"] == want["test_accuracy"]
        for x, y in zip(a.model.get_weights(), b.model.get_weights()):
            np.testing.assert_array_equal(x, y)
        # what the resumed run reports of the time before the break is what the checkpoint held
        assert "resumed" not in want
        assert got["resumed"] == {"step": 60, "wall_time_s": saved["wall_time_s"], "cpu_time_s": saved["cpu_time_s"],
                                  "git_commit": code_version()["git_commit"], "native_ops": saved["native_ops"]}
    for i in again:  # trained on after the break: its wall time counts the time before it as well
        assert saved["wall_time_s"] <= results[i]["wall_time_s"] <= before_break + after_break


def test_checkpoint_of_other_trainees_or_damaged_is_refused(mnist_small, tmp_path):
    path = tmp_path / "group.pkl"
    with pytest.raises(Interrupted):
        training.train(_trainees(), mnist_small, HP, checkpoint=path, checkpoint_every=1,
                       progress=_interrupt_at(10))
    other = _trainees()[:2]
    with pytest.raises(training.CheckpointError, match="other trainees or settings; delete it"):
        training.train(other, mnist_small, HP, checkpoint=path)
    assert path.exists()  # refused, not removed
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(training.CheckpointError, match=f"cannot read training checkpoint {path}"):
        training.train(_trainees(), mnist_small, HP, checkpoint=path)
    with pytest.raises(ValueError, match="checkpoint_every must be at least 1 evaluation, got 0"):
        training.train(_trainees(), mnist_small, HP, checkpoint=path, checkpoint_every=0)


def test_run_jobs_resumes_a_group_whose_members_partly_finished(store, monkeypatch):
    """A stored early stopper stays in its group, so the group finds its checkpoint and resumes."""
    from lth.hparams import DatasetHparams, ModelHparams

    data = DatasetHparams(name="mnist", subset=2000, n_validation=2000)
    model = ModelHparams(name="lenet300")

    def job(seed, own):  # a dense network with its own stopping rule
        base = experiments.train_job(data, model, HP, seed)
        build = lambda: training.Trainee(models.build("lenet300", seed=seed), seed=seed, name=f"dense-{seed}",
                                         hparams=own)
        return dataclasses.replace(base, build=build)

    jobs = [job(0, EARLY), job(1, HP)]
    calls = []
    real_train = training.train

    def interrupted_once(trainees, *args, **kwargs):
        calls.append((len(trainees), kwargs["checkpoint"]))
        if len(calls) == 1:
            kwargs["checkpoint_every"] = 1
            kwargs["progress"] = _interrupt_at(70)
        return real_train(trainees, *args, **kwargs)

    monkeypatch.setattr(training, "train", interrupted_once)
    started = time.time()
    with pytest.raises(Interrupted):
        experiments.run_jobs(jobs, store, group_size=2)
    before_break = time.time() - started
    assert store.load(jobs[0].kind, jobs[0].config) is not None  # the early stopper was stored
    assert store.load(jobs[1].kind, jobs[1].config) is None
    with open(calls[0][1], "rb") as f:
        saved = pickle.load(f)
    started = time.time()
    runs = experiments.run_jobs(jobs, store, group_size=2)
    after_break = time.time() - started
    assert calls[1] == calls[0]  # the same group of two, the same checkpoint
    assert saved["step"] == 70 and runs[1].provenance["resumed_from_step"] == 70
    assert runs[1].provenance["resumed_from_commit"] == code_version()["git_commit"]
    assert "resumed_from_step" not in runs[0].provenance and 0 < runs[0].provenance["wall_time_s"] <= before_break
    # the resumed run's wall and CPU time count the time before the break (rounded to ms in the provenance)
    assert saved["wall_time_s"] - 1e-3 <= runs[1].provenance["wall_time_s"] <= before_break + after_break
    assert runs[1].provenance["cpu_time_s"] >= saved["cpu_time_s"] - 1e-3
    assert not calls[0][1].exists()
    assert store.check() == []  # the checkpoint folder is not mistaken for a kind of run
