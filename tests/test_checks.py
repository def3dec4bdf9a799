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


# Parts written before hidden cases had to catch something the visible ones miss; take a
# part off this list once its hidden cases catch a registered mistake of their own.
PARTS_WITHOUT_A_HIDDEN_ONLY_MISTAKE = {
    "adaptive.Adam", "adaptive.adagrad_step", "adaptive.adam_step", "adaptive.rmsprop_step",
    "momentum.MomentumSGD", "momentum.ewma", "momentum.momentum_step", "momentum.nesterov_classic",
    "risk.empirical_risk", "risk.gradient_descent", "risk.ridge_gradient", "risk.ridge_risk",
    "risk.standardize",
    "sgd.loglog_fit", "sgd.minibatch_gradient", "sgd.minibatch_indices",
    "sgd.minibatch_standard_error", "sgd.sgd_step", "sgd.train_sgd",
}


def test_the_exemptions_name_registered_parts():
    assert PARTS_WITHOUT_A_HIDDEN_ONLY_MISTAKE <= set(CHECKS)


def _hidden_only_mistakes(c) -> list[str]:
    visible = c.cases(False)
    expected = [c.run(c.reference, case) for case in visible]
    missed = [m for m in c.mistakes if _agrees(c, m.implementation, visible, expected)]
    hidden = c.cases(True)
    expected = [c.run(c.reference, case) for case in hidden]
    return [m.name for m in missed if not _agrees(c, m.implementation, hidden, expected)]


@pytest.mark.parametrize("name", sorted(PARTS_WITHOUT_A_HIDDEN_ONLY_MISTAKE))
def test_an_exempt_part_still_needs_its_exemption(name):
    assert not _hidden_only_mistakes(get_check(name)), f"{name} qualifies now: take it off the list"


@pytest.mark.parametrize("name", [n for n in CHECKS if n not in PARTS_WITHOUT_A_HIDDEN_ONLY_MISTAKE])
def test_hidden_cases_catch_a_mistake_the_visible_cases_miss(name):
    """The hidden tests must be worth their name: some known mistake passes the visible
    cases (a student would see a green test) and is still caught by the hidden ones."""
    assert _hidden_only_mistakes(get_check(name)), (f"{name}: every known mistake that the hidden cases catch is already caught "
                    "by the visible ones; add a hidden case (or a mistake) that only they expose")
