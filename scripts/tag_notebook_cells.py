"""Tag the code cells a reader of the book does not need, so Jupyter Book hides or removes them.

    .venv/bin/python scripts/tag_notebook_cells.py NOTEBOOK.ipynb ...

Only cell metadata tags change; sources and outputs stay, so the downloadable notebooks keep
every cell. The tags follow from each code cell's content alone:

* ``remove-cell``: the ``parameters`` cell and papermill's ``injected-parameters`` cell (the
  book's execution report lists each chapter's parameters), a cell whose statements are all
  imports, and a cell whose statements are all ``glue(...)`` calls (glued values still reach
  the prose: myst-nb reads them from the whole notebook);
* ``hide-input``: the chapter's set-up, a cell that starts with imports and checks the parameters
  (calls ``check_parameters``): its code sits behind a "Show code" toggle, its outputs stay.
  A cell of the chapter's argument that merely starts with an import is left as it is.

The script owns those two tags on code cells: it adds them where the content calls for them
and drops them where it no longer does, so running it again changes nothing, and a cell that
grows real code is shown again. Other tags (``remove-output``, ``hide-cell``...) are left alone.
It rewrites a notebook only when a tag changes, in nbformat's own layout (indent 1, sorted keys).
"""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

MANAGED = ("remove-cell", "hide-input")
PARAMETER_TAGS = {"parameters", "injected-parameters"}


def _statements(source: str) -> list[ast.stmt] | None:
    """The cell's top-level statements, or None when it is not plain Python (magics, syntax errors)."""
    try:
        return ast.parse(source).body
    except SyntaxError:
        return None


def _is_import(statement: ast.stmt) -> bool:
    return isinstance(statement, (ast.Import, ast.ImportFrom))


def _is_glue_call(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Name) and statement.value.func.id == "glue")


def _calls(statements: list[ast.stmt], name: str) -> bool:
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
               for statement in statements for node in ast.walk(statement))


def wanted_tag(cell: dict) -> str | None:
    """The managed tag ``cell`` should carry (one of :data:`MANAGED`), or None."""
    if cell.get("cell_type") != "code":
        return None
    if PARAMETER_TAGS & set(cell.get("metadata", {}).get("tags", [])):
        return "remove-cell"
    source = "".join(cell.get("source", ""))
    statements = _statements(source)
    if not statements:
        return None
    if all(_is_import(s) for s in statements) or all(_is_glue_call(s) for s in statements):
        return "remove-cell"
    if _is_import(statements[0]) and _calls(statements, "check_parameters"):
        return "hide-input"
    return None


def tag_cells(notebook: dict) -> int:
    """Set the managed tags of every cell of ``notebook`` in place; return how many cells changed."""
    changed = 0
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tags = list(cell.get("metadata", {}).get("tags", []))
        wanted = wanted_tag(cell)
        new = [t for t in tags if t not in MANAGED or t == wanted]
        if wanted and wanted not in new:
            new.append(wanted)
        if new != tags:
            cell.setdefault("metadata", {})["tags"] = new
            changed += 1
    return changed


def tag_file(path: Path) -> int:
    """Tag the notebook at ``path``; rewrite it only if a tag changed. Returns the cells changed."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    changed = tag_cells(notebook)
    if changed:
        path.write_text(json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return changed


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    for name in paths:
        changed = tag_file(Path(name))
        if changed:
            print(f"{name}: tags changed on {changed} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
