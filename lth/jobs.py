"""Jobs: how every experiment's runs are built, grouped, trained and stored, here or on Dask.

A :class:`Job` is one network to train and store as one run: its description
(:mod:`lth.runs`, what the store hashes), its data and training hyperparameters, how to
build the network and how to turn the trained network into a stored result.
:func:`run_jobs` skips jobs already stored, trains the rest in groups that share one
compiled graph (:func:`lth.training.train`) and stores each run the moment its network
finishes, so an interrupted sweep resumes where it stopped and recomputes nothing.
:func:`dispatch` runs independent pieces of work (a group of jobs, a seed-protocol task)
in order here or as tasks on a Dask cluster, forwarding the workers' progress live.
Every experiment (:mod:`lth.experiments`, :mod:`lth.seed.protocol`, :mod:`lth.seed.controls`)
goes through these two functions.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from lth import data as datasets
from lth import threads
from lth.hparams import DatasetHparams, TrainingHparams
from lth.runs import RunDesc
from lth.store import ResultsStore, provenance

PROGRESS_TOPIC = "lth-progress"


@dataclass
class Job:
    desc: RunDesc
    data: DatasetHparams
    training: TrainingHparams  # the group's shared settings (a trainee may carry its own stopping rules)
    build: Callable  # () -> training.Trainee
    finish: Callable  # (trainee, train_result) -> (result dict, arrays dict | None)
    seed: int

    @property
    def kind(self) -> str:
        return self.desc.kind

    @property
    def config(self) -> dict:
        return self.desc.to_dict()

    @property
    def group_key(self):
        """Jobs train together only with the same data and the same training settings, every field:
        a group trains with its first job's settings (:func:`train_group`), so two jobs that differ in
        anything (learning rate, warm-up, schedule, stopping rules) in one group would both train at
        the first one's."""
        return (json.dumps(self.data.to_dict(), sort_keys=True), json.dumps(self.training.to_dict(), sort_keys=True))


def plain_result(trainee, train_result):
    """A job's ``finish`` that stores the training result as it is, with no arrays."""
    return train_result, None


_DATA_CACHE: dict = {}


def load_data(hp: DatasetHparams):
    key = json.dumps(hp.to_dict(), sort_keys=True)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()  # keep one data set in memory at a time
        _DATA_CACHE[key] = datasets.load(hp.name, scale=hp.scale, validation=hp.validation,
                                         n_validation=hp.n_validation, split_seed=hp.split_seed, subset=hp.subset)
    return _DATA_CACHE[key]


def _chunks(jobs: list[Job], store: ResultsStore, group_size: int) -> list[list[Job]]:
    """The groups that still need training. Groups are formed from all jobs, stored or not, so that
    a group interrupted part-way has the same members (and so the same checkpoint) when the sweep
    runs again; a group with no checkpoint trains only its missing members."""
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
                chunk = missing
            if missing:
                chunks.append(chunk)
    return chunks


def run_jobs(jobs: list[Job], store: ResultsStore | None = None, group_size: int = 4, progress=None,
             client=None) -> list:
    """Train and store every job not yet stored; return all their runs in order.

    Jobs sharing data and training settings train together, ``group_size`` at a time. With a
    Dask ``client`` (see :func:`dask_client`) each group is a task on the cluster; the
    workers write into the same results store.
    """
    store = store or ResultsStore()
    if group_size < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    chunks = _chunks(jobs, store, group_size)
    if client is not None:
        dispatch([(f"group of {len(c)} {c[0].kind} runs", "lth.jobs:train_group", {"chunk": c, "store": str(store.root)})
                  for c in chunks], client, progress)
    else:
        for chunk in chunks:
            train_group(chunk, store, progress)
    return [store.load(job.kind, job.config) for job in jobs]


def train_group(chunk: list[Job], store: ResultsStore | str, progress=None) -> None:
    """Train one group of jobs together and store each run as its network finishes."""
    from lth import training

    store = ResultsStore(store) if isinstance(store, str) else store
    for job in chunk[1:]:
        if job.group_key != chunk[0].group_key:
            raise ValueError(f"jobs of one training group must share data and training settings (the group trains "
                             f"with its first job's): {job.kind} {store.folder(job.kind, job.config).name} has "
                             f"{_difference(job, chunk[0])}")
    data = load_data(chunk[0].data)
    trainees = [job.build() for job in chunk]
    checkpoint = store.checkpoint_path(_members(chunk))
    store.describe_checkpoint(checkpoint, _members(chunk))
    members = [f"{job.kind}/{store.folder(job.kind, job.config).name}" for job in chunk]
    started, cpu_started = time.time(), time.process_time()

    def on_done(i, train_result):
        job = chunk[i]
        result, arrays = job.finish(trainees[i], train_result)
        resumed = train_result.get("resumed") or {}
        record = provenance(job.seed, resumed.get("wall_time_s", 0.0) + time.time() - started) | {
            "group_size": len(chunk), "group_members": members, "engine": train_result.get("engine"),
            "native_ops": train_result.get("native_ops"),
            "cpu_time_s": round(resumed.get("cpu_time_s", 0.0) + time.process_time() - cpu_started, 3)}
        if resumed:
            record |= {"resumed_from_step": resumed["step"], "resumed_from_commit": resumed["git_commit"]}
        store.save(job.kind, job.config, result, record, arrays)
        if progress:
            progress(f"stored {job.kind} {store.folder(job.kind, job.config).name}: "
                     f"test accuracy {result['test_accuracy']:.4f}")

    training.train(trainees, data, chunk[0].training, on_done=on_done, checkpoint=checkpoint,
                   progress=_StepReport(f"{len(chunk)} {chunk[0].kind} run(s)", progress) if progress else None)
    store.describe_checkpoint(checkpoint, None)  # the group finished and removed its checkpoint


class _StepReport:
    """A training group's progress as a message at most every ``every_s`` seconds: the step, how
    many networks still train, and the time left at the pace so far."""

    def __init__(self, label: str, sink, every_s: float = 60.0):
        self.label, self.sink, self.every_s = label, sink, every_s
        self.started = self.last = time.monotonic()
        self.first_step = None

    def __call__(self, step: int, total: int, active: int) -> None:
        now = time.monotonic()
        if self.first_step is None:  # a resumed group starts part-way: pace from where it started
            self.first_step, self.started = step, now
            return
        if now - self.last < self.every_s:
            return
        self.last = now
        pace = (now - self.started) / max(step - self.first_step, 1)
        self.sink(f"{self.label}: step {step:,} of {total:,}, {active} training, "
                  f"~{pace * (total - step) / 60:.0f} min left")


def _difference(job: Job, first: Job) -> str:
    """The data and training fields in which ``job`` differs from its group's ``first`` job, as text."""
    fields = [(f"{part}.{name}", value, getattr(first, part).to_dict()[name])
              for part in ("data", "training") for name, value in getattr(job, part).to_dict().items()
              if value != getattr(first, part).to_dict().get(name)]
    return ", ".join(f"{name}={value!r} where the first job has {other!r}" for name, value, other in fields)


def _members(chunk: list[Job]) -> list[tuple[str, dict]]:
    return [(job.kind, job.config) for job in chunk]


def dispatch(work: list[tuple[str, str, dict]], client=None, progress=None) -> None:
    """Run each ``(label, "module:function", kwargs)`` as ``function(**kwargs, progress=...)``: in order here, or with a
    Dask ``client`` as many at once as the cluster has workers, earlier ones first.

    On Dask each worker's progress messages reach ``progress`` as they happen (an event
    topic), not when its task ends. A failed task does not stop the others: each failure is
    reported as it happens, and once every task has ended one error names them all (their
    finished runs stay stored, so running again retries only what is missing). The function
    is named, not passed: a worker imports it, so no pickled copy of its code travels.
    """
    if client is None:
        for _, function, kwargs in work:
            _resolve(function)(**kwargs, progress=progress)
        return
    from dask.distributed import as_completed

    received, sent, failed = [], [], []

    def forward(event):
        received.append(event[1])
        if progress:
            progress(event[1])

    client.subscribe_topic(PROGRESS_TOPIC, forward)
    try:
        futures = {client.submit(_remote, label, function, kwargs, pure=False, priority=len(work) - i): label
                   for i, (label, function, kwargs) in enumerate(work)}
        for future in as_completed(list(futures)):
            try:
                sent += future.result()
            except Exception as error:  # noqa: BLE001 - reported, and raised below once all tasks ended
                failed.append(f"{futures[future]}: {type(error).__name__}: {error}")
                if progress:
                    progress(f"task failed: {failed[-1]}")
        deadline = time.monotonic() + 10
        while Counter(sent) - Counter(received) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        client.unsubscribe_topic(PROGRESS_TOPIC)
    for message in (Counter(sent) - Counter(received)).elements():  # events lost on the way, if any
        if progress:
            progress(message)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(work)} tasks failed (the others' runs are stored; "
                           f"run again to retry): " + "; ".join(failed))


def _resolve(function: str) -> Callable:
    """The function named ``"module:function"``, looked up now (so a patched one is found)."""
    import importlib

    module, name = function.split(":")
    return getattr(importlib.import_module(module), name)


def _remote(label: str, function: str, kwargs: dict) -> list[str]:
    """A Dask task: ``function(**kwargs)``, each progress message also sent to the scheduler as it happens."""
    from distributed import get_worker

    fn = _resolve(function)
    worker = get_worker()
    messages = []

    def report(message):
        messages.append(message)
        worker.log_event(PROGRESS_TOPIC, message)

    report(f"task started: {label}")
    fn(**kwargs, progress=report)
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
                                   dashboard_address=None, env=threads.thread_env(workers)))
    return Client(address)
