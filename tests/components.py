"""The real components some tests need, and the strict mode that CI runs in.

Some tests drive real programs: headless Chromium (the book and JupyterLab), PostgreSQL
(the gradebook), bubblewrap (the grading sandbox), JupyterLab, Dask (grading on a cluster). On a laptop without one of
them, its tests skip and say why. Under strict mode, ``COURSE_REQUIRE`` naming the
component (``.ci/run`` sets ``COURSE_REQUIRE=chromium,postgres,bwrap,jupyterlab,dask``), a test
that needs a missing component FAILS instead, so CI can never turn green by skipping.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from servers import postgres_binary

REQUIRED = frozenset(filter(None, (c.strip() for c in os.environ.get("COURSE_REQUIRE", "").split(","))))
"""Components whose absence is a failure, from ``$COURSE_REQUIRE`` (comma-separated)."""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _jupyterlab() -> str | None:
    import sys

    jupyter = Path(sys.executable).parent / "jupyter"
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        return None
    return str(jupyter) if jupyter.exists() else None


FINDERS = {
    "chromium": (_chromium, "headless Chromium is not installed (Debian: apt-get install chromium)"),
    "bwrap": (lambda: shutil.which("bwrap"), "bubblewrap is not installed (apt-get install bubblewrap): the sandbox's defences were not tested"),
    "postgres": (lambda: postgres_binary("initdb") and postgres_binary("pg_ctl"),
                 "PostgreSQL is not installed (apt-get install postgresql); the gradebook was not tested on it"),
    "jupyterlab": (_jupyterlab, "JupyterLab is not installed in this environment (pip install -e '.[dev]')"),
    "dask": (lambda: importlib.util.find_spec("distributed"),
             "dask/distributed are not installed (pip install -e '.[cluster]'): grading on a cluster was not tested"),
}
"""Component -> (how to find it, what to say when it is missing)."""


def available(component: str) -> bool:
    """Whether ``component`` (a key of :data:`FINDERS`) is installed here."""
    find, _ = FINDERS[component]
    return bool(find())


def unavailable(component: str, reason: str | None = None) -> NoReturn:
    """Skip the running test for lack of ``component``, or fail it under strict mode."""
    reason = reason or FINDERS[component][1]
    if component in REQUIRED:
        pytest.fail(f"{reason} -- and COURSE_REQUIRE demands {component}", pytrace=False)
    pytest.skip(reason)


def require(component: str) -> str:
    """What finds ``component`` (a path), or skip/fail the running test as :func:`unavailable` says."""
    found = FINDERS[component][0]()
    if not found:
        unavailable(component)
    return found


def requires(component: str) -> pytest.MarkDecorator:
    """A mark for tests that need ``component``: they skip without it, or fail under strict mode."""
    return pytest.mark.requires(component)
