"""Shared pytest fixtures and markers for the course's test suite."""

from __future__ import annotations

import pytest
import torch

from components import require

requires_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU; this machine has none"
)

DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=[requires_cuda, pytest.mark.gpu]),
]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Run a test once on the CPU and once on CUDA (skipped with a reason without a GPU)."""
    return torch.device(request.param)


# nbgrader runs `alembic` from PATH when it creates a gradebook; the `course` command puts
# its interpreter's scripts there at start-up, and so does the test process.
from course_lib.grading.course import scripts_on_path  # noqa: E402

scripts_on_path()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(component): needs a real program (see tests/components.py)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires"):
        require(mark.args[0])


HEAVY_MARKS = ("slow", "browser", "postgres")

SHARED_SCOPES = {"tests/test_autograde_attacks.py": "tests/test_autograde.py"}
"""Modules that share a per-process fixture with another (the graded attack classes of
tests/attacks, built once per process by ``shared_class``) run on that module's worker."""


def _scope(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return SHARED_SCOPES.get(path, path)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`make test` runs `-n auto --dist loadfile --no-loadscope-reorder`: each test module on
    one worker (its module-scoped fixtures, a graded class or a server, are built once), the
    modules of :data:`SHARED_SCOPES` together, in the order of :func:`pytest_collection_modifyitems`."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByModule(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scope(nodeid)

    return ByModule(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the modules holding slow, browser or PostgreSQL tests first (each module's tests
    stay together), so that with several workers the many quick tests fill the gaps at the end
    instead of leaving one worker alone with a long module."""
    scopes: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        scopes.setdefault(_scope(item.nodeid), []).append(index)
    heavy = {scope for scope, members in scopes.items()
             if any(items[i].get_closest_marker(mark) for i in members for mark in HEAVY_MARKS)}
    rank = {index: (scope not in heavy, members[0], index) for scope, members in scopes.items() for index in members}
    items[:] = [item for _, item in sorted(enumerate(items), key=lambda pair: rank[pair[0]])]
