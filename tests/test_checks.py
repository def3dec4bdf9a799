"""Every registered check: the reference passes, every known mistake fails and is named."""

from __future__ import annotations

import math
import pkgutil

import pytest
import torch

import course_lib.grading.checks
from course_lib.grading import (
    CheckFailure,
    check,
    evaluate,
    get_check,
    judge_answers,
    registered_checks,
)

REGISTRY = registered_checks()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors: threads only contend for the cores (the grader's sandboxes run with one too)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


def test_an_answer_that_cannot_be_compared_earns_nothing_and_says_why():
    """An int too large for a float where floats are expected (the judge's path and the visible test's)."""
    check_ = get_check("sgd.loglog_fit")
    cases = check_.cases(False)
    message = judge_answers(check_, cases, [(10**400, 0.0)] * len(cases))
    assert message is not None and "could not be compared" in message and "earns nothing" in message
    with pytest.raises(CheckFailure, match="could not be compared"):
        check("sgd.loglog_fit", lambda *args, **kwargs: (10**400, 0.0))


def test_unknown_check_name_is_a_clear_error():
    with pytest.raises(KeyError, match="no check called"):
        get_check("risk.no_such_part")
    with pytest.raises(KeyError, match="no checks for"):
        get_check("nosuchassignment.part")


# ---- the strength of the hidden cases ---------------------------------------------------------------


@pytest.mark.parametrize("name", CHECKS)
def test_hidden_cases_catch_a_mistake_the_visible_ones_miss(name):
    """The grade's cases are not the visible ones again: some registered mistake or edge case passes the
    visible test and fails the hidden one (a defaults, a dtype, a shape, a setting only they exercise)."""
    c = get_check(name)
    visible, hidden = c.cases(False), c.cases(True)
    caught = [m.name for m in c.mistakes
              if evaluate(c, m.implementation, visible) is None and evaluate(c, m.implementation, hidden) is not None]
    assert caught, (f"{name}: no registered mistake passes the visible cases and fails the hidden ones; add a hidden "
                    "case and a mistake (or edge case) only it catches")


# ---- initializers judged in distribution ---------------------------------------------------------------

_TARGETS = {"init.xavier_uniform_": ("uniform", 1 / math.sqrt(3)), "init.kaiming_normal_": ("normal", 0.6826894921370859)}
"""Each initializer's family and the fraction of its draws within one standard deviation of 0."""


def _own_stream_fill(name: str, seed: int, std_scale: float = 1.0):
    """A correct initializer (up to ``std_scale``) that draws from a generator of its own, not torch's global one."""
    from course_lib import init

    generator = torch.Generator().manual_seed(seed)

    def fill(tensor, gain=1.0, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
        fan_in, fan_out = init.fan_in_and_fan_out(tensor)
        if name == "init.xavier_uniform_":
            bound = std_scale * gain * math.sqrt(6.0 / (fan_in + fan_out))
            draws = (torch.rand(tensor.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound
        else:
            fan = fan_in if mode == "fan_in" else fan_out
            std = std_scale * torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
            draws = torch.randn(tensor.shape, generator=generator, dtype=torch.float64) * std
        with torch.no_grad():
            return tensor.copy_(draws)
    return fill


@pytest.mark.parametrize("name", sorted(_TARGETS))
def test_initializers_are_judged_in_distribution(name):
    """Correct answers from independent random streams pass, every time, with a margin: each statistic stays
    within half the tolerance of its target (with 2,000 draws instead of 200,000 it would not); a variance
    10 % too large fails every time."""
    c = get_check(name)
    cases = c.cases(True)
    family, within = _TARGETS[name]
    for seed in range(5):
        fill = _own_stream_fill(name, seed)
        answers = [c.run(fill, case) for case in cases]
        assert judge_answers(c, cases, answers) is None, f"a correct answer with stream {seed} failed"
        for case, stats in zip(cases, answers):
            for key, target in (("mean / target std", 0.0), ("std / target std", 1.0),
                                ("fraction within 1 target std", within)):
                assert abs(stats[key] - target) < c.atol / 2, (family, case["shape"], key, stats[key])
        assert evaluate(c, _own_stream_fill(name, seed, std_scale=math.sqrt(1.1)), cases) is not None
