"""The ``course`` command: release, autograde, export grades and feedback.

A thin layer over nbgrader's Python API, configured by the course's
``nbgrader_config.py``. Every user error ends in one line on stderr and exit
status 2, never in a traceback.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

if TYPE_CHECKING:
    from course_lib.autograde.runner import Outcome

__all__ = ["main", "CourseError", "Course"]

CONFIG_NAME = "nbgrader_config.py"


class CourseError(Exception):
    """A problem the user can fix; reported as one line, exit status 2."""


def find_root(start: Path) -> Path:
    """The course directory: the nearest folder at or above ``start`` holding nbgrader_config.py."""
    for folder in [start, *start.parents]:
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise CourseError(f"no {CONFIG_NAME} in {start} or any folder above it; run `course` inside the course directory or pass --root")


class Course:
    """The course directory and nbgrader's API over it."""

    def __init__(self, root: Path, db_url: str | None = None) -> None:
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        self.root = root.resolve()
        # nbgrader runs `alembic` as a subprocess to set up the gradebook: make sure the
        # environment's scripts are found even when the virtual environment is not activated.
        bindir = str(Path(sys.executable).parent)
        if bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        config = PyFileConfigLoader(CONFIG_NAME, path=str(self.root)).load_config()
        config.CourseDirectory.root = str(self.root)
        if db_url:
            config.CourseDirectory.db_url = db_url
        if "db_url" in config.CourseDirectory:
            config.CourseDirectory.db_url = _with_driver(config.CourseDirectory.db_url)
            if not config.CourseDirectory.db_url.startswith("sqlite") and not config.CourseDirectory.get("course_id"):
                # nbgrader files assignments under the course id, a foreign key that SQLite does not
                # enforce and PostgreSQL does: an empty id (nbgrader's default) names no course row.
                config.CourseDirectory.course_id = "default_course"
        config.NbGraderAPI.log_level = "WARN"
        self.config = config
        self.coursedir = CourseDirectory(config=config)
        self.api = NbGraderAPI(self.coursedir, config=config)
        logging.getLogger("traitlets").setLevel(logging.ERROR)

    @property
    def source_dir(self) -> Path:
        return self.root / self.coursedir.source_directory

    @property
    def submitted_dir(self) -> Path:
        return self.root / self.coursedir.submitted_directory

    def assignments(self, requested: Sequence[str] | None = None) -> list[str]:
        """The assignments in the source folder, or the requested ones after checking they exist."""
        known = sorted(p.name for p in self.source_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) if self.source_dir.is_dir() else []
        if not requested:
            if not known:
                raise CourseError(f"no assignments in {self.source_dir}")
            return known
        unknown = [a for a in requested if a not in known]
        if unknown:
            raise CourseError(f"unknown assignment {unknown[0]!r}; known: {', '.join(known) or 'none'}")
        return list(requested)

    def notebooks(self, assignment: str) -> list[str]:
        """Names (without .ipynb) of an assignment's source notebooks."""
        return sorted(p.stem for p in (self.source_dir / assignment).glob("*.ipynb"))

    def release(self, assignment: str) -> None:
        """Regenerate ``exercises/<assignment>`` from ``solutions/<assignment>``."""
        result = self.api.generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise CourseError(f"could not release {assignment}: {_last_error(result)}")

    def submissions(self, assignment: str) -> Iterator[tuple[str, Path]]:
        """``(student_id, folder)`` for every student who submitted ``assignment``."""
        if not self.submitted_dir.is_dir():
            raise CourseError(f"no submissions: {self.submitted_dir} does not exist (layout: submitted/<student_id>/<assignment>/<notebook>.ipynb)")
        for student in sorted(self.submitted_dir.iterdir()):
            folder = student / assignment
            if student.is_dir() and folder.is_dir():
                yield student.name, folder

    def problems(self, assignment: str, folder: Path) -> str:
        """Why a submission folder cannot be graded as it is, or an empty string."""
        import nbformat

        reasons = []
        for name in self.notebooks(assignment):
            path = folder / f"{name}.ipynb"
            if not path.is_file():
                reasons.append(f"{path.name} is missing")
                continue
            try:
                nbformat.read(path, as_version=4)
            except Exception as err:
                reasons.append(f"{path.name} is not a valid notebook ({type(err).__name__}: {str(err).splitlines()[0][:120]})")
        return "; ".join(reasons)

    def autograde_one(self, assignment: str, student_id: str, folder: Path) -> Outcome:
        """Grade one submission; problems become the outcome's reason, never an exception."""
        from course_lib.autograde.runner import Outcome

        problem = self.problems(assignment, folder)
        if problem:
            return Outcome(student_id, assignment, ok=False, reason=problem)
        with self.api.gradebook as gb:
            gb.update_or_create_student(student_id)
        result = self.api.autograde(assignment, student_id, force=True, create=True)
        if not result["success"]:
            return Outcome(student_id, assignment, ok=False, reason=_last_error(result))
        with self.api.gradebook as gb:
            sub = gb.find_submission(assignment, student_id)
            return Outcome(student_id, assignment, ok=True, score=sub.score, max_score=sub.max_score)

    def grade_rows(self) -> list[dict[str, object]]:
        """One row per student and assignment, 0 points where nothing was graded."""
        from nbgrader.api import MissingEntry

        rows = []
        with self.api.gradebook as gb:
            for assignment in sorted(gb.assignments, key=lambda a: a.name):
                for student in sorted(gb.students, key=lambda s: s.id):
                    try:
                        sub = gb.find_submission(assignment.name, student.id)
                        score, needs_manual, status = sub.score, sub.needs_manual_grade, "graded"
                    except MissingEntry:
                        score, needs_manual, status = 0.0, False, "no graded submission"
                    rows.append({
                        "student_id": student.id,
                        "assignment": assignment.name,
                        "score": round(score, 4),
                        "max_score": assignment.max_score,
                        "needs_manual_grade": needs_manual,
                        "status": status,
                    })
        return rows

    def feedback(self, assignment: str, student_id: str) -> None:
        result = self.api.generate_feedback(assignment, student_id, force=True)
        if not result["success"]:
            raise CourseError(f"feedback for {student_id}/{assignment} failed: {_last_error(result)}")


def _with_driver(db_url: str) -> str:
    """``postgresql://...`` with the PostgreSQL driver that is installed (SQLAlchemy 2.1 defaults to psycopg 3)."""
    import importlib.util

    for scheme in ("postgresql://", "postgres://"):
        if db_url.startswith(scheme) and importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
            return "postgresql+psycopg2://" + db_url[len(scheme):]
    return db_url


def _last_error(result: dict) -> str:
    """The most telling line of an nbgrader result's log or error."""
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for marker in ("Error:", "Exception:", "ERROR", "error"):
        for line in reversed(lines):
            if marker in line and "Traceback" not in line and "see the the above traceback" not in line:
                return line[:300]
    return lines[-1][:300] if lines else "unknown error"


def _print_table(outcomes: list[Outcome]) -> None:
    if not outcomes:
        return
    width = max(len("student"), *(len(o.student_id) for o in outcomes))
    print(f"\n{'student':<{width}}  {'assignment':<16} {'score':>12}  status")
    for o in outcomes:
        score = f"{o.score:g} / {o.max_score:g}" if o.ok else "-"
        status = "graded" if o.ok else f"FAILED: {o.reason}"
        print(f"{o.student_id:<{width}}  {o.assignment:<16} {score:>12}  {status}")
    failed = sum(not o.ok for o in outcomes)
    print(f"\n{len(outcomes) - failed} graded, {failed} failed")


def cmd_release(course: Course, args: argparse.Namespace) -> int:
    for assignment in course.assignments(args.assignment):
        course.release(assignment)
        print(f"released {assignment} -> {course.coursedir.release_directory}/{assignment}")
    return 0


def cmd_autograde(course: Course, args: argparse.Namespace) -> int:
    assignments = course.assignments(args.assignment)
    work = [(a, s, f) for a in assignments for s, f in course.submissions(a) if not args.student or s in args.student]
    if not work:
        raise CourseError(f"nothing to grade: no submitted/<student>/<assignment> folder for {', '.join(assignments)}")
    if args.jobs is not None and args.jobs < 1:
        raise CourseError("--jobs must be at least 1")
    if not args.stock:
        from course_lib.autograde.sandbox import SandboxError, sandbox_kind

        try:
            sandbox_kind(args.sandbox)
        except SandboxError as err:
            raise CourseError(str(err)) from None
    for assignment in assignments:
        # Registers the source's test cells and points in the gradebook (and rewrites the
        # identical release): grading always uses the tests of the current source notebooks.
        course.release(assignment)
    if args.stock:
        return _autograde_stock(course, work, quiet=args.quiet)
    from course_lib.autograde import Limits, Run, SandboxError

    jobs = args.jobs or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    timeout = course.config.Execute.get("timeout", 120) if "Execute" in course.config else 120
    limits = Limits(cell_seconds=args.cell_timeout or float(timeout or 120), notebook_seconds=args.notebook_timeout,
                    memory_bytes=int(args.memory_mb) << 20)
    try:
        run = Run(course, jobs=jobs, sandbox=args.sandbox, limits=limits, force=args.force)
    except SandboxError as err:
        raise CourseError(str(err)) from None
    if run.kind == "none" and args.sandbox == "auto":
        print("course: warning: bubblewrap (bwrap) is not installed, so student code runs without a sandbox "
              "(the judge still decides every point); apt-get install bubblewrap", file=sys.stderr)
    report = run.execute(work, progress=not args.quiet)
    _print_report(report)
    if report.interrupted:
        print("course: interrupted; every submission listed above is saved, run the same command again to grade the rest",
              file=sys.stderr)
        return 130
    return 0


def _autograde_stock(course: Course, work: list[tuple[str, str, Path]], *, quiet: bool) -> int:
    """Stock nbgrader, one submission at a time in the student's own kernel (for comparisons)."""
    from tqdm import tqdm

    outcomes = []
    with tqdm(work, desc="autograde (stock nbgrader)", unit="submission", disable=quiet) as bar:
        for assignment, student_id, folder in bar:
            bar.set_postfix_str(f"{student_id}/{assignment}")
            outcomes.append(course.autograde_one(assignment, student_id, folder))
    _print_table(outcomes)
    return 0


def _print_report(report) -> None:
    outcomes = report.outcomes
    if outcomes:
        width = max(len("student"), *(len(o.student_id) for o in outcomes))
        print(f"\n{'student':<{width}}  {'assignment':<16} {'score':>12}  status")
        for o in sorted(outcomes, key=lambda o: (o.assignment, o.student_id)):
            score = f"{o.score:g} / {o.max_score:g}" if o.ok else "-"
            if not o.ok:
                status = f"FAILED: {o.reason}"
            elif o.problems:
                status = "graded; " + "; ".join(o.problems)
            else:
                status = "graded"
            print(f"{o.student_id:<{width}}  {o.assignment:<16} {score:>12}  {status}")
    failed = sum(not o.ok for o in outcomes)
    line = f"\n{len(outcomes) - failed} graded, {failed} failed"
    if report.unchanged:
        line += f", {report.unchanged} unchanged since last graded (skipped; --force regrades them)"
    print(line)
    if outcomes:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(report.phases.items(), key=lambda kv: -kv[1]))
        print(f"{report.seconds:.1f} s with {report.workers} worker(s), sandbox: {report.sandbox}; summed over workers: {phases}")


def cmd_grades(course: Course, args: argparse.Namespace) -> int:
    rows = course.grade_rows()
    fields = ["student_id", "assignment", "score", "max_score", "needs_manual_grade", "status"]
    target = Path(args.csv)
    if not target.parent.is_dir():
        raise CourseError(f"cannot write {target}: folder {target.parent} does not exist")
    with open(target, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {target}")
    return 0


def cmd_feedback(course: Course, args: argparse.Namespace) -> int:
    assignments = course.assignments(args.assignment)
    done = 0
    with course.api.gradebook as gb:
        graded = {(s.student.id, s.assignment.name) for a in assignments for s in gb.assignment_submissions(a)}
    for student_id, assignment in sorted(graded, key=lambda t: (t[1], t[0])):
        course.feedback(assignment, student_id)
        done += 1
    if not done:
        raise CourseError("no graded submissions yet: run `course autograde` first")
    print(f"wrote feedback for {done} submission(s) under {course.coursedir.feedback_directory}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description="Release, autograde and report the course's assignments.")
    parser.add_argument("--root", type=Path, default=None, help="the course directory (default: found from the current folder)")
    parser.add_argument("--db-url", default=None, help="gradebook URL (default: sqlite:///gradebook.db, or $COURSE_DB_URL)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate exercises/ from solutions/")
    p.add_argument("assignment", nargs="*", help="assignments to release (default: all)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("autograde", help="grade everything under submitted/",
                       description="Grade submissions in parallel sandboxes; the judge (this process) computes every "
                                   "point from the source notebooks' checks. Submissions graded before and unchanged "
                                   "since are skipped, so an interrupted run resumes.")
    p.add_argument("assignment", nargs="*", help="assignments to grade (default: all)")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument("--jobs", "-j", type=int, default=None, help="parallel workers (default: the number of cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true", help="regrade submissions even if unchanged since last graded")
    p.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="auto",
                   help="bwrap: bubblewrap sandbox; none: no sandbox (student code can read the disk); auto: bwrap if installed")
    p.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: nbgrader's Execute.timeout)")
    p.add_argument("--notebook-timeout", type=float, default=600.0, help="seconds per notebook (default: 600)")
    p.add_argument("--memory-mb", type=int, default=4096, help="memory per notebook on top of the libraries (default: 4096)")
    p.add_argument("--stock", action="store_true", help="grade with stock nbgrader instead, one at a time in the student's kernel")
    p.set_defaults(func=cmd_autograde)

    p = sub.add_parser("grades", help="export grades as CSV")
    p.add_argument("--csv", required=True, help="output file")
    p.set_defaults(func=cmd_grades)

    p = sub.add_parser("feedback", help="write HTML feedback for every graded submission")
    p.add_argument("assignment", nargs="*", help="assignments (default: all)")
    p.set_defaults(func=cmd_feedback)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``course`` console script."""
    args = build_parser().parse_args(argv)
    # A shell that starts `course` in the background makes it ignore SIGINT; an interrupt
    # must still stop a run cleanly (it resumes later), so take the default handler back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        root = args.root if args.root else find_root(Path.cwd())
        if not (root / CONFIG_NAME).is_file():
            raise CourseError(f"{root} is not a course directory: it has no {CONFIG_NAME}")
        course = Course(root, db_url=args.db_url or os.environ.get("COURSE_DB_URL"))
        return args.func(course, args)
    except CourseError as err:
        print(f"course: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("course: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
