"""nbgrader's Formgrader on the course: its autograde and feedback actions run the course's judge.

A Jupyter server runs on a loopback port in a copy of the course with the environment's
configuration (the one an instructor gets from `make formgrader`); the test calls the
Formgrader's own endpoints as its buttons do.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from attacks import ASSIGNMENT, answers, course_copy, submit
from servers import jupyter_server
from components import requires
from course_helpers import graded_parts

pytestmark = [pytest.mark.slow, requires("jupyterlab")]
TOKEN = "formgrader-test-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    enabled = Path(sys.prefix) / "etc" / "jupyter" / "jupyter_server_config.d" / "course_lib.json"
    assert enabled.is_file(), f"{enabled} is missing: `make setup` enables the course's Formgrader actions"
    root = course_copy(tmp_path_factory.mktemp("formgrader") / "course")
    submit(root, "honest", answers(root))
    with jupyter_server("server", root, TOKEN, root.parent / "server.log") as url:
        yield url, root


def _call(url: str, path: str, method: str = "GET") -> str:
    request = urllib.request.Request(f"{url}{path}", method=method, headers={"Authorization": f"token {TOKEN}"},
                                     data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=900) as response:
        return response.read().decode()


def test_no_exchange_warning(server):
    url, _ = server
    page = _call(url, "/formgrader/manage_assignments")
    assert "Manage Assignments" in page and "warning-exchange" not in page


def test_autograde_button_runs_the_judge_and_feedback_button_the_courses_feedback(server):
    url, root = server
    answer = json.loads(_call(url, f"/formgrader/api/submission/{ASSIGNMENT}/honest/autograde", "POST"))
    assert answer["success"], answer
    assert "1 graded, 0 failed" in answer["log"] and "sandbox:" in answer["log"]
    with sqlite3.connect(root / "gradebook.db") as db:  # written by the judge, which records what it graded
        assert db.execute("SELECT count(*) FROM course_autograde_runs WHERE student_id = 'honest'").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM course_autograde_cells WHERE student_id = 'honest' AND verdict IS NOT NULL"
                          ).fetchone()[0] == len(graded_parts(ASSIGNMENT))
    answer = json.loads(_call(url, f"/formgrader/api/assignment/{ASSIGNMENT}/honest/generate_feedback", "POST"))
    assert answer["success"], answer
    page = (root / "feedback" / "honest" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "awaiting grading" in page and "BEGIN HIDDEN TESTS" not in page
