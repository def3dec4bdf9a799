"""Writing the judge's grades into nbgrader's gradebook: one transaction per submission.

Only the judge (the parent ``course autograde`` process) writes, and it writes a whole
submission or nothing: the student, the submission with its notebooks, every grade and
comment, and a row of ``course_autograde_runs`` holding the hash of what was graded, all
committed together. A run stopped at any moment leaves every submission either graded
completely or not at all, and a rerun skips exactly the submissions whose row still
matches their hash. SQLite and PostgreSQL alike, through nbgrader's own models, so
``course grades``, ``course feedback`` and the formgrader read the grades as usual.

Next to nbgrader's tables, ``course_autograde_cells`` keeps, per grade cell, what a
person reading a grade needs and nbgrader has no column for: the judge's verdict on a
test cell (points, reason, state, as the judge recorded them) and a hash of the answer
that was graded, so that a regrade keeps a hand grade while the answer it graded stays
the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
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

__all__ = ["RUNS", "CELLS", "GradeRow", "NotebookGrades", "GradebookWriter", "grades_of", "answer_errors"]

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

CELLS = Table(
    "course_autograde_cells",
    MetaData(),
    Column("student_id", String(128), primary_key=True),
    Column("assignment", String(128), primary_key=True),
    Column("notebook", String(128), primary_key=True),
    Column("grade_id", String(128), primary_key=True),
    Column("answer_digest", String(64), nullable=False),
    Column("verdict", Text, nullable=True),
)
"""Per grade cell of a graded submission: the hash of the answer graded, and the judge's verdict
(JSON: every field the judge recorded for a test cell, plus ``answer_errors``) or NULL."""


@dataclass
class GradeRow:
    """One grade cell's outcome: an automatic score (None: a person must grade it).

    Attributes:
        auto_score: the automatic score, or None when a person must grade the cell.
        answer_digest: hash of what was graded (the answer cell itself, or for a test
            cell every answer of its notebook).
        verdict: for a test cell, the judge's record of it (a JSON-ready dict).
        needs_review: the judge could not decide whether the answer is the student's own work.
    """

    auto_score: float | None
    answer_digest: str = ""
    verdict: dict[str, Any] | None = field(default=None)
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
        CELLS.create(self.gb.db.get_bind(), checkfirst=True)

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
                key = (CELLS.c.student_id == student_id) & (CELLS.c.assignment == assignment)
                graded_before = {(r.notebook, r.grade_id): r.answer_digest
                                 for r in db.execute(select(CELLS.c.notebook, CELLS.c.grade_id, CELLS.c.answer_digest).where(key))}
                cells = []
                for submitted in submission.notebooks:
                    outcome = by_name.get(submitted.notebook.name)
                    for grade in submitted.grades:
                        row = outcome.grades.get(grade.cell.name) if outcome else GradeRow(0.0)
                        row = row if row is not None else GradeRow(None)
                        grade.auto_score = row.auto_score
                        if grade.manual_score is None:
                            grade.needs_manual_grade = grade.auto_score is None or row.needs_review
                        elif graded_before.get((submitted.notebook.name, grade.cell.name)) != row.answer_digest:
                            # a person graded another answer than this one: they must look again
                            grade.needs_manual_grade = True
                        cells.append(dict(student_id=student_id, assignment=assignment, notebook=submitted.notebook.name,
                                          grade_id=grade.cell.name, answer_digest=row.answer_digest,
                                          verdict=None if row.verdict is None else json.dumps(row.verdict, default=str)))
                    for comment in submitted.comments:
                        unanswered = outcome is None or comment.cell.name in outcome.unanswered
                        comment.auto_comment = "No response." if unanswered else None
                db.execute(CELLS.delete().where(key))
                if cells:
                    db.execute(CELLS.insert(), cells)
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


def _digest(*texts: str) -> str:
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


_LINE = re.compile(r"line (\d+)\)?\s*$")


def answer_errors(cells: list[Any], upto: int) -> list[str]:
    """The errors of the answer cells (and the student's own cells) that ran before test cell ``upto``
    and after the test cell before it, e.g. ``"answer cell 'ridge_risk': SyntaxError on line 2: '(' was never closed"``."""
    start = upto
    while start > 0 and not _is_test(cells[start - 1]):
        start -= 1
    found = []
    for cell in cells[start:upto]:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not (meta.get("solution") or not meta.get("grade_id")):
            continue
        where = f"answer cell {meta['grade_id']!r}" if meta.get("grade_id") else "your own cell"
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            name, value = str(output.get("ename", "Error")), str(output.get("evalue", ""))
            line = _LINE.search(value)
            if line and name in ("SyntaxError", "IndentationError", "TabError"):
                value = re.sub(r"\s*\([^()]*, line \d+\)\s*$", "", value)
                found.append(f"{where}: {name} on line {line.group(1)}: {value}")
            elif name == "KeyboardInterrupt":
                found.append(f"{where} ran past the time limit and was interrupted")
            else:
                found.append(f"{where} raised {name}: {value}".rstrip(": "))
    return found


def _is_test(cell: Any) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def grades_of(cells: list[Any], test_scores: dict[str, float], *, readable: bool,
              verdicts: dict[str, dict[str, Any]] | None = None,
              review: set[str] | frozenset[str] = frozenset()) -> tuple[dict[str, GradeRow], set[str]]:
    """Grades and unanswered cells of one executed notebook, the way nbgrader scores them.

    Test cells get the judge's score, and its verdict (``verdicts``, by grade_id) with the
    errors of the answers before the test added (:func:`answer_errors`); those in ``review``
    are left for a person as well (the judge could not decide). Answers graded by
    hand (and code answer cells) follow nbgrader: 0 when the cell is unchanged from the
    release, else left for a person. An unreadable or missing notebook scores 0
    everywhere, as stock nbgrader scores a missing one.
    """
    grades: dict[str, GradeRow] = {}
    unanswered: set[str] = set()
    answers = _digest(*(c.source for c in cells if c.metadata.get("nbgrader", {}).get("solution") or
                        (c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("grade_id"))))
    for index, cell in enumerate(cells):
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if not gid:
            continue
        unchanged = "checksum" in meta and meta["checksum"] == nbutils.compute_checksum(cell)
        if (meta.get("solution") or meta.get("task")) and (unchanged or not readable) and not meta.get("task"):
            unanswered.add(gid)
        if not meta.get("grade"):
            continue
        if gid in test_scores:
            verdict = dict((verdicts or {}).get(gid) or {"score": test_scores[gid]})
            verdict["answer_errors"] = answer_errors(cells, index) if readable else []
            grades[gid] = GradeRow(test_scores[gid] if readable else 0.0, answers, verdict,
                                   needs_review=readable and gid in review)
        elif not readable:
            grades[gid] = GradeRow(0.0, answers)
        else:
            auto, _ = nbutils.determine_grade(cell) if (meta.get("solution") or cell.cell_type != "code") else (None, None)
            grades[gid] = GradeRow(auto, _digest(cell.source) if meta.get("solution") else answers)
    return grades, unanswered
