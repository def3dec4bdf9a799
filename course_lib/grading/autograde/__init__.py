"""``course autograde``: parallel, resumable, sandboxed grading whose points the judge computes itself.

The parent process is the *judge*. For every submission it builds the notebook to run
from the SOURCE notebook (:mod:`~course_lib.grading.autograde.plan`), runs it in a child forked
from a pre-warmed *zygote* inside a bubblewrap sandbox (:mod:`~course_lib.grading.autograde.sandbox`,
:mod:`~course_lib.grading.autograde.zygote`), receives the answers of every ``check(...)`` as
data (:mod:`~course_lib.grading.autograde.wire`), judges them against the reference it computes
itself (:mod:`~course_lib.grading.autograde.judge`), and writes each submission into nbgrader's
gradebook in one transaction (:mod:`~course_lib.grading.autograde.gradebook`). Several workers
run in parallel (:mod:`~course_lib.grading.autograde.runner`), on this machine or on the
workers of a Dask cluster (:mod:`~course_lib.grading.autograde.cluster`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Run", "RunReport", "Outcome", "Limits", "SandboxError", "JUDGE_VERSION"]

_HOMES = {"Run": "runner", "RunReport": "runner", "Outcome": "runner", "JUDGE_VERSION": "runner",
          "Limits": "sandbox", "SandboxError": "sandbox"}


def __getattr__(name: str) -> Any:
    # Lazy: the sandbox imports this package's zygote and wire modules, never the judge's side.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
