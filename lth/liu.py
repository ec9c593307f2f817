"""Liu et al. (2019) on convolutional networks, one resumable sweep per network.

Liu et al. compare the winning ticket with a random re-initialisation of the same pruned network at
two initial learning rates (SGD with momentum 0.9, the rate divided by 10 at 50 % and 75 % of
training), for unstructured magnitude pruning (iterative, 20 % per round, and one-shot) and for
Li et al.'s structured L1-norm filter pruning, where they also train the smaller network from
scratch for the same epochs (Scratch-E) and for the same computation (Scratch-B). One
:class:`Sweep` per network holds all of it:

* unstructured: per learning rate and trial a :class:`lth.experiments.Lottery` (global magnitude
  pruning of ``fraction`` per round, ``levels`` rounds) with the iterative ticket at every round and
  its controls (random re-initialisation, one-shot pruning with the original and with fresh
  weights) at :attr:`Sweep.control_levels`;
* structured: per learning rate, trial and fraction of filters removed, the smaller network
  (:mod:`lth.structured`) built from that trial's dense network, as ticket, Scratch-E and Scratch-B.

:func:`sweep` builds a network's sweep at this book's scale (:data:`SCALES`, chosen from timed
runs, :func:`estimate`), any value overridden; ``python -m lth sweep-liu``, the chapter and the
figure data all build their sweeps here. :meth:`Sweep.run` trains what is missing, round by round
across both learning rates (a sweep stopped part-way has both rates at the densities it reached);
:func:`status` counts what is stored and estimates the machine-hours left.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lth import paths, wording
from lth.frankle_carbin import DATASET_LABELS, INPUT_SHAPES
from lth.frankle_carbin import models_label as _fc_label
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams
from lth.runs import LotteryRun, StructuredRun

NETWORKS = ("vgg16", "resnet20")
LEARNING_RATES = (0.1, 0.01)
MILESTONES = (0.5, 0.75)  # Liu et al.: the learning rate divided by 10 at 50 % and 75 % of training
# lottery variant -> (schedule, method); structured method -> (method, budget)
UNSTRUCTURED = {"ticket": ("iterative", "ticket"), "random_reinit": ("iterative", "random"),
                "oneshot": ("one-shot", "ticket"), "oneshot_random_reinit": ("one-shot", "random")}
CONTROLS = ("random_reinit", "oneshot", "oneshot_random_reinit")
STRUCTURED = {"ticket": ("ticket", "ticket"), "scratch_e": ("random", "scratch-e"), "scratch_b": ("random", "scratch-b")}
COST_FILE = "liu-sweep-cost.json"  # estimate()'s measurements, under results/bench
SPEED_FILE = "liu-epoch-time.json"  # measure_speed()'s, under results/bench


@dataclass(frozen=True)
class Published:
    """What Liu et al. ran for a network this sweep stands in for (their Sec. 4 and 6)."""

    label: str
    dataset: str
    epochs: int
    width: int | None


PUBLISHED = {"vgg16": Published("VGG-16", "cifar10", 160, 64),
             "resnet20": Published("ResNet-56/110 (L1-norm pruning) and ResNet-50 (unstructured)", "cifar10", 160, 16)}


@dataclass(frozen=True)
class Scale:
    """How one network's sweep runs here, the same for every method."""

    width: int | None  # first convolution's filters (VGG-16: published 64; ResNet-20: published 16)
    iterations: int  # per training, at batch_size
    eval_every: int  # at least 11 evaluations per training, so that a training group checkpoints mid-run
    levels: int  # rounds of unstructured pruning (0.8 ** levels of the weights remain)
    control_every: int  # the controls run at every n-th round (and the last)
    structured_fractions: tuple  # fractions of the removable convolutions' filters removed
    trials: int = 3
    dataset: str = "fashion_mnist"
    n_validation: int = 1000  # held out for the validation curve only (no early stopping): a cheap evaluation
    fraction: float = 0.2
    batch_size: int = 64
    group_size: int = 2  # two groups at a time keep two single-threaded Dask workers busy
    subset: int | None = None


# Chosen from timed runs so that both sweeps fit a few machine-hours on two cores: masked training took about 39 ms
# (VGG-16, width 8) and 94 ms (ResNet-20, width 8) of CPU per network and step, an evaluation every 50 steps
# included, measured with the machine's load average at 10-15 (upper bounds), so about 1.6 and 2.6 machine-hours
# for the 234 runs of each sweep. python -m lth sweep-liu --estimate records a timed small sweep in
# results/bench/liu-sweep-cost.json. Densities down to 0.8 ** 14 = 4.4 %; 20 evaluations per training, so that a
# training group checkpoints once mid-run.
SCALES = {
    "vgg16": Scale(width=8, iterations=1200, eval_every=60, levels=14, control_every=2, structured_fractions=(0.5,)),
    "resnet20": Scale(width=8, iterations=800, eval_every=40, levels=14, control_every=2, structured_fractions=(0.5,)),
}


def models_label(name: str) -> str:
    return {"resnet20": "ResNet-20"}.get(name) or _fc_label(name)


def training(lr: float, iterations: int, eval_every: int, batch_size: int) -> TrainingHparams:
    """Liu et al.'s optimiser at this scale: SGD momentum 0.9, ``lr`` divided by 10 at 50 % and 75 % of the
    iterations, a fixed budget whose final weights are reported (no early stopping)."""
    return TrainingHparams(optimizer="sgd", learning_rate=lr, momentum=0.9, batch_size=batch_size,
                           iterations=iterations, eval_every=eval_every,
                           lr_milestones=tuple(round(m * iterations) for m in MILESTONES), best_monitor="none")


@dataclass(frozen=True)
class Sweep:
    """Every run of one network's comparison, unstructured and structured, at every learning rate."""

    network: str
    dataset: DatasetHparams
    model: ModelHparams
    learning_rates: tuple
    iterations: int
    eval_every: int
    batch_size: int
    pruning: PruningHparams
    levels: int
    control_levels: tuple
    trials: int
    structured_fractions: tuple
    group_size: int = 2

    def training(self, lr: float, iterations: int | None = None) -> TrainingHparams:
        return training(lr, iterations or self.iterations, self.eval_every, self.batch_size)

    def lottery(self, lr: float, trial: int, store=None):
        from lth.experiments import Lottery

        return Lottery(self.dataset, self.model, self.training(lr), self.pruning, trial, store)

    def variants(self, level: int) -> tuple:
        """The lottery variants of round ``level`` (the dense network at round 0)."""
        if level == 0:
            return ("ticket",)
        return ("ticket",) + (CONTROLS if level in self.control_levels else ())

    def unstructured(self) -> list:
        """The :class:`lth.runs.LotteryRun` of every unstructured run, round by round."""
        return [self.lottery(lr, trial).desc(level, variant) for level in range(self.levels + 1)
                for lr in self.learning_rates for trial in range(self.trials) for variant in self.variants(level)]

    def structured(self) -> list:
        """The :class:`lth.runs.StructuredRun` of every structured run."""
        from lth import structured

        out = []
        for lr in self.learning_rates:
            for trial in range(self.trials):
                parent = self.lottery(lr, trial).desc(0, "ticket")
                for fraction in self.structured_fractions:
                    ratio = flop_ratio(self.model.name, self.model.width, self.dataset.name, fraction)
                    budget_b = structured.scratch_b_iterations(self.iterations, ratio)
                    out += [StructuredRun(parent, fraction, method, self.training(lr, budget_b if method == "scratch_b"
                                                                                  else None))
                            for method in STRUCTURED]
        return out

    def planned(self) -> list:
        return self.unstructured() + self.structured()

    def stored(self, store=None) -> list:
        """The stored runs of the sweep (nothing is trained)."""
        from lth.store import ResultsStore

        store = store or ResultsStore()
        found = (store.load(desc.kind, desc.to_dict()) for desc in self.planned())
        return [run for run in found if run is not None]

    def run(self, store=None, progress=None, client=None) -> None:
        """Train every missing run (stored runs are never retrained): the dense networks, the structured
        runs built from them, then the unstructured rounds one by one, each learning rate's runs a call
        of :func:`lth.jobs.run_jobs` of its own (a training group shares one optimiser setting)."""
        from lth import structured
        from lth.jobs import run_jobs
        from lth.store import ResultsStore

        store = store or ResultsStore()
        lotteries = {lr: [self.lottery(lr, trial, store) for trial in range(self.trials)]
                     for lr in self.learning_rates}
        for level in range(self.levels + 1):
            for lr, group in lotteries.items():
                jobs = [lottery.job(level, variant) for lottery in group for variant in self.variants(level)]
                if any(job is None for job in jobs):
                    raise RuntimeError(f"round {level} at lr {lr:g} cannot start: round {level - 1} is not stored")
                run_jobs(jobs, store, group_size=self.group_size, progress=progress, client=client)
            if level == 0:
                for lr in self.learning_rates:
                    runs = [desc for desc in self.structured() if desc.parent.training.learning_rate == lr]
                    run_jobs([structured.job(desc, store) for desc in runs], store, group_size=self.group_size,
                             progress=progress, client=client)

    def describe(self) -> str:
        """One sentence naming what the sweep runs, at what scale, with the network's size and FLOPs."""
        dense = dense_size(self.model.name, self.model.width, self.dataset.name)
        published = PUBLISHED[self.network]
        width = ("" if self.model.width is None else
                 f" at width {self.model.width} of {published.width} (every convolution x{self.model.width / published.width:g})")
        data = DATASET_LABELS[self.dataset.name] + ("" if self.dataset.subset is None
                                                     else f", first {self.dataset.subset:,} images per split")
        epochs = self.iterations * self.batch_size / training_examples(self.dataset)
        rates = " and ".join(f"{lr:g}" for lr in self.learning_rates)
        structured = ", ".join(f"{100 * f:g} %" for f in self.structured_fractions)
        return (f"{models_label(self.model.name)}{width} ({dense['params']:,} parameters, "
                f"{dense['flops'] / 1e6:.3g} M multiply-adds per image) on {data}; SGD with momentum 0.9, batch "
                f"{self.batch_size}, {self.iterations:,} iterations (about {epochs:.1f} epochs; Liu et al.: "
                f"{published.epochs}), initial learning rate {rates} divided by 10 at 50 % and 75 %; unstructured: "
                f"global magnitude pruning of {100 * self.pruning.fraction:g} % per round for "
                f"{wording.count(self.levels, 'round')} (down to {100 * (1 - self.pruning.fraction) ** self.levels:.1f} % of the weights), the controls "
                f"{_every(self.control_levels)}; structured: {structured} of the filters of each removable "
                f"convolution removed; {wording.count(self.trials, 'trial')} per cell")


def training_examples(dataset: DatasetHparams) -> int:
    """Training images of ``dataset`` (CIFAR-10 and Fashion-MNIST: 50,000 and 60,000 less those held out)."""
    if dataset.subset is not None:
        return dataset.subset
    return {"cifar10": 50_000}.get(dataset.name, 60_000) - (dataset.n_validation if dataset.validation == "holdout" else 0)


def _every(levels: tuple) -> str:
    """Which rounds the controls run at, in words."""
    gaps = sorted(set(np.diff((0,) + tuple(levels)))) if levels else []
    if not gaps:
        return "at no round"
    return "every round" if gaps == [1] else f"every {'/'.join(str(g) for g in gaps)} rounds"


def control_levels(levels: int, every: int) -> tuple:
    """Every ``every``-th round, and the last."""
    return tuple(sorted(set(range(every, levels + 1, every)) | ({levels} if levels else set())))


def sweep(network: str, *, dataset: str | None = None, width: int | None | str = "default",
          iterations: int | None = None, levels: int | None = None, control_every: int | None = None,
          trials: int | None = None, eval_every: int | None = None, subset: int | None | str = "default",
          learning_rates=None, structured_fractions=None, group_size: int | None = None) -> Sweep:
    """The sweep of ``network`` at this book's scale (:data:`SCALES`), any of its values overridden."""
    if network not in NETWORKS:
        raise ValueError(f"unknown network {network!r}; known: {list(NETWORKS)}")
    scale = SCALES[network]
    trials = scale.trials if trials is None else trials
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be an int >= 1, got {trials!r}")
    levels = scale.levels if levels is None else levels
    fractions = tuple(float(f) for f in (scale.structured_fractions if structured_fractions is None
                                         else structured_fractions))
    return Sweep(network=network,
                 dataset=DatasetHparams(name=dataset or scale.dataset, n_validation=scale.n_validation,
                                        subset=scale.subset if subset == "default" else subset),
                 model=ModelHparams(network, width=scale.width if width == "default" else width),
                 learning_rates=tuple(float(lr) for lr in (learning_rates or LEARNING_RATES)),
                 iterations=iterations or scale.iterations, eval_every=eval_every or scale.eval_every,
                 batch_size=scale.batch_size,
                 pruning=PruningHparams(fraction=scale.fraction, scope="global", rate_factors="none"),
                 levels=levels, control_levels=control_levels(levels, control_every or scale.control_every),
                 trials=trials, structured_fractions=fractions, group_size=group_size or scale.group_size)


# ------------------------------------------------------------------ sizes of the networks


@functools.lru_cache(maxsize=None)
def _networks(model: str, width, dataset: str, fraction: float | None):
    """The dense network of ``model`` (``fraction`` None) or its structured version with ``fraction`` of the
    removable convolutions' filters removed (the lowest-indexed kept: sizes do not depend on which)."""
    from lth import models, structured

    dense = models.build(model, seed=0, input_shape=INPUT_SHAPES[dataset], width=width)
    if fraction is None:
        return dense
    kept = {name: np.arange(layer.filters - int(round(fraction * layer.filters)))
            for name in structured.removable_layers(dense) for layer in [dense.get_layer(name)]}
    return structured.smaller_model(dense, kept)


def dense_size(model: str, width, dataset: str) -> dict:
    from lth import structured

    return structured.describe(_networks(model, width, dataset, None))


def structured_size(model: str, width, dataset: str, fraction: float) -> dict:
    from lth import structured

    return structured.describe(_networks(model, width, dataset, fraction))


def flop_ratio(model: str, width, dataset: str, fraction: float) -> float:
    """The dense network's FLOPs over the structured one's."""
    return dense_size(model, width, dataset)["flops"] / structured_size(model, width, dataset, fraction)["flops"]


# ------------------------------------------------------------------ measured seconds per epoch


def read_bench(name: str) -> dict:
    file = paths.bench_root() / name
    return json.loads(file.read_text()) if file.exists() else {}


def _write_bench(name: str, key: str, value: dict) -> None:
    file = paths.bench_root() / name
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(read_bench(name) | {key: value}, indent=1, sort_keys=True))


def speed_key(sw: Sweep, fraction: float) -> str:
    return f"{sw.network}/width={sw.model.width}/{sw.dataset.name}/batch={sw.batch_size}/fraction={fraction:g}"


def measure_speed(sw: Sweep, fraction: float, steps: int = 30, repeats: int = 3, again: bool = False) -> dict:
    """Seconds per epoch of ``sw``'s dense network and of its structured version with ``fraction`` of the
    filters removed, timed in one process (:func:`lth.structured.epoch_seconds`) and recorded in
    ``results/bench/liu-epoch-time.json``; a recorded measurement is returned as it is unless ``again``."""
    from lth import structured
    from lth.store import code_version

    key = speed_key(sw, fraction)
    if not again and key in (recorded := read_bench(SPEED_FILE)):
        return recorded[key]
    dense = _networks(sw.model.name, sw.model.width, sw.dataset.name, None)
    small = _networks(sw.model.name, sw.model.width, sw.dataset.name, fraction)
    examples = training_examples(sw.dataset)
    times = structured.epoch_seconds({"dense": dense, "structured": small}, examples, sw.batch_size, steps, repeats)
    value = {"dense": times["dense"], "structured": times["structured"], "examples": examples, "steps": steps,
             "repeats": repeats, "load_average": os.getloadavg()[0], "cpu_count": os.cpu_count(),
             "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **code_version()}
    _write_bench(SPEED_FILE, key, value)
    return value


# ------------------------------------------------------------------ how far a sweep has got, and its cost


def _cell(desc) -> dict:
    """Where a planned run goes in the status table."""
    if isinstance(desc, StructuredRun):
        method, budget = STRUCTURED[desc.method]
        return {"part": "structured", "lr": desc.training.learning_rate, "method": f"{method} ({budget})",
                "point": f"{100 * desc.fraction:g} % filters removed"}
    schedule, method = UNSTRUCTURED[desc.variant]
    return {"part": "unstructured", "lr": desc.training.learning_rate,
            "method": "unpruned" if desc.level == 0 else f"{schedule} {method}", "point": f"round {desc.level:02d}"}


def _machine_seconds_per_iteration(runs) -> float | None:
    from lth.seed.report import compute_hours

    iterations = sum(run.config["training"]["iterations"] for run in runs)
    return compute_hours(runs) * 3600 / iterations if runs else None


def status(sw: Sweep, store=None) -> dict:
    """What ``sw`` has stored: ``table`` (runs stored per cell: part, learning rate, method; columns the rounds
    and structured fractions), ``stored`` and ``planned`` run counts, ``hours_left`` (machine-hours; None when
    nothing says what a run costs), ``basis``, where that estimate comes from, and ``runs``, the stored runs."""
    from lth.store import ResultsStore

    store = store or ResultsStore()
    planned = sw.planned()
    runs = {id(desc): store.load(desc.kind, desc.to_dict()) for desc in planned}
    cells = pd.DataFrame([_cell(desc) | {"stored": int(runs[id(desc)] is not None)} for desc in planned])
    table = cells.pivot_table(index=["part", "lr", "method"], columns="point", values="stored", aggfunc="sum",
                              sort=True)
    stored = [run for run in runs.values() if run is not None]
    missing = [desc for desc in planned if runs[id(desc)] is None]
    hours, basis = None, None
    rates = {kind: _machine_seconds_per_iteration([r for r in stored if r.kind == kind])
             for kind in ("lottery", "structured")}
    if stored:
        # a kind with nothing stored yet is costed as the other (structured networks are smaller: an upper bound)
        fallback = rates["lottery"] or rates["structured"]
        hours = sum((rates[desc.kind] or fallback) * desc.training.iterations for desc in missing) / 3600
        basis = f"the machine time per iteration of the {len(stored)} stored runs (CPU time / cores / group size)"
    elif (cost := read_bench(COST_FILE).get(sw.network)) is not None:
        hours = sum(cost["machine_s_per_iteration"][desc.kind] * desc.training.iterations
                    + cost["machine_s_per_run"][desc.kind] for desc in missing) / 3600
        basis = (f"timed runs of {cost['lengths']} iterations on {cost['measured_utc']} (load average "
                 f"{cost['load_average']:.1f} on {cost['cpu_count']} cores)")
    return {"table": table, "stored": len(stored), "planned": len(planned), "hours_left": hours, "basis": basis,
            "runs": stored}


def estimate(sw: Sweep, progress=None) -> dict:
    """Time a small copy of ``sw`` in a scratch store: one learning rate, ``group_size`` trials, the dense
    networks, the first round's tickets and the first structured fraction's runs, trained for one and for
    two evaluation periods (``eval_every`` and twice as many iterations).

    Per kind of run (lottery, structured) a run's machine time (its provenance: CPU time / cores / group
    size) grows linearly with its iterations, evaluations included; the two lengths give the slope
    (``machine_s_per_iteration``) apart from the fixed cost of building and tracing (``machine_s_per_run``).
    Recorded in ``results/bench/liu-sweep-cost.json`` with the whole sweep's machine-hours at that rate.
    """
    from lth.seed.report import compute_hours
    from lth.store import ResultsStore, code_version

    costs = {}
    for length in (sw.eval_every, 2 * sw.eval_every):
        small = dataclasses.replace(sw, learning_rates=sw.learning_rates[:1], trials=sw.group_size, levels=1,
                                    control_levels=(), structured_fractions=sw.structured_fractions[:1],
                                    iterations=length)
        with tempfile.TemporaryDirectory() as scratch:
            store = ResultsStore(scratch)
            small.run(store, progress=progress)
            runs = small.stored(store)
            for kind in ("lottery", "structured"):
                own = [r for r in runs if r.kind == kind]
                iterations = np.mean([r.config["training"]["iterations"] for r in own])
                costs.setdefault(kind, []).append((iterations, compute_hours(own) * 3600 / len(own)))
    slope = {kind: max(0.0, (b[1] - a[1]) / (b[0] - a[0])) for kind, (a, b) in costs.items()}
    fixed = {kind: max(0.0, a[1] - slope[kind] * a[0]) for kind, (a, b) in costs.items()}
    planned = sw.planned()
    total = sum(slope[d.kind] * d.training.iterations + fixed[d.kind] for d in planned) / 3600
    cost = {"machine_s_per_iteration": slope, "machine_s_per_run": fixed, "lengths": [sw.eval_every, 2 * sw.eval_every],
            "group_size": sw.group_size, "sweep_runs": len(planned), "sweep_machine_hours": total,
            "describe": sw.describe(), "cpu_count": os.cpu_count(), "load_average": os.getloadavg()[0],
            "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **code_version()}
    _write_bench(COST_FILE, sw.network, cost)
    return cost


# ------------------------------------------------------------------ the LeNet-300-100 contrast

LENET_PRUNING = {"large_final": "unstructured", "l1_filter": "units masked"}


def lenet_contrast(iterations: int, levels: int, trials: int, subset: int | None = None, eval_every: int = 100,
                   store=None, run_missing: bool = False) -> dict:
    """The chapter's earlier, smaller comparison, kept as a contrast: LeNet-300-100 on MNIST, iterative pruning of
    20 % per round (layer-wise) with the ticket and random re-initialisation at both learning rates, unstructured
    and with whole hidden units masked (:func:`lth.pruning.filter_masks`: the network keeps its size).
    Returns ``{pruning: runs}`` (the stored ones; ``run_missing`` trains the rest first)."""
    from lth.experiments import Lottery, run_lottery

    out = {}
    for criterion, label in LENET_PRUNING.items():
        runs = []
        for lr in LEARNING_RATES:
            lotteries = [Lottery(DatasetHparams(name="mnist", subset=subset), ModelHparams("lenet300"),
                                 training(lr, iterations, eval_every, 64), PruningHparams(criterion=criterion), seed,
                                 store) for seed in range(trials)]
            if run_missing:
                run_lottery(lotteries, levels, variants=("ticket", "random_reinit"), store=store)
            runs += [lot.stored(level, variant) for lot in lotteries for level in range(levels + 1)
                     for variant in (("ticket",) if level == 0 else ("ticket", "random_reinit"))]
        out[label] = [run for run in runs if run is not None]
    return out


# ------------------------------------------------------------------ tables of the stored runs

_SOURCES = "PROTOCOLS.md §3; the seed's Sec. 4.2 and Fig. 5 (Liu et al.'s Fig. 7)"
# claim key (after the network) -> (Liu et al.'s result as our sources state it, where they state it); the sources
# give no numbers (the seed points to Liu et al.'s Table 8 without quoting it), so none are set beside ours
PUBLISHED_CLAIMS = {
    "high_lr_no_gain": ("At initial learning rate 0.1 the winning ticket brings no gain over random "
                        "re-initialisation (VGG-16 and ResNet-50 on CIFAR-10; iterative and one-shot)", _SOURCES),
    "low_lr_ticket_wins": ("At 0.01 the winning ticket helps", _SOURCES),
    "low_lr_lower": ("...but both reach lower accuracy than at 0.1", _SOURCES),
    "structured_alike": ("L1-norm filter pruning: the winning ticket is on par with random re-initialisation at "
                         "either learning rate", "PROTOCOLS.md §3; the seed's Sec. 4.2"),
}


def published_beside(claims: pd.DataFrame) -> pd.DataFrame:
    """``claims`` (:func:`lth.analysis.liu_claims`) with Liu et al.'s published result and its source beside each row.
    Its cells hold paired differences, so an undecided verdict counts pairs (trials x densities), not trials."""
    suffix = claims.key.str.split("_", n=1).str[1]
    return claims.assign(liu_published=suffix.map(lambda k: PUBLISHED_CLAIMS.get(k, ("", ""))[0]),
                         liu_source=suffix.map(lambda k: PUBLISHED_CLAIMS.get(k, ("", ""))[1]),
                         verdict=claims.verdict.str.replace(r"at (\d+) trials$", r"at \1 pairs", regex=True))


def quote(row) -> str:
    """:func:`lth.stats.quote` of a row of :func:`published_beside`, whose cells count pairs, not trials."""
    from lth import stats

    return stats.quote(row).replace(" trials per group", " pairs")


def structured_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per learning rate, network size and budget (:func:`lth.figures.liu_structured_frame` rows of one network):
    filters kept, parameters and FLOPs counted from the built networks with the theoretical speed-up, the measured
    seconds per epoch with the measured speed-up, and test accuracy as mean ± std over trials beside the unpruned
    network's (Blalock et al.'s reporting). A dash where something is not stored or not measured."""
    def ratio(a, b):
        return f"{a / b:.2f}x" if np.isfinite(a / b) else "–"

    rows = []
    for lr, part in frame.groupby("lr", sort=False):
        dense = part[part.method == "unpruned"]
        full = dense.iloc[0] if len(dense) else pd.Series({"filters_kept": np.nan, "flops": np.nan,
                                                           "seconds_per_epoch": np.nan})
        base = dense.test_accuracy.mean() if len(dense) else np.nan
        for (kept, budget), cell in part.groupby(["filters_kept", "budget"], sort=False):
            first, accuracy = cell.iloc[0], cell.test_accuracy
            spread = f" ± {accuracy.std():.2%}" if len(cell) > 1 else ""
            rows.append({"lr": lr, "method": first.method, "budget": budget, "filters kept": f"{kept:,}",
                         "share of filters": f"{100 * kept / full.filters_kept:.0f} %" if len(dense) else "–",
                         "parameters": f"{first.params:,}", "FLOPs (multiply-adds)": f"{first.flops / 1e6:.3g} M",
                         "speed-up (FLOPs)": ratio(full.flops, first.flops),
                         "seconds per epoch (measured)": f"{first.seconds_per_epoch:.2f}",
                         "speed-up (measured)": ratio(full.seconds_per_epoch, first.seconds_per_epoch),
                         "test accuracy": f"{accuracy.mean():.2%}{spread}",
                         "change from unpruned": f"{100 * (accuracy.mean() - base):+.2f} pp" if base == base else "–",
                         "trials": len(cell)})
    return pd.DataFrame(rows)


def epoch_time_sentence(structured: pd.DataFrame, network: str) -> str:
    """The measured seconds per epoch of the structured (filter-pruned) ``network`` against the dense one
    (:func:`lth.figures.liu_structured_frame` rows; the first stored measurement of each), as a sentence."""
    rows = structured[structured.network == network].dropna(subset=["seconds_per_epoch"])
    speed = rows.groupby("method").seconds_per_epoch.first()
    label = models_label(network)
    if not {"unpruned", "ticket"} <= set(speed.index):
        return f"The epoch times of the dense and the filter-pruned {label} are not measured yet at this scale."
    dense, small = speed["unpruned"], speed["ticket"]
    return (f"An epoch of the filter-pruned {label} took {small:.2f} s against the dense network's {dense:.2f} s "
            f"on this machine: " + (f"{dense / small:.2f}x faster." if small < dense else
                                    f"no faster ({dense / small:.2f}x the dense network's speed)."))


def coverage(sw: Sweep, runs: list) -> str:
    """How much of ``sw`` its stored ``runs`` cover, as a phrase for the chapter."""
    missing = len(sw.planned()) - len(runs)
    done = f"{len(runs)} of {len(runs) + missing} runs stored"
    return done if not missing else (f"{done}; the rest are not trained yet (python -m lth sweep-liu --network "
                                     f"{sw.network}), so the figure and tables show what is stored")
