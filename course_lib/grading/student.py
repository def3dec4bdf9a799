r"""What a test cell of an assignment calls: :func:`check`, and the failure it raises.

In JupyterLab :func:`check` judges the student's object right there and raises
:class:`CheckFailure` with a readable message, also when the answer uses what its part
forbids (see :mod:`course_lib.grading.delegation`), as the autograder's judge would find. Inside the autograder's sandbox it judges
nothing: it hands the student's answers to a reporter that sends them, as data, to the
judge (see :mod:`course_lib.grading.autograde`).
"""

from __future__ import annotations

from typing import Any, Callable

from course_lib.grading.answers import attempt, evaluate, passed_message
from course_lib.grading.registry import get_check

__all__ = ["CheckFailure", "set_reporter", "check"]


class CheckFailure(AssertionError):
    """A student's answer differs from the reference; the message says how."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback through the grading code,
        # which would bury the message a student needs under frames they never wrote.
        return [f"CheckFailure: {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


# Set only inside the autograder's sandbox (see course_lib.grading.autograde): there, check() does
# not judge; it hands the student's answers to the reporter, which sends them as data to
# the judge, a process the student's code cannot reach.
_reporter: Callable[[str, bool, list[Any]], None] | None = None


def set_reporter(reporter: Callable[[str, bool, list[Any]], None] | None) -> None:
    """Switch :func:`check` to judge mode (the autograder's sandbox) or back (``None``)."""
    global _reporter
    _reporter = reporter


def check(name: str, obj: Any, *, hidden: bool = False) -> None:
    """Check a student's solution against the course's reference.

    Args:
        name: the registered check, ``"<assignment>.<part>"``.
        obj: the student's function or class.
        hidden: use the grading cases (more, larger, edge cases) instead of the
            few visible ones.

    Raises:
        CheckFailure: with a message saying what was expected, what came back,
            and which common mistake the answer looks like.
    """
    check_ = get_check(name)
    cases = check_.cases(hidden)
    if _reporter is not None:
        _reporter(name, hidden, [attempt(check_, obj, case) for case in cases])
        return
    from course_lib.grading.delegation import forbidden_for, inspect_answer

    forbidden = forbidden_for(check_)
    verdict = inspect_answer(obj, forbidden)
    if verdict.reached:
        # the autograder's judge reads the submitted code and awards nothing for this part
        raise CheckFailure(verdict.message(forbidden.part, forbidden))
    message = evaluate(check_, obj, cases)
    if message is not None:
        raise CheckFailure(message)
    print(passed_message(name, len(cases), hidden))
    if verdict.undecided:
        print(f"Note: {verdict.message(forbidden.part, forbidden)}")
