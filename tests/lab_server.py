"""A JupyterLab 4 for the browser tests, laid out as `make lab` opens it, and how a student drives it.

JupyterLab runs on a loopback port with a token, on a copy of the course: the student's
own copies in `work/` (filled by `course workspace`, plus each notebook with the solutions
pasted in as `<name>_solved.ipynb`) and the student configuration of `lab/student` (no
Formgrader, no Create Assignment). Each test module wraps :func:`lab_session` in a fixture
of its own, so the modules can run on different pytest-xdist workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
from browser import browser
from servers import jupyter_server
from course_helpers import ROOT, assignments, copy_course, source_notebook
from submissions import fill_release, solution_sources

SHOTS = ROOT / "_build" / "screenshots"
TOKEN = "course-test-token"
ASSIGNMENTS = assignments()
VALIDATED = ASSIGNMENTS[0]
"""The assignment whose notebooks also go through nbgrader's Validate button. Validate runs the
whole notebook again in a kernel of its own, and what it checks (the visible tests) every test
here already runs in the lab: one assignment shows that the button works and says so."""


def lab_session(tmp_path_factory):
    """Set up the course copy, start JupyterLab and Chromium; yields ``(url, chromium)``.
    Each test module wraps it in a module-scoped ``lab`` fixture of its own."""
    root = copy_course(tmp_path_factory.mktemp("lab") / "course")
    subprocess.run([str(Path(sys.executable).parent / "course"), "workspace"], cwd=root, check=True, capture_output=True)
    for assignment in ASSIGNMENTS:
        release = root / "work" / assignment / source_notebook(assignment).name
        solved = fill_release(release, solution_sources(source_notebook(assignment)))
        nbformat.write(solved, release.with_name(f"{release.stem}_solved.ipynb"))
    settings = tmp_path_factory.mktemp("lab-settings")
    # JupyterLab 4 renders only the cells in view; render them all, so prompts and outputs can be read.
    tracker = settings / "user" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text('{"windowingMode": "none"}')
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(ROOT / "lab" / "student")}
    with jupyter_server("lab", root / "work", TOKEN, settings / "server.log",
                        f"--LabApp.workspaces_dir={settings / 'workspaces'}",
                        f"--LabApp.user_settings_dir={settings / 'user'}", env=env, timeout=90) as url:
        SHOTS.mkdir(parents=True, exist_ok=True)
        with browser() as chromium:
            yield url, chromium


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
