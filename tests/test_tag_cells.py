"""scripts/tag_notebook_cells.py: tags by cell content, idempotent, touching nothing but tags."""
import importlib.util
import json

import nbformat
import pytest

from lth import paths

_spec = importlib.util.spec_from_file_location("tag_notebook_cells",
                                               paths.REPO_ROOT / "scripts" / "tag_notebook_cells.py")
tagger = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tagger)

CELLS = {  # name: (source, tags before, tags wanted)
    "parameters": ("TRIALS = 1\nEPOCHS = 2", ["parameters"], ["parameters", "remove-cell"]),
    "injected": ("TRIALS = 10\n", ["injected-parameters"], ["injected-parameters", "remove-cell"]),
    "imports": ("import pandas as pd\nfrom myst_nb import glue\n", [], ["remove-cell"]),
    "glue": ('glue("a", 1, display=False)\nglue("b", f"{x:.2%}", display=False)', None, ["remove-cell"]),
    "setup": ("import pandas as pd\n\nP = check_parameters(globals(), {})\nglue('n', 3)", [], ["hide-input"]),
    "late import": ("from lth.seed import screen\n\nrows = screen.stored()\nrows", [], []),
    "plot": ("fig, ax = plt.subplots()\nglue('fig', fig, display=False)", ["remove-output"], ["remove-output"]),
    "stale": ("frame = load()\nframe", ["remove-cell", "hide-input"], []),
    "magic": ("%matplotlib inline\nimport numpy", [], []),
    "empty": ("", [], []),
}


@pytest.fixture
def notebook_file(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("# A chapter\nimport this is prose", metadata={"tags": []}))
    for name, (source, tags, _) in CELLS.items():
        metadata = {"name": name} if tags is None else {"name": name, "tags": tags}
        cell = nbformat.v4.new_code_cell(source, metadata=metadata)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"output of {name}\n")]
        nb.cells.append(cell)
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    return path


def test_cells_are_tagged_by_their_content(notebook_file):
    tagger.tag_file(notebook_file)
    cells = json.loads(notebook_file.read_text())["cells"]
    assert cells[0]["metadata"]["tags"] == []  # markdown is never tagged
    for cell in cells[1:]:
        name = cell["metadata"]["name"]
        assert cell["metadata"].get("tags", []) == CELLS[name][2], name


def test_only_tags_change_and_a_second_run_changes_nothing(notebook_file):
    before = json.loads(notebook_file.read_text())
    assert tagger.tag_file(notebook_file) == 6
    after_first = notebook_file.read_text()
    after = json.loads(after_first)
    for old, new in zip(before["cells"], after["cells"]):
        old["metadata"].pop("tags", None)
        new["metadata"].pop("tags", None)
    assert after == before  # sources, outputs, ids and other metadata untouched
    assert tagger.tag_file(notebook_file) == 0
    assert notebook_file.read_text() == after_first


def test_untouched_notebook_is_not_rewritten(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    path = tmp_path / "plain.ipynb"
    path.write_text(json.dumps(nb))  # not nbformat's layout: a rewrite would show
    text = path.read_text()
    assert tagger.tag_file(path) == 0
    assert path.read_text() == text


def test_cli_needs_a_notebook(capsys):
    assert tagger.main([]) == 2
    assert "tag_notebook_cells.py" in capsys.readouterr().err
