import pickle

import numpy as np
import pytest

from lth import data


def test_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data.write_idx(tmp_path / "a", array)
    assert np.array_equal(data.read_idx(tmp_path / "a"), array)


def test_truncated_idx_names_file(tmp_path):
    data.write_idx(tmp_path / "a", np.zeros((5, 4), np.uint8))
    raw = (tmp_path / "a").read_bytes()
    (tmp_path / "a").write_bytes(raw[:-3])
    with pytest.raises(data.DataError, match="truncated") as info:
        data.read_idx(tmp_path / "a")
    assert str(tmp_path / "a") in str(info.value)


def test_not_idx(tmp_path):
    (tmp_path / "b").write_bytes(b"hello world")
    with pytest.raises(data.DataError, match="not an IDX file"):
        data.read_idx(tmp_path / "b")


def test_checksum_mismatch_names_file_and_expected(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    with pytest.raises(data.DataError) as info:
        data.verify(tmp_path / "f", "0" * 64)
    assert str(tmp_path / "f") in str(info.value) and "0" * 64 in str(info.value)


def test_corrupt_cached_file_is_an_error_not_a_refetch(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path))
    folder = tmp_path / "mnist"
    folder.mkdir()
    for stem in data.IDX_FILES["mnist"]:
        (folder / stem).write_bytes(b"corrupt")
    with pytest.raises(data.DataError, match="corrupt or truncated"):
        data.ensure_idx_files("mnist")
    assert (folder / "train-images-idx3-ubyte").read_bytes() == b"corrupt"


def _write_cifar(folder, n=10):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for batch in data.CIFAR_BATCHES:
        entry = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        with open(folder / batch, "wb") as f:
            pickle.dump(entry, f)


def test_cifar_pickle_batches(tmp_path):
    _write_cifar(tmp_path / "c")
    (x_train, y_train), (x_test, y_test) = data.read_cifar_batches(tmp_path / "c")
    assert x_train.shape == (50, 32, 32, 3) and y_train.shape == (50,)
    assert x_test.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8


def test_cifar_corrupt_batch(tmp_path):
    _write_cifar(tmp_path / "c")
    (tmp_path / "c" / "data_batch_3").write_bytes(b"junk")
    with pytest.raises(data.DataError, match="data_batch_3"):
        data.read_cifar_batches(tmp_path / "c")


def test_cifar_loader_uses_local_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path))
    _write_cifar(tmp_path / "cifar-10-batches-py")
    ds = data.load("cifar10", n_validation=10)
    assert ds.input_shape == (32, 32, 3) and len(ds.train) == 40 and len(ds.validation) == 10


def test_real_mnist_facts():
    (x_train, y_train), (x_test, y_test) = data.load_idx_arrays("mnist")
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x_train.mean() == pytest.approx(33.318, abs=1e-3)


def test_splits_and_scales():
    held = data.load("mnist", validation="holdout", n_validation=5000)
    assert len(held.train) == 55000 and len(held.validation) == 5000 and len(held.test) == 10000
    flaw = data.load("mnist", validation="test", scale="raw")
    assert flaw.validation is flaw.test and flaw.features(flaw.test).max() == 255.0
    assert held.features(held.test).max() == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "imagenet"}, "unknown data set 'imagenet'"),
    ({"scale": "centered"}, "unknown scale 'centered'"),
    ({"validation": "none"}, "unknown validation 'none'"),
    ({"n_validation": 0}, "n_validation must be in"),
])
def test_bad_load_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load(**kwargs)


@pytest.mark.skipif(not (data.paths.data_root() / "fashion_mnist" / "t10k-labels-idx1-ubyte").exists(),
                    reason="Fashion-MNIST not fetched (python -c \"from lth import data; "
                           "data.ensure_idx_files('fashion_mnist')\")")
def test_real_fashion_mnist_facts():
    (x_train, y_train), (x_test, y_test) = data.load_idx_arrays("fashion_mnist")
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert x_train.mean() == pytest.approx(72.94, abs=1e-2)
