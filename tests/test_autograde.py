"""`course autograde` end to end: the same scores as stock nbgrader, feedback, and runs that resume.

The class (honest, blank, wrong, crashing students, and attackers, see tests/attacks) is
graded once by stock nbgrader (`course autograde --stock`) and once by ours; the attack
tests reuse both runs.
"""

from __future__ import annotations

import html
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from attacks import ASSIGNMENT, COURSE, EQUIVALENCE, FULL, answers, course, course_copy, scores, shared_class, submit
from course_lib.grading import get_check

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("student", EQUIVALENCE)
def test_scores_equal_stock_nbgrader(student):
    ours, stock = shared_class("ours").rows, shared_class("stock").rows
    assert float(ours[student]["score"]) == float(stock[student]["score"])
    assert ours[student]["needs_manual_grade"] == stock[student]["needs_manual_grade"]


def test_the_classes_scores_are_what_the_answers_deserve():
    got = shared_class("ours").scores
    assert got["z_victim"] == FULL  # honest: every autograded point (the written answer waits for a person)
    assert got["e_blank"] == 0
    assert got["e_mistake"] == FULL - 3  # part 3 wrong
    assert got["e_partly"] == FULL - 5  # parts 4 and 5 wrong
    assert got["e_crash"] == FULL - 2  # part 2 never defined
    assert got["e_own_cells"] == FULL  # the student's own helper cell ran where they put it


def test_summary_lists_everyone_and_where_the_time_went():
    graded = shared_class("ours")
    n = len(graded.scores)
    assert f"{n} graded, 0 failed" in graded.stdout
    assert "with 2 worker(s)" in graded.stdout and "sandbox start" in graded.stdout and "cells" in graded.stdout
    for student in graded.scores:
        assert student in graded.stdout


def test_feedback_shows_the_judges_verdicts(tmp_path):
    root = shared_class("ours").root
    course("feedback", root=root)
    mistaken = html.unescape((root / "feedback" / "e_mistake" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert "the residual has the wrong sign" in mistaken
    assert "ridge_gradient: 0 / 3 points" in mistaken and "ridge_gradient is not right on case 1" in mistaken
    assert "BEGIN HIDDEN TESTS" not in mistaken and "hidden=True" not in mistaken
    honest = html.unescape((root / "feedback" / "z_victim" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    hidden = len(get_check("risk.empirical_risk").cases(True))
    assert f"\N{CHECK MARK} empirical_risk: {hidden} hidden case(s) agree with the reference" in honest
    tampered = html.unescape((root / "feedback" / "a_tamper_tests" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text())
    assert "Notes from the autograder" in tampered and "'test_empirical_risk' was edited" in tampered


def test_autograded_notebook_holds_source_tests_and_judge_outputs():
    root = shared_class("ours").root
    nb = nbformat.read(root / "autograded" / "e_mistake" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    test = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_ridge_gradient")
    assert "hidden=True" in test.source
    assert [o["output_type"] for o in test.outputs] == ["error"] and test.outputs[0]["ename"] == "CheckFailure"


# ---- resumable -------------------------------------------------------------------------------------


def _class_of(root: Path, n: int, pause: float = 0.0) -> None:
    """n submissions, every other one with a known mistake; each spends ``pause`` seconds
    in an answer cell, so a run lasts long enough to be interrupted in the middle."""
    from submissions import mistake_source

    model = answers(root)
    for i in range(n):
        cells = dict(model)
        if pause:
            cells["empirical_risk"] = f"import time\ntime.sleep({pause})\n" + model["empirical_risk"]
        if i % 2:
            cells["ridge_gradient"] = mistake_source("risk.ridge_gradient", "sign", "ridge_gradient")
        submit(root, f"s{i:02d}", cells)


def _expected(i: int) -> float:
    return FULL - 3 if i % 2 else FULL


def _records(root: Path) -> int:
    db = root / "gradebook.db"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
            return con.execute("SELECT count(*) FROM course_autograde_runs").fetchone()[0]
    except sqlite3.Error:
        return 0


def _descendants(pid: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found.add(child)
                frontier.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([COURSE, "--root", str(root), "autograde", ASSIGNMENT, "--quiet", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_records(root: Path, process: subprocess.Popen, at_least: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while _records(root) < at_least:
        assert process.poll() is None, f"finished before it could be interrupted:\n{process.communicate()}"
        assert time.monotonic() < deadline, "no grade was saved in time"
        time.sleep(0.05)


def _interrupt(root: Path, how: str, at_least: int) -> int:
    """Start a run, stop it with ``how`` once ``at_least`` grades are saved; returns how many were saved."""
    process = _start(root, "--jobs", "1")
    _wait_for_records(root, process, at_least)
    family = _descendants(process.pid)
    process.send_signal(getattr(signal, how))
    out, err = process.communicate(timeout=120)
    if how == "SIGINT":
        assert process.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    else:
        assert process.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert family and not [pid for pid in family if _alive(pid)], "the sandboxes outlived the judge"
    saved = _records(root)
    with sqlite3.connect(root / "gradebook.db") as con:
        # every submission in the gradebook is complete: scored, and recorded as graded
        assert con.execute("SELECT count(*) FROM submitted_assignment").fetchone()[0] == saved
        assert con.execute("SELECT count(*) FROM grade WHERE auto_score IS NULL AND needs_manual_grade = 0").fetchone()[0] == 0
    return saved


def test_an_interrupted_run_resumes_without_losing_or_repeating_a_grade(tmp_path):
    """Ctrl-C, then a kill -9 of the rerun (a power cut), then a last run that finishes the class."""
    root = course_copy(tmp_path / "course")
    n = 7
    _class_of(root, n, pause=1.0)
    after_ctrl_c = _interrupt(root, "SIGINT", 2)
    assert 2 <= after_ctrl_c < n
    after_kill = _interrupt(root, "SIGKILL", after_ctrl_c + 1)
    assert after_ctrl_c < after_kill < n

    rerun = course("autograde", ASSIGNMENT, "--quiet", root=root)
    assert f"{n - after_kill} graded, 0 failed, {after_kill} unchanged since last graded" in rerun.stdout
    assert scores(root) == {f"s{i:02d}": _expected(i) for i in range(n)}
    with sqlite3.connect(root / "gradebook.db") as con:
        assert con.execute("SELECT count(*) FROM submitted_assignment").fetchone()[0] == n
        assert con.execute("SELECT count(*) FROM course_autograde_runs").fetchone()[0] == n


def test_a_rerun_grades_only_what_changed(tmp_path):
    root = course_copy(tmp_path / "course")
    _class_of(root, 3)
    first = course("autograde", ASSIGNMENT, "--quiet", root=root)
    # workers default to the cores (no more than there are submissions)
    assert f"with {min(len(os.sched_getaffinity(0)), 3)} worker(s)" in first.stdout
    again = course("autograde", ASSIGNMENT, "--quiet", root=root)
    assert "0 graded, 0 failed, 3 unchanged" in again.stdout
    # s01 fixes part 3; the source of the assignment stays the same
    submit(root, "s01", answers(root))
    changed = course("autograde", ASSIGNMENT, "--quiet", root=root)
    assert "1 graded, 0 failed, 2 unchanged" in changed.stdout and "s01" in changed.stdout
    # a changed source (here: the solutions notebook's bytes) regrades everyone
    source = root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(source, as_version=4)
    nb.metadata["edited"] = True
    nbformat.write(nb, source)
    after_edit = course("autograde", ASSIGNMENT, "--quiet", "--student", "s00", "--student", "s01", root=root)
    assert "2 graded, 0 failed" in after_edit.stdout
    assert scores(root) == {"s00": FULL, "s01": FULL, "s02": FULL}
