"""``python -m lth migrate-store``: rewrite stored runs whose configs predate :mod:`lth.runs`.

Runs are migrated, never retrained. Each stored config is read in its old shape, turned
into its run description and written back as ``desc.to_dict()``; a run whose config
changes moves to the folder of its new hash (the run's result, provenance and arrays are
kept as they are). Training checkpoints in progress are re-keyed to their groups' new
hashes, so a sweep resumes them. Running it twice changes nothing the second time.

Old shapes handled:

* ``seed_protocol`` carried ``epochs`` beside ``training.iterations``: dropped.
* ``seed_keras_fit`` carried ``epochs`` and ``role`` ("pruning"): dropped.
* ``seed_unpruned`` carried ``epochs`` and named its density ``twin_of_density``.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path

from lth import runs
from lth.store import RUN_FILE, ResultsStore, config_hash


def _check_epochs(kind: str, config: dict) -> None:
    from lth.seed.schedule import STEPS_PER_EPOCH

    epochs, iterations = config["epochs"], config["training"]["iterations"]
    if epochs * STEPS_PER_EPOCH != iterations:
        raise ValueError(f"a {kind} run says {epochs} epochs but {iterations} iterations; not migrated")


def new_config(kind: str, config: dict) -> dict:
    """The config of a stored run in the current shape (unchanged if it already has it)."""
    config = dict(config)
    if kind in ("seed_protocol", "seed_keras_fit", "seed_unpruned") and "epochs" in config:
        _check_epochs(kind, config)
        del config["epochs"]
    if kind == "seed_keras_fit":
        config.pop("role", None)
    if kind == "seed_unpruned" and "twin_of_density" in config:
        config["density"] = config.pop("twin_of_density")
    return runs.from_stored(kind, config).to_dict()


def _old_seed_config(desc: runs.SeedRun) -> dict:
    """What the seed protocol stored for ``desc`` before the run descriptions existed."""
    return desc.to_dict() | {"epochs": desc.epochs}


def _old_seed_groups():
    """Every training group the old seed sweep could have formed (500 epochs, batch 600, all
    of MNIST), as (old members, new members): its pruning networks of up to 4 trials, or its
    retrainings (ticket, random) of up to 2 trials, of one protocol and density."""
    from lth.seed import protocol

    for name, density in itertools.product(protocol.PROTOCOLS, protocol.DENSITIES):
        for size, roles in ((4, ("pruning",)), (2, ("ticket", "random"))):
            for n in range(1, size + 1):
                for trials in itertools.combinations(range(10), n):
                    descs = [protocol.describe(name, role, t, 500, density) for t in trials for role in roles]
                    yield ([(d.kind, _old_seed_config(d)) for d in descs], [(d.kind, d.to_dict()) for d in descs])


def _rekey_checkpoints(store: ResultsStore, report) -> int:
    folder = store.root / ".checkpoints"
    if not folder.exists():
        return 0
    pending = {p.name: p for p in folder.glob("*.pkl")}
    moved = 0
    candidates = []
    for pkl in list(pending.values()):
        sidecar = pkl.with_suffix(".json")
        if sidecar.exists():
            old = [(m["kind"], m["config"]) for m in json.loads(sidecar.read_text())]
            candidates.append((old, [(kind, new_config(kind, config)) for kind, config in old]))
    if any(not p.with_suffix(".json").exists() for p in pending.values()):
        candidates = itertools.chain(candidates, _old_seed_groups())
    for old, new in candidates:
        source = store.checkpoint_path(old)
        if source.name not in pending:
            continue
        target = store.checkpoint_path(new)
        del pending[source.name]
        if target != source:
            os.replace(source, target)
            source.with_suffix(".json").unlink(missing_ok=True)
            moved += 1
            report(f"checkpoint {source.name} -> {target.name}")
        store.describe_checkpoint(target, new)
        if not pending:
            break
    for name in pending:
        report(f"checkpoint {name}: its group is unknown; left as it is")
    return moved


def migrate(store: ResultsStore | None = None, report=print) -> dict:
    """Rewrite every run whose config is not in the current shape; returns counts."""
    store = store or ResultsStore()
    counts = {"runs": 0, "migrated": 0, "checkpoints": 0}
    for kind_dir in store._kind_dirs():
        for folder in sorted(kind_dir.glob("*")):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            run = store.read(folder)
            counts["runs"] += 1
            config = new_config(run.kind, run.config)
            target = kind_dir / config_hash(run.kind, config)
            if config == run.config and target == folder:
                continue
            if target.exists():
                raise ValueError(f"{folder} migrates to {target.name}, which is already stored; not migrated")
            record = json.loads((folder / RUN_FILE).read_text()) | {"config": config, "config_hash": target.name}
            staging = Path(tempfile.mkdtemp(prefix=".tmp-migrate-", dir=kind_dir))
            for item in folder.iterdir():
                if item.name != RUN_FILE:
                    shutil.copy2(item, staging / item.name)
            (staging / RUN_FILE).write_text(json.dumps(record, sort_keys=True, separators=(",", ":"),
                                                       allow_nan=False))
            os.rename(staging, target)  # the new run appears whole, then the old one goes
            shutil.rmtree(folder)
            counts["migrated"] += 1
    counts["checkpoints"] = _rekey_checkpoints(store, report)
    report(f"{counts['runs']} runs read, {counts['migrated']} migrated, {counts['checkpoints']} checkpoints re-keyed")
    return counts

