"""How much training the book rests on, read from the results store: per chapter, the stored networks and
the machine time their provenance records; per sweep at its issue's scale, runs stored and planned and
an estimate of the machine time still to go. ``python -m lth training-status`` prints both tables and
the book's introduction shows them (book/_ext/training_status.py), so no timing is typed in by hand.

Machine time is a run's share of its training group's process CPU time over the machine's cores
(:func:`lth.seed.report.compute_hours`; the wall time for runs that did not record CPU time), so a
paused or crowded sweep does not inflate it. Runs shared by two sweeps (the supermask sweep's dense
runs are the Frankle & Carbin sweep's) count in each.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pandas as pd

from lth.seed.report import compute_hours

# chapter -> what its stored networks are (the rules of chapter_of)
CHAPTERS = {
    "background": "MLP width sweep; its pruning demo reuses frankle_carbin's dense runs",
    "frankle_carbin": "LeNet-300-100, Conv-2/4/6 and VGG-19 lottery runs (dense runs shared with supermasks)",
    "liu_comparison": "VGG-16, ResNet-20 and LeNet-300-100 (SGD) lottery runs, structured (filter-pruned) networks",
    "our_experiments": "the seed's LeNet-5 sweep, its controls and the seed-fidelity screen",
    "supermasks": "learned supermasks (untrained masks are evaluations, not training)",
}


LIU_MODELS = ("vgg16", "resnet20")  # lth.liu.NETWORKS, spelled out so that this module imports no TensorFlow


def chapter_of(kind: str, config: dict) -> str:
    """The chapter a stored run belongs to, by its kind (and a lottery's optimiser)."""
    if kind.startswith("seed"):
        return "our_experiments"
    if kind == "train":
        return "background"
    if kind in ("supermask", "learned_mask"):
        return "supermasks"
    if kind == "structured":
        return "liu_comparison"
    if kind == "lottery":
        # Liu et al.'s networks, and LeNet-300-100 under SGD (the chapter's contrast); F&C's VGG-19 also uses SGD
        model, optimizer = config["model"]["name"], config["training"]["optimizer"]
        return "liu_comparison" if model in LIU_MODELS or (model == "lenet300" and optimizer == "sgd") else "frankle_carbin"
    return "other"


def chapter_table(store=None) -> pd.DataFrame:
    """One row per chapter with stored runs: ``chapter``, ``runs``, ``machine_hours`` and ``what``."""
    from lth.store import ResultsStore

    store = store or ResultsStore()
    runs, hours = defaultdict(int), defaultdict(float)
    for run in store.runs():
        chapter = chapter_of(run.kind, run.config)
        runs[chapter] += 1
        hours[chapter] += compute_hours([run])
    order = [c for c in CHAPTERS if c in runs] + sorted(set(runs) - set(CHAPTERS))
    return pd.DataFrame([{"chapter": c, "runs": runs[c], "machine_hours": hours[c],
                          "what": CHAPTERS.get(c, "stored runs no rule assigns to a chapter")} for c in order],
                        columns=["chapter", "runs", "machine_hours", "what"])


@dataclass(frozen=True)
class SweepStatus:
    """One sweep at its issue's scale: ``stored`` of ``planned`` runs, the machine-hours the stored ones took,
    the estimate of what is left (None when nothing says what a run costs) and the command that runs or
    resumes it."""

    chapter: str
    sweep: str          # a short name for the table
    scale: str          # what it runs, in full: network, data, scaling, trials
    stored: int
    planned: int
    hours_spent: float
    hours_left: float | None
    command: str


def _seed(store) -> list[SweepStatus]:
    from lth.seed import protocol
    from lth.seed.report import remaining_hours

    trials = range(5)  # the minimum per cell
    runs = protocol.stored_runs(protocol.PROTOCOLS, protocol.DENSITIES, trials, store=store)
    out = []
    for name in protocol.PROTOCOLS:
        # costed from every protocol's runs: a protocol with none stored takes its roles' mean elsewhere
        left, missing = remaining_hours(runs, protocols=(name,), trials=trials)
        left = left if runs else None  # no stored run says what one costs
        planned = len(protocol.cells((name,), protocol.DENSITIES, trials))
        mine = [r for r in runs if r.config["protocol"] == name]
        out.append(SweepStatus("our_experiments", f"seed, {name}", f"LeNet-5-like network on MNIST, protocol {name}, "
                               f"the paper's 4 models and a random-mask baseline x {len(protocol.DENSITIES)} densities, "
                               "5 trials per cell, 500 epochs",
                               planned - missing, planned, compute_hours(mine), left,
                               f"PROTOCOLS={name} scripts/seed_sweep.sh 5"))
    return out


def _screen(store) -> SweepStatus:
    from lth.seed import screen

    planned = screen.plan()
    found = {id(d): store.load(d.kind, d.to_dict()) for d in planned}
    stored = [r for r in found.values() if r is not None]
    # a missing run costs the mean of the stored runs of its environment and role (all stored runs if none)
    cost = defaultdict(list)
    for run in stored:
        cost[(run.config["environment"], run.config["role"])].append(compute_hours([run]))
    overall = compute_hours(stored) / len(stored) if stored else None
    left = None
    if overall is not None:
        left = sum((sum(c) / len(c)) if (c := cost.get((d.environment, d.role))) else overall
                   for d in planned if found[id(d)] is None)
    return SweepStatus("our_experiments", "seed-fidelity screen",
                       "the authors' procedure by Keras fit in their environment (TF 2.1) and ours, 3 trials per cell",
                       len(stored), len(planned), compute_hours(stored), left, "scripts/seed_screen.sh")


def _module_sweeps(store, module_name: str, chapter: str, label: str, script: str) -> list[SweepStatus]:
    """One row per network of a chapter module with ``NETWORKS``, ``sweep(network)`` and ``status(sweep, store)``
    (:mod:`lth.frankle_carbin`, :mod:`lth.liu`, :mod:`lth.supermasks`)."""
    import importlib

    module = importlib.import_module(f"lth.{module_name}")
    out = []
    for network in module.NETWORKS:
        sw = module.sweep(network)
        report = module.status(sw, store)
        out.append(SweepStatus(chapter, f"{label}, {network}", sw.describe(), report["stored"], report["planned"],
                               compute_hours(report["runs"]), report["hours_left"], f"{script} {network}"))
    return out


def sweep_table(store=None) -> pd.DataFrame:
    """One row per sweep (:class:`SweepStatus`'s fields), in the order the chapters come."""
    from lth.store import ResultsStore

    store = store or ResultsStore()
    rows = [_screen(store), *_seed(store),
            *_module_sweeps(store, "frankle_carbin", "frankle_carbin", "Frankle & Carbin", "scripts/fc_sweep.sh"),
            *_module_sweeps(store, "liu", "liu_comparison", "Liu et al.", "scripts/liu_sweep.sh"),
            *_module_sweeps(store, "supermasks", "supermasks", "supermasks", "scripts/supermask_sweep.sh")]
    return pd.DataFrame([vars(r) for r in rows])


def duration(hours: float | None) -> str:
    """``12 min``, ``3.4 h``, or ``unknown`` for None."""
    if hours is None or hours != hours:
        return "unknown"
    return f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"


def markdown(store=None) -> str:
    """Both tables as Markdown, for the command line and the book."""
    chapters = chapter_table(store)
    lines = ["| chapter | stored networks | machine time | what |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {r.chapter} | {r.runs:,} | {duration(r.machine_hours)} | {r.what} |" for r in chapters.itertuples()]
    if chapters.empty:
        lines.append("| (none) | 0 | | the results store holds no run |")
    sweeps = sweep_table(store)
    lines += ["", "| sweep at its issue's scale | chapter | runs stored | machine time spent | still to train |",
              "| --- | --- | ---: | ---: | ---: |"]
    lines += [f"| {r.sweep} | {r.chapter} | {r.stored:,} of {r.planned:,} | {duration(r.hours_spent)} "
              f"| {'none' if r.stored >= r.planned else duration(r.hours_left)} |" for r in sweeps.itertuples()]
    lines += ["", "What each sweep runs, and the command that runs or resumes it:", ""]
    lines += [f"- **{r.sweep}**: {r.scale}. `{r.command}`" for r in sweeps.itertuples()]
    return "\n".join(lines)
