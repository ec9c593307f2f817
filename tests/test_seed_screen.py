"""The seed-fidelity screen: the authors' procedure by Keras fit (lth/seed/authors_driver.py), stored with its environment."""
import importlib.util

import pandas as pd
import pytest

from lth.seed import protocol, schedule, screen


def _driver():
    spec = importlib.util.spec_from_file_location("authors_driver", screen.DRIVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_driver_repeats_the_packages_schedule_and_epoch():
    """The driver cannot import lth (it runs in Python 3.7), so it repeats these numbers: they must agree."""
    driver = _driver()
    assert driver.STEPS_PER_EPOCH == schedule.STEPS_PER_EPOCH
    assert (driver.PRUNING_BEGIN, driver.PRUNING_END, driver.PRUNING_EVERY) == (
        schedule.PRUNING_BEGIN, schedule.PRUNING_END, schedule.PRUNING_EVERY)
    assert driver.PATIENCE == protocol.PATIENCE


def test_the_plan_is_the_preregistered_factorial():
    plan = screen.plan(trials=range(3))
    cells = {(d.environment, d.learning_rate, d.fit_batch_size) for d in plan}
    assert cells == {("legacy", 0.01, None), ("legacy", 0.001, None), ("main", 0.01, None), ("main", 0.001, None),
                     ("main", 0.01, 32), ("main", 0.001, 32)}
    assert len(plan) == 3 * 6 * 2 and len({d.to_dict().__repr__() for d in plan}) == len(plan)
    pruning = [d for d in plan if d.role == "pruning"]
    assert {(d.density, d.epochs, d.train_epochs) for d in pruning} == {(0.5, 500, 150)}
    assert {d.train_epochs for d in plan if d.role == "dense"} == {500}  # bounded by early stopping
    assert [d.trial for d in plan] == sorted(d.trial for d in plan)  # trial by trial, so cells fill evenly


def _tiny(environment):
    # a 2-epoch schedule prunes from step 0 to step 120 every 4 steps: 200 steps reach the target
    return screen.describe(environment, "pruning", 0, learning_rate=0.001, train_epochs=2, epochs=2)


def test_the_driver_runs_on_the_main_stack_and_is_stored_once(store):
    run = screen.run_one(_tiny("main"), store)
    assert run.result["epochs_trained"] == 2 and len(run.result["history"]["val_accuracy"]) == 2
    assert run.result["final_density"] == pytest.approx(0.5, abs=0.01)
    assert run.result["test_accuracy"] == run.result["history"]["val_accuracy"][-1]  # the test set validates
    assert run.result["test_accuracy"] > 0.8
    import tensorflow as tf

    assert run.provenance["packages"]["tensorflow"] == tf.__version__
    assert (run.provenance["engine"], run.provenance["group_size"], run.provenance["native_ops"]) == ("keras_fit", 1, False)
    assert store.check() == []
    assert screen.run_one(_tiny("main"), store).path == run.path  # stored: not trained again


@pytest.mark.skipif(not screen.legacy_python().exists(),
                    reason="the legacy environment (Python 3.7, TF 2.1) is not built: run 'make legacy-env'")
def test_the_driver_runs_in_the_authors_environment(store):
    run = screen.run_one(_tiny("legacy"), store)
    assert run.provenance["packages"]["tensorflow"] == "2.1.0" and run.provenance["python"].startswith("3.7")
    assert run.result["batch_size_seen"] == 600  # TF 2.1 infers 600 from steps_per_epoch=100, as today
    assert run.result["final_density"] == pytest.approx(0.5, abs=0.01)


def _curve_runs(cells):
    """Fake screen runs: {(environment, lr, batch, role, trial): accuracy per epoch (list)}."""
    from types import SimpleNamespace

    runs = []
    for (environment, lr, batch, role, trial), accuracy in cells.items():
        runs.append(SimpleNamespace(
            config={"environment": environment, "learning_rate": lr, "fit_batch_size": batch, "role": role,
                    "trial": trial},
            result={"history": {"epoch": list(range(1, len(accuracy) + 1)), "val_accuracy": accuracy,
                                "train_loss": [0.0] * len(accuracy)}}))
    return runs


def test_screen_verdicts_follow_the_preregistered_criteria():
    from lth.seed import report

    good, plateau = [0.985] * 150, [0.975] * 150
    collapsing = [0.975] * 100 + [0.5] * 50
    cells = {}
    for trial in range(3):
        cells |= {("legacy", 0.001, None, "pruning", trial): good, ("main", 0.001, None, "pruning", trial): good,
                  ("legacy", 0.01, None, "pruning", trial): collapsing, ("main", 0.01, None, "pruning", trial): plateau,
                  ("main", 0.01, 32, "pruning", trial): plateau, ("main", 0.001, 32, "pruning", trial): plateau}
        for environment in ("legacy", "main"):
            for lr in (0.01, 0.001):
                cells[(environment, lr, None, "dense", trial)] = [0.986] * 40
        for lr in (0.01, 0.001):
            cells[("main", lr, 32, "dense", trial)] = [0.95] * 40
    table = report.screen_table(report.screen_curves(_curve_runs(cells)))
    assert table.set_index(["environment", "learning_rate", "batch"]).matches.to_dict() == {
        ("legacy", 0.001, "600 (inferred)"): True, ("legacy", 0.01, "600 (inferred)"): False,
        ("main", 0.001, "32"): False, ("main", 0.001, "600 (inferred)"): True,
        ("main", 0.01, "32"): False, ("main", 0.01, "600 (inferred)"): False}
    assert table.set_index(["environment", "learning_rate", "batch"]).collapsed.loc[("legacy", 0.01, "600 (inferred)")] == 3
    verdicts = report.screen_verdicts(table).set_index("hypothesis").verdict
    assert verdicts["1. learning rate (0.001 against 0.01)"] == "confirmed"
    assert verdicts["2. software environment (TF 2.1 against TF 2.21)"] == "undecided"  # lr 0.01 cells differ
    assert verdicts["3. batch 32 against 600"] == "ruled out"
    assert verdicts["5. lth's engine against Keras fit"] == "ruled out"
    # one trial fewer: every verdict says it is provisional
    fewer = report.screen_table(report.screen_curves(_curve_runs({k: v for k, v in cells.items() if k[4] < 2})))
    assert all("provisional" in v for v in report.screen_verdicts(fewer).verdict)


def test_screen_verdicts_read_short_lth_runs_without_failing():
    """Quick chapter runs last 2 epochs: the engine hypothesis' note must not index epoch 100."""
    from types import SimpleNamespace

    from lth.seed import report

    short = SimpleNamespace(config={"role": "pruning", "density": 0.5, "protocol": "faithful"},
                            result={"history": {"val_accuracy": [0.9, 0.91]}, "test_accuracy": 0.91})
    verdicts = report.screen_verdicts(report.screen_table(report.screen_curves([])), [short])
    assert "no lth faithful run at 50 % reaching epoch 100" in verdicts.set_index("hypothesis").evidence[
        "5. lth's engine against Keras fit"]


def _screen(main_low, legacy_low=None, main_high=None, trials=3):
    """A screen table whose lr 0.001 pruning curves are given per environment (the rest plateau at 97.5 %)."""
    from lth.seed import report

    plateau = [0.975] * 150
    cells = {}
    for trial in range(trials):
        cells |= {("main", 0.001, None, "pruning", trial): main_low,
                  ("legacy", 0.001, None, "pruning", trial): legacy_low or plateau,
                  ("main", 0.01, None, "pruning", trial): main_high or plateau,
                  ("legacy", 0.01, None, "pruning", trial): plateau,
                  ("main", 0.01, 32, "pruning", trial): plateau, ("main", 0.001, 32, "pruning", trial): plateau}
        for key in {k[:3] for k in cells}:
            cells[(*key, "dense", trial)] = [0.986] * 40
    return report.screen_table(report.screen_curves(_curve_runs(cells)))


def test_the_sweep_decision_follows_the_written_rule():
    from lth.seed import report

    good, near, collapsing = [0.985] * 150, [0.981] * 150, [0.984] * 100 + [0.5] * 50
    # a main-stack lr 0.001 cell that matches: its protocol, named in the reason
    decided = report.sweep_decision(_screen(good))
    assert decided["protocol"] == "faithful-lr0.001" and decided["complete"]
    assert "matches the published level" in decided["reason"] and decided["cell"].learning_rate == 0.001
    # only the legacy cell matches: the closest main-stack cell (0.2 pp under) and how far it stays
    decided = report.sweep_decision(_screen(near, legacy_low=good))
    assert decided["protocol"] == "faithful-lr0.001"
    assert "only the legacy environment matches" in decided["reason"] and "0.20 pp under" in decided["reason"]
    # nothing matches and lr 0.001 collapses on the main stack: the non-collapsing plateau at lr 0.01 is closer
    decided = report.sweep_decision(_screen(collapsing))
    assert decided["protocol"] == "faithful" and "no cell matches" in decided["reason"]
    assert decided["cell"].learning_rate == 0.01 and decided["cell"].batch == "600 (inferred)"
    # two trials of three: no decision, and the reason names the short cells
    decided = report.sweep_decision(_screen(good, trials=2))
    assert decided["protocol"] is None and not decided["complete"] and "2 of 3" in decided["reason"]


def test_engine_agreement_sets_lth_runs_beside_the_driver_at_each_rate():
    from types import SimpleNamespace

    from lth.seed import report

    table = _screen([0.985] * 150, main_high=[0.975] * 150)  # driver: 98.5 % at lr 0.001, 97.5 % at lr 0.01

    def run(protocol, accuracy, density=0.5, epochs=500):
        return SimpleNamespace(config={"protocol": protocol, "role": "pruning", "density": density},
                               result={"history": {"val_accuracy": [accuracy] * epochs}})

    runs = [run("faithful-lr0.001", 0.984), run("faithful-lr0.001", 0.983), run("faithful", 0.965),
            run("faithful", 0.99, density=0.1), run("corrected", 0.5)]
    out = report.engine_agreement(table, runs).set_index(["learning rate", "trained by"])
    lth_low = out.loc[(0.001, "lth's engine (protocol faithful-lr0.001)")]
    assert lth_low.trials == 2 and lth_low["epoch 50"] == pytest.approx(0.9835) and lth_low.verdict == "agree"
    assert out.loc[(0.001, "Keras fit (the driver, main stack)")]["epoch 100"] == pytest.approx(0.985)
    lth_high = out.loc[(0.01, "lth's engine (protocol faithful)")]
    assert lth_high.trials == 1 and lth_high.verdict == "differ"  # 1 pp under the driver; the 10 % run is not read
    # a protocol with no lth run yet: the driver's row stays, lth's says so
    alone = report.engine_agreement(table, runs[2:3]).set_index(["learning rate", "trained by"])
    assert alone.loc[(0.001, "lth's engine (protocol faithful-lr0.001)")].verdict == "no lth run"
    # short quick-parameter runs (2 epochs) are not read at epoch 100
    assert report.engine_agreement(table, [run("faithful", 0.97, epochs=2)]).set_index("trained by").loc[
        "lth's engine (protocol faithful)"].verdict == "no lth run"
    # in words: each rate's verdict with its largest gap, or that it could not be checked
    sentence = report.engine_agreement_sentence(report.engine_agreement(table, runs))
    assert "at learning rate 0.01 they differ (largest gap 1.00 pp, at epoch 20; 1 lth run against 3" in sentence
    assert "at learning rate 0.001 they agree (largest gap 0.15 pp" in sentence
    assert "at learning rate 0.001: no lth run stored yet, so not checked" in report.engine_agreement_sentence(
        report.engine_agreement(table, runs[2:3]))


def test_where_the_published_curves_fall_among_our_trials():
    from lth.seed import report

    published = pd.DataFrame([{"panel": panel, "model": "pruning", "epoch": e, "test_accuracy": v}
                              for panel, v in (("a", 0.985), ("b", 0.980)) for e in report.CHECK_EPOCHS])
    cells = {}
    for trial, level in enumerate((0.978, 0.982, 0.986)):  # under both, between, above both
        cells[("main", 0.001, None, "pruning", trial)] = [level] * 150
        cells[("legacy", 0.001, None, "pruning", trial)] = [level + 0.0005] * 150
    cells[("main", 0.001, 32, "pruning", 0)] = [0.99] * 150  # another batch: not pooled with batch 600
    curves = report.screen_curves(_curve_runs(cells))
    among = report.published_among_trials(curves, published)
    main = among[(among.environment == "main") & (among.batch == "600 (inferred)")]
    assert main.epoch.tolist() == list(report.CHECK_EPOCHS)
    assert main[["trials", "trials >= a", "trials >= b"]].drop_duplicates().values.tolist() == [[3, 1, 2]]
    assert main["ours: lowest"].iloc[0] == 0.978 and main["ours: highest"].iloc[0] == 0.986
    assert main["published a"].iloc[0] == 0.985 and main["published b"].iloc[0] == 0.980
    cell = pd.Series({"learning_rate": 0.001, "batch": "600 (inferred)"})
    text = report.published_among_summary(among, cell)
    assert text.startswith("learning rate 0.001, batch 600 (inferred), both environments: epoch 20: 2 of 6 reach "
                           "panel a's 98.50% and 4 of 6 panel b's 98.00%")
    assert report.published_among_summary(among, None) == "no screen cell is chosen yet"
    assert "no screen run at learning rate 0.01" in report.published_among_summary(
        among, pd.Series({"learning_rate": 0.01, "batch": "600 (inferred)"}))
    assert report.published_among_trials(curves.iloc[:0], published).empty
