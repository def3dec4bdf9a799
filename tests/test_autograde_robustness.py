"""Submissions that crash, hang, flood or fork: each gets a grade and a reason, and nobody else is hurt."""

from __future__ import annotations

import os

import pytest

from attacks import ASSIGNMENT, FULL, LEFTOVER_MARK, POINTS, course, requires_bwrap, robustness_class

pytestmark = pytest.mark.slow

# part points: empirical_risk 2, ridge_risk 2, ridge_gradient 3, standardize 2, gradient_descent 3, ...
LATER = sum(list(POINTS.values())[3:])
"""The points of part 4 (standardize) and every part after it."""
AWAITING = ", ".join(test_id.removeprefix("test_") for test_id in list(POINTS)[3:])
EXPECTED = [
    # student, score, words of the reason in the summary
    ("r_exit", 4.0, "process ended while running cell 'ridge_gradient' (exit status 3)"),
    ("r_segfault", 4.0, "(killed by SIGSEGV)"),
    ("r_loop", FULL - 2, "cell 'ridge_risk' timed out after 3 s"),
    ("r_loop_no_interrupt", 2.0, "did not stop when interrupted"),
    ("r_huge_output", FULL, "printed more than the limit"),
    ("r_memory", FULL, None),
    # these reach the disk and the processes through open, os and subprocess in part 4's answer cell,
    # code the judge cannot follow: part 4 and every later part go to a person; the run itself is unharmed
    ("r_disk", FULL - LATER, f"{AWAITING}: awaiting grading"),
    ("r_leftovers", FULL - LATER, f"{AWAITING}: awaiting grading"),
    ("r_kill_parent", FULL - LATER, f"{AWAITING}: awaiting grading"),
    ("r_slow", None, "the notebook ran past its limit of 13 s"),
    ("r_not_json", 0.0, "01_risk.ipynb is not a valid notebook (not JSON"),
    ("r_bad_notebook", 0.0, "01_risk.ipynb is not a valid notebook"),
    ("r_png", 0.0, "01_risk.ipynb is not a valid notebook"),
    ("r_missing", 0.0, "01_risk.ipynb is missing from the submission"),
    ("z_honest", FULL, None),
]


def _line(stdout: str, student: str) -> str:
    return next(ln for ln in stdout.splitlines() if ln.startswith(student + " "))


BWRAP_ONLY = {"r_kill_parent"}
"""Without a PID namespace (no bubblewrap) a submission can kill the zygote: graded, but not fully."""


@pytest.mark.parametrize("student,score,reason", [
    pytest.param(*row, id=row[0], marks=[requires_bwrap] if row[0] in BWRAP_ONLY else []) for row in EXPECTED
])
def test_every_submission_gets_a_grade_and_a_reason(student, score, reason):
    graded = robustness_class()
    line = _line(graded.stdout, student)
    if score is not None:
        assert graded.scores[student] == score, line
    else:
        assert graded.scores[student] < FULL, line
    if reason is None:
        assert line.rstrip().endswith("graded"), line
    else:
        assert reason in line


def test_everyone_is_graded_and_nothing_failed():
    graded = robustness_class()
    assert f"{len(EXPECTED)} graded, 0 failed" in graded.stdout


def test_no_process_outlives_its_submission():
    robustness_class()
    survivors = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if LEFTOVER_MARK.encode() in fh.read():
                        survivors.append(int(entry))
            except OSError:
                continue
    assert survivors == []


def test_feedback_says_why(tmp_path):
    root = robustness_class().root
    course("feedback", root=root)
    text = (root / "feedback" / "r_not_json" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "is not a valid notebook" in text
    text = (root / "feedback" / "r_exit" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "never reported back" in text and "exit status 3" in text
