"""Writing the judge's grades into nbgrader's gradebook: one transaction per submission.

Only the judge (the parent ``course autograde`` process) writes, and it writes a whole
submission or nothing: the student, the submission with its notebooks, every grade and
comment, and a row of ``course_autograde_runs`` holding the hash of what was graded, all
committed together. A run stopped at any moment leaves every submission either graded
completely or not at all, and a rerun skips exactly the submissions whose row still
matches their hash. SQLite and PostgreSQL alike, through nbgrader's own models, so
``course grades``, ``course feedback`` and the formgrader read the grades as usual.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from nbgrader import utils as nbutils
from nbgrader.api import (
    Comment,
    Grade,
    Gradebook,
    Student,
    SubmittedAssignment,
    SubmittedNotebook,
)
from sqlalchemy import Column, DateTime, Float, MetaData, String, Table, Text, select

__all__ = ["RUNS", "GradeRow", "NotebookGrades", "GradebookWriter"]

RUNS = Table(
    "course_autograde_runs",
    MetaData(),
    Column("student_id", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("graded_at", DateTime, nullable=False),
    Column("score", Float, nullable=False),
    Column("max_score", Float, nullable=False),
    Column("problems", Text, nullable=False),
)
"""What ``course autograde`` graded: the hash of the submission and sources it graded, and what it noticed."""


@dataclass
class GradeRow:
    """One grade cell's outcome: an automatic score (None: a person must grade it)."""

    auto_score: float | None
    needs_review: bool = False
    """The judge could not decide (see :class:`~course_lib.grading.autograde.judge.TestResult`): a person must look."""


@dataclass
class NotebookGrades:
    """The outcome of one notebook: grades and ``"No response."`` comments by grade_id."""

    notebook: str
    grades: dict[str, GradeRow]
    unanswered: set[str]


class GradebookWriter:
    """The gradebook of a run, opened once, written from one thread only."""

    def __init__(self, db_url: str, course_id: str = "") -> None:
        self.gb = Gradebook(db_url, course_id)
        RUNS.create(self.gb.db.get_bind(), checkfirst=True)

    def close(self) -> None:
        self.gb.close()

    def graded(self) -> dict[tuple[str, str], str]:
        """``(student_id, assignment) -> digest`` of every submission this command graded and that is still in the gradebook."""
        rows = self.gb.db.execute(select(RUNS.c.student_id, RUNS.c.assignment, RUNS.c.digest)).all()
        present = {(s.student.id, s.assignment.name) for s in self.gb.db.query(SubmittedAssignment).all()}
        self.gb.db.commit()
        return {(r.student_id, r.assignment): r.digest for r in rows if (r.student_id, r.assignment) in present}

    def write(self, student_id: str, assignment: str, notebooks: list[NotebookGrades], *, digest: str,
              timestamp: dt.datetime | None, score: float, max_score: float, problems: list[str]) -> None:
        """Record one graded submission, all of it in one transaction."""
        db = self.gb.db
        try:
            with db.no_autoflush:
                student = db.get(Student, student_id)
                if student is None:
                    student = Student(id=student_id)
                    db.add(student)
                target = self.gb.find_assignment(assignment)
                submission = (db.query(SubmittedAssignment)
                              .filter(SubmittedAssignment.assignment_id == target.id, SubmittedAssignment.student_id == student_id)
                              .one_or_none())
                if submission is None:
                    submission = SubmittedAssignment(assignment=target, student=student)
                    db.add(submission)
                    for notebook in target.notebooks:
                        submitted = SubmittedNotebook(notebook=notebook, assignment=submission)
                        db.add(submitted)
                        for cell in [*notebook.grade_cells, *notebook.task_cells]:
                            db.add(Grade(cell=cell, notebook=submitted))
                        for cell in [*notebook.solution_cells, *notebook.task_cells]:
                            db.add(Comment(cell=cell, notebook=submitted))
                if timestamp is not None:
                    submission.timestamp = timestamp
                by_name = {nb.notebook: nb for nb in notebooks}
                for submitted in submission.notebooks:
                    outcome = by_name.get(submitted.notebook.name)
                    for grade in submitted.grades:
                        row = outcome.grades.get(grade.cell.name) if outcome else GradeRow(0.0)
                        grade.auto_score = row.auto_score if row is not None else None
                        grade.needs_manual_grade = (grade.manual_score is not None or grade.auto_score is None
                                                    or (row is not None and row.needs_review))
                    for comment in submitted.comments:
                        unanswered = outcome is None or comment.cell.name in outcome.unanswered
                        comment.auto_comment = "No response." if unanswered else None
                values = dict(digest=digest, graded_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                              score=score, max_score=max_score, problems="\n".join(problems))
                key = (RUNS.c.student_id == student_id) & (RUNS.c.assignment == assignment)
                if db.execute(select(RUNS.c.digest).where(key)).first() is None:
                    db.execute(RUNS.insert().values(student_id=student_id, assignment=assignment, **values))
                else:
                    db.execute(RUNS.update().where(key).values(**values))
            db.commit()
        except BaseException:
            db.rollback()
            raise


def grades_of(cells: list[Any], test_scores: dict[str, float], *, readable: bool,
              review: set[str] | frozenset[str] = frozenset()) -> tuple[dict[str, GradeRow], set[str]]:
    """Grades and unanswered cells of one executed notebook, the way nbgrader scores them.

    Test cells get the judge's score (and are left for a person when their grade id is in
    ``review``). Answers graded by hand (and code answer cells) follow
    nbgrader: 0 when the cell is unchanged from the release, else left for a person.
    An unreadable or missing notebook scores 0 everywhere, as stock nbgrader scores a
    missing one.
    """
    grades: dict[str, GradeRow] = {}
    unanswered: set[str] = set()
    for cell in cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if not gid:
            continue
        unchanged = "checksum" in meta and meta["checksum"] == nbutils.compute_checksum(cell)
        if (meta.get("solution") or meta.get("task")) and (unchanged or not readable) and not meta.get("task"):
            unanswered.add(gid)
        if not meta.get("grade"):
            continue
        if not readable:
            grades[gid] = GradeRow(0.0)
        elif gid in test_scores:
            grades[gid] = GradeRow(test_scores[gid], needs_review=gid in review)
        else:
            auto, _ = nbutils.determine_grade(cell) if (meta.get("solution") or cell.cell_type != "code") else (None, None)
            grades[gid] = GradeRow(auto)
    return grades, unanswered
