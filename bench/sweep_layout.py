"""How to lay the seed sweep out on this machine: one process using every core, or one single-threaded process per core.

    .venv/bin/python bench/sweep_layout.py              # ~3 minutes on 2 cores; run it on an idle machine

The seed sweep's cost is the pruning network: LeNet-5-like, batches of 600, 500 epochs of 100
steps, one network at a time (its masks change during training, so it does not stack). At that
batch size one network is compute-bound, yet TensorFlow's two threads do not keep two cores
busy. This script trains that network (the faithful protocol's, at 50 % density, on full MNIST)
for ``--epochs`` epochs in each layout, with the processes of a layout running at once:

* ``1 x all``: one process, TensorFlow on every core (what ``sweep-seed`` does without Dask);
* ``N x 1``: N = cores processes with one TensorFlow thread each (``sweep-seed --dask local
  --workers N``, which ``scripts/seed_sweep.sh`` uses).

Each process times its own training loop (imports, data loading and graph tracing excluded
by timing from the end of the first epoch). A layout's cost is seconds per model-epoch: its
slowest process's time per epoch divided by its number of processes. It prints the speed-up
of the N x 1 layout and writes results/bench/sweep_layout.json.
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


def child(epochs: int) -> None:
    """Train the seed's pruning network for ``epochs`` epochs; print the seconds per epoch after the first."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from lth import seed_protocol, training
    from lth.experiments import load_data
    from lth.store import ResultsStore

    job = seed_protocol._job("faithful", "pruning", 0, epochs, 0.5, None, ResultsStore(os.devnull))
    data = load_data(job.data)
    trainee = job.build()
    marks = []
    training.train([trainee], data, seed_protocol.training_hparams("faithful", "pruning", epochs),
                   progress=lambda *_: marks.append(time.perf_counter()))
    per_epoch = (marks[-1] - marks[0]) / (len(marks) - 1)
    print(json.dumps({"seconds_per_epoch": per_epoch, "epochs_timed": len(marks) - 1}), flush=True)


def layout(processes: int, threads: int, epochs: int) -> dict:
    env = os.environ | {"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": str(threads),
                        "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = [subprocess.Popen([sys.executable, __file__, "--child", str(epochs)], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    times = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"a {processes} x {threads} process failed (exit {proc.returncode})")
        times.append(json.loads(out.strip().splitlines()[-1])["seconds_per_epoch"])
    return {"processes": processes, "threads_per_process": threads,
            "seconds_per_epoch_each": [round(t, 3) for t in times],
            "seconds_per_model_epoch": round(max(times) / processes, 3)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12, help="epochs per process (default 12)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    if args.epochs < 3:
        raise SystemExit(f"--epochs must be at least 3, got {args.epochs}")
    cores = os.cpu_count() or 1
    rows = [layout(1, cores, args.epochs), layout(cores, 1, args.epochs)]
    speedup = rows[0]["seconds_per_model_epoch"] / rows[1]["seconds_per_model_epoch"]
    for row in rows:
        print(f"{row['processes']} process(es) x {row['threads_per_process']} thread(s): "
              f"{row['seconds_per_model_epoch']:.2f} s per model-epoch (each: {row['seconds_per_epoch_each']})")
    print(f"{cores} x 1 trains {speedup:.2f}x as many networks per hour as 1 x {cores}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"rows": rows, "speedup": round(speedup, 3), "epochs": args.epochs,
                               "cores": cores, "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                              indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
