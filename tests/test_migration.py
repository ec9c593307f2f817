"""migrate-store: runs stored in the shapes before lth.runs are rewritten, never retrained."""
import json

from lth import migration, runs
from lth.seed import controls, protocol
from lth.store import ResultsStore, config_hash, provenance

RECORD = {"engine": "stacked", "group_size": 2, "native_ops": False}


def _old_seed(desc):
    return desc.to_dict() | {"epochs": desc.epochs}


def _old_twin(desc):
    config = desc.to_dict() | {"epochs": desc.epochs, "twin_of_density": desc.density}
    del config["density"]
    return config


def test_old_shapes_move_to_their_new_hashes_with_results_kept(store: ResultsStore):
    ticket = protocol.describe("faithful", "ticket", 3, 500, 0.2)
    dense = protocol.describe("corrected", "dense", 1, 500)
    twin = controls.describe("unpruned", "faithful", 2, 500, 0.5)
    keras = controls.describe("keras_fit", "faithful", 0, 500, 0.5)
    old = [("seed_protocol", _old_seed(ticket), ticket), ("seed_protocol", _old_seed(dense), dense),
           ("seed_unpruned", _old_twin(twin), twin),
           ("seed_keras_fit", _old_seed(keras) | {"role": "pruning"}, keras)]
    for i, (kind, config, _) in enumerate(old):
        store.save(kind, config, {"test_accuracy": 0.9 + i / 100}, provenance(seed=i) | RECORD,
                   {"mask": [1, 0]} if i == 0 else None)
    lottery = runs.LotteryRun.from_dict(json.loads(json.dumps(  # already in the current shape: untouched
        {"dataset": {}, "model": {}, "training": {}, "pruning": {}, "seed": 0, "level": 1, "variant": "ticket"})))
    kept = store.save(lottery.kind, lottery.to_dict(), {"test_accuracy": 0.5}, provenance() | RECORD)
    # a training group in progress, keyed by the old configs of its pruning networks (trials 5 and 6)
    group = [protocol.describe("faithful", "pruning", t, 500, 0.33) for t in (5, 6)]
    old_checkpoint = store.checkpoint_path([(d.kind, _old_seed(d)) for d in group])
    old_checkpoint.parent.mkdir(parents=True)
    old_checkpoint.write_bytes(b"state")

    counts = migration.migrate(store, report=lambda message: None)

    assert counts == {"runs": 5, "migrated": 4, "checkpoints": 1}
    assert store.check() == [] and len(list(store.runs())) == 5
    for i, (kind, _, desc) in enumerate(old):
        run = store.load(desc.kind, desc.to_dict())
        assert run is not None and run.kind == kind and run.result["test_accuracy"] == 0.9 + i / 100
        assert run.path.name == config_hash(kind, desc.to_dict())
    assert store.load(ticket.kind, ticket.to_dict()).arrays()["mask"].tolist() == [1, 0]
    assert store.load(lottery.kind, lottery.to_dict()).path == kept.path
    new_checkpoint = store.checkpoint_path([(d.kind, d.to_dict()) for d in group])
    assert not old_checkpoint.exists() and new_checkpoint.read_bytes() == b"state"
    assert migration.migrate(store, report=lambda message: None) == {"runs": 5, "migrated": 0, "checkpoints": 0}


def test_a_config_whose_epochs_and_iterations_disagree_is_refused():
    config = _old_seed(protocol.describe("faithful", "dense", 0, 500)) | {"epochs": 400}
    try:
        migration.new_config("seed_protocol", config)
    except ValueError as error:
        assert "400 epochs but 50000 iterations" in str(error)
    else:
        raise AssertionError("a contradictory config was migrated")
