"""Deciding a chapter's claims statistically.

A claim compares group A with group B in one or more *cells* (the ticket against random
re-initialisation, one cell per density), or asks of one group's paired differences whether they
lie above zero (``b=None``: a gain measured trial by trial). Per cell:

* the **effect**, A minus B as a difference of medians (default) or means in the claim's unit
  (percentage points for accuracies), with a seeded **percentile-bootstrap 95 % interval**;
* **"A beats B"** (``direction="greater"``, or ``"less"``): a one-sided exact Mann–Whitney U test
  (paired: Wilcoxon signed-rank), Holm-corrected across the claim's cells;
* **"A and B are alike"** (``"alike"``): two one-sided tests (TOST) against a margin the caller
  states and justifies (:class:`Margin`, e.g. :func:`sd_margin`), never the absence of a
  significant difference.

Holm's correction is conservative for "holds in every cell" (such an intersection-union claim
would need none), but it lets each cell's verdict be read on its own, as a table invites, and
"refuted in some cell" needs it. A cell is decided only when the corrected test and the interval
agree: it *holds* when the test rejects and the interval lies on the claimed side of zero (for
"alike": inside ± the margin); it *does not hold* when the opposite test (no gain as large as the
margin; for "alike": a difference beyond it) rejects and the interval lies beyond the margin.
Otherwise it is *undecided*, which is always the case when the interval spans both zero and the
margin; :func:`trials_needed` then says how many trials per group would decide the observed effect.

Why rank tests: with 5–10 trials per cell normality cannot be checked, and a collapsed network
(11 % among 98 %) would dominate a t-test; the Mann–Whitney U test asks whether A tends to lie
above B, which is what "beats" means, and its exact permutation distribution (computed here with
ties, see :func:`rank_sum_p`) stays exact at five trials, where the normal approximation is poor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from lth import wording

ALPHA = 0.05
LEVEL = 0.95
N_BOOT = 10_000
POWER = 0.8
DIRECTIONS = ("greater", "less", "alike")
STATISTICS = ("median", "mean")
# Asymptotic efficiency of the rank tests relative to the t-test on normal data (both the
# Mann-Whitney and the signed-rank test): a rank test needs 1 / (3/pi), about 5 % more trials.
RANK_TEST_EFFICIENCY = 3 / math.pi
_DIGITS = 9  # values are rounded before ranking so that float noise (x - margin) makes no ties vanish
ROW_COLUMNS = ["key", "claim", "test", "margin", "unit", "published", "cell", "effect", "ci_low", "ci_high",
               "p_holm", "p_holm_against", "verdict", "checks", "passed", "refuted", "undecided", "trials",
               "trials_needed", "margin_justification"]


@dataclass(frozen=True)
class Margin:
    """The smallest difference that counts, in the claim's unit, and why it is that size."""

    value: float
    justification: str


@dataclass(frozen=True)
class Claim:
    """What a claim says about groups ``a`` and ``b`` (``b=None``: ``a`` holds paired differences).

    ``direction``: ``"greater"`` (A beats B), ``"less"`` (A falls below B) or ``"alike"`` (within
    ± ``margin``). ``published`` maps a cell to the published effect in ``unit``. Values are
    multiplied by ``scale`` before anything is computed (fractions to percentage points).
    """

    key: str
    text: str
    direction: str
    margin: Margin
    a: str = "A"
    b: str | None = "B"
    statistic: str = "median"
    published: dict = field(default_factory=dict)
    scale: float = 100.0
    unit: str = "pp"

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}, got {self.statistic!r}")


def sd_margin(values, what: str, k: float = 1.0, scale: float = 100.0, unit: str = "pp") -> Margin:
    """``k`` trial-to-trial standard deviations of ``values`` (e.g. the dense model's accuracies) as a margin.

    Why this size: two trainings of the same network that differ only in their seed already
    differ by about one standard deviation, so a smaller difference between two models is not
    one a reader could tell from a change of seed. NaN (and says so) below two trials.
    """
    values = np.asarray(values, dtype=float) * scale
    if len(values) < 2:
        return Margin(float("nan"), f"no margin: the standard deviation of {what} needs 2 trials, "
                                    f"{len(values)} stored")
    value = k * float(np.std(values, ddof=1))
    times = "" if k == 1 else f"{k:g} × "
    return Margin(value, f"±{value:.2f} {unit} = {times}the trial-to-trial standard deviation of {what} "
                         f"over its {len(values)} trials: a smaller difference is within what a change of "
                         "seed does to one network")


def effect(a, b=None, statistic: str = "median") -> float:
    """A minus B as a difference of medians or means (``b=None``: the statistic of ``a``)."""
    location = np.median if statistic == "median" else np.mean
    return float(location(a) - (location(b) if b is not None else 0.0))


def bootstrap_interval(a, b=None, statistic: str = "median", level: float = LEVEL, n_boot: int = N_BOOT,
                       seed=0) -> tuple[float, float]:
    """Percentile-bootstrap interval of :func:`effect`, each group resampled on its own.

    Reproducible: the same ``seed`` (an int or a sequence of ints) gives the same interval. With
    five trials a bootstrapped median can only take sample values, so the interval is coarse;
    that is one reason a cell is decided only when the exact test agrees with it.
    """
    a = np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    location = np.median if statistic == "median" else np.mean
    draws = location(a[rng.integers(0, len(a), (n_boot, len(a)))], axis=1)
    if b is not None:
        b = np.asarray(b, dtype=float)
        draws = draws - location(b[rng.integers(0, len(b), (n_boot, len(b)))], axis=1)
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _tail(counts: np.ndarray, observed: int, alternative: str) -> float:
    """P(S >= observed) or P(S <= observed) under the null distribution ``counts`` of S."""
    if alternative not in ("greater", "less", "two-sided"):
        raise ValueError(f"alternative must be 'greater', 'less' or 'two-sided', got {alternative!r}")
    total = counts.sum()
    greater, less = counts[observed:].sum() / total, counts[:observed + 1].sum() / total
    p = {"greater": greater, "less": less, "two-sided": 2 * min(greater, less)}[alternative]
    return float(min(1.0, p))


def rank_sum_p(a, b, alternative: str = "greater", shift: float = 0.0) -> float:
    """Exact Mann–Whitney U p-value of ``a - shift`` against ``b``, ties included.

    ``alternative="greater"`` tests H0: A - B <= ``shift`` (in location) against A - B > ``shift``.
    The null distribution of A's rank sum over all C(n_a + n_b, n_a) splits is counted by
    dynamic programming on doubled midranks, so it is exact with ties (accuracies on 10,000 test
    images tie often) at any sample size, and fast.
    """
    a = np.asarray(a, dtype=float) - shift
    pooled = np.round(np.concatenate([a, np.asarray(b, dtype=float)]), _DIGITS)
    doubled = np.rint(2 * stats.rankdata(pooled)).astype(int)
    n_a = len(a)
    counts = np.zeros((n_a + 1, int(doubled.sum()) + 1))
    counts[0, 0] = 1.0
    for rank in doubled:  # each value joins A's subset or not: subsets by size and rank sum
        counts[1:, rank:] = counts[1:, rank:] + counts[:-1, :-rank]
    return _tail(counts[n_a], int(doubled[:n_a].sum()), alternative)


def signed_rank_p(d, alternative: str = "greater", shift: float = 0.0) -> float:
    """Exact Wilcoxon signed-rank p-value of the paired differences ``d - shift`` against zero.

    Ranks of |d - shift| with midranks, zeros ranked and then dropped (Pratt), and the null
    distribution of the positive rank sum over all 2^n sign flips counted exactly.
    """
    d = np.round(np.asarray(d, dtype=float) - shift, _DIGITS)
    doubled = np.rint(2 * stats.rankdata(np.abs(d))).astype(int)
    signed = doubled[d != 0]
    if len(signed) == 0:
        return 1.0
    counts = np.zeros(int(signed.sum()) + 1)
    counts[0] = 1.0
    for rank in signed:
        counts[rank:] = counts[rank:] + counts[:-rank]
    return _tail(counts, int(doubled[d > 0].sum()), alternative)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values: the i-th smallest of k times (k - i + 1), kept monotone, at most 1.

    Controls the chance of any false "holds" among a claim's cells at the nominal level, with no
    assumption about how the cells depend on each other (they share the dense model).
    """
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p, kind="stable")
    k = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((k - np.arange(k)) * p[order]))
    out = np.empty(k)
    out[order] = adjusted
    return out


def _test(a, b, alternative: str, shift: float = 0.0) -> float:
    return rank_sum_p(a, b, alternative, shift) if b is not None else signed_rank_p(a, alternative, shift)


def _smallest_attainable_n(alpha: float, paired: bool) -> int:
    """Fewest trials per group at which an exact rank test can reach p < ``alpha`` at all."""
    n = 1
    while (0.5 ** n if paired else 1 / math.comb(2 * n, n)) >= alpha:
        n += 1
    return n


def trials_needed(sd: float, distance: float, alpha: float = ALPHA, power: float = POWER,
                  paired: bool = False) -> float:
    """Trials per group for a one-sided rank test at ``alpha`` to resolve ``distance`` with ``power``.

    Method: the normal approximation for a difference of means, n = 2 (z_{1-alpha} + z_power)^2
    sd^2 / distance^2 (one group: without the 2), divided by the rank tests' efficiency 3/pi, and
    at least the n at which the exact test can reach ``alpha`` at all. ``sd`` is the pooled
    trial-to-trial standard deviation, ``distance`` how far the effect lies from the bound it must
    clear (zero or the margin). Infinite when the effect sits on that bound.
    """
    if not (np.isfinite(sd) and np.isfinite(distance)):
        return float("nan")
    if distance <= 0:
        return float("inf")
    z = stats.norm.ppf(1 - alpha) + stats.norm.ppf(power)
    n = (1 if paired else 2) * (z * sd / distance) ** 2 / RANK_TEST_EFFICIENCY
    return float(max(math.ceil(n), _smallest_attainable_n(alpha, paired)))


def _pooled_sd(a, b) -> float:
    groups = [np.asarray(g, dtype=float) for g in ((a,) if b is None else (a, b))]
    dof = sum(len(g) - 1 for g in groups)
    return float(np.sqrt(sum(((g - g.mean()) ** 2).sum() for g in groups) / dof)) if dof > 0 else float("nan")


def _decision_distance(claim: Claim, value: float) -> float:
    """How far the effect lies from the nearest bound whose clearing would decide the cell."""
    margin = claim.margin.value
    if claim.direction == "alike":
        return abs(margin - abs(value)) if np.isfinite(margin) else float("nan")
    signed = value if claim.direction == "greater" else -value
    options = [signed] + ([margin - signed] if np.isfinite(margin) else [])
    return max(options)


def _p_values(claim: Claim, a, b) -> tuple[float, float]:
    """The claim's own test and the test that would refute it; NaN where they need a margin and there is none."""
    margin = claim.margin.value
    if claim.direction == "alike":
        if not np.isfinite(margin):
            return np.nan, np.nan  # nothing is alike, or unlike, without a margin
        return (max(_test(a, b, "greater", -margin), _test(a, b, "less", margin)),
                min(1.0, 2 * min(_test(a, b, "greater", margin), _test(a, b, "less", -margin))))
    sign = 1 if claim.direction == "greater" else -1
    toward, away = ("greater", "less") if sign == 1 else ("less", "greater")
    return _test(a, b, toward), (_test(a, b, away, sign * margin) if np.isfinite(margin) else np.nan)


def decide_cells(claim: Claim, frame: pd.DataFrame, alpha: float = ALPHA, n_boot: int = N_BOOT,
                 seed: int = 0) -> pd.DataFrame:
    """One row per cell of ``claim`` in the tidy ``frame`` (columns ``cell, group, value``).

    Columns: ``cell``, ``n_a``, ``n_b``, ``effect``, ``ci_low``, ``ci_high`` (bootstrap, seeded by
    ``seed`` and the cell's position), ``published``, ``p`` and ``p_holm`` (the claim's test, raw
    and Holm-corrected over the cells), ``p_against`` and ``p_holm_against`` (the test that would
    refute it), ``decision`` (holds / does not hold / undecided) and ``trials_needed`` (undecided cells).
    """
    rows = []
    for i, (cell, part) in enumerate(frame.groupby("cell", sort=False)):
        a = part.loc[part.group == claim.a, "value"].to_numpy(float) * claim.scale
        b = None if claim.b is None else part.loc[part.group == claim.b, "value"].to_numpy(float) * claim.scale
        if len(a) == 0 or (b is not None and len(b) == 0):
            continue
        value = effect(a, b, claim.statistic)
        low, high = bootstrap_interval(a, b, claim.statistic, n_boot=n_boot, seed=[seed, i])
        p_for, p_against = _p_values(claim, a, b)
        rows.append({"cell": cell, "n_a": len(a), "n_b": len(b) if b is not None else np.nan,
                     "effect": value, "ci_low": low, "ci_high": high,
                     "published": claim.published.get(cell, np.nan), "p": p_for, "p_against": p_against,
                     "sd": _pooled_sd(a, b)})
    columns = ["cell", "n_a", "n_b", "effect", "ci_low", "ci_high", "published", "p", "p_holm", "p_against",
               "p_holm_against", "decision", "trials_needed"]
    if not rows:
        return pd.DataFrame(columns=columns)
    cells = pd.DataFrame(rows)
    for raw, corrected in (("p", "p_holm"), ("p_against", "p_holm_against")):
        cells[corrected] = pd.Series(holm(cells[raw].fillna(1.0)), index=cells.index).where(cells[raw].notna())
    cells["decision"] = [_decide(claim, row, alpha) for row in cells.itertuples()]
    # A decision needs Holm's strictest step (alpha / k) and the interval (one side: (1 - LEVEL) / 2).
    # The power estimate can fall at or below the trials already stored (this draw was less lucky than
    # the estimate's normal approximation assumes); those trials did not decide the cell, so one more
    # than stored is the least that can.
    level = min(alpha / len(cells), (1 - LEVEL) / 2)
    cells["trials_needed"] = [
        max(trials_needed(row.sd, _decision_distance(claim, row.effect), level, paired=claim.b is None),
            np.nanmin([row.n_a, row.n_b]) + 1)
        if decision == "undecided" else np.nan for row, decision in zip(cells.itertuples(), cells.decision)]
    return cells[columns]


def _decide(claim: Claim, row, alpha: float) -> str:
    margin = claim.margin.value
    if claim.direction == "alike":
        inside = -margin < row.ci_low and row.ci_high < margin
        beyond = row.ci_low > margin or row.ci_high < -margin
    else:
        low, high = (row.ci_low, row.ci_high) if claim.direction == "greater" else (-row.ci_high, -row.ci_low)
        inside, beyond = low > 0, high < margin
    if row.p_holm < alpha and inside:
        return "holds"
    if row.p_holm_against < alpha and beyond:
        return "does not hold"
    return "undecided"


def describe_test(claim: Claim, cells: int) -> str:
    """The test behind a claim, in words, for the claims table."""
    rank = "Mann–Whitney U" if claim.b is not None else "Wilcoxon signed-rank"
    holm_text = f"Holm over {wording.count(cells, 'cell')}"
    if claim.direction == "alike":
        if not np.isfinite(claim.margin.value):  # fewer than two trials to measure the margin with
            return f"TOST: two one-sided exact {rank} tests, no margin yet ({claim.margin.justification})"
        return f"TOST: two one-sided exact {rank} tests at ±{claim.margin.value:.2f} {claim.unit}, {holm_text}"
    return f"one-sided exact {rank}, {claim.statistic}s, {holm_text}"


def claim_row(claim: Claim, frame: pd.DataFrame, alpha: float = ALPHA, n_boot: int = N_BOOT, seed: int = 0,
              missing: str = "no such cells in this run") -> dict:
    """One row of a claims table: the verdict, and the cell it rests on with its effect, interval and p.

    The claim holds in every cell it spans or not at all: it *holds* when every cell holds, *does
    not hold* when any cell is refuted, and is *undecided at n trials* otherwise (n: the fewest
    trials in any group). The cell shown is the weakest that holds, the most clearly refuted,
    or the undecided one that needs the most trials; ``trials_needed`` is that cell's.
    """
    cells = decide_cells(claim, frame, alpha, n_boot, seed)
    row = dict.fromkeys(ROW_COLUMNS, np.nan) | {
        "key": claim.key, "claim": claim.text, "test": describe_test(claim, len(cells)),
        "margin": claim.margin.value, "unit": claim.unit, "margin_justification": claim.margin.justification,
        "checks": len(cells), "passed": int((cells.decision == "holds").sum()),
        "refuted": int((cells.decision == "does not hold").sum()),
        "undecided": int((cells.decision == "undecided").sum())}
    if cells.empty:
        return row | {"verdict": f"not tested ({missing})", "trials": 0}
    trials = int(np.nanmin(cells[["n_a", "n_b"]].to_numpy(float)))
    if row["refuted"]:
        verdict, pick = "does not hold", cells[cells.decision == "does not hold"].p_holm_against.idxmin()
    elif row["undecided"]:
        verdict = f"undecided at {trials} trials"
        pick = cells[cells.decision == "undecided"].trials_needed.fillna(np.inf).idxmax()
    else:
        verdict, pick = "holds", cells.p_holm.idxmax()
    shown = cells.loc[pick]
    return row | {"verdict": verdict, "trials": trials, **{c: shown[c] for c in (
        "cell", "published", "effect", "ci_low", "ci_high", "p_holm", "p_holm_against", "trials_needed")}}


def claims_table(claims, alpha: float = ALPHA, n_boot: int = N_BOOT, seed: int = 0,
                 missing: str = "no such cells in this run") -> pd.DataFrame:
    """The claims table of ``(claim, frame)`` pairs, one :func:`claim_row` each."""
    return pd.DataFrame([claim_row(c, f, alpha, n_boot, seed, missing) for c, f in claims], columns=ROW_COLUMNS)


def cells_frame(cells) -> pd.DataFrame:
    """The tidy frame :func:`decide_cells` reads, from ``(cell, a_values, b_values)`` triples (b may be None)."""
    parts = [pd.DataFrame({"cell": cell, "group": group, "value": np.asarray(values, dtype=float)})
             for cell, a, b in cells for group, values in (("A", a), ("B", b)) if values is not None]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["cell", "group", "value"])


def paired_differences(frame: pd.DataFrame, a: dict, b: dict, keys: list, value: str = "test_accuracy") -> pd.Series:
    """``value`` of the rows matching ``a`` minus that of the rows matching ``b`` (``{column: value}`` filters,
    floats compared with ``np.isclose``), row for row where they agree on ``keys``: the paired differences a
    claim with ``b=None`` reads. Indexed by ``keys``; densities are matched to six decimals so that a density
    computed two ways still pairs. Rows without a partner are left out."""
    def rows(spec):
        part = frame
        for column, wanted in spec.items():
            part = part[np.isclose(part[column], wanted) if isinstance(wanted, float) else part[column] == wanted]
        part = part[keys + [value]]
        return part.round({"density": 6}) if "density" in keys else part

    merged = rows(a).merge(rows(b), on=keys, suffixes=("_a", "_b"))
    return (merged[f"{value}_a"] - merged[f"{value}_b"]).set_axis(pd.MultiIndex.from_frame(merged[keys])
                                                                 if len(keys) > 1 else merged[keys[0]])


def _signed(value: float, digits: int = 2) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def quote(row) -> str:
    """A claims-table row as one sentence for the prose (glued, never typed)."""
    verdict = row["verdict"]
    if verdict.startswith("not tested"):
        return verdict
    unit = row["unit"]
    where = f" ({row['cell']})" if row["checks"] > 1 else ""
    text = (f"{verdict}: effect {_signed(row['effect'])} {unit}{where}, 95 % CI "
            f"[{_signed(row['ci_low'])}, {_signed(row['ci_high'])}], ")
    if verdict == "does not hold":
        text += f"Holm-corrected p = {row['p_holm_against']:.3g} against the claim"
    else:
        text += f"Holm-corrected p = {row['p_holm']:.3g}"
    if row["checks"] > 1:
        text += f", {row['passed']} of {row['checks']} cells hold"
    if verdict.startswith("undecided"):
        need = row["trials_needed"]
        text += (f"; about {need:.0f} trials per group would decide it" if np.isfinite(need)
                 else "; no number of trials decides an effect on the margin")
    if np.isfinite(row["published"]):
        text += f"; published {_signed(row['published'])} {unit}"
    return text


def held_sentence(table: pd.DataFrame, what: str) -> str:
    """How many claims of a claims ``table`` hold, as a sentence opening ("3 of the 5 Conv claims hold here"),
    or, for a table with no claim, that none can be checked yet."""
    if not len(table):
        return f"No {what} can be checked yet: none of their runs is stored at this page's scale."
    return f"{int((table.verdict == 'holds').sum())} of the {len(table)} {what} hold here."


def claims_for_reading(table: pd.DataFrame, keep=()) -> pd.DataFrame:
    """The columns of a claims table a reader needs, named with their unit; ``keep``: leading columns to keep.

    The interval as one "[low, high]" column; an effect on the margin, which no number of trials
    decides, as "none" trials needed. Claims in different units (pp of accuracy, % of an iteration)
    get a ``unit`` column instead of the unit in the column names.
    """
    units = list(dict.fromkeys(table.unit.dropna()))
    mixed = len(units) > 1
    suffix = "" if mixed else f" ({units[0] if units else 'pp'})"

    def interval(low, high):
        return f"[{_signed(low)}, {_signed(high)}]" if np.isfinite(low) and np.isfinite(high) else None

    def needed(n):
        return None if not n == n else ("none" if np.isinf(n) else int(n))

    return pd.DataFrame({**{c: table[c] for c in keep}, "claim": table.claim, **({"unit": table.unit} if mixed else {}),
                         f"published{suffix}": table.published,
                         "cell shown": table.cell, f"effect{suffix}": table.effect,
                         f"95 % CI{suffix}": [interval(lo, hi) for lo, hi in zip(table.ci_low, table.ci_high)],
                         "test": table.test, "p for the claim (Holm)": table.p_holm,
                         "p against the claim (Holm)": table.p_holm_against,
                         "verdict": table.verdict,
                         "cells held / refuted / all": [f"{h} / {r} / {c}" if r == r else f"{h} / – / {c}" for h, r, c
                                                        in zip(table.passed, table.refuted, table.checks)],
                         "trials": table.trials, "trials needed": [needed(n) for n in table.trials_needed]})
