"""The exercises in JupyterLab 4, driven as a student would in headless Chromium: blank releases.

For every released notebook, run all cells of the blank release: the first visible test
fails with the check's readable message (and, for one assignment, nbgrader's Validate button
reports the failure). The student's lab has no instructor tools. Solved notebooks:
tests/test_lab_solved.py. Screenshots go to `_build/screenshots/`.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from components import requires
from course_helpers import source_notebook
from lab_server import ASSIGNMENTS, SHOTS, TOKEN, VALIDATED, lab_session, open_and_run_all, outputs, validate

pytestmark = [pytest.mark.browser, pytest.mark.slow, requires("jupyterlab"), requires("chromium")]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    yield from lab_session(tmp_path_factory)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_fails_visibly_with_the_checks_message(lab, assignment):
    name = source_notebook(assignment).name
    context, page = open_and_run_all(lab, f"{assignment}/{name}")
    try:
        texts = [t for t in outputs(page) if t.strip()]
        page.screenshot(path=str(SHOTS / f"lab_{assignment}_blank.png"))
        assert texts, "running the blank release produced no output"
        failure = texts[-1]
        assert "CheckFailure" in failure and "raised NotImplementedError" in failure, failure[:800]
        assert "on case 1" in failure, "the message should say which input failed"
        if assignment == VALIDATED:
            result = validate(page)
            assert "failed" in result.lower() and "NotImplementedError" in result, result[:800]
    finally:
        context.close()



def test_the_student_lab_has_no_instructor_tools(lab):
    url, chromium = lab
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{url}/formgrader/manage_assignments?token={TOKEN}", timeout=30)
    assert missing.value.code == 404
    context, page = open_and_run_all(lab, f"{ASSIGNMENTS[0]}/{source_notebook(ASSIGNMENTS[0]).name}")
    try:
        menus = page.evaluate("Array.from(document.querySelectorAll('.lm-MenuBar-item')).map(e => e.innerText)")
        assert menus and not any("nbgrader" in m.lower() or "formgrader" in m.lower() for m in menus), menus
        disabled = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).disabledExtensions")
        assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(disabled), disabled
        assert page.evaluate("document.querySelectorAll('[data-id*=\"create-assignment\" i], [title*=\"create assignment\" i]').length") == 0
        assert page.locator(".jp-Toolbar-item:has-text('Validate')").count() >= 1  # students keep Validate
    finally:
        context.close()
