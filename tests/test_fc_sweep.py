"""lth.frankle_carbin: the sweeps' settings, resuming, status and cost, figure data, claims; python -m lth sweep-fc."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import papermill
import pytest
import yaml

from lth import experiments, figures, flops, models, paths, pruning, stats, training
from lth import frankle_carbin as fc


def _tiny(**overrides):
    """The LeNet-300-100 sweep at a few seconds' scale: 1,000 images per split, 20 iterations."""
    values = dict(iterations=20, eval_every=10, levels=1, trials=2, random_mask_trials=1, subset=1000)
    return fc.sweep("lenet300", **(values | overrides))


def test_lenet300_sweep_is_frankle_and_carbins():
    sw = fc.sweep("lenet300")
    (label, train), = sw.settings
    assert (train.optimizer, train.learning_rate, train.batch_size, train.iterations, train.eval_every) == (
        "adam", 1.2e-3, 60, 50_000, 100)
    assert (train.best_monitor, train.stop_monitor, train.eval_test_each) == ("val_loss", "none", True)
    assert (sw.dataset.name, sw.dataset.validation, sw.dataset.n_validation, sw.dataset.subset) == (
        "mnist", "holdout", 5000, None)
    assert (sw.pruning.fraction, sw.pruning.scope, sw.pruning.rate_factors, sw.levels) == (0.2, "layerwise", "model", 18)
    assert dict(sw.trials) == {"ticket": 5, "random_reinit": 5, "oneshot": 5, "random_mask": 3}
    assert len(sw.planned()) == 5 + 18 * (5 + 5 + 5 + 3)
    assert fc.levels_to(sw, 0.019) == 18  # F&C's Pm ladder ends at 1.9 % after 18 rounds


@pytest.mark.parametrize("network, target", [("conv2", 0.02), ("conv4", 0.02), ("conv6", 0.02), ("vgg", 0.05)])
def test_conv_and_vgg_sweeps_prune_to_their_target(network, target):
    sw = fc.sweep(network)
    assert sw.levels == fc.levels_to(sw, target)
    assert sw.dataset.name == "fashion_mnist"
    assert {v for v, _ in sw.trials} == {"ticket", "random_reinit"} and all(n >= 3 for _, n in sw.trials)


def test_conv_per_layer_rates_are_frankle_and_carbins():
    """One round prunes convolutions by 10 % (Conv-6: 15 %), dense layers by 20 %, the output layer by 10 %."""
    for name, conv_rate in [("conv2", 0.1), ("conv4", 0.1), ("conv6", 0.15)]:
        net = models.build(name, seed=0, input_shape=(28, 28, 1), width=8)
        sizes = flops.kernel_sizes(net)
        full = {n: np.ones(s, bool) for n, s in sizes.items()}
        masks = pruning.prune_masks({n: np.random.default_rng(0).random(s) for n, s in sizes.items()}, full, 0.2,
                                    rate_factors=models.spec(name).rate_factors)
        for layer, mask in masks.items():
            rate = conv_rate if layer.startswith("conv") else 0.1 if layer == "output" else 0.2
            assert 1 - mask.mean() == pytest.approx(rate, abs=1 / mask.size), (name, layer)


def test_vgg_settings_scale_warmup_and_milestones_with_training():
    sw = fc.sweep("vgg", iterations=2240)
    settings = dict(sw.settings)
    assert list(settings) == ["lr 0.1", "lr 0.01", "lr 0.1 warm-up"]
    for label, train in settings.items():
        assert (train.optimizer, train.momentum, train.batch_size, train.lr_milestones) == ("sgd", 0.9, 64, (1120, 1680))
        assert train.warmup_iterations == (200 if label == "lr 0.1 warm-up" else 0)
    assert (settings["lr 0.01"].learning_rate, settings["lr 0.1"].learning_rate) == (0.01, 0.1)
    assert (sw.pruning.scope, sw.pruning.fraction) == ("global", 0.2)


def test_published_params_file_is_the_sweeps_default_scale():
    """book/params/frankle_carbin.yaml, as the chapter builds its sweeps from it, asks for exactly the runs that
    python -m lth sweep-fc stores at its defaults (so the book reads what the sweep trains)."""
    p = yaml.safe_load((paths.REPO_ROOT / "book" / "params" / "frankle_carbin.yaml").read_text())
    assert p["RUN_MISSING"] is False
    built = [fc.sweep("lenet300", iterations=p["LENET_ITERATIONS"], levels=p["LENET_LEVELS"], trials=p["LENET_TRIALS"],
                      random_mask_trials=p["LENET_RANDOM_MASK_TRIALS"], subset=p["LENET_SUBSET"])]
    built += [fc.sweep(n, width=p["CONV_WIDTH"], iterations=p["CONV_ITERATIONS"][n], levels=p["CONV_LEVELS"][n],
                       trials=p["CONV_TRIALS"], subset=p["CONV_SUBSET"]) for n in p["CONV_NETWORKS"]]
    built += [fc.sweep("vgg", width=p["VGG_WIDTH"], iterations=p["VGG_ITERATIONS"], levels=p["VGG_LEVELS"],
                       trials=p["VGG_TRIALS"], subset=p["VGG_SUBSET"], settings=p["VGG_SETTINGS"])]
    assert [sw.network for sw in built] == list(fc.NETWORKS)
    for sw in built:
        assert [d.to_dict() for _, d in sw.planned()] == [d.to_dict() for _, d in fc.sweep(sw.network).planned()]
    assert set(p) == set(papermill.inspect_notebook(paths.REPO_ROOT / "notebooks" / "frankle_carbin.ipynb"))


def test_sweep_runs_level_by_level_resumes_and_reports_status(store, monkeypatch):
    sw = _tiny()
    before = fc.status(sw, store)
    assert (before["stored"], before["planned"], before["hours_left"]) == (0, 2 + 2 + 2 + 2 + 1, None)
    sw.run(store)
    done = fc.status(sw, store)
    assert done["stored"] == done["planned"] == 9 and done["hours_left"] == 0
    assert done["table"].loc[("lr 0.0012", "ticket")].tolist() == [2, 2]
    assert done["table"].loc[("lr 0.0012", "random_mask")].fillna(-1).tolist() == [-1, 1]  # no round-0 cell

    def refuse(*args, **kwargs):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(training, "train", refuse)
    sw.run(store)  # everything stored: nothing trains
    longer = fc.status(_tiny(levels=2), store)
    runs = [run for _, run in sw.stored(store)]
    per_run = sum(r.provenance["cpu_time_s"] / r.provenance["cpu_count"] / r.provenance["group_size"]
                  for r in runs) / len(runs) / 3600
    assert (longer["stored"], longer["planned"]) == (9, 16)
    assert longer["hours_left"] == pytest.approx(7 * per_run)


def test_fc_frame_holds_the_stored_runs_numbers(store):
    sw = _tiny()
    sw.run(store)
    runs = [run for _, run in sw.stored(store)]
    frame = figures.fc_frame(runs)
    assert list(frame.columns) == figures.FC_COLUMNS
    assert sorted(set(frame.method)) == ["oneshot", "random", "random_mask", "ticket"]
    net = pruning.wrap(models.build("lenet300", seed=0), ["fc1", "fc2", "output"])
    for run in runs:
        row = frame[(frame.method == fc.METHODS[run.config["variant"]]) & (frame["round"] == run.config["level"])
                    & (frame.trial == run.config["seed"])].iloc[0]
        masks = pruning.unpack_masks({k[5:]: v for k, v in run.arrays().items() if k.startswith("mask/")})
        assert row.flops == flops.count(net, masks)
        assert row.density == pytest.approx(pruning.density(masks)) and row.compression == pytest.approx(1 / row.density)
        assert row.early_stop_iteration == run.result["best_iteration"]
        assert row.test_accuracy_at_early_stop == run.result["test_accuracy"]
        assert row.final_test_accuracy == run.result["history"]["test_accuracy"][-1]
    curves = figures.fc_curves(runs)
    assert len(curves) == len(runs) * 2  # two evaluations each
    with_setting = figures.fc_frame(runs, sweep_columns=True)
    assert list(with_setting.columns) == figures.FC_SWEEP_COLUMNS
    assert set(with_setting.network) == {"lenet300"} and set(with_setting.lr) == {1.2e-3}


def test_figures_command_writes_the_fc_csvs_even_before_any_run(tmp_path):
    env = os.environ | {"LTH_RESULTS_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "lth", "figures"], env=env, capture_output=True, text=True,
                         cwd=paths.REPO_ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    lenet = pd.read_csv(tmp_path / "figures" / "fc-lenet300.csv")
    assert list(lenet.columns) == figures.FC_COLUMNS and len(lenet) == 0
    for name in ("fc-conv.csv", "fc-vgg.csv"):
        assert list(pd.read_csv(tmp_path / "figures" / name).columns) == figures.FC_SWEEP_COLUMNS


def test_cli_sweep_fc_trains_then_reports_status(tmp_path):
    env = os.environ | {"LTH_RESULTS_DIR": str(tmp_path)}
    flags = ["--network", "lenet300", "--iterations", "20", "--eval-every", "10", "--levels", "1", "--trials", "1",
             "--random-mask-trials", "1", "--subset", "1000"]
    run = subprocess.run([sys.executable, "-m", "lth", "sweep-fc", *flags], env=env, capture_output=True, text=True,
                         cwd=paths.REPO_ROOT, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "5 of 5 runs stored; about 0.0 machine-hours left" in run.stdout
    status = subprocess.run([sys.executable, "-m", "lth", "sweep-fc", *flags[:-6], "--levels", "2", "--trials", "1",
                             "--random-mask-trials", "1", "--subset", "1000", "--status"],
                            env=env, capture_output=True, text=True, cwd=paths.REPO_ROOT, timeout=600)
    assert status.returncode == 0, status.stderr
    assert "5 of 9 runs stored" in status.stdout and "machine-hours left, from the mean machine time" in status.stdout
    bad = subprocess.run([sys.executable, "-m", "lth", "sweep-fc", "--network", "all"], env=env, capture_output=True,
                         text=True, cwd=paths.REPO_ROOT, timeout=600)
    assert bad.returncode == 2 and "--status" in bad.stderr


def test_estimate_cost_records_a_timed_run(store):
    cost = fc.estimate_cost(_tiny(group_size=2), steps=30)
    assert cost["group_size"] == 2 and cost["steps"] == 30 and cost["cpu_s_per_network_step"] > 0
    recorded = json.loads((paths.bench_root() / fc.COST_FILE).read_text())
    assert recorded["lenet300"]["cpu_s_per_network_step"] == cost["cpu_s_per_network_step"]
    status = fc.status(_tiny(group_size=2), store)
    assert status["basis"].startswith("a timed run of 30 steps") and status["hours_left"] > 0
    assert not list(store.root.glob("lottery/*"))  # the timed run stored nothing


def _synthetic(shift_ticket=0.0, trials=5):
    """fc_frame-like rows: the unpruned network at 98 % stopping at 10,000, tickets stopping 40 % sooner."""
    rng = np.random.default_rng(0)
    rows = []
    for trial in range(trials):
        rows.append({"method": "ticket", "round": 0, "density": 1.0, "compression": 1.0, "flops": 266_200,
                     "trial": trial, "early_stop_iteration": 10_000 + 100 * trial,
                     "test_accuracy_at_early_stop": 0.98 + 0.0005 * rng.standard_normal(),
                     "final_test_accuracy": 0.98})
        for r in range(1, 19):
            density = 0.8 ** r
            for method, iteration, accuracy in [("ticket", 6_000, 0.985 + shift_ticket), ("random", 14_000, 0.96),
                                                ("oneshot", 9_000, 0.975), ("random_mask", 15_000, 0.95)]:
                rows.append({"method": method, "round": r, "density": density, "compression": 1 / density,
                             "flops": 266_200 * density, "trial": trial, "early_stop_iteration": iteration + 100 * trial,
                             "test_accuracy_at_early_stop": accuracy + 0.0005 * rng.standard_normal(),
                             "final_test_accuracy": accuracy})
    return pd.DataFrame(rows)


def test_lenet_claims_decide_clear_effects_and_leave_missing_cells_untested():
    """Values recomputed by hand from _synthetic: 5 trials per group, groups fully separated, so each cell's exact
    one-sided Mann-Whitney p is 1 / C(10, 5) = 1/252, and Holm over k equal p-values multiplies them by k."""
    from math import comb

    from scipy import stats as scipy_stats

    frame = _synthetic()
    claims = fc.lenet_claims(frame).set_index("key")
    dense = frame[frame["round"] == 0]
    relative = 100 / dense.early_stop_iteration.mean()  # iterations in % of the unpruned network's
    early = claims.loc["early_stop_21"]
    assert early.verdict == "holds" and early.cell == "21.1 %" and early.unit == "%" and early.published == -38
    assert early.effect == pytest.approx((6_200 - 10_200) * relative)  # medians: trial 2 of 0..4
    assert early.ci_low < early.effect < early.ci_high < 0
    assert early.p_holm == pytest.approx(1 / comb(10, 5)) == scipy_stats.mannwhitneyu(
        frame[(frame.method == "ticket") & (frame["round"] == 7)].early_stop_iteration,
        dense.early_stop_iteration, alternative="less", method="exact").pvalue
    assert early.test == "one-sided exact Mann–Whitney U, medians, Holm over 1 cell"
    assert (early.trials, early.checks, early.passed) == (5, 1, 1) and np.isnan(early.trials_needed)
    slower = claims.loc["random_slower"]
    assert slower.effect == pytest.approx(8_000 * relative) and slower.checks == slower.passed == 3
    assert slower.p_holm == pytest.approx(3 / comb(10, 5))  # Holm over three equal p-values
    gain = claims.loc["gain_13_5"]
    ticket_9 = frame[(frame.method == "ticket") & (frame["round"] == 9)].test_accuracy_at_early_stop
    assert gain.effect == pytest.approx(100 * (ticket_9.median() - dense.test_accuracy_at_early_stop.median()))
    assert gain.published == 0.3 and gain.unit == "pp" and gain.verdict == "holds"
    assert gain.margin == pytest.approx(100 * dense.test_accuracy_at_early_stop.std(ddof=1))
    back = claims.loc["back_at_3_6"]  # 0.5 pp above the unpruned network, margin ~0.09 pp: not "back"
    assert back.verdict == "does not hold" and back.p_holm_against == pytest.approx(2 / comb(10, 5))
    assert back.test.startswith("TOST: two one-sided exact Mann–Whitney U tests at ±")
    assert claims.loc["iterative_beats_oneshot", "verdict"] == claims.loc["ticket_beats_random_mask", "verdict"] == "holds"
    assert claims.loc["random_worse", "effect"] == pytest.approx(-2.5, abs=0.1)
    reading = stats.claims_for_reading(claims.reset_index())  # two units: a unit column, not one unit in the names
    assert list(reading.unit) == list(claims.unit) and "effect" in reading and "effect (pp)" not in reading
    assert reading["95 % CI"].iloc[0] == f"[{early.ci_low:+.2f}, {early.ci_high:+.2f}]".replace("-", "−")
    two = fc.lenet_claims(_synthetic(trials=2)).set_index("key").loc["early_stop_21"]
    assert two.verdict == "undecided at 2 trials" and two.p_holm == pytest.approx(1 / comb(4, 2))
    assert two.trials_needed >= 4  # an exact 2-sample rank test needs 4 per group to reach p < 0.025 at all
    empty = fc.lenet_claims(_synthetic().iloc[0:0])
    assert empty.verdict.str.startswith("not tested").all() and (empty.trials == 0).all()


def test_operating_points_table_gives_both_compression_ratios_and_flops():
    sw = fc.sweep("lenet300")
    table = fc.operating_points(_synthetic(), sw, rounds=[0, 7])
    ticket_7 = table[(table.method == "winning ticket") & (table["round"] == 7)].iloc[0]
    kept = 266_200 * 0.8 ** 7
    assert ticket_7["compression (prunable)"] == f"{1 / 0.8 ** 7:.1f}x"
    assert ticket_7["compression (network)"] == f"{266_610 / (266_610 - (266_200 - kept)):.1f}x"
    assert ticket_7["speed-up"] == f"{1 / 0.8 ** 7:.1f}x"
    assert "unpruned 98." in ticket_7["change from unpruned"]


def test_operating_points_of_no_runs_is_an_empty_table_with_its_columns():
    table = fc.operating_points(_synthetic().iloc[0:0], fc.sweep("lenet300"))
    assert table.empty and list(table.columns) == fc.OPERATING_POINT_COLUMNS
