"""What grading recorded for each submission, read back from the gradebook, part by part.

One reading for every consumer: the summary ``course autograde`` prints, the feedback a
student reads, the instructor's report and the LMS exports. A *part* is one grade cell:
a test cell the judge scored (``kind="test"``), or an answer a person grades (a written
answer, ``kind="written"``, or code graded by hand, ``kind="answer"``).

For a test cell the judge's verdict is shown as it was recorded
(:data:`~course_lib.grading.autograde.gradebook.CELLS`): every field it holds, so that a
state the judge learns to record later (a forbidden call, a flag for manual review)
reaches the student and the report without changes here.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from course_lib.grading.course import Course

__all__ = ["Part", "SubmissionResult", "load_results", "STATE_LABELS", "part_label"]

STATE_LABELS = {
    "stopped": "not graded: the notebook stopped before this test ran to its end",
    "silent": "not graded: the test cell ran but its checks never reported (the notebook changed what the test does)",
    "garbled": "not graded: the answers could not be read",
    "unreadable": "not graded: the submission could not be read",
    "forbidden": "a forbidden call",
    "flagged": "flagged for a person to review",
}
"""Readable words for the states the judge records; any other state is shown as it is."""

_VERDICT_CORE = {"grade_id", "points", "score", "reason", "answer_errors"}

_TIMEOUT = ("timed out", "ran past its limit", "ran past the limit", "ran past the time limit", "did not stop when interrupted")
_CRASH = ("process ended", "killed by", "sandbox failed", "sent garbage")


def part_label(grade_id: str) -> str:
    """``"test_ridge_risk"`` -> ``"ridge_risk"``: how a part is named in tables."""
    return grade_id[len("test_"):] if grade_id.startswith("test_") else grade_id


@dataclass
class Part:
    """One grade cell of one submitted notebook."""

    notebook: str
    grade_id: str
    kind: str
    points: float
    auto_score: float | None
    manual_score: float | None
    needs_manual_grade: bool
    verdict: dict[str, Any] | None = None
    comment: str | None = None
    check: str | None = None
    """For a test cell: the check it calls (from the source notebook)."""

    @property
    def label(self) -> str:
        return part_label(self.grade_id)

    @property
    def score(self) -> float | None:
        """The points that count: a person's grade when there is one, else the automatic one."""
        return self.manual_score if self.manual_score is not None else self.auto_score

    @property
    def awaiting(self) -> bool:
        """A person has to grade (or look again at) this part."""
        return self.needs_manual_grade

    @property
    def hand_graded(self) -> bool:
        return self.manual_score is not None and not self.needs_manual_grade

    @property
    def reason(self) -> str | None:
        """Why points were lost, as recorded (answer errors first), or None."""
        if self.kind != "test" or not self.verdict:
            return None
        texts = list(self.verdict.get("answer_errors") or [])
        if self.verdict.get("reason"):
            texts.append(str(self.verdict["reason"]))
        return "\n".join(texts) or None

    @property
    def states(self) -> list[str]:
        """Every state the judge recorded besides points and reason (``"stopped"``, ``"flagged"``...)."""
        if not self.verdict:
            return []
        found = []
        for key, value in self.verdict.items():
            if key in _VERDICT_CORE or value in (None, False, "", [], {}):
                continue
            found.append(key if value is True else str(value))
        return found

    def state_words(self) -> list[str]:
        return [STATE_LABELS.get(state, state.replace("_", " ")) for state in self.states]

    @property
    def lost(self) -> bool:
        return self.kind == "test" and self.score is not None and self.score < self.points

    def short(self) -> str:
        """Why a lost or pending part lost its points, in one line without the part's name."""
        if self.awaiting:
            return "awaiting grading"
        errors = (self.verdict or {}).get("answer_errors") or []
        if errors:
            return str(errors[0])
        if self.mistake is not None:
            return f"known mistake {self.mistake[0]!r}"
        words = self.states
        if words and words[0] in STATE_LABELS:
            return STATE_LABELS[words[0]]
        first = (self.reason or "no reason recorded").strip().splitlines()[0].rstrip(" :")
        if first.startswith(self.label + " "):
            first = first[len(self.label) + 1:]
        return first[:140]

    @property
    def mistake(self) -> tuple[str, str] | None:
        """``(name, message)`` of the known mistake the judge named for this part, if any."""
        reason = self.reason
        if not reason or not self.check or "known mistake" not in reason:
            return None
        from course_lib.grading import get_check

        try:
            mistakes = get_check(self.check).mistakes
        except KeyError:
            return None
        for m in mistakes:
            if m.message in reason:
                return m.name, m.message
        return None


@dataclass
class SubmissionResult:
    """One graded submission: its parts, what the grader noticed, and its totals."""

    student_id: str
    assignment: str
    first_name: str | None
    last_name: str | None
    parts: list[Part]
    problems: list[str] = field(default_factory=list)
    timestamp: dt.datetime | None = None
    score: float = 0.0
    max_score: float = 0.0

    @property
    def name(self) -> str:
        return " ".join(n for n in (self.first_name, self.last_name) if n) or self.student_id

    def _sum(self, parts: Iterable[Part], attr: str) -> float:
        return float(sum(getattr(p, attr) or 0.0 for p in parts))

    @property
    def tests(self) -> list[Part]:
        return [p for p in self.parts if p.kind == "test"]

    @property
    def autograded(self) -> float:
        """Points the judge awarded (or a person's override of them)."""
        return self._sum([p for p in self.tests if not p.awaiting], "score")

    @property
    def autograded_max(self) -> float:
        return self._sum(self.tests, "points")

    @property
    def awaiting_points(self) -> float:
        """Points a person has still to give or refuse."""
        return self._sum([p for p in self.parts if p.awaiting], "points")

    @property
    def hand_max(self) -> float:
        return self._sum([p for p in self.parts if p.kind != "test"], "points")

    @property
    def hand_graded(self) -> float:
        return self._sum([p for p in self.parts if p.kind != "test" and not p.awaiting], "score")

    @property
    def timed_out(self) -> bool:
        return any(any(w in text for w in _TIMEOUT) for text in self.problems)

    @property
    def crashed(self) -> bool:
        return any(any(w in text for w in _CRASH) for text in self.problems)

    @property
    def flagged(self) -> bool:
        """The judge flagged a part for a person (or recorded a forbidden call)."""
        return any(s in ("flagged", "forbidden") or "flag" in s for p in self.tests for s in p.states)

    @property
    def awaiting(self) -> bool:
        return any(p.awaiting for p in self.parts)

    def reasons(self) -> list[str]:
        """What the grader noticed, then the lost or pending parts, those with the same reason together:
        ``["ridge_risk, standardize: raised NotImplementedError"]``."""
        lines = list(self.problems)
        grouped: dict[str, list[str]] = {}
        for part in self.parts:
            if part.lost or (part.awaiting and part.kind == "test"):
                grouped.setdefault(part.short(), []).append(part.label)
        lines += [f"{', '.join(labels)}: {text}" for text, labels in grouped.items()]
        return lines


def _test_checks(course: Course, assignment: str) -> dict[tuple[str, str], str]:
    """``(notebook, test grade_id) -> check name`` from the source notebooks."""
    import nbformat

    from course_lib.grading.autograde.plan import PlanError, check_calls

    found = {}
    for name in course.notebooks(assignment):
        nb = nbformat.read(course.source_dir / assignment / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                try:
                    calls = check_calls(cell.source, meta.get("grade_id", ""))
                except PlanError:
                    continue
                found[(name, meta["grade_id"])] = calls[0].check
    return found


def load_results(course: Course, assignments: Iterable[str] | None = None,
                 only: set[tuple[str, str]] | None = None) -> list[SubmissionResult]:
    """Every graded submission of ``assignments`` (default: all in the gradebook), sorted by
    assignment and student; ``only`` limits them to ``(student_id, assignment)`` pairs."""
    from nbgrader.api import Gradebook
    from sqlalchemy import inspect, select

    from course_lib.grading.autograde.gradebook import CELLS, RUNS

    results = []
    with Gradebook(course.db_url, course.course_id) as gb:
        db = gb.db
        tables = set(inspect(db.get_bind()).get_table_names())
        verdicts: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        runs: dict[tuple[str, str], Any] = {}
        if CELLS.name in tables:
            for row in db.execute(select(CELLS).where(CELLS.c.verdict.is_not(None))):
                verdicts[(row.student_id, row.assignment, row.notebook, row.grade_id)] = json.loads(row.verdict)
        if RUNS.name in tables:
            runs = {(r.student_id, r.assignment): r for r in db.execute(select(RUNS))}
        wanted = sorted(set(assignments) if assignments is not None else {a.name for a in gb.assignments})
        checks: dict[str, dict[tuple[str, str], str]] = {}
        for assignment in wanted:
            if assignment not in {a.name for a in gb.assignments}:
                continue
            if (course.source_dir / assignment).is_dir():
                checks[assignment] = _test_checks(course, assignment)
            for sub in sorted(gb.assignment_submissions(assignment), key=lambda s: s.student.id):
                student = sub.student
                if only is not None and (student.id, assignment) not in only:
                    continue
                parts = []
                for nb in sorted(sub.notebooks, key=lambda n: n.notebook.name):
                    comments = {c.cell.name: c.manual_comment for c in nb.comments}
                    order = {cell.name: i for i, cell in enumerate(nb.notebook.grade_cells)}
                    for grade in sorted(nb.grades, key=lambda g: order.get(g.cell.name, 0)):
                        key = (student.id, assignment, nb.notebook.name, grade.cell.name)
                        verdict = verdicts.get(key)
                        check = checks.get(assignment, {}).get((nb.notebook.name, grade.cell.name))
                        if verdict is not None or check is not None:
                            kind = "test"
                        else:
                            kind = "written" if grade.cell.cell_type == "markdown" else "answer"
                        parts.append(Part(nb.notebook.name, grade.cell.name, kind, float(grade.max_score),
                                          grade.auto_score, grade.manual_score, bool(grade.needs_manual_grade),
                                          verdict, comments.get(grade.cell.name), check))
                run = runs.get((student.id, assignment))
                problems = [p for p in (run.problems.split("\n") if run is not None and run.problems else []) if p]
                results.append(SubmissionResult(student.id, assignment, student.first_name, student.last_name, parts,
                                                problems, sub.timestamp, float(sub.score), float(sub.max_score)))
        db.commit()
    return results
