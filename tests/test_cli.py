"""`course autograde`'s options and errors: one clear line, exit status 2, no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from attacks import ASSIGNMENT, COURSE, FULL, answers, course_copy, scores, submit

pytestmark = pytest.mark.slow


def run(*args: str, root: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([COURSE, "--root", str(root), *args], capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def small_course(tmp_path_factory):
    root = course_copy(tmp_path_factory.mktemp("cli") / "course")
    submit(root, "honest", answers(root))
    submit(root, "blank", {})
    return root


def _one_line_error(result: subprocess.CompletedProcess, words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_help_lists_the_options(small_course):
    result = run("autograde", "--help", root=small_course)
    for option in ("--jobs", "--student", "--quiet", "--stock", "--force", "--sandbox", "--cell-timeout", "--notebook-timeout", "--memory-mb"):
        assert option in result.stdout


def test_bad_jobs(small_course):
    _one_line_error(run("autograde", ASSIGNMENT, "--jobs", "0", root=small_course), "--jobs must be at least 1")


def test_no_such_student(small_course):
    _one_line_error(run("autograde", ASSIGNMENT, "--student", "nobody", root=small_course), "nothing to grade")


def _without_bwrap() -> dict:
    """An environment whose PATH has everything the course needs but bubblewrap."""
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"course-no-bwrap-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    for name in ("python3", "sh", "env"):
        target = shutil.which(name)
        if target and not (folder / name).exists():
            (folder / name).symlink_to(target)
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{folder}"}


def test_sandbox_bwrap_without_bubblewrap_is_one_clear_line(small_course):
    _one_line_error(run("autograde", ASSIGNMENT, "--sandbox", "bwrap", root=small_course, env=_without_bwrap()),
                    "bubblewrap (bwrap) is not installed")


def test_without_bubblewrap_grading_needs_an_explicit_choice_and_says_what_it_costs(tmp_path):
    root = course_copy(tmp_path / "course")
    submit(root, "honest", answers(root))
    submit(root, "blank", {})
    refused = run("autograde", ASSIGNMENT, "--quiet", root=root, env=_without_bwrap())
    _one_line_error(refused, "bubblewrap (bwrap) is not installed")
    assert "--sandbox none" in refused.stderr
    result = run("autograde", ASSIGNMENT, "--quiet", "--jobs", "2", "--sandbox", "none", root=root, env=_without_bwrap())
    assert result.returncode == 0, result.stderr
    assert "without a sandbox" in result.stderr and "sandbox: none" in result.stdout
    assert "still decides every point" not in result.stderr
    assert scores(root) == {"honest": FULL, "blank": 0.0}


def test_a_test_cell_the_judge_cannot_read_is_refused(tmp_path):
    root = course_copy(tmp_path / "course")
    submit(root, "honest", answers(root))
    source = root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(source, as_version=4)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_ridge_risk")
    test.source = "assert ridge_risk is not None"
    nbformat.write(nb, source)
    _one_line_error(run("autograde", ASSIGNMENT, root=root), "'test_ridge_risk': test cell calls no check(...)")
