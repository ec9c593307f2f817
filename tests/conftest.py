import os

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # grouped-convolution gradients on CPU: see lth/__init__.py


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty results store in a temporary folder (LTH_RESULTS_DIR points there)."""
    from lth.store import ResultsStore

    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    return ResultsStore(tmp_path / "results" / "runs")


@pytest.fixture(scope="session")
def mnist_small():
    """Real MNIST (fetched into the data cache by `make data`), 2,000 images per split."""
    from lth import data

    return data.load("mnist", subset=2000, n_validation=2000)
