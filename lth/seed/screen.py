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
from lth.store import ResultsStore, provenance

KIND = "seed_keras_driver"
DRIVER = Path(__file__).with_name("authors_driver.py")
ENVIRONMENTS = ("legacy", "main")
LEARNING_RATES = (0.01, 0.001)
FIT_BATCH_SIZES = (None, 32)  # None: no batch size passed to fit, as the authors (Keras infers 600)
ROLES = ("dense", "pruning")
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


def config(environment: str, role: str, trial: int, learning_rate: float = 0.01, fit_batch_size: int | None = None,
           train_epochs: int | None = None, density: float = SCREEN_DENSITY, epochs: int = SCHEDULE_EPOCHS) -> dict:
    """The stored description of one screen run; ``train_epochs`` None trains all ``epochs``."""
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}; known: {list(ENVIRONMENTS)}")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; known: {list(ROLES)}")
    if not (isinstance(learning_rate, float) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive float, got {learning_rate!r}")
    if fit_batch_size is not None and (not isinstance(fit_batch_size, int) or fit_batch_size < 1):
        raise ValueError(f"fit_batch_size must be None (Keras infers it) or a positive int, got {fit_batch_size!r}")
    train_epochs = epochs if train_epochs is None else train_epochs
    if not 1 <= train_epochs <= epochs:
        raise ValueError(f"train_epochs must be in 1..{epochs}, got {train_epochs!r}")
    if role == "pruning" and not 0 < density < 1:
        raise ValueError(f"density must be in (0, 1), got {density!r}")
    return {"procedure": "authors_keras_fit", "environment": environment, "role": role, "trial": int(trial),
            "density": float(density) if role == "pruning" else None, "epochs": int(epochs),
            "train_epochs": int(train_epochs), "learning_rate": float(learning_rate),
            "fit_batch_size": fit_batch_size, "model": "lenet5",
            "dataset": {"name": "mnist", "scale": "raw", "validation": "test"}}


def seed_of(cfg: dict) -> int:
    """The run's random seed: one per (trial, role), the same in every environment and setting."""
    from lth.experiments import derive_seed

    return derive_seed("seed-screen", cfg["trial"], cfg["role"])


def plan(trials=range(3), environments=ENVIRONMENTS, pruning_epochs: int = 150) -> list[dict]:
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
                out.append(config(environment, role, trial, lr, batch,
                                  train_epochs=pruning_epochs if role == "pruning" else None))
    return out


def run_one(cfg: dict, store: ResultsStore | None = None, data_dir: Path | None = None, log=sys.stderr):
    """Train one screen run in its environment (unless stored) and store it; returns the stored run."""
    from lth import data

    store = store or ResultsStore()
    stored = store.load(KIND, cfg)
    if stored is not None:
        return stored
    python = python_for(cfg["environment"])
    data_dir = Path(data_dir) if data_dir else data.ensure_idx_files("mnist")
    spec = {"role": cfg["role"], "density": cfg["density"], "epochs": cfg["epochs"],
            "train_epochs": cfg["train_epochs"], "learning_rate": cfg["learning_rate"],
            "fit_batch_size": cfg["fit_batch_size"], "seed": seed_of(cfg), "data_dir": str(data_dir)}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
               TF_USE_LEGACY_KERAS="1", PYTHONHASHSEED="0")
    with tempfile.TemporaryDirectory(prefix="lth-screen-") as tmp:
        spec_file, out_file = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_file.write_text(json.dumps(spec))
        started = time.time()
        proc = subprocess.run([str(python), str(DRIVER), str(spec_file), str(out_file)], env=env,
                              stdout=log, stderr=log)
        if proc.returncode != 0 or not out_file.exists():
            raise RuntimeError(f"the authors' driver failed (exit {proc.returncode}) in the {cfg['environment']} "
                               f"environment ({python}) for {cfg}")
        result = json.loads(out_file.read_text())
    versions = result.pop("environment")
    record = provenance(spec["seed"], time.time() - started) | {
        "python": versions["python"],
        "packages": {"tensorflow": versions["tensorflow"], "tensorflow-model-optimization":
                     versions["tensorflow-model-optimization"], "numpy": versions["numpy"],
                     "keras": versions["keras"]},
        "interpreter": str(python), "engine": "keras_fit", "group_size": 1, "native_ops": False}
    return store.save(KIND, cfg, result, record)


def run(configs: list[dict], store: ResultsStore | None = None, progress=print) -> list:
    """Train (or resume) the given screen runs one after another; each is stored as it ends."""
    store = store or ResultsStore()
    for cfg in configs:
        python_for(cfg["environment"])  # fail early, before any training, if an environment is missing
    runs = []
    for i, cfg in enumerate(configs):
        done = store.load(KIND, cfg) is not None
        run = run_one(cfg, store)
        runs.append(run)
        if not done:
            progress(f"[{i + 1}/{len(configs)}] stored {describe(cfg)}: test accuracy "
                     f"{run.result['test_accuracy']:.4f} after {run.result['epochs_trained']} epochs "
                     f"({run.provenance['wall_time_s'] / 60:.1f} min)")
    return runs


def describe(cfg: dict) -> str:
    batch = "batch 600 (inferred)" if cfg["fit_batch_size"] is None else f"batch {cfg['fit_batch_size']}"
    what = "dense" if cfg["role"] == "dense" else f"pruning {cfg['density']:.0%}, {cfg['train_epochs']} epochs"
    return f"{cfg['environment']}, lr {cfg['learning_rate']}, {batch}, {what}, trial {cfg['trial']}"


def stored(store: ResultsStore | None = None) -> list:
    """Every stored screen run."""
    return list((store or ResultsStore()).runs(KIND))
