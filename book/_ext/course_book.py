"""Sphinx tweaks for the course book.

sphinx-thebe and sphinx-togglebutton register their inline configuration scripts
twice in a Jupyter Book build (once with filename ``None``, once with ``""``), so
every page redeclared a ``const`` and logged a JavaScript error. We keep one copy
of each script.

``book/_static`` adds two files to every page: ``course.css`` (code cells fit 88
characters) and ``search_math.js`` (search result summaries show formulas as text,
not as the TeX source that MathJax typesets on the page itself).
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "_static"


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    unique = {}
    for script in context.get("script_files", []):
        filename = getattr(script, "filename", script) or ""
        attributes = tuple(sorted(getattr(script, "attributes", {}).items()))
        unique.setdefault((str(filename), attributes), script)
    # In place: later handlers (MathJax on pages with math) append to this same list.
    context["script_files"][:] = list(unique.values())


def _add_static_path(app) -> None:
    app.config.html_static_path.append(str(STATIC))


def setup(app):
    app.connect("builder-inited", _add_static_path)
    app.add_css_file("course.css")
    # deferred: runs after searchtools.js, which the search page loads in its body
    app.add_js_file("search_math.js", loading_method="defer")
    # Early: 'html-page-context' stops at the first handler that returns a template name.
    app.connect("html-page-context", _unique_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
