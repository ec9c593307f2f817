"""How to lay the seed sweep out on this machine: processes, threads, and networks stacked per process.

    .venv/bin/python bench/sweep_layout.py              # ~5 minutes on 2 cores; run it on an idle machine

The seed sweep's cost is the pruning networks: LeNet-5-like, batches of 600, 500 epochs of 100
steps. At that batch size one network is compute-bound, yet TensorFlow's two threads do not keep
two cores busy. This script trains the faithful protocol's pruning network (50 % density, full
MNIST) for ``--epochs`` epochs in each layout, the processes of a layout running at once:

* ``1 x all, 1 net``: one process, TensorFlow on every core, one network (``sweep-seed`` without
  Dask, one trial per task);
* ``N x 1, 1 net``: N = cores processes with one TensorFlow thread each, one network each
  (``--dask local --workers N --trials-per-task 1``);
* ``N x 1, 2 nets``: the same, each process training two trials' pruning networks as one stack
  (:mod:`lth.stacked`; ``--trials-per-task 2``, what ``scripts/seed_sweep.sh`` runs).

Each process times its own training loop (imports, data loading and graph tracing excluded by
timing from the end of the first epoch). A layout's cost is seconds per model-epoch: its slowest
process's time per epoch divided by the networks it trains at once. It prints each layout's
speed-up over the first and writes results/bench/sweep_layout.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "bench" / "sweep_layout.json"


def child(epochs: int, networks: int) -> None:
    """Train ``networks`` trials' pruning networks together for ``epochs`` epochs; print seconds per epoch after the first."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from lth import training
    from lth.jobs import load_data
    from lth.seed import protocol as seed_protocol
    from lth.store import ResultsStore

    jobs = [seed_protocol.job(seed_protocol.describe("faithful", "pruning", trial, epochs, 0.5), ResultsStore(os.devnull))
            for trial in range(networks)]
    data = load_data(jobs[0].data)
    marks = []
    results = training.train([job.build() for job in jobs], data,
                             seed_protocol.training_hparams("faithful", "pruning", epochs),
                             progress=lambda *_: marks.append(time.perf_counter()))
    per_epoch = (marks[-1] - marks[0]) / (len(marks) - 1)
    print(json.dumps({"seconds_per_epoch": per_epoch, "epochs_timed": len(marks) - 1,
                      "engine": results[0]["engine"]}), flush=True)


def layout(processes: int, networks: int, epochs: int) -> dict:
    from lth.threads import thread_env

    env = os.environ | thread_env(processes) | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = [subprocess.Popen([sys.executable, __file__, "--child", str(epochs), str(networks)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    outputs = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"a {processes}-process layout with {networks} network(s) each failed "
                             f"(exit {proc.returncode})")
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    times = [o["seconds_per_epoch"] for o in outputs]
    return {"processes": processes, "threads_per_process": int(thread_env(processes)["TF_NUM_INTRAOP_THREADS"]),
            "networks_per_process": networks, "engine": outputs[0]["engine"],
            "seconds_per_epoch_each": [round(t, 3) for t in times],
            "seconds_per_model_epoch": round(max(times) / (processes * networks), 3)}


def label(row: dict) -> str:
    return (f"{row['processes']} x {row['threads_per_process']} thread(s), "
            f"{row['networks_per_process']} net{'s' if row['networks_per_process'] > 1 else ''}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12, help="epochs per process (default 12)")
    parser.add_argument("--child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(*args.child)
    if args.epochs < 3:
        raise SystemExit(f"--epochs must be at least 3, got {args.epochs}")
    cores = os.cpu_count() or 1
    from lth.store import code_version

    rows = [layout(1, 1, args.epochs), layout(cores, 1, args.epochs), layout(cores, 2, args.epochs)]
    base = rows[0]["seconds_per_model_epoch"]
    for row in rows:
        row["speedup"] = round(base / row["seconds_per_model_epoch"], 3)
        print(f"{label(row)} ({row['engine']}): {row['seconds_per_model_epoch']:.2f} s per model-epoch, "
              f"{row['speedup']:.2f}x (each process: {row['seconds_per_epoch_each']} s per epoch)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"rows": rows, "speedup": rows[-1]["speedup"], "epochs": args.epochs, "cores": cores,
                               "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               **code_version()},
                              indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
