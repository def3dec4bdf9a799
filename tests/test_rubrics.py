"""Every written answer has a rubric with point splits for the graders, and no student sees it.

The rubric ends the model answer in the source notebook (``**Rubric (3 points; ...).**``
and one bullet per criterion, ``- 1 point ...``). nbgrader replaces a written answer's whole
cell when it releases the assignment; ``course autograde`` puts the rubric under the
student's answer in the graded notebook that the formgrader shows, and ``course feedback``
leaves it out (tests/test_assignments.py checks those two on a graded class).
"""

from __future__ import annotations

import re

import nbformat
import pytest

from course_helpers import ROOT, assignments, source_notebook
from course_lib.grading.autograde.plan import SourceNotebook, rubric_of

HEADING = re.compile(r"^\*\*Rubric \((\d+(?:\.\d+)?) points?; for graders, not released\)\.\*\*$", re.M)
BULLET = re.compile(r"^- (\d+(?:\.\d+)?) points?\b", re.M)


def written_answers(assignment: str) -> list[tuple[str, float, str]]:
    """``(grade_id, points, source)`` of the answers graded by hand in a source notebook."""
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    return [(c.metadata["nbgrader"]["grade_id"], float(c.metadata["nbgrader"]["points"]), c.source)
            for c in nb.cells
            if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")
            and c.metadata["nbgrader"].get("solution")]


@pytest.mark.parametrize("assignment", assignments())
def test_every_written_answer_has_a_rubric_whose_splits_add_up(assignment):
    answers = written_answers(assignment)
    assert answers, f"{assignment} has no written answer"
    for grade_id, points, source in answers:
        rubric = rubric_of(source)
        assert rubric, f"{assignment}: the written answer {grade_id!r} has no **Rubric** for the graders"
        heading = HEADING.search(rubric)
        assert heading, f"{assignment}/{grade_id}: the rubric starts with '**Rubric (N points; for graders, not released).**'"
        assert float(heading.group(1)) == points, f"{assignment}/{grade_id}: rubric for {heading.group(1)} points, cell worth {points}"
        splits = [float(p) for p in BULLET.findall(rubric)]
        assert len(splits) >= 2, f"{assignment}/{grade_id}: the rubric should split the points over criteria"
        assert sum(splits) == pytest.approx(points), (
            f"{assignment}/{grade_id}: the rubric's splits {splits} add up to {sum(splits)}, not {points}")


@pytest.mark.parametrize("assignment", assignments())
def test_the_release_has_no_rubric_and_the_plan_keeps_it_for_graders(assignment):
    source = source_notebook(assignment)
    release = ROOT / "exercises" / assignment / source.name
    released = nbformat.read(release, as_version=4)
    for cell in released.cells:
        assert "Rubric" not in cell.source, f"{release}: a rubric was released to students"
    plan = SourceNotebook(source.stem, source, release)
    for grade_id, _, text in written_answers(assignment):
        assert plan.rubrics.get(grade_id) == rubric_of(text), f"{assignment}/{grade_id}: the plan lost the rubric"
