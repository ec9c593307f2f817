"""The random-mask baseline (LotteryRun variant ``random_mask``) and run_lottery's per-variant trial counts."""
import numpy as np
import pytest

from lth import experiments, models, pruning, training
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams

DATA = DatasetHparams(subset=500, n_validation=1000)
TRAIN = TrainingHparams(iterations=20, eval_every=10, batch_size=32)
LAYERS = ["fc1", "fc2", "output"]


def _lottery(seed):
    return experiments.Lottery(DATA, ModelHparams("lenet300"), TRAIN, PruningHparams(fraction=0.5), seed)


def _stored_mask(run):
    return pruning.unpack_masks({k[len("mask/"):]: v for k, v in run.arrays().items() if k.startswith("mask/")})


@pytest.fixture
def captured(monkeypatch):
    """The weights (and masks) each trainee starts training from, by trainee name."""
    starts = {}
    original = training.train

    def spy(trainees, *args, **kwargs):
        for t in trainees:
            starts[t.name] = (pruning.kernels(t.model), pruning.get_masks(t.model))
        return original(trainees, *args, **kwargs)

    monkeypatch.setattr(training, "train", spy)
    return starts


def test_random_mask_keeps_the_tickets_layer_densities_on_the_original_init(store, captured):
    runs = experiments.run_lottery([_lottery(0)], 2, variants=("ticket", "random_mask"), store=store)
    assert [(r.config["level"], r.config["variant"]) for r in runs] == [
        (0, "ticket"), (1, "ticket"), (1, "random_mask"), (2, "ticket"), (2, "random_mask")]
    init = pruning.kernels(pruning.wrap(models.build("lenet300", seed=0), LAYERS))
    for level in (1, 2):
        ticket_run, random_run = (r for r in runs if r.config["level"] == level)
        ticket, random = _stored_mask(ticket_run), _stored_mask(random_run)
        kernels, masks = captured[f"random_mask-L{level}"]
        for name in LAYERS:
            assert np.array_equal(masks[name], random[name])  # trained with the stored mask
            assert random[name].sum() == ticket[name].sum()  # the ticket's per-layer count, exactly
            assert random_run.result["layer_density"][name] == ticket_run.result["layer_density"][name]
            assert not np.array_equal(random[name], ticket[name])  # but other weights
            assert np.array_equal(kernels[name][random[name]], init[name][random[name]])  # original init
            assert (kernels[name][~random[name]] == 0).all()
        assert random_run.result["density"] == pytest.approx(ticket_run.result["density"])


def test_random_masks_differ_between_levels_and_trials(store):
    lotteries = [_lottery(0), _lottery(1)]
    runs = experiments.run_lottery(lotteries, 1, variants=("random_mask",), store=store)
    a, b = (_stored_mask(r) for r in runs if r.config["variant"] == "random_mask")
    assert not np.array_equal(a["fc1"], b["fc1"])
    again = lotteries[0].mask(1, "random_mask")
    assert all(np.array_equal(again[n], a[n]) for n in LAYERS)  # drawn from a seed: the same each time


def test_random_masks_like_keeps_each_layers_count():
    rng = np.random.default_rng(0)
    like = {"a": rng.random((30, 20)) < 0.1, "b": np.zeros((4, 5), bool), "c": np.ones((3, 3), bool)}
    out = pruning.random_masks_like(like, np.random.default_rng(1))
    assert {n: int(m.sum()) for n, m in out.items()} == {n: int(m.sum()) for n, m in like.items()}
    assert all(out[n].shape == like[n].shape for n in like)


def test_run_lottery_runs_a_variant_in_the_first_n_lotteries_only(store):
    lotteries = [_lottery(s) for s in (0, 1, 2)]
    runs = experiments.run_lottery(lotteries, 1, variants={"random_reinit": 3, "random_mask": 1}, store=store)
    cells = sorted((r.config["seed"], r.config["level"], r.config["variant"]) for r in runs)
    assert cells == sorted([(s, 0, "ticket") for s in (0, 1, 2)] + [(s, 1, "random_reinit") for s in (0, 1, 2)]
                           + [(0, 1, "random_mask")])
    with pytest.raises(ValueError, match="int >= 0"):
        experiments.run_lottery(lotteries, 1, variants={"random_mask": -1}, store=store)
