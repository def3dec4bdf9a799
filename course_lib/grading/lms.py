"""The learning-management system in and out: Canvas and Moodle archives in, gradebook CSVs out.

**The roster** is a CSV file with a header row. ``student_id`` is required (the id used in
``submitted/`` and the gradebook); ``first_name``, ``last_name``, ``email``, ``lms_id``
(the Canvas user id, or the Moodle participant id of the assignment), ``sis_user_id``,
``sis_login_id`` and ``section`` are optional. Its names, emails and LMS ids go into the
gradebook, so the Formgrader and the exports show them.

**Collecting** (:func:`collect`) reads a bulk-download archive (a ``.zip`` or the folder it
was unpacked into) of one assignment and writes
``submitted/<student_id>/<assignment>/<notebook>.ipynb``. Naming rules:

* Canvas names each file ``<name>_<user id>_<submission id>_<file>``, or
  ``<name>_LATE_<user id>_<submission id>_<file>`` for a late one; the user id is
  looked up in the roster's ``lms_id``.
* Moodle names each file ``<full name>_<participant id>_assignsubmission_file_<file>``
  (or puts ``<file>`` in a folder of that name); the participant id is looked up in
  ``lms_id``, else the full name in the roster's first and last names.
* ``<file>`` names the notebook once the copies' suffixes are taken off (Canvas's
  ``-1``, ``-2``, a browser's `` (1)``); when the assignment has one notebook, any one
  ``.ipynb`` a student sent is taken as it (and said so).
* Several files for the same student and notebook (resubmissions, late ones,
  duplicates): the newest counts (the archive's time of the file, then the larger
  copy number, then the larger submission id); the others are reported as skipped.
* Every other file is skipped with the reason: not a notebook, a name that follows
  neither LMS's rule, a student not in the roster, a notebook the assignment does not
  have, a file too large.

**Exporting** (:func:`write_grades`): ``canvas`` writes the columns Canvas's gradebook
import reads (``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, one
column per assignment, and a ``Points Possible`` row); ``moodle`` writes ``First name``,
``Last name``, ``ID number``, ``Email address`` and one column per assignment, for
Moodle's "Import grades from CSV" (map ``Email address`` or ``ID number`` to the user).
A student with no graded submission gets 0; a submission with answers still awaiting
hand-grading is exported with the points it has so far, and counted in the returned
summary.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable, Iterator

from course_lib.grading.errors import CourseError

if TYPE_CHECKING:
    from course_lib.grading.course import Course

__all__ = ["RosterEntry", "Roster", "read_roster", "CollectReport", "collect", "store_roster", "write_grades", "FORMATS"]

FORMATS = ("plain", "canvas", "moodle")
ROSTER_COLUMNS = ("student_id", "first_name", "last_name", "email", "lms_id", "sis_user_id", "sis_login_id", "section")
MAX_NOTEBOOK_BYTES = 64 << 20

_CANVAS = re.compile(r"^(?P<slug>[^_/]+)_(?:(?P<late>LATE)_)?(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
_MOODLE = re.compile(r"^(?P<name>.+?)_(?P<user>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.*)$")
_COPY_SUFFIX = re.compile(r"^(?P<stem>.*?)(?:-(?P<canvas>\d+)| \((?P<browser>\d+)\))?$")
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


@dataclass(frozen=True)
class RosterEntry:
    """One student of the roster."""

    student_id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    lms_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""

    @property
    def full_name(self) -> str:
        return " ".join(n for n in (self.first_name, self.last_name) if n)


@dataclass
class Roster:
    """The roster's students, by student id, LMS id and full name."""

    students: list[RosterEntry]

    def by_lms_id(self, lms_id: str) -> RosterEntry | None:
        return next((s for s in self.students if s.lms_id and s.lms_id == lms_id), None)

    def by_name(self, name: str) -> RosterEntry | None:
        """The only student with this full name (case and spacing ignored), else None."""
        key = " ".join(name.lower().split())
        found = [s for s in self.students if s.full_name and " ".join(s.full_name.lower().split()) == key]
        return found[0] if len(found) == 1 else None


def read_roster(path: Path) -> Roster:
    """Read and check a roster CSV (see the module's docstring).

    Raises:
        CourseError: a missing file or column, an empty or invalid student id, or a
            student id or LMS id given twice.
    """
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"no roster at {path} (a CSV with a student_id column; see `course collect --help`)")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            if "student_id" not in header:
                raise CourseError(f"{path}: the roster needs a student_id column; its columns are: {', '.join(header) or 'none'}")
            rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    except UnicodeDecodeError as err:
        raise CourseError(f"{path}: the roster is not UTF-8 text ({err.reason})") from None
    except csv.Error as err:
        raise CourseError(f"{path}: not a readable CSV ({err})") from None
    students, seen_ids, seen_lms = [], set(), set()
    for line, row in enumerate(rows, start=2):
        sid = row.get("student_id", "")
        if not _STUDENT_ID.match(sid):
            raise CourseError(f"{path} line {line}: student_id {sid!r} is empty or has characters a folder name cannot have")
        if sid in seen_ids:
            raise CourseError(f"{path} line {line}: student_id {sid!r} appears twice")
        lms = row.get("lms_id", "")
        if lms and lms in seen_lms:
            raise CourseError(f"{path} line {line}: lms_id {lms!r} appears twice")
        seen_ids.add(sid)
        if lms:
            seen_lms.add(lms)
        students.append(RosterEntry(**{c: row.get(c, "") for c in ROSTER_COLUMNS}))
    if not students:
        raise CourseError(f"{path}: the roster lists no students")
    return Roster(students)


# ---- collecting -----------------------------------------------------------------------------


@dataclass
class _Candidate:
    entry: str
    student: RosterEntry
    notebook: str
    when: dt.datetime
    copy: int
    submission: int
    late: bool
    read: Callable[[], bytes]
    renamed_from: str | None


@dataclass
class CollectReport:
    """What :func:`collect` did: the notebooks written, every file skipped with its reason, who sent nothing."""

    assignment: str
    written: list[tuple[str, str, str]] = field(default_factory=list)
    """``(student_id, notebook, archive entry)`` of every notebook written (or unchanged)."""
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """``(archive entry, reason)``."""
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    """Student ids of the roster with no notebook in the archive."""


@contextlib.contextmanager
def _entries(archive: Path) -> Iterator[list[tuple[str, int, dt.datetime, Callable[[], bytes]]]]:
    """``(relative name, size, time, read)`` of every file of a zip archive or a folder."""
    if archive.is_dir():
        found = []
        for path in sorted(p for p in archive.rglob("*") if p.is_file()):
            stat = path.stat()
            found.append((path.relative_to(archive).as_posix(), stat.st_size, dt.datetime.fromtimestamp(stat.st_mtime),
                          path.read_bytes))
        yield found
        return
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise CourseError(f"{archive} is neither a zip archive nor a folder ({err})") from None
    with zf:
        found = []
        for info in zf.infolist():
            if info.is_dir():
                continue
            try:
                when = dt.datetime(*info.date_time)
            except ValueError:
                when = dt.datetime.min
            found.append((info.filename, info.file_size, when, functools.partial(zf.read, info)))
        yield found


def _parse(name: str, roster: Roster) -> tuple[RosterEntry | None, str, dict[str, object], str | None]:
    """``(student, file name, details, problem)`` of one archive entry."""
    path = PurePosixPath(name)
    first, base = path.parts[0], path.name
    canvas = _CANVAS.match(base) if len(path.parts) == 1 else None
    moodle = _MOODLE.match(first)
    if canvas and not (moodle and len(path.parts) == 1 and "assignsubmission_" in base):
        student = roster.by_lms_id(canvas["user"])
        if student is None:
            return None, canvas["file"], {}, f"Canvas user {canvas['user']} is not in the roster's lms_id column"
        return student, canvas["file"], {"late": bool(canvas["late"]), "submission": int(canvas["submission"])}, None
    if moodle:
        if moodle["plugin"] != "file":
            return None, base, {}, f"a Moodle {moodle['plugin']} submission, not a file"
        file = moodle["file"] if len(path.parts) == 1 else "/".join(path.parts[1:])
        student = roster.by_lms_id(moodle["user"]) or roster.by_name(moodle["name"])
        if student is None:
            return None, file, {}, (f"Moodle participant {moodle['user']} ({moodle['name']}) is in the roster neither "
                                    "by lms_id nor by name")
        return student, file, {"late": False, "submission": int(moodle["user"])}, None
    return None, base, {}, "the name follows neither Canvas's nor Moodle's naming rule"


def _notebook_name(file: str, notebooks: list[str]) -> tuple[str | None, int, str | None]:
    """``(notebook, copy number, renamed from)`` for a submitted file name."""
    stem = PurePosixPath(file).name
    if not stem.lower().endswith(".ipynb"):
        return None, 0, None
    stem = stem[: -len(".ipynb")]
    match = _COPY_SUFFIX.match(stem)
    copy = 0
    if match and (match["canvas"] or match["browser"]):
        copy = int(match["canvas"] or match["browser"])
        stem = match["stem"]
    if stem in notebooks:
        return stem, copy, None
    if len(notebooks) == 1:
        return notebooks[0], copy, PurePosixPath(file).name
    return None, copy, None


def collect(course: Course, archive: Path, roster: Roster, assignment: str | None = None) -> CollectReport:
    """Turn an LMS bulk download of one assignment into ``submitted/`` (see the module's docstring)."""
    archive = Path(archive)
    if not archive.exists():
        raise CourseError(f"no archive at {archive}")
    known = course.assignments()
    notebooks = {a: course.notebooks(a) for a in known}
    with _entries(archive) as entries:
        return _collect(course, archive, entries, roster, assignment, known, notebooks)


def _collect(course: Course, archive: Path, entries: list[tuple[str, int, dt.datetime, Callable[[], bytes]]],
             roster: Roster, assignment: str | None, known: list[str], notebooks: dict[str, list[str]]) -> CollectReport:
    if assignment is None:
        named = set()
        for name, *_ in entries:
            file = _parse(name, roster)[1]
            named |= {a for a, nbs in notebooks.items() if _notebook_name(file, nbs)[0] is not None and
                      _notebook_name(file, nbs)[2] is None}
        if len(named) != 1:
            found = ", ".join(sorted(named)) or "none"
            raise CourseError(f"cannot tell which assignment {archive.name} holds (notebooks of: {found}); pass --assignment")
        assignment = named.pop()
    elif assignment not in known:
        raise CourseError(f"unknown assignment {assignment!r}; known: {', '.join(known)}")
    report = CollectReport(assignment)
    candidates: dict[tuple[str, str], list[_Candidate]] = {}
    for name, size, when, read in entries:
        base = PurePosixPath(name).name
        if base.startswith(".") or "__MACOSX" in PurePosixPath(name).parts:
            report.skipped.append((name, "a file the archiver added (hidden or __MACOSX)"))
            continue
        student, file, details, problem = _parse(name, roster)
        if problem is not None:
            report.skipped.append((name, problem))
            continue
        assert student is not None
        notebook, copy, renamed = _notebook_name(file, notebooks[assignment])
        if notebook is None:
            why = "not a notebook (.ipynb)" if not file.lower().endswith(".ipynb") else \
                f"{assignment} has no notebook called {PurePosixPath(file).name!r} (it has: {', '.join(notebooks[assignment])})"
            report.skipped.append((name, why))
            continue
        if size > MAX_NOTEBOOK_BYTES:
            report.skipped.append((name, f"larger than {MAX_NOTEBOOK_BYTES >> 20} MB"))
            continue
        candidates.setdefault((student.student_id, notebook), []).append(
            _Candidate(name, student, notebook, when, copy, int(details["submission"]), bool(details["late"]), read, renamed))
    for (student_id, notebook), found in sorted(candidates.items()):
        found.sort(key=lambda c: (c.when, c.copy, c.submission))
        newest = found[-1]
        for older in found[:-1]:
            report.skipped.append((older.entry, f"an older copy of {student_id}'s {notebook}.ipynb (the newest is {newest.entry})"))
        if newest.renamed_from:
            report.notes.append(f"{student_id}: took {newest.renamed_from} as {notebook}.ipynb")
        if newest.late:
            report.notes.append(f"{student_id}: {notebook}.ipynb was submitted late")
        folder = course.submitted_dir / student_id / assignment
        target = folder / f"{notebook}.ipynb"
        data = newest.read()
        folder.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.read_bytes() == data:
            report.unchanged += 1
        else:
            partial = target.with_name(f".{target.name}.partial")
            partial.write_bytes(data)
            partial.replace(target)
        if newest.when != dt.datetime.min:
            (folder / "timestamp.txt").write_text(newest.when.strftime("%Y-%m-%d %H:%M:%S.%f"))
        report.written.append((student_id, notebook, newest.entry))
    sent = {s for s, _, _ in report.written}
    report.missing = [s.student_id for s in roster.students if s.student_id not in sent]
    return report


def store_roster(course: Course, roster: Roster) -> None:
    """Add every student of the roster to the gradebook, with names, email and LMS id."""
    from nbgrader.api import Gradebook

    with Gradebook(course.db_url, course.course_id) as gb:
        for s in roster.students:
            gb.update_or_create_student(s.student_id, first_name=s.first_name or None, last_name=s.last_name or None,
                                        email=s.email or None, lms_user_id=s.lms_id or None)


# ---- exporting --------------------------------------------------------------------------------


def write_grades(course: Course, target: Path, fmt: str, roster: Roster | None = None) -> tuple[int, int]:
    """Write the grades CSV in ``fmt`` (``canvas`` or ``moodle``); returns ``(students, submissions awaiting hand-grading)``.

    Students and their names come from the gradebook; ``roster`` adds what the gradebook
    has no column for (Canvas's SIS ids and section).
    """
    from nbgrader.api import Gradebook

    from course_lib.grading.results import load_results

    if fmt not in ("canvas", "moodle"):
        raise CourseError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    results = load_results(course)
    scores = {(r.student_id, r.assignment): r for r in results}
    extra = {s.student_id: s for s in (roster.students if roster else [])}
    with Gradebook(course.db_url, course.course_id) as gb:
        assignments = sorted(((a.name, float(a.max_score)) for a in gb.assignments))
        students = sorted(((s.id, s.first_name or "", s.last_name or "", s.email or "", s.lms_user_id or "")
                           for s in gb.students), key=lambda s: (s[2].lower(), s[1].lower(), s[0]))
    if not students:
        raise CourseError("the gradebook has no students yet: run `course collect` or `course autograde` first")
    rows: list[list[str]] = []
    if fmt == "canvas":
        rows.append(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *(a for a, _ in assignments)])
        rows.append(["Points Possible", "", "", "", "", *(f"{m:g}" for _, m in assignments)])
    else:
        rows.append(["First name", "Last name", "ID number", "Email address", *(a for a, _ in assignments)])
    for sid, first, last, email, lms in students:
        more = extra.get(sid, RosterEntry(sid))
        grades = [f"{scores[(sid, a)].score:g}" if (sid, a) in scores else "0" for a, _ in assignments]
        if fmt == "canvas":
            name = f"{last}, {first}" if last and first else (last or first or sid)
            rows.append([name, lms or more.lms_id, more.sis_user_id or sid, more.sis_login_id or email, more.section, *grades])
        else:
            rows.append([first, last, sid, email or more.email, *grades])
    with open(target, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return len(students), sum(r.awaiting for r in results)
