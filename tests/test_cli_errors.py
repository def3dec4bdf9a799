"""Bad input to the `course` command: one line on stderr, exit status 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from course_helpers import copy_course

COURSE = str(Path(sys.executable).parent / "course")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([COURSE, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def course_root(tmp_path_factory):
    return copy_course(tmp_path_factory.mktemp("course"))


@pytest.mark.parametrize(
    "args,message",
    [
        (["release", "99_nothing"], "unknown assignment '99_nothing'"),
        (["autograde", "99_nothing"], "unknown assignment '99_nothing'"),
        (["autograde"], "no submissions"),
        (["grades", "--csv", "/no/such/folder/grades.csv"], "folder /no/such/folder does not exist"),
    ],
)
def test_bad_input_is_one_clear_line(course_root, args, message):
    result = run(*args, cwd=course_root)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1


def test_outside_a_course_directory(tmp_path):
    result = run("grades", "--csv", "x.csv", cwd=tmp_path)
    assert result.returncode == 2 and "no nbgrader_config.py" in result.stderr
