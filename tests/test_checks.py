"""Every registered check: the reference passes, every known mistake fails and is named."""

from __future__ import annotations

import pkgutil

import pytest

import course_lib.grading.checks
from course_lib.grading import (
    CheckFailure,
    check,
    evaluate,
    get_check,
    registered_checks,
)

REGISTRY = registered_checks()
CHECKS = sorted(REGISTRY)
MISTAKES = [(name, m.name) for name in CHECKS for m in REGISTRY[name].mistakes]


def test_every_assignment_module_is_mapped():
    modules = {info.name for info in pkgutil.iter_modules(course_lib.grading.checks.__path__)}
    assert set(course_lib.grading.checks.ASSIGNMENTS.values()) == modules


@pytest.mark.parametrize("name", CHECKS)
def test_reference_passes_its_own_cases(name):
    c = get_check(name)
    assert evaluate(c, c.reference, c.cases(False)) is None
    assert evaluate(c, c.reference, c.cases(True)) is None


@pytest.mark.parametrize("name", CHECKS)
def test_handing_in_the_reference_itself_earns_nothing(name):
    """The visible test refuses the reference (a library object, or the grader's own wrapper around one)."""
    c = get_check(name)
    with pytest.raises(CheckFailure, match="yourself; your answer uses"):
        check(name, c.reference)


@pytest.mark.parametrize("name", CHECKS)
def test_check_has_visible_and_hidden_cases_and_mistakes(name):
    c = get_check(name)
    visible, hidden = c.cases(False), c.cases(True)
    assert 1 <= len(visible) < len(hidden) + 1
    assert len(hidden) >= 2, "hidden tests should try several inputs"
    assert len(c.mistakes) >= 2, "each part should diagnose at least two known mistakes"


@pytest.mark.parametrize("name,mistake", MISTAKES)
def test_known_mistake_fails_and_is_named(name, mistake):
    c = get_check(name)
    m = c.mistake(mistake)
    message = evaluate(c, m.implementation, c.cases(True))
    assert message is not None, f"mistake {mistake!r} passes the hidden tests of {name}"
    assert m.message in message, f"{name}: mistake {mistake!r} is detected but diagnosed as something else:\n{message}"


def test_failure_message_says_expected_returned_and_mistake():
    with pytest.raises(CheckFailure) as err:
        check("risk.empirical_risk", lambda w, b, X, y: ((X @ w + b - y) ** 2).sum())
    text = str(err.value)
    assert "returned:" in text and "expected:" in text and "missing 1/n" in text


def test_an_exception_in_student_code_is_reported_not_raised():
    def broken(w, b, X, y):
        raise NotImplementedError()

    with pytest.raises(CheckFailure, match="raised NotImplementedError"):
        check("risk.empirical_risk", broken)


def test_unknown_check_name_is_a_clear_error():
    with pytest.raises(KeyError, match="no check called"):
        get_check("risk.no_such_part")
    with pytest.raises(KeyError, match="no checks for"):
        get_check("nosuchassignment.part")
