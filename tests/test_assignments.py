"""Whole assignments through the real `course` command, as an instructor runs it.

For every assignment: the released exercises are in sync with the solutions; a
student who submits the solutions gets every autograded point; the blank
release gets none; a student with one known mistake loses exactly that part's
points, and the feedback names the mistake.
"""

from __future__ import annotations

import csv
import html
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_helpers import ROOT, assignments, copy_course, graded_parts, source_notebook
from course_lib.grading import checks
from course_lib.grading import get_check
from submissions import fill_release, mistake_source, solution_sources, write_submission

pytestmark = pytest.mark.slow
COURSE = [str(Path(sys.executable).parent / "course")]
ASSIGNMENTS = assignments()


def course(*args: str, root: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*COURSE, "--root", str(root), *args], capture_output=True, text=True, timeout=1200)
    if check:
        assert result.returncode == 0, f"course {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _comparable(path: Path) -> list[tuple]:
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, json.dumps(c.metadata.get("nbgrader", {}), sort_keys=True)) for c in nb.cells]


def test_every_assignment_has_a_checks_module():
    assert set(ASSIGNMENTS) == set(checks.ASSIGNMENTS)


def test_exercises_are_generated_from_solutions(tmp_path):
    root = copy_course(tmp_path / "course")
    course("release", root=root)
    for assignment in ASSIGNMENTS:
        for fresh in sorted((root / "exercises" / assignment).glob("*.ipynb")):
            committed = ROOT / "exercises" / assignment / fresh.name
            assert committed.is_file(), f"{committed} is missing: run `make release`"
            assert _comparable(fresh) == _comparable(committed), f"{committed} is out of date: run `make release`"


def _mistake_for(assignment: str, index: int):
    """A graded part of the assignment (a different one per assignment) and its first known mistake."""
    parts = graded_parts(assignment)
    part = parts[index % len(parts)]
    return part, get_check(part.check_name).mistakes[0]


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """A small class (solutions, blank, one mistake per assignment) autograded once for all tests."""
    root = copy_course(tmp_path_factory.mktemp("course"))
    for i, assignment in enumerate(ASSIGNMENTS):
        release = root / "exercises" / assignment / source_notebook(assignment).name
        name = release.stem
        answers = solution_sources(source_notebook(assignment))
        write_submission(root, "honest", assignment, name, fill_release(release, answers))
        write_submission(root, "blank", assignment, name, fill_release(release, {}))
        part, mistake = _mistake_for(assignment, i)
        wrong = {**answers, part.solution_id: mistake_source(part.check_name, mistake.name, part.object_name)}
        write_submission(root, "mistaken", assignment, name, fill_release(release, wrong))
    result = course("autograde", "--quiet", root=root)
    course("grades", "--csv", str(root / "grades.csv"), root=root)
    course("feedback", root=root)
    with open(root / "grades.csv") as fh:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}
    return root, rows, result.stdout


def _auto_points(assignment: str) -> float:
    return sum(p.points for p in graded_parts(assignment))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_get_every_autograded_point(graded_class, assignment):
    _, rows, _ = graded_class
    assert float(rows[("honest", assignment)]["score"]) == pytest.approx(_auto_points(assignment))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_gets_zero(graded_class, assignment):
    _, rows, _ = graded_class
    assert float(rows[("blank", assignment)]["score"]) == 0.0


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_one_mistake_loses_exactly_its_part_and_feedback_names_it(graded_class, assignment):
    root, rows, _ = graded_class
    part, mistake = _mistake_for(assignment, ASSIGNMENTS.index(assignment))
    assert float(rows[("mistaken", assignment)]["score"]) == pytest.approx(_auto_points(assignment) - part.points)
    feedback = html.unescape(next((root / "feedback" / "mistaken" / assignment).glob("*.html")).read_text())
    assert mistake.message in feedback


def test_summary_table_and_csv_columns(graded_class):
    root, rows, stdout = graded_class
    assert f"{3 * len(ASSIGNMENTS)} graded, 0 failed" in stdout
    header = (root / "grades.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["student_id", "assignment", "score", "max_score"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_graders_see_each_rubric_under_the_answer_and_the_feedback_does_not(graded_class, assignment):
    root, _, _ = graded_class
    name = source_notebook(assignment).stem
    # the blank submission: the honest one answers with the model answers, rubrics included
    graded = nbformat.read(root / "autograded" / "blank" / assignment / f"{name}.ipynb", as_version=4)
    source = nbformat.read(source_notebook(assignment), as_version=4)
    written = [c.metadata["nbgrader"]["grade_id"] for c in source.cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("solution")]
    for grade_id in written:
        index = next(i for i, c in enumerate(graded.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        below = graded.cells[index + 1]
        assert below.metadata.get("course", {}).get("rubric_for") == grade_id, f"{assignment}: no rubric under {grade_id}"
        assert below.source.startswith("**Rubric")
    feedback = next((root / "feedback" / "blank" / assignment).glob("*.html")).read_text()
    assert "Rubric (" not in feedback
