"""How much training the book rests on (lth.training_status): chapters by kind, machine time from provenance,
every sweep's runs stored and planned, and the time left estimated from what is stored."""
import pytest

from lth import training_status
from lth.seed import screen


def _provenance(cpu_s=None, wall_s=3600.0, group_size=1, cores=2):
    record = {"wall_time_s": wall_s, "group_size": group_size, "cpu_count": cores}
    return record if cpu_s is None else record | {"cpu_time_s": cpu_s}


def _lottery_config(model, optimizer):
    return {"model": {"name": model, "width": None}, "training": {"optimizer": optimizer}}


@pytest.mark.parametrize("kind, config, chapter", [
    ("seed_protocol", {}, "our_experiments"), ("seed_keras_driver", {}, "our_experiments"),
    ("train", {}, "background"), ("supermask", {}, "supermasks"), ("learned_mask", {}, "supermasks"),
    ("structured", {}, "liu_comparison"),
    ("lottery", _lottery_config("lenet300", "adam"), "frankle_carbin"),
    ("lottery", _lottery_config("lenet300", "sgd"), "liu_comparison"),  # the Liu chapter's LeNet contrast
    ("lottery", _lottery_config("vgg19", "sgd"), "frankle_carbin"),  # F&C's VGG trains by SGD too
    ("lottery", _lottery_config("vgg16", "sgd"), "liu_comparison"),
    ("lottery", _lottery_config("resnet20", "sgd"), "liu_comparison"),
])
def test_each_kind_of_run_belongs_to_its_chapter(kind, config, chapter):
    assert training_status.chapter_of(kind, config) == chapter


def test_the_liu_networks_are_spelled_as_lth_liu_spells_them():
    from lth import liu

    assert training_status.LIU_MODELS == liu.NETWORKS


def test_machine_time_is_cpu_time_over_cores_shared_by_the_group(store):
    store.save("train", {"a": 1}, {}, _provenance(cpu_s=7200.0, group_size=4, cores=2))  # 7200/2/4 s = 15 min
    store.save("train", {"a": 2}, {}, _provenance(wall_s=1800.0, group_size=1))  # no CPU time: 30 min of wall time
    table = training_status.chapter_table(store)
    assert table.to_dict("records") == [{"chapter": "background", "runs": 2, "machine_hours": pytest.approx(0.75),
                                         "what": training_status.CHAPTERS["background"]}]


def test_an_empty_store_plans_every_sweep_and_claims_no_cost(store):
    from lth import frankle_carbin, liu, supermasks
    from lth.seed import protocol

    table = training_status.sweep_table(store)
    assert (table.stored == 0).all() and (table.hours_spent == 0).all()
    planned = dict(zip(table.command, table.planned))
    assert planned["scripts/seed_screen.sh"] == len(screen.plan())
    assert planned["PROTOCOLS=faithful-lr0.001 scripts/seed_sweep.sh 5"] == len(
        protocol.cells(("faithful-lr0.001",), protocol.DENSITIES, range(5)))
    assert planned["scripts/fc_sweep.sh conv4"] == len(frankle_carbin.sweep("conv4").planned())
    assert planned["scripts/liu_sweep.sh resnet20"] == len(liu.sweep("resnet20").planned())
    assert planned["scripts/supermask_sweep.sh lenet300"] == sum(
        len(d) for d in supermasks.sweep("lenet300").planned().values())
    seed_rows = table[table.chapter == "our_experiments"]
    assert seed_rows.hours_left.isna().all()  # nothing stored says what a seed run costs
    assert "unknown" in training_status.markdown(store)


def test_the_screen_costs_a_missing_run_like_the_stored_ones_of_its_environment_and_role(store):
    plan = screen.plan()
    legacy = next(d for d in plan if d.environment == "legacy" and d.role == "pruning")
    main = next(d for d in plan if d.environment == "main" and d.role == "pruning")
    store.save(legacy.kind, legacy.to_dict(), {}, _provenance(wall_s=1800.0))  # 30 min
    store.save(main.kind, main.to_dict(), {}, _provenance(wall_s=360.0))  # 6 min
    row = training_status.sweep_table(store).iloc[0]
    assert row.command == "scripts/seed_screen.sh" and (row.stored, row.planned) == (2, len(plan))
    assert row.hours_spent == pytest.approx(0.6)
    missing = [d for d in plan if d not in (legacy, main)]
    # legacy and main pruning networks at their own cost; dense models (none stored) at the mean of all, 18 min
    expected = sum(0.5 if (d.environment, d.role) == ("legacy", "pruning") else
                   0.1 if (d.environment, d.role) == ("main", "pruning") else 0.3 for d in missing)
    assert row.hours_left == pytest.approx(expected)


def test_durations_read_as_minutes_hours_or_unknown():
    assert training_status.duration(None) == "unknown" and training_status.duration(0.25) == "15 min"
    assert training_status.duration(3.44) == "3.4 h"


def test_the_cli_rejects_a_missing_runs_folder_by_name(tmp_path, capsys):
    from lth import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["training-status", "--root", str(tmp_path / "nowhere")])
    assert exit_.value.code == 2
    assert f"--root {tmp_path / 'nowhere'}: no such folder" in capsys.readouterr().err


def test_the_cli_prints_both_tables(store, capsys):
    from lth import cli

    store.root.mkdir(parents=True)
    cli.main(["training-status"])
    out = capsys.readouterr().out
    assert "| chapter | stored networks | machine time | what |" in out
    assert "`scripts/fc_sweep.sh lenet300`" in out and "| seed-fidelity screen | our_experiments |" in out


def test_the_supermask_row_counts_stored_runs_and_costs_only_the_missing_ones(store):
    import json

    from lth import paths, supermasks

    sw = supermasks.sweep("lenet300")
    dense = sw.planned()["dense"][0]
    store.save(dense.kind, dense.to_dict(), {}, _provenance(cpu_s=720.0, group_size=1, cores=2))  # 6 min
    cost = {"dense_cpu_s_per_network_step": 0.002, "learned_cpu_s_per_network_step": 0.01,
            "untrained_cpu_s_per_criterion": 30.0, "cpu_count": 2, "load_average": 1.0,
            "measured_utc": "2026-12-01T00:00:00Z"}
    paths.bench_root().mkdir(parents=True)
    (paths.bench_root() / supermasks.COST_FILE).write_text(json.dumps({"lenet300": cost}))
    row = training_status.sweep_table(store).set_index("command").loc["scripts/supermask_sweep.sh lenet300"]
    assert row.stored == 1 and row.hours_spent == pytest.approx(0.1)
    # the one stored dense run is not costed again: what is left is planned_hours on the same store
    assert row.hours_left == pytest.approx(supermasks.planned_hours(sw, cost, store)["all"])
    everything = supermasks.planned_hours(sw, cost, type(store)(store.root.parent / "empty"))["all"]
    assert row.hours_left == pytest.approx(everything - 0.002 * dense.training.iterations / 2 / 3600)
