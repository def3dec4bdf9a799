"""The exercises in JupyterLab 4, driven as a student would in headless Chromium.

JupyterLab runs on a loopback port with a token, on a copy of the course laid out
as `make lab` opens it: the student's own copies in `work/` (filled by `course
workspace`) and the student configuration of `lab/student` (no Formgrader, no Create
Assignment). For every released notebook: run all cells of the blank release (the
first visible test fails with the check's readable message, and nbgrader's Validate
button reports the failure), then of the same notebook with the solutions pasted in
(every visible test passes, the widgets render and respond, and Validate reports
success). Screenshots go to `_build/screenshots/`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import browser
from servers import free_port
from components import requires
from course_helpers import ROOT, assignments, copy_course, source_notebook
from submissions import fill_release, solution_sources

pytestmark = [pytest.mark.browser, pytest.mark.slow, requires("jupyterlab"), requires("chromium")]

SHOTS = ROOT / "_build" / "screenshots"
TOKEN = "course-test-token"
ASSIGNMENTS = assignments()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = copy_course(tmp_path_factory.mktemp("lab") / "course")
    subprocess.run([str(Path(sys.executable).parent / "course"), "workspace"], cwd=root, check=True, capture_output=True)
    for assignment in ASSIGNMENTS:
        release = root / "work" / assignment / source_notebook(assignment).name
        solved = fill_release(release, solution_sources(source_notebook(assignment)))
        nbformat.write(solved, release.with_name(f"{release.stem}_solved.ipynb"))
    port = free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    settings = tmp_path_factory.mktemp("lab-settings")
    # JupyterLab 4 renders only the cells in view; render them all, so prompts and outputs can be read.
    tracker = settings / "user" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    command = [
        str(jupyter), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root / 'work'}",
        f"--LabApp.workspaces_dir={settings / 'workspaces'}", f"--LabApp.user_settings_dir={settings / 'user'}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = open(settings / "server.log", "w")
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(ROOT / "lab" / "student")}
    server = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(settings / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        SHOTS.mkdir(parents=True, exist_ok=True)
        with browser() as chromium:
            yield url, chromium
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def open_and_run_all(lab, notebook: str):
    """Open a notebook, run all cells, wait until the kernel is done; returns the page."""
    url, chromium = lab
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    # A fresh workspace per notebook, so no tab from an earlier test stays open behind it.
    workspace = notebook.replace("/", "-").replace(".", "-")
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={TOKEN}", wait_until="networkidle")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60000)
    page.wait_for_selector("text=| Idle", timeout=60000)
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")
    page.wait_for_function(
        "document.querySelectorAll('.jp-InputPrompt').length > 0 && "
        "Array.from(document.querySelectorAll('.jp-InputPrompt')).some(p => /\\[\\d+\\]/.test(p.innerText)) && "
        "Array.from(document.querySelectorAll('.jp-InputPrompt')).every(p => !p.innerText.includes('*'))",
        timeout=300000,
    )
    page.wait_for_selector("text=| Idle", timeout=60000)
    return context, page


def outputs(page) -> list[str]:
    return page.evaluate(
        "Array.from(document.querySelectorAll('.jp-CodeCell')).map(c => "
        "{ const o = c.querySelector('.jp-OutputArea'); return o ? o.innerText : ''; })"
    )


def validate(page) -> str:
    page.click(".jp-Toolbar-item:has-text('Validate')")
    page.wait_for_selector(".jp-Dialog", timeout=300000)
    page.wait_for_function("!document.querySelector('.jp-Dialog').innerText.includes('Validating')", timeout=300000)
    text = page.inner_text(".jp-Dialog")
    page.keyboard.press("Escape")
    return text


def check_widgets_respond(page, source: str) -> None:
    """Nudge the explorer's first slider (its picture must change); answer a quiz (feedback must appear)."""
    sliders = page.locator(".widget-slider .noUi-handle")
    if "TrajectoryExplorer" in source:
        assert sliders.count() > 0, "the notebook builds a TrajectoryExplorer but no slider rendered"
        # The picture that belongs to the slider: the nearest enclosing widget box holding an image.
        picture = (
            "() => { let e = document.querySelector('.widget-slider .noUi-handle');"
            " while (e && !e.querySelector('.widget-image')) e = e.parentElement;"
            " return e ? e.querySelector('.widget-image').getAttribute('src') : null; }"
        )
        before = page.evaluate(picture)
        assert before, "the explorer's slider has no picture next to it"
        sliders.first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"before => ({picture})() !== before", arg=before, timeout=30000)
    quizzes = page.locator(".widget-radio-box")
    if "TrajectoryQuiz" in source:
        assert quizzes.count() > 0, "the notebook builds a TrajectoryQuiz but no choices rendered"
        quizzes.first.locator("input[type=radio]").first.check()
        page.locator("button.jupyter-button:has-text('Check')").first.click()
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.widget-html-content')).some(e => /correct|not this one/i.test(e.innerText))",
            timeout=30000,
        )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_fails_visibly_and_validate_says_so(lab, assignment):
    name = source_notebook(assignment).name
    context, page = open_and_run_all(lab, f"{assignment}/{name}")
    try:
        texts = [t for t in outputs(page) if t.strip()]
        page.screenshot(path=str(SHOTS / f"lab_{assignment}_blank.png"))
        assert texts, "running the blank release produced no output"
        failure = texts[-1]
        assert "CheckFailure" in failure and "raised NotImplementedError" in failure, failure[:800]
        assert "on case 1" in failure, "the message should say which input failed"
        result = validate(page)
        assert "failed" in result.lower() and "NotImplementedError" in result, result[:800]
    finally:
        context.close()


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
        result = validate(page)
        assert "Success" in result and "passes all the tests" in result, result[:800]
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
