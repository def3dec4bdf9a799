"""Grading: the checks behind every exercise, and the instructor's tools around nbgrader.

Names load on first use: what a student's notebook uses imports torch but no nbgrader or
matplotlib, and the ``course`` command starts without either::

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
* :mod:`~course_lib.grading.results`: what grading recorded, read back part by part.
* :mod:`~course_lib.grading.feedback`, :mod:`~course_lib.grading.report`: the student's
  feedback pages and the instructor's class report (:mod:`~course_lib.grading.pages`:
  their offline HTML).
* :mod:`~course_lib.grading.lms`: Canvas and Moodle archives in, gradebook CSVs out.
* :mod:`~course_lib.grading.formgrader`: the Jupyter server extension that routes the
  Formgrader's actions through the course's commands.
* :mod:`~course_lib.grading.workspace`: the student's own copies, and validating a notebook.
* :mod:`~course_lib.grading.commands`: what each ``course`` command does.
"""

from __future__ import annotations

from typing import Any

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

_HOMES = {
    **dict.fromkeys(["Raised", "attempt", "compare_answers", "evaluate", "judge_answers", "passed_message"], "answers"),
    **dict.fromkeys(["Case", "Check", "Mistake", "get_check", "register", "registered_checks"], "registry"),
    **dict.fromkeys(["CheckFailure", "check", "set_reporter"], "student"),
}


def __getattr__(name: str) -> Any:
    # Lazy, so that the `course` command answers bad input without importing torch first.
    if name in _HOMES:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
