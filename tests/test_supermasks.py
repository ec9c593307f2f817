import numpy as np
import pandas as pd
import pytest
import tf_keras as keras

from lth import models, pruning, supermasks, training

LENET300_LAYERS = ("fc1", "fc2", "output")


def top_scores_mask(scores: np.ndarray, density: float) -> np.ndarray:
    """True for the round(density * size) largest scores, by a cut at the k-th largest (no tie at the cut)."""
    n_keep = int(round(density * scores.size))
    cut = np.partition(scores.ravel(), scores.size - n_keep)[scores.size - n_keep]
    return scores >= cut


def mlp_accuracy(images: np.ndarray, labels: np.ndarray, kernels: dict, biases: dict,
                 layers=LENET300_LAYERS) -> float:
    """Test accuracy of a ReLU multilayer perceptron (logits out), computed in numpy, without TensorFlow."""
    h = images.reshape(len(images), -1).astype(np.float32) / 255
    for i, name in enumerate(layers):
        h = h @ kernels[name] + biases[name]
        if i < len(layers) - 1:
            h = np.maximum(h, 0)
    return float(np.mean(np.argmax(h, axis=1) == labels))


def test_evaluate_matches_keras_evaluate(mnist_small):
    model = models.build("lenet300", seed=0)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    expected_loss, expected_accuracy = model.evaluate(mnist_small.features(mnist_small.test), mnist_small.test.y,
                                                      batch_size=500, verbose=0)
    loss, accuracy = training.evaluate(model, mnist_small.features(mnist_small.test), mnist_small.test.y)
    assert accuracy == pytest.approx(expected_accuracy, abs=1e-6)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert supermasks.evaluate(model, mnist_small) == pytest.approx(accuracy)


def test_supermask_at_full_density_is_the_untrained_network(mnist_small):
    plain = models.build("lenet300", seed=3)
    wrapped = pruning.wrap(plain, LENET300_LAYERS)
    init = pruning.kernels(wrapped)
    final = {n: w + 0.1 for n, w in init.items()}
    untrained = supermasks.evaluate(plain, mnist_small)
    assert supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", 1.0) == untrained
    with pytest.raises(ValueError, match="'ones'.*allowed"):
        supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", 0.5, "ones")


@pytest.mark.parametrize("values", ["init", "signed_constant"])
def test_supermask_accuracy_is_the_masked_untrained_networks(mnist_small, values):
    """The mask keeps the largest |final| weights of each layer, the kept weights are the initial ones (or their
    sign times the layer's initial standard deviation), and the accuracy is that network's, computed in numpy."""
    density = 0.3
    plain = models.build("lenet300", seed=3)
    wrapped = pruning.wrap(plain, LENET300_LAYERS)
    init = pruning.kernels(wrapped)
    rng = np.random.default_rng(0)
    final = {n: w + rng.normal(0, 2 * w.std(), w.shape).astype(np.float32) for n, w in init.items()}
    accuracy = supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", density, values)

    masks = {n: top_scores_mask(np.abs(final[n]), density) for n in LENET300_LAYERS}
    chosen = pruning.get_masks(wrapped)
    for name in LENET300_LAYERS:
        assert np.array_equal(chosen[name], masks[name]), name
    if values == "init":
        kept = init
    else:
        kept = {n: np.where(w > 0, w.std(), -w.std()).astype(np.float32) for n, w in init.items()}
    expected = {n: np.where(masks[n], kept[n], np.float32(0)) for n in LENET300_LAYERS}
    for name, kernel in pruning.kernels(wrapped).items():
        np.testing.assert_allclose(kernel, expected[name], rtol=1e-6, err_msg=name)
    biases = {n: plain.get_layer(n).bias.numpy() for n in LENET300_LAYERS}
    test = mnist_small.test
    assert accuracy == pytest.approx(mlp_accuracy(test.x, test.y, expected, biases), abs=1 / len(test))


# ------------------------------------------------------------------ the other weight treatments


def test_reshuffle_permutes_the_kept_initial_values_within_each_layer():
    rng = np.random.default_rng(1)
    init = {"a": rng.normal(size=(20, 30)).astype(np.float32), "b": rng.normal(size=(30, 5)).astype(np.float32)}
    masks = {n: rng.random(w.shape) < 0.3 for n, w in init.items()}
    shuffled = supermasks.kept_weights("reshuffle", init, masks, np.random.default_rng(0))
    for name, w in init.items():
        kept = masks[name]
        np.testing.assert_array_equal(np.sort(shuffled[name][kept]), np.sort(w[kept]))  # the same values ...
        assert not np.array_equal(shuffled[name][kept], w[kept])  # ... in other places
        np.testing.assert_array_equal(shuffled[name][~kept], w[~kept])  # the rest untouched (the mask zeroes it)
    fresh = {n: w + 1 for n, w in init.items()}
    assert supermasks.kept_weights("reinit", init, masks, fresh=fresh) is fresh
    with pytest.raises(ValueError, match="fresh kernels"):
        supermasks.kept_weights("reinit", init, masks)
    with pytest.raises(ValueError, match="'ones'.*allowed"):
        supermasks.kept_weights("ones", init, masks)


@pytest.mark.parametrize("values", ["reshuffle", "reinit"])
def test_reshuffled_and_reinitialised_supermasks_are_the_networks_they_set(mnist_small, values):
    """Under the large_final mask, the kept weights are the layer's kept initial values in other places (reshuffle) or
    a fresh network's weights (reinit), and the accuracy is that network's, computed in numpy."""
    plain = models.build("lenet300", seed=3)
    wrapped = pruning.wrap(plain, LENET300_LAYERS)
    init = pruning.kernels(wrapped)
    final = {n: w + np.random.default_rng(0).normal(0, 2 * w.std(), w.shape).astype(np.float32) for n, w in init.items()}
    fresh = pruning.kernels(pruning.wrap(models.build("lenet300", seed=11), LENET300_LAYERS))
    accuracy = supermasks.supermask_accuracy(wrapped, mnist_small, init, final, "large_final", 0.3, values, fresh=fresh)
    masks = {n: top_scores_mask(np.abs(final[n]), 0.3) for n in LENET300_LAYERS}
    kernels = pruning.kernels(wrapped)
    for name in LENET300_LAYERS:
        np.testing.assert_array_equal(kernels[name][~masks[name]], 0)
        if values == "reshuffle":
            np.testing.assert_array_equal(np.sort(kernels[name][masks[name]]), np.sort(init[name][masks[name]]))
        else:
            np.testing.assert_array_equal(kernels[name][masks[name]], fresh[name][masks[name]])
    biases = {n: plain.get_layer(n).bias.numpy() for n in LENET300_LAYERS}
    test = mnist_small.test
    assert accuracy == pytest.approx(mlp_accuracy(test.x, test.y, kernels, biases), abs=1 / len(test))


# ------------------------------------------------------------------ stored runs, the sweep, figure data and claims

SMALL = dict(iterations=200, trials=2, subset=2000, learned_iterations=200, learned_trials=2, densities=[0.1, 0.3],
             retrain_criteria=["large_final", "random"], retrain_levels=1, retrain_trials=2, group_size=4)


def test_supermask_run_description_round_trips_and_refuses_bad_values():
    from lth.runs import SupermaskRun, from_stored

    dense = supermasks.sweep("lenet300").dense
    desc = SupermaskRun(dense, "movement", "reshuffle", [0.1, 0.5])
    assert desc.densities == (0.1, 0.5) and from_stored("supermask", desc.to_dict()) == desc
    with pytest.raises(ValueError, match="weights must be one of"):
        SupermaskRun(dense, "movement", "learned", (0.1,))
    with pytest.raises(ValueError, match="criterion must be one of"):
        SupermaskRun(dense, "largest", "init", (0.1,))
    with pytest.raises(ValueError, match=r"densities must lie in \(0, 1\]"):
        SupermaskRun(dense, "movement", "init", (0.0,))
    with pytest.raises(ValueError, match="level 0, ticket"):
        SupermaskRun(dense.at(1), "movement", "init", (0.1,))


def test_dense_runs_are_the_frankle_carbin_sweeps():
    """The chapter's dense runs are the Frankle & Carbin sweeps' level-0 runs (LeNet-300-100, and Conv-4 on
    Fashion-MNIST), so the two chapters share them in the store."""
    from lth import frankle_carbin

    for network in ("lenet300", "conv4"):
        fc = frankle_carbin.sweep(network)
        fc_dense = [desc for _, desc in fc.planned() if desc.level == 0]
        ours = supermasks.sweep(network).dense_runs()
        assert ours[:len(fc_dense)] == fc_dense[:len(ours)], network
    quick = frankle_carbin.sweep("lenet300", iterations=1500, trials=1)  # the chapters' quick defaults
    assert supermasks.sweep("lenet300", iterations=1500, trials=1).dense_runs()[:1] == [
        desc for _, desc in quick.planned() if desc.level == 0]


def test_sweep_stores_every_part_and_never_recomputes(store, monkeypatch):
    sw = supermasks.sweep("lenet300", **SMALL)
    sw.run(store=store)
    coverage = supermasks.coverage(sw, store).set_index("part")
    assert (coverage.stored == coverage.planned).all()
    assert coverage.planned.to_dict() == {"dense": 2, "untrained": 2 * 10 * 4, "learned": 2, "retrain": 2 + 2 * 2}
    frame = supermasks.supermask_frame(sw, store)
    assert list(frame.columns) == supermasks.FRAME_COLUMNS
    assert len(frame) == 2 * 10 * 4 * 2 + 2
    assert set(frame.weights) == {"init", "signed_constant", "reshuffle", "reinit", "learned"}
    # a stored evaluation equals supermask_accuracy on the stored dense run's weights
    from lth.experiments import Lottery
    from lth.jobs import load_data

    dense = sw.dense_runs()[1]
    lottery = Lottery(dense.dataset, dense.model, dense.training, dense.pruning, dense.seed, store)
    init, final = lottery.dense_weights()
    row = frame[(frame.criterion == "large_final_same_sign") & (frame.weights == "reshuffle") & (frame.trial == 1)
                & (frame.density == 0.3)]
    expected = supermasks.supermask_accuracy(lottery.network(), load_data(dense.dataset), init, final,
                                             "large_final_same_sign", 0.3, "reshuffle", seed=1)
    assert row.test_accuracy.item() == expected
    best = supermasks.best_density(frame).set_index(["criterion", "weights"])
    assert best.loc[("learned", "learned"), "trials"] == 2
    assert best.loc[("large_final_same_sign", "signed_constant"), "test_accuracy"] > 0.5  # chance: 0.1
    retrain = supermasks.retrain_frame(sw.stored("retrain", store))
    assert list(retrain.columns) == supermasks.RETRAIN_COLUMNS and len(retrain) == 2 * 2 * 2

    calls = []
    monkeypatch.setattr(supermasks, "evaluate", lambda *a, **k: calls.append(1))
    monkeypatch.setattr("lth.training.train", lambda *a, **k: calls.append(1))
    sw.run(store=store)
    assert not calls


def test_figure_data_and_status_from_the_store(store, tmp_path, monkeypatch):
    """``python -m lth figures`` writes the three supermask CSVs from the default-scale sweeps' stored runs (empty
    before any run), and ``sweep-supermasks --status`` lists what is stored."""
    from lth import cli, figures

    paths = figures.write_supermask_figure_data(store)
    assert [p.name for p in paths] == ["supermask-mnist.csv", "supermask-conv.csv", "supermask-retrain.csv"]
    assert open(paths[0]).readline().strip() == "criterion,weights,density,trial,test_accuracy"
    assert open(paths[2]).readline().strip() == ",".join(supermasks.RETRAIN_COLUMNS)
    cli.main(["sweep-supermasks", "--network", "conv4", "--status"])


def test_claims_decide_clear_effects_and_leave_missing_cells_untested():
    from lth import stats

    rows = []
    for trial in range(6):
        for density in (0.1, 0.3):
            for weights, accuracy in [("signed_constant", 0.85), ("init", 0.80), ("reshuffle", 0.11), ("reinit", 0.10)]:
                for criterion, shift in [("large_final_same_sign", 0.0), ("large_final", -0.05)]:
                    rows.append({"criterion": criterion, "weights": weights, "density": density, "trial": trial,
                                 "test_accuracy": accuracy + shift + 0.001 * trial})
    frame = pd.DataFrame(rows)
    margin = stats.Margin(1.0, "1 pp, for the test")
    table = supermasks.untrained_claims(frame, margin).set_index("key")
    assert (table.verdict == "holds").all(), table.verdict
    learned = supermasks.learned_claims(frame, margin)
    assert learned.verdict.item().startswith("not tested")
    with_learned = pd.concat([frame, pd.DataFrame([{"criterion": "learned", "weights": "learned", "density": 0.5,
                                                    "trial": t, "test_accuracy": 0.95} for t in range(6)])])
    assert supermasks.learned_claims(with_learned, margin).verdict.item() == "holds"


def test_published_params_file_is_the_sweeps_default_scale():
    """book/params/supermasks.yaml asks for exactly the runs ``python -m lth sweep-supermasks`` stores at its defaults."""
    import yaml

    from lth import paths

    params = yaml.safe_load((paths.REPO_ROOT / "book" / "params" / "supermasks.yaml").read_text())
    assert params["RUN_MISSING"] is False
    lenet, conv = supermasks.chapter_sweeps(params)
    assert lenet == supermasks.sweep("lenet300") and conv == supermasks.sweep("conv4")


def test_retrain_claims_pair_criteria_by_trial_and_round():
    from lth import stats

    rows = [{"criterion": c, "round": r, "density": 0.8 ** r, "trial": t, "early_stop_iteration": 100,
             "test_accuracy": 0.98 - (0.0 if c in ("large_final", "magnitude_increase", "movement") else 0.02 * r)
             + 0.0001 * t + (0.00001 if c == "movement" else 0)}
            for c in ("large_final", "random", "small_final", "magnitude_increase", "movement")
            for r in range(3) for t in range(6)]
    table = supermasks.retrain_claims(pd.DataFrame(rows), stats.Margin(0.5, "0.5 pp, for the test")).set_index("key")
    assert (table.verdict == "holds").all(), table.verdict
    assert table.loc["large_final_beats_random", "checks"] == 2  # rounds 1 and 2; round 0 is the shared dense run


def test_estimate_cost_times_every_part_and_prices_what_is_missing(store):
    sw = supermasks.sweep("lenet300", **SMALL | {"group_size": 2, "criteria": ["large_final"]})
    with pytest.raises(ValueError, match="two evaluations"):
        supermasks.estimate_cost(sw, steps=150)
    cost = supermasks.estimate_cost(sw, steps=200)
    for key in ("dense_cpu_s_per_network_step", "learned_cpu_s_per_network_step", "untrained_cpu_s_per_criterion"):
        assert cost[key] > 0, key
    hours = cost["sweep_machine_hours"]
    assert set(hours) == {"dense", "untrained", "learned", "retrain", "all"}
    assert hours["all"] == pytest.approx(sum(h for p, h in hours.items() if p != "all"))
    assert supermasks.read_cost()["lenet300"]["steps"] == 200  # recorded under results/bench of the store's root
    assert "machine-hours" in supermasks.describe_cost(cost)
    assert not list(store.root.glob("*/*"))  # the timing ran in a scratch store


def test_the_prose_reports_stored_accuracies_beside_zhou_et_al_or_says_none_is_stored():
    rows = [("large_final_same_sign", w, 0.5, 0, acc) for w, acc in
            [("init", 0.81), ("signed_constant", 0.86), ("reshuffle", 0.3), ("reinit", 0.2)]]
    rows += [("large_final_same_sign", "init", 0.2, 0, 0.7), ("large_final", "init", 0.5, 0, 0.6),
             (supermasks.LEARNED, supermasks.LEARNED, 0.45, 0, 0.93), (supermasks.LEARNED, supermasks.LEARNED, 0.47, 1, 0.95)]
    frame = pd.DataFrame(rows, columns=supermasks.FRAME_COLUMNS)
    text = supermasks.untrained_sentence(frame, "lenet300")
    assert "reaches 81.0% with its initial weights and 86.0% with signed constants at the best density" in text
    assert "plain magnitude pruning, reaches 60.0%" in text and "gives 30.0% and re-initialising them 20.0%" in text
    assert "Zhou et al., on MNIST: about 80 % and 86 %" in text
    empty = frame.iloc[:0]
    assert supermasks.untrained_sentence(empty, "conv4").startswith("No untrained evaluation of Conv-4 is stored yet")
    learned = supermasks.learned_sentence({"lenet300": frame, "conv4": empty}, {"lenet300": "MNIST", "conv4": "X"})
    assert "LeNet-300-100 on MNIST: 94.0%, keeping 46.0% of the weights in expectation, mean over 2 trials" in learned
    assert "Conv-4 on X: no learned mask stored yet (Zhou et al., on CIFAR-10: 65%)" in learned


def test_published_table_puts_the_best_densitys_mean_beside_zhou_et_al():
    rows = [("large_final_same_sign", "signed_constant", d, t, acc) for d, accs in [(0.5, (0.84, 0.88)), (0.2, (0.7, 0.7))]
            for t, acc in enumerate(accs)]
    frame = pd.DataFrame(rows, columns=supermasks.FRAME_COLUMNS)
    table = supermasks.published_table({"lenet300": frame}).set_index(["network", "mask"])
    signed = table.loc[("LeNet-300-100", "large_final_same_sign, signed constants")]
    assert signed.published == 0.86 and signed.ours == pytest.approx(0.86) and signed["our density"] == 0.5
    assert signed.trials == 2
    missing = table.loc[("Conv-4", "learned mask")]  # no frame for Conv-4: nothing of ours, the published number kept
    assert np.isnan(missing.ours) and missing.trials == 0 and missing.published == 0.65
