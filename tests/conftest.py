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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each test module on one pytest-xdist worker (`make test` runs `-n auto --dist loadgroup`).

    A module's expensive fixtures (a graded class, a server) are module-scoped, so a module
    split across workers would build them once per worker. Modules that share a per-process
    fixture between them (the graded attack classes of tests/attacks) name one
    ``xdist_group`` in their ``pytestmark``; every other test is grouped by its file.
    """
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
