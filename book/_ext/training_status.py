"""Sphinx extension: the ``{training-status}`` directive, how much training the book rests on.

It renders :func:`lth.training_status.markdown` at build time (the machine time of the stored runs
per chapter; per sweep at its issue's scale, runs stored and the time still to train), so the page
says what the results store holds when the book is built, not what someone once typed. Pages that
use it are re-read on every build, since the store changes without any page changing.
"""
from docutils.statemachine import StringList
from docutils import nodes
from sphinx.util.docutils import SphinxDirective


class TrainingStatus(SphinxDirective):
    def run(self):
        from lth import training_status

        _pages(self.env).add(self.env.docname)
        container = nodes.container(classes=["training-status"])
        self.state.nested_parse(StringList(training_status.markdown().splitlines()), self.content_offset, container)
        return [container]


def _pages(env) -> set:
    """The documents that use the directive, kept in the build environment between builds."""
    if not hasattr(env, "training_status_pages"):
        env.training_status_pages = set()
    return env.training_status_pages


def _always_outdated(app, env, added, changed, removed):
    return sorted(_pages(env))


def _purge(app, env, docname):
    _pages(env).discard(docname)


def _merge(app, env, docnames, other):
    _pages(env).update(_pages(other) & set(docnames))


def setup(app):
    app.add_directive("training-status", TrainingStatus)
    app.connect("env-get-outdated", _always_outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
