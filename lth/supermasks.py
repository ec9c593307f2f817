"""Zhou et al. (2019): masks applied to untrained networks, learned masks, and retraining by mask criterion.

A *supermask* is a mask chosen from the initial and trained weights of a dense run by one of
:data:`lth.pruning.CRITERIA`, applied to the **untrained** network, which is then scored on the
test set as it is. The kept weights are treated in one of four ways (:data:`WEIGHTS`): as
initialised; as signed constants (the sign of the initial value times its layer's initial
standard deviation); reshuffled (the kept initial values permuted within their layer); or
re-initialised (fresh values from the same initialiser).

:class:`SupermaskSweep` names every run of the chapter for one network: the dense runs (level 0
of a lottery, shared with the Frankle & Carbin chapter where the settings match), their untrained
evaluations (:class:`lth.runs.SupermaskRun`, stored like training runs), learned masks
(:mod:`lth.learned_masks`) and, for LeNet-300-100, iterative pruning by each criterion retrained
from the original initialisation (Zhou et al.'s Fig. 2; :class:`lth.runs.LotteryRun` with that
criterion). :func:`sweep` builds one at this book's scale (:data:`SCALES`), any value overridden;
``python -m lth sweep-supermasks``, the chapter and ``python -m lth figures`` all build theirs here.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lth import paths, pruning, training, wording
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams
from lth.runs import SUPERMASK_WEIGHTS as WEIGHTS
from lth.runs import LearnedMaskRun, LotteryRun, SupermaskRun, derive_seed

NETWORKS = ("lenet300", "conv4")
PARTS = ("untrained", "learned", "retrain")
CHANCE = 0.1
LEARNED = "learned"  # the criterion and weights columns of a learned mask's rows
FRAME_COLUMNS = ["criterion", "weights", "density", "trial", "test_accuracy"]
RETRAIN_COLUMNS = ["criterion", "round", "density", "trial", "early_stop_iteration", "test_accuracy"]
DATASET_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST (the stand-in for CIFAR-10)",
                  "cifar10": "CIFAR-10"}
NETWORK_LABELS = {"lenet300": "LeNet-300-100", "conv4": "Conv-4"}
COST_FILE = "supermask-sweep-cost.json"  # estimate_cost's measurements, under results/bench


# ------------------------------------------------------------------ untrained networks under a mask


def evaluate(model, data, split="test") -> float:
    """Accuracy of ``model`` on a split of ``data``."""
    part = {"test": data.test, "val": data.validation, "train": data.train}[split]
    with training._quiet_retracing():  # each network traces its own evaluation once: expected, not a warning
        return training.evaluate(model, data.features(part), part.y)[1]


def apply_weights_and_masks(model, kernels: dict, masks: dict) -> None:
    """Set a wrapped model's prunable kernels to ``kernels`` and its masks to ``masks``."""
    for name, wrapper in pruning.wrappers(model).items():
        wrapper.pruning_vars[0][0].assign(kernels[name].astype(np.float32))
    pruning.set_masks(model, masks)


def kept_weights(weights: str, init: dict, masks: dict, rng=None, fresh: dict | None = None) -> dict:
    """The kernels an untrained masked network runs with (the mask zeroes the rest): ``init`` as it is, as signed
    constants, with its kept values permuted within each layer (``rng``), or ``fresh`` (a re-initialisation)."""
    if weights == "init":
        return init
    if weights == "signed_constant":
        return {n: (np.sign(w) * w.std()).astype(np.float32) for n, w in init.items()}
    if weights == "reshuffle":
        out = {}
        for name, w in init.items():
            out[name] = w.copy()
            out[name][masks[name]] = rng.permutation(w[masks[name]])
        return out
    if weights == "reinit":
        if fresh is None:
            raise ValueError("re-initialised weights need fresh kernels (fresh=...)")
        return fresh
    raise ValueError(f"unknown supermask weights {weights!r}; allowed: {list(WEIGHTS)}")


def criterion_masks(init: dict, final: dict, criterion: str, density: float, seed: int = 0) -> dict:
    """Each layer's mask keeping ``density`` of its weights with the highest ``criterion`` scores."""
    rng = np.random.default_rng(seed)
    return pruning.masks_at_density({n: pruning.score(criterion, init[n], final[n], rng) for n in init}, density)


def supermask_accuracy(model, data, init: dict, final: dict, criterion: str, density: float,
                       values: str = "init", seed: int = 0, fresh: dict | None = None) -> float:
    """Test accuracy of the untrained network under ``criterion``'s mask at ``density``, kept weights as ``values``."""
    if values not in WEIGHTS:
        raise ValueError(f"unknown supermask weight values {values!r}; allowed: {list(WEIGHTS)}")
    masks = criterion_masks(init, final, criterion, density, seed)
    rng = np.random.default_rng(derive_seed("reshuffle", seed, criterion, density))
    apply_weights_and_masks(model, kept_weights(values, init, masks, rng, fresh), masks)
    return evaluate(model, data)


def _dense_lottery(dense: LotteryRun, store):
    from lth.experiments import Lottery

    return Lottery(dense.dataset, dense.model, dense.training, dense.pruning, dense.seed, store)


def run_untrained(descs: list, store=None, progress=None) -> list:
    """Evaluate and store every :class:`~lth.runs.SupermaskRun` of ``descs`` not stored yet; return all their runs.

    The dense run's weights and network are loaded once for all its runs, and the runs of one criterion
    share their masks: each mask is computed once and every weight treatment evaluated under it. A
    dense run not stored yet raises (train it first).
    """
    from lth.store import ResultsStore

    store = store or ResultsStore()
    groups: dict = {}
    for desc in descs:
        if store.load(desc.kind, desc.to_dict()) is None:
            groups.setdefault(desc.dense, {}).setdefault((desc.criterion, desc.densities), []).append(desc)
    for dense, criteria in groups.items():
        _evaluate_dense_run(dense, criteria, store, progress)
    return [store.load(desc.kind, desc.to_dict()) for desc in descs]


def _evaluate_dense_run(dense: LotteryRun, criteria: dict, store, progress) -> None:
    """Store the runs ``criteria`` (``{(criterion, densities): [SupermaskRun]}``) of one dense run."""
    from lth.jobs import load_data
    from lth.store import provenance

    lottery = _dense_lottery(dense, store)
    init, final = lottery.dense_weights()
    model, data = lottery.network(), load_data(dense.dataset)
    fresh = (pruning.kernels(lottery.network(derive_seed("supermask-reinit", dense.seed)))
             if any(d.weights == "reinit" for members in criteria.values() for d in members) else None)
    for (criterion, densities), members in criteria.items():
        started, cpu_started = time.time(), time.process_time()
        accuracies, kept = {desc: [] for desc in members}, []
        for density in densities:
            masks = criterion_masks(init, final, criterion, density, dense.seed)
            kept.append(pruning.density(masks))
            for desc in members:
                rng = np.random.default_rng(derive_seed("reshuffle", dense.seed, criterion, density))
                apply_weights_and_masks(model, kept_weights(desc.weights, init, masks, rng, fresh), masks)
                accuracies[desc].append(evaluate(model, data))
        record = provenance(dense.seed, time.time() - started) | {
            "engine": "untrained", "group_size": len(members), "native_ops": False,
            "cpu_time_s": round(time.process_time() - cpu_started, 3)}
        for desc in members:
            store.save(desc.kind, desc.to_dict(), {"density": list(densities), "kept": kept,
                                                  "test_accuracy": accuracies[desc]}, record)
        if progress:
            best = {d.weights: max(accuracies[d]) for d in members}
            progress(f"stored supermasks of {NETWORK_LABELS.get(dense.model.name, dense.model.name)} trial "
                     f"{dense.seed}, {criterion}: best " + ", ".join(f"{w} {a:.4f}" for w, a in best.items()))


# ------------------------------------------------------------------ the chapter's runs for one network


@dataclass(frozen=True)
class SupermaskSweep:
    """Every run of the supermask chapter for one network (trial t: the dense run, learned mask and lotteries of seed t).

    ``dense`` is trial 0's dense run; ``learned`` trial 0's learned mask (None: none); ``retrain_criteria``
    the criteria whose iterative pruning is retrained from the original initialisation for levels
    1..``retrain_levels`` (empty: none).
    """

    network: str
    dense: LotteryRun
    trials: int
    criteria: tuple
    densities: tuple
    weights: tuple
    learned: LearnedMaskRun | None
    learned_trials: int
    retrain_criteria: tuple
    retrain_levels: int
    retrain_trials: int
    group_size: int = 4

    def dense_runs(self) -> list:
        n = max(self.trials, self.retrain_trials if self.retrain_criteria else 0)
        return [dataclasses.replace(self.dense, seed=seed) for seed in range(n)]

    def untrained_runs(self) -> list:
        return [SupermaskRun(dense, criterion, weights, self.densities) for dense in self.dense_runs()[:self.trials]
                for criterion in self.criteria for weights in self.weights]

    def learned_runs(self) -> list:
        return [] if self.learned is None else [dataclasses.replace(self.learned, seed=s)
                                                for s in range(self.learned_trials)]

    def retrain_lotteries(self, store=None) -> list:
        from lth.experiments import Lottery

        d = self.dense
        return [Lottery(d.dataset, d.model, d.training, dataclasses.replace(d.pruning, criterion=criterion), seed, store)
                for criterion in self.retrain_criteria for seed in range(self.retrain_trials)]

    def retrain_runs(self) -> list:
        return [lot.desc(level, "ticket") for lot in self.retrain_lotteries() for level in range(self.retrain_levels + 1)]

    def planned(self, parts=PARTS) -> dict:
        """``{part: [descriptions]}`` of every run the sweep stores when complete (``dense``: the dense runs)."""
        out = {"dense": self.dense_runs(), "untrained": self.untrained_runs(), "learned": self.learned_runs(),
               "retrain": [d for d in self.retrain_runs() if d not in set(self.dense_runs())]}
        return {part: runs for part, runs in out.items() if part == "dense" or part in parts}

    def run(self, parts=PARTS, store=None, progress=None, client=None) -> None:
        """Train and evaluate what is missing of ``parts`` (stored runs are never recomputed): the dense runs, then
        the untrained evaluations, the learned masks and the retraining lotteries level by level."""
        from lth import jobs, learned_masks
        from lth.experiments import run_lottery
        from lth.store import ResultsStore

        unknown = sorted(set(parts) - set(PARTS))
        if unknown:
            raise ValueError(f"unknown parts {unknown}; known: {list(PARTS)}")
        store = store or ResultsStore()
        if "untrained" in parts or "retrain" in parts:
            dense = [_dense_lottery(d, store) for d in self.dense_runs()]
            run_lottery(dense, 0, store=store, group_size=self.group_size, progress=progress, client=client)
        if "untrained" in parts:
            run_untrained(self.untrained_runs(), store, progress)
        if "learned" in parts and self.learned is not None:
            jobs.run_jobs([learned_masks.job(d) for d in self.learned_runs()], store, self.group_size, progress, client)
        if "retrain" in parts and self.retrain_criteria:
            run_lottery(self.retrain_lotteries(store), self.retrain_levels, store=store, group_size=self.group_size,
                        progress=progress, client=client)

    def stored(self, part: str, store=None) -> list:
        """The stored runs of ``part`` (``dense``, ``untrained``, ``learned``, ``retrain``; retrain includes level 0)."""
        from lth.store import ResultsStore

        store = store or ResultsStore()
        descs = {"dense": self.dense_runs, "untrained": self.untrained_runs, "learned": self.learned_runs,
                 "retrain": self.retrain_runs}[part]()
        return [run for run in (store.load(d.kind, d.to_dict()) for d in descs) if run is not None]

    def describe(self) -> str:
        """One sentence naming what the sweep runs."""
        d, t = self.dense, self.dense.training
        width = "" if d.model.width is None else f" at width {d.model.width} of 64"
        data = DATASET_LABELS[d.dataset.name] + ("" if d.dataset.subset is None
                                                 else f", first {d.dataset.subset:,} images per split")
        text = (f"{NETWORK_LABELS.get(d.model.name, d.model.name)}{width} on {data}; masks from dense runs of "
                f"{t.iterations:,} iterations (Adam {t.learning_rate:g}, batch {t.batch_size}), "
                f"{wording.count(self.trials, 'trial')}, {len(self.criteria)} criteria x {len(self.weights)} weight "
                f"treatments x {len(self.densities)} densities")
        if self.learned is not None and self.learned_trials:
            lt = self.learned.training
            text += (f"; learned masks: {lt.iterations:,} steps of {lt.optimizer.upper()} (learning rate "
                     f"{lt.learning_rate:g}, batch {lt.batch_size}), {self.learned_trials} trials")
        if self.retrain_criteria:
            rounds = wording.count(self.retrain_levels, 'round')
            text += (f"; retraining by criterion: {len(self.retrain_criteria)} criteria, {rounds} of iterative "
                     f"pruning, {self.retrain_trials} trials")
        return text


@dataclass(frozen=True)
class Scale:
    """How one network's sweep runs here (see :data:`SCALES`)."""

    dataset: str
    width: int | None
    learning_rate: float
    iterations: int
    trials: int
    learned_iterations: int
    learned_trials: int
    retrain_levels: int
    retrain_trials: int
    subset: int | None = None
    group_size: int = 4


DENSITIES = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8)
LEARNED_LEARNING_RATE = 100.0  # Zhou et al.'s train_supermask.py: SGD, momentum 0.9, batch 250
LEARNED_BATCH = 250
SCALES = {
    # the dense runs are Frankle & Carbin's (50,000 iterations, 5 trials), shared with lth.frankle_carbin's sweep
    "lenet300": Scale("mnist", None, 1.2e-3, 50_000, 5, learned_iterations=50_000, learned_trials=5,
                      retrain_levels=12, retrain_trials=3, group_size=9),
    # the dense runs are the Conv-4 sweep's of lth.frankle_carbin (width 16, 5,000 iterations on Fashion-MNIST)
    "conv4": Scale("fashion_mnist", 16, 3e-4, 5_000, 5, learned_iterations=20_000, learned_trials=5,
                   retrain_levels=0, retrain_trials=0, group_size=3),
}


def sweep(network: str, *, dataset: str | None = None, width: int | None | str = "default",
          iterations: int | None = None, trials: int | None = None, criteria=None, densities=None, weights=None,
          learned_iterations: int | None = None, learned_trials: int | None = None, retrain_criteria=None,
          retrain_levels: int | None = None, retrain_trials: int | None = None, eval_every: int = 100,
          subset: int | None | str = "default", group_size: int | None = None) -> SupermaskSweep:
    """The sweep of ``network`` at this book's scale (:data:`SCALES`), any value overridden.

    The dense runs use Frankle & Carbin's settings (Adam, batch 60, 5,000 images held out, test
    accuracy recorded at every evaluation, reported at minimum validation loss), the same as
    :mod:`lth.frankle_carbin`'s, so that the two chapters share them. Retraining (LeNet-300-100 only)
    covers all criteria unless ``retrain_criteria`` says otherwise.
    """
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; known: {list(NETWORKS)}")
    scale = SCALES[network]
    data = DatasetHparams(name=dataset or scale.dataset, subset=scale.subset if subset == "default" else subset)
    model = ModelHparams(network, width=scale.width if width == "default" else width)
    train = TrainingHparams(optimizer="adam", learning_rate=scale.learning_rate, batch_size=60,
                            iterations=iterations or scale.iterations, eval_every=eval_every,
                            best_monitor="val_loss", eval_test_each=True)
    dense = LotteryRun(data, model, train, PruningHparams(fraction=0.2), 0, 0, "ticket")
    learned_train = TrainingHparams(optimizer="sgd", learning_rate=LEARNED_LEARNING_RATE, momentum=0.9,
                                    batch_size=LEARNED_BATCH, iterations=learned_iterations or scale.learned_iterations,
                                    eval_every=max(eval_every, 1000), best_monitor="none")
    levels = scale.retrain_levels if retrain_levels is None else retrain_levels
    retrain = tuple(pruning.CRITERIA if retrain_criteria is None else retrain_criteria) if levels else ()
    return SupermaskSweep(
        network, dense, scale.trials if trials is None else trials, tuple(criteria or pruning.CRITERIA),
        tuple(densities or DENSITIES), tuple(weights or WEIGHTS), LearnedMaskRun(data, model, learned_train, 0),
        scale.learned_trials if learned_trials is None else learned_trials, retrain, levels,
        scale.retrain_trials if retrain_trials is None else retrain_trials, group_size or scale.group_size)


def chapter_sweeps(params: dict) -> tuple:
    """The chapter's two sweeps (LeNet-300-100, Conv-4) from its parameters (notebooks/supermasks.ipynb's
    UPPER_CASE names; ``book/params/supermasks.yaml`` sets them at the published scale)."""
    common = dict(trials=params["TRIALS"], criteria=params["CRITERIA"], densities=params["DENSITIES"],
                  learned_trials=params["LEARNED_TRIALS"])
    lenet = sweep("lenet300", iterations=params["LENET_ITERATIONS"], subset=params["LENET_SUBSET"],
                  learned_iterations=params["LEARNED_ITERATIONS"], retrain_criteria=params["RETRAIN_CRITERIA"],
                  retrain_levels=params["RETRAIN_LEVELS"], retrain_trials=params["RETRAIN_TRIALS"], **common)
    conv = sweep("conv4", dataset=params["CONV_DATASET"], width=params["CONV_WIDTH"],
                 iterations=params["CONV_ITERATIONS"], subset=params["CONV_SUBSET"],
                 learned_iterations=params["LEARNED_CONV_ITERATIONS"], **common)
    return lenet, conv


# ------------------------------------------------------------------ tables of the stored runs


def untrained_frame(runs) -> pd.DataFrame:
    """One row per density of each stored :class:`~lth.runs.SupermaskRun` (:data:`FRAME_COLUMNS`)."""
    rows = [{"criterion": r.config["criterion"], "weights": r.config["weights"], "density": density,
             "trial": r.config["dense"]["seed"], "test_accuracy": accuracy}
            for r in runs for density, accuracy in zip(r.result["density"], r.result["test_accuracy"])]
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def learned_frame(runs) -> pd.DataFrame:
    """One row per stored learned mask: its expected density and mean test accuracy over its draws."""
    rows = [{"criterion": LEARNED, "weights": LEARNED, "density": r.result["density"], "trial": r.config["seed"],
             "test_accuracy": r.result["test_accuracy"]} for r in runs]
    return pd.DataFrame(rows, columns=FRAME_COLUMNS)


def supermask_frame(sw: SupermaskSweep, store=None) -> pd.DataFrame:
    """The figure data of ``sw``: untrained accuracy per criterion, weights, density and trial, and the learned masks."""
    frame = pd.concat([untrained_frame(sw.stored("untrained", store)), learned_frame(sw.stored("learned", store))],
                      ignore_index=True)
    return frame.astype({"trial": int}).sort_values(["criterion", "weights", "density", "trial"], ignore_index=True)


def retrain_frame(runs) -> pd.DataFrame:
    """One row per stored retraining run (:data:`RETRAIN_COLUMNS`); round 0, the dense run, under every criterion."""
    rows = [{"criterion": r.config["pruning"]["criterion"], "round": r.config["level"], "density": r.result["density"],
             "trial": r.config["seed"], "early_stop_iteration": r.result["best_iteration"],
             "test_accuracy": r.result["test_accuracy"]} for r in runs]
    return pd.DataFrame(rows, columns=RETRAIN_COLUMNS).sort_values(["criterion", "round", "trial"], ignore_index=True)


def best_density(frame: pd.DataFrame) -> pd.DataFrame:
    """Per criterion and weights: the density with the highest mean accuracy over trials, that mean, and the trials."""
    columns = ["criterion", "weights", "density", "test_accuracy", "trials"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    # a learned mask's density is its own, a different one each trial: its rows form one group
    density = frame.density.where(frame.weights != LEARNED, -1.0)
    means = frame.assign(density=density).groupby(["criterion", "weights", "density"]).agg(
        test_accuracy=("test_accuracy", "mean"), trials=("trial", "nunique")).reset_index()
    best = means.loc[means.groupby(["criterion", "weights"]).test_accuracy.idxmax()].reset_index(drop=True)
    learned = frame[frame.weights == LEARNED].groupby("criterion").density.mean()
    best["density"] = [learned[c] if w == LEARNED else d for c, w, d in zip(best.criterion, best.weights, best.density)]
    return best[columns]


def coverage(sw: SupermaskSweep, store=None) -> pd.DataFrame:
    """Runs stored and planned per part, for the chapter and ``--status``."""
    from lth.store import ResultsStore

    store = store or ResultsStore()
    return pd.DataFrame([{"part": part, "stored": sum(store.load(d.kind, d.to_dict()) is not None for d in descs),
                          "planned": len(descs)} for part, descs in sw.planned().items()])


def coverage_text(sw: SupermaskSweep, store=None) -> str:
    """How much of ``sw`` is stored, as a phrase for the chapter ("n of N runs stored ...")."""
    table = coverage(sw, store)
    stored, planned = int(table.stored.sum()), int(table.planned.sum())
    if stored == planned:
        return f"all {planned} runs stored"
    parts = ", ".join(f"{p} {s} of {n}" for p, s, n in table[["part", "stored", "planned"]].itertuples(index=False))
    return (f"{stored} of {planned} runs stored ({parts}; dense runs and large_final retraining are shared "
            f"with the Frankle & Carbin chapter where the configurations match); the rest are not run yet "
            f"(python -m lth sweep-supermasks --network {sw.network}), so the figures and tables show what is stored")


def as_percent(value, missing: str = "not stored yet") -> str:
    """An accuracy for the prose: ``93.4 %``, or ``missing`` for None or NaN."""
    return missing if value is None or value != value else f"{value:.1%}"


def _best_row(best: pd.DataFrame, criterion: str, weights: str):
    """The :func:`best_density` row of ``criterion`` under ``weights``, or None if none is stored."""
    row = best[(best.criterion == criterion) & (best.weights == weights)]
    return row.iloc[0] if len(row) else None


def _best_of(best: pd.DataFrame, criterion: str, weights: str):
    """That row's mean test accuracy, or None."""
    row = _best_row(best, criterion, weights)
    return None if row is None else float(row.test_accuracy)


def untrained_sentence(frame: pd.DataFrame, network: str) -> str:
    """The prose under a network's untrained-supermask figure (:func:`supermask_frame` rows): the best density's
    mean of ``large_final_same_sign`` under each weight treatment with Zhou et al.'s numbers beside, or one
    sentence saying nothing is stored yet. It reports, and leaves the verdicts to the claims table."""
    best = best_density(frame[frame.weights != LEARNED])
    lfss = {w: _best_of(best, "large_final_same_sign", w) for w in ("init", "signed_constant", "reshuffle", "reinit")}
    if network == "lenet300":
        published = "Zhou et al., on MNIST: about 80 % and 86 %"
    else:
        published = ("Zhou et al., on CIFAR-10: 41 % with signed constants; Fashion-MNIST is an easier task, so "
                     "only the distance from chance compares")
    if all(v is None for v in lfss.values()):
        return (f"No untrained evaluation of {NETWORK_LABELS[network]} is stored yet at this page's scale "
                f"({published}).")
    text = (f"With large_final_same_sign the untrained {NETWORK_LABELS[network]} reaches "
            f"{as_percent(lfss['init'])} with its initial weights and {as_percent(lfss['signed_constant'])} with "
            f"signed constants at the best density ({published})")
    large_final = _best_of(best, "large_final", "init")
    if large_final is not None:
        text += f"; large_final, plain magnitude pruning, reaches {as_percent(large_final)}"
    return (text + f". Reshuffling the kept values within their layer gives {as_percent(lfss['reshuffle'])} and "
            f"re-initialising them {as_percent(lfss['reinit'])}.")


def learned_sentence(frames: dict, datasets: dict) -> str:
    """The prose under the learned-mask figure: per network (``frames`` maps it to its :func:`supermask_frame`,
    ``datasets`` to its data set's label) the mean accuracy and expected density over trials with Zhou et al.'s
    number beside, or that none is stored yet."""
    parts = []
    for network, frame in frames.items():
        learned = frame[frame.weights == LEARNED]
        head = f"{NETWORK_LABELS[network]} on {datasets[network]}"
        published = f"Zhou et al., on {PUBLISHED_DATASET[network]}: {PUBLISHED[(network, LEARNED)]:.0%}"
        if len(learned):
            parts.append(f"{head}: {as_percent(learned.test_accuracy.mean())}, keeping "
                         f"{as_percent(learned.density.mean())} of the weights in expectation, mean over "
                         f"{wording.count(learned.trial.nunique(), 'trial')} ({published})")
        else:
            parts.append(f"{head}: no learned mask stored yet ({published})")
    return "Learned masks, without a single weight trained. " + "; ".join(parts) + "."


# ------------------------------------------------------------------ Zhou et al.'s numbers and the chapter's claims

# Zhou et al. 2019: best supermask (large_final_same_sign) with the initial weights and with signed constants,
# and the learned supermask, on MNIST (LeNet-300-100) and CIFAR-10 (Conv-4); test accuracy
PUBLISHED = {("lenet300", "init"): 0.80, ("lenet300", "signed_constant"): 0.86, ("lenet300", LEARNED): 0.95,
             ("conv4", "signed_constant"): 0.41, ("conv4", LEARNED): 0.65}
PUBLISHED_DATASET = {"lenet300": "MNIST", "conv4": "CIFAR-10"}


def published_table(frames: dict) -> pd.DataFrame:
    """Zhou et al.'s numbers beside ours: ``frames`` maps a network to its :func:`supermask_frame`. Ours is the best
    density's mean over trials of ``large_final_same_sign`` (or the learned mask's mean), with the trials."""
    rows = []
    for (network, weights), value in PUBLISHED.items():
        best = best_density(frames.get(network, pd.DataFrame(columns=FRAME_COLUMNS)))
        criterion = LEARNED if weights == LEARNED else "large_final_same_sign"
        ours = _best_row(best, criterion, weights)
        rows.append({"network": NETWORK_LABELS[network], "mask": "learned mask" if weights == LEARNED else
                     f"large_final_same_sign, {'initial weights' if weights == 'init' else 'signed constants'}",
                     "published": value, "published data": PUBLISHED_DATASET[network],
                     "ours": np.nan if ours is None else float(ours.test_accuracy),
                     "our density": np.nan if ours is None else float(ours.density),
                     "trials": 0 if ours is None else int(ours.trials)})
    return pd.DataFrame(rows)


def _paired(frame: pd.DataFrame, a: tuple, b: tuple | None, cell: str = "density") -> pd.DataFrame:
    """:func:`lth.stats.cells_frame` of the per-trial differences ``a - b`` (or the values of ``a`` minus chance when
    ``b`` is None) per ``cell``: ``a`` and ``b`` are (criterion, weights) pairs."""
    from lth import stats

    def spec(key):
        return {"criterion": key[0], "weights": key[1]}

    if b is None:
        x = frame[(frame.criterion == a[0]) & (frame.weights == a[1])].set_index([cell, "trial"]).test_accuracy
        diff = x - CHANCE
    else:
        diff = stats.paired_differences(frame, spec(a), spec(b), [cell, "trial"])
    return stats.cells_frame([(f"{c:.0%}" if cell == "density" else f"round {c}", part.to_numpy(), None)
                              for c, part in diff.groupby(level=0)])


def untrained_claims(frame: pd.DataFrame, margin, seed: int = 0) -> pd.DataFrame:
    """Zhou et al.'s supermask claims on our untrained networks, decided by :mod:`lth.stats` (differences paired by
    trial: the same dense run; one cell per density, Holm across them)."""
    from lth import stats

    lfss = "large_final_same_sign"
    specs = [
        ("beats_chance", "The large_final_same_sign supermask with signed constants beats chance (10 %)",
         (lfss, "signed_constant"), None),
        ("constant_beats_init", "Signed constants beat the initial values under the large_final_same_sign mask",
         (lfss, "signed_constant"), (lfss, "init")),
        ("same_sign_beats_large_final", "large_final_same_sign beats large_final as a supermask (initial values)",
         (lfss, "init"), ("large_final", "init")),
        ("init_beats_reshuffle", "The kept weights' own initial values beat the same values reshuffled",
         (lfss, "init"), (lfss, "reshuffle")),
        ("init_beats_reinit", "The kept weights' own initial values beat a re-initialisation",
         (lfss, "init"), (lfss, "reinit")),
    ]
    claims = [(stats.Claim(key, text, "greater", margin, b=None), _paired(frame, a, b)) for key, text, a, b in specs]
    return stats.claims_table(claims, seed=seed, missing="no stored runs in these cells yet")


def learned_claims(frame: pd.DataFrame, margin, seed: int = 0) -> pd.DataFrame:
    """The learned mask against the best criterion supermask (large_final_same_sign with signed constants at each
    trial's best density), paired by trial (the same initial weights)."""
    from lth import stats

    learned = frame[frame.criterion == LEARNED].set_index("trial").test_accuracy
    lfss = frame[(frame.criterion == "large_final_same_sign") & (frame.weights == "signed_constant")]
    best = lfss.groupby("trial").test_accuracy.max()
    diff = (learned - best).dropna()
    claim = stats.Claim("learned_beats_criterion", "A learned mask beats the best large_final_same_sign supermask "
                        "(signed constants, each trial's best density)", "greater", margin, b=None,
                        published={"all": 100 * (PUBLISHED[("lenet300", LEARNED)]
                                                 - PUBLISHED[("lenet300", "signed_constant")])})
    cells = stats.cells_frame([("all", diff.to_numpy(), None)] if len(diff) else [])
    return stats.claims_table([(claim, cells)], seed=seed, missing="no stored learned masks yet")


def retrain_claims(frame: pd.DataFrame, margin, seed: int = 0) -> pd.DataFrame:
    """Zhou et al.'s Fig. 2 on our retrained tickets (test accuracy at early stop), per round >= 1, paired by trial:
    large_final beats the random mask and small_final; magnitude_increase and movement are alike large_final."""
    from lth import stats

    pruned = frame[frame["round"] > 0].assign(weights="retrained")
    specs = [("large_final_beats_random", "Retrained large_final tickets beat random masks", "greater", "random"),
             ("large_final_beats_small_final", "Retrained large_final tickets beat small_final ones", "greater",
              "small_final"),
             ("magnitude_increase_alike", "magnitude_increase tickets are alike large_final ones", "alike",
              "magnitude_increase"),
             ("movement_alike", "movement tickets are alike large_final ones", "alike", "movement")]
    claims = []
    for key, text, direction, other in specs:
        a, b = ("large_final", "retrained"), (other, "retrained")
        if direction == "alike":
            a, b = b, a
        claims.append((stats.Claim(key, text, direction, margin, b=None), _paired(pruned, a, b, cell="round")))
    return stats.claims_table(claims, seed=seed, missing="no stored retraining runs yet")


# ------------------------------------------------------------------ cost


def read_cost() -> dict:
    """:func:`estimate_cost`'s stored measurements, by network ({} if none)."""
    file = paths.bench_root() / COST_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def _steady_cost(trainees, data, hp: TrainingHparams) -> tuple[float, float]:
    """Train ``trainees`` for ``hp.iterations`` steps; return the process CPU seconds per network and step after the
    first evaluation period, and that first period's excess per group (tracing and compiling)."""
    marks, start = [], time.process_time()
    training.train(trainees, data, hp, progress=lambda step, *_: marks.append((step, time.process_time())))
    (first_step, first), (last_step, last) = marks[0], marks[-1]
    per_step = (last - first) / (last_step - first_step) / len(trainees)
    return per_step, max(0.0, first - start - per_step * first_step * len(trainees))


def estimate_cost(sw: SupermaskSweep, steps: int = 500) -> dict:
    """Time each part of ``sw`` briefly in a scratch store and scale up to the whole sweep; record the result
    under ``results/bench/`` and return it.

    One group of ``sw.group_size`` dense networks and one of learned masks train for ``steps`` steps,
    evaluating as often as the sweep does (the learned masks at most every ``steps / 2``, which counts
    their evaluations more often than the sweep runs them); the steady cost per network and step is
    timed after the first evaluation period, whose excess (tracing, compiling) is recorded per group.
    One criterion's untrained evaluations run on a dense network. Process CPU seconds: a loaded
    machine inflates them less than wall time (the load average is recorded beside them).
    """
    from lth import learned_masks
    from lth.experiments import run_lottery
    from lth.jobs import load_data
    from lth.store import ResultsStore, code_version

    if steps < 2 * sw.dense.training.eval_every:
        raise ValueError(f"steps must cover two evaluations of the dense runs ({2 * sw.dense.training.eval_every}), "
                         f"got {steps}")
    dense_hp = dataclasses.replace(sw.dense.training, iterations=steps)
    dense = [dataclasses.replace(sw.dense, training=dense_hp, seed=s) for s in range(sw.group_size)]
    cost = {"steps": steps, "group_size": sw.group_size}
    with tempfile.TemporaryDirectory() as scratch:
        store = ResultsStore(scratch)
        lotteries = [_dense_lottery(d, store) for d in dense]
        cost["dense_cpu_s_per_network_step"], cost["dense_compile_cpu_s_per_group"] = _steady_cost(
            [lot.job(0).build() for lot in lotteries], load_data(sw.dense.dataset), dense_hp)
        run_lottery(lotteries[:1], 0, store=store)
        start = time.process_time()
        run_untrained([SupermaskRun(dense[0], "large_final", w, sw.densities) for w in sw.weights], store)
        cost["untrained_cpu_s_per_criterion"] = time.process_time() - start
        if sw.learned is not None:
            learned_hp = dataclasses.replace(sw.learned.training, iterations=steps,
                                             eval_every=min(sw.learned.training.eval_every, steps // 2))
            learned = [dataclasses.replace(sw.learned, training=learned_hp, seed=s) for s in range(sw.group_size)]
            cost["learned_cpu_s_per_network_step"], cost["learned_compile_cpu_s_per_group"] = _steady_cost(
                [learned_masks.job(d).build() for d in learned], load_data(sw.learned.dataset), learned_hp)
    cost |= {"cpu_count": os.cpu_count(), "load_average": os.getloadavg()[0],
             "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "git_commit": code_version()["git_commit"]}
    cost["sweep_machine_hours"] = planned_hours(sw, cost)
    recorded = read_cost() | {sw.network: cost}
    file = paths.bench_root() / COST_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(recorded, indent=1, sort_keys=True))
    return cost


def describe_cost(cost: dict) -> str:
    """:func:`estimate_cost`'s measurements in one sentence."""
    hours = cost["sweep_machine_hours"]
    return (f"{cost['dense_cpu_s_per_network_step'] * 1000:.2f} ms CPU per dense network and step, "
            f"{cost.get('learned_cpu_s_per_network_step', 0) * 1000:.2f} ms per learned mask and step, "
            f"{cost['untrained_cpu_s_per_criterion']:.1f} s per criterion's untrained evaluations (load average "
            f"{cost['load_average']:.1f} on {cost['cpu_count']} cores): what is missing takes about "
            f"{hours['all']:.1f} machine-hours (" + ", ".join(f"{p} {h:.2f}" for p, h in hours.items() if p != "all") + ")")


def planned_hours(sw: SupermaskSweep, cost: dict, store=None) -> dict:
    """Machine-hours (CPU seconds / cores) of each part of ``sw`` not stored yet, at :func:`estimate_cost`'s ``cost``."""
    from lth.store import ResultsStore

    store = store or ResultsStore()
    missing = {part: [d for d in descs if store.load(d.kind, d.to_dict()) is None]
               for part, descs in sw.planned().items()}
    return _hours(sw, cost, missing)


def _hours(sw: SupermaskSweep, cost: dict, missing: dict) -> dict:
    """Machine-hours of the runs ``missing`` (part -> descriptions) at ``cost``, per part and in ``all``."""
    kind = {"dense": "dense", "retrain": "dense", "learned": "learned"}
    hours = {}
    for part, descs in missing.items():
        if part in kind:
            per_step = cost.get(f"{kind[part]}_cpu_s_per_network_step", 0.0)
            compile_s = cost.get(f"{kind[part]}_compile_cpu_s_per_group", 0.0) / sw.group_size
            hours[part] = sum(per_step * d.training.iterations + compile_s for d in descs) / cost["cpu_count"] / 3600
    criteria = {(d.dense, d.criterion) for d in missing.get("untrained", [])}
    hours["untrained"] = len(criteria) * cost["untrained_cpu_s_per_criterion"] / cost["cpu_count"] / 3600
    return hours | {"all": sum(hours.values())}


def status(sw: SupermaskSweep, store=None) -> dict:
    """What ``sw`` has stored, loading each planned run once: ``stored`` and ``planned`` run counts, ``runs``
    (the stored ones), ``hours_left`` (machine-hours at :func:`estimate_cost`'s recorded cost; None when none
    is recorded)."""
    from lth.store import ResultsStore

    store = store or ResultsStore()
    found = {part: [(d, store.load(d.kind, d.to_dict())) for d in descs] for part, descs in sw.planned().items()}
    runs = [run for pairs in found.values() for _, run in pairs if run is not None]
    missing = {part: [d for d, run in pairs if run is None] for part, pairs in found.items()}
    cost = read_cost().get(sw.network)
    return {"stored": len(runs), "planned": sum(len(pairs) for pairs in found.values()), "runs": runs,
            "hours_left": _hours(sw, cost, missing)["all"] if cost is not None else None}


# ------------------------------------------------------------------ pruning trained networks without retraining


def prune_trained_table(lottery, data, densities) -> "pd.DataFrame":
    """Accuracy of the trained dense network pruned without retraining: magnitude, L1 unit, random."""
    init, final = lottery.dense_weights()
    model = lottery.network()
    rng = np.random.default_rng(lottery.seed)
    rows = []
    for density in densities:
        pruning.check_density(density)
        full = {n: np.ones(w.shape, dtype=bool) for n, w in final.items()}
        hidden = {n: w for n, w in final.items() if n != "output"}
        methods = {
            "magnitude (unstructured)": pruning.masks_at_density({n: np.abs(w) for n, w in final.items()}, density),
            "L1 norm of units (structured)": pruning.filter_masks(hidden, 1 - density) | {"output": full["output"]}
            if "output" in final else pruning.filter_masks(hidden, 1 - density),
            "random choice of weights": pruning.masks_at_density({n: rng.random(w.shape) for n, w in final.items()}, density),
        }
        for method, masks in methods.items():
            apply_weights_and_masks(model, final, masks)
            rows.append({"seed": lottery.seed, "method": method, "density": density,
                         "kept": pruning.density(masks), "test_accuracy": evaluate(model, data)})
    return pd.DataFrame(rows)
