"""The rendered book as a student sees it, in headless Chromium.

`make test` builds the book first (`make book`); run alone, this module builds it
when `_build/html` is missing. Screenshots of every page are saved under
`_build/screenshots/` to look at.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from browser import browser, serve
from course_helpers import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


PAGES = toc_pages()
CHAPTERS = [p for p in PAGES if re.match(r"book/\d\d_", p)]


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").is_file():
        jb = Path(sys.executable).parent / "jupyter-book"
        subprocess.run([str(jb), "build", str(ROOT), "--warningiserror", "--keep-going"], check=True, timeout=1800)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve(HTML) as url, browser() as chromium:
        yield url, chromium


def open_page(site, page: str):
    url, chromium = site
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    problems: list[str] = []
    outside: list[str] = []
    tab.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    tab.on("request", lambda req: outside.append(req.url) if not req.url.startswith((url, "data:", "blob:", "about:")) else None)
    tab.goto(f"{url}/{page}.html", wait_until="networkidle")
    return context, tab, problems, outside


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_offline_without_errors_and_typesets_math(site, page):
    context, tab, problems, outside = open_page(site, page)
    try:
        has_math = tab.evaluate("document.querySelectorAll('.math, span.math, div.math').length") > 0
        if has_math:
            tab.wait_for_function("document.querySelectorAll('mjx-container').length > 0", timeout=20000)
        tab.screenshot(path=str(SHOTS / f"{Path(page).name}.png"), full_page=True)
        assert not problems, f"{page}: {problems}"
        assert not outside, f"{page} loads resources from outside the book: {outside[:5]}"
        prose = tab.evaluate(
            "Array.from(document.querySelectorAll('main p, main li, main h1, main h2, main h3'))"
            ".filter(e => !e.closest('pre, code, .cell_output, mjx-container')).map(e => e.innerText).join('\\n')"
        )
        assert "$$" not in prose and "\\frac" not in prose and "\\sum" not in prose, f"{page}: raw LaTeX left in the text"
        images = tab.evaluate("Array.from(document.images).map(i => [i.src, i.complete && i.naturalWidth > 0])")
        broken = [src for src, ok in images if not ok]
        assert not broken, f"{page}: images that did not load: {broken}"
        outputs = tab.evaluate("Array.from(document.querySelectorAll('.cell_output')).map(e => e.innerText).join('\\n')")
        for marker in ("Traceback (most recent call last)", "Warning:", "Error:"):
            assert marker not in outputs, f"{page}: a cell output shows {marker!r}"
        assert tab.locator(".output.stderr").count() == 0, f"{page}: a cell wrote to stderr"
    finally:
        context.close()


def test_table_of_contents_reaches_every_chapter(site):
    context, tab, _, _ = open_page(site, PAGES[0])
    try:
        links = tab.evaluate("Array.from(document.querySelectorAll('nav a')).map(a => a.getAttribute('href'))")
        for chapter in CHAPTERS:
            name = Path(chapter).name
            assert any(link and name in link for link in links), f"the navigation has no link to {name}"
    finally:
        context.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_search_finds_the_chapter(site, chapter):
    source = (ROOT / f"{chapter}.md").read_text()
    title = re.search(r"^# \d+\. (.+)$", source, flags=re.M).group(1)
    term = max(re.findall(r"[A-Za-z]{4,}", title), key=len).lower()
    url, _ = site
    context, tab, _, _ = open_page(site, "search")
    try:
        tab.goto(f"{url}/search.html?q={term}", wait_until="networkidle")
        tab.wait_for_selector("#search-results ul li, ul.search li", timeout=20000)
        hits = tab.evaluate("Array.from(document.querySelectorAll('#search-results a, ul.search a')).map(a => a.getAttribute('href'))")
        assert any(Path(chapter).name in (h or "") for h in hits), f"searching {term!r} does not find {chapter}: {hits[:10]}"
    finally:
        context.close()


INTERACTIVE_CHAPTERS = CHAPTERS  # every chapter ends with a trajectory player and a quiz


@pytest.mark.parametrize("chapter", INTERACTIVE_CHAPTERS)
def test_static_players_step_and_quizzes_answer_without_a_kernel(site, chapter):
    context, tab, problems, _ = open_page(site, chapter)
    try:
        sliders = tab.locator("input[type=range]")
        assert sliders.count() >= 1, f"{chapter} has no trajectory player"
        before = int(sliders.first.input_value())
        tab.locator("button[title='Next frame']").first.click()
        assert int(sliders.first.input_value()) == before + 1, "the player's 'next frame' button did not step"

        feedback_ids = tab.evaluate("Array.from(document.querySelectorAll('[id$=\"-feedback\"]')).map(e => e.id)")
        assert feedback_ids, f"{chapter} has no quiz"
        for feedback_id in feedback_ids:
            quiz_id = feedback_id[: -len("-feedback")]
            quiz = tab.locator(f"[id='{quiz_id}']")
            quiz.locator("input[type=radio]").first.click()
            text = tab.locator(f"[id='{feedback_id}']").inner_text()
            assert text.strip(), f"{quiz_id}: choosing an answer gave no feedback"
            details = quiz.locator("details").first
            details.locator("summary").click()
            assert details.evaluate("d => d.open"), f"{quiz_id}: the explanation did not open"
            assert len(details.inner_text()) > 40, f"{quiz_id}: the explanation is empty"
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.parametrize("term", ["epsilon", "decay"])
def test_search_summaries_show_the_word_found_and_formulas_as_text(site, term):
    url, _ = site
    context, tab, problems, _ = open_page(site, "search")
    try:
        tab.goto(f"{url}/search.html?q={term}", wait_until="networkidle")
        tab.wait_for_selector("ul.search li p.context", timeout=20000)
        tab.wait_for_function("document.querySelectorAll('ul.search li').length === "
                              "document.querySelectorAll('ul.search li p.context').length", timeout=20000)
        summaries = tab.evaluate("Array.from(document.querySelectorAll('ul.search li p.context')).map(p => p.innerText)")
        assert len(summaries) >= 3, summaries
        for summary in summaries:
            assert not re.search(r"\\[(\[)\]]|\\[A-Za-z]{2,}", summary), f"raw TeX in a search summary: {summary!r}"
            assert term in summary.lower(), f"the summary does not show {term!r}: {summary!r}"
        assert not problems, problems
    finally:
        context.close()


@pytest.mark.parametrize("width", [1200, 1280, 1440])
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_code_cells_do_not_scroll_sideways(site, chapter, width):
    url, chromium = site
    context = chromium.new_context(viewport={"width": width, "height": 900})
    tab = context.new_page()
    try:
        tab.goto(f"{url}/{chapter}.html", wait_until="networkidle")
        wide = tab.evaluate("Array.from(document.querySelectorAll('div.cell_input pre'))"
                            ".filter(p => p.scrollWidth > p.clientWidth + 1)"
                            ".map(p => p.innerText.split('\\n').reduce((a, b) => a.length > b.length ? a : b))")
        assert not wide, f"{chapter} at {width} px: code cells that scroll sideways, longest lines: {wide[:3]}"
    finally:
        context.close()
