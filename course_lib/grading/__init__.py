"""Grading: the checks behind every exercise, and the instructor's tools around nbgrader.

What a student's notebook uses is cheap to import (no nbgrader, no matplotlib)::

    from course_lib.grading import check
    check("risk.empirical_risk", empirical_risk)               # visible cases
    check("risk.empirical_risk", empirical_risk, hidden=True)  # the grade's cases

* :mod:`~course_lib.grading.registry`: :class:`Check` and :class:`Mistake`, and the
  registry that finds ``"risk.empirical_risk"`` in :mod:`course_lib.grading.checks.risk`.
* :mod:`~course_lib.grading.answers`: comparing answers with the reference and the
  failure message (:func:`compare_answers`, :func:`judge_answers`, :func:`evaluate`).
* :mod:`~course_lib.grading.student`: :func:`check`, what a test cell calls.
* :mod:`~course_lib.grading.checks`: the checks of each assignment.
* :mod:`~course_lib.grading.autograde`: the judge, the sandbox and the parallel run.
* :mod:`~course_lib.grading.course`: the course folder and nbgrader's API over it.
* :mod:`~course_lib.grading.commands`: what each ``course`` command does.
"""

from __future__ import annotations

from .answers import (
    Raised,
    attempt,
    compare_answers,
    evaluate,
    judge_answers,
    passed_message,
)
from .registry import Case, Check, Mistake, get_check, register, registered_checks
from .student import CheckFailure, check, set_reporter

__all__ = [
    "Case",
    "Check",
    "Mistake",
    "CheckFailure",
    "register",
    "get_check",
    "registered_checks",
    "check",
    "evaluate",
    "compare_answers",
    "Raised",
    "attempt",
    "judge_answers",
    "passed_message",
    "set_reporter",
]
