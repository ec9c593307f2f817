"""Experiments as jobs: each job is one network trained and stored as one run.

A :class:`Job` knows its full config (what the store hashes), how to build its
network, and how to turn the trained network into a stored result. The
runner (:func:`run_jobs`) skips jobs already stored, trains the rest in
groups that share one compiled graph (:func:`lth.training.train`), and stores
each run the moment its network finishes, so an interrupted sweep resumes
where it stopped and recomputes nothing.

Experiments:

* :func:`train_job` — a dense network.
* :func:`lottery_jobs` — iterative magnitude pruning with reset to the
  original initialisation (Frankle & Carbin), its random re-initialisation
  control, and one-shot pruning; one run per pruning level.
* :mod:`lth.seed_protocol` — the seed paper's four models per density.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from lth import data as datasets
from lth import models, pruning, threads, training
from lth.hparams import DatasetHparams, ModelHparams, PruningHparams, TrainingHparams
from lth.store import ResultsStore, provenance

VARIANTS = ("ticket", "random_reinit", "oneshot")


def derive_seed(*parts) -> int:
    """A seed in [0, 2**31) derived from any JSON-able parts (stable across runs and machines)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()
    return int(digest[:8], 16) % (2**31)


@dataclass
class Job:
    kind: str
    config: dict
    data: DatasetHparams
    training: TrainingHparams
    build: Callable  # () -> training.Trainee
    finish: Callable  # (trainee, train_result) -> (result dict, arrays dict | None)
    seed: int

    @property
    def group_key(self):
        t = self.training
        return (json.dumps(self.data.to_dict(), sort_keys=True), t.batch_size, t.iterations, t.eval_every,
                t.eval_test_each)


_DATA_CACHE: dict = {}


def load_data(hp: DatasetHparams):
    key = json.dumps(hp.to_dict(), sort_keys=True)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()  # keep one data set in memory at a time
        _DATA_CACHE[key] = datasets.load(hp.name, scale=hp.scale, validation=hp.validation,
                                         n_validation=hp.n_validation, split_seed=hp.split_seed, subset=hp.subset)
    return _DATA_CACHE[key]


def run_jobs(jobs: list[Job], store: ResultsStore | None = None, group_size: int = 4, progress=None,
             client=None) -> list:
    """Train and store every job not yet stored; return all their runs in order.

    Jobs sharing data and step counts train together, ``group_size`` at a time.
    With a Dask ``client`` (see :func:`dask_client`) each group is a task on the
    cluster; the workers write into the same results store.
    """
    store = store or ResultsStore()
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    # groups are formed from all jobs, stored or not, so that a group interrupted part-way has the
    # same members (and so the same checkpoint) when the sweep runs again
    stored = {id(job) for job in jobs if store.load(job.kind, job.config) is not None}
    groups: dict = {}
    for job in jobs:
        groups.setdefault(job.group_key, []).append(job)
    chunks = []
    for members in groups.values():
        for start in range(0, len(members), group_size):
            chunk = members[start:start + group_size]
            missing = [job for job in chunk if id(job) not in stored]
            if missing and not store.checkpoint_path(_members(chunk)).exists():
                chunk = missing  # no training in progress: train only what is not stored
            if missing:
                chunks.append(chunk)
    if client is not None:
        futures = [client.submit(_train_group, chunk, str(store.root), pure=False) for chunk in chunks]
        for future in futures:
            for message in future.result():
                if progress:
                    progress(message)
        return [store.load(job.kind, job.config) for job in jobs]
    done_count = len(stored)
    for chunk in chunks:
        data = load_data(chunk[0].data)
        trainees = [job.build() for job in chunk]
        started, cpu_started = time.time(), time.process_time()

        def on_done(i, train_result, chunk=chunk, trainees=trainees, started=started, cpu_started=cpu_started):
            nonlocal done_count
            job = chunk[i]
            result, arrays = job.finish(trainees[i], train_result)
            resumed = train_result.get("resumed") or {}
            record = provenance(job.seed, resumed.get("wall_time_s", 0.0) + time.time() - started) | {
                "group_size": len(chunk),
                "cpu_time_s": round(resumed.get("cpu_time_s", 0.0) + time.process_time() - cpu_started, 3)}
            if resumed:
                record |= {"resumed_from_step": resumed["step"], "resumed_from_commit": resumed["git_commit"]}
            store.save(job.kind, job.config, result, record, arrays)
            done_count += 1
            if progress:
                progress(f"stored {job.kind} {store.folder(job.kind, job.config).name} "
                         f"({done_count}/{len(jobs)}): test accuracy {result['test_accuracy']:.4f}")

        training.train(trainees, data, chunk[0].training, on_done=on_done,
                       checkpoint=store.checkpoint_path(_members(chunk)))
    return [store.load(job.kind, job.config) for job in jobs]


def _members(chunk: list[Job]) -> list[tuple[str, dict]]:
    return [(job.kind, job.config) for job in chunk]


def _train_group(chunk: list[Job], root: str) -> list[str]:
    """A Dask task: train one group of jobs into the store at ``root``; returns progress messages."""
    messages = []
    run_jobs(chunk, ResultsStore(root), group_size=len(chunk), progress=messages.append)
    return messages


def dask_client(address: str = "local", workers: int = 1):
    """A Dask client: ``"local"`` starts a local cluster of ``workers`` processes; anything else is a scheduler address.

    Each local worker runs one task at a time, and its TensorFlow uses an equal share of
    the machine's cores (``TF_NUM_INTRAOP_THREADS``): two single-threaded workers on 2 cores
    train about 1.4x as many of the seed's networks per hour as one two-threaded process.
    """
    from dask.distributed import Client, LocalCluster

    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers must be a positive int, got {workers!r}")
    if address == "local":
        import dask

        # no heartbeat deadline: a sweep paused with SIGSTOP (to benchmark on an idle machine)
        # must not have its workers declared dead and their half-trained networks started again;
        # a worker takes its next task only when it is free, so tasks start in priority order
        dask.config.set({"distributed.scheduler.worker-ttl": None, "distributed.scheduler.worker-saturation": 1.0})
        return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None,
                                   env=threads.thread_env(workers)))
    return Client(address)


# ------------------------------------------------------------------ dense training


def _base_config(data: DatasetHparams, model: ModelHparams, train: TrainingHparams) -> dict:
    return {"dataset": data.to_dict(), "model": model.to_dict(), "training": train.to_dict()}


def _plain_result(trainee, train_result):
    return train_result, None


def train_job(data: DatasetHparams, model: ModelHparams, train: TrainingHparams, seed: int) -> Job:
    """A dense network of ``model`` trained from ``seed``."""
    config = _base_config(data, model, train) | {"seed": seed}

    def build():
        net = models.build(model.name, seed=seed, input_shape=load_data(data).input_shape, width=model.width)
        return training.Trainee(net, seed=derive_seed("data-order", seed), name="dense")

    return Job("train", config, data, train, build, _plain_result, seed)


# ------------------------------------------------------------------ lottery tickets


def _initial_network(model: ModelHparams, data: DatasetHparams, seed: int):
    net = models.build(model.name, seed=seed, input_shape=load_data(data).input_shape, width=model.width)
    return pruning.wrap(net, models.prunable_layers(model.name, net))


class Lottery:
    """Iterative magnitude pruning with reset (F&C), its controls, one run per level.

    Level 0 is the dense network; level L's ticket has the mask obtained by
    pruning ``prune.fraction`` of the weights left after level L-1's training,
    and the original initial weights. ``random_reinit`` keeps the level's mask
    with fresh weights; ``oneshot`` prunes level 0's trained weights straight
    to level L's density.
    """

    def __init__(self, data: DatasetHparams, model: ModelHparams, train: TrainingHparams,
                 prune: PruningHparams, seed: int, store: ResultsStore | None = None):
        self.data, self.model, self.train, self.prune, self.seed = data, model, train, prune, seed
        self.store = store or ResultsStore()

    def config(self, level: int, variant: str) -> dict:
        if variant not in VARIANTS:
            raise ValueError(f"unknown lottery variant {variant!r}; known: {list(VARIANTS)}")
        if not isinstance(level, int) or level < 0:
            raise ValueError(f"level must be an int >= 0, got {level!r}")
        return _base_config(self.data, self.model, self.train) | {
            "pruning": self.prune.to_dict(), "seed": self.seed, "level": level, "variant": variant}

    def _factors(self):
        return models.spec(self.model.name).rate_factors if self.prune.rate_factors == "model" else {}

    def network(self, seed: int | None = None):
        """A fresh wrapped network drawn from this lottery's seed (or ``seed``)."""
        return _initial_network(self.model, self.data, self.seed if seed is None else seed)

    def dense_weights(self) -> tuple[dict, dict]:
        """(initial, trained) prunable kernels of the stored level-0 run."""
        run = self.store.load("lottery", self.config(0, "ticket"))
        if run is None:
            raise RuntimeError(f"level 0 of lottery seed {self.seed} is not stored yet; run it first")
        final = {k[len("final/"):]: v for k, v in run.arrays().items() if k.startswith("final/")}
        return pruning.kernels(self.network()), final

    def next_mask(self, final: dict, mask: dict, fraction: float, init_seed: int | None = None) -> dict:
        """Prune ``fraction`` of what ``mask`` keeps, by this lottery's criterion on the trained weights."""
        if self.prune.criterion in pruning.STRUCTURED:
            hidden = {n: w * mask[n] for n, w in final.items() if n != "output"}
            return pruning.filter_masks(hidden, fraction, mask) | {n: mask[n] for n in final if n == "output"}
        init = pruning.kernels(self.network(init_seed))
        scores = {n: pruning.score(self.prune.criterion, init[n], final[n], np.random.default_rng(self.seed))
                  for n in final}
        return pruning.prune_masks(scores, mask, fraction, rate_factors=self._factors(), scope=self.prune.scope)

    def mask(self, level: int, variant: str) -> dict | None:
        """The mask of ``level`` for ``variant``; None if a run it depends on is not stored yet."""
        if level == 0:
            net = _initial_network(self.model, self.data, self.seed)
            return {n: np.ones(k.shape, dtype=bool) for n, k in pruning.kernels(net).items()}
        if variant == "oneshot":
            dense = self.store.load("lottery", self.config(0, "ticket"))
            if dense is None:
                return None
            arrays = dense.arrays()
            final = {k[len("final/"):]: v for k, v in arrays.items() if k.startswith("final/")}
            full = {n: np.ones(w.shape, dtype=bool) for n, w in final.items()}
            return self.next_mask(final, full, 1 - (1 - self.prune.fraction) ** level)
        previous = self.store.load("lottery", self.config(level - 1, "ticket"))
        if previous is None:
            return None
        return pruning.unpack_masks({k[len("next/"):]: v for k, v in previous.arrays().items()
                                     if k.startswith("next/")})

    def job(self, level: int, variant: str = "ticket") -> Job | None:
        """The job for one level and variant, or None while the runs it needs are missing."""
        config = self.config(level, variant)
        mask = self.mask(level, variant)
        if mask is None:
            return None
        init_seed = derive_seed("reinit", self.seed, level) if variant == "random_reinit" else self.seed

        def build():
            net = _initial_network(self.model, self.data, init_seed)
            pruning.set_masks(net, mask)
            return training.Trainee(net, seed=derive_seed("data-order", self.seed, level, variant),
                                    hold_masks=True, name=f"{variant}-L{level}")

        def finish(trainee, train_result):
            final = pruning.kernels(trainee.model)
            next_mask = self.next_mask(final, mask, self.prune.fraction, init_seed)
            arrays = {f"next/{k}": v for k, v in pruning.pack_masks(next_mask).items()}
            arrays |= {f"mask/{k}": v for k, v in pruning.pack_masks(mask).items()}
            if level == 0:
                arrays |= {f"final/{n}": w for n, w in final.items()}
            result = train_result | {"density": pruning.density(mask),
                                     "layer_density": {n: float(m.mean()) for n, m in mask.items()}}
            return result, arrays

        return Job("lottery", config, self.data, self.train, build, finish, self.seed)


def run_lottery(lotteries: list[Lottery], levels: int, variants=("ticket",), store=None, group_size=4,
                progress=None, client=None) -> list:
    """Run levels 0..``levels`` of several lotteries (e.g. trials), level by level, grouped."""
    store = store or ResultsStore()
    for lottery in lotteries:
        lottery.store = store
    for level in range(levels + 1):
        jobs = []
        for lottery in lotteries:
            for variant in (("ticket",) if level == 0 else variants):
                job = lottery.job(level, variant)
                if job is None:
                    raise RuntimeError(f"level {level} {variant} cannot start: level {level - 1} is not stored")
                jobs.append(job)
        run_jobs(jobs, store, group_size=group_size, progress=progress, client=client)
    return [store.load("lottery", lot.config(level, variant)) for lot in lotteries
            for level in range(levels + 1) for variant in (("ticket",) if level == 0 else variants)]


def with_overrides(hp, **changes):
    """``dataclasses.replace`` that reports unknown fields by name."""
    try:
        return replace(hp, **changes)
    except TypeError as error:
        raise ValueError(f"{type(hp).__name__}: {error}; fields: {sorted(hp.help())}") from error
