"""What a check is, and the registry of every assignment's checks.

A :class:`Check` bundles what the judge needs for one exercise part: how to draw test
inputs (``cases``), the reference that answers them, how to call the student's object
on one input (``call``), a tolerance, and the *known mistakes* of the exercise, each a
small wrong implementation. When an answer is wrong, the judge runs every mistake on the
same input and, if one of them reproduces the student's answer, names it in the failure
message ("this looks like: you summed instead of averaging"). The same mistakes make the
round-trip tests of the assignments: a submission built from a mistake must lose exactly
that part.

Checks live in :mod:`course_lib.grading.checks`, one module per assignment; a check named
``"risk.empirical_risk"`` is found in ``course_lib.grading.checks.risk``.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

__all__ = [
    "Case",
    "Check",
    "Mistake",
    "register",
    "get_check",
    "registered_checks",
]

Case = Mapping[str, Any]


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
        forbids: dotted paths of implementations the part may not use, on top of the
            defaults that :func:`course_lib.grading.delegation.forbidden_for` derives from
            the reference (the reference itself, what it calls, their families).
        allows: dotted paths the part may use although a default forbids them (the
            ``LambdaLR`` a part asks for, inside the forbidden ``torch.optim.lr_scheduler``).
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
    forbids: Sequence[str] = ()
    allows: Sequence[str] = ()

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
    """Add a check to the registry (done by the modules of :mod:`course_lib.grading.checks`)."""
    _REGISTRY[check_.name] = check_
    return check_


def get_check(name: str) -> Check:
    """The registered check called ``name``, importing its assignment module on first use."""
    if name not in _REGISTRY:
        module = name.split(".", 1)[0]
        try:
            importlib.import_module(f"course_lib.grading.checks.{module}")
        except ModuleNotFoundError as err:
            raise KeyError(f"no checks for {module!r}: course_lib.grading.checks.{module} does not exist") from err
    try:
        return _REGISTRY[name]
    except KeyError:
        known = sorted(n for n in _REGISTRY if n.startswith(name.split(".", 1)[0] + "."))
        raise KeyError(f"no check called {name!r}; known: {known}") from None


def registered_checks() -> dict[str, Check]:
    """Every check of every assignment, by name (importing each assignment's checks module)."""
    from course_lib.grading.checks import ASSIGNMENTS

    for module in ASSIGNMENTS.values():
        importlib.import_module(f"course_lib.grading.checks.{module}")
    return dict(sorted(_REGISTRY.items()))
