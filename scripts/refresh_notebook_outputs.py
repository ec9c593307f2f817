"""Re-execute the committed notebooks at their quick defaults so nbval has fresh reference outputs.

    .venv/bin/python scripts/refresh_notebook_outputs.py [NAME ...]

Runs against a throw-away results store, then drops stderr streams (TensorFlow's log noise)
and papermill's timing metadata so diffs show only real changes.
"""
import os
import sys
import tempfile
from pathlib import Path

import nbformat
import papermill

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["background", "frankle_carbin", "liu_comparison", "our_experiments", "supermasks", "benchmark"]


def clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    nb.metadata.pop("papermill", None)
    nbformat.write(nb, path)


def main(names):
    os.environ["LTH_RESULTS_DIR"] = tempfile.mkdtemp(prefix="lth-quick-")
    for name in names:
        path = ROOT / "notebooks" / f"{name}.ipynb"
        papermill.execute_notebook(str(path), str(path), cwd=str(path.parent), progress_bar=False)
        clean(path)
        print(f"refreshed {path}")


if __name__ == "__main__":
    main(sys.argv[1:] or NAMES)
