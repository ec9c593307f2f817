"""Sphinx extension: the ``{execution-report}`` directive, a table of how each chapter was executed.

The book does not execute notebooks itself (``make notebooks`` runs them with papermill), so
Jupyter Book's own execution table would be empty; this one reads papermill's metadata from
the executed notebooks instead: run time, when it ended, whether it raised, and
the parameters it was given. The page is re-read whenever one of those notebooks changes.
"""
import json
from datetime import datetime
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


def _duration(seconds) -> str:
    if seconds is None:
        return "not recorded"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _ended(stamp) -> str:
    if not stamp:
        return "not recorded"
    return datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC")


def _parameters(values: dict) -> str:
    if not values:
        return "its quick defaults"
    return ", ".join(f"`{name}={json.dumps(value)}`" for name, value in values.items())


def _title(notebook: dict, fallback: str) -> str:
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


class ExecutionReport(SphinxDirective):
    """A table with one row per executed notebook under ``folder`` (default book/chapters), in TOC order."""

    optional_arguments = 1

    def run(self):
        folder = self.arguments[0] if self.arguments else "book/chapters"
        source_dir = Path(self.env.srcdir)
        order = list(getattr(self.config, "external_site_map", None) or [])
        docnames = [d for d in order if d.startswith(folder + "/")]
        docnames += sorted(str(p.relative_to(source_dir).with_suffix(""))
                           for p in (source_dir / folder).glob("*.ipynb")
                           if str(p.relative_to(source_dir).with_suffix("")) not in docnames)
        lines = ["| chapter | run time | finished | outcome |", "| --- | ---: | --- | --- |"]
        parameters = ["", "Parameters given to each chapter:", ""]
        total = 0.0
        for docname in docnames:
            path = source_dir / f"{docname}.ipynb"
            if not path.exists():
                continue
            self.env.note_dependency(str(path))
            notebook = json.loads(path.read_text(encoding="utf-8"))
            meta = notebook.get("metadata", {}).get("papermill", {})
            total += meta.get("duration") or 0.0
            outcome = "raised an error" if meta.get("exception") else "ran to the end"
            title = _title(notebook, Path(docname).name).replace("|", "\\|")
            lines.append(f"| {{doc}}`{title} </{docname}>` | {_duration(meta.get('duration'))} "
                         f"| {_ended(meta.get('end_time'))} | {outcome} |")
            parameters.append(f"- {{doc}}`{title} </{docname}>`: {_parameters(meta.get('parameters'))}")
        if len(lines) == 2:
            return [nodes.paragraph(text=f"No executed notebooks in {folder}/: run `make notebooks` first.")]
        lines.append(f"| **all chapters** | **{_duration(total)}** | | |")
        lines += parameters
        container = nodes.container(classes=["execution-report"])
        self.state.nested_parse(StringList(lines), self.content_offset, container)
        return [container]


def setup(app):
    app.add_directive("execution-report", ExecutionReport)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
