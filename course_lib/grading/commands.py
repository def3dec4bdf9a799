"""What each ``course`` command does, given a :class:`~course_lib.grading.course.Course`.

:mod:`course_lib.cli` parses the command line and calls one of these; each returns the
exit status and raises :class:`~course_lib.grading.errors.CourseError` for a problem the
user can fix.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from course_lib.grading.course import Course
from course_lib.grading.errors import CourseError

if TYPE_CHECKING:
    from course_lib.grading.autograde.runner import Outcome, RunReport

__all__ = ["cmd_release", "cmd_autograde", "cmd_grades", "cmd_collect", "cmd_feedback", "cmd_report", "cmd_workspace",
           "cmd_validate"]


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
            kind = sandbox_kind(args.sandbox)
        except SandboxError as err:
            raise CourseError(str(err)) from None
        if kind == "none":
            who = ("as a user of its own" if os.geteuid() == 0 else
                   "as your own user, so it can read and change your files, stop this run and change what it records")
            print(f"course: warning: --sandbox none: student code runs without a sandbox, {who}; it can read every "
                  "file that user may read (solutions/ included) and reach the network. The judge still computes "
                  "every point from what the notebooks send, but a hostile submission can cheat this way: use "
                  "bubblewrap (apt-get install bubblewrap) for grades you need to trust.", file=sys.stderr)
    from tqdm import tqdm

    # The bar shows at once (on a terminal; None: not when stderr is a pipe or a file), while
    # loading nbgrader, the checks and the sandboxes takes seconds.
    with tqdm(total=len(work), desc="autograde", unit="submission", disable=True if args.quiet else None) as bar, \
            _erased_on_error(bar):
        for assignment in assignments:
            bar.set_postfix_str(f"registering {assignment}")
            # Registers the source's test cells and points in the gradebook (and rewrites the
            # identical release): grading always uses the tests of the current source notebooks.
            course.release(assignment)
        if args.stock:
            outcomes = _autograde_stock(course, work, bar)
            bar.close()
            _print_outcomes(course, outcomes)
            return 0
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
            report = run.execute(work, progress=not args.quiet, bar=bar)
        finally:
            if grader is not None:
                grader.close()
    _print_report(course, report)
    if report.interrupted:
        print("course: interrupted; every submission listed above is saved, run the same command again to grade the rest",
              file=sys.stderr)
        return 130
    return 0


@contextlib.contextmanager
def _erased_on_error(bar: Any) -> Iterator[None]:
    """A bar that stops on an error disappears, so the error stays one line."""
    try:
        yield
    except CourseError:
        bar.leave = False
        raise


def _autograde_stock(course: Course, work: list[tuple[str, str, Path]], bar: Any) -> list[Outcome]:
    """Stock nbgrader, one submission at a time in the student's own kernel (for comparisons)."""
    outcomes = []
    bar.set_description("autograde (stock nbgrader)")
    for assignment, student_id, folder in work:
        bar.set_postfix_str(f"{student_id}/{assignment}")
        outcomes.append(course.autograde_one(assignment, student_id, folder))
        bar.update(1)
    return outcomes


def _print_outcomes(course: Course, outcomes: list[Outcome], unchanged: int = 0) -> None:
    """The summary table: per submission the autograded points, the points that wait for a
    person, and why points were lost; then the count of graded and failed ones."""
    from course_lib.grading.results import load_results

    graded = {(o.student_id, o.assignment) for o in outcomes if o.ok}
    results = {(r.student_id, r.assignment): r
               for r in (load_results(course, {a for _, a in graded}, only=graded) if graded else [])}
    rows = []
    for o in sorted(outcomes, key=lambda o: (o.assignment, o.student_id)):
        result = results.get((o.student_id, o.assignment))
        if not o.ok or result is None:
            rows.append((o.student_id, o.assignment, "-", "-", f"FAILED: {o.reason}"))
            continue
        auto = f"{result.autograded:g} / {result.autograded_max:g}"
        if result.awaiting_points:
            hand = f"{result.awaiting_points:g} awaiting"
        elif result.hand_max:
            hand = f"{result.hand_graded:g} / {result.hand_max:g}"
        else:
            hand = "-"
        reasons = result.reasons()
        rows.append((o.student_id, o.assignment, auto, hand, "; ".join(["graded", *reasons])))
    if rows:
        header = ("student", "assignment", "autograded", "by hand", "status")
        widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(4)]
        print()
        for row in [header, *rows]:
            print(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]:>{widths[3]}}  {row[4]}")
    failed = sum(not o.ok for o in outcomes)
    line = f"\n{len(outcomes) - failed} graded, {failed} failed"
    if unchanged:
        line += f", {unchanged} unchanged since last graded (skipped; --force regrades them)"
    print(line)
    pending = sum(1 for r in results.values() if r.awaiting)
    if pending:
        print(f"{pending} submission(s) have answers awaiting hand-grading (nbgrader's Formgrader: `make formgrader`)")


def _print_report(course: Course, report: RunReport) -> None:
    outcomes = report.outcomes
    _print_outcomes(course, outcomes, report.unchanged)
    if outcomes:
        phases = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(report.phases.items(), key=lambda kv: -kv[1]))
        print(f"{report.seconds:.1f} s with {report.workers} worker(s), sandbox: {report.sandbox}; summed over workers: {phases}; "
              f"judge peak memory {report.peak_memory_mb:.0f} MiB")


def cmd_grades(course: Course, args: argparse.Namespace) -> int:
    target = Path(args.csv)
    if not target.parent.is_dir():
        raise CourseError(f"cannot write {target}: folder {target.parent} does not exist")
    if args.format != "plain":
        from course_lib.grading.lms import read_roster, write_grades

        roster = read_roster(Path(args.roster)) if args.roster else None
        students, pending = write_grades(course, target, args.format, roster)
        print(f"wrote {students} students' grades to {target} for {args.format.capitalize()}'s gradebook import")
        if pending:
            print(f"course: warning: {pending} submission(s) still have answers awaiting hand-grading; "
                  "their grades leave those points out", file=sys.stderr)
        return 0
    rows = course.grade_rows()
    fields = ["student_id", "assignment", "score", "max_score", "needs_manual_grade", "status"]
    with open(target, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {target}")
    return 0


def cmd_collect(course: Course, args: argparse.Namespace) -> int:
    from course_lib.grading.lms import collect, read_roster, store_roster

    roster = read_roster(Path(args.roster) if args.roster else course.root / "roster.csv")
    if args.assignment is not None:
        course.assignments([args.assignment])
    report = collect(course, Path(args.archive), roster, args.assignment)
    store_roster(course, roster)
    print(f"{report.assignment}: {len(report.written)} notebook(s) from {len({s for s, _, _ in report.written})} student(s) "
          f"into {course.submitted_dir.relative_to(course.root)}/ ({report.unchanged} unchanged); "
          f"{len(roster.students)} roster students in the gradebook")
    for note in report.notes:
        print(f"  note: {note}")
    if report.skipped:
        print(f"skipped {len(report.skipped)} file(s):")
        for entry, reason in report.skipped:
            print(f"  {entry}: {reason}")
    if report.missing:
        print(f"no notebook from {len(report.missing)} roster student(s): {', '.join(report.missing)}")
    return 0


def cmd_feedback(course: Course, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from course_lib.grading.feedback import write_feedback
    from course_lib.grading.results import load_results

    assignments = course.assignments(args.assignment)
    results = [r for r in load_results(course, assignments) if not args.student or r.student_id in args.student]
    if not results:
        raise CourseError("no graded submissions yet: run `course autograde` first"
                          if not args.student else f"no graded submission of {', '.join(args.student)}")
    pending = 0
    for result in tqdm(results, desc="feedback", unit="submission", disable=True if args.quiet else None):
        write_feedback(course, result)
        pending += result.awaiting
    print(f"wrote feedback for {len(results)} submission(s) under {course.feedback_dir}/"
          + (f"; {pending} of them have answers marked \"awaiting grading\"" if pending else ""))
    return 0


def cmd_report(course: Course, args: argparse.Namespace) -> int:
    from course_lib.grading.report import write_report

    assignments = course.assignments(args.assignment)
    out = Path(args.output) if args.output else course.root / "report"
    if not 0 < args.similarity <= 1:
        raise CourseError("--similarity must be between 0 and 1")
    index, results, pairs = write_report(course, assignments, out, threshold=args.similarity)
    flagged = sum(len(p) for p in pairs.values())
    print(f"wrote {index} ({len(results)} submission(s); {sum(r.awaiting for r in results)} awaiting hand-grading, "
          f"{sum(r.timed_out or r.crashed for r in results)} timed out or crashed, "
          f"{flagged} pair(s) with nearly identical answer code)")
    return 0


def cmd_workspace(course: Course, args: argparse.Namespace) -> int:
    from course_lib.grading.workspace import fill_workspace

    work = (course.root / args.folder).resolve()
    release = course.release_dir.resolve()
    if work == release or release in work.parents:
        raise CourseError(f"the workspace {work} must not be inside {release}")
    copied, kept = fill_workspace(release, work)
    for rel in copied:
        print(f"new: {work.name}/{rel}")
    print(f"{work}: {len(copied)} file(s) copied from {release.name}/, {kept} already there and left as they are")
    return 0


def cmd_validate(course: Course, args: argparse.Namespace) -> int:
    from course_lib.grading.workspace import validate_notebook

    paths = [Path(p) for p in args.notebook]
    for path in paths:
        if not path.is_file() or path.suffix != ".ipynb":
            raise CourseError(f"{path} is not a notebook file (.ipynb)")
    passed = True
    for path in paths:
        print(f"validating {path}: running every cell", flush=True)
        passed = validate_notebook(path, course.config, sys.stdout) and passed
    return 0 if passed else 1
