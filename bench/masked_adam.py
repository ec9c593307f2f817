"""What lth.native's Adam ops save: the stacked training step with and without them, interleaved.

    .venv/bin/python bench/masked_adam.py       # ~3 minutes; results/bench/masked_adam.json

For each case (LeNet-300-100 batch 60, LeNet-5 batch 600 as the seed sweep trains it) it builds
three stacked engines over K = 4 fixed-mask networks (masks at train_speed's density), which differ
only in the optimiser step: ``tensorflow_adam_then_mask`` (TensorFlow's matmul for each kernel's
gradient, its Adam kernel, then the mask multiply), ``masked_adam`` (the same gradients, then
``lth.native.masked_adam``: Adam and mask in one pass) and ``dense_grad_masked_adam`` (the default:
each dense kernel's gradient computed inside that pass by ``lth.native.dense_grad_masked_adam``, never
stored). All run on one thread, as a sweep worker does, over the same batches; their timings
alternate, ``--repeats`` times each, and the median milliseconds per step are kept. Run it on an
otherwise idle machine.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402

import train_speed  # noqa: E402  (the masked networks and MNIST)
from lth.store import code_version  # noqa: E402

K = 4
CASES = [("lenet300", 60), ("lenet5", 600)]
BASELINE = "tensorflow_adam_then_mask"
VARIANTS = [(BASELINE, False, False), ("masked_adam", True, False), ("dense_grad_masked_adam", True, True)]
# (name, lth.native's masked Adam, dense gradients inside it); the native convolutions stay on in all


def measure(model_name: str, batch: int, steps: int, repeats: int) -> dict:
    import tensorflow as tf

    from lth import engines
    from lth.hparams import TrainingHparams

    hp = TrainingHparams(learning_rate=1e-3, batch_size=batch, iterations=steps, eval_every=steps,
                         best_monitor="none")
    indices = tf.constant(np.random.default_rng(0).integers(0, train_speed.TRAIN_IMAGES, size=(K, steps, batch),
                                                            dtype=np.int32))
    steppers = {}
    for variant, native_adam, dense_gradients in VARIANTS:
        ds, trainees = train_speed.masked_trainees(model_name, K)
        x, y = tf.constant(ds.features(ds.train)), tf.constant(ds.train.y)
        native_ops = engines.NativeOps(convolutions=True, adam=native_adam, dense_gradients=dense_gradients)
        step = engines.StackedEngine(trainees, x, y, hp, native_ops).chunk(tuple(range(K)))
        step(indices[:, :10])  # trace
        steppers[variant] = step
    times = {variant: [] for variant in steppers}
    for _ in range(repeats):
        for variant, step in steppers.items():
            start = time.perf_counter()
            step(indices).numpy()
            times[variant].append(1000 * (time.perf_counter() - start) / steps)
    medians = {variant: float(np.median(t)) for variant, t in times.items()}
    return {"model": model_name, "batch": batch, "k": K, "steps": steps, "ms_per_step": medians,
            "all_ms_per_step": times,
            "speedup": {variant: medians[BASELINE] / ms for variant, ms in medians.items() if variant != BASELINE}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant, interleaved (default 5)")
    parser.add_argument("--steps", type=int, default=200, help="training steps per timed run (default 200)")
    parser.add_argument("--out", default=str(train_speed.ROOT / "results" / "bench" / "masked_adam.json"))
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.steps < 1:
        raise SystemExit(f"--repeats and --steps must be at least 1, got {args.repeats} and {args.steps}")
    import tensorflow as tf

    from lth import native

    if not native.available():
        raise SystemExit("lth.native does not run on this machine: nothing to compare")
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cases = []
    for model_name, batch in CASES:
        case = measure(model_name, batch, args.steps, args.repeats)
        cases.append(case)
        ms = case["ms_per_step"]
        print(f"{model_name} batch {batch}, K={K}, one thread: TensorFlow's Adam then the mask "
              f"{ms[BASELINE]:.2f} ms per step, masked Adam {ms['masked_adam']:.2f} "
              f"({case['speedup']['masked_adam']:.2f}x), with the dense gradients inside it "
              f"{ms['dense_grad_masked_adam']:.2f} ({case['speedup']['dense_grad_masked_adam']:.2f}x)", flush=True)
    host = {"cores": os.cpu_count(), "repeats": args.repeats,
            "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **code_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cases": cases, "host": host}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
