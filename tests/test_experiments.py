import dataclasses
import os
import threading

import numpy as np
import pytest

from lth import experiments, jobs, models, pruning, runs, training
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams

DATA = DatasetHparams(subset=1000, n_validation=1000)
TRAIN = TrainingHparams(iterations=40, eval_every=20, batch_size=32)


def _lottery(seed=0):
    return experiments.Lottery(DATA, ModelHparams("lenet300"), TRAIN, PruningHparams(fraction=0.5), seed)


def test_lottery_levels_reset_to_original_init(store, monkeypatch):
    captured = {}
    original_train = training.train

    def spy(trainees, *args, **kwargs):
        for t in trainees:
            captured[t.name] = t.model.get_weights()
        return original_train(trainees, *args, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    runs = experiments.run_lottery([_lottery()], 2, variants=("ticket", "random_reinit", "oneshot"),
                                   store=store)
    assert [round(r.result["density"], 2) for r in runs] == [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]
    for ticket, oneshot in [(runs[1], runs[3]), (runs[4], runs[6])]:  # the output layer's half rate compounds in both
        assert oneshot.result["layer_density"] == ticket.result["layer_density"]
    init = pruning.kernels(pruning.wrap(models.build("lenet300", seed=0), ["fc1", "fc2", "output"]))
    wrapped = pruning.wrap(models.build("lenet300", seed=0), ["fc1", "fc2", "output"])
    for level in (1, 2):
        wrapped.set_weights(captured[f"ticket-L{level}"])
        masks = pruning.get_masks(wrapped)
        for name, kernel in pruning.kernels(wrapped).items():
            assert np.array_equal(kernel[masks[name]], init[name][masks[name]])  # exact original values
            assert (kernel[~masks[name]] == 0).all()
        wrapped.set_weights(captured[f"random_reinit-L{level}"])
        assert not np.array_equal(pruning.kernels(wrapped)["fc1"][masks["fc1"]], init["fc1"][masks["fc1"]])
    # the level-2 mask is nested in the level-1 mask
    l1, l2 = (pruning.unpack_masks({k[5:]: v for k, v in r.arrays().items() if k.startswith("mask/")})
              for r in (runs[1], runs[4]))
    assert all(not (l2[n] & ~l1[n]).any() for n in l1)


def test_oneshot_masks_keep_the_iterative_tickets_per_layer_counts():
    """F&C's LeNet-300-100 after 18 rounds: hidden layers keep 0.8^18, the output layer (half rate) 0.9^18, each
    round's count rounded on its own; one cut to 1 - 0.8^18 used to leave the output layer at 51 % (15 % here)."""
    lottery = experiments.Lottery(DATA, ModelHparams("lenet300"), TRAIN, PruningHparams(fraction=0.2), 0)
    final = pruning.kernels(lottery.network(seed=7))  # stands in for the trained weights
    full = {n: np.ones(w.shape, dtype=bool) for n, w in final.items()}
    kept = {n: m.size for n, m in full.items()}
    for _ in range(18):
        kept = {n: k - int(round(0.2 * (0.5 if n == "output" else 1.0) * k)) for n, k in kept.items()}
    oneshot = lottery.next_mask(final, full, 0.2, rounds=18)
    assert {n: int(m.sum()) for n, m in oneshot.items()} == kept
    assert oneshot["output"].mean() == pytest.approx(0.9 ** 18, abs=1e-3)
    for name, mask in oneshot.items():  # still one cut by magnitude: every kept weight outranks every pruned one
        assert np.abs(final[name][mask]).min() >= np.abs(final[name][~mask]).max()


def test_resume_recomputes_nothing(store, monkeypatch):
    experiments.run_lottery([_lottery(1)], 1, store=store)
    before = {r.path: r.result for r in store.runs()}

    def refuse(*args, **kwargs):
        raise AssertionError("a stored run was recomputed")

    monkeypatch.setattr(training, "train", refuse)
    again = experiments.run_lottery([_lottery(1)], 1, store=store)
    assert {r.path: r.result for r in again} == before


def test_group_of_trials_equals_separate_runs(store, tmp_path):
    from lth.store import ResultsStore

    grouped = jobs.run_jobs([experiments.train_job(DATA, ModelHparams("lenet300"), TRAIN, s)
                                    for s in (3, 4)], store, group_size=2)
    alone = jobs.run_jobs([experiments.train_job(DATA, ModelHparams("lenet300"), TRAIN, 4)],
                                 ResultsStore(tmp_path / "other"), group_size=1)
    assert grouped[1].result["test_accuracy"] == pytest.approx(alone[0].result["test_accuracy"], abs=2e-3)


def test_jobs_differing_only_in_optimiser_settings_never_share_a_group(store, monkeypatch):
    """A group trains with its first job's settings: before group_key held every training field, the
    three jobs below (same data, batch and steps) shared one group and all trained at lr 1.2e-3."""
    settings = [TRAIN, dataclasses.replace(TRAIN, learning_rate=1e-2), dataclasses.replace(TRAIN, warmup_iterations=20)]
    batch = [experiments.train_job(DATA, ModelHparams("lenet300"), hp, 5) for hp in settings]
    trained = []

    def record(trainees, data, hp, **kwargs):  # what each network would train with; nothing trains
        trained.extend((hp.learning_rate, hp.warmup_iterations) for t in trainees if t.hparams is None)
        return []

    monkeypatch.setattr(training, "train", record)
    jobs.run_jobs(batch, store, group_size=4)
    assert sorted(trained) == sorted((hp.learning_rate, hp.warmup_iterations) for hp in settings)
    assert len({job.group_key for job in batch}) == 3
    with pytest.raises(ValueError, match="learning_rate=0.01 where the first job has 0.0012"):
        jobs.train_group([batch[0], batch[1]], store)  # a group put together by hand is refused too


def test_derive_seed_is_stable():
    assert runs.derive_seed("a", 1) == runs.derive_seed("a", 1) != runs.derive_seed("a", 2)


def test_seed_sweep_keeps_protocols_side_by_side(store, monkeypatch):
    """Per trial: both dense models, then per density each protocol's pruning network and its retraining."""
    from lth.seed import protocol as seed_protocol

    order = []
    real = seed_protocol.run_jobs

    def recording(jobs, *args, **kwargs):
        order.extend((j.config["protocol"], j.config["role"], j.config["density"]) for j in jobs)
        return real(jobs, *args, **kwargs)

    monkeypatch.setattr(seed_protocol, "run_jobs", recording)
    runs = seed_protocol.run(["faithful", "corrected"], densities=[0.5, 0.2], trials=[0], epochs=1, subset=1200,
                             store=store)
    assert len(runs) == 2 + 2 * 2 * 4
    assert order == [("faithful", "dense", None), ("corrected", "dense", None)] + [
        (p, role, d) for d in (0.5, 0.2) for p in ("faithful", "corrected")
        for role in ("pruning", "ticket", "random", "random_mask")]
    assert seed_protocol.tasks(["faithful", "corrected"], densities=[0.5], trials=[0, 1])[:4] == [
        ("faithful", (0,), None), ("corrected", (0,), None), ("faithful", (0,), 0.5), ("corrected", (0,), 0.5)]
    # resuming, two trials per task: only what is missing, in pairs
    assert seed_protocol.tasks(["faithful", "corrected"], densities=[0.5, 0.1], trials=range(4), store=store,
                               trials_per_task=2, epochs=1, subset=1200) == [
        ("faithful", (0, 1), 0.1), ("corrected", (0, 1), 0.1),
        ("faithful", (1, 2), None), ("corrected", (1, 2), None), ("faithful", (1, 2), 0.5), ("corrected", (1, 2), 0.5),
        ("faithful", (2, 3), 0.1), ("corrected", (2, 3), 0.1),
        ("faithful", (3,), None), ("corrected", (3,), None), ("faithful", (3,), 0.5), ("corrected", (3,), 0.5)]
    with pytest.raises(ValueError, match="trials_per_task must be >= 1, got 0"):
        seed_protocol.tasks(trials_per_task=0)
    _random_mask_is_the_tickets_size_in_other_places(seed_protocol, store)


def _random_mask_is_the_tickets_size_in_other_places(seed_protocol, store):
    """The random-mask baseline: the ticket's initial weights, a mask with the learned mask's count per layer
    at other positions, held fixed under the corrected protocol."""
    import numpy as np

    from lth import pruning

    def built(role):
        job = seed_protocol.job(seed_protocol.describe("corrected", role, 0, 1, 0.5, 1200), store)
        return job.build().model

    learned = pruning.unpack_masks(store.load("seed_protocol", seed_protocol.describe(
        "corrected", "pruning", 0, 1, 0.5, 1200).to_dict()).arrays())
    ticket, baseline = built("ticket"), built("random_mask")
    masks = pruning.get_masks(baseline)
    assert set(masks) == set(learned)
    for name in learned:
        assert masks[name].sum() == learned[name].sum()  # as many weights per layer
        assert not np.array_equal(masks[name], learned[name])  # elsewhere
    def kernels(model):  # the convolutions' kernels (never pruned), in layer order
        return [w.numpy() for w in model.weights if "kernel" in w.name and "conv" in w.name]

    assert len(kernels(ticket)) == len(kernels(baseline)) == 2
    assert all(np.array_equal(a, b) for a, b in zip(kernels(ticket), kernels(baseline)))  # the same initial weights
    stored = store.load("seed_protocol", seed_protocol.describe("corrected", "random_mask", 0, 1, 0.5, 1200).to_dict())
    assert stored.result["mask_changed"] is False and stored.result["final_density"] == pytest.approx(0.5, abs=0.01)


def test_seed_sweep_stacks_the_pruning_networks_of_a_task(store):
    """Two trials per task: their pruning networks train as one stack, then their six retrainings (ticket, random
    re-initialisation, random mask per trial) in stacks of at most four."""
    from lth.seed import protocol as seed_protocol

    runs = seed_protocol.run(["faithful"], [0.5], [0, 1], epochs=1, subset=1200, store=store, group_size=4,
                             trials_per_task=2)
    by_role = {}
    for run in runs:
        by_role.setdefault(run.config["role"], []).append(run)
    assert sorted(by_role) == ["dense", "pruning", "random", "random_mask", "ticket"]
    for role, expected_groups in [("dense", {2}), ("pruning", {2}), ("ticket", {4}), ("random", {4, 2}),
                                  ("random_mask", {4, 2})]:
        assert [r.config["trial"] for r in by_role[role]] == [0, 1]
        assert {r.provenance["group_size"] for r in by_role[role]} == expected_groups, role
        assert {r.result["engine"] for r in by_role[role]} == {"stacked"}, role
    retrained = [r.provenance["group_size"] for role in ("ticket", "random", "random_mask") for r in by_role[role]]
    assert sorted(retrained) == [2, 2, 4, 4, 4, 4]  # one stack of four, one of two
    assert [round(r.result["final_density"], 2) for r in by_role["pruning"]] == [0.5, 0.5]


def test_seed_sweep_on_two_dask_workers_stores_every_run(store, tmp_path):
    """Two single-threaded local workers run independent tasks at once into one store."""
    pytest.importorskip("dask.distributed")
    from lth.seed import protocol as seed_protocol
    from lth.store import ResultsStore

    local = seed_protocol.run(["faithful"], [0.5, 0.2], [0], epochs=1, subset=1200, store=store)
    remote_store = ResultsStore(tmp_path / "dask")
    client = jobs.dask_client("local", workers=2)
    try:
        messages = []
        live = []  # messages forwarded as they happen arrive on the client's event-loop thread

        def progress(message):
            messages.append(message)
            live.append(threading.current_thread() is not threading.main_thread())

        remote = seed_protocol.run(["faithful"], [0.5, 0.2], [0], epochs=1, subset=1200, store=remote_store,
                                   client=client, progress=progress)
    finally:
        client.close()
    assert [r.path.name for r in remote] == [r.path.name for r in local]
    stored = [m for m in messages if m.startswith("stored ")]
    started = [m for m in messages if m.startswith("task started: ")]
    # the dense model, then per density the pruning network and its three retrainings
    assert len(stored) == len(remote) == 1 + 2 * 4 and len(started) == 3  # (and progress lines on long tasks)
    assert "task started: faithful, trial(s) 0, density 0.5" in started
    assert all(live)
    assert {r.provenance["tf_intra_op_threads"] for r in remote} == {max(1, (os.cpu_count() or 1) // 2)}
    assert remote_store.check() == []


def test_keras_infers_the_seed_batch_size():
    """The authors' fit(steps_per_epoch=100) on 60,000 images without batch_size runs batches of 600."""
    from lth.seed import protocol as seed_protocol

    assert seed_protocol.keras_inferred_batch_size() == seed_protocol.BATCH_SIZE == 600
    assert seed_protocol.keras_inferred_batch_size(1000, 7) == 143


def test_small_batch_runs_stay_out_of_the_figure_data(store):
    from lth import figures
    from lth.seed import protocol as seed_protocol

    seed_protocol.run(["faithful"], [], [0], epochs=1, subset=1200, store=store, batch_size=32)
    seed_protocol.run(["faithful"], [], [0], epochs=1, subset=1200, store=store)
    assert len(list(store.runs("seed_protocol"))) == 2
    default = figures.seed_runs(store, epochs=1, subset=1200)
    small = figures.seed_runs(store, epochs=1, subset=1200, batch_size=32)
    assert [r.config["training"]["batch_size"] for r in default] == [600]
    assert [r.config["training"]["batch_size"] for r in small] == [32]
    assert small[0].config["training"] | {"batch_size": 600} == default[0].config["training"]


def test_keras_fit_control_of_the_pruning_network(store):
    """The authors' own training path (Keras fit + UpdatePruningStep), stored once, reaching the target density."""
    from lth.seed import controls
    from lth.seed import protocol as seed_protocol

    run = controls.keras_fit(0.5, trial=0, epochs=2, subset=1200, store=store)
    assert run.result["engine"] == "keras_fit"
    assert len(run.result["history"]["val_accuracy"]) == 2
    assert run.result["final_density"] == pytest.approx(0.5, abs=0.01)
    assert controls.keras_fit(0.5, trial=0, epochs=2, subset=1200, store=store).path == run.path
    lth_run = seed_protocol.run(["faithful"], [0.5], [0], epochs=2, subset=1200, store=store)
    pruned = [r for r in lth_run if r.config["role"] == "pruning"][0]
    assert pruned.result["final_density"] == pytest.approx(run.result["final_density"], abs=1e-6)


def test_unpruned_twin_matches_the_pruning_network_until_pruning_begins(store):
    """Same initial weights and data order as the pruning network, all epochs, never pruned, stored once."""
    from lth.seed import controls
    from lth.seed import protocol as seed_protocol

    epochs = 6  # pruning begins at 20 % of training, step 120: after the first evaluation (step 100)
    twins = controls.unpruned("corrected", trials=[0], epochs=epochs, subset=1200, store=store)
    assert len(twins) == 1 and twins[0].config["density"] == 0.5
    history = twins[0].result["history"]
    assert len(history["val_accuracy"]) == epochs  # no early stopping
    pruned = [r for r in seed_protocol.run(["corrected"], [0.5], [0], epochs=epochs, subset=1200, store=store)
              if r.config["role"] == "pruning"][0]
    assert history["train_loss"][0] == pytest.approx(pruned.result["history"]["train_loss"][0], rel=1e-4)
    assert pruned.result["final_density"] == pytest.approx(0.5, abs=0.01)
    again = controls.unpruned("corrected", trials=[0, 1], epochs=epochs, subset=1200, store=store,
                                           run_missing=False)
    assert [r.path for r in again] == [twins[0].path]  # trial 1 not stored, and not trained
    with pytest.raises(ValueError, match="unknown protocol 'faithfull'"):
        controls.unpruned("faithfull", trials=[0], epochs=epochs, store=store)


def test_compute_hours_prefers_cpu_time_over_wall_time():
    from types import SimpleNamespace

    from lth.seed import report

    paused = SimpleNamespace(provenance={"wall_time_s": 7200.0, "cpu_time_s": 1800.0, "cpu_count": 2, "group_size": 1})
    old = SimpleNamespace(provenance={"wall_time_s": 3600.0, "group_size": 2})
    assert report.compute_hours([paused]) == pytest.approx(0.25)
    assert report.compute_hours([paused, old]) == pytest.approx(0.75)


def test_describe_scale_counts_trials_per_cell_not_trial_numbers():
    from types import SimpleNamespace

    from lth.seed import report

    def run(role, density, trial):
        return SimpleNamespace(config={"protocol": "faithful", "role": role, "density": density, "trial": trial})

    even = [run(role, 0.5, t) for t in range(3) for role in ("pruning", "ticket")]
    assert report.describe_scale(even, 500, None).endswith("500 epochs of 100 steps, 3 trials per cell")
    # trial 4 exists for the dense model only: 5 trial numbers, but cells of 1 and 3 trials
    uneven = even + [run("dense", None, 4)]
    assert report.describe_scale(uneven, 2, 2000).endswith("2 epochs of 100 steps, 1 to 3 trials per cell")
    assert "first 2,000 MNIST images" in report.describe_scale(uneven, 2, 2000)
    assert report.describe_scale([], 2, None).endswith("0 trials per cell")


def test_remaining_hours_costs_missing_runs_by_their_protocol_and_role():
    from types import SimpleNamespace

    from lth.seed import report

    def run(protocol, role, density, trial, **provenance):
        return SimpleNamespace(config={"protocol": protocol, "role": role, "density": density, "trial": trial},
                               provenance={"group_size": 1, **provenance})

    runs = [run("faithful", "dense", None, 0, wall_time_s=3600.0),
            run("faithful", "pruning", 0.5, 0, wall_time_s=99 * 3600.0),  # untimed: ignored beside a timed run
            run("faithful", "pruning", 0.5, 1, cpu_time_s=2 * 3600.0, cpu_count=2, wall_time_s=5000.0),
            run("faithful", "ticket", 0.5, 0, wall_time_s=1800.0)]
    hours, missing = report.remaining_hours(runs, ["faithful", "corrected"], [0.5], trials=range(2))
    # missing: faithful dense 1, ticket 1, random 2, random mask 2; corrected dense 2, pruning 2, ticket 2,
    # random 2, random mask 2
    assert missing == 16
    dense, pruning_h, ticket = 1.0, 1.0, 0.5
    overall = (dense + pruning_h + ticket) / 3
    # random re-initialisations at the mean of all (none stored); random masks as tickets (retrained alike)
    expected = 3 * dense + 2 * pruning_h + 3 * ticket + 4 * overall + 4 * ticket
    assert hours == pytest.approx(expected)
    assert report.remaining_hours([], ["faithful"], [0.5], trials=range(1)) == (0.0, 5)


def test_sweep_status_reports_every_cell_of_an_empty_store(store, capsys):
    from lth import cli

    cli.main(["sweep-status", "--trials", "5"])
    out = capsys.readouterr().out
    # 3 protocols x (the dense model + 4 models x 7 densities) = 87 cells, 5 trials each
    assert "0 of 87 cells hold 5 trials or more; 435 runs missing, no stored run yet" in out


def test_a_failed_sweep_task_does_not_stop_the_others(store, monkeypatch):
    """On Dask, one task's error is reported as it happens; the rest run; one error names it at the end."""
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client

    from lth.seed import protocol as seed_protocol

    ran = []

    def fake_run_task(protocol, trials, density, progress=None, **kwargs):
        if density == 0.2:
            raise ValueError("disk full")
        ran.append((protocol, trials, density))
        progress(f"stored {protocol} {density}")

    monkeypatch.setattr(seed_protocol, "run_task", fake_run_task)  # the in-process workers see it
    client = Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
    messages = []
    try:
        with pytest.raises(RuntimeError, match=r"1 of 3 tasks failed .*faithful, trial\(s\) 0, density 0.2: "
                                               r"ValueError: disk full"):
            seed_protocol.run(["faithful"], [0.5, 0.2], [0], epochs=1, subset=1200, store=store, client=client,
                              progress=messages.append)
    finally:
        client.close()
    assert sorted(ran, key=str) == [("faithful", (0,), 0.5), ("faithful", (0,), None)]
    assert "task failed: faithful, trial(s) 0, density 0.2: ValueError: disk full" in messages
    assert {"stored faithful 0.5", "stored faithful None"} <= set(messages)
