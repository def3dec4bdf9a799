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
    cmd_feedback,
    cmd_grades,
    cmd_release,
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
                   help="bwrap: bubblewrap sandbox; none: no sandbox (student code can read the disk); auto: bwrap if installed")
    p.add_argument("--cell-timeout", type=float, default=None, help="seconds per cell (default: nbgrader's Execute.timeout)")
    p.add_argument("--notebook-timeout", type=float, default=600.0, help="seconds per notebook (default: 600)")
    p.add_argument("--memory-mb", type=int, default=4096, help="memory per notebook on top of the libraries (default: 4096)")
    p.add_argument("--stock", action="store_true", help="grade with stock nbgrader instead, one at a time in the student's kernel")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="grade on a Dask cluster: its scheduler's address (tcp://host:8786; default: $COURSE_CLUSTER), "
                        "or local:N to start N workers here; needs a PostgreSQL gradebook (--db-url) unless local")
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
