"""Where a training step's time goes: TensorFlow's profiler on lth's stacked K-model path.

    .venv/bin/python bench/train_profile.py            # LeNet-300-100 b60, LeNet-5 b32 and b128; ~2 minutes

For each case of ``bench/train_speed.py`` it trains K = 4 masked networks with lth's default
engine, profiles ``--steps`` training steps after a warm-up interval, and adds up each op's
*exclusive* time (an enclosing event minus the events nested in it) per training step, summed
over TensorFlow's two compute threads (so the sum can exceed the wall time per step when ops
overlap). Ops are grouped: lth.native's fused convolution + max-pool ops (forward and gradients),
TensorFlow's convolutions (forward, input and filter gradients), dense matmuls, max-pooling,
optimiser (the fused update kernels, lth.native's masked Adam, or XLA where used), lth.native's
Adam step of dense kernels with their weight gradients computed inside it, and everything
else (element-wise ops, transposes, gathers, the executor's own work). It also prints the wall time per step and the
arithmetic floor per step (training FLOPs / numpy matmul rate), as in train_speed.py.
Results: results/bench/train_profile.json. Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_speed  # noqa: E402  (the cases, the networks, the FLOP count and the matmul rate)
from lth.store import code_version  # noqa: E402

K = 4
XLA_EVENTS = {"Start", "ExecuteAsyncOnStream", "BlockUntilReady", "Done"}
NOT_OPS = {"StartRegion", "Record", "ExecutorDoneCallback"}


def category(op: str) -> str:
    if op.startswith("LthConvPool") or op.startswith("LthGroupedConvPool"):
        return "conv + max-pool (lth.native)"
    if "Conv2D" in op:
        return "convolutions"
    if "MatMul" in op:
        return "dense matmuls"
    if "MaxPool" in op:
        return "max-pooling"
    if op == "LthDenseGradMaskedAdam":
        return "dense weight gradients + optimiser (lth.native)"
    if op.startswith("ResourceApply") or op == "LthMaskedAdam" or op in XLA_EVENTS or "fusion" in op:
        return "optimiser"
    return "other"


def exclusive_times(xspace_file: str) -> dict:
    """Exclusive picoseconds per event name on TensorFlow's compute threads."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(xspace_file).read_bytes())
    totals = defaultdict(float)
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            events = sorted(line.events, key=lambda e: (e.offset_ps, -e.duration_ps))
            stack = []  # [end, name, exclusive]
            for event in events:
                while stack and stack[-1][0] <= event.offset_ps:
                    end, name, own = stack.pop()
                    totals[name] += own
                if stack:
                    stack[-1][2] -= event.duration_ps
                stack.append([event.offset_ps + event.duration_ps, names[event.metadata_id].split(":")[-1],
                              float(event.duration_ps)])
            for end, name, own in stack:
                totals[name] += own
    return {name: ps for name, ps in totals.items() if name not in NOT_OPS}


def profile_case(model_name: str, batch: int, steps: int, warmup: int) -> dict:
    import tensorflow as tf

    from lth import engines, training
    from lth.hparams import TrainingHparams

    ds, trainees = train_speed.masked_trainees(model_name, K)
    hp = TrainingHparams(learning_rate=1e-3, batch_size=batch, iterations=warmup + steps, eval_every=warmup,
                         best_monitor="none")
    logdir = tempfile.mkdtemp(prefix="lth-profile-")
    stamps = []

    def progress(step, total, active):  # profile the intervals after the first (warm-up, tracing)
        if step == warmup:
            tf.profiler.experimental.start(logdir)
        stamps.append(time.perf_counter())
        if step == warmup + steps:
            tf.profiler.experimental.stop()

    engine = engines.choose_engine(trainees, hp)
    training.train(trainees, ds, hp, progress=progress)
    files = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    ops = exclusive_times(files[0])
    per_step = {name: ps / 1e9 / steps for name, ps in ops.items()}
    groups = defaultdict(float)
    for name, ms in per_step.items():
        groups[category(name)] += ms
    return {"model": model_name, "batch": batch, "k": K, "engine": engine, "steps": steps,
            "wall_ms_per_step": 1000 * (stamps[-1] - stamps[-1 - steps // warmup]) / steps,
            "op_ms_per_step": dict(sorted(groups.items(), key=lambda kv: -kv[1])),
            "top_ops": dict(sorted(per_step.items(), key=lambda kv: -kv[1])[:12])}


def floor_ms_per_step(model_name, batch, rate) -> float:
    """The arithmetic floor of one stacked step of K networks (train_speed's FLOP count, matmul ``rate`` GFLOP/s)."""
    return 1000 * train_speed.training_flops_per_image(model_name) * batch * K / (rate * 1e9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200, help="profiled steps per case (a multiple of 100)")
    parser.add_argument("--out", default=str(train_speed.ROOT / "results" / "bench" / "train_profile.json"))
    parser.add_argument("--refloor", action="store_true",
                        help="only recompute the floor of each case in --out from its measured matmul rate")
    args = parser.parse_args(argv)
    if args.refloor:
        stored = json.loads(Path(args.out).read_text())
        for case in stored["cases"]:
            case["floor_ms_per_step"] = floor_ms_per_step(case["model"], case["batch"], stored["host"]["matmul_gflops"])
            print(f"{case['model']} batch {case['batch']}: floor {case['floor_ms_per_step']:.2f} ms per step")
        Path(args.out).write_text(json.dumps(stored, indent=1))
        print(f"rewrote the floors of {args.out}")
        return
    warmup = 100
    if args.steps <= 0 or args.steps % warmup:
        raise SystemExit(f"--steps must be a positive multiple of {warmup}, got {args.steps}")
    rate = train_speed.matmul_gflops()
    cases = []
    for model_name, batch in train_speed.CASES:
        case = profile_case(model_name, batch, args.steps, warmup)
        case["floor_ms_per_step"] = floor_ms_per_step(model_name, batch, rate)
        cases.append(case)
        groups = ", ".join(f"{name} {ms:.2f}" for name, ms in case["op_ms_per_step"].items())
        print(f"{model_name} batch {batch}, K={K} ({case['engine']}): {case['wall_ms_per_step']:.2f} ms per step "
              f"(floor {case['floor_ms_per_step']:.2f}); op time per step: {groups}", flush=True)
    host = {"cores": os.cpu_count(), "matmul_gflops": rate, **code_version()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cases": cases, "host": host}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
