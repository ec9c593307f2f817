"""Execute the book's chapters at their published parameters (``make notebooks``).

    .venv/bin/python scripts/execute_chapters.py NAME ...

Runs notebooks/NAME.ipynb with papermill and book/params/NAME.yaml into book/chapters/NAME.ipynb,
one chapter at a time: a line per chapter, papermill's progress bar over its cells, and the time
it took. The kernel's own standard error (TensorFlow's and CUDA's C++ log lines, which ipykernel
copies to the terminal and which TF_CPP_MIN_LOG_LEVEL cannot silence: they are written before
TensorFlow reads it) goes to book/chapters/NAME.log instead; VERBOSE=1 leaves it on the terminal.
The executed notebook is then tagged with scripts/tag_notebook_cells.py (papermill's
injected-parameters cell is not in the source notebook, so it is tagged here).
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

import papermill
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import tag_notebook_cells  # noqa: E402


@contextlib.contextmanager
def stderr_of_children_to(log: Path | None):
    """Point file descriptor 2, which kernels inherit, at ``log``; keep sys.stderr on the terminal."""
    if log is None:
        yield
        return
    terminal = os.dup(2)
    saved_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(terminal), "w", buffering=1)
    with open(log, "wb") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(terminal, 2)
        os.close(terminal)
        sys.stderr.close()
        sys.stderr = saved_stderr


def execute(name: str, verbose: bool) -> float:
    """Run one chapter; return its wall time in seconds."""
    source = ROOT / "notebooks" / f"{name}.ipynb"
    params_file = ROOT / "book" / "params" / f"{name}.yaml"
    target = ROOT / "book" / "chapters" / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    parameters = yaml.safe_load(params_file.read_text()) or {}
    log = None if verbose else target.with_suffix(".log")
    started = time.time()
    with stderr_of_children_to(log):
        papermill.execute_notebook(str(source), str(target), parameters=parameters, cwd=str(source.parent),
                                   kernel_name="python3", progress_bar={"desc": f"{name:>16}", "leave": True},
                                   log_output=verbose)
    tag_notebook_cells.tag_file(target)
    return time.time() - started


def main(names: list[str]) -> int:
    verbose = os.environ.get("VERBOSE", "") not in ("", "0")
    if not verbose:  # nbformat's notice about notebooks saved without cell ids concerns their authors, not a build
        warnings.filterwarnings("ignore", message="Cell is missing an id field")
    total = time.time()
    for number, name in enumerate(names, 1):
        print(f"[{number}/{len(names)}] {name}: notebooks/{name}.ipynb with book/params/{name}.yaml", flush=True)
        try:
            seconds = execute(name, verbose)
        except papermill.PapermillExecutionError as error:
            print(f"\n{name} failed in cell {error.exec_count}: {error.ename}: {error.evalue}\n"
                  f"the executed notebook (book/chapters/{name}.ipynb) holds the traceback"
                  + ("" if verbose else f"; the kernel's log is book/chapters/{name}.log"), file=sys.stderr)
            return 1
        print(f"[{number}/{len(names)}] {name}: done in {seconds:.0f} s", flush=True)
    print(f"{len(names)} chapters executed in {time.time() - total:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1:]))
