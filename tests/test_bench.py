"""The benchmark scripts: the profile reader of bench/train_profile.py, and bench/sweep_layout.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import pytest  # noqa: E402
import train_profile  # noqa: E402


def test_exclusive_times_subtract_nested_events(tmp_path):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    plane = space.planes.add()
    for i, name in enumerate(["Process", "_MklNativeConv2D", "BiasAdd", "_MklMatMul", "Record"], start=1):
        plane.event_metadata[i].name = name
    compute = plane.lines.add(name="tf_Compute/1")
    for meta, start, length in [(1, 0, 100), (2, 10, 40), (3, 20, 5), (4, 60, 20), (5, 61, 1)]:
        compute.events.add(metadata_id=meta, offset_ps=start, duration_ps=length)
    other = plane.lines.add(name="python")  # not a compute thread: left out
    other.events.add(metadata_id=2, offset_ps=0, duration_ps=1000)
    file = tmp_path / "host.xplane.pb"
    file.write_bytes(space.SerializeToString())
    times = train_profile.exclusive_times(str(file))
    assert times == {"Process": 40.0, "_MklNativeConv2D": 35.0, "BiasAdd": 5.0, "_MklMatMul": 19.0}


def test_op_categories():
    assert train_profile.category("_MklNativeConv2DBackpropInput") == "convolutions"
    assert train_profile.category("_MklBatchMatMulV2") == "dense matmuls"
    assert train_profile.category("_MklNativeMaxPoolGrad") == "max-pooling"
    assert train_profile.category("ResourceApplyAdam") == "optimiser" == train_profile.category("LthMaskedAdam")
    assert train_profile.category("_MklTranspose") == "other"
    assert train_profile.category("LthConvPoolFilterGrad") == "conv + max-pool (lth.native)"
    assert train_profile.category("LthGroupedConvPool") == "conv + max-pool (lth.native)"
    assert train_profile.category("LthDenseGradMaskedAdam") == "dense weight gradients + optimiser (lth.native)"


def test_measure_keeps_the_fastest_of_interleaved_repeats():
    import train_speed

    calls = []
    times = {("keras_fit", 1): [3.0, 2.0, 4.0], ("lth_multi", 4): [1.5, 1.0, 1.2]}

    def runner(path, model_name, batch, k, steps, warmup, engine):
        calls.append(path)
        return {"seconds_per_model_epoch": times[(path, k)].pop(0), "test_accuracies": [0.9]}

    plan = [("keras_fit", 1, "-"), ("lth_multi", 4, "stacked")]
    rows = train_speed.measure(plan, "lenet5", 32, 100, 100, repeats=3, runner=runner,
                               before_round=lambda: calls.append("matmul rate"))
    # interleaved, not one path three times in a row; the floor's matmul rate measured before each round
    assert calls == ["matmul rate", "keras_fit", "lth_multi"] * 3
    assert [r["seconds_per_model_epoch"] for r in rows] == [2.0, 1.0]
    assert all(r["repeats"] == 3 and "test_accuracies" not in r for r in rows)
    failed = train_speed.measure([("torch", 1, "-")], "lenet5", 32, 100, 100, repeats=1,
                                 runner=lambda *a: {"error": "no torch"})
    assert failed[0]["error"] == "no torch"


def test_sweep_layout_times_the_seed_pruning_network(capsys, monkeypatch):
    import json
    import types

    import pytest
    import sweep_layout

    with pytest.raises(SystemExit, match="at least 3, got 2"):
        sweep_layout.main(["--epochs", "2"])
    ticks = []  # a clock read at each epoch's end: 0, 2.5, 10 s (the n-th read 2.5 n^2), so epochs 2 and 3 took
    monkeypatch.setattr(sweep_layout, "time", types.SimpleNamespace(  # 2.5 and 7.5 s: 5 s per epoch after the first
        perf_counter=lambda: ticks.append(None) or 2.5 * (len(ticks) - 1) ** 2))
    sweep_layout.child(3, 2)
    timing = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(ticks) == 3 and timing["epochs_timed"] == 2 and timing["seconds_per_epoch"] == 5.0
    assert timing["engine"] == "stacked"  # two pruning networks (masks changing) as one stack


def test_thread_env_shares_the_cores():
    import os

    import pytest

    from lth.threads import thread_env

    cores = os.cpu_count() or 1
    assert thread_env(1) == {"TF_NUM_INTRAOP_THREADS": str(cores), "TF_NUM_INTEROP_THREADS": str(cores)}
    assert thread_env(cores * 4)["TF_NUM_INTRAOP_THREADS"] == "1"
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match=f"processes must be a positive int, got {bad!r}"):
            thread_env(bad)


def test_train_speed_splits_k_networks_over_processes():
    import train_speed

    assert "does not split" in train_speed.run_child("lth_multi", "lenet300", 60, 3, 100, 100, "stacked x2")["error"]
    row = train_speed.run_child("lth_multi", "lenet300", 60, 2, 100, 100, "stacked x2")
    assert "error" not in row, row.get("error")
    assert len(row["test_accuracies"]) == 2 and row["seconds_per_model_epoch"] > 0 and row["peak_rss_mib"] > 0
    assert row["final_test_accuracy"] == pytest.approx(sum(row["test_accuracies"]) / 2)
    assert min(row["test_accuracies"]) > 0.5  # 200 Adam steps on MNIST: trained, far above chance (0.1)
    assert row["test_accuracies"][0] != row["test_accuracies"][1]  # two different networks, not one twice


def test_processes_combine_into_one_row(monkeypatch):
    """K = 4 over two processes of two networks each, with each process's output given: the slowest process's
    seconds per epoch over K, the memory peaks added, the accuracies of all four networks and their mean."""
    import json

    import train_speed

    from lth.threads import thread_env

    outputs = [{"seconds_per_model_epoch": 4.0, "peak_rss_mib": 100.0, "test_accuracies": [0.8, 0.7]},
               {"seconds_per_model_epoch": 6.0, "peak_rss_mib": 120.0, "test_accuracies": [0.9, 1.0]}]
    started = []

    class Child:
        def __init__(self, command, env, **kwargs):
            started.append((command, env))
            self.returncode, self.output = 0, outputs[len(started) - 1]

        def communicate(self, timeout=None):
            return "progress\n" + json.dumps(self.output) + "\n", ""

    monkeypatch.setattr(train_speed.subprocess, "Popen", Child)
    row = train_speed.run_child("lth_multi", "lenet5", 32, 4, 100, 50, "stacked x2")
    assert row == {"seconds_per_model_epoch": 3.0, "peak_rss_mib": 220.0,
                   "final_test_accuracy": pytest.approx(0.85), "test_accuracies": [0.8, 0.7, 0.9, 1.0]}
    assert [command[-9:-2] for command, _ in started] == [
        ["--child", "lth_multi", "lenet5", "32", "2", "100", "50"]] * 2
    assert [command[-1] for command, _ in started] == ["0", "2"]  # each process its own networks' seeds
    assert all(command[-2] == "stacked" and env["TF_NUM_INTRAOP_THREADS"] == thread_env(2)["TF_NUM_INTRAOP_THREADS"]
               for command, env in started)


def test_floor_counts_what_training_computes(tmp_path):
    """Forward and weight gradient of every layer, input gradient of all but the first (its input is data)."""
    import json

    import train_profile
    import train_speed

    assert train_speed.training_flops_per_image("lenet300") == 2 * (3 * 266_200 - 235_200)
    assert train_speed.training_flops_per_image("lenet5") == 2 * (3 * 416_520 - 117_600)
    stored = tmp_path / "speed.json"
    stored.write_text(json.dumps({"host": {"matmul_gflops": 100.0}, "rows": [
        {"model": "lenet5", "batch": 32, "path": "floor", "k": 1, "seconds_per_model_epoch": 99.0},
        {"model": "lenet5", "batch": 32, "path": "torch", "k": 1, "seconds_per_model_epoch": 5.0}]}))
    rows = train_speed.refloor(stored)["rows"]
    assert rows[0]["seconds_per_model_epoch"] == pytest.approx(2 * 1_131_960 * 60_000 / 100e9)
    assert rows[1]["seconds_per_model_epoch"] == 5.0 and json.loads(stored.read_text())["rows"] == rows
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"host": {"matmul_gflops": 100.0},
                                   "cases": [{"model": "lenet300", "batch": 60, "floor_ms_per_step": 1.0}]}))
    train_profile.main(["--refloor", "--out", str(profile)])
    floor = json.loads(profile.read_text())["cases"][0]["floor_ms_per_step"]
    assert floor == pytest.approx(1000 * 1_126_800 * 60 * train_profile.K / 100e9)


def test_masked_adam_bench_times_both_optimiser_steps(tmp_path):
    import masked_adam
    import pytest

    from lth import native

    if not native.available():
        pytest.skip(f"lth.native does not run here: {native.unavailable_reason()}")
    with pytest.raises(SystemExit, match="at least 1, got 0"):
        masked_adam.main(["--repeats", "0"])
    case = masked_adam.measure("lenet300", 32, steps=5, repeats=2)
    assert set(case["ms_per_step"]) == {"tensorflow_adam_then_mask", "masked_adam", "dense_grad_masked_adam"}
    assert set(case["speedup"]) == {"masked_adam", "dense_grad_masked_adam"}
    assert all(len(times) == 2 and min(times) > 0 for times in case["all_ms_per_step"].values())
    assert (case["model"], case["batch"], case["k"], case["steps"]) == ("lenet300", 32, masked_adam.K, 5)
    # each variant's time is the median (of two: the mean) of its runs; a speedup is the baseline's time over it
    for variant, times in case["all_ms_per_step"].items():
        assert case["ms_per_step"][variant] == pytest.approx(sum(times) / 2)
    baseline = case["ms_per_step"]["tensorflow_adam_then_mask"]
    assert case["speedup"] == {v: pytest.approx(baseline / case["ms_per_step"][v])
                               for v in ("masked_adam", "dense_grad_masked_adam")}


def test_floor_uses_the_best_of_the_matmul_rates_measured_between_rounds(tmp_path, monkeypatch):
    import json

    import train_speed

    rates = iter([100.0, 150.0, 120.0, 90.0, 130.0, 110.0])  # two rounds for each of the three cases
    monkeypatch.setattr(train_speed, "matmul_gflops", lambda: next(rates))
    monkeypatch.setattr(train_speed, "run_child", lambda *a: {"seconds_per_model_epoch": 1.0, "peak_rss_mib": 1.0,
                                                              "final_test_accuracy": 0.9, "test_accuracies": [0.9]})
    out = tmp_path / "speed.json"
    train_speed.main(["--quick", "--repeats", "2", "--out", str(out)])
    stored = json.loads(out.read_text())
    assert stored["host"]["matmul_gflops"] == 150.0
    assert stored["host"]["matmul_gflops_samples"] == [100.0, 150.0, 120.0, 90.0, 130.0, 110.0]
    floors = [r for r in stored["rows"] if r["path"] == "floor"]
    assert [(r["model"], r["batch"]) for r in floors] == list(train_speed.CASES)
    for floor in floors:  # each case's floor row follows its measured rows, at the best rate
        assert floor["seconds_per_model_epoch"] == train_speed.floor_row(floor["model"], floor["batch"], 150.0)[
            "seconds_per_model_epoch"]
        before = stored["rows"][stored["rows"].index(floor) - 1]
        assert (before["model"], before["batch"]) == (floor["model"], floor["batch"]) and before["path"] != "floor"


def test_engine_ratios_compare_the_portable_paths_with_native_in_one_run(tmp_path, monkeypatch):
    """--engines-only measures the stacked engine's three paths; each portable path's time over the
    native path's, per case and K, decides whether it is within the 1.25x rule."""
    import json

    import train_speed

    seconds = {"stacked+native": 1.0, "stacked-xla": 1.2, "stacked-tf": 1.5}
    calls = []

    def runner(path, model_name, batch, k, steps, warmup, engine):
        calls.append((path, engine))
        return {"seconds_per_model_epoch": seconds[engine] * k, "peak_rss_mib": 1.0, "final_test_accuracy": 0.9,
                "test_accuracies": [0.9], "native_ops": engine == "stacked+native"}

    monkeypatch.setattr(train_speed, "run_child", runner)
    monkeypatch.setattr(train_speed, "matmul_gflops", lambda: 100.0)
    out = tmp_path / "engines.json"
    train_speed.main(["--engines-only", "--quick", "--cases", "lenet5:600", "--out", str(out)])
    assert {path for path, _ in calls} == {"lth_multi"} and {e for _, e in calls} == set(train_speed.STACKED_PATHS)
    ratios = json.loads(out.read_text())["engine_ratios"]
    assert set(ratios["stacked-xla"]["ratio_to_native"]) == {"lenet5 b600 K=2", "lenet5 b600 K=4"}
    assert ratios["stacked-xla"]["largest"] == pytest.approx(1.2) and ratios["stacked-xla"]["within"]
    assert ratios["stacked-tf"]["largest"] == pytest.approx(1.5) and not ratios["stacked-tf"]["within"]
    # a "native" row where lth.native's ops did not run is no reference
    rows = [{"path": "lth_multi", "model": "lenet5", "batch": 32, "k": 2, "engine": engine,
             "seconds_per_model_epoch": 1.0, "native_ops": False} for engine in train_speed.STACKED_PATHS]
    assert train_speed.engine_ratios(rows) == {}
