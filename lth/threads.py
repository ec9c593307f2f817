"""How TensorFlow processes share this machine's cores (no TensorFlow import: benchmarks' parents use it)."""
from __future__ import annotations

import os


def thread_env(processes: int) -> dict:
    """Environment for one of ``processes`` TensorFlow processes run at once: an equal share of the cores.

    TensorFlow reads ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS`` when it starts;
    a local Dask cluster's workers and the benchmarks' child processes get them this way.
    """
    if not isinstance(processes, int) or isinstance(processes, bool) or processes < 1:
        raise ValueError(f"processes must be a positive int, got {processes!r}")
    threads = str(max(1, (os.cpu_count() or 1) // processes))
    return {"TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads}
