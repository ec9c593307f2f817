import dataclasses
import json
import multiprocessing
import subprocess

import numpy as np
import pytest

from lth import store as store_module
from lth.store import ResultsStore, StoreError, config_hash

COMPUTED_BY = {"engine": "graph", "group_size": 1, "native_ops": False}


def provenance(**kwargs):
    """A new run's provenance, saying how it was computed as every new run must."""
    return store_module.provenance(**kwargs) | COMPUTED_BY


def test_hash_is_stable_and_changes_with_any_field():
    config = {"a": 1, "b": {"c": [1, 2], "d": None}}
    assert config_hash("k", config) == config_hash("k", json.loads(json.dumps(config)))
    assert config_hash("k", config) != config_hash("k2", config)
    for changed in ({"a": 2, "b": config["b"]}, {"a": 1, "b": {"c": [1, 3], "d": None}},
                    {"a": 1, "b": {"c": [1, 2], "d": 0}}, {"a": 1, "b": config["b"], "e": 0}):
        assert config_hash("k", changed) != config_hash("k", config)
    # pinned: the first 16 hex digits of the sha256 of the canonical JSON, worked out by hand as
    # printf '{"config":{"a":1,"b":{"c":[1,2],"d":null}},"kind":"k","schema_version":1}' | sha256sum
    # (a change here moves every stored run to a new folder)
    assert config_hash("k", config) == "acc89c6acc90ccfd"
    assert config_hash("k", {"b": {"d": None, "c": [1, 2]}, "a": 1}) == "acc89c6acc90ccfd"  # key order is not hashed


def test_hparams_hash_includes_defaults():
    from lth.hparams import TrainingHparams

    a, b = TrainingHparams(), TrainingHparams(patience=21)
    assert config_hash("k", a.to_dict()) != config_hash("k", b.to_dict())
    fields = dataclasses.fields(TrainingHparams)
    assert a.to_dict() == {f.name: list(f.default) if isinstance(f.default, tuple) else f.default for f in fields}
    # each field, changed alone to another valid value, changes the hash: none is left out as a default
    other = {"optimizer": "sgd", "stop_monitor": "val_loss", "best_monitor": "none", "lr_milestones": (7,)}
    for f in fields:
        if f.name in other:
            value = other[f.name]
        else:
            value = not f.default if isinstance(f.default, bool) else f.default * 2 + 1
        changed = dataclasses.replace(a, **{f.name: value})
        assert config_hash("k", changed.to_dict()) != config_hash("k", a.to_dict()), f.name


def test_save_load_and_first_writer_wins(store):
    made = provenance(seed=1, wall_time_s=2.0)
    weights = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    mask = np.array([True, False, True])
    run = store.save("k", {"x": np.int64(1)}, {"test_accuracy": np.float32(0.5), "history": np.arange(3)}, made,
                     arrays={"w": weights, "m": mask})
    again = store.save("k", {"x": 1}, {"test_accuracy": 0.9}, provenance(seed=1, wall_time_s=2.0))
    assert run.path == again.path and again.result["test_accuracy"] == 0.5
    assert run.path == store.root / "k" / config_hash("k", {"x": 1})
    # the stored record, every field (numpy values as plain JSON)
    assert json.loads((run.path / "run.json").read_text()) == {
        "schema_version": 1, "kind": "k", "config_hash": config_hash("k", {"x": 1}), "config": {"x": 1},
        "result": {"test_accuracy": 0.5, "history": [0, 1, 2]}, "provenance": made}
    loaded = store.load("k", {"x": 1})
    assert (loaded.kind, loaded.config, loaded.result, loaded.provenance) == (
        "k", {"x": 1}, {"test_accuracy": 0.5, "history": [0, 1, 2]}, made)
    arrays = loaded.arrays()
    assert sorted(arrays) == ["m", "w"] and arrays["w"].dtype == np.float32
    np.testing.assert_array_equal(arrays["w"], weights)
    np.testing.assert_array_equal(arrays["m"], mask)
    assert store.load("k", {"x": 2}) is None
    assert store.check() == []


def test_corrupt_entry_is_reported_with_path_never_overwritten(store):
    run = store.save("k", {"x": 1}, {"test_accuracy": 0.5}, provenance())
    (run.path / "run.json").write_text("{not json")
    with pytest.raises(StoreError, match=str(run.path)):
        store.load("k", {"x": 1})
    with pytest.raises(StoreError):
        store.save("k", {"x": 1}, {"test_accuracy": 0.7}, provenance())
    assert (run.path / "run.json").read_text() == "{not json"
    assert any(str(run.path) in p for p in store.check())


def test_check_finds_hash_mismatch(store):
    run = store.save("k", {"x": 1}, {"test_accuracy": 0.5}, provenance())
    run.path.rename(run.path.parent / "0123456789abcdef")
    assert store.check() == [f"{run.path.parent / '0123456789abcdef'}: config hashes to {run.path.name}, "
                             "not to its folder name"]


def test_unfinished_staging_folders_are_ignored(store):
    store.save("k", {"x": 1}, {"test_accuracy": 0.5}, provenance())
    (store.root / "k" / ".tmp-dead").mkdir()
    assert len(list(store.runs("k"))) == 1 and store.check() == []
    assert store.clean_staging(min_age_s=3600) == 0 and (store.root / "k" / ".tmp-dead").exists()  # too young
    assert store.clean_staging(min_age_s=0) == 1 and not (store.root / "k" / ".tmp-dead").exists()
    assert [run.config for run in store.runs("k")] == [{"x": 1}]  # the finished run stays


def test_new_runs_must_say_how_they_were_computed_older_ones_are_engine_unknown(store):
    silent = store.save("k", {"x": 1}, {"test_accuracy": 0.5}, store_module.provenance())
    problems = store.check()
    assert len(problems) == 1 and str(silent.path) in problems[0] and "native_ops" in problems[0]
    old = store_module.provenance()
    del old["provenance_version"]  # as stored before runs recorded their engine
    before = store.save("k", {"x": 2}, {"test_accuracy": 0.5}, old)
    recorded = store.save("k", {"x": 3}, {"test_accuracy": 0.5}, provenance())
    assert store.engine_unknown() == [before.path]
    assert str(recorded.path) not in " ".join(store.check())


def _writer(root, worker):
    store = ResultsStore(root)
    for i in range(30):
        store.save("k", {"i": i}, {"writer": worker}, provenance())


def test_concurrent_writers_never_corrupt(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(tmp_path, w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    store = ResultsStore(tmp_path)
    runs = list(store.runs("k"))
    assert len(runs) == 30 and store.check() == []
    assert sorted(run.config["i"] for run in runs) == list(range(30))  # each config once, whoever wrote it
    assert {run.result["writer"] for run in runs} <= {0, 1, 2}
    assert not list((tmp_path / "k").glob(".tmp-*"))


def test_code_version_names_the_checkouts_commit():
    import subprocess

    from lth import paths, store

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True, text=True).stdout.strip()
    version = store.code_version()
    assert version["git_commit"] == head and len(head) == 40
    assert store.provenance()["git_commit"] == head


def test_code_version_is_dirty_only_when_lth_differs_from_the_commit(tmp_path, monkeypatch):
    """In a checkout of our own: clean, then changes outside lth/ and untracked files in it (not dirty),
    then a tracked file in lth/ changed (dirty)."""
    from lth import paths

    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              capture_output=True, text=True, check=True).stdout.strip()

    (tmp_path / "lth").mkdir()
    (tmp_path / "lth" / "a.py").write_text("x = 1\n")
    (tmp_path / "notes.md").write_text("notes\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "first")
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path)
    assert store_module.code_version() == {"git_commit": git("rev-parse", "HEAD"), "git_dirty": False}
    (tmp_path / "notes.md").write_text("changed\n")
    (tmp_path / "lth" / "new.py").write_text("y = 2\n")
    assert store_module.code_version()["git_dirty"] is False
    (tmp_path / "lth" / "a.py").write_text("x = 2\n")
    assert store_module.code_version()["git_dirty"] is True
