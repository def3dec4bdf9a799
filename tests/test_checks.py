"""Every registered check: the reference passes, every known mistake fails and is named."""

from __future__ import annotations

import pkgutil

import pytest
import torch

import course_lib.grading.checks
from course_lib.grading import (
    CheckFailure,
    Raised,
    attempt,
    check,
    compare_answers,
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
def test_reference_passes_its_own_check(name, capsys):
    c = get_check(name)
    check(name, c.reference)
    check(name, c.reference, hidden=True)
    assert "agree with the reference" in capsys.readouterr().out


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


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one thread is much faster than several on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _agrees(c, obj, cases, expected) -> bool:
    for case, want in zip(cases, expected):
        got = attempt(c, obj, case)
        if isinstance(got, Raised) or compare_answers(got, want, atol=c.atol, rtol=c.rtol) is not None:
            return False
    return True


@pytest.mark.parametrize("name", CHECKS)
def test_hidden_cases_catch_a_known_mistake_the_visible_cases_miss(name):
    """The grade's cases must test more than the student could see: at least one known
    mistake passes the visible test and loses the points."""
    c = get_check(name)
    visible = c.cases(False)
    expected = [c.run(c.reference, case) for case in visible]
    missed = [m for m in c.mistakes if _agrees(c, m.implementation, visible, expected)]
    hidden = c.cases(True)
    expected = [c.run(c.reference, case) for case in hidden]
    caught = [m.name for m in missed if not _agrees(c, m.implementation, hidden, expected)]
    assert caught, (f"{name}: every known mistake is already caught by the visible cases "
                    f"({[m.name for m in c.mistakes]}); register one that only the hidden cases catch "
                    "(another shape, dtype, default or edge case)")


def test_failure_message_says_expected_returned_and_mistake():
    c = get_check("risk.empirical_risk")
    with pytest.raises(CheckFailure) as err:
        check("risk.empirical_risk", c.mistake("sum_not_mean").implementation)
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
