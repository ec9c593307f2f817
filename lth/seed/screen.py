"""The seed-fidelity screen: the authors' procedure by plain Keras ``fit``, in their environment and ours.

Why our seed runs plateau ~1 pp under the paper and collapse under long training is
screened with a factorial over what could differ from the authors' runs (the hypotheses
and what would confirm or rule out each are written in the seed chapter before the runs):

* ``environment``: ``legacy`` (Python 3.7, TF 2.1, TF-MOT 0.3: ``make legacy-env``) or
  ``main`` (this project's stack);
* ``learning_rate``: 0.01 (the published scripts) or 0.001 (Adam's default);
* ``fit_batch_size``: None (Keras infers 600, the authors' call) or 32 (Keras' default);
* per trial, the dense model with the authors' early stopping, and the 50 % pruning network
  on the 500-epoch schedule, stopped after ``train_epochs`` (150 covers the published Fig. 7
  before pruning and its first pruning steps; 500 is the whole run).

Each run is one subprocess of :mod:`lth.seed.authors_driver` in the environment's Python,
stored (kind :data:`KIND`) as soon as it ends, with that environment's versions in its
provenance; a stored run is never trained again, so the screen resumes where it stopped.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lth import paths
from lth.runs import SCREEN_ENVIRONMENTS as ENVIRONMENTS
from lth.runs import SCREEN_ROLES as ROLES
from lth.runs import ScreenRun, derive_seed
from lth.store import ResultsStore, provenance

KIND = ScreenRun.kind
DRIVER = Path(__file__).with_name("authors_driver.py")
LEARNING_RATES = (0.01, 0.001)
FIT_BATCH_SIZES = (None, 32)  # None: no batch size passed to fit, as the authors (Keras infers 600)
SCHEDULE_EPOCHS = 500  # the authors' EPOCHS argument: the pruning schedule spans 500 "epochs"
SCREEN_DENSITY = 0.5  # the density of the published Fig. 7
LEGACY_VENV = paths.REPO_ROOT / ".venv-legacy"


def legacy_python() -> Path:
    """The legacy environment's interpreter (``LTH_LEGACY_PYTHON`` overrides ``.venv-legacy``)."""
    return Path(os.environ.get("LTH_LEGACY_PYTHON", LEGACY_VENV / "bin" / "python"))


def python_for(environment: str) -> Path:
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}; known: {list(ENVIRONMENTS)}")
    if environment == "main":
        return Path(sys.executable)
    python = legacy_python()
    if not python.exists():
        raise ValueError(f"the legacy environment is not built ({python} does not exist); run 'make legacy-env'")
    return python


def describe(environment: str, role: str, trial: int, learning_rate: float = 0.01, fit_batch_size: int | None = None,
             train_epochs: int | None = None, density: float = SCREEN_DENSITY, epochs: int = SCHEDULE_EPOCHS) -> ScreenRun:
    """The description of one screen run; ``train_epochs`` None trains all ``epochs``."""
    return ScreenRun(environment=environment, role=role, trial=trial,
                     density=float(density) if role == "pruning" else None, epochs=epochs,
                     train_epochs=epochs if train_epochs is None else train_epochs, learning_rate=learning_rate,
                     fit_batch_size=fit_batch_size)


def seed_of(desc: ScreenRun) -> int:
    """The run's random seed: one per (trial, role), the same in every environment and setting."""
    return derive_seed("seed-screen", desc.trial, desc.role)


def plan(trials=range(3), environments=ENVIRONMENTS, pruning_epochs: int = 150) -> list[ScreenRun]:
    """The screen's runs in the order they train: trial by trial, pruning networks first.

    Within a trial the cells that decide most come first: the main stack at lr 0.001 and
    the legacy environment at lr 0.01, then the rest, then batch 32 (main stack only: the
    batch-size question does not need the slow environment), then the dense models.
    """
    cells = [("main", 0.001, None), ("legacy", 0.01, None), ("main", 0.01, None), ("legacy", 0.001, None),
             ("main", 0.01, 32), ("main", 0.001, 32)]
    cells = [c for c in cells if c[0] in environments]
    out = []
    for trial in trials:
        for role in ROLES[::-1]:
            for environment, lr, batch in cells:
                out.append(describe(environment, role, trial, lr, batch,
                                    train_epochs=pruning_epochs if role == "pruning" else None))
    return out


def run_one(desc: ScreenRun, store: ResultsStore | None = None, data_dir: Path | None = None, log=sys.stderr):
    """Train one screen run in its environment (unless stored) and store it; returns the stored run."""
    from lth import data

    store = store or ResultsStore()
    stored = store.load(desc.kind, desc.to_dict())
    if stored is not None:
        return stored
    python = python_for(desc.environment)
    data_dir = Path(data_dir) if data_dir else data.ensure_idx_files("mnist")
    spec = {"role": desc.role, "density": desc.density, "epochs": desc.epochs, "train_epochs": desc.train_epochs,
            "learning_rate": desc.learning_rate, "fit_batch_size": desc.fit_batch_size, "seed": seed_of(desc),
            "data_dir": str(data_dir)}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
               TF_USE_LEGACY_KERAS="1", PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory(prefix="lth-screen-") as tmp:
        spec_file, out_file = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_file.write_text(json.dumps(spec))
        started = time.time()
        proc = subprocess.run([str(python), str(DRIVER), str(spec_file), str(out_file)], env=env,
                              stdout=log, stderr=log)
        if proc.returncode != 0 or not out_file.exists():
            raise RuntimeError(f"the authors' driver failed (exit {proc.returncode}) in the {desc.environment} "
                               f"environment ({python}) for {label(desc)}")
        result = json.loads(out_file.read_text())
    versions = result.pop("environment")
    record = provenance(spec["seed"], time.time() - started) | {
        "python": versions["python"],
        "packages": {"tensorflow": versions["tensorflow"], "tensorflow-model-optimization":
                     versions["tensorflow-model-optimization"], "numpy": versions["numpy"],
                     "keras": versions["keras"]},
        "interpreter": str(python), "engine": "keras_fit", "group_size": 1, "native_ops": False}
    return store.save(desc.kind, desc.to_dict(), result, record)


def run(descs: list[ScreenRun], store: ResultsStore | None = None, progress=print) -> list:
    """Train (or resume) the given screen runs one after another; each is stored as it ends."""
    store = store or ResultsStore()
    for desc in descs:
        python_for(desc.environment)  # fail early, before any training, if an environment is missing
    runs = []
    for i, desc in enumerate(descs):
        done = store.load(desc.kind, desc.to_dict()) is not None
        run = run_one(desc, store)
        runs.append(run)
        if not done:
            progress(f"[{i + 1}/{len(descs)}] stored {label(desc)}: test accuracy "
                     f"{run.result['test_accuracy']:.4f} after {run.result['epochs_trained']} epochs "
                     f"({run.provenance['wall_time_s'] / 60:.1f} min)")
    return runs


def label(desc: ScreenRun) -> str:
    batch = "batch 600 (inferred)" if desc.fit_batch_size is None else f"batch {desc.fit_batch_size}"
    what = "dense" if desc.role == "dense" else f"pruning {desc.density:.0%}, {desc.train_epochs} epochs"
    return f"{desc.environment}, lr {desc.learning_rate}, {batch}, {what}, trial {desc.trial}"


def stored(store: ResultsStore | None = None) -> list:
    """Every stored screen run."""
    return list((store or ResultsStore()).runs(KIND))
