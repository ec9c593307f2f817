"""Frankle & Carbin (2019) as resumable sweeps: LeNet-300-100, Conv-2/4/6 and the VGG learning-rate experiment.

One :class:`Sweep` per network says everything its runs are: data, model and width, the training
settings (VGG has three: learning rate 0.1, 0.01, and 0.1 with linear warm-up), the pruning rule,
the rounds, and how many trials each method gets. :func:`sweep` builds one at this book's scale
(:data:`SCALES`: Frankle & Carbin's own settings for LeNet-300-100; narrower, shorter Conv and VGG
networks on Fashion-MNIST, the stand-in for CIFAR-10, chosen so that the sweeps fit the machine),
any field overridden. The command line (``python -m lth sweep-fc``), the chapter and the figure
data all build their sweeps here, so the book reads exactly the runs the sweep stores.

:meth:`Sweep.run` trains what is missing level by level (:func:`lth.experiments.run_lottery`), so
an interrupted sweep resumes; :func:`status` counts what is stored and estimates the machine-hours
left from the stored runs' provenance, or, before any is stored, from :func:`estimate_cost`'s
short timed run.
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

from lth import paths
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams
from lth.runs import LotteryRun

NETWORKS = ("lenet300", "conv2", "conv4", "conv6", "vgg")
METHODS = {"ticket": "ticket", "random_reinit": "random", "oneshot": "oneshot", "random_mask": "random_mask"}
METHOD_LABELS = {"ticket": "winning ticket", "random": "random re-initialisation", "oneshot": "one-shot pruning",
                 "random_mask": "random mask"}
INPUT_SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
DATASET_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST (the stand-in for CIFAR-10)",
                  "cifar10": "CIFAR-10"}
COST_FILE = "fc-sweep-cost.json"  # estimate_cost's measurements, under results/bench


@dataclass(frozen=True)
class Published:
    """Frankle & Carbin's settings for one network (their Fig. 2 and appendices)."""

    model: str
    dataset: str
    optimizer: str
    learning_rate: float
    iterations: int
    batch_size: int
    width: int | None  # first convolution's filters (None: not a convolutional network)


PUBLISHED = {
    "lenet300": Published("lenet300", "mnist", "adam", 1.2e-3, 50_000, 60, None),
    "conv2": Published("conv2", "cifar10", "adam", 2e-4, 20_000, 60, 64),
    "conv4": Published("conv4", "cifar10", "adam", 3e-4, 25_000, 60, 64),
    "conv6": Published("conv6", "cifar10", "adam", 3e-4, 30_000, 60, 64),
    "vgg": Published("vgg19", "cifar10", "sgd", 0.1, 112_000, 64, 64),
}
# VGG-19: the learning rate divided by 10 at 56K and 84K of 112K iterations; warm-up over the first 10K
VGG_MILESTONES = (0.5, 0.75)
VGG_WARMUP = 10_000 / 112_000
VGG_SETTINGS = {"lr 0.1": (0.1, False), "lr 0.01": (0.01, False), "lr 0.1 warm-up": (0.1, True)}


@dataclass(frozen=True)
class Scale:
    """How a network's sweep runs here: data, width, iterations (the same for every method), rounds, trials."""

    dataset: str
    width: int | None
    iterations: int
    levels: int
    trials: dict  # variant -> trials (the ticket's count is the number of lotteries)
    eval_every: int = 100
    subset: int | None = None
    group_size: int = 4


SCALES = {
    # Frankle & Carbin's own scale: 50K iterations, rounds 0-18 (Pm 100 % .. 1.9 %)
    "lenet300": Scale("mnist", None, 50_000, 18, {"ticket": 5, "random_reinit": 5, "oneshot": 5, "random_mask": 3},
                      group_size=9),
    # a quarter of the width and a fifth of the iterations, so that the three fit ~10 machine-hours
    # (results/bench/fc-sweep-cost.json); rounds until at most 2 % of the weights remain (levels_to)
    "conv2": Scale("fashion_mnist", 16, 4_000, 18, {"ticket": 3, "random_reinit": 3}, group_size=3),
    "conv4": Scale("fashion_mnist", 16, 5_000, 23, {"ticket": 3, "random_reinit": 3}, group_size=3),
    "conv6": Scale("fashion_mnist", 16, 6_000, 23, {"ticket": 3, "random_reinit": 3}, group_size=3),
    # VGG-19 at an eighth of the width and 1/50 of the iterations (warm-up 200, milestones 1,120 and 1,680);
    # global pruning until at most 5 % remain (14 rounds)
    "vgg": Scale("fashion_mnist", 8, 2_240, 14, {"ticket": 3, "random_reinit": 3}, group_size=3),
}


@dataclass(frozen=True)
class Sweep:
    """Every run of one network's experiment: each training setting's lotteries, levels 0..``levels``."""

    network: str
    dataset: DatasetHparams
    model: ModelHparams
    settings: tuple  # ((label, TrainingHparams), ...)
    pruning: PruningHparams
    levels: int
    trials: tuple  # ((variant, trials), ...), the ticket first
    group_size: int = 4

    def lotteries(self, training: TrainingHparams, store=None) -> list:
        from lth.experiments import Lottery

        return [Lottery(self.dataset, self.model, training, self.pruning, seed, store)
                for seed in range(dict(self.trials)["ticket"])]

    def variants(self) -> dict:
        """The methods of rounds 1.. and their trial counts, as :func:`lth.experiments.run_lottery` takes them."""
        return dict(self.trials)

    def planned(self) -> list:
        """``(setting label, LotteryRun)`` of every run the sweep stores when complete."""
        lotteries = dict(self.trials)["ticket"]
        return [(label, LotteryRun(self.dataset, self.model, training, self.pruning, seed, level, variant))
                for label, training in self.settings for level in range(self.levels + 1)
                for variant, n in (self.trials[:1] if level == 0 else self.trials)
                for seed in range(min(n, lotteries))]

    def run(self, store=None, progress=None, client=None, group_size: int | None = None) -> None:
        """Train every missing run, one setting after another, level by level (stored runs are never retrained)."""
        from lth.experiments import run_lottery

        for _, training in self.settings:
            run_lottery(self.lotteries(training), self.levels, variants=self.variants(), store=store,
                        group_size=group_size or self.group_size, progress=progress, client=client)

    def stored(self, store=None) -> list:
        """``(setting label, run)`` of the runs stored so far (nothing is trained)."""
        from lth.store import ResultsStore

        store = store or ResultsStore()
        found = [(label, store.load(desc.kind, desc.to_dict())) for label, desc in self.planned()]
        return [(label, run) for label, run in found if run is not None]

    def runs(self, train_missing: bool = False, store=None) -> list:
        """The stored runs, after training the missing ones if ``train_missing`` (a chapter's RUN_MISSING)."""
        if train_missing:
            self.run(store)
        return [run for _, run in self.stored(store)]

    def describe(self) -> str:
        """One sentence naming what the sweep runs, with its scale against the published one."""
        published = PUBLISHED[self.network]
        training = self.settings[0][1]
        scaled = [] if self.model.width is None else [
            f"width {self.model.width} of {published.width} (every layer x{self.model.width / published.width:g})"]
        if training.iterations != published.iterations:
            scaled.append(f"{training.iterations:,} of the published {published.iterations:,} iterations")
        else:
            scaled.append(f"{training.iterations:,} iterations")
        trials = "trials: " + ", ".join(f"{METHOD_LABELS[METHODS[v]]} {n}" for v, n in self.trials)
        data = DATASET_LABELS[self.dataset.name] + ("" if self.dataset.subset is None
                                                     else f", first {self.dataset.subset:,} images per split")
        return (f"{models_label(self.model.name)} on {data}: {', '.join(scaled)}, "
                f"{training.optimizer.upper() if training.optimizer == 'sgd' else 'Adam'} batch {training.batch_size}, "
                f"{self.levels} pruning rounds, {trials}")


def coverage(sw: Sweep, runs: list) -> str:
    """How much of ``sw`` its stored ``runs`` cover, as a phrase for the chapter ("n of N runs stored ...")."""
    planned = len(sw.planned())
    text = f"{len(runs)} of {planned} runs stored"
    if len(runs) < planned:
        text += (f"; the rest are not trained yet (the sweep-fc command trains them for {sw.network}), "
                 "so the figures and tables show what is stored")
    return text


def models_label(name: str) -> str:
    return {"lenet300": "LeNet-300-100", "conv2": "Conv-2", "conv4": "Conv-4", "conv6": "Conv-6",
            "vgg16": "VGG-16", "vgg19": "VGG-19"}.get(name, name)


def _vgg_training(label: str, iterations: int, eval_every: int) -> TrainingHparams:
    if label not in VGG_SETTINGS:
        raise ValueError(f"unknown VGG setting {label!r}; known: {list(VGG_SETTINGS)}")
    learning_rate, warmup = VGG_SETTINGS[label]
    return TrainingHparams(optimizer="sgd", learning_rate=learning_rate, momentum=0.9, batch_size=64,
                           iterations=iterations, eval_every=eval_every,
                           warmup_iterations=round(VGG_WARMUP * iterations) if warmup else 0,
                           lr_milestones=tuple(round(m * iterations) for m in VGG_MILESTONES),
                           best_monitor="val_loss", eval_test_each=True)


def sweep(network: str, *, dataset: str | None = None, width: int | None | str = "default",
          iterations: int | None = None, levels: int | None = None, trials: int | None = None,
          random_mask_trials: int | None = None, eval_every: int | None = None, subset: int | None | str = "default",
          settings: list | None = None, group_size: int | None = None) -> Sweep:
    """The sweep of ``network`` at this book's scale (:data:`SCALES`), any of its values overridden.

    ``trials`` sets every method's trials but the random mask's (``random_mask_trials``, LeNet only);
    ``settings`` picks VGG's training settings (default all of :data:`VGG_SETTINGS`).
    """
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; known: {list(NETWORKS)}")
    scale, published = SCALES[network], PUBLISHED[network]
    iterations = iterations or scale.iterations
    eval_every = eval_every or scale.eval_every
    counts = dict(scale.trials)
    if trials is not None:
        counts = {v: (n if v == "random_mask" else trials) for v, n in counts.items()}
    if random_mask_trials is not None:
        if "random_mask" not in counts:
            raise ValueError(f"the {network} sweep runs no random mask; only lenet300's does")
        counts["random_mask"] = random_mask_trials
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in counts.values()) or counts["ticket"] < 1:
        raise ValueError(f"trials must be ints, at least 1 for the ticket, got {counts}")
    data = DatasetHparams(name=dataset or scale.dataset, subset=scale.subset if subset == "default" else subset)
    model = ModelHparams(published.model, width=scale.width if width == "default" else width)
    if network == "vgg":
        chosen = list(VGG_SETTINGS) if settings is None else list(settings)
        runs = tuple((label, _vgg_training(label, iterations, eval_every)) for label in chosen)
        prune = PruningHparams(fraction=0.2, scope="global", rate_factors="none")
    else:
        if settings is not None:
            raise ValueError(f"settings apply to the vgg sweep only, not {network!r}")
        runs = ((f"lr {published.learning_rate:g}", TrainingHparams(
            optimizer="adam", learning_rate=published.learning_rate, batch_size=published.batch_size,
            iterations=iterations, eval_every=eval_every, best_monitor="val_loss", eval_test_each=True)),)
        prune = PruningHparams(fraction=0.2)
    return Sweep(network, data, model, runs, prune, scale.levels if levels is None else levels,
                 tuple(counts.items()), group_size or scale.group_size)


# ------------------------------------------------------------------ how far a sweep has got, and its cost


def status(sw: Sweep, store=None) -> dict:
    """What ``sw`` has stored: ``table`` (trials stored per setting, method and round), ``stored`` and
    ``planned`` run counts, ``hours_left`` (machine-hours; None when nothing says what a run costs),
    ``basis``, where that estimate comes from, and ``runs``, the stored runs."""
    from lth.seed.report import compute_hours

    stored = {(label, run.config["variant"], run.config["level"], run.config["seed"]): run
              for label, run in sw.stored(store)}
    planned = [(label, desc.variant, desc.level, desc.seed) for label, desc in sw.planned()]
    counts = pd.DataFrame([{"setting": label, "method": METHODS[variant], "round": level,
                            "stored": int((label, variant, level, seed) in stored)}
                           for label, variant, level, seed in planned])
    table = counts.pivot_table(index=["setting", "method"], columns="round", values="stored", aggfunc="sum",
                               sort=False)
    missing = len(planned) - len(stored)
    hours, basis = None, None
    if stored:
        hours = compute_hours(list(stored.values())) / len(stored) * missing
        basis = f"the mean machine time of the {len(stored)} stored runs (CPU time / cores / group size)"
    elif (cost := read_cost().get(sw.network)) is not None:
        per_run = (cost["cpu_s_per_network_step"] * sw.settings[0][1].iterations
                   + cost["compile_cpu_s_per_group"] / sw.group_size) / cost["cpu_count"] / 3600
        hours = per_run * missing
        basis = (f"a timed run of {cost['steps']} steps of {cost['group_size']} networks on {cost['measured_utc']} "
                 f"(load average {cost['load_average']:.1f} on {cost['cpu_count']} cores)")
    return {"table": table, "stored": len(stored), "planned": len(planned), "hours_left": hours, "basis": basis,
            "runs": list(stored.values())}


def read_cost() -> dict:
    """:func:`estimate_cost`'s stored measurements, by network ({} if none)."""
    file = paths.bench_root() / COST_FILE
    return json.loads(file.read_text()) if file.exists() else {}


def estimate_cost(sw: Sweep, steps: int = 300, progress=None) -> dict:
    """Time ``sw``'s first training setting: one group of ``sw.group_size`` dense networks for ``steps`` steps in
    a scratch store, the first evaluation period (tracing, compiling) timed apart from the rest.

    Returns (and records under ``results/bench/``) the process CPU seconds per network and step after
    the first period, the first period's excess per group, and the machine-hours of the whole sweep;
    CPU time, not wall time, so a machine loaded by other work inflates it less (the load average
    is recorded beside it).
    """
    from lth import jobs, training
    from lth.store import ResultsStore, code_version

    label, train = sw.settings[0]
    if steps < 2 * train.eval_every:
        raise ValueError(f"steps must cover at least two evaluations ({2 * train.eval_every}), got {steps}")
    timed = dataclasses.replace(train, iterations=steps)
    marks = []
    with tempfile.TemporaryDirectory() as scratch:
        store = ResultsStore(scratch)
        lotteries = [lot for lot in dataclasses.replace(sw, trials=(("ticket", sw.group_size),)).lotteries(timed, store)]
        trainees = [lot.job(0).build() for lot in lotteries]
        data = jobs.load_data(sw.dataset)
        start = time.process_time()
        training.train(trainees, data, timed, progress=lambda step, *_: marks.append((step, time.process_time())))
    (first_step, first_cpu), (last_step, last_cpu) = marks[0], marks[-1]
    per_step = (last_cpu - first_cpu) / (last_step - first_step) / len(trainees)
    compile_excess = (first_cpu - start) - per_step * first_step * len(trainees)
    cost = {"cpu_s_per_network_step": per_step, "compile_cpu_s_per_group": max(0.0, compile_excess),
            "steps": steps, "group_size": len(trainees), "setting": label, "cpu_count": os.cpu_count(),
            "load_average": os.getloadavg()[0], "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "git_commit": code_version()["git_commit"]}
    runs = len(sw.planned())
    cost["sweep_machine_hours"] = runs * (per_step * train.iterations + cost["compile_cpu_s_per_group"]
                                          / sw.group_size) / cost["cpu_count"] / 3600
    cost["sweep_runs"] = runs
    recorded = read_cost() | {sw.network: cost}
    file = paths.bench_root() / COST_FILE
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(recorded, indent=1, sort_keys=True))
    return cost


def levels_to(sw: Sweep, density: float) -> int:
    """The first round at which ``sw``'s pruning rule leaves at most ``density`` of the prunable weights
    (counted from the kernel sizes, rounding as :func:`lth.pruning.prune_masks` does)."""
    from lth import flops, models

    net = models.build(sw.model.name, seed=0, input_shape=INPUT_SHAPES[sw.dataset.name], width=sw.model.width)
    sizes = {n: s for n, s in flops.kernel_sizes(net).items() if n in models.prunable_layers(sw.model.name, net)}
    factors = models.spec(sw.model.name).rate_factors if sw.pruning.rate_factors == "model" else {}
    kept, total = dict(sizes), sum(sizes.values())
    for level in range(1, 200):
        if sw.pruning.scope == "global":
            remaining = sum(kept.values())
            kept = {"all": remaining - int(round(sw.pruning.fraction * remaining))}
        else:
            kept = {n: k - int(round(sw.pruning.fraction * factors.get(n, 1.0) * k)) for n, k in kept.items()}
        if sum(kept.values()) / total <= density:
            return level
    raise ValueError(f"{sw.network} never reaches density {density}")


# ------------------------------------------------------------------ tables of the stored runs

PUBLISHED_ROUNDS = {3: "51.3 %", 7: "21.1 %", 12: "7.0 %", 15: "3.6 %", 18: "1.9 %"}  # F&C's Figs. 3 and 4


def summary(frame: pd.DataFrame, value: str, by=("method", "round"), interval: str = "minmax") -> pd.DataFrame:
    """Per group of ``by`` (of :func:`lth.figures.fc_frame` rows): the mean density, compression and FLOPs,
    and ``value``'s trials ``n``, ``mean``, ``std``, and interval ``low``/``high``: the range over trials
    (``interval="minmax"``) or the t-based 95 % interval of the mean (``"ci95"``)."""
    from scipy import stats as scipy_stats

    if interval not in ("minmax", "ci95"):
        raise ValueError(f"interval must be 'minmax' or 'ci95', got {interval!r}")
    by = list(by)
    grouped = frame.groupby(by, sort=True)
    out = grouped.agg(density=("density", "mean"), compression=("compression", "mean"), flops=("flops", "mean"),
                      n=(value, "count"), mean=(value, "mean"), std=(value, "std"), low=(value, "min"),
                      high=(value, "max")).reset_index()
    if interval == "ci95":
        half = scipy_stats.t.ppf(0.975, np.maximum(out.n - 1, 1)) * out["std"] / np.sqrt(out.n)
        out["low"], out["high"] = out["mean"] - half, out["mean"] + half
    return out


def unpruned(frame: pd.DataFrame, value: str) -> tuple:
    """Mean, standard deviation and trials of ``value`` for the unpruned network (round 0)."""
    dense = frame.loc[frame["round"] == 0, value]
    return float(dense.mean()), float(dense.std()) if len(dense) > 1 else float("nan"), int(len(dense))


def network_weights(sw: Sweep) -> tuple:
    """(every real weight, the prunable kernels' weights, dense multiply-adds) of ``sw``'s network."""
    from lth import flops, models

    net = models.build(sw.model.name, seed=0, input_shape=INPUT_SHAPES[sw.dataset.name], width=sw.model.width)
    out = flops.footprint(net, prunable=models.prunable_layers(sw.model.name, net))
    return out["weights"], out["prunable_weights"], out["dense_flops"]


OPERATING_POINT_COLUMNS = ["method", "round", "weights remaining", "compression (prunable)", "compression (network)",
                           "FLOPs (multiply-adds)", "speed-up", "early-stop iteration", "test accuracy",
                           "change from unpruned", "trials"]


def operating_points(frame: pd.DataFrame, sw: Sweep, accuracy: str = "test_accuracy_at_early_stop",
                     rounds=None) -> pd.DataFrame:
    """Blalock et al.'s table: per method and round, weights remaining, compression ratio of the prunable
    weights and of the whole network, FLOPs and theoretical speed-up, the early-stop iteration and
    ``accuracy`` as mean ± std over trials, and the change from the unpruned network beside its accuracy."""
    total, prunable, dense_flops = network_weights(sw)
    base, base_std, base_n = unpruned(frame, accuracy)
    speed, acc = summary(frame, "early_stop_iteration"), summary(frame, accuracy)
    rows = []
    for s, a in zip(speed.itertuples(), acc.itertuples()):
        if rounds is not None and a.round not in rounds:
            continue
        removed = prunable * (1 - a.density)
        rows.append({"method": "unpruned network" if a.round == 0 else METHOD_LABELS[a.method], "round": a.round,
                     "weights remaining": a.density,
                     "compression (prunable)": f"{a.compression:.1f}x",
                     "compression (network)": f"{total / (total - removed):.1f}x",
                     "FLOPs (multiply-adds)": f"{a.flops / 1e6:.3g} M", "speed-up": f"{dense_flops / a.flops:.1f}x",
                     "early-stop iteration": f"{s.mean:,.0f} ± {s.std:,.0f}" if s.n > 1 else f"{s.mean:,.0f}",
                     "test accuracy": f"{a.mean:.2%} ± {a.std:.2%}" if a.n > 1 else f"{a.mean:.2%}",
                     "change from unpruned": f"{100 * (a.mean - base):+.2f} pp (unpruned {base:.2%})",
                     "trials": a.n, "order": list(METHODS.values()).index(a.method)})
    table = pd.DataFrame(rows, columns=OPERATING_POINT_COLUMNS + ["order"])
    return table.sort_values(["round", "order"], ignore_index=True).drop(columns="order")


# ------------------------------------------------------------------ the published claims, decided (lth.stats)

MISSING = "no stored runs in these cells yet"


def _values(frame: pd.DataFrame, method: str, round_: int, column: str) -> np.ndarray:
    return frame.loc[(frame.method == method) & (frame["round"] == round_), column].to_numpy(float)


def nearest_rounds(frame: pd.DataFrame, densities) -> dict:
    """``{round: label}``: for each target density the ticket's stored round nearest to it (log scale)."""
    ticket = frame[frame.method == "ticket"].groupby("round").density.mean()
    ticket = ticket[ticket.index > 0]
    if ticket.empty:
        return {}
    return {int(np.abs(np.log(ticket / d)).idxmin()): f"{100 * ticket[np.abs(np.log(ticket / d)).idxmin()]:.1f} %"
            for d in densities}


def curve_rounds(frame: pd.DataFrame, densities=(0.513, 0.211, 0.07, 0.036, 0.019)) -> dict:
    """``{round: label}`` for test-accuracy curves: the unpruned network and the stored rounds nearest to
    ``densities`` (default F&C's Fig. 3 operating points), each labelled with its weights remaining."""
    return ({0: "100 %"} if (frame["round"] == 0).any() else {}) | dict(sorted(nearest_rounds(frame, densities).items()))


def _claim(stats, key, text, direction, margin, cells, published=None, scale=100.0, unit="pp"):
    """A :class:`lth.stats.Claim` and its tidy frame from ``cells``: (label, A values, B values or None)."""
    return (stats.Claim(key, text, direction, margin, published=published or {}, scale=scale, unit=unit,
                        b=None if cells and cells[0][2] is None else "B"), stats.cells_frame(cells))


def lenet_claims(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Frankle & Carbin's claims about LeNet-300-100 (:func:`lth.figures.fc_frame` rows), decided by
    :mod:`lth.stats`: effects as differences of medians with bootstrap intervals, one-sided exact rank
    tests (equivalence: TOST) Holm-corrected over a claim's cells, the published effect beside ours.
    Cells are F&C's operating points (:data:`PUBLISHED_ROUNDS`), few enough that five trials can decide them.
    Margins: one trial-to-trial standard deviation of the unpruned network (:func:`lth.stats.sd_margin`)."""
    from lth import stats

    acc, it = "test_accuracy_at_early_stop", "early_stop_iteration"
    dense_acc, dense_it = _values(frame, "ticket", 0, acc), _values(frame, "ticket", 0, it)
    relative = 100 / dense_it.mean() if len(dense_it) else np.nan  # early-stop iterations in % of the unpruned
    acc_margin = stats.sd_margin(dense_acc, "the unpruned network's test accuracy")
    it_margin = stats.sd_margin(dense_it * relative, "the unpruned network's early-stop iteration", scale=1.0,
                                unit="%")
    points = PUBLISHED_ROUNDS

    def pairs(a, b, column, rounds, against_dense=False, factor=1.0):
        return [(points[r], _values(frame, a, r, column) * factor,
                 _values(frame, b, 0 if against_dense else r, column) * factor) for r in rounds]

    claims = [
        _claim(stats, "early_stop_21", "At 21.1 % the ticket early-stops about 38 % earlier than the unpruned "
               "network (early-stop iteration, % of the unpruned network's)", "less", it_margin,
               pairs("ticket", "ticket", it, [7], True, relative), {"21.1 %": -38.0}, scale=1.0, unit="%"),
        _claim(stats, "gain_13_5", "At 13.5 % the ticket's test accuracy is more than 0.3 pp above the unpruned "
               "network's", "greater", acc_margin,
               [("13.5 %", _values(frame, "ticket", 9, acc), dense_acc)], {"13.5 %": 0.3}),
        _claim(stats, "back_at_3_6", "Near 3.6 % the ticket is back to the unpruned network's accuracy", "alike",
               acc_margin, pairs("ticket", "ticket", acc, [15], True), {"3.6 %": 0.0}),
        _claim(stats, "random_slower", "Random re-initialisation learns slower than the ticket from early on "
               "(early-stop iteration, % of the unpruned network's)", "greater", it_margin,
               pairs("random", "ticket", it, [3, 7, 12], factor=relative), scale=1.0, unit="%"),
        _claim(stats, "random_worse", "Random re-initialisation reaches lower test accuracy than the ticket from "
               "early on", "less", acc_margin, pairs("random", "ticket", acc, [3, 7, 12])),
        _claim(stats, "iterative_beats_oneshot", "Iterative pruning beats one-shot pruning at small Pm "
               "(≤ 7 %, test accuracy)", "greater", acc_margin, pairs("ticket", "oneshot", acc, [12, 15, 18])),
        _claim(stats, "ticket_beats_random_mask", "The ticket beats a random mask of the same per-layer density "
               "(Blalock et al.'s baseline; no published number)", "greater", acc_margin,
               pairs("ticket", "random_mask", acc, [7, 15])),
    ]
    return stats.claims_table(claims, seed=seed, missing=MISSING)


def conv_claims(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Frankle & Carbin's claims about Conv-2/4/6 (the seed's Sec. 4.1), per network, decided as
    :func:`lenet_claims` does; cells at the rounds nearest 51.3, 21.1, 7.0 and 1.9 % (``fc-conv.csv`` rows)."""
    from lth import stats

    acc, it = "test_accuracy_at_early_stop", "early_stop_iteration"
    claims = []
    for network in sorted(frame.network.unique()) if len(frame) else []:
        part = frame[frame.network == network]
        label = models_label(network)
        dense_acc, dense_it = _values(part, "ticket", 0, acc), _values(part, "ticket", 0, it)
        relative = 100 / dense_it.mean() if len(dense_it) else np.nan
        margin = stats.sd_margin(dense_acc, f"the unpruned {label}'s test accuracy")
        it_margin = stats.sd_margin(dense_it * relative, f"the unpruned {label}'s early-stop iteration", scale=1.0,
                                    unit="%")
        points = nearest_rounds(part, (0.513, 0.211, 0.07, 0.019))
        claims += [
            _claim(stats, f"{network}_ticket_beats_random", f"{label}: the ticket beats random re-initialisation",
                   "greater", margin, [(p, _values(part, "ticket", r, acc), _values(part, "random", r, acc))
                                       for r, p in points.items()]),
            _claim(stats, f"{network}_ticket_beats_unpruned", f"{label}: tickets above 5 % beat the unpruned network",
                   "greater", margin, [(p, _values(part, "ticket", r, acc), dense_acc)
                                       for r, p in points.items() if float(p[:-2]) > 5]),
            _claim(stats, f"{network}_ticket_faster", f"{label}: tickets above 5 % early-stop sooner than the "
                   "unpruned network (early-stop iteration, % of the unpruned network's)", "less", it_margin,
                   [(p, _values(part, "ticket", r, it) * relative, dense_it * relative)
                    for r, p in points.items() if float(p[:-2]) > 5], scale=1.0, unit="%"),
        ]
    return stats.claims_table(claims, seed=seed, missing=MISSING)


def setting_label(lr: float, warmup: int) -> str:
    """The VGG setting of a run (a key of :data:`VGG_SETTINGS`) from its learning rate and warm-up."""
    return f"lr {lr:g}" + (" warm-up" if warmup else "")


def vgg_claims(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Frankle & Carbin's VGG-19 learning-rate claims (the seed's Fig. 4), on final test accuracy
    (``fc-vgg.csv`` rows), decided as :func:`lenet_claims` does; cells at the rounds nearest 51, 21, 7 and 4.4 %."""
    from lth import stats

    acc = "final_test_accuracy"
    frame = frame.assign(setting=[setting_label(lr, w) for lr, w in zip(frame.lr, frame.warmup)])

    def part(setting):
        return frame[frame.setting == setting]

    fast, slow, warm = (part(s) for s in VGG_SETTINGS)
    points = nearest_rounds(fast if len(fast) else frame, (0.512, 0.21, 0.069, 0.044))
    margin = stats.sd_margin(_values(fast, "ticket", 0, acc), "the unpruned network's final test accuracy at lr 0.1")

    def ticket_vs_random(p):
        return [(label, _values(p, "ticket", r, acc), _values(p, "random", r, acc)) for r, label in points.items()]

    claims = [
        _claim(stats, "vgg_lr_0_1_no_ticket", "lr 0.1 without warm-up: the ticket is no better than random "
               "re-initialisation", "alike", margin, ticket_vs_random(fast)),
        _claim(stats, "vgg_lr_0_01_ticket", "lr 0.01: the ticket beats random re-initialisation", "greater", margin,
               ticket_vs_random(slow)),
        _claim(stats, "vgg_warmup_ticket", "lr 0.1 with warm-up: the ticket beats random re-initialisation",
               "greater", margin, ticket_vs_random(warm)),
        _claim(stats, "vgg_lr_0_01_lower", "lr 0.01 reaches lower accuracy than lr 0.1 with warm-up (tickets)",
               "less", margin, [("100 %", _values(slow, "ticket", 0, acc), _values(warm, "ticket", 0, acc))]
               + [(label, _values(slow, "ticket", r, acc), _values(warm, "ticket", r, acc))
                  for r, label in points.items()]),
        _claim(stats, "vgg_warmup_keeps_accuracy", "lr 0.1 with warm-up: the ticket keeps the unpruned accuracy "
               "down to 5 % (published: down to about 1.5 %)", "alike", margin,
               [(label, _values(warm, "ticket", r, acc), _values(warm, "ticket", 0, acc))
                for r, label in points.items()]),
    ]
    return stats.claims_table(claims, seed=seed, missing=MISSING)
