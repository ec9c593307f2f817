"""Training speed of small networks on MNIST: lth's paths against plain Keras, PyTorch and the FLOP floor.

    .venv/bin/python bench/train_speed.py            # all rows, ~15 minutes on 2 cores
    .venv/bin/python bench/train_speed.py --quick    # fewer steps, K up to 4, no parity check
    .venv/bin/python bench/train_speed.py --repeats 3  # each row 3 times, interleaved; the fastest kept
    .venv/bin/python bench/train_speed.py --engines-only --quick  # only the stacked engine's three paths

Each path runs in its own subprocess (so its peak resident memory is its own), trains
from the same seed for the same number of steps, then reports seconds per model-epoch
(one pass over the 60,000 MNIST training images, tracing excluded) and its final test
accuracy. lth's K-model path is measured with both engines (``stacked``: one stacked
network; ``graph``: K sub-graphs of one function), and with the K networks split over one
single-threaded stacked process per core (``stacked xN``, as a local Dask cluster runs them). The floor is the training FLOPs of
an epoch (forward, weight gradients, and input gradients of all but the first layer) divided by
the float32 matmul rate numpy reaches in the same run: measured before every round of every case
and, like the paths' times, the best (least disturbed) measurement kept; ``--refloor`` recomputes
the floor rows of a stored result when the FLOP count changes.

The stacked engine's three paths are measured side by side for K >= 2: ``stacked+native``
(lth.native's ops, LTH_NATIVE=1), ``stacked-xla`` (the training chunk compiled by XLA) and
``stacked-tf`` (TensorFlow's own ops), the last two with LTH_NATIVE=0; the report gives each
portable path's time over the native path's, and whether it comes within PORTABLE_WITHIN of it
in every case (the rule for making it the default). ``--engines-only`` measures just these rows
(results: results/bench/train_speed_engines.json, so the full table is not overwritten).

Accuracy parity: plain ``fit`` and lth's default engine each train the unpruned network
from seeds 0..7 for one full epoch (same initial weights, each its own data order); the
mean test accuracies are compared. Results: results/bench/train_speed.json.
Run it on an otherwise idle machine: another process on the two cores distorts every ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from lth.store import code_version  # noqa: E402
from lth.threads import thread_env  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASES = [("lenet300", 60), ("lenet5", 32), ("lenet5", 128)]
TRAIN_IMAGES = 60_000
DENSITY = 0.2  # masked paths keep 20 % of the prunable weights
# the stacked engine's paths: (training engine, LTH_NATIVE) of each child process
STACKED_PATHS = {"stacked+native": ("stacked", "1"), "stacked-xla": ("stacked-xla", "0"), "stacked-tf": ("stacked", "0")}
PORTABLE_WITHIN = 1.25  # a portable path this close to the native one per model-epoch becomes the default


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def forward_macs(model_name: str) -> list[int]:
    """Multiply-adds of one image's forward pass, layer by layer (weighted layers only)."""
    if model_name == "lenet300":
        return [784 * 300, 300 * 100, 100 * 10]
    return [28 * 28 * 6 * 5 * 5 * 1, 10 * 10 * 16 * 5 * 5 * 6, 400 * 120, 120 * 84, 84 * 10]


def training_flops_per_image(model_name: str) -> float:
    """FLOPs (2 per multiply-add) of one training image: each layer's forward pass and weight
    gradient, and the input gradient of every layer but the first (its input is data, which
    no implementation differentiates)."""
    macs = forward_macs(model_name)
    return 2 * (3 * sum(macs) - macs[0])


def matmul_gflops(seconds: float = 2.0) -> float:
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    b = np.random.default_rng(1).random((1024, 1024), dtype=np.float32)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * 1024**3 * count / (time.perf_counter() - start) / 1e9


# ---------------------------------------------------------------- child paths


def _mnist():
    from lth import data

    full = data.load("mnist", validation="test")
    return full


def child_keras_fit(model_name, batch, k, steps, warmup):
    import tensorflow as tf
    import tf_keras as keras

    from lth import models

    ds = _mnist()
    x, y = ds.features(ds.train), ds.train.y
    model = models.build(model_name, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    stream = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=0).repeat().batch(batch).prefetch(2)
    model.fit(stream, epochs=1, steps_per_epoch=warmup, verbose=0)
    start = time.perf_counter()
    model.fit(stream, epochs=1, steps_per_epoch=steps, verbose=0)
    elapsed = time.perf_counter() - start
    accuracy = model.evaluate(ds.features(ds.test), ds.test.y, batch_size=1000, verbose=0)[1]
    return elapsed, [accuracy]


def child_parity_keras(model_name, batch, k, steps, warmup):
    """``k`` unpruned networks (seeds 0..k-1), each ``fit`` for ``steps`` steps; their test accuracies."""
    import tensorflow as tf
    import tf_keras as keras

    from lth import models

    ds = _mnist()
    x, y = ds.features(ds.train), ds.train.y
    accuracies = []
    for seed in range(k):
        model = models.build(model_name, seed=seed)
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        stream = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed).repeat().batch(batch)
        model.fit(stream.prefetch(2), epochs=1, steps_per_epoch=steps, verbose=0)
        accuracies.append(model.evaluate(ds.features(ds.test), ds.test.y, batch_size=1000, verbose=0)[1])
    return 0.0, accuracies


def child_parity_lth(model_name, batch, k, steps, warmup):
    """The same ``k`` unpruned networks trained together by lth's default engine."""
    from lth import models, training
    from lth.hparams import TrainingHparams

    ds = _mnist()
    trainees = [training.Trainee(models.build(model_name, seed=seed), seed=seed) for seed in range(k)]
    hp = TrainingHparams(learning_rate=1e-3, batch_size=batch, iterations=steps, eval_every=steps,
                         best_monitor="none")
    return 0.0, [r["test_accuracy"] for r in training.train(trainees, ds, hp)]


def masked_trainees(model_name, k, first_seed=0):
    """MNIST with 1,000 test images as validation, and ``k`` networks (seeds first_seed..first_seed+k-1)
    masked at DENSITY."""
    from lth import data as datasets
    from lth import models, pruning, training

    full = _mnist()
    ds = datasets.Dataset(full.name, full.train, datasets.Split(full.test.x[:1000], full.test.y[:1000]), full.test,
                          full.scale)
    trainees = []
    for i in range(first_seed, first_seed + k):
        net = models.build(model_name, seed=i)
        wrapped = pruning.wrap_at_density(net, models.prunable_layers(model_name, net), DENSITY)
        trainees.append(training.Trainee(wrapped, seed=i, hold_masks=True))
    return ds, trainees


def child_lth(model_name, batch, k, steps, warmup, engine="graph", first_seed=0):
    """lth's K-model path; also says whether lth.native's ops ran."""
    from lth import training
    from lth.hparams import TrainingHparams

    ds, trainees = masked_trainees(model_name, k, first_seed)
    stamps = []
    hp = TrainingHparams(learning_rate=1e-3, batch_size=batch, iterations=warmup + steps, eval_every=warmup,
                         best_monitor="none")
    if steps % warmup:
        raise ValueError(f"steps ({steps}) must be a multiple of warmup ({warmup})")
    results = training.train(trainees, ds, hp, progress=lambda *a: stamps.append(time.perf_counter()),
                             engine=STACKED_PATHS.get(engine, (engine,))[0])
    return stamps[-1] - stamps[0], [r["test_accuracy"] for r in results], {"native_ops": results[0]["native_ops"]}


def child_torch(model_name, batch, k, steps, warmup):
    import torch
    from torch import nn

    torch.set_num_threads(os.cpu_count() or 2)
    torch.manual_seed(0)
    ds = _mnist()
    x = torch.tensor(ds.features(ds.train)).permute(0, 3, 1, 2).contiguous()
    y = torch.tensor(ds.train.y)
    if model_name == "lenet300":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                              nn.Linear(100, 10))
        pruned = [model[1], model[3], model[5]]
    else:
        model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                              nn.ReLU(), nn.Linear(84, 10))
        pruned = [model[7], model[9]]
    masks = []
    for layer in pruned:
        w = layer.weight.detach().abs().flatten()
        keep = int(round(DENSITY * w.numel()))
        mask = torch.zeros_like(w, dtype=torch.bool)
        mask[torch.argsort(w, descending=True)[:keep]] = True
        masks.append(mask.view_as(layer.weight))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(y), generator=generator)

    def run(n, offset):
        nonlocal order
        for i in range(n):
            start = ((offset + i) * batch) % len(y)
            if start + batch > len(y):
                order = torch.randperm(len(y), generator=generator)
                start = 0
            idx = order[start:start + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for layer, mask in zip(pruned, masks):
                    layer.weight.mul_(mask)

    with torch.no_grad():
        for layer, mask in zip(pruned, masks):
            layer.weight.mul_(mask)
    run(warmup, 0)
    start = time.perf_counter()
    run(steps, warmup)
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        xt = torch.tensor(ds.features(ds.test)).permute(0, 3, 1, 2)
        accuracy = (model(xt).argmax(1) == torch.tensor(ds.test.y)).float().mean().item()
    return elapsed, [accuracy]


CHILDREN = {"keras_fit": child_keras_fit, "lth_single": child_lth, "lth_multi": child_lth, "torch": child_torch,
            "parity_keras": child_parity_keras, "parity_lth": child_parity_lth}
PARITY_SEEDS = 8


def run_child(path, model_name, batch, k, steps, warmup, engine="graph"):
    """One measurement in a fresh subprocess; ``engine`` "stacked xN" splits the K networks over N
    concurrent processes, each with TensorFlow on an equal share of the cores."""
    processes = int(engine.split(" x")[1]) if " x" in engine else 1
    if processes > 1:
        return _run_processes(path, model_name, batch, k, steps, warmup, engine.split(" x")[0], processes)
    command = [sys.executable, __file__, "--child", path, model_name, str(batch), str(k), str(steps), str(warmup),
               engine, "0"]
    env = os.environ | ({"LTH_NATIVE": STACKED_PATHS[engine][1]} if engine in STACKED_PATHS else {})
    out = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=ROOT, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"error": (out.stderr or out.stdout)[-600:]}
    return json.loads(lines[-1])


def _run_processes(path, model_name, batch, k, steps, warmup, engine, processes):
    """K networks as ``processes`` concurrent subprocesses of K / processes networks each (what a local
    Dask cluster of that many workers runs). Seconds per model-epoch: the slowest process's seconds per
    epoch over K; memory: the processes' peaks added up."""
    if k % processes:
        return {"error": f"K = {k} does not split over {processes} processes"}
    env = os.environ | thread_env(processes)
    share = k // processes
    command = [sys.executable, __file__, "--child", path, model_name, str(batch), str(share), str(steps),
               str(warmup), engine]
    # each process its own networks (seeds i*share ..), so the row's accuracies are K different networks
    children = [subprocess.Popen(command + [str(i * share)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, cwd=ROOT, env=env) for i in range(processes)]
    results = []
    for child in children:
        stdout, stderr = child.communicate(timeout=3600)
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        if child.returncode != 0 or not lines:
            return {"error": (stderr or stdout)[-600:]}
        results.append(json.loads(lines[-1]))
    accuracies = [a for r in results for a in r["test_accuracies"]]
    return {"seconds_per_model_epoch": max(r["seconds_per_model_epoch"] for r in results) / processes,
            "peak_rss_mib": sum(r["peak_rss_mib"] for r in results),
            "final_test_accuracy": float(np.mean(accuracies)), "test_accuracies": accuracies}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and K up to 4")
    parser.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per row, interleaved; the fastest is kept (default 1)")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench" / "train_speed.json"))
    parser.add_argument("--refloor", action="store_true",
                        help="only recompute the floor rows of --out (from its measured matmul rate) and report")
    parser.add_argument("--engines-only", action="store_true",
                        help="only the stacked engine's native, XLA and TensorFlow paths (default --out: "
                             "results/bench/train_speed_engines.json)")
    parser.add_argument("--cases", nargs="+", metavar="MODEL:BATCH",
                        help="cases to measure instead of " + " ".join(f"{m}:{b}" for m, b in CASES))
    args = parser.parse_args(argv)
    if args.engines_only and args.out == parser.get_default("out"):
        args.out = str(ROOT / "results" / "bench" / "train_speed_engines.json")
    cases = CASES if not args.cases else [(case.split(":")[0], int(case.split(":")[1])) for case in args.cases]
    if args.refloor:
        stored = refloor(args.out)
        print_report(stored["rows"], stored.get("parity", ()))
        print(f"rewrote the floor rows of {args.out}")
        return
    if args.child:
        path, model_name, batch, k, steps, warmup, engine, first_seed = args.child
        extra = {"engine": engine, "first_seed": int(first_seed)} if path.startswith("lth_") else {}
        elapsed, accuracies, *more = CHILDREN[path](model_name, int(batch), int(k), int(steps), int(warmup), **extra)
        steps_per_epoch = TRAIN_IMAGES / int(batch)
        print(json.dumps({"seconds_per_model_epoch": elapsed / int(steps) * steps_per_epoch / int(k),
                          "peak_rss_mib": peak_rss_mib(), "final_test_accuracy": float(np.mean(accuracies)),
                          "test_accuracies": [float(a) for a in accuracies], **(more[0] if more else {})}))
        return

    if args.repeats < 1:
        raise SystemExit(f"--repeats must be at least 1, got {args.repeats}")
    ks = [1, 2, 4] if args.quick else [1, 2, 4, 8]
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        print("torch not installed (pip install -r requirements-bench.txt): skipping the torch rows")
    rates = []  # numpy's matmul rate, before every round of every case (see measure)

    def measure_rate():
        rates.append(matmul_gflops())
        print(f"numpy float32 matmul rate: {rates[-1]:.1f} GFLOP/s", flush=True)

    rows, parity, floors = [], [], []
    for model_name, batch in cases:
        epoch_steps = TRAIN_IMAGES // batch
        steps = max(100, epoch_steps // (4 if args.quick else 1) // 100 * 100)
        warmup = 100
        plan = [("lth_multi", k, engine) for k in ks if k >= 2 for engine in STACKED_PATHS]
        if not args.engines_only:
            plan = [("keras_fit", 1, "-"), ("lth_single", 1, "graph")] + plan
            plan += [("lth_multi", k, engine) for engine in ("stacked", "graph") for k in ks
                     if (engine, k) != ("graph", 1)]
            cores = os.cpu_count() or 1
            if cores > 1:  # one single-threaded process per core, as `sweep-seed --dask local --workers N` runs
                plan += [("lth_multi", k, f"stacked x{cores}") for k in ks if k >= cores and k % cores == 0]
            plan += [("torch", 1, "-")] if have_torch else []
        for row in measure(plan, model_name, batch, steps, warmup, args.repeats, before_round=measure_rate):
            rows.append(row)
            print(json.dumps(row), flush=True)
        floors.append((model_name, batch, len(rows)))
        if not args.quick and not args.engines_only:
            parity.append(accuracy_parity(model_name, batch, epoch_steps))
            print(json.dumps(parity[-1]), flush=True)
    rate = max(rates)
    for model_name, batch, at in reversed(floors):
        rows.insert(at, floor_row(model_name, batch, rate))
    print(f"numpy float32 matmul rate: best {rate:.1f} of {len(rates)} measurements "
          f"({min(rates):.1f}-{rate:.1f} GFLOP/s)")
    print_report(rows, parity)
    verdict = print_engine_ratios(rows)
    host = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "matmul_gflops": rate, "matmul_gflops_samples": [round(r, 1) for r in rates],
            "platform": platform.platform(), "quick": args.quick, "engines_only": args.engines_only,
            "loaded_by_other_processes": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "repeats": args.repeats, "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **code_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "parity": parity, "engine_ratios": verdict, "host": host},
                                         indent=1))
    print(f"wrote {args.out}")


def engine_ratios(rows) -> dict:
    """Per portable path of the stacked engine: its seconds per model-epoch over the native path's,
    per case and K (rows measured in the same run), the largest, and whether it is within
    PORTABLE_WITHIN everywhere. A native row where lth.native's ops did not run gives no ratio."""
    seconds = {(r["model"], r["batch"], r["k"], r["engine"]): r for r in rows
               if r.get("path") == "lth_multi" and r.get("engine") in STACKED_PATHS and "error" not in r}
    out = {}
    for path in ("stacked-xla", "stacked-tf"):
        ratios = {}
        for (model_name, batch, k, engine), row in seconds.items():
            reference = seconds.get((model_name, batch, k, "stacked+native"))
            if engine == path and reference and reference.get("native_ops"):
                ratios[f"{model_name} b{batch} K={k}"] = (row["seconds_per_model_epoch"]
                                                         / reference["seconds_per_model_epoch"])
        if ratios:
            worst = max(ratios.values())
            out[path] = {"ratio_to_native": ratios, "largest": worst, "within": worst <= PORTABLE_WITHIN}
    return out


def print_engine_ratios(rows) -> dict:
    verdict = engine_ratios(rows)
    if not verdict:
        print("\nno stacked+native rows with lth.native's ops: no engine ratios")
    for path, result in verdict.items():
        parts = ", ".join(f"{case} {ratio:.2f}" for case, ratio in result["ratio_to_native"].items())
        print(f"\n{path} / stacked+native per model-epoch: {parts}; largest {result['largest']:.2f} "
              f"({'within' if result['within'] else 'not within'} {PORTABLE_WITHIN}x)")
    return verdict


def floor_row(model_name, batch, rate) -> dict:
    """The arithmetic floor: an epoch's training FLOPs at numpy's matmul rate ``rate`` (GFLOP/s)."""
    flops = training_flops_per_image(model_name)
    return {"model": model_name, "batch": batch, "path": "floor", "k": 1, "engine": "-",
            "seconds_per_model_epoch": flops * TRAIN_IMAGES / (rate * 1e9), "flops_per_image": flops,
            "peak_rss_mib": None, "final_test_accuracy": None}


def refloor(path) -> dict:
    """Recompute a stored result's floor rows from its own measured matmul rate and the current FLOP count."""
    stored = json.loads(Path(path).read_text())
    rate = stored["host"]["matmul_gflops"]
    stored["rows"] = [floor_row(r["model"], r["batch"], rate) if r["path"] == "floor" else r for r in stored["rows"]]
    Path(path).write_text(json.dumps(stored, indent=1))
    return stored


def measure(plan, model_name, batch, steps, warmup, repeats=1, runner=None, before_round=None):
    """One row per (path, k, engine) of ``plan``: the fastest of ``repeats`` runs.

    The repeats go round the whole plan in turn, so a slow spell of a shared machine
    hits every path rather than one; the minimum is the run least disturbed by it.
    ``before_round()`` is called before each round (the floor's matmul rate is measured there).
    """
    runner = runner or run_child

    def seconds(result):  # a failed run (an "error" row) is slower than any finished one
        return result.get("seconds_per_model_epoch", float("inf"))

    best = {}
    for _ in range(repeats):
        if before_round:
            before_round()
        for path, k, engine in plan:
            result = runner(path, model_name, batch, k, steps, warmup, engine)
            result.pop("test_accuracies", None)
            if (path, k, engine) not in best or seconds(result) < seconds(best[(path, k, engine)]):
                best[(path, k, engine)] = result
    return [{"model": model_name, "batch": batch, "path": path, "k": k, "engine": engine,
             **best[(path, k, engine)], "repeats": repeats} for path, k, engine in plan]


def accuracy_parity(model_name, batch, epoch_steps):
    """Mean test accuracy of plain ``fit`` and lth after one epoch, over the same seeds."""
    keras_run = run_child("parity_keras", model_name, batch, PARITY_SEEDS, epoch_steps, epoch_steps)
    lth_run = run_child("parity_lth", model_name, batch, PARITY_SEEDS, epoch_steps, epoch_steps)
    if "error" in keras_run or "error" in lth_run:
        return {"model": model_name, "batch": batch, "error": keras_run.get("error") or lth_run.get("error")}
    keras_acc, lth_acc = keras_run["test_accuracies"], lth_run["test_accuracies"]
    return {"model": model_name, "batch": batch, "seeds": PARITY_SEEDS, "epochs": 1,
            "keras_fit_accuracy": float(np.mean(keras_acc)), "lth_accuracy": float(np.mean(lth_acc)),
            "difference_pp": 100 * float(np.mean(lth_acc) - np.mean(keras_acc)),
            "keras_fit_std_pp": 100 * float(np.std(keras_acc, ddof=1)),
            "lth_std_pp": 100 * float(np.std(lth_acc, ddof=1))}


def print_report(rows, parity=()):
    print(f"\n{'model':<9}{'batch':>6} {'path':<11}{'engine':<11}{'K':>3} {'s/model-epoch':>14} {'peak MiB':>9} "
          f"{'test acc':>9}")
    for r in rows:
        head = f"{r['model']:<9}{r['batch']:>6} {r['path']:<11}{r.get('engine', '-'):<11}{r['k']:>3}"
        if "error" in r:
            print(f"{head}  ERROR {r['error'][-200:]}")
            continue
        mem = f"{r['peak_rss_mib']:.0f}" if r["peak_rss_mib"] else "-"
        acc = f"{r['final_test_accuracy']:.4f}" if r["final_test_accuracy"] is not None else "-"
        print(f"{head} {r['seconds_per_model_epoch']:>14.3f} {mem:>9} {acc:>9}")
    print("\nratios (best lth path / reference):")
    for model_name, batch in dict.fromkeys((r["model"], r["batch"]) for r in rows):
        case = [r for r in rows if r["model"] == model_name and r["batch"] == batch and "error" not in r]
        get = {(r["path"], r["k"]): r["seconds_per_model_epoch"] for r in case if r["path"] != "lth_multi"}
        multi = {(r["engine"], r["k"]): r["seconds_per_model_epoch"] for r in case if r["path"] == "lth_multi"}
        if ("keras_fit", 1) not in get or not multi:
            continue
        best = min(multi, key=multi.get)
        a, c = get[("keras_fit", 1)], multi[best]
        parts = [f"b/a {get[('lth_single', 1)] / a:.2f}", f"c/a {c / a:.2f} ({best[0]}, K={best[1]})"]
        if ("torch", 1) in get:
            parts.append(f"c/d {c / get[('torch', 1)]:.2f}")
        parts.append(f"c/e {c / get[('floor', 1)]:.2f}")
        stack = sorted((r for r in case if r["path"] == "lth_multi" and r["engine"] == best[0]), key=lambda r: r["k"])
        if len(stack) > 1:
            k1, kmax = stack[0], stack[-1]
            extra = (kmax["peak_rss_mib"] - k1["peak_rss_mib"]) / (kmax["k"] - k1["k"])
            parts.append(f"memory per extra model {extra:.0f} MiB")
        print(f"  {model_name} batch {batch}: " + ", ".join(parts))
    for p in parity:
        if "error" in p:
            print(f"  parity {p['model']} batch {p['batch']}: ERROR {p['error'][-200:]}")
            continue
        print(f"  parity {p['model']} batch {p['batch']}, {p['seeds']} seeds, 1 epoch: fit {100 * p['keras_fit_accuracy']:.2f} %"
              f" (sd {p['keras_fit_std_pp']:.2f}), lth {100 * p['lth_accuracy']:.2f} % (sd {p['lth_std_pp']:.2f}),"
              f" difference {p['difference_pp']:+.2f} pp")


if __name__ == "__main__":
    main()
