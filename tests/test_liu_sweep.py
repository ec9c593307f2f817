"""lth.liu: a tiny Liu sweep end to end in a scratch store: what it plans, trains, stores, resumes, reports."""
import numpy as np
import pandas as pd
import pytest
import yaml

from lth import analysis, figures, liu, paths, structured
from lth.store import ResultsStore


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A VGG-16 of width 2 on 200 Fashion-MNIST images, 10 iterations, one round with every control, one trial."""
    root = tmp_path_factory.mktemp("results")
    store = ResultsStore(root / "runs")
    sw = liu.sweep("vgg16", width=2, subset=200, iterations=10, eval_every=5, levels=1, control_every=1, trials=1,
                   group_size=4)
    sw.run(store)
    return sw, store


def test_the_sweep_stores_every_planned_run_and_resumes_without_training(tiny, monkeypatch):
    sw, store = tiny
    planned = sw.planned()
    # 2 learning rates x (the dense network + the ticket and 3 controls at round 1) + 2 x 3 structured budgets
    assert len(planned) == 2 * (1 + 4) + 2 * 3
    assert len(sw.stored(store)) == len(planned)
    from lth import training

    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("a stored run was trained again"))
    sw.run(store)


def test_runs_of_one_learning_rate_train_at_that_rate(tiny):
    sw, store = tiny
    for run in sw.stored(store):
        training = run.config["training"]
        lr = run.config["parent"]["training"]["learning_rate"] if run.kind == "structured" else training["learning_rate"]
        assert training["learning_rate"] == lr
        assert training["lr_milestones"] == [round(0.5 * training["iterations"]), round(0.75 * training["iterations"])]


def test_structured_runs_are_smaller_and_scratch_b_trains_longer(tiny):
    sw, store = tiny
    runs = [r for r in sw.stored(store) if r.kind == "structured"]
    dense = liu.dense_size("vgg16", 2, "fashion_mnist")
    ratio = liu.flop_ratio("vgg16", 2, "fashion_mnist", 0.5)
    for run in runs:
        assert run.result["flops"] < dense["flops"] and run.result["params"] < dense["params"]
        assert run.result["filters"] < dense["filters"]
        expected = structured.scratch_b_iterations(10, ratio) if run.config["method"] == "scratch_b" else 10
        assert run.config["training"]["iterations"] == expected
    assert ratio > 1


def test_the_ticket_starts_from_the_parents_initial_kept_filters(tiny):
    sw, store = tiny
    desc = next(d for d in sw.structured() if d.method == "ticket")
    kept = structured.plan(desc.parent, desc.fraction, store)
    net = structured.network(desc, kept)
    dense = structured._initial_dense(desc.parent)
    np.testing.assert_array_equal(net.get_layer("conv1").get_weights()[0],
                                  dense.get_layer("conv1").get_weights()[0][..., kept["conv1"]])
    scratch = structured.network(next(d for d in sw.structured() if d.method == "scratch_e"), kept)
    assert not np.array_equal(scratch.get_layer("conv1").get_weights()[0], net.get_layer("conv1").get_weights()[0])


def test_figure_frames_claims_and_tables(tiny):
    sw, store = tiny
    runs = sw.stored(store)
    unstructured = figures.liu_unstructured_frame(runs)
    assert list(unstructured.columns) == figures.LIU_UNSTRUCTURED_COLUMNS
    assert set(unstructured.schedule) == {"unpruned", "iterative", "one-shot"}
    assert set(unstructured.method) == {"unpruned", "ticket", "random"}
    assert (unstructured.loc[unstructured.method == "unpruned", "density"] == 1.0).all()
    assert (unstructured.loc[unstructured.method != "unpruned", "flops"]
            < unstructured.loc[unstructured.method == "unpruned", "flops"].max()).all()
    frame = figures.liu_structured_frame(sw, runs)
    assert list(frame.columns) == figures.LIU_STRUCTURED_COLUMNS
    assert sorted(frame.budget.unique()) == ["full", "scratch-b", "scratch-e", "ticket"]
    claims = analysis.liu_claims(unstructured, frame)
    assert len(claims) == 4 and claims.key.str.startswith("vgg16_").all()
    assert liu.published_beside(claims).liu_source.str.len().gt(0).all()
    table = liu.structured_table(frame)
    assert len(table) == 2 * 4 and set(table.trials) == {1}


def test_status_counts_the_stored_runs_and_costs_nothing_when_complete(tiny):
    sw, store = tiny
    report = liu.status(sw, store)
    assert report["stored"] == report["planned"] == len(sw.planned())
    assert report["hours_left"] == 0
    assert int(report["table"].sum().sum()) == report["planned"]


def test_status_of_an_empty_store_has_no_cost_without_a_timed_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    report = liu.status(liu.sweep("resnet20"), ResultsStore(tmp_path / "runs"))
    assert report["stored"] == 0 and report["hours_left"] is None


def test_published_params_ask_for_the_default_sweeps():
    """book/params/liu_comparison.yaml asks the chapter for exactly the sweeps python -m lth sweep-liu runs."""
    p = yaml.safe_load((paths.REPO_ROOT / "book" / "params" / "liu_comparison.yaml").read_text())
    assert p["RUN_MISSING"] is False
    assert sorted(p["NETWORKS"]) == sorted(liu.NETWORKS)
    for network in p["NETWORKS"]:
        asked = liu.sweep(network, dataset=p["DATASET"], width=p["WIDTH"][network], iterations=p["ITERATIONS"][network],
                          eval_every=p["EVAL_EVERY"], levels=p["LEVELS"], control_every=p["CONTROL_EVERY"],
                          trials=p["TRIALS"], subset=p["SUBSET"], structured_fractions=p["STRUCTURED_FRACTIONS"],
                          group_size=p["GROUP_SIZE"])
        assert asked == liu.sweep(network)
    assert (1 - 0.2) ** p["LEVELS"] <= 0.05  # densities down to at most 5 %
    assert p["TRIALS"] >= 3


def test_write_liu_figure_data_writes_both_csvs(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path))
    written = figures.write_liu_figure_data(ResultsStore(tmp_path / "runs"))
    assert [p.name for p in written] == ["liu-unstructured.csv", "liu-structured.csv"]
    assert list(pd.read_csv(written[0]).columns) == figures.LIU_UNSTRUCTURED_COLUMNS
    assert list(pd.read_csv(written[1]).columns) == figures.LIU_STRUCTURED_COLUMNS


def _synthetic(rng, gain_low=0.02, lower=0.03):
    """Liu et al.'s published shape with known effects: at lr 0.1 the ticket equals random re-initialisation (noise
    of 0.1 pp), at lr 0.01 it leads by ``gain_low`` and both lie ``lower`` below lr 0.1; structured ticket = Scratch-E."""
    rows, structured = [], []
    for trial in range(3):
        for lr in (0.1, 0.01):
            base = 0.90 + 0.01 * trial - (lower if lr == 0.01 else 0.0)
            rows.append(dict(network="vgg16", lr=lr, schedule="unpruned", method="unpruned", density=1.0, trial=trial,
                             test_accuracy=0.90 + 0.01 * trial))
            for schedule in ("iterative", "one-shot"):
                for level in range(1, 8):
                    density = 0.8 ** (2 * level)
                    random = base - 0.002 * level + rng.normal(0, 0.001)
                    ticket = random + (gain_low if lr == 0.01 else 0.0) + rng.normal(0, 0.001)
                    rows += [dict(network="vgg16", lr=lr, schedule=schedule, method=m, density=density, trial=trial,
                                  test_accuracy=a) for m, a in (("ticket", ticket), ("random", random))]
            scratch = base + rng.normal(0, 0.002)
            structured += [dict(network="vgg16", lr=lr, method=m, budget=b, filters_kept=264, trial=trial,
                                test_accuracy=a) for m, b, a in (("ticket", "ticket", scratch + rng.normal(0, 0.0005)),
                                                                 ("random", "scratch-e", scratch))]
    return pd.DataFrame(rows), pd.DataFrame(structured)


def test_liu_claims_recover_known_effects():
    unstructured, structured_frame = _synthetic(np.random.default_rng(0))
    claims = analysis.liu_claims(unstructured, structured_frame).set_index("key")
    assert claims.verdict.to_dict() == {"vgg16_high_lr_no_gain": "holds", "vgg16_low_lr_ticket_wins": "holds",
                                        "vgg16_low_lr_lower": "holds", "vgg16_structured_alike": "holds"}
    assert claims.loc["vgg16_low_lr_ticket_wins", "effect"] == pytest.approx(2.0, abs=0.3)
    assert -3.0 <= claims.loc["vgg16_low_lr_lower", "effect"] <= -1.0  # ticket -1 pp, random -3 pp, pooled
    assert claims.loc["vgg16_high_lr_no_gain", "margin"] == pytest.approx(1.0)


def test_liu_claims_refute_a_ticket_that_loses_and_leave_structured_untested_without_runs():
    unstructured, _ = _synthetic(np.random.default_rng(1), gain_low=-0.02)
    claims = analysis.liu_claims(unstructured).set_index("key")
    assert claims.loc["vgg16_low_lr_ticket_wins", "verdict"] == "does not hold"
    assert claims.loc["vgg16_structured_alike", "verdict"].startswith("not tested")


def test_the_epoch_time_sentence_compares_the_filter_pruned_network_with_the_dense_one():
    frame = pd.DataFrame({"network": ["vgg16"] * 3, "method": ["unpruned", "ticket", "ticket"],
                          "seconds_per_epoch": [2.0, 1.25, 1.5]})
    assert liu.epoch_time_sentence(frame, "vgg16").endswith("took 1.25 s against the dense network's 2.00 s on this "
                                                             "machine: 1.60x faster.")
    assert "no faster (0.80x" in liu.epoch_time_sentence(frame.assign(seconds_per_epoch=[2.0, 2.5, 2.5]), "vgg16")
    assert "not measured yet" in liu.epoch_time_sentence(frame, "resnet20")
