"""Build submissions from a released notebook: for tests, benchmarks and instructors' dry runs.

An instructor who changes an assignment wants to know that the solution still
earns full marks, that the blank release earns nothing, and that each known
mistake loses exactly its part. These helpers write such submissions in
nbgrader's layout ``submitted/<student_id>/<assignment>/<notebook>.ipynb``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import nbformat

__all__ = ["solution_sources", "fill_release", "mistake_source", "write_submission"]


def _grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solution_sources(source_notebook: Path) -> dict[str, str]:
    """``grade_id -> source`` of the solution cells of a source notebook, solution markers removed."""
    nb = nbformat.read(source_notebook, as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [ln for ln in cell.source.splitlines() if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            out[meta["grade_id"]] = "\n".join(lines)
    return out


def mistake_source(check_name: str, mistake: str, function_name: str) -> str:
    """Code for a solution cell that answers with a known mistake of a check."""
    return (
        "from course_lib.grading import get_check\n"
        f"{function_name} = get_check({check_name!r}).mistake({mistake!r}).implementation\n"
    )


def fill_release(release_notebook: Path, answers: Mapping[str, str]) -> nbformat.NotebookNode:
    """The released notebook with the cells named in ``answers`` (by grade_id) replaced."""
    nb = nbformat.read(release_notebook, as_version=4)
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid in answers:
            cell.source = answers[gid]
    return nb


def write_submission(course_root: Path, student_id: str, assignment: str, notebook: str, nb: nbformat.NotebookNode | str) -> Path:
    """Write a submission (a notebook, or raw text for broken ones) where nbgrader looks for it."""
    path = Path(course_root) / "submitted" / student_id / assignment / f"{notebook}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, str):
        path.write_text(nb)
    else:
        nbformat.write(nb, path)
    return path
