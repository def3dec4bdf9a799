"""Helpers shared by the tests that work on whole assignments."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CHECK_CALL = re.compile(r"""check\(\s*["']([\w.]+)["']\s*,\s*(\w+)""")


def assignments() -> list[str]:
    """Every assignment of the course, from solutions/ (or those named in $COURSE_ASSIGNMENTS, comma-separated)."""
    found = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and not p.name.startswith("."))
    wanted = os.environ.get("COURSE_ASSIGNMENTS")
    return [a for a in found if a in wanted.split(",")] if wanted else found


def source_notebook(assignment: str) -> Path:
    (path,) = sorted((ROOT / "solutions" / assignment).glob("*.ipynb"))
    return path


@dataclass(frozen=True)
class GradedPart:
    """One autograded test cell: its points, the check it calls and the solution cell it grades."""

    test_id: str
    points: float
    check_name: str
    object_name: str
    solution_id: str


def graded_parts(assignment: str) -> list[GradedPart]:
    """The autograded test cells of an assignment's source notebook, in order."""
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    definers = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "code":
            for name in re.findall(r"^(?:def|class)\s+(\w+)", cell.source, flags=re.M):
                definers[name] = meta["grade_id"]
    parts = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
            calls = CHECK_CALL.findall(cell.source)
            assert calls, f"{assignment}: test cell {meta['grade_id']} calls no check(...)"
            check_name, object_name = calls[0]
            parts.append(GradedPart(meta["grade_id"], float(meta["points"]), check_name, object_name, definers[object_name]))
    return parts


def copy_course(dest: Path) -> Path:
    """A throw-away copy of the course directory (configuration, solutions and release)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder, dest / folder)
    return dest
