"""The book's sources, read as text: what a reader would otherwise have to scroll sideways for.

At its full width (a window of 1400 px or more) the text column of a page holds 88
characters of code (measured in Chromium: 744 px of a code cell's box for 8.43 px per
character of the 14 px monospace font); `book/_static/course.css` shrinks the font where the
column is narrower, so that 88 characters fit there too (tests/test_book.py checks that no
code cell scrolls sideways at 1200, 1280 and 1440 px). A longer line would scroll sideways.
"""

from __future__ import annotations

import re

import pytest

from course_helpers import ROOT

CODE_COLUMN = 88

PAGES = sorted((ROOT / "book").glob("*.md"))
FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")


def code_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of every line of code of a MyST page.

    ```{code-cell} and plain fences (```python, ```bash, ```) hold code; ```{note} and the
    other directives hold prose, which the browser wraps (and may hold code fences).
    """
    lines: list[tuple[int, str]] = []
    open_fences: list[tuple[str, bool]] = []  # (fence, holds code), innermost last
    for number, line in enumerate(text.splitlines(), start=1):
        if open_fences and open_fences[-1][1]:
            if line.strip() == open_fences[-1][0]:
                open_fences.pop()
            elif not line.startswith(":"):  # a code cell's options (:tags: ...) are not shown
                lines.append((number, line))
            continue
        match = FENCE.match(line)
        if match is None:
            continue
        fence, info = match.group(1), match.group(2).strip()
        if open_fences and not info and fence == open_fences[-1][0]:
            open_fences.pop()
        else:
            open_fences.append((fence, not info.startswith("{") or info.startswith("{code-cell}")))
    return lines


def test_code_lines_are_found_in_cells_and_plain_fences_but_not_in_directives():
    page = "\n".join([
        "```{code-cell} ipython3", ":tags: [hide-input]", "x = 1", "```",
        "````{note}", "prose " * 30, "```python", "y = 2", "```", "````",
        "```bash", "make book", "```",
        "text",
    ])
    assert code_lines(page) == [(3, "x = 1"), (8, "y = 2"), (12, "make book")]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_code_lines_fit_the_text_column(page):
    too_wide = [f"{page.relative_to(ROOT)}:{number}: {len(line)} characters"
                for number, line in code_lines(page.read_text()) if len(line) > CODE_COLUMN]
    assert not too_wide, (f"{len(too_wide)} code lines are wider than the text column "
                          f"({CODE_COLUMN} characters); wrap them:\n" + "\n".join(too_wide))
