r"""Judging a student's answers against the reference: the comparison, the failure message, the known mistake.

The one implementation behind a student's visible test (:func:`evaluate`, answers computed
on the student's object in their kernel) and the autograder's judge
(:func:`judge_answers`, answers received as data from a sandboxed process).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import torch

from course_lib.grading.registry import Check, Mistake

__all__ = ["compare_answers", "Raised", "attempt", "judge_answers", "evaluate", "passed_message"]


def _short(value: Any, depth: int = 0) -> str:
    """A short description of an answer for messages: a few values, never the whole of a large one."""
    if isinstance(value, torch.Tensor):
        if value.numel() <= 6:
            return f"tensor({[round(v, 5) for v in value.detach().double().flatten().tolist()]}, shape={tuple(value.shape)}, dtype={value.dtype})"
        return f"tensor of shape {tuple(value.shape)} ({value.dtype})"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of {len(str(abs(value)))} digits"
    if depth > 3 and isinstance(value, (tuple, list, dict)):
        return "(...)"
    if isinstance(value, (tuple, list)):
        shown = ", ".join(_short(v, depth + 1) for v in value[:6])
        return "(" + shown + (f", ... {len(value)} items" if len(value) > 6 else "") + ")"
    if isinstance(value, dict):
        items = list(value.items())
        shown = ", ".join(f"{_short(k, depth + 1)}: {_short(v, depth + 1)}" for k, v in items[:6])
        return "{" + shown + (f", ... {len(items)} entries" if len(items) > 6 else "") + "}"
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


def _describe(case: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in case.items())


def compare_answers(got: Any, expected: Any, *, atol: float, rtol: float, path: str = "answer") -> str | None:
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
            problem = compare_answers(g, e, atol=atol, rtol=rtol, path=f"{path}[{i}]")
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
            problem = compare_answers(got[k], expected[k], atol=atol, rtol=rtol, path=f"{path}[{k!r}]")
            if problem:
                return problem
        return None
    return None if got == expected else f"{path} is {_short(got)}, expected {_short(expected)}"


def _matching_mistake(check_: Check, case: dict[str, Any], got: Any) -> Mistake | None:
    for m in check_.mistakes:
        try:
            wrong = check_.run(m.implementation, case)
        except Exception:  # a mistake that cannot run on this case explains nothing
            continue
        if compare_answers(got, wrong, atol=check_.atol, rtol=check_.rtol) is None:
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
        try:
            problem = compare_answers(got, want, atol=check_.atol, rtol=check_.rtol)
        except Exception as err:  # an answer built to break the comparison (an int too large for a float)
            return (f"{part}'s answer could not be compared with the reference on case {i + 1} "
                    f"({type(err).__name__}: {str(err)[:200]}), so it earns nothing.")
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
