"""The ``course`` command: argument parsing only.

Each subcommand is a function of :mod:`course_lib.grading.commands`. Every user error
ends in one line on stderr and exit status 2, never in a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Sequence

from course_lib.grading.commands import (
    cmd_autograde,
    cmd_collect,
    cmd_feedback,
    cmd_grades,
    cmd_release,
    cmd_report,
    cmd_validate,
    cmd_workspace,
)
from course_lib.grading.course import CONFIG_NAME, Course, find_root, scripts_on_path
from course_lib.grading.errors import CourseError

__all__ = ["main", "build_parser"]


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
                   help="bwrap: bubblewrap sandbox; auto (the default): bwrap, or an error when it is not installed; "
                        "none: no sandbox (student code can read the disk, see the warning it prints)")
    p.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: nbgrader's Execute.timeout)")
    p.add_argument("--notebook-timeout", type=float, default=600.0, help="seconds per notebook (default: 600)")
    p.add_argument("--memory-mb", type=int, default=4096, help="memory per notebook on top of the libraries (default: 4096)")
    p.add_argument("--stock", action="store_true", help="grade with stock nbgrader instead, one at a time in the student's kernel")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="grade on a Dask cluster: its scheduler's address (tcp://host:8786; default: $COURSE_CLUSTER), "
                        "or local:N to start N workers here; needs a PostgreSQL gradebook (--db-url) unless local")
    p.set_defaults(func=cmd_autograde)

    p = sub.add_parser("collect", help="turn a Canvas or Moodle bulk download into submitted/",
                       description="Read an LMS bulk-download archive of one assignment (a .zip or its unpacked folder) "
                                   "and write submitted/<student_id>/<assignment>/<notebook>.ipynb, matching files to "
                                   "students through the roster; the newest of several files counts, and every file "
                                   "skipped is listed with its reason. The roster's names go into the gradebook. "
                                   "Naming rules: see the README (Collecting from an LMS).")
    p.add_argument("archive", help="the archive (.zip) or the folder it was unpacked into")
    p.add_argument("--roster", default=None,
                   help="roster CSV: student_id, and optionally first_name, last_name, email, lms_id (Canvas user id "
                        "or Moodle participant id), sis_user_id, sis_login_id, section (default: roster.csv in the course)")
    p.add_argument("--assignment", default=None, help="the assignment (default: told by the notebooks' names)")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("grades", help="export grades as CSV (plain, or for Canvas's or Moodle's gradebook import)")
    p.add_argument("--csv", required=True, help="output file")
    p.add_argument("--format", choices=["plain", "canvas", "moodle"], default="plain",
                   help="plain: one row per student and assignment; canvas, moodle: one row per student, "
                        "one column per assignment, as those gradebooks import")
    p.add_argument("--roster", default=None, help="roster CSV with Canvas's sis_user_id, sis_login_id and section")
    p.set_defaults(func=cmd_grades)

    p = sub.add_parser("feedback", help="write HTML feedback for every graded submission",
                       description="One self-contained page per graded notebook under feedback/<student>/<assignment>/: "
                                   "points and reasons per part, answers awaiting hand-grading marked as such, "
                                   "formulas typeset offline.")
    p.add_argument("assignment", nargs="*", help="assignments (default: all)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("report", help="one offline HTML page on the class: scores, mistakes, who to look at, similar code",
                       description="Write report/index.html and its PNGs: score distributions per assignment and part, "
                                   "the known mistakes the checks diagnosed with counts, submissions that timed out, "
                                   "crashed, were flagged or await hand-grading, and pairs of submissions with nearly "
                                   "identical answer code (copydetect).")
    p.add_argument("assignment", nargs="*", help="assignments (default: all)")
    p.add_argument("--output", default=None, help="folder of the report (default: report/ in the course)")
    p.add_argument("--similarity", type=float, default=0.8,
                   help="list pairs sharing at least this share of their answer code, both ways (default 0.8)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("workspace", help="copy new assignments from exercises/ into your own folder (never overwrites)",
                       description="Copy every file of exercises/ that the workspace lacks; files already there are "
                                   "never touched, so started work stays and new assignments appear. `make lab` runs it.")
    p.add_argument("--folder", default="work", help="the workspace, relative to the course (default: work)")
    p.set_defaults(func=cmd_workspace)

    p = sub.add_parser("validate", help="run a notebook's visible tests and print every failure in full",
                       description="Run the notebook as nbgrader's Validate button does; every failing test is printed "
                                   "with its whole message. Exit status 0: passes; 1: a test fails; 2: not a notebook.")
    p.add_argument("notebook", nargs="+", help="notebook file(s)")
    p.set_defaults(func=cmd_validate)
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
        scripts_on_path()
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
