"""Sphinx tweaks for the course book.

sphinx-thebe and sphinx-togglebutton register their inline configuration scripts
twice in a Jupyter Book build (once with filename ``None``, once with ``""``), so
every page redeclared a ``const`` and logged a JavaScript error. We keep one copy
of each script.
"""

from __future__ import annotations


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    unique = {}
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""
        attributes = tuple(sorted(getattr(script, "attributes", {}).items()))
        unique.setdefault((str(filename), attributes), script)
    # In place: later handlers (MathJax on pages with math) append to this same list.
    context["script_files"][:] = list(unique.values())


def setup(app):
    # Early: 'html-page-context' stops at the first handler that returns a template name.
    app.connect("html-page-context", _unique_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
