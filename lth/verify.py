"""``python -m lth verify --sample N``: re-train stored runs and say how far the numbers agree.

N stored runs, drawn at random, are trained again into a scratch store with the engine and
the native-ops setting they recorded, in a group of the size they recorded: with the same
companions where the run names them (``group_members``), else with copies of itself. The
report counts the runs that agree bit for bit (every recorded curve value, the test
loss and accuracy) and gives the largest difference in test accuracy.

Why a group: the stacked engine computes K networks with batched kernels whose summation
order depends on K, so a network trained in a group of 2 and alone can differ in the last
bits, and over thousands of steps those bits grow into visible differences.
"""
from __future__ import annotations

import contextlib
import os
import random
import tempfile

from lth import runs
from lth.jobs import train_group
from lth.store import ResultsStore

RETRAINABLE = ("train", "lottery", "seed_protocol", "seed_unpruned")


def job_for(desc: runs.RunDesc, store: ResultsStore):
    """The job that trains ``desc`` again (parents read from ``store``); None if one is missing."""
    if isinstance(desc, (runs.TrainRun, runs.LotteryRun)):
        from lth import experiments

        return experiments.job(desc, store)
    if isinstance(desc, runs.SeedRun):
        from lth.seed import protocol

        return protocol.job(desc, store)
    if isinstance(desc, runs.SeedControlRun) and desc.control == "unpruned":
        from lth.seed import controls

        return controls.unpruned_job(desc)
    raise ValueError(f"{desc.kind} runs cannot be re-trained by verify; re-trainable kinds: {list(RETRAINABLE)}")


@contextlib.contextmanager
def _engine_settings(provenance: dict):
    """The recorded engine and native-ops setting, as the environment the trainer reads."""
    saved = {k: os.environ.get(k) for k in ("LTH_ENGINE", "LTH_NATIVE")}
    if provenance.get("engine") in ("graph", "stacked"):
        os.environ["LTH_ENGINE"] = provenance["engine"]
    if provenance.get("native_ops") is not None:
        os.environ["LTH_NATIVE"] = "1" if provenance["native_ops"] else "0"
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _group(run, store: ResultsStore) -> list:
    """The run's training group as recorded, or the run repeated to its recorded size."""
    members = run.provenance.get("group_members")
    if members:
        return [store.read(store.root / member) for member in members]
    return [run] * int(run.provenance.get("group_size") or 1)


def _same(a: dict, b: dict) -> bool:
    keys = ("test_loss", "test_accuracy", "history")
    return all(a.get(k) == b.get(k) for k in keys)


def verify(sample: int, store: ResultsStore | None = None, seed: int = 0, progress=print, kinds=RETRAINABLE) -> dict:
    """Re-train ``sample`` stored runs of ``kinds`` drawn at random (``seed``); returns the comparison."""
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 1:
        raise ValueError(f"sample must be a positive int, got {sample!r}")
    unknown = sorted(set(kinds) - set(RETRAINABLE))
    if unknown:
        raise ValueError(f"cannot re-train runs of kind {unknown}; re-trainable kinds: {list(RETRAINABLE)}")
    store = store or ResultsStore()
    candidates = [run for run in store.runs() if run.kind in kinds]
    if not candidates:
        raise ValueError(f"no re-trainable run ({', '.join(RETRAINABLE)}) is stored under {store.root}")
    chosen = random.Random(seed).sample(candidates, min(sample, len(candidates)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="lth-verify-") as scratch_root:
        scratch = ResultsStore(scratch_root)
        for run in chosen:
            group = _group(run, store)
            chunk = [job_for(runs.from_stored(member.kind, member.config), store) for member in group]
            if any(job is None for job in chunk):
                raise ValueError(f"{run.path}: a run it depends on is not stored; cannot re-train it")
            with _engine_settings(run.provenance):
                train_group(chunk, scratch)
            again = scratch.load(run.kind, run.config)
            difference = abs(again.result["test_accuracy"] - run.result["test_accuracy"])
            rows.append({"run": f"{run.kind}/{run.path.name}", "group_size": len(group),
                         "engine": run.provenance.get("engine"), "identical": _same(run.result, again.result),
                         "test_accuracy": run.result["test_accuracy"], "again": again.result["test_accuracy"],
                         "difference": difference})
            progress(f"{rows[-1]['run']}: stored {run.result['test_accuracy']:.4f}, again {again.result['test_accuracy']:.4f}"
                     f" ({'bit for bit' if rows[-1]['identical'] else f'differs by {difference:.4f}'})")
    summary = {"runs": len(rows), "identical": sum(r["identical"] for r in rows),
               "largest_difference": max(r["difference"] for r in rows), "rows": rows}
    progress(f"{summary['identical']} of {summary['runs']} runs agree bit for bit; largest difference in test "
             f"accuracy {summary['largest_difference']:.4f}")
    return summary
