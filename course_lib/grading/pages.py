"""Self-contained HTML pages for students and instructors: feedback and the class report.

A page is one file that needs nothing else: its style is inline, its pictures are
``data:`` URIs or files next to it, and its formulas are typeset by the MathJax copy that
the book uses (``sphinx-mathjax-offline``), inlined into the page, so they render offline,
in a browser that opens a downloaded file, with no request leaving the page. Nothing a
student wrote becomes markup: markdown is rendered with raw HTML escaped and images that
would load from elsewhere dropped; code and outputs are escaped text.
"""

from __future__ import annotations

import functools
import html
import re
from typing import Any

__all__ = ["page", "markdown", "code", "text_block", "escape", "strip_ansi", "strip_hidden_tests", "mathjax_source"]

escape = functools.partial(html.escape, quote=True)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

CSS = """
:root { --ok: #1b5e20; --lost: #b00020; --wait: #8a4b00; --line: #d0d7de; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0; }
.page { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1.25rem 4rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; } h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; }
.sub { color: #59636e; margin: 0 0 1rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: var(--soft); } td.num, th.num { text-align: right; white-space: nowrap; }
.ok { color: var(--ok); } .lost { color: var(--lost); } .wait { color: var(--wait); }
.cell { margin: 1rem 0; } .cell.markdown { padding: 0 .2rem; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: .6rem .8rem;
      overflow-x: auto; margin: .3rem 0; font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
      white-space: pre-wrap; word-break: break-word; }
pre.output { background: #fff; } pre.error { background: #fff5f5; border-color: #f3b4bb; }
.prompt { font: 12px ui-monospace, monospace; color: #59636e; }
.verdict { border-left: 4px solid var(--line); background: var(--soft); padding: .5rem .8rem; margin: .4rem 0 1rem; }
.verdict.ok { border-color: var(--ok); } .verdict.lost { border-color: var(--lost); } .verdict.wait { border-color: var(--wait); }
.verdict .head { font-weight: 600; } .verdict pre { background: #fff; }
.answer { border: 1px dashed var(--line); padding: .2rem .8rem; border-radius: 4px; }
.notes { background: #fff8e1; border: 1px solid #f0d78c; border-radius: 4px; padding: .5rem 1rem; }
img { max-width: 100%; } figure { margin: 1rem 0; } figcaption { color: #59636e; font-size: .9rem; }
.math { overflow-x: auto; }
"""

MATHJAX_CONFIG = """
window.MathJax = {
  tex: {inlineMath: [['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']]},
  svg: {fontCache: 'global'},
  options: {processHtmlClass: 'math', ignoreHtmlClass: 'page', enableMenu: false},
  loader: {load: []}
};
"""


@functools.lru_cache(maxsize=1)
def mathjax_source() -> str:
    """The text of MathJax's ``tex-svg-full.js`` (every TeX extension built in, fonts inside: it
    loads nothing else), from the copy ``sphinx-mathjax-offline`` ships for the book."""
    import importlib.metadata

    from course_lib.grading.errors import CourseError

    try:
        path = importlib.metadata.distribution("sphinx-mathjax-offline").locate_file(
            "sphinx-mathjax-offline/static/mathjax/tex-svg-full.js")
        text = path.read_text(encoding="utf-8")
    except (importlib.metadata.PackageNotFoundError, OSError) as err:
        raise CourseError(f"MathJax for offline pages is missing ({err}); pip install sphinx-mathjax-offline") from None
    # the script is inlined: a closing tag in it would end the <script> element early
    return text.replace("</script", "<\\/script")


def page(title: str, body: str, *, math: bool = False) -> str:
    """A whole HTML document around ``body`` (already HTML)."""
    scripts = ""
    if math:
        scripts = f"<script>{MATHJAX_CONFIG}</script>\n<script>{mathjax_source()}</script>\n"
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data: 'self' file:; "
            f"style-src 'unsafe-inline'; script-src 'unsafe-inline'; font-src data:\">\n"
            f"<link rel=\"icon\" href=\"data:,\">\n<title>{escape(title)}</title>\n<style>{CSS}{_pygments_css()}</style>\n{scripts}</head>\n"
            f"<body><div class=\"page\">\n{body}\n</div></body>\n</html>\n")


@functools.lru_cache(maxsize=1)
def _markdown_renderer() -> Any:
    import mistune

    class Renderer(mistune.HTMLRenderer):
        def image(self, text: str, url: str, title: str | None = None) -> str:
            # a picture from elsewhere would be a request leaving the page
            if url.startswith("data:image/png;base64,") or url.startswith("data:image/jpeg;base64,"):
                return f'<img src="{escape(url)}" alt="{escape(text)}">'
            return f"<em>[image: {escape(text)}]</em>"

    return mistune.create_markdown(renderer=Renderer(escape=True), plugins=["math", "table", "strikethrough"])


def markdown(text: str) -> str:
    """Markdown to HTML: raw HTML escaped, ``$...$`` and ``$$...$$`` kept for MathJax."""
    return str(_markdown_renderer()(text))


@functools.lru_cache(maxsize=1)
def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    return str(HtmlFormatter(style="default").get_style_defs(".hl"))


def code(source: str) -> str:
    """Python source, highlighted."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    return str(highlight(source, PythonLexer(), HtmlFormatter(cssclass="hl", wrapcode=True)))


def text_block(text: str, kind: str = "output") -> str:
    """Plain text (an output, a message) as an escaped ``<pre>``."""
    return f'<pre class="{kind}">{escape(strip_ansi(text))}</pre>'


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def strip_hidden_tests(source: str) -> str:
    """``source`` without nbgrader's hidden tests (the lines from ``BEGIN HIDDEN TESTS`` to ``END HIDDEN TESTS``)."""
    kept, hidden = [], False
    for line in source.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept).rstrip()
