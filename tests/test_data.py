import pickle

import numpy as np
import pytest

from lth import data


def test_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data.write_idx(tmp_path / "a", array)
    assert np.array_equal(data.read_idx(tmp_path / "a"), array)
    # the IDX layout (LeCun's page): two zero bytes, type 0x08 (unsigned byte), the number of dimensions,
    # each dimension as a big-endian 32-bit int, then the data in C order
    header = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])
    assert (tmp_path / "a").read_bytes() == header + bytes(range(24))
    (tmp_path / "b").write_bytes(bytes([0, 0, 8, 2, 0, 0, 1, 0, 0, 0, 0, 1]) + bytes(range(256)))
    assert data.read_idx(tmp_path / "b").tolist() == [[i] for i in range(256)]  # 256 rows of one byte


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
    """Six batches of ``n`` random images; returns each batch's (data rows, labels) as written."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    written = []
    for batch in data.CIFAR_BATCHES:
        entry = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(rng.integers(0, 10, n))}
        with open(folder / batch, "wb") as f:
            pickle.dump(entry, f)
        written.append((entry[b"data"], entry[b"labels"]))
    return written


def _cifar_image(row):
    """One CIFAR row as (32, 32, 3): the row holds the red plane, then green, then blue, each row-major."""
    image = np.zeros((32, 32, 3), np.uint8)
    for channel in range(3):
        for r in range(32):
            image[r, :, channel] = row[1024 * channel + 32 * r: 1024 * channel + 32 * r + 32]
    return image


def test_cifar_pickle_batches(tmp_path):
    written = _write_cifar(tmp_path / "c")
    (x_train, y_train), (x_test, y_test) = data.read_cifar_batches(tmp_path / "c")
    assert x_train.shape == (50, 32, 32, 3) and y_train.shape == (50,)
    assert x_test.shape == (10, 32, 32, 3) and x_train.dtype == np.uint8
    train_rows = [row for rows, _ in written[:5] for row in rows]
    assert all(np.array_equal(x_train[i], _cifar_image(row)) for i, row in enumerate(train_rows))
    assert all(np.array_equal(x_test[i], _cifar_image(row)) for i, row in enumerate(written[5][0]))
    assert y_train.tolist() == [int(label) for _, labels in written[:5] for label in labels]
    assert y_test.tolist() == [int(label) for label in written[5][1]]


def test_cifar_corrupt_batch(tmp_path):
    _write_cifar(tmp_path / "c")
    (tmp_path / "c" / "data_batch_3").write_bytes(b"junk")
    with pytest.raises(data.DataError, match="data_batch_3"):
        data.read_cifar_batches(tmp_path / "c")


def test_cifar_loader_uses_local_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path))
    written = _write_cifar(tmp_path / "cifar-10-batches-py")
    ds = data.load("cifar10", n_validation=10)
    assert ds.input_shape == (32, 32, 3) and len(ds.train) == 40 and len(ds.validation) == 10
    # train and validation split the 50 written training images (with their labels), the test batch is the test set
    def pairs(x, y):
        return sorted(image.tobytes() + bytes([int(label)]) for image, label in zip(x, y))

    images = [_cifar_image(row) for rows, _ in written[:5] for row in rows]
    labels = [label for _, batch_labels in written[:5] for label in batch_labels]
    assert pairs(np.concatenate([ds.train.x, ds.validation.x]),
                 np.concatenate([ds.train.y, ds.validation.y])) == pairs(images, labels)
    assert np.array_equal(ds.test.x, [_cifar_image(row) for row in written[5][0]])
    np.testing.assert_allclose(ds.features(ds.test), ds.test.x / 255.0, rtol=1e-7)


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
    # the holdout split partitions the 60,000 training images: no image lost or used twice, labels kept
    (x_train, y_train), (x_test, y_test) = data.load_idx_arrays("mnist")
    assert np.bincount(np.concatenate([held.train.y, held.validation.y])).tolist() == np.bincount(y_train).tolist()
    def fingerprints(x, y):  # one number per (image, label): a weighted sum of the pixels, and the label
        return np.sort(x.reshape(len(x), -1).astype(np.int64) @ np.arange(1, 785) * 10 + y)
    assert np.array_equal(fingerprints(np.concatenate([held.train.x, held.validation.x]),
                                       np.concatenate([held.train.y, held.validation.y])),
                          fingerprints(x_train, y_train))
    assert np.array_equal(held.test.x, x_test) and np.array_equal(flaw.train.x, x_train)  # test untouched
    np.testing.assert_allclose(held.features(held.test), x_test / 255.0, rtol=1e-7)
    np.testing.assert_array_equal(flaw.features(flaw.test), x_test.astype(np.float64))
    first = data.load("mnist", subset=100)  # subset keeps every split's first images
    assert np.array_equal(first.train.x, held.train.x[:100]) and np.array_equal(first.test.y, y_test[:100])


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
