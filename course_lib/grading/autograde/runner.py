"""A grading run: which submissions need grading, a pool of sandboxed workers, saving as results come.

The parent process is the judge and the only writer: worker threads each drive one
sandbox (:class:`~course_lib.grading.autograde.sandbox.Sandbox`) and hand finished results to
the main thread, which writes every submission in one transaction
(:class:`~course_lib.grading.autograde.gradebook.GradebookWriter`) right away. A submission is
skipped when the gradebook records that exactly this submission was graded against
exactly these sources and this ``course_lib``, so an interrupted run resumes where it
stopped.

Where the submissions are graded is a :data:`Grader`: by default this machine's pool of
sandboxes; :mod:`~course_lib.grading.autograde.cluster` grades them on a Dask cluster
with the same :func:`grade_submission`. Either way, only this process writes grades.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import queue
import resource
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import nbformat

from course_lib.grading.autograde import intake
from course_lib.grading.autograde.gradebook import (
    GradebookWriter,
    NotebookGrades,
    grades_of,
)
from course_lib.grading.autograde.judge import Judge, NotebookResult, run_notebook
from course_lib.grading.autograde.plaintext import plain_data, plain_text, printable_name
from course_lib.grading.autograde.plan import PlanError, SourceNotebook
from course_lib.grading.autograde.sandbox import (
    Limits,
    adopt_orphans,
    Sandbox,
    SandboxError,
    Snapshot,
    sandbox_kind,
)

__all__ = ["Submission", "Outcome", "RunReport", "Run", "Graded", "Grader", "grade_submission", "JUDGE_VERSION"]

JUDGE_VERSION = "course-autograde/2"
"""Part of every submission's hash: bump it when the judge's verdicts could change."""

NO_SANDBOX = "no sandbox could be started"
"""How an error that says nothing about the submission starts: it is not recorded, a rerun grades it."""


@dataclass
class Submission:
    """One student's submission of one assignment, read into memory once."""

    assignment: str
    student_id: str
    folder: Path
    notebooks: list[tuple[SourceNotebook, bytes | None]]
    files: list[tuple[str, bytes]]
    notes: list[str]
    digest: str
    timestamp: dt.datetime | None
    unreadable: dict[str, str] = field(default_factory=dict)
    """Notebook name -> why it could not be read (a link, too large, not a regular file)."""


@dataclass
class Outcome:
    """What happened to one submission in this run."""

    student_id: str
    assignment: str
    ok: bool
    score: float = 0.0
    max_score: float = 0.0
    reason: str = ""
    problems: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    """Grade ids of the test cells a person must look at (the judge could not decide)."""
    sandbox: str = ""
    """The sandbox the submission ran in (``"bwrap"`` or ``"none"``; empty when it never ran)."""


@dataclass
class RunReport:
    """The outcomes of a run, the submissions skipped as unchanged, and where the time went."""

    outcomes: list[Outcome] = field(default_factory=list)
    unchanged: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    workers: int = 0
    sandbox: str = ""
    phases: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: float = 0.0
    """The judge's own peak resident memory (this process; sandboxes and cluster workers not included)."""


@dataclass
class Graded:
    """A judged submission on its way to the gradebook (``error``: it could not be graded, nothing is saved)."""

    submission: Submission
    results: list[NotebookResult]
    phases: dict[str, float]
    error: str | None = None
    sandbox: str = ""


Grader = Callable[["Run", list[Submission], list[str], RunReport], Iterator[Graded]]
"""Grades submissions somewhere and yields each result as it comes in; given the run (its
limits, requested sandbox and judge), the submissions, the check modules to preload and the
run's report (for its workers and phases). Closing the iterator stops the grading."""


def grade_submission(submission: Submission, judge: Judge, limits: Limits, sandbox: Sandbox | None,
                     new_sandbox: Callable[[], Sandbox]) -> tuple[list[NotebookResult], dict[str, float], str | None, Sandbox | None]:
    """Run every notebook of a submission in ``sandbox`` (started anew with ``new_sandbox`` when
    needed) and judge it; returns the results, the time of each phase, an error that kept it
    from being graded, and the sandbox to use next."""
    phases: dict[str, float] = {}
    results: list[NotebookResult] = []
    error = None
    # the working folder holds the student's own notebooks and files, as it does under nbgrader
    files = [*submission.files, *((f"{src.name}.ipynb", data) for src, data in submission.notebooks if data is not None)]
    for source, data in submission.notebooks:
        problem = submission.unreadable.get(source.name)
        plan = source.blank(f"{source.name}.ipynb cannot be graded: {problem}") if problem else source.plan(data)
        plan.notes[:0] = submission.notes
        try:
            if plan.problem is None and (sandbox is None or not sandbox.alive):
                if sandbox is not None:
                    sandbox.kill()
                sandbox = new_sandbox()
                phases["sandbox start"] = phases.get("sandbox start", 0.0) + sandbox.start()
        except SandboxError as err:
            error = f"{NO_SANDBOX}: {err}"
            break
        result = run_notebook(sandbox, judge, plan, files, limits)
        for key, value in result.timings.items():
            phases[key] = phases.get(key, 0.0) + value
        if result.sandbox_broken and sandbox is not None:
            sandbox.kill()
            sandbox = None
        results.append(result)
    return results, phases, error, sandbox


def _course_lib_digest(check_modules: list[str]) -> bytes:
    """A hash of the course_lib code the verdicts depend on: every course_lib module the judge has
    loaded once the checks are imported (the checks, the references they call, the grading code)."""
    import importlib
    import sys

    for module in check_modules:
        importlib.import_module(module)
    digest = hashlib.sha256()
    files = sorted({m.__file__ for name, m in list(sys.modules.items())
                    if (name == "course_lib" or name.startswith("course_lib.")) and getattr(m, "__file__", None)})
    for path in files:
        digest.update(path.encode() + b"\0" + Path(path).read_bytes() + b"\0")
    return digest.digest()


class Run:
    """One ``course autograde`` run over a course directory.

    Args:
        course: the :class:`course_lib.grading.course.Course` (paths, nbgrader configuration, release).
        jobs: number of workers (sandboxes run in parallel).
        sandbox: ``"auto"``, ``"bwrap"`` or ``"none"``.
        limits: the limits of every notebook.
        force: grade even submissions that are unchanged since they were last graded.
        grader: where to grade (default: this machine's pool of ``jobs`` sandboxes); a grader
            elsewhere decides the sandbox on each of its machines, following ``sandbox``.
    """

    def __init__(self, course: Any, *, jobs: int = 1, sandbox: str = "auto", limits: Limits | None = None, force: bool = False,
                 grader: Grader | None = None) -> None:
        self.course = course
        self.jobs = max(1, jobs)
        self.requested_sandbox = sandbox
        self.grader = grader
        self.kind = sandbox_kind(sandbox) if grader is None else sandbox
        if grader is None and self.kind == "bwrap":
            from course_lib.grading.autograde.sandbox import exposes

            shown = exposes(Path(course.root))
            if shown is not None:
                raise SandboxError(f"the course folder {course.root} lies inside {shown}, which the sandbox shows to student "
                                   "code: move the course, or the Python environment, elsewhere")
        self.limits = limits or Limits()
        self.force = force
        self.judge = Judge()
        self._stopping = threading.Event()
        self._sandboxes: list[Sandbox] = []
        self._lock = threading.Lock()

    # ---- what to grade ----------------------------------------------------------------------

    def sources(self, assignment: str) -> list[SourceNotebook]:
        course = self.course
        out = []
        for name in course.notebooks(assignment):
            source = course.source_dir / assignment / f"{name}.ipynb"
            release = course.root / course.coursedir.release_directory / assignment / f"{name}.ipynb"
            try:
                out.append(SourceNotebook(name, source, release))
            except PlanError as err:
                from course_lib.grading.errors import CourseError

                raise CourseError(str(err)) from None
        return out

    def read(self, assignment: str, student_id: str, folder: Path, sources: list[SourceNotebook], base: bytes) -> Submission:
        """Read a submission (see :mod:`~course_lib.grading.autograde.intake`) and hash everything its grade depends on."""
        course = self.course
        release_folder = course.root / course.coursedir.release_directory / assignment
        ignore_patterns = list(course.coursedir.ignore) + ["timestamp.txt"]

        def ignored(rel: Path) -> bool:
            return any(rel.match(p) or any(part == p for part in rel.parts) for p in ignore_patterns)

        unreadable = intake.folder_problem(folder, course.submitted_dir)
        shipped, _ = intake.other_files(release_folder, ignored) if release_folder.is_dir() else ([], [])
        theirs, notes = intake.other_files(folder, ignored) if unreadable is None else ([], [])
        files = dict(theirs)
        files.update(shipped)  # the released files win, as stock nbgrader's source files do
        digest = hashlib.sha256(base + assignment.encode() + b"\0")
        notebooks: list[tuple[SourceNotebook, bytes | None]] = []
        problems: dict[str, str] = {}
        for source in sources:
            data, problem = (None, unreadable) if unreadable else \
                intake.read_regular(folder / f"{source.name}.ipynb", intake.MAX_NOTEBOOK_BYTES)
            if problem:
                problems[source.name] = problem
            notebooks.append((source, data))
            mark = f"unreadable: {problem}".encode() if problem else b"missing" if data is None else hashlib.sha256(data).digest()
            digest.update(source.digest().encode() + b"\0" + mark)
        for name, data in sorted(files.items()):
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        stamp, note = intake.read_timestamp(folder) if unreadable is None else (None, None)
        if note:
            notes.append(note)
        return Submission(assignment, student_id, folder, notebooks, sorted(files.items()), notes, digest.hexdigest(),
                          stamp, problems)

    # ---- grading ------------------------------------------------------------------------------

    def execute(self, work: Sequence[tuple[str, str, Path]], *, progress: bool = True, bar: Any = None) -> RunReport:
        """Grade ``(assignment, student_id, folder)`` triples; every result is saved as soon as it is in.

        ``bar``: a progress bar (``tqdm``) already shown for the whole of ``work``, which
        this run advances (unchanged submissions included); without it the run shows its own.
        """
        from tqdm import tqdm

        def stage(text: str) -> None:
            if bar is not None:
                bar.set_postfix_str(text)

        started = time.monotonic()
        report = RunReport(workers=self.jobs, sandbox=self.kind)
        phases = report.phases
        sources = {a: self.sources(a) for a in sorted({a for a, _, _ in work})}
        writer = GradebookWriter(self.course.coursedir.db_url, self.course.coursedir.course_id)
        try:
            graded_before = writer.graded()
            stage("loading the checks")
            checks = sorted({f"course_lib.grading.checks.{c.split('.', 1)[0]}" for s in sources.values() for nb in s for c in nb.checks})
            base = JUDGE_VERSION.encode() + _course_lib_digest(checks)
            todo: list[Submission] = []
            for assignment, student_id, folder in work:
                problem = intake.name_problem(student_id)
                if problem:
                    # no gradebook row can hold this id: say so in the summary, every run, and grade the others
                    report.outcomes.append(Outcome(printable_name(student_id), assignment, ok=False,
                                                   reason=f"not graded: {problem}; rename the folder"))
                    if bar is not None:
                        bar.update(1)
                    continue
                submission = self.read(assignment, student_id, folder, sources[assignment], base)
                if not self.force and graded_before.get((student_id, assignment)) == submission.digest:
                    report.unchanged += 1
                    if bar is not None:
                        bar.update(1)
                    continue
                todo.append(submission)
            if not todo:
                report.seconds = time.monotonic() - started
                report.peak_memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                return report
            waiting = {(s.student_id, s.assignment) for s in todo}
            grader = self.grader or Run._grade_here
            stage("starting the graders")
            results = grader(self, todo, checks, report)
            own_bar = bar is None
            try:
                if own_bar:
                    bar = tqdm(total=len(todo), desc="autograde", unit="submission", disable=not progress)
                try:
                    for graded in results:
                        waiting.discard((graded.submission.student_id, graded.submission.assignment))
                        saving = time.monotonic()
                        outcome = self._save(writer, graded)
                        graded.phases["save"] = time.monotonic() - saving
                        for key, value in graded.phases.items():
                            phases[key] = phases.get(key, 0.0) + value
                        report.outcomes.append(outcome)
                        bar.set_postfix_str(f"{outcome.student_id}/{outcome.assignment}")
                        bar.update(1)
                finally:
                    if own_bar:
                        bar.close()
                for student_id, assignment in sorted(waiting):
                    report.outcomes.append(Outcome(student_id, assignment, ok=False, reason="not graded: every worker stopped"))
            except KeyboardInterrupt:
                report.interrupted = True
            finally:
                close = getattr(results, "close", None)
                if close is not None:
                    close()
        finally:
            writer.close()
        report.sandbox = _sandboxes(report.outcomes, report.sandbox)
        report.seconds = time.monotonic() - started
        report.peak_memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return report

    def _grade_here(self, todo: list[Submission], preload: list[str], report: RunReport) -> Iterator[Graded]:
        """This machine's pool: ``jobs`` threads, each driving one sandbox."""
        queued: "queue.Queue[Submission]" = queue.Queue()
        for submission in todo:
            queued.put(submission)
        snapshot = Snapshot()
        done: "queue.Queue[Graded]" = queue.Queue()
        workers: list[threading.Thread] = []
        report.workers = min(self.jobs, len(todo))
        if self.kind == "none":
            adopt_orphans()  # without a PID namespace, what a submission leaves behind comes back to the judge
        try:
            first = self._first_sandbox(snapshot, preload)
            report.phases["sandbox start"] = first.started_in
            for i in range(report.workers):
                workers.append(threading.Thread(target=self._work, args=(queued, done, snapshot, preload, first if i == 0 else None),
                                                name=f"autograde-{i}", daemon=True))
                workers[-1].start()
            received = 0
            while received < len(todo):
                try:
                    graded = done.get(timeout=0.2)
                except queue.Empty:
                    if not any(w.is_alive() for w in workers) and done.empty():
                        return
                    continue
                received += 1
                yield graded
        finally:
            self.stop()
            for worker in workers:
                worker.join(timeout=30)
            snapshot.close()

    def stop(self) -> None:
        """Stop every worker and kill every sandbox (Ctrl-C, or the end of the run)."""
        self._stopping.set()
        with self._lock:
            for sandbox in self._sandboxes:
                sandbox.kill()

    def _first_sandbox(self, snapshot: Snapshot, preload: list[str]) -> Sandbox:
        """Start one sandbox before the workers, so that a machine that cannot run one fails once, clearly.

        The first worker then uses it.
        """
        from course_lib.grading.errors import CourseError

        try:
            first = self._new_sandbox(snapshot, preload)
            first.start()
        except SandboxError as err:
            raise CourseError(f"{err} (with --sandbox {self.kind}); see `course autograde --help`") from None
        return first

    def _new_sandbox(self, snapshot: Snapshot, preload: list[str]) -> Sandbox:
        sandbox = Sandbox(self.kind, snapshot, self.limits, preload)
        with self._lock:
            if self._stopping.is_set():
                raise SandboxError("stopping")
            self._sandboxes.append(sandbox)
        return sandbox

    def _work(self, todo: "queue.Queue[Submission]", done: "queue.Queue[Graded]", snapshot: Snapshot, preload: list[str],
              sandbox: Sandbox | None = None) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    submission = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    graded, sandbox = self._grade(submission, snapshot, preload, sandbox)
                except Exception as err:  # a bug of ours, or input nothing anticipated: recorded as this submission's grade
                    if sandbox is not None:
                        sandbox.kill()
                        sandbox = None
                    graded = Graded(submission, [], {}, f"internal error of the grader: {type(err).__name__}: {err}")
                if self._stopping.is_set():
                    return
                done.put(graded)
        finally:
            if sandbox is not None:
                sandbox.close()

    def _grade(self, submission: Submission, snapshot: Snapshot, preload: list[str],
               sandbox: Sandbox | None) -> tuple[Graded, Sandbox | None]:
        """Run every notebook of a submission; returns the result and the sandbox to use next."""
        results, phases, error, sandbox = grade_submission(submission, self.judge, self.limits, sandbox,
                                                           lambda: self._new_sandbox(snapshot, preload))
        return Graded(submission, results, phases, error, self.kind), sandbox

    # ---- saving -----------------------------------------------------------------------------

    def _save(self, writer: GradebookWriter, graded: Graded) -> Outcome:
        """Record a submission's grades; a submission that cannot be graded or saved is recorded with 0 points
        and the reason, so that the summary says why and a rerun does not trip over it again (an error that
        says nothing about the submission, no sandbox, is only reported: the rerun grades it)."""
        submission = graded.submission
        if graded.error and graded.error.startswith(NO_SANDBOX):
            return Outcome(submission.student_id, submission.assignment, ok=False, reason=graded.error, sandbox=graded.sandbox)
        try:
            if graded.error:
                raise _NotGraded(graded.error)
            return self._save_results(writer, graded)
        except Exception as err:
            writer.gb.db.rollback()
            reason = str(err) if isinstance(err, _NotGraded) else \
                f"its grades could not be saved ({type(err).__name__}: {plain_text(err, 300)})"
            try:
                max_score = float(writer.gb.find_assignment(submission.assignment).max_score)
                writer.write(submission.student_id, submission.assignment, [], digest=submission.digest, timestamp=None,
                             score=0.0, max_score=max_score, problems=[f"not graded: {reason}"])
            except Exception as again:  # the gradebook itself fails: nothing is recorded, a rerun tries again
                writer.gb.db.rollback()
                return Outcome(submission.student_id, submission.assignment, ok=False,
                               reason=f"{reason}; recording that failed too ({type(again).__name__})", sandbox=graded.sandbox)
            return Outcome(submission.student_id, submission.assignment, ok=True, score=0.0, max_score=max_score,
                           reason=reason, problems=[f"not graded: {reason} (--force grades it again)"], sandbox=graded.sandbox)

    def _save_results(self, writer: GradebookWriter, graded: Graded) -> Outcome:
        submission = graded.submission
        course = self.course
        out_folder = course.root / course.coursedir.autograded_directory / submission.student_id / submission.assignment
        out_folder.mkdir(parents=True, exist_ok=True)
        notebooks, problems = [], list(submission.notes)
        review: list[str] = []
        for result in graded.results:
            readable = result.plan.problem is None
            scores = {t.grade_id: t.score for t in result.tests}
            verdicts = {t.grade_id: plain_data(dataclasses.asdict(t)) for t in result.tests}
            flagged = {t.grade_id for t in result.tests if t.needs_review}
            review += sorted(flagged)
            cells = [c for c in result.notebook.cells if c.cell_type in ("code", "markdown")]
            grades, unanswered = grades_of(cells, scores, readable=readable, verdicts=verdicts, review=flagged)
            notebooks.append(NotebookGrades(result.plan.notebook, grades, unanswered))
            problems += [p for p in [*result.plan.notes, *result.problems] if p not in problems]
            target = out_folder / f"{result.plan.notebook}.ipynb"
            partial = target.with_name(f".{target.name}.partial")
            try:
                nbformat.write(plain_data(result.notebook), str(partial))
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        problems = [plain_text(p) for p in problems]
        score = sum(t.score for r in graded.results for t in r.tests)
        assignment = writer.gb.find_assignment(submission.assignment)
        max_score = float(assignment.max_score)
        writer.gb.db.commit()
        writer.write(submission.student_id, submission.assignment, notebooks, digest=submission.digest,
                     timestamp=submission.timestamp, score=score, max_score=max_score, problems=problems)
        saved = writer.gb.find_submission(submission.assignment, submission.student_id)
        outcome = Outcome(submission.student_id, submission.assignment, ok=True, score=float(saved.score),
                          max_score=float(saved.max_score), problems=problems, review=review, sandbox=graded.sandbox)
        writer.gb.db.commit()
        return outcome


class _NotGraded(Exception):
    """Grading this submission failed (a bug of ours, or input nothing anticipated): the message says how."""


def _sandboxes(outcomes: list[Outcome], default: str) -> str:
    """Which sandbox the submissions ran in: one word when all ran in the same, else who ran in which."""
    kinds: dict[str, list[str]] = {}
    for o in sorted(outcomes, key=lambda o: (o.assignment, o.student_id)):
        if o.sandbox:
            kinds.setdefault(o.sandbox, []).append(f"{o.student_id}/{o.assignment}")
    if not kinds:
        return default
    if len(kinds) == 1:
        return next(iter(kinds))
    main = max(kinds, key=lambda k: (len(kinds[k]), k == "bwrap"))
    others = "; ".join(f"{kind} for {len(names)}: {', '.join(names)}" for kind, names in sorted(kinds.items()) if kind != main)
    return f"{main} for {len(kinds[main])}, {others}"
