"""Sphinx extension: give each page every <script> once.

Under Sphinx 7.4, sphinx-thebe 0.3.1's inline configuration script (``const THEBE_JS_URL = ...``)
reaches every page twice, and declaring the same ``const`` twice is a SyntaxError in the browser
(tests/browser caught it); so does sphinx-togglebutton's. A script whose file and attributes (its
inline body among them) repeat an earlier one is dropped, whatever its priority.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # an inline script's filename is None once and "" the other time
        key = repr((getattr(script, "filename", script) or "", sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
