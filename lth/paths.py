"""Every path the project uses, from two environment variables.

``LTH_RESULTS_DIR`` is the results store's root (default ``<repo>/results``),
``LTH_DATA_DIR`` the data cache (default ``<repo>/data``, ignored by git).
"""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def results_root() -> Path:
    return Path(os.environ.get("LTH_RESULTS_DIR", REPO_ROOT / "results"))


def runs_root() -> Path:
    return results_root() / "runs"


def figures_root() -> Path:
    return results_root() / "figures"


def published_root() -> Path:
    """Numbers read off the published papers' figures: part of the repository, whatever the results store."""
    return REPO_ROOT / "results" / "figures"


def bench_root() -> Path:
    return results_root() / "bench"


def data_root() -> Path:
    return Path(os.environ.get("LTH_DATA_DIR", REPO_ROOT / "data"))
