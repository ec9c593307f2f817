import json
import multiprocessing

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


def test_hparams_hash_includes_defaults():
    from lth.hparams import TrainingHparams

    a, b = TrainingHparams(), TrainingHparams(patience=21)
    assert config_hash("k", a.to_dict()) != config_hash("k", b.to_dict())
    assert "patience" in a.to_dict()


def test_save_load_and_first_writer_wins(store):
    run = store.save("k", {"x": 1}, {"test_accuracy": 0.5}, provenance(seed=1, wall_time_s=2.0))
    again = store.save("k", {"x": 1}, {"test_accuracy": 0.9}, provenance(seed=1, wall_time_s=2.0))
    assert run.path == again.path and again.result["test_accuracy"] == 0.5
    assert store.load("k", {"x": 1}).provenance["seed"] == 1
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
    assert any("hashes to" in p for p in store.check())


def test_unfinished_staging_folders_are_ignored(store):
    store.save("k", {"x": 1}, {"test_accuracy": 0.5}, provenance())
    (store.root / "k" / ".tmp-dead").mkdir()
    assert len(list(store.runs("k"))) == 1 and store.check() == []
    assert store.clean_staging(min_age_s=0) == 1


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
    assert not list((tmp_path / "k").glob(".tmp-*"))


def test_code_version_names_the_checkouts_commit():
    import subprocess

    from lth import paths, store

    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True, text=True).stdout.strip()
    version = store.code_version()
    assert version["git_commit"] == head and len(head) == 40
    assert isinstance(version["git_dirty"], bool)
    assert store.provenance()["git_commit"] == head
