"""The course directory and nbgrader's API over it.

:class:`Course` reads the course's ``nbgrader_config.py`` (``solutions/`` is the source
folder, ``exercises/`` the release folder) and opens the gradebook: SQLite by default,
or any database SQLAlchemy reaches (``--db-url``, ``COURSE_DB_URL``).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from course_lib.grading.errors import CourseError

if TYPE_CHECKING:
    from course_lib.grading.autograde.runner import Outcome

__all__ = ["CONFIG_NAME", "Course", "find_root", "scripts_on_path"]

CONFIG_NAME = "nbgrader_config.py"


def scripts_on_path() -> None:
    """Put this interpreter's scripts folder on ``PATH`` (for the process that runs ``course``).

    nbgrader runs ``alembic`` as a subprocess when it creates a gradebook, so the
    environment's scripts must be found even when the virtual environment is not activated.
    The ``course`` command calls this once at start-up; a :class:`Course` itself never
    changes the process's environment.
    """
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def find_root(start: Path) -> Path:
    """The course directory: the nearest folder at or above ``start`` holding nbgrader_config.py."""
    for folder in [start, *start.parents]:
        if (folder / CONFIG_NAME).is_file():
            return folder
    raise CourseError(f"no {CONFIG_NAME} in {start} or any folder above it; run `course` inside the course directory or pass --root")


class Course:
    """The course directory and nbgrader's API over it."""

    def __init__(self, root: Path, db_url: str | None = None) -> None:
        from traitlets.config.loader import PyFileConfigLoader

        self.root = root.resolve()
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

    # nbgrader loads in seconds: the folders come from the configuration alone, so that bad
    # input is answered at once; nbgrader's objects are built on first use.

    def _folder(self, trait: str, default: str) -> Path:
        return self.root / str(self.config.CourseDirectory.get(trait, default))

    @functools.cached_property
    def coursedir(self) -> Any:
        """nbgrader's ``CourseDirectory`` of the course."""
        from nbgrader.coursedir import CourseDirectory

        logging.getLogger("traitlets").setLevel(logging.ERROR)
        return CourseDirectory(config=self.config)

    @functools.cached_property
    def api(self) -> Any:
        """nbgrader's ``NbGraderAPI`` over the course."""
        from nbgrader.apps.api import NbGraderAPI

        return NbGraderAPI(self.coursedir, config=self.config)

    @property
    def source_dir(self) -> Path:
        return self._folder("source_directory", "source")

    @property
    def release_dir(self) -> Path:
        return self._folder("release_directory", "release")

    @property
    def submitted_dir(self) -> Path:
        return self._folder("submitted_directory", "submitted")

    @property
    def autograded_dir(self) -> Path:
        return self._folder("autograded_directory", "autograded")

    @property
    def feedback_dir(self) -> Path:
        return self._folder("feedback_directory", "feedback")

    @property
    def db_url(self) -> str:
        return str(self.config.CourseDirectory.get("db_url", f"sqlite:///{self.root / 'gradebook.db'}"))

    @property
    def course_id(self) -> str:
        return str(self.config.CourseDirectory.get("course_id", ""))

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
        from course_lib.grading.autograde.runner import Outcome

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
