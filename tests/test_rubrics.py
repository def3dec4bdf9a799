"""Written answers are graded by hand against a rubric that graders see and students do not.

The rubric lives in the answer cell of the source notebook (`solutions/`), after the model
answer, as a list of point splits. nbgrader replaces the whole answer cell with a stub when it
releases the assignment, so the rubric must never reach `exercises/`. `course autograde` puts
it under each student's answer in the graded notebook that the formgrader shows, and `course
feedback` leaves it out (tests/test_assignments.py checks both on a graded class).
"""

from __future__ import annotations

import re

import nbformat
import pytest

from course_helpers import ROOT, assignments, source_notebook
from course_lib.grading.autograde.plan import SourceNotebook, rubric_of

RUBRIC = re.compile(r"^\*\*Rubric \((?P<total>[\d.]+) points?;", re.M)
SPLIT = re.compile(r"^- (?P<points>[\d.]+) points?\b", re.M)


def written_answers(assignment: str) -> list[tuple[str, float, str]]:
    """``(grade_id, points, source)`` of each manually graded answer cell of the source."""
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    answers = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade") and cell.cell_type == "markdown":
            answers.append((meta["grade_id"], float(meta["points"]), cell.source))
    return answers


@pytest.mark.parametrize("assignment", assignments())
def test_every_written_answer_has_a_rubric_whose_splits_add_up(assignment):
    answers = written_answers(assignment)
    assert answers, f"{assignment} has no written answers"
    for grade_id, points, source in answers:
        rubric = RUBRIC.search(source)
        assert rubric, f"{assignment}: answer {grade_id!r} has no '**Rubric (N points; ...' block"
        assert float(rubric["total"]) == points, f"{assignment}: {grade_id!r} is worth {points}"
        splits = [float(m["points"]) for m in SPLIT.finditer(source[rubric.end():])]
        assert len(splits) >= 2, f"{assignment}: {grade_id!r} gives no point splits"
        assert sum(splits) == pytest.approx(points), f"{assignment}: {grade_id!r} splits {splits}"


@pytest.mark.parametrize("assignment", assignments())
def test_no_rubric_or_model_answer_reaches_the_release(assignment):
    release = ROOT / "exercises" / assignment / source_notebook(assignment).name
    released = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source
                for cell in nbformat.read(release, as_version=4).cells}
    text = "\n".join(released.values())
    assert "Rubric" not in text and "for graders" not in text
    for grade_id, _, source in written_answers(assignment):
        assert released[grade_id].strip() == "YOUR ANSWER HERE", f"{assignment}: {grade_id!r} leaks"
        first_line = source.strip().splitlines()[0]
        assert first_line not in text, f"{assignment}: the model answer of {grade_id!r} leaks"


@pytest.mark.parametrize("assignment", assignments())
def test_the_autograder_keeps_each_rubric_for_the_graders(assignment):
    source = source_notebook(assignment)
    plan = SourceNotebook(source.stem, source, ROOT / "exercises" / assignment / source.name)
    for grade_id, _, text in written_answers(assignment):
        assert plan.rubrics.get(grade_id) == rubric_of(text), f"{assignment}/{grade_id}: the plan lost the rubric"
        assert plan.rubrics[grade_id].startswith("**Rubric (")
