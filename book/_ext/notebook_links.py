"""Sphinx extension: point a chapter's repository links at its source notebook.

The book is built from the executed copies in book/chapters/, which are not in the repository;
the theme's edit, source, Binder and Colab links would name those. This rewrites them to
notebooks/NAME.ipynb, the notebook a reader can open, run and edit. The .ipynb download keeps
the executed copy, with every cell and output.
"""

EXECUTED = "book/chapters/"
SOURCE = "notebooks/"


def _rewrite(buttons: list, old: str, new: str) -> None:
    for button in buttons:
        if str(button.get("url", "")).startswith("http"):
            button["url"] = button["url"].replace(old, new)
        _rewrite(button.get("buttons", []), old, new)


def point_at_source_notebook(app, pagename, templatename, context, doctree):
    if not pagename.startswith(EXECUTED):
        return
    name = pagename[len(EXECUTED):]
    _rewrite(context.get("header_buttons", []), f"{EXECUTED}{name}.ipynb", f"{SOURCE}{name}.ipynb")


def setup(app):
    # after sphinx-book-theme's own html-page-context handlers (priority 501) have built the buttons
    app.connect("html-page-context", point_at_source_notebook, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
