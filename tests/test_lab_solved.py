"""The exercises in JupyterLab 4, driven as a student would in headless Chromium: solved notebooks.

For every released notebook with the solutions pasted in, run all cells: every visible
test passes, the widgets render and respond (the explorer's picture changes when its slider
moves, the quiz answers), and, for one assignment, nbgrader's Validate button reports
success. Blank releases: tests/test_lab.py. Screenshots go to `_build/screenshots/`.
"""

from __future__ import annotations

import pytest
from components import requires
from course_helpers import source_notebook
from lab_server import ASSIGNMENTS, SHOTS, VALIDATED, check_widgets_respond, lab_session, open_and_run_all, outputs, validate

pytestmark = [pytest.mark.browser, pytest.mark.slow, requires("jupyterlab"), requires("chromium")]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from lab_session(tmp_path_factory)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solved_notebook_passes_and_widgets_respond(lab, assignment):
    stem = source_notebook(assignment).stem
    context, page = open_and_run_all(lab, f"{assignment}/{stem}_solved.ipynb")
    try:
        texts = outputs(page)
        joined = "\n".join(texts)
        assert "Traceback" not in joined and "Error" not in joined, joined[:1500]
        assert joined.count("agree with the reference") >= 4, "every visible test should report success"
        assert "Error displaying widget" not in page.inner_text(".jp-Notebook")
        check_widgets_respond(page, source_notebook(assignment).read_text())
        page.screenshot(path=str(SHOTS / f"lab_{assignment}_solved.png"), full_page=False)
        if assignment == VALIDATED:
            result = validate(page)
            assert "Success" in result and "passes all the tests" in result, result[:800]
    finally:
        context.close()
