"""How long the stored networks behind each chapter took to train, from their provenance.

    .venv/bin/python scripts/training_times.py [RESULTS_DIR]      (default: $LTH_RESULTS_DIR or results)

Every stored run records ``wall_time_s``, the wall time of the training group it was trained in up to
the moment it finished, and ``group_size``, how many networks trained together in that group; so
``wall_time_s / group_size`` summed over a chapter's runs is the time its groups took, one group at a
time. Runs trained by single-threaded sweep workers (``tf_intra_op_threads`` 1) ran two at once on
two cores, so for them the wall clock on a two-core machine is about half that sum.
Runs are assigned to chapters by kind and optimiser; a run the rules do not place is counted as "other".
"""
from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = {  # chapter -> what its stored networks are
    "background": "MLP width sweep (kind train); its pruning demo reuses frankle_carbin's dense runs",
    "frankle_carbin": "LeNet-300-100 lottery runs with Adam (dense runs shared with background, supermasks)",
    "liu_comparison": "LeNet-300-100 lottery runs with SGD",
    "our_experiments": "the seed's LeNet-5 sweep, Keras-fit control and unpruned twins",
    "other": "stored runs no rule assigns to a chapter",
}


def chapter_of(run: dict) -> str:
    kind, config = run["kind"], run["config"]
    if kind.startswith("seed"):
        return "our_experiments"
    if kind == "train":
        return "background"
    if kind == "lottery":
        return {"adam": "frankle_carbin", "sgd": "liu_comparison"}.get(config["training"]["optimizer"], "other")
    return "other"


def training_times(results: Path) -> dict:
    """{chapter: {"runs", "hours", "two_core_hours"}} over every run.json under ``results``/runs."""
    table = defaultdict(lambda: {"runs": 0, "hours": 0.0, "two_core_hours": 0.0})
    for path in sorted((results / "runs").glob("*/*/run.json")):
        run = json.loads(path.read_text())
        provenance = run.get("provenance", {})
        hours = provenance.get("wall_time_s", 0.0) / max(1, provenance.get("group_size") or 1) / 3600
        parallel = 2 if provenance.get("tf_intra_op_threads") == 1 else 1
        row = table[chapter_of(run)]
        row["runs"] += 1
        row["hours"] += hours
        row["two_core_hours"] += hours / parallel
    return dict(table)


def _duration(hours: float) -> str:
    return f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.0f} min"


def main(argv: list[str]) -> int:
    results = Path(argv[0] if argv else os.environ.get("LTH_RESULTS_DIR", ROOT / "results"))
    table = training_times(results)
    if not table:
        print(f"no stored runs under {results}/runs", file=sys.stderr)
        return 1
    print("| chapter | stored networks | training, one group at a time | on two cores | what |")
    print("| --- | ---: | ---: | ---: | --- |")
    for chapter in CHAPTERS:
        if chapter in table:
            row = table[chapter]
            print(f"| {chapter} | {row['runs']:,} | {_duration(row['hours'])} | {_duration(row['two_core_hours'])} "
                  f"| {CHAPTERS[chapter]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
