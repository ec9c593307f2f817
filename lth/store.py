"""The results store: one folder per run, named from a hash of its full config.

``<root>/runs/<kind>/<hash>/run.json`` holds the config, the result and the
provenance (code version, package versions, seed, wall time, host);
``arrays.npz`` beside it holds arrays (masks, weights) when a run has any.
A run folder appears by one atomic ``rename`` of a finished temporary
folder, so a reader never sees half a run, an interrupted writer leaves only
a ``.tmp-*`` folder (ignored, cleaned later), and of two concurrent writers of
the same run the first wins and the second's copy is discarded.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lth import paths

SCHEMA_VERSION = 1
# 2: a run records how it was computed (ENGINE_FIELDS); runs stored before say nothing of it
PROVENANCE_VERSION = 2
ENGINE_FIELDS = ("engine", "group_size", "native_ops")
RUN_FILE = "run.json"
ARRAYS_FILE = "arrays.npz"
HASH_LENGTH = 16
CHECKPOINTS = ".checkpoints"  # training groups in progress (lth.training.train), under the store root


def _fault_point(name: str) -> None:
    """Fault injection for the kill-and-resume tests: ``LTH_FAULT_INJECT=<name>:<n>`` kills this
    process (SIGKILL) the n-th time it reaches fault point ``name``."""
    spec = os.environ.get("LTH_FAULT_INJECT", "")
    if not spec.startswith(name + ":"):
        return
    _FAULT_COUNTS[name] = _FAULT_COUNTS.get(name, 0) + 1
    if _FAULT_COUNTS[name] == int(spec.split(":")[1]):
        os.kill(os.getpid(), signal.SIGKILL)


_FAULT_COUNTS: dict = {}


class StoreError(RuntimeError):
    """A stored run cannot be read or does not match its folder."""


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def config_hash(kind: str, config: dict) -> str:
    """Stable hash of a run's kind, full config and the store's schema version."""
    payload = canonical_json({"kind": kind, "config": config, "schema_version": SCHEMA_VERSION})
    return hashlib.sha256(payload.encode()).hexdigest()[:HASH_LENGTH]


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=paths.REPO_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def code_version() -> dict:
    """The checkout's commit, and whether ``lth/`` differs from it (benchmarks and stored runs record it)."""
    return {"git_commit": _git("rev-parse", "HEAD") or None,
            "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no", "lth"))}


def provenance(seed=None, wall_time_s=None) -> dict:
    from importlib import metadata

    versions = {}
    for package in ["tensorflow", "tf-keras", "tensorflow-model-optimization", "numpy", "lth"]:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        **code_version(), "provenance_version": PROVENANCE_VERSION,
        "packages": versions, "python": sys.version.split()[0],
        "seed": seed, "wall_time_s": None if wall_time_s is None else round(float(wall_time_s), 3),
        "host_cpu": _cpu(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "tf_intra_op_threads": int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0) or None,
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@dataclass
class Run:
    kind: str
    config: dict
    result: dict
    provenance: dict
    path: Path

    def arrays(self) -> dict:
        file = self.path / ARRAYS_FILE
        if not file.exists():
            return {}
        try:
            with np.load(file) as stored:
                return {k: stored[k] for k in stored.files}
        except Exception as error:
            raise StoreError(f"cannot read arrays of run {file}: {error}") from error


def _to_jsonable(value):
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


class ResultsStore:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else paths.runs_root()

    def folder(self, kind: str, config: dict) -> Path:
        return self.root / kind / config_hash(kind, config)

    def load(self, kind: str, config: dict) -> Run | None:
        """The stored run for this config, or None. A damaged entry raises :class:`StoreError`."""
        folder = self.folder(kind, config)
        if not folder.exists():
            return None
        return self.read(folder)

    def read(self, folder: Path) -> Run:
        file = Path(folder) / RUN_FILE
        try:
            record = json.loads(file.read_text())
        except (OSError, ValueError) as error:
            raise StoreError(f"stored run {file} cannot be parsed ({error}); "
                             f"inspect or delete that folder, it is never recomputed over") from error
        missing = [k for k in ("schema_version", "kind", "config", "config_hash", "result", "provenance")
                   if k not in record]
        if missing:
            raise StoreError(f"stored run {file} lacks fields {missing}")
        return Run(record["kind"], record["config"], record["result"], record["provenance"], Path(folder))

    def save(self, kind: str, config: dict, result: dict, provenance: dict, arrays: dict | None = None) -> Run:
        """Store a finished run atomically; if the run is already stored, keep the stored one."""
        config = _to_jsonable(config)
        folder = self.folder(kind, config)
        if folder.exists():
            return self.read(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".tmp-{uuid.uuid4().hex[:8]}-", dir=folder.parent))
        try:
            record = {"schema_version": SCHEMA_VERSION, "kind": kind, "config_hash": folder.name,
                      "config": config, "result": _to_jsonable(result), "provenance": _to_jsonable(provenance)}
            with open(staging / RUN_FILE, "w") as f:
                f.write(json.dumps(record, sort_keys=True, separators=(",", ":"), allow_nan=False))
                f.flush()
                os.fsync(f.fileno())
            _fault_point("mid_write")
            if arrays:
                np.savez_compressed(staging / ARRAYS_FILE, **arrays)
            _fault_point("before_rename")
            try:
                os.rename(staging, folder)
            except OSError:
                if not folder.exists():
                    raise
                # another writer stored the same run first: theirs stands
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.read(folder)

    def runs(self, kind: str | None = None):
        """Every stored run (of ``kind``), skipping unfinished ``.tmp-*`` folders."""
        kinds = [self.root / kind] if kind else self._kind_dirs()
        for kind_dir in kinds:
            for folder in sorted(kind_dir.glob("*")):
                if folder.is_dir() and not folder.name.startswith("."):
                    yield self.read(folder)

    def check(self) -> list[str]:
        """Problems with the stored runs: unparsable files, hash mismatches, missing provenance."""
        problems = []
        if not self.root.exists():
            return problems
        for kind_dir in self._kind_dirs():
            for folder in sorted(kind_dir.glob("*")):
                if not folder.is_dir() or folder.name.startswith("."):
                    continue
                try:
                    run = self.read(folder)
                except StoreError as error:
                    problems.append(str(error))
                    continue
                expected = config_hash(run.kind, run.config)
                if run.kind != kind_dir.name:
                    problems.append(f"{folder}: kind {run.kind!r} stored under {kind_dir.name!r}")
                if expected != folder.name:
                    problems.append(f"{folder}: config hashes to {expected}, not to its folder name")
                for key in ("git_commit", "packages", "seed", "wall_time_s", "host_cpu"):
                    if key not in run.provenance:
                        problems.append(f"{folder}: provenance lacks {key!r}")
                if run.provenance.get("provenance_version", 1) >= 2:
                    unrecorded = [k for k in ENGINE_FIELDS if run.provenance.get(k) is None]
                    if unrecorded:
                        problems.append(f"{folder}: a new run must record {unrecorded} in its provenance")
                if (folder / ARRAYS_FILE).exists():
                    try:
                        run.arrays()
                    except StoreError as error:
                        problems.append(str(error))
        return problems

    def engine_unknown(self) -> list[Path]:
        """Runs stored before runs recorded their engine, group size and native ops: not guessed."""
        unknown = []
        for kind_dir in self._kind_dirs():
            for folder in sorted(kind_dir.glob("*")):
                if not folder.is_dir() or folder.name.startswith("."):
                    continue
                try:
                    record = self.read(folder).provenance
                except StoreError:  # check() reports it
                    continue
                if record.get("provenance_version", 1) < 2 and any(record.get(k) is None for k in ENGINE_FIELDS):
                    unknown.append(folder)
        return unknown

    def _kind_dirs(self) -> list[Path]:
        return sorted(p for p in self.root.glob("*") if p.is_dir() and not p.name.startswith("."))

    def checkpoint_path(self, members: list[tuple[str, dict]]) -> Path:
        """Where a training group of runs ``(kind, config)`` keeps its checkpoint while it trains
        (:func:`lth.training.train`): under ``.checkpoints``, which is not a kind of run and is git-ignored
        (``git add -f`` its ``.pkl`` to carry a group in progress into another checkout: a fresh clone resumes it)."""
        key = hashlib.sha256("\n".join(f"{kind}/{config_hash(kind, config)}" for kind, config in members).encode())
        return self.root / CHECKPOINTS / f"{key.hexdigest()[:16]}.pkl"

    def describe_checkpoint(self, path: Path, members: list[tuple[str, dict]] | None) -> None:
        """Write beside a group's checkpoint which runs it trains (``<key>.json``), so that
        ``migrate-store`` can re-key it when their configs change; ``members`` None removes it."""
        sidecar = Path(path).with_suffix(".json")
        if members is None:
            sidecar.unlink(missing_ok=True)
            return
        sidecar.parent.mkdir(parents=True, exist_ok=True)
        sidecar.write_text(canonical_json([{"kind": kind, "config": _to_jsonable(config)} for kind, config in members]))

    def clean_staging(self, min_age_s: float = 3600) -> int:
        """Remove temporary folders that interrupted writers left over ``min_age_s`` ago."""
        removed = 0
        for tmp in self.root.glob("*/.tmp-*"):
            if time.time() - tmp.stat().st_mtime >= min_age_s:
                shutil.rmtree(tmp, ignore_errors=True)
                removed += 1
        return removed
