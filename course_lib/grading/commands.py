"""What each ``course`` command does, given a :class:`~course_lib.grading.course.Course`.

:mod:`course_lib.cli` parses the command line and calls one of these; each returns the
exit status and raises :class:`~course_lib.grading.errors.CourseError` for a problem the
user can fix.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from course_lib.grading.course import Course
from course_lib.grading.errors import CourseError

if TYPE_CHECKING:
    from course_lib.grading.autograde.runner import Outcome, RunReport

__all__ = ["cmd_release", "cmd_autograde", "cmd_grades", "cmd_feedback"]


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
    cluster = args.cluster or os.environ.get("COURSE_CLUSTER")
    if cluster:
        if args.stock or args.jobs is not None:
            raise CourseError(f"--cluster grades on the cluster's workers; {'--stock' if args.stock else '--jobs'} is for this machine")
        from course_lib.grading.autograde.cluster import check_cluster, open_cluster

        check_cluster(cluster, course.coursedir.db_url)
    elif not args.stock:
        from course_lib.grading.autograde.sandbox import SandboxError, sandbox_kind

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
    from course_lib.grading.autograde import Limits, Run, SandboxError

    jobs = args.jobs or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    timeout = course.config.Execute.get("timeout", 120) if "Execute" in course.config else 120
    limits = Limits(cell_seconds=args.cell_timeout or float(timeout or 120), notebook_seconds=args.notebook_timeout,
                    memory_bytes=int(args.memory_mb) << 20)
    grader = open_cluster(cluster) if cluster else None
    try:
        try:
            run = Run(course, jobs=jobs, sandbox=args.sandbox, limits=limits, force=args.force, grader=grader)
        except SandboxError as err:
            raise CourseError(str(err)) from None
        if grader is None and run.kind == "none" and args.sandbox == "auto":
            print("course: warning: bubblewrap (bwrap) is not installed, so student code runs without a sandbox "
                  "(the judge still decides every point); apt-get install bubblewrap", file=sys.stderr)
        report = run.execute(work, progress=not args.quiet)
    finally:
        if grader is not None:
            grader.close()
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
    _print_outcomes(outcomes)
    return 0


def _print_outcomes(outcomes: list[Outcome], unchanged: int = 0) -> None:
    """The summary table: one row per submission, then the count of graded and failed ones."""
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
    if unchanged:
        line += f", {unchanged} unchanged since last graded (skipped; --force regrades them)"
    print(line)


def _print_report(report: RunReport) -> None:
    outcomes = report.outcomes
    _print_outcomes(outcomes, report.unchanged)
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
