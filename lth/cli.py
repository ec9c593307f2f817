"""The command line (``python -m lth --help``).

    python -m lth models                      # registered models, parameter counts
    python -m lth run --model lenet300 --iterations 5000 --levels 1
    python -m lth run --config my_run.yaml    # same flags, from a YAML file
    python -m lth sweep-seed --trials 5       # the seed paper's experiment (resumes)
    python -m lth sweep-fc --network lenet300 # Frankle & Carbin at published scale (resumes; --status)
    python -m lth sweep-liu --network vgg16   # Liu et al.: ticket vs random re-init, structured pruning (resumes)
    python -m lth sweep-supermasks --status   # Zhou et al.'s supermasks (resumes; --estimate 500)
    python -m lth figures                     # regenerate results/figures/*.csv
    python -m lth training-status             # machine time per chapter; every sweep's runs stored and time left
    python -m lth check-results               # verify the results store
    python -m lth migrate-store               # rewrite runs stored in an older config shape
    python -m lth verify --sample 3           # re-train 3 stored runs; do they agree bit for bit?
    python -m lth seed-screen                 # the seed-fidelity screen (make legacy-env first)
    python -m lth seed-screen --decision      # the protocol its stored runs choose for the big seed sweep
"""
from __future__ import annotations

import argparse
import sys

EXPERIMENTS = ("train", "lottery")


def _models(args):
    from lth import models

    print(f"{'model':<10} {'total weights':>14} {'prunable':>12}  prunable layers")
    for name in models.MODELS:
        d = models.describe(name)
        layers = ", ".join(f"{k} {v:,}" for k, v in d["prunable_layers"].items())
        if len(layers) > 60:
            layers = f"{len(d['prunable_layers'])} layers"
        print(f"{name:<10} {d['total']:>14,} {d['prunable']:>12,}  {layers}")


def _load_config_file(path):
    import yaml

    try:
        with open(path) as f:
            values = yaml.safe_load(f) or {}
    except OSError as error:
        raise ValueError(f"cannot read config file {path}: {error}") from error
    if not isinstance(values, dict):
        raise ValueError(f"config file {path} must hold a mapping, got {type(values).__name__}")
    return values


def _run(args):
    from tqdm import tqdm

    from lth import experiments, jobs
    from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams

    file_values = _load_config_file(args.config) if args.config else {}
    sections = {"dataset": DatasetHparams, "model": ModelHparams, "training": TrainingHparams,
                "pruning": PruningHparams}
    top_level = {"experiment", "seed", "levels", "variants", "group_size"}
    unknown = sorted(set(file_values) - set(sections) - top_level)
    if unknown:
        raise ValueError(f"unknown keys {unknown} in {args.config}; allowed: {sorted(set(sections) | top_level)}")
    flags = {
        "dataset": {"name": args.dataset},
        "model": {"name": args.model},
        "training": {"iterations": args.iterations, "learning_rate": args.learning_rate,
                     "batch_size": args.batch_size, "optimizer": args.optimizer, "eval_every": args.eval_every},
        "pruning": {"fraction": args.fraction, "criterion": args.criterion, "scope": args.scope},
    }
    hp = {}
    for section, cls in sections.items():
        values = dict(file_values.get(section) or {})
        values.update({k: v for k, v in flags[section].items() if v is not None})
        hp[section] = cls.from_dict(values)
    experiment = args.experiment or file_values.get("experiment", "lottery")
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; known: {list(EXPERIMENTS)}")
    seed = args.seed if args.seed is not None else file_values.get("seed", 0)
    levels = args.levels if args.levels is not None else file_values.get("levels", 1)
    variants = tuple((args.variants or ",".join(file_values.get("variants", ["ticket"]))).split(","))
    if not isinstance(levels, int) or levels < 0:
        raise ValueError(f"levels must be an int >= 0, got {levels!r}")

    bar = tqdm(desc="runs", unit="run", leave=True)

    def progress(message):
        bar.update(1)
        bar.write(message)

    if experiment == "train":
        runs = jobs.run_jobs([experiments.train_job(hp["dataset"], hp["model"], hp["training"], seed)],
                                    progress=progress)
    else:
        lottery = experiments.Lottery(hp["dataset"], hp["model"], hp["training"], hp["pruning"], seed)
        runs = experiments.run_lottery([lottery], levels, variants=variants, progress=progress)
    bar.close()
    for run in runs:
        label = f"level {run.config.get('level', 0)} {run.config.get('variant', 'dense')}"
        density = run.result.get("density", 1.0)
        print(f"{label:<22} density {density:7.2%}  test accuracy {run.result['test_accuracy']:.4f} "
              f"(iteration {run.result['best_iteration']})  stored in {run.path}")


def _sweep_seed(args):
    from lth.seed import protocol as seed_protocol

    densities = [float(d) for d in args.densities.split(",")] if args.densities else seed_protocol.DENSITIES
    protocols = args.protocols.split(",") if args.protocols else seed_protocol.PROTOCOLS
    client = None
    if args.dask:
        from lth.jobs import dask_client

        client = dask_client(args.dask, workers=args.workers)
        print(f"dispatching to Dask: {client}", flush=True)
    seed_protocol.run(protocols=protocols, densities=densities, trials=range(args.trials), epochs=args.epochs,
                      group_size=args.group_size, progress=lambda msg: print(msg, flush=True), client=client,
                      batch_size=args.batch_size, trials_per_task=args.trials_per_task)


def _sweep_status(args):
    from lth import analysis, figures
    from lth.seed import protocol as seed_protocol
    from lth.seed import report

    trials = range(args.trials)
    runs = seed_protocol.stored_runs(seed_protocol.PROTOCOLS, seed_protocol.DENSITIES, range(max(args.trials, 10)),
                                     args.epochs)
    table = analysis.trial_counts(figures.seed_fig6(runs), seed_protocol.PROTOCOLS, seed_protocol.DENSITIES)
    print(f"trials stored per cell ({args.epochs} epochs, batch {seed_protocol.BATCH_SIZE}):")
    print(table.astype("Int64").to_string())
    complete = int((table >= args.trials).sum().sum())
    hours, missing = report.remaining_hours(runs, trials=trials)
    cost = (f"about {hours:.1f} machine-hours at the stored runs' mean cost" if runs
            else "no stored run yet to estimate their cost by")
    print(f"{complete} of {int(table.notna().sum().sum())} cells hold {args.trials} trials or more; "
          f"{missing} runs missing, {cost}")


def _fc_sweeps(args) -> list:
    from lth import frankle_carbin

    if args.network == "all" and not (args.status or args.dry_run):
        raise ValueError("--network all goes with --status or --dry-run; a sweep trains one network at a time")
    networks = frankle_carbin.NETWORKS if args.network == "all" else [args.network]
    overrides = {"iterations": args.iterations, "levels": args.levels, "trials": args.trials,
                 "random_mask_trials": args.random_mask_trials, "eval_every": args.eval_every,
                 "dataset": args.dataset, "group_size": args.group_size}
    if args.width is not None:
        overrides["width"] = args.width
    if args.subset is not None:
        overrides["subset"] = args.subset
    if args.settings:
        overrides["settings"] = args.settings.split(",")
    return [frankle_carbin.sweep(n, **{k: v for k, v in overrides.items() if v is not None}) for n in networks]


def _sweep_fc(args):
    from lth import frankle_carbin

    for sw in _fc_sweeps(args):
        if args.status or args.dry_run:
            _print_fc_status(sw, frankle_carbin.status(sw))
        elif args.estimate:
            cost = frankle_carbin.estimate_cost(sw, steps=args.estimate)
            print(f"{sw.network}: {cost['cpu_s_per_network_step'] * 1000:.2f} ms CPU per network and step "
                  f"(+{cost['compile_cpu_s_per_group']:.1f} s per group to trace), load average "
                  f"{cost['load_average']:.1f} on {cost['cpu_count']} cores: the sweep's {cost['sweep_runs']} runs "
                  f"take about {cost['sweep_machine_hours']:.1f} machine-hours ({sw.describe()})", flush=True)
        else:
            client = None
            if args.dask:
                from lth.jobs import dask_client

                client = dask_client(args.dask, workers=args.workers)
                print(f"dispatching to Dask: {client}", flush=True)
            print(f"sweep {sw.network}: {sw.describe()}", flush=True)
            sw.run(progress=lambda msg: print(msg, flush=True), client=client)
            _print_fc_status(sw, frankle_carbin.status(sw))


def _print_fc_status(sw, report):
    print(f"{sw.network}: {sw.describe()}")
    print("trials stored per setting, method and round ('.': no such run):")
    print(report["table"].map(lambda v: "." if v != v else f"{v:.0f}").to_string())  # NaN: no such cell
    hours = ("nothing says yet what a run costs (python -m lth sweep-fc --estimate 300 times one)"
             if report["hours_left"] is None else
             f"about {report['hours_left']:.1f} machine-hours left, from {report['basis']}")
    print(f"{report['stored']} of {report['planned']} runs stored; {hours}\n", flush=True)


def _liu_sweeps(args) -> list:
    from lth import liu

    overrides = {"iterations": args.iterations, "levels": args.levels, "control_every": args.control_every,
                 "trials": args.trials, "eval_every": args.eval_every, "dataset": args.dataset,
                 "group_size": args.group_size, "width": args.width, "subset": args.subset,
                 "learning_rates": args.learning_rates and [float(v) for v in args.learning_rates.split(",")],
                 "structured_fractions": args.fractions and [float(v) for v in args.fractions.split(",")]}
    chosen = {k: v for k, v in overrides.items() if v is not None and v != ""}
    return [liu.sweep(network, **chosen) for network in (liu.NETWORKS if args.network == "all" else [args.network])]


def _sweep_liu(args):
    from lth import liu

    say = lambda message: print(message, flush=True)  # noqa: E731
    client = None
    for sw in _liu_sweeps(args):
        if args.status:
            _print_liu_status(sw, liu.status(sw))
            continue
        if args.estimate:
            cost = liu.estimate(sw)
            rates = ", ".join(f"{kind} {1000 * v:.1f} ms" for kind, v in cost["machine_s_per_iteration"].items())
            fixed = ", ".join(f"{kind} {v:.1f} s" for kind, v in cost["machine_s_per_run"].items())
            say(f"{sw.network}: machine time per iteration {rates}; per run {fixed}; load average "
                f"{cost['load_average']:.1f} on {cost['cpu_count']} cores: the sweep's {cost['sweep_runs']} runs "
                f"take about {cost['sweep_machine_hours']:.1f} machine-hours ({sw.describe()})")
            continue
        say(f"sweep {sw.network}: {sw.describe()}")
        for fraction in sw.structured_fractions:
            speed = liu.measure_speed(sw, fraction, steps=args.speed_steps, again=args.speed_again)
            say(f"seconds per epoch, {100 * fraction:g} % of the filters removed: {speed['structured']['seconds']:.1f} "
                f"against {speed['dense']['seconds']:.1f} for the dense network "
                f"(measured {speed['measured_utc']}, load average {speed['load_average']:.1f})")
        if args.dask and client is None:
            from lth.jobs import dask_client

            client = dask_client(args.dask, workers=args.workers)
            say(f"dispatching to Dask: {client}")
        sw.run(progress=say, client=client)
        _print_liu_status(sw, liu.status(sw))


def _print_liu_status(sw, report):
    print(f"{sw.network}: {sw.describe()}")
    print("runs stored per cell (columns: unstructured rounds, structured fractions; '.': not planned there):")
    print(report["table"].astype("Int64").astype(str).replace("<NA>", ".").to_string())
    left = (f"about {report['hours_left']:.1f} machine-hours left, from {report['basis']}"
            if report["hours_left"] is not None else
            "no stored or timed run says yet what a run costs (python -m lth sweep-liu --estimate)")
    print(f"{report['stored']} of {report['planned']} runs stored; {left}\n", flush=True)


def _seed_screen(args):
    from lth.seed import screen

    if args.decision:
        from lth.seed import report

        decided = report.sweep_decision(report.screen_table(report.screen_curves(screen.stored())), args.trials)
        print(decided["reason"])
        print(f"protocol: {decided['protocol'] or 'none'}")
        # exit codes for scripts/seed_sweep_from_screen.sh: 3 the screen is incomplete, 4 no protocol runs it
        raise SystemExit(0 if decided["protocol"] else 3 if not decided["complete"] else 4)
    environments = tuple(args.environments.split(","))
    for environment in environments:
        screen.python_for(environment)
    descs = screen.plan(trials=range(args.trials), environments=environments, pruning_epochs=args.pruning_epochs)
    if args.dry_run:
        from lth.store import ResultsStore

        store = ResultsStore()
        for desc in descs:
            state = "stored" if store.load(desc.kind, desc.to_dict()) else "to train"
            print(f"{state:>8}  {screen.label(desc)}")
        return
    screen.run(descs, progress=lambda msg: print(msg, flush=True))


def _supermask_sweeps(args) -> list:
    from lth import supermasks

    networks = supermasks.NETWORKS if args.network == "all" else (args.network,)
    overrides = {"iterations": args.iterations, "trials": args.trials, "learned_iterations": args.learned_iterations,
                 "learned_trials": args.learned_trials, "retrain_levels": args.retrain_levels,
                 "retrain_trials": args.retrain_trials, "dataset": args.dataset, "group_size": args.group_size}
    if args.subset is not None:
        overrides["subset"] = args.subset
    return [supermasks.sweep(n, **{k: v for k, v in overrides.items() if v is not None}) for n in networks]


def _sweep_supermasks(args):
    from lth import supermasks

    parts = tuple(args.parts.split(",")) if args.parts else supermasks.PARTS
    training = not (args.status or args.estimate)
    client = _supermask_client(args.dask, args.workers) if args.dask and training else None
    for sw in _supermask_sweeps(args):
        if args.estimate:
            print(f"{sw.network}: {supermasks.describe_cost(supermasks.estimate_cost(sw, steps=args.estimate))}")
        elif training:
            print(f"sweep {sw.network}: {sw.describe()}", flush=True)
            sw.run(parts, progress=lambda msg: print(msg, flush=True), client=client)
        _print_supermask_status(sw)


def _supermask_client(address: str, workers: int):
    from lth.jobs import dask_client

    client = dask_client(address, workers=workers)
    print(f"dispatching to Dask: {client}", flush=True)
    return client


def _print_supermask_status(sw):
    from lth import supermasks

    print(f"{sw.network}: {sw.describe()}")
    print(supermasks.coverage(sw).to_string(index=False))
    cost = supermasks.read_cost().get(sw.network)
    if cost is None:
        print("nothing says yet what a run costs (python -m lth sweep-supermasks --estimate 500 times each part)\n")
        return
    hours = supermasks.planned_hours(sw, cost)
    print(f"about {hours['all']:.1f} machine-hours left (" + ", ".join(f"{p} {h:.2f}" for p, h in hours.items()
                                                                 if p != "all")
          + f"), from timed runs on {cost['measured_utc']} (load average {cost['load_average']:.1f})\n", flush=True)


def _training_status(args):
    from lth import training_status
    from lth.store import ResultsStore

    store = ResultsStore(args.root) if args.root else ResultsStore()
    if not store.root.is_dir():
        raise ValueError(f"--root {args.root or store.root}: no such folder; give a runs folder (default results/runs)")
    print(training_status.markdown(store))


def _figures(args):
    from lth import figures

    for path in (figures.write_seed_figure_data(epochs=args.epochs) + figures.write_fc_figure_data()
                 + figures.write_liu_figure_data() + figures.write_supermask_figure_data()):
        print(f"wrote {path}")


def _migrate_store(args):
    from lth import migration
    from lth.store import ResultsStore

    migration.migrate(ResultsStore(args.root) if args.root else ResultsStore())


def _verify(args):
    from lth import verify
    from lth.store import ResultsStore

    verify.verify(args.sample, ResultsStore(args.root) if args.root else ResultsStore(), seed=args.seed,
                  progress=lambda msg: print(msg, flush=True),
                  kinds=tuple(args.kinds.split(",")) if args.kinds else verify.RETRAINABLE)


def _check_results(args):
    from lth.store import ResultsStore

    store = ResultsStore(args.root) if args.root else ResultsStore()
    problems = store.check()
    count = sum(1 for kind in store.root.glob("*") if kind.is_dir() for f in kind.glob("*")
                if f.is_dir() and not f.name.startswith("."))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    unknown = store.engine_unknown()
    print(f"checked {count} stored runs under {store.root}: {len(problems)} problems; "
          f"{len(unknown)} runs engine unknown (stored before runs recorded engine, group size and native ops)")
    if problems:
        sys.exit(1)


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m lth", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("models", help="list registered models with parameter counts").set_defaults(func=_models)

    run = sub.add_parser("run", help="run one experiment (a dense training or a lottery-ticket run)")
    run.add_argument("--config", help="YAML file with sections dataset/model/training/pruning and "
                                      "experiment/seed/levels/variants; flags override it")
    run.add_argument("--experiment", choices=EXPERIMENTS, help="default lottery")
    run.add_argument("--dataset", help="mnist, fashion_mnist or cifar10")
    run.add_argument("--model", help="a registered model (python -m lth models)")
    run.add_argument("--iterations", type=int)
    run.add_argument("--learning-rate", type=float)
    run.add_argument("--batch-size", type=int)
    run.add_argument("--optimizer")
    run.add_argument("--eval-every", type=int)
    run.add_argument("--fraction", type=float, help="fraction pruned per round (default 0.2)")
    run.add_argument("--criterion", help="mask criterion (default large_final)")
    run.add_argument("--scope", help="layerwise or global")
    run.add_argument("--levels", type=int, help="pruning rounds (lottery; default 1)")
    run.add_argument("--variants", help="comma-separated: ticket,random_reinit,oneshot (default ticket)")
    run.add_argument("--seed", type=int)
    run.set_defaults(func=_run)

    sweep = sub.add_parser("sweep-seed", help="run or resume the seed paper's experiment (Figs. 6, 7)")
    sweep.add_argument("--trials", type=int, default=5)
    sweep.add_argument("--epochs", type=int, default=500)
    sweep.add_argument("--densities", default="", help="comma-separated, default 0.5,...,0.01")
    sweep.add_argument("--protocols", default="", help="comma-separated, e.g. faithful,corrected (default: every "
                       "protocol of lth.seed.protocol)")
    sweep.add_argument("--group-size", type=int, default=4, help="networks trained together, stacked (default 4)")
    sweep.add_argument("--trials-per-task", type=int, default=2,
                       help="trials of one protocol and density per task: their pruning networks train together "
                            "(default 2)")
    sweep.add_argument("--batch-size", type=int, default=600,
                       help="images per step (default 600, what the authors' code ran; 32 for the comparison)")
    sweep.add_argument("--dask", default="", help="'local' for a local Dask cluster, or a scheduler address")
    sweep.add_argument("--workers", type=int, default=1, help="local Dask cluster processes, each with an equal share of the cores (default 1)")
    sweep.set_defaults(func=_sweep_seed)

    status = sub.add_parser("sweep-status", help="trials stored per cell of the seed experiment, and what is left")
    status.add_argument("--trials", type=int, default=5, help="the target per cell (default 5)")
    status.add_argument("--epochs", type=int, default=500)
    status.set_defaults(func=_sweep_status)

    fc = sub.add_parser("sweep-fc", help="run or resume Frankle & Carbin's experiment for one network at this "
                                         "book's scale (lth.frankle_carbin.SCALES); stored runs are never retrained")
    fc.add_argument("--network", required=True, choices=("lenet300", "conv2", "conv4", "conv6", "vgg", "all"),
                    help="all: with --status only")
    fc.add_argument("--status", action="store_true", help="trials stored per method and round, machine-hours left")
    fc.add_argument("--dry-run", action="store_true", help="the same as --status: list, train nothing")
    fc.add_argument("--estimate", type=int, default=0, metavar="STEPS",
                    help="time one group for STEPS steps in a scratch store and record the cost "
                         "(results/bench/fc-sweep-cost.json); trains nothing of the sweep")
    fc.add_argument("--iterations", type=int, help="per training (default: the network's scale)")
    fc.add_argument("--levels", type=int, help="pruning rounds after the dense level 0")
    fc.add_argument("--trials", type=int, help="trials of the ticket and each control but the random mask")
    fc.add_argument("--random-mask-trials", type=int, help="trials of the random mask (lenet300)")
    fc.add_argument("--width", type=int, help="first convolution's filters (conv, vgg; published 64)")
    fc.add_argument("--eval-every", type=int, help="steps between evaluations (default 100)")
    fc.add_argument("--dataset", help="mnist, fashion_mnist or cifar10 (default: the network's scale)")
    fc.add_argument("--subset", type=int, help="first N images per split (quick tests)")
    fc.add_argument("--settings", default="", help="vgg: comma-separated of 'lr 0.1', 'lr 0.01', 'lr 0.1 warm-up'"
                                                   " (default all three)")
    fc.add_argument("--group-size", type=int, help="networks trained together (default: the network's scale)")
    fc.add_argument("--dask", default="", help="'local' for a local Dask cluster, or a scheduler address")
    fc.add_argument("--workers", type=int, default=1, help="local Dask cluster processes (default 1)")
    fc.set_defaults(func=_sweep_fc)

    lu = sub.add_parser("sweep-liu", help="run or resume Liu et al.'s comparison for one network at this book's "
                                          "scale (lth.liu.SCALES); stored runs are never retrained")
    lu.add_argument("--network", required=True, choices=("vgg16", "resnet20", "all"),
                    help="all: every network, one after the other")
    lu.add_argument("--status", action="store_true", help="runs stored per cell and machine-hours left; trains nothing")
    lu.add_argument("--estimate", action="store_true",
                    help="time a small copy of the sweep in a scratch store and record the cost "
                         "(results/bench/liu-sweep-cost.json); trains nothing of the sweep")
    for flag, kind, text in [
            ("--iterations", int, "per training (default: the network's scale)"),
            ("--levels", int, "unstructured pruning rounds after the dense round 0"),
            ("--control-every", int, "the controls run every N rounds (and the last)"),
            ("--trials", int, "trials per cell"),
            ("--width", int, "vgg16: first convolution's filters (published 64)"),
            ("--eval-every", int, "steps between evaluations"),
            ("--dataset", str, "fashion_mnist (default) or cifar10"),
            ("--subset", int, "first N images per split (quick tests)"),
            ("--learning-rates", str, "comma-separated (default 0.1,0.01)"),
            ("--fractions", str, "comma-separated fractions of filters removed (structured; default 0.5)"),
            ("--group-size", int, "networks trained together (default: the network's scale)"),
            ("--dask", str, "'local' for a local Dask cluster, or a scheduler address")]:
        lu.add_argument(flag, type=kind, help=text)
    lu.add_argument("--workers", type=int, default=1, help="local Dask cluster processes (default 1)")
    lu.add_argument("--speed-steps", type=int, default=30, help="steps per timed round of the epoch benchmark")
    lu.add_argument("--speed-again", action="store_true", help="measure the seconds per epoch again")
    lu.set_defaults(func=_sweep_liu)

    scr = sub.add_parser("seed-screen", help="the seed-fidelity screen: the authors' procedure by Keras fit in "
                                             "their environment (make legacy-env) and ours (resumes)")
    scr.add_argument("--trials", type=int, default=3)
    scr.add_argument("--environments", default="legacy,main", help="comma-separated: legacy,main (default both)")
    scr.add_argument("--pruning-epochs", type=int, default=150,
                     help="epochs the 50 %% pruning network trains of its 500-epoch schedule (default 150)")
    scr.add_argument("--dry-run", action="store_true", help="list the runs, stored or to train, and stop")
    scr.add_argument("--decision", action="store_true",
                     help="print which protocol the big seed sweep runs, by the chapter's pre-registered rule, on "
                          "the stored screen runs (last line 'protocol: NAME' or 'protocol: none'; exit 3 while the screen is incomplete, 4 when "
                          "no protocol trains the chosen configuration)")
    scr.set_defaults(func=_seed_screen)

    sm = sub.add_parser("sweep-supermasks", help="run or resume Zhou et al.'s supermask experiments (untrained masks, "
                                                 "learned masks, retraining by criterion) at this book's scale "
                                                 "(lth.supermasks.SCALES); stored runs are never recomputed")
    sm.add_argument("--network", default="all", choices=("lenet300", "conv4", "all"),
                    help="all (default): LeNet-300-100 then Conv-4")
    sm.add_argument("--parts", default="", help="comma-separated of untrained,learned,retrain (default all)")
    sm.add_argument("--dataset", help="conv4: fashion_mnist (default) or cifar10 where it is present")
    overrides = {"iterations": "the dense runs' iterations", "trials": "dense runs and their untrained evaluations",
                 "learned-iterations": "the learned masks' steps", "learned-trials": "learned masks",
                 "retrain-levels": "rounds of iterative pruning by each criterion (lenet300)",
                 "retrain-trials": "lotteries per criterion", "subset": "first N images per split (quick tests)",
                 "group-size": "networks trained together"}
    for name, text in overrides.items():
        sm.add_argument(f"--{name}", type=int, help=f"{text} (default: the network's scale)")
    sm.add_argument("--status", action="store_true", help="runs stored and planned per part, machine-hours left")
    sm.add_argument("--estimate", type=int, default=0, metavar="STEPS",
                    help="time each part briefly in a scratch store and record the cost "
                         "(results/bench/supermask-sweep-cost.json); trains nothing of the sweep")
    sm.add_argument("--dask", default="", help="'local' for a local Dask cluster, or a scheduler address")
    sm.add_argument("--workers", type=int, default=1, help="local Dask cluster processes (default 1)")
    sm.set_defaults(func=_sweep_supermasks)

    figs = sub.add_parser("figures", help="regenerate results/figures/seed-fig6.csv, seed-fig7.csv, the "
                                          "Frankle & Carbin sweeps' fc-lenet300.csv, fc-conv.csv, fc-vgg.csv and "
                                          "Liu et al.'s liu-unstructured.csv, liu-structured.csv and the "
                                          "supermask chapter's supermask-mnist.csv, supermask-conv.csv, "
                                          "supermask-retrain.csv")
    figs.add_argument("--epochs", type=int, default=500)
    figs.set_defaults(func=_figures)

    migrate = sub.add_parser("migrate-store", help="rewrite stored runs whose configs predate lth.runs (never retrains)")
    migrate.add_argument("--root", help="runs folder (default results/runs)")
    migrate.set_defaults(func=_migrate_store)

    ver = sub.add_parser("verify", help="re-train N stored runs, drawn at random, in a scratch store; "
                                        "report how many agree bit for bit")
    ver.add_argument("--sample", type=int, default=1, help="how many runs (default 1)")
    ver.add_argument("--seed", type=int, default=0, help="seed of the random draw (default 0)")
    ver.add_argument("--kinds", default="", help="comma-separated kinds to draw from (default: every re-trainable "
                                                 "kind: train, lottery, seed_protocol, seed_unpruned)")
    ver.add_argument("--root", help="runs folder (default results/runs)")
    ver.set_defaults(func=_verify)

    ts = sub.add_parser("training-status", help="machine time of the stored runs per chapter, and per sweep at its "
                                                "issue's scale the runs stored and the machine time left (Markdown)")
    ts.add_argument("--root", help="runs folder (default results/runs)")
    ts.set_defaults(func=_training_status)

    check = sub.add_parser("check-results", help="verify every stored run; non-zero exit on a problem")
    check.add_argument("--root", help="runs folder (default results/runs)")
    check.set_defaults(func=_check_results)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from lth.data import DataError
    from lth.store import StoreError

    try:
        args.func(args)
    except (ValueError, TypeError, DataError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
