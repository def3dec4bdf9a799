"""Strict mode: under COURSE_REQUIRE a missing component fails its tests instead of skipping them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import components

NEEDS_BWRAP = '''
from components import requires

@requires("bwrap")
def test_needs_bwrap():
    pass
'''


def test_missing_component_skips_by_default_and_fails_when_required(monkeypatch):
    monkeypatch.setattr(components, "REQUIRED", frozenset())
    with pytest.raises(pytest.skip.Exception, match="bubblewrap is not installed"):
        components.unavailable("bwrap")
    monkeypatch.setattr(components, "REQUIRED", frozenset({"bwrap"}))
    with pytest.raises(pytest.fail.Exception, match="COURSE_REQUIRE demands bwrap"):
        components.unavailable("bwrap")


@pytest.mark.parametrize("required, outcome", [("", "1 skipped"), ("chromium,bwrap", "1 error")])
def test_the_requires_mark_in_a_real_run(tmp_path, required, outcome):
    """A test marked ``requires("bwrap")`` on a PATH without bubblewrap: skipped, or an error under strict mode."""
    tests = Path(__file__).parent
    (tmp_path / "conftest.py").write_text((tests / "conftest.py").read_text())
    (tmp_path / "test_needs.py").write_text(NEEDS_BWRAP)
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "COURSE_REQUIRE": required,
           "PYTHONPATH": str(tests)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                             str(tmp_path)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert outcome in result.stdout, result.stdout + result.stderr
