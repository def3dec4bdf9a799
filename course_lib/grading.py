"""Checks that grade a student's function against the course's reference.

An exercise's test cell calls :func:`check` with the name of a registered
:class:`Check` and the student's object::

    from course_lib.grading import check
    check("risk.empirical_risk", empirical_risk)               # visible cases
    check("risk.empirical_risk", empirical_risk, hidden=True)  # the grade's cases

A :class:`Check` bundles what the judge needs: how to draw test inputs
(``cases``), the reference that answers them, how to call the student's object
on one input (``call``), a tolerance, and the *known mistakes* of the exercise,
each a small wrong implementation. When an answer is wrong, :func:`check` runs
every mistake on the same input and, if one of them reproduces the student's
answer, names it in the failure message ("this looks like: you summed instead
of averaging"). The same mistakes make the round-trip tests of the assignments:
a submission built from a mistake must lose exactly that part.

Checks live in :mod:`course_lib.checks`, one module per assignment; a check
named ``"risk.empirical_risk"`` is found in ``course_lib.checks.risk``.
"""

from __future__ import annotations

import copy
import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

__all__ = [
    "Case",
    "Check",
    "Mistake",
    "CheckFailure",
    "register",
    "get_check",
    "check",
    "evaluate",
    "compare",
    "Raised",
    "attempt",
    "judge_answers",
    "passed_message",
    "set_reporter",
]

Case = Mapping[str, Any]


class CheckFailure(AssertionError):
    """A student's answer differs from the reference; the message says how."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a traceback through the grading code,
        # which would bury the message a student needs under frames they never wrote.
        return [f"CheckFailure: {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())]


@dataclass(frozen=True)
class Mistake:
    """A known wrong way to solve an exercise.

    Attributes:
        name: a short identifier, used by the round-trip tests (``"sum_not_mean"``).
        message: what the student most likely did, addressed to them.
        implementation: a wrong solution with the exercise's signature.
    """

    name: str
    message: str
    implementation: Callable[..., Any]


@dataclass(frozen=True)
class Check:
    """Everything needed to judge one exercise part.

    Attributes:
        name: ``"<assignment module>.<part>"``, e.g. ``"risk.empirical_risk"``.
        reference: the correct implementation (a function or a class).
        cases: ``cases(hidden) -> list of keyword-argument dicts``; deterministic
            (seeded inside), few and small when ``hidden`` is False.
        call: ``call(obj, case) -> answer``: how to exercise a solution on one
            case; by default ``obj(**case)``.
        describe: ``describe(case) -> str`` for messages; by default shapes and values.
        atol, rtol: tolerances of the comparison (float64 cases are compared
            with the same numbers).
        mistakes: the known mistakes, tried in order when an answer is wrong.
        hint: one sentence printed under any failure.
    """

    name: str
    reference: Callable[..., Any]
    cases: Callable[[bool], list[dict[str, Any]]]
    call: Callable[[Any, dict[str, Any]], Any] | None = None
    describe: Callable[[dict[str, Any]], str] | None = None
    atol: float = 1e-5
    rtol: float = 1e-4
    mistakes: Sequence[Mistake] = field(default_factory=tuple)
    hint: str = ""

    def run(self, obj: Any, case: dict[str, Any]) -> Any:
        """Apply ``obj`` (a solution) to a deep copy of ``case``, so nothing leaks between runs."""
        case = copy.deepcopy(case)
        if self.call is None:
            return obj(**case)
        return self.call(obj, case)

    def mistake(self, name: str) -> Mistake:
        """The known mistake called ``name``."""
        for m in self.mistakes:
            if m.name == name:
                return m
        raise KeyError(f"check {self.name!r} has no mistake {name!r}; known: {[m.name for m in self.mistakes]}")


_REGISTRY: dict[str, Check] = {}


def register(check_: Check) -> Check:
    """Add a check to the registry (done by the modules of :mod:`course_lib.checks`)."""
    _REGISTRY[check_.name] = check_
    return check_


def get_check(name: str) -> Check:
    """The registered check called ``name``, importing its assignment module on first use."""
    if name not in _REGISTRY:
        module = name.split(".", 1)[0]
        try:
            importlib.import_module(f"course_lib.checks.{module}")
        except ModuleNotFoundError as err:
            raise KeyError(f"no checks for {module!r}: course_lib.checks.{module} does not exist") from err
    try:
        return _REGISTRY[name]
    except KeyError:
        known = sorted(n for n in _REGISTRY if n.startswith(name.split(".", 1)[0] + "."))
        raise KeyError(f"no check called {name!r}; known: {known}") from None


def _short(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() <= 6:
            return f"tensor({[round(v, 5) for v in value.detach().double().flatten().tolist()]}, shape={tuple(value.shape)}, dtype={value.dtype})"
        return f"tensor of shape {tuple(value.shape)} ({value.dtype})"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_short(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _describe(case: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in case.items())


def compare(got: Any, expected: Any, *, atol: float, rtol: float, path: str = "answer") -> str | None:
    """Compare an answer with the expected one, tensors, numbers and containers alike.

    Returns:
        None when they agree, else one sentence saying where and how they differ.
    """
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{path} should be a torch.Tensor, got {type(got).__name__}"
        if got.shape != expected.shape:
            return f"{path} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if got.is_floating_point() != expected.is_floating_point():
            return f"{path} has dtype {got.dtype}, expected {expected.dtype}"
        g, e = got.detach().to("cpu", torch.float64), expected.detach().to("cpu", torch.float64)
        if not torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
            diff = (g - e).abs()
            diff = torch.where(torch.isnan(diff), torch.full_like(diff, math.inf), diff)
            worst = int(diff.flatten().argmax())
            return (
                f"{path} differs from the reference: largest difference {diff.max().item():.3g} "
                f"at flat index {worst} (got {g.flatten()[worst].item():.6g}, expected {e.flatten()[worst].item():.6g})"
            )
        return None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f"{path} should be a number, got {type(got).__name__}"
        if not (math.isclose(got, expected, rel_tol=rtol, abs_tol=atol) or (math.isnan(got) and math.isnan(expected))):
            return f"{path} is {got:.6g}, expected {expected:.6g}"
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{path} should be a {type(expected).__name__} of {len(expected)} items, got {type(got).__name__}"
        if len(got) != len(expected):
            return f"{path} has {len(got)} items, expected {len(expected)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, atol=atol, rtol=rtol, path=f"{path}[{i}]")
            if problem:
                return problem
        return None
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"{path} should be a dict, got {type(got).__name__}"
        missing = [k for k in expected if k not in got]
        if missing:
            return f"{path} lacks the keys {missing}"
        for k in expected:
            problem = compare(got[k], expected[k], atol=atol, rtol=rtol, path=f"{path}[{k!r}]")
            if problem:
                return problem
        return None
    return None if got == expected else f"{path} is {got!r}, expected {expected!r}"


def _matching_mistake(check_: Check, case: dict[str, Any], got: Any) -> Mistake | None:
    for m in check_.mistakes:
        try:
            wrong = check_.run(m.implementation, case)
        except Exception:  # a mistake that cannot run on this case explains nothing
            continue
        if compare(got, wrong, atol=check_.atol, rtol=check_.rtol) is None:
            return m
    return None


@dataclass(frozen=True)
class Raised:
    """The answer of a solution that raised instead of returning: the exception's type name and text."""

    type_name: str
    message: str


def attempt(check_: Check, obj: Any, case: dict[str, Any]) -> Any:
    """``obj``'s answer on one case, or :class:`Raised` when it raises an ``Exception``."""
    try:
        return check_.run(obj, case)
    except Exception as err:  # the student's error is the message, not a crash of the grader
        return Raised(type(err).__name__, str(err))


def judge_answers(
    check_: Check,
    cases: Sequence[dict[str, Any]],
    answers: Iterable[Any],
    expected: Sequence[Any] | None = None,
) -> str | None:
    """Judge answers already computed, one per case (a value or a :class:`Raised`).

    The one implementation behind :func:`evaluate` (answers computed here, on the
    student's object) and the autograder's judge (answers computed in the student's
    sandboxed process and received as data). ``answers`` may be lazy: it is consumed
    case by case and not beyond the first failure.

    Args:
        check_: the check.
        cases: its inputs, as the judge drew them.
        answers: the student's answers, in the order of ``cases``.
        expected: the reference's answers when already computed (they are cached
            across submissions by the autograder); computed here otherwise.

    Returns:
        None when every case agrees with the reference, else the failure message
        for the first case that does not (what went in, what came back, what was
        expected, and the known mistake it looks like).
    """
    describe = check_.describe or _describe
    part = check_.name.split(".", 1)[-1]
    answers = iter(answers)
    for i, case in enumerate(cases):
        want = expected[i] if expected is not None else check_.run(check_.reference, case)
        try:
            got = next(answers)
        except StopIteration:
            return f"{part} gave no answer for case {i + 1} of {len(cases)}."
        if isinstance(got, Raised):
            return f"{part} raised {got.type_name}: {got.message}\n  on case {i + 1}: {describe(case)}"
        problem = compare(got, want, atol=check_.atol, rtol=check_.rtol)
        if problem is None:
            continue
        lines = [
            f"{part} is not right on case {i + 1}: {problem}.",
            f"  input:    {describe(case)}",
            f"  returned: {_short(got)}",
            f"  expected: {_short(want)}",
        ]
        mistake = _matching_mistake(check_, case, got)
        if mistake is not None:
            lines.append(f"  This looks like a known mistake: {mistake.message}")
        if check_.hint:
            lines.append(f"  Hint: {check_.hint}")
        return "\n".join(lines)
    return None


def evaluate(check_: Check, obj: Any, cases: Iterable[dict[str, Any]]) -> str | None:
    """Judge ``obj`` on ``cases``.

    Returns:
        None when every case agrees with the reference, else the failure message
        for the first case that does not (what went in, what came back, what was
        expected, and the known mistake it looks like).
    """
    cases = list(cases)
    return judge_answers(check_, cases, (attempt(check_, obj, case) for case in cases))


def passed_message(name: str, n_cases: int, hidden: bool) -> str:
    """The line a passing check prints, e.g. ``"✓ ridge_risk: 5 hidden case(s) agree with the reference"``."""
    return f"\N{CHECK MARK} {name.split('.', 1)[-1]}: {n_cases} {'hidden' if hidden else 'visible'} case(s) agree with the reference"


# Set only inside the autograder's sandbox (see course_lib.autograde): there, check() does
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
    message = evaluate(check_, obj, cases)
    if message is not None:
        raise CheckFailure(message)
    print(passed_message(name, len(cases), hidden))
