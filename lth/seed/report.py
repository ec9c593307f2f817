"""What the seed experiment's stored runs add up to: scale, machine time, coverage, mask changes."""
from __future__ import annotations

from collections import Counter

import numpy as np

from lth import wording
from lth.runs import SEED_ROLES
from lth.seed.protocol import DENSITIES, PROTOCOLS, cells
from lth.seed.schedule import STEPS_PER_EPOCH


def describe_scale(runs, epochs: int, subset) -> str:
    """One sentence naming what was run: model, data, epochs, trials per (protocol, model, density) cell."""
    data = ("full MNIST (60,000 training images; the corrected protocol holds 5,000 of them out for validation)"
            if subset is None else f"the first {subset:,} MNIST images per split")
    per_cell = Counter((r.config["protocol"], r.config["role"], r.config["density"]) for r in runs)
    low, high = min(per_cell.values(), default=0), max(per_cell.values(), default=0)
    count = wording.count(high, 'trial') if low == high else f"{low} to {high} trials"
    return f"LeNet-5-like network on {data}, {epochs} epochs of {STEPS_PER_EPOCH} steps, {count} per cell"


def _machine_hours(run) -> float:
    """A run's share of its training group's machine time, in hours.

    The group's process CPU time over the machine's cores where it was recorded (a paused
    or crowded sweep does not inflate it), else its wall time (older runs).
    """
    p = run.provenance
    seconds = p["cpu_time_s"] / (p.get("cpu_count") or 1) if "cpu_time_s" in p else p["wall_time_s"]
    return seconds / p.get("group_size", 8) / 3600


def compute_hours(runs) -> float:
    """Machine time of the runs in hours (see :func:`_machine_hours`)."""
    return sum(_machine_hours(r) for r in runs)


def remaining_hours(runs, protocols=PROTOCOLS, densities=DENSITIES, trials=range(5)) -> tuple[float, int]:
    """Estimated machine hours to fill every cell to ``trials``, and the number of runs missing.

    Each missing run is costed at the mean of the stored runs of its protocol and role (of its
    role under any protocol if none; the random-mask baseline, retrained as the ticket is, as the
    ticket if it has none; of all stored runs if neither has any). Runs that
    recorded their CPU time are preferred: older runs only have wall time, which counts pauses.
    """
    def mean(values):
        return sum(values) / len(values) if values else None

    have = {(r.config["protocol"], r.config["role"], r.config["density"], r.config["trial"]) for r in runs}
    timed = {(r.config["protocol"], r.config["role"]) for r in runs if "cpu_time_s" in r.provenance}
    cost = {}
    for r in runs:
        key = (r.config["protocol"], r.config["role"])
        if key not in timed or "cpu_time_s" in r.provenance:
            cost.setdefault(key, []).append(_machine_hours(r))
    overall = mean([h for hours in cost.values() for h in hours]) or 0.0
    missing = [cell for cell in cells(protocols, densities, trials) if cell not in have]
    total = 0.0
    like = {"random_mask": "ticket"}  # a role with no stored run is costed as the role it trains like
    by_role = {}
    for (_, role), hours in cost.items():
        by_role.setdefault(role, []).extend(hours)
    for protocol, role, _, _ in missing:
        names = [role, *([like[role]] if role in like else [])]
        candidates = [cost.get((protocol, name)) for name in names] + [by_role.get(name) for name in names]
        total += next((mean(hours) for hours in candidates if hours), overall)
    return total, len(missing)


def mask_changes(runs) -> float:
    """Share of faithful ticket / random runs whose mask TF-MOT changed during retraining (nan if none)."""
    flags = [r.result["mask_changed"] for r in runs
             if r.config["protocol"] == "faithful" and r.config["role"] in ("ticket", "random")]
    return sum(flags) / len(flags) if flags else float("nan")


# ------------------------------------------------------------------ the seed-fidelity screen

# The criteria written in the chapter before the screen ran (its "pre-registered screen" section).
PUBLISHED_LEVEL = 0.983  # the pruning network's median at epochs 20, 50 and 100 in the published Fig. 7
DENSE_LEVEL = 0.9841  # the lower edge of the published dense band, 98.59 - 0.18 %
CHECK_EPOCHS = (20, 50, 100)
COLLAPSE_DROP = 0.05  # a fall this far under the run's best so far is a collapse
SMOOTH_DROP = 0.01  # before epoch 100, no epoch-to-epoch fall larger than this
ALIKE = 0.003  # two cells agree when their medians differ by at most this
APART = 0.005  # and differ when by at least this
SCREEN_TRIALS = 3
SCREEN_COLUMNS = ["environment", "learning_rate", "batch", "trials", *(f"epoch {e}" for e in CHECK_EPOCHS),
                  "last epoch", "at last epoch", "collapsed", "unsmooth", "dense trials", "dense final",
                  "dense epochs", "matches"]


def screen_curves(runs) -> "pd.DataFrame":
    """One row per screen run and epoch: its cell, trial, test (= validation) accuracy and training loss."""
    import pandas as pd

    rows = []
    for r in runs:
        c, h = r.config, r.result["history"]
        for epoch, accuracy, loss in zip(h["epoch"], h["val_accuracy"], h["train_loss"]):
            rows.append({"environment": c["environment"], "learning_rate": c["learning_rate"],
                         "batch": "600 (inferred)" if c["fit_batch_size"] is None else str(c["fit_batch_size"]),
                         "role": c["role"], "trial": c["trial"], "epoch": epoch, "test_accuracy": accuracy,
                         "train_loss": loss})
    return pd.DataFrame(rows, columns=["environment", "learning_rate", "batch", "role", "trial", "epoch",
                                       "test_accuracy", "train_loss"])


def _collapsed(accuracy) -> bool:
    best = accuracy.cummax()
    return bool((best - accuracy > COLLAPSE_DROP).any())


def _unsmooth(accuracy, epochs) -> bool:
    before = accuracy[epochs < 100]
    return bool((before.diff() < -SMOOTH_DROP).any())


def screen_table(curves) -> "pd.DataFrame":
    """Per cell (environment, learning rate, batch): the pruning network's median test accuracy at
    epochs 20, 50, 100 and its last, how many collapsed or fell unsmoothly, the dense model's median
    final accuracy and epochs, and whether the cell matches the published level."""
    import pandas as pd

    cells = []
    for key, cell in curves.groupby(["environment", "learning_rate", "batch"], sort=True):
        row = dict(zip(["environment", "learning_rate", "batch"], key))
        pruning, dense = cell[cell.role == "pruning"], cell[cell.role == "dense"]
        row["trials"] = int(pruning.trial.nunique())
        for epoch in CHECK_EPOCHS:
            at = pruning[pruning.epoch == epoch].test_accuracy
            row[f"epoch {epoch}"] = at.median() if len(at) else float("nan")
        last = pruning[pruning.epoch == pruning.epoch.max()].test_accuracy if len(pruning) else pruning.test_accuracy
        row["last epoch"] = int(pruning.epoch.max()) if len(pruning) else 0
        row["at last epoch"] = last.median() if len(last) else float("nan")
        by_trial = [t.sort_values("epoch") for _, t in pruning.groupby("trial")]
        row["collapsed"] = sum(_collapsed(t.test_accuracy.reset_index(drop=True)) for t in by_trial)
        row["unsmooth"] = sum(_unsmooth(t.test_accuracy.reset_index(drop=True), t.epoch.reset_index(drop=True))
                              for t in by_trial)
        finals = [t.sort_values("epoch").test_accuracy.iloc[-1] for _, t in dense.groupby("trial")]
        row["dense trials"] = len(finals)
        row["dense final"] = float(pd.Series(finals).median()) if finals else float("nan")
        row["dense epochs"] = float(dense.groupby("trial").epoch.max().median()) if len(dense) else float("nan")
        level = all(row[f"epoch {e}"] >= PUBLISHED_LEVEL for e in CHECK_EPOCHS)
        row["matches"] = bool(level and row["collapsed"] == 0 and row["unsmooth"] == 0
                              and (row["dense final"] >= DENSE_LEVEL if finals else True))
        cells.append(row)
    return pd.DataFrame(cells, columns=SCREEN_COLUMNS)


def _cell(table, environment, lr, batch="600 (inferred)"):
    rows = table[(table.environment == environment) & (table.learning_rate == lr) & (table.batch == batch)]
    return None if rows.empty else rows.iloc[0]


def _describe(cell) -> str:
    """A screen cell in words, for the verdicts' evidence and the sweep decision's reason."""
    if cell is None:
        return "not run"
    return (f"{cell.environment} lr {cell.learning_rate} batch {cell.batch}: median "
            + "/".join(f"{cell[f'epoch {e}']:.2%}" for e in CHECK_EPOCHS)
            + f" at epochs {'/'.join(map(str, CHECK_EPOCHS))}, {cell.collapsed} of {cell.trials} collapsed, "
            + f"dense {cell['dense final']:.2%}")


def _shortfall(cell) -> float:
    """How far a screen cell stays under the published level: its largest shortfall under 98.3 % at the
    checked epochs (0 where it reaches the level everywhere)."""
    return max(max(0.0, PUBLISHED_LEVEL - cell[f"epoch {e}"]) for e in CHECK_EPOCHS)


def _faithful_protocols() -> dict:
    """The seed protocols that run the authors' procedure (TF-MOT's masks, the test set as validation
    data) with lth's engine, by learning rate: {learning rate: protocol name}."""
    from lth.seed.protocol import SPECS

    return {spec.learning_rate: name for name, spec in SPECS.items()
            if spec.masks == "tfmot_schedule" and spec.test_as_validation}


def sweep_decision(table, trials: int = SCREEN_TRIALS) -> dict:
    """The third protocol the big seed sweep runs, by the decision rule the chapter wrote before the screen:

    the cheapest configuration whose cells match the published level without collapse (the main stack
    before the legacy environment, batch 600 before 32); if only the legacy environment matches, the
    closest main-stack configuration; if no cell matches, the closest cell (of the main stack: the sweep
    cannot run in the legacy environment; the reason names a closer legacy cell). Closest: no collapsed trial
    first, then the smallest shortfall under the level at epochs 20, 50 and 100. Returns ``protocol`` (a
    name of :data:`lth.seed.protocol.SPECS`: the faithful protocol at the cell's learning rate, batch 600;
    or None: the screen is incomplete or no protocol trains the configuration), the ``cell`` chosen, ``complete`` and the ``reason`` in words.
    """
    main = table[table.environment == "main"]
    short = table[(table.trials < trials) | (table["dense trials"] < trials)]
    if table.empty or len(short):
        cells = ", ".join(f"{r.environment} lr {r.learning_rate:g} batch {r.batch} ({min(r.trials, r['dense trials'])} "
                          f"of {trials})" for _, r in short.iterrows()) or "no cell stored"
        return {"protocol": None, "cell": None, "complete": False,
                "reason": f"the screen is not complete: {cells}; the decision waits for {trials} trials per cell"}

    def closest(cells):
        rows = [row for _, row in cells.iterrows()]
        return min(rows, key=lambda c: (c.collapsed > 0, _shortfall(c), c.batch != "600 (inferred)"))

    matching = main[main.matches]
    if len(matching):
        cell = matching.sort_values("batch", key=lambda b: b != "600 (inferred)").iloc[0]
        why = f"{_describe(cell)} matches the published level without collapse on the main stack"
    elif table.matches.any():
        cell = closest(main)
        legacy = "; ".join(_describe(c) for _, c in table[table.matches].iterrows())
        why = (f"only the legacy environment matches ({legacy}); the closest main-stack cell is {_describe(cell)}, "
               f"{100 * _shortfall(cell):.2f} pp under the level at its worst checked epoch")
    else:
        # the sweep runs on the main stack either way: 220 runs of 500 epochs in TF 2.1 would take weeks here
        cell, overall = closest(main), closest(table)
        why = (f"no cell matches; the closest main-stack cell is {_describe(cell)}, {100 * _shortfall(cell):.2f} pp "
               "under the level at its worst checked epoch")
        if overall.environment != "main":
            why += f" (the closest of all, {_describe(overall)}, {100 * _shortfall(overall):.2f} pp)"
    protocol = _faithful_protocols().get(cell.learning_rate) if cell.batch == "600 (inferred)" else None
    why += (f": protocol {protocol}" if protocol else
            "; no seed protocol trains this configuration with lth's engine (a new one is needed)")
    return {"protocol": protocol, "cell": cell, "complete": True, "reason": why}


ENGINE_COLUMNS = ["learning rate", "trained by", "trials", *(f"epoch {e}" for e in CHECK_EPOCHS), "verdict"]


def engine_agreement(table, lth_runs, density: float = 0.5) -> "pd.DataFrame":
    """The check the decision rule asks for before a sweep runs on lth's engine: at each learning rate
    that has both, the Keras-``fit`` driver's main-stack cell (batch 600) beside lth's pruning networks at
    ``density`` of the faithful-style protocol with that rate, median test accuracy at epochs 20, 50 and
    100 (before the first pruning step). Verdict on lth's row, with the thresholds of hypothesis 2:
    *agree* when every checked epoch's medians lie within 0.3 pp, *differ* when one lies 0.5 pp or more
    apart, else *undecided*; "no lth run" or "no driver cell" where one side is missing."""
    import pandas as pd

    rows = []
    by_protocol = {}
    for r in lth_runs:
        if r.config["role"] == "pruning" and abs(r.config["density"] - density) < 1e-9:
            by_protocol.setdefault(r.config["protocol"], []).append(r.result["history"]["val_accuracy"])
    for lr, name in _faithful_protocols().items():
        driver = _cell(table, "main", lr)
        curves = [c for c in by_protocol.get(name, []) if len(c) >= max(CHECK_EPOCHS)]
        if driver is None and not curves:
            continue
        ours = {f"epoch {e}": float(pd.Series([c[e - 1] for c in curves]).median()) if curves else float("nan")
                for e in CHECK_EPOCHS}
        theirs = {f"epoch {e}": driver[f"epoch {e}"] if driver is not None else float("nan") for e in CHECK_EPOCHS}
        gaps = [abs(ours[k] - theirs[k]) for k in ours]
        verdict = ("no lth run" if not curves else "no driver cell" if driver is None else
                   "agree" if all(g <= ALIKE for g in gaps) else "differ" if any(g >= APART for g in gaps)
                   else "undecided")
        rows.append({"learning rate": lr, "trained by": "Keras fit (the driver, main stack)",
                     "trials": int(driver.trials) if driver is not None else 0, **theirs, "verdict": ""})
        rows.append({"learning rate": lr, "trained by": f"lth's engine (protocol {name})", "trials": len(curves),
                     **ours, "verdict": verdict})
    return pd.DataFrame(rows, columns=ENGINE_COLUMNS)


def engine_agreement_sentence(agreement) -> str:
    """:func:`engine_agreement`'s verdicts in words, per learning rate, with the largest gap between the two
    engines' medians and its epoch."""
    parts = []
    for lr, rows in agreement.groupby("learning rate", sort=False):
        ours, driver = rows.iloc[-1], rows.iloc[0]
        if ours.verdict in ("no lth run", "no driver cell"):
            parts.append(f"at learning rate {lr:g}: {ours.verdict} stored yet, so not checked")
            continue
        gaps = {e: 100 * abs(ours[f"epoch {e}"] - driver[f"epoch {e}"]) for e in CHECK_EPOCHS}
        worst = max(gaps, key=gaps.get)
        parts.append(f"at learning rate {lr:g} they {ours.verdict} (largest gap {gaps[worst]:.2f} pp, at epoch "
                     f"{worst}; {wording.count(ours.trials, 'lth run')} against {wording.count(driver.trials, 'driver run')})")
    return "; ".join(parts) if parts else "no learning rate has both an lth run and a driver cell yet"


def _scale_note(cells) -> str:
    """Why a verdict is provisional: cells missing or with fewer than the pre-registered trials."""
    missing = [c for c in cells if c is None]
    short = [c for c in cells if c is not None and (c.trials < SCREEN_TRIALS or c["dense trials"] < SCREEN_TRIALS)]
    if missing:
        return f"provisional: {len(missing)} of its cells not run yet"
    if short:
        return f"provisional: {min(int(min(c.trials, c['dense trials'])) for c in short)} of {SCREEN_TRIALS} trials in some cells"
    return ""


def screen_verdicts(table, lth_faithful_runs=(), published_fig6=None) -> "pd.DataFrame":
    """Each pre-registered hypothesis judged by its written criteria: confirmed, ruled out or undecided,
    with the numbers it rests on (provisional while cells lack their trials)."""
    import pandas as pd

    rows = []

    def add(hypothesis, verdict, evidence, cells):
        note = _scale_note(cells)
        rows.append({"hypothesis": hypothesis, "verdict": f"{verdict} ({note})" if note else verdict,
                     "evidence": evidence})

    low = [_cell(table, env, 0.001) for env in ("legacy", "main")]
    high = [_cell(table, env, 0.01) for env in ("legacy", "main")]
    present_low = [c for c in low if c is not None]
    if present_low and all(c.matches for c in present_low) and not any(c is not None and c.matches for c in high):
        verdict = "confirmed"
    elif (present_low and all(min(c["epoch 50"], c["epoch 100"]) < PUBLISHED_LEVEL for c in present_low)) or any(
            c.collapsed for c in present_low):  # every lr 0.001 cell under the level, or one collapsing
        verdict = "ruled out"
    else:
        verdict = "undecided"
    add("1. learning rate (0.001 against 0.01)", verdict, "; ".join(_describe(c) for c in low + high), low + high)

    pairs = [(_cell(table, "legacy", lr), _cell(table, "main", lr)) for lr in (0.01, 0.001)]
    complete = [(a, b) for a, b in pairs if a is not None and b is not None]
    if any(a.matches and not b.matches and a["epoch 100"] - b["epoch 100"] >= APART for a, b in complete):
        verdict = "confirmed"
    elif len(complete) == 2 and all(
            all(abs(a[f"epoch {e}"] - b[f"epoch {e}"]) <= ALIKE for e in CHECK_EPOCHS)
            and bool(a.collapsed) == bool(b.collapsed) for a, b in complete):
        verdict = "ruled out"
    else:
        verdict = "undecided"
    add("2. software environment (TF 2.1 against TF 2.21)", verdict,
        "; ".join(f"{_describe(a)} | {_describe(b)}" for a, b in pairs), [c for pair in pairs for c in pair])

    small = [_cell(table, "main", lr, "32") for lr in (0.01, 0.001)]
    large = [_cell(table, "main", lr) for lr in (0.01, 0.001)]
    if any(s is not None and s.matches and (b is None or not b.matches) for s, b in zip(small, large)):
        verdict = "confirmed"
    elif all(s is not None and not s.matches for s in small):
        verdict = "ruled out"
    else:
        verdict = "undecided"
    add("3. batch 32 against 600", verdict, "; ".join(_describe(c) for c in small + large), small + large)

    gaps = best_epoch_gaps(lth_faithful_runs, published_fig6) if published_fig6 is not None else None
    if gaps is not None and len(gaps):
        within = int((gaps.best_gap.abs() <= ALIKE).sum())
        verdict = ("confirmed" if within == len(gaps) else
                   "ruled out" if (gaps.best_gap.abs() > ALIKE).sum() > len(gaps) / 2 else "undecided")
        rows.append({"hypothesis": "4. final against best epoch", "verdict": verdict,
                     "evidence": f"best-epoch medians of our faithful runs within {100 * ALIKE:.1f} pp of the "
                                 f"published median in {within} of {len(gaps)} (model, density) cells; median gap "
                                 f"{100 * gaps.final_gap.median():+.2f} pp reporting the final epoch, "
                                 f"{100 * gaps.best_gap.median():+.2f} pp reporting the best"})

    driver = _cell(table, "main", 0.01)
    ours = [r for r in lth_faithful_runs if r.config["role"] == "pruning" and r.config["density"] == 0.5]
    if driver is None:
        verdict = "undecided"
    elif driver.matches:
        verdict = "confirmed"
    else:
        verdict = "ruled out"
    at_100 = [r.result["history"]["val_accuracy"][99] for r in ours if len(r.result["history"]["val_accuracy"]) >= 100]
    ours_note = (f"our lth faithful pruning networks at 50 %: median at epoch 100 {pd.Series(at_100).median():.2%}"
                 if at_100 else "no lth faithful run at 50 % reaching epoch 100 in the store")
    add("5. lth's engine against Keras fit", verdict, f"{_describe(driver)}; {ours_note}", [driver])
    return pd.DataFrame(rows)


def published_fig7_at(published_fig7, epochs=CHECK_EPOCHS) -> "pd.DataFrame":
    """The published pruning network's test accuracy at ``epochs``, per panel of Fig. 7."""
    part = published_fig7[(published_fig7.model == "pruning") & published_fig7.epoch.isin(epochs)]
    return part.pivot(index="panel", columns="epoch", values="test_accuracy").rename(columns=lambda e: f"epoch {e}")


PUBLISHED_AMONG_COLUMNS = ["environment", "learning_rate", "batch", "epoch", "published a", "published b", "trials",
                           "ours: lowest", "ours: median", "ours: highest", "trials >= a", "trials >= b"]


def published_among_trials(curves, published_fig7, epochs=CHECK_EPOCHS) -> "pd.DataFrame":
    """Where each published Fig. 7 pruning curve (one run per panel) falls among the screen's trials: per
    cell and checked epoch, the published accuracy of panels a and b, our trials' lowest, median and highest
    test accuracy, and how many of our trials reach each published value. A measurement beside the
    pre-registered verdicts (which compare medians with a level), not a criterion of its own."""
    import pandas as pd

    published = published_fig7_at(published_fig7, epochs)
    pruning = curves[(curves.role == "pruning") & curves.epoch.isin(epochs)]
    rows = []
    for (environment, lr, batch, epoch), at in pruning.groupby(["environment", "learning_rate", "batch", "epoch"],
                                                               sort=True):
        a, b = (published.loc[panel, f"epoch {epoch}"] for panel in ("a", "b"))
        ours = at.test_accuracy
        rows.append({"environment": environment, "learning_rate": lr, "batch": batch, "epoch": int(epoch),
                     "published a": a, "published b": b, "trials": len(ours), "ours: lowest": ours.min(),
                     "ours: median": ours.median(), "ours: highest": ours.max(),
                     "trials >= a": int((ours >= a).sum()), "trials >= b": int((ours >= b).sum())})
    return pd.DataFrame(rows, columns=PUBLISHED_AMONG_COLUMNS)


def published_among_summary(among, cell) -> str:
    """In words, for the learning rate and batch of ``cell`` (the sweep decision's chosen screen cell; None
    before the screen is complete), both environments pooled: how many of our pruning networks reach each
    published curve at each checked epoch."""
    if cell is None:
        return "no screen cell is chosen yet"
    part = among[np.isclose(among.learning_rate, cell.learning_rate) & (among.batch == cell.batch)]
    if part.empty:
        return f"no screen run at learning rate {cell.learning_rate:g}, batch {cell.batch} is stored yet"
    pooled = part.groupby("epoch").agg(trials=("trials", "sum"), reach_a=("trials >= a", "sum"),
                                       reach_b=("trials >= b", "sum"), a=("published a", "first"),
                                       b=("published b", "first"))
    return (f"learning rate {cell.learning_rate:g}, batch {cell.batch}, both environments: "
            + "; ".join(f"epoch {r.Index}: {r.reach_a} of {r.trials} reach panel a's {r.a:.2%} and {r.reach_b} of "
                        f"{r.trials} panel b's {r.b:.2%}" for r in pooled.itertuples()))


def best_epoch_gaps(runs, published_fig6) -> "pd.DataFrame":
    """Per (model, density) of the faithful runs: our median final and best-epoch test accuracy against
    the published median (best epoch: the highest validation accuracy, which is the test accuracy there)."""
    import pandas as pd

    rows = []
    for r in runs:
        if r.config["role"] == "dense" or r.config["protocol"] != "faithful":
            continue
        rows.append({"model": r.config["role"], "density": r.config["density"],
                     "final": r.result["test_accuracy"], "best": max(r.result["history"]["val_accuracy"])})
    ours = pd.DataFrame(rows, columns=["model", "density", "final", "best"]).groupby(
        ["model", "density"])[["final", "best"]].median().reset_index()
    published = published_fig6[published_fig6.stat == "median"][["model", "density", "value"]]
    merged = ours.merge(published.rename(columns={"value": "published"}), on=["model", "density"])
    merged["final_gap"] = merged.final - merged.published
    merged["best_gap"] = merged.best - merged.published
    return merged


# ------------------------------------------------------------------ the published numbers beside ours

DIFFERENCE = "ours − published (pp)"


def _density_key(density) -> float:
    """Densities as join keys: 0.33 read from a CSV and 0.33 from a config agree to six decimals."""
    return round(float(density), 6)


def published_column(frame, published_fig6, stat: str = "median", density: float | None = None,
                     name: str | None = None) -> "pd.DataFrame":
    """``frame`` with the digitised Fig. 6's ``stat`` (median, q1, q3, ...) of each row's model and density
    beside it, as column ``name`` (default ``published <stat>``); NaN where the paper has no such box.

    ``frame`` has a ``model`` column (or index level) and a ``density`` column, or ``density`` is given.
    """
    import pandas as pd

    name = name or f"published {stat}"
    if not len(frame):
        return frame.assign(**{name: pd.Series(index=frame.index, dtype=float)})
    rows = published_fig6[(published_fig6.stat == stat) & published_fig6.density.notna()]
    lookup = {(m, _density_key(d)): float(v) for m, d, v in zip(rows.model, rows.density, rows.value)}
    models = frame.index.get_level_values("model") if "model" in (frame.index.names or []) else frame["model"]
    densities = [density] * len(frame) if density is not None else frame["density"]
    values = [lookup.get((m, _density_key(d)), float("nan")) for m, d in zip(models, densities)]
    return frame.assign(**{name: pd.Series(values, index=frame.index, dtype=float)})


def median_table(fig6, published_fig6, protocols=None) -> "pd.DataFrame":
    """Per protocol, model and density of ``fig6`` (:func:`lth.figures.seed_fig6`): trials, our median test
    accuracy, the published Fig. 6 median, ours minus published in percentage points, and both quartiles
    (matplotlib's, which drew the published boxes, are the same linear-interpolation quartiles as ours).
    The dense model has no published box (the paper shows its mean and sd: :func:`dense_table`). Rows in the
    order of ``protocols`` (default: as in ``fig6``), the dense model first, densities falling."""
    import pandas as pd

    columns = ["protocol", "model", "density", "n", "ours", "published median", DIFFERENCE, "q25", "q75",
               "published q25", "published q75"]
    if not len(fig6):
        return pd.DataFrame(columns=columns)
    grouped = fig6.groupby(["protocol", "model", "density"], sort=False).test_accuracy
    table = pd.DataFrame({"n": grouped.count(), "ours": grouped.median(), "q25": grouped.quantile(0.25),
                          "q75": grouped.quantile(0.75)}).reset_index()
    table = published_column(table, published_fig6, "median")
    table = published_column(table, published_fig6, "q1", name="published q25")
    table = published_column(table, published_fig6, "q3", name="published q75")
    # two decimals: one PDF point of the published Fig. 6 is 0.011 pp (book/published_figures.md)
    table[DIFFERENCE] = (100 * (table["ours"] - table["published median"])).round(2)
    return _ordered(table, protocols or list(dict.fromkeys(fig6.protocol)))[columns]


def _ordered(table, protocols):
    """Rows in the order of ``protocols``, then model (dense first), then density falling."""
    protocols = {p: i for i, p in enumerate(protocols)}
    models = {m: i for i, m in enumerate(SEED_ROLES)}
    keys = table.assign(_p=table.protocol.map(protocols).fillna(len(protocols)),
                        _m=table.model.map(models).fillna(len(models)),
                        _d=-table.density)
    return keys.sort_values(["_p", "_m", "_d"], ignore_index=True)


def footprints(densities, input_shape=(28, 28, 1)) -> "pd.DataFrame":
    """The seed network's size and cost at each density (Blalock et al.'s measures, :func:`lth.flops.footprint`):
    the prunable layers (fc1, fc2) each keep ``density`` of their weights, as the protocols' masks do. Columns:
    density, weights remaining (of the prunable weights), compression of the prunable weights and of the
    whole network, FLOPs (multiply-adds per image) and the theoretical speed-up."""
    import pandas as pd

    from lth import flops, models
    from lth.runs import SEED_MODEL

    net = models.build(SEED_MODEL, seed=0, input_shape=input_shape)
    sizes = flops.kernel_sizes(net)
    prunable = models.prunable_layers(SEED_MODEL, net)
    rows = []
    for density in [1.0, *densities]:
        masks = {}
        for name in prunable:
            keep = np.zeros(sizes[name], dtype=bool)
            keep[:round(density * sizes[name])] = True
            masks[name] = keep
        cost = flops.footprint(net, masks, prunable)
        rows.append({"density": float(density), "weights remaining": cost["density"],
                     "compression (prunable)": cost["compression"], "compression (network)": cost["compression_total"],
                     "FLOPs (multiply-adds)": cost["flops"], "speed-up": cost["speedup"]})
    return pd.DataFrame(rows)


def operating_points(fig6, protocol: str, densities) -> "pd.DataFrame":
    """Blalock et al.'s table for one protocol: per model and density, the footprint (:func:`footprints`), the
    test accuracy's mean ± sample sd over trials, its change from the dense model's mean (whose value is named
    in every row) and the trials; the random-mask baseline beside the paper's models."""
    import pandas as pd

    part = fig6[fig6.protocol == protocol]
    dense = part[part.model == "dense"].test_accuracy
    base = dense.mean() if len(dense) else float("nan")
    cost = footprints(densities).set_index("density")
    rows = []
    for model in SEED_ROLES:
        for density in ([1.0] if model == "dense" else sorted(densities, reverse=True)):
            at = part[(part.model == model) & np.isclose(part.density, density)].test_accuracy
            if at.empty:
                continue
            sd = at.std(ddof=1) if len(at) > 1 else float("nan")
            size = cost.loc[cost.index[np.isclose(cost.index, density)][0]]
            rows.append({"model": model, "weights remaining": size["weights remaining"],
                         "compression (prunable)": f"{size['compression (prunable)']:.1f}x",
                         "compression (network)": f"{size['compression (network)']:.1f}x",
                         "FLOPs (multiply-adds)": int(size["FLOPs (multiply-adds)"]),
                         "speed-up": f"{size['speed-up']:.2f}x",
                         "test accuracy": f"{at.mean():.2%} ± {sd:.2%}" if sd == sd else f"{at.mean():.2%}",
                         "change from dense": f"{100 * (at.mean() - base):+.2f} pp (dense {base:.2%})"
                         if base == base else "–", "trials": len(at)})
    columns = ["model", "weights remaining", "compression (prunable)", "compression (network)",
               "FLOPs (multiply-adds)", "speed-up", "test accuracy", "change from dense", "trials"]
    return pd.DataFrame(rows, columns=columns)


def baseline_sentence(tests) -> str:
    """The ticket against the random-mask baseline (rows of :func:`lth.analysis.mann_whitney` of ``ticket``
    against ``random_mask`` with a ``protocol`` column), by the rule the chapter wrote before the runs: a side
    is ahead in a cell where its median is higher and Holm's p < 0.05."""
    if tests is None or len(tests) == 0:
        return "no random-mask run is stored yet, so no cell is tested"

    def cells(rows):
        return ", ".join(f"{r.protocol} {r.density:.0%}" for r in rows.itertuples()) or "none"

    resolved = tests[tests.p_holm < 0.05]
    ahead, behind = resolved[resolved.effect_pp > 0], resolved[resolved.effect_pp < 0]
    return (f"of {len(tests)} (protocol, density) cells tested, the ticket is ahead of the random mask in "
            f"{len(ahead)} ({cells(ahead)}), behind it in {len(behind)} ({cells(behind)}), and the rest are not "
            f"resolved at these trial counts (smallest n: {int(tests.n.min())})")


def dense_table(fig6, published_fig6, protocols=None) -> "pd.DataFrame":
    """Per protocol: the dense model's trials, mean and sample sd of our test accuracy beside the published
    Fig. 6's dense mean and sd (the grey line and band; whether the paper's sd is the sample's or the
    population's is not stated), and ours minus published in percentage points; in the order of ``protocols``
    (default: as in ``fig6``), protocols without a dense run left out."""
    import pandas as pd

    dense = published_fig6[published_fig6.model == "dense"].set_index("stat").value
    published_mean, published_sd = (float(dense[s]) if s in dense.index else float("nan") for s in ("mean", "sd"))
    rows = []
    dense_runs = fig6[fig6.model == "dense"]
    for protocol in protocols or list(dict.fromkeys(fig6.protocol)):
        values = dense_runs.loc[dense_runs.protocol == protocol, "test_accuracy"]
        if not len(values):
            continue
        rows.append({"protocol": protocol, "n": len(values), "ours: mean": values.mean(),
                     "ours: sd": values.std(ddof=1) if len(values) > 1 else float("nan"),
                     "published mean": published_mean, "published sd": published_sd,
                     DIFFERENCE: round(100 * (values.mean() - published_mean), 2)})
    return pd.DataFrame(rows, columns=["protocol", "n", "ours: mean", "ours: sd", "published mean", "published sd",
                                       DIFFERENCE])


def with_published_effect(tests, published_fig6, a: str = "ticket", b: str = "random") -> "pd.DataFrame":
    """:func:`lth.analysis.mann_whitney`'s table with ``published_effect_pp`` beside ``effect_pp``: the published
    Fig. 6 median of ``a`` minus that of ``b`` at the row's density, in percentage points (NaN if either is missing)."""
    if "density" not in tests.columns:
        return tests.assign(published_effect_pp=[])  # no cell tested: nothing to join
    both = published_column(tests.assign(model=a), published_fig6, name="_a")
    both = published_column(both.assign(model=b), published_fig6, name="_b")
    out = tests.copy()
    out.insert(out.columns.get_loc("effect_pp") + 1, "published_effect_pp",
               # two decimals: one PDF point of Fig. 6 is 0.011 pp (book/published_figures.md)
               (100 * (both["_a"] - both["_b"])).round(2))
    return out


def published_fig7_summary(published_fig7, model: str = "pruning") -> "pd.DataFrame":
    """Per panel of the published Fig. 7, ``model``'s best and last test accuracy and its last epoch
    (index ``published Fig. 7a`` / ``7b``), to set beside our curves' ``max`` and ``last``."""
    import pandas as pd

    rows = {}
    for panel, part in published_fig7[published_fig7.model == model].groupby("panel"):
        part = part.sort_values("epoch")
        rows[f"published Fig. 7{panel}"] = {"max": part.test_accuracy.max(), "last": part.test_accuracy.iloc[-1],
                                            "last epoch": int(part.epoch.iloc[-1])}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["max", "last", "last epoch"])


def runs_stored(runs, protocols, densities, trials) -> "pd.DataFrame":
    """Per protocol: the runs of its (role, density, trial) cells stored, and how many the chapter's
    parameters ask for (:func:`lth.seed.protocol.cells`)."""
    import pandas as pd

    have = {(r.config["protocol"], r.config["role"], r.config["density"], r.config["trial"]) for r in runs}
    rows = []
    for protocol in protocols:
        wanted = cells([protocol], densities, trials)
        rows.append({"protocol": protocol, "stored": sum(cell in have for cell in wanted), "expected": len(wanted),
                     "trials": len(trials)})
    return pd.DataFrame(rows, columns=["protocol", "stored", "expected", "trials"])


def stored_sentence(counts) -> str:
    """``runs_stored``'s table as one plain sentence; a protocol with no run is named as not shown yet."""
    parts = [f"{r.protocol}: {r.stored:,} of the {r.expected:,} runs that {r.trials} trials per cell ask for"
             for r in counts.itertuples()]
    empty = [r.protocol for r in counts.itertuples() if r.stored == 0]
    sentence = "; ".join(parts) + "."
    if empty:
        sentence += (f" No run of {', '.join(empty)} is stored yet, so {'it is' if len(empty) == 1 else 'they are'}"
                     " left out of the figures and tables below until the sweep stores some.")
    return sentence


def panels_text(protocols) -> str:
    """Which protocol each stacked panel of a figure shows, for its caption:
    ``faithful (top) and corrected (bottom)``."""
    protocols = list(protocols)
    if len(protocols) <= 1:
        return protocols[0] if protocols else "no protocol (none has a stored run)"
    middle = ["middle"] if len(protocols) == 3 else [f"panel {i + 2}" for i in range(len(protocols) - 2)]
    where = ["top", *middle, "bottom"]
    named = [f"{p} ({w})" for p, w in zip(protocols, where)]
    return ", ".join(named[:-1]) + " and " + named[-1]


def claims_sentence(claims, counts, skip=()) -> str:
    """How the claims fare under each protocol of ``counts`` (:func:`runs_stored`) not in ``skip``, as
    plain sentences: verdicts counted, or that none is tested while the protocol has no stored run."""
    sentences = []
    for r in counts.itertuples():
        if r.protocol in skip:
            continue
        stored = f"{r.stored:,} of {r.expected:,} runs stored"
        verdicts = claims.verdict[claims.protocol == r.protocol]
        if r.stored == 0:
            sentences.append(f"Under {r.protocol} no claim is tested yet ({stored}).")
        else:
            sentences.append(f"Under {r.protocol} ({stored}) {int((verdicts == 'holds').sum())} hold, "
                             f"{int((verdicts == 'does not hold').sum())} do not hold and "
                             f"{int(verdicts.str.startswith('undecided').sum())} are undecided.")
    return " ".join(sentences)
