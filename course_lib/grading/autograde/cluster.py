"""Grading on a Dask cluster: ``course autograde --cluster tcp://host:8786`` (or ``local:N``).

The ``course`` process stays the only writer of grades: it reads the submissions, skips
those already graded, and sends each of the others to the cluster as one task that
carries everything as data -- the submission's notebooks and files, the assignment's
source and release notebooks, the limits and the sandbox asked for -- so the workers need
no shared folder. A worker (:func:`grade_on_worker`) runs the same judge and sandbox as
local grading (:func:`~course_lib.grading.autograde.runner.grade_submission`), keeping a
warm sandbox between tasks, and sends back the judged notebooks; the ``course`` process
writes each into the gradebook in one transaction as it arrives.

Faults:

- a worker with another ``course_lib`` than the client's, or without bubblewrap when
  ``--sandbox auto`` or ``bwrap`` asks for it, refuses the task (:class:`WorkerRefused`); the task goes
  to the other workers, and a warning names both versions;
- a worker that dies loses nothing: the scheduler gives its tasks to other workers, and
  each submission's result reaches the gradebook once;
- a submission whose grading kills its worker more than the scheduler's
  ``allowed-failures`` (Dask's ``KilledWorker``) is tried once more alone, so that it
  cannot be confused with the submissions that shared its worker; if it kills its worker
  again, it is graded 0 with that reason, and a rerun skips it;
- the ``course`` process killed mid-run resumes on the next run, as locally.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import logging
import os
import sys
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import course_lib
from course_lib.grading.errors import CourseError

if TYPE_CHECKING:
    from course_lib.grading.autograde.judge import NotebookResult
    from course_lib.grading.autograde.runner import Graded, Run, RunReport, Submission
    from course_lib.grading.autograde.sandbox import Limits, Sandbox

__all__ = ["Task", "Returned", "WorkerRefused", "ClusterGrader", "check_cluster", "open_cluster", "course_version",
           "worker_check", "grade_on_worker", "INSTALL_HINT"]

INSTALL_HINT = "pip install -e '.[cluster]' in the course's repository (it installs dask and distributed)"
REFRESH_SECONDS = 2.0
"""How often the client looks at which workers the scheduler has."""


class WorkerRefused(Exception):
    """A worker cannot grade a task: another course_lib than the client's, no bubblewrap where it is required..."""

    def __init__(self, worker: str, message: str) -> None:
        super().__init__(worker, message)
        self.worker = worker
        self.message = message

    def __str__(self) -> str:
        return f"worker {self.worker} refused: {self.message}"


@functools.lru_cache(maxsize=1)
def course_version() -> str:
    """The installed course_lib: its version and a hash of every file of the package.

    The checks (cases, references, known mistakes) and the judge are part of course_lib,
    so two machines whose hashes agree award the same points.
    """
    from importlib import metadata

    root = Path(course_lib.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".pyi") and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    try:
        version = metadata.version("course-lib")
    except metadata.PackageNotFoundError:
        version = "(not installed)"
    return f"course_lib {version} ({digest.hexdigest()[:12]})"


# ---- what travels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Task:
    """One submission to grade, with everything a worker needs to grade it.

    Attributes:
        student_id, assignment: whose submission (for messages).
        course_version: the client's :func:`course_version`; a worker with another refuses.
        course_root: the client's course folder (a worker that sees it there checks that
            its sandbox does not show it to student code).
        sandbox: ``"auto"``, ``"bwrap"`` or ``"none"``, as asked on the client.
        limits: the limits of every notebook.
        preload: the check modules the sandbox imports once.
        sources: per notebook, ``(name, source path, release path, source bytes, release bytes)``.
        notebooks: per notebook, the submitted bytes (None: missing).
        files: the other files of the submission folder (and those the release ships).
        notes: what was noticed while reading the submission.
    """

    student_id: str
    assignment: str
    course_version: str
    course_root: str
    sandbox: str
    limits: Limits
    preload: tuple[str, ...]
    sources: tuple[tuple[str, str, str, bytes, bytes], ...]
    notebooks: tuple[bytes | None, ...]
    files: tuple[tuple[str, bytes], ...]
    notes: tuple[str, ...]

    @classmethod
    def of(cls, submission: Submission, run: Run, preload: list[str]) -> Task:
        sources = tuple((source.name, f"solutions/{submission.assignment}/{source.name}.ipynb",
                         f"exercises/{submission.assignment}/{source.name}.ipynb", source.source_bytes, source.release_bytes)
                        for source, _ in submission.notebooks)
        return cls(submission.student_id, submission.assignment, course_version(), str(run.course.root), run.requested_sandbox,
                   run.limits, tuple(preload), sources, tuple(data for _, data in submission.notebooks),
                   tuple(submission.files), tuple(submission.notes))


@dataclass
class Returned:
    """What a worker sends back: the judged notebooks, where the time went, and where it ran."""

    results: list[NotebookResult]
    phases: dict[str, float]
    error: str | None
    sandbox: str
    worker: str


# ---- the worker's side ----------------------------------------------------------------------------


class _WorkerState:
    """What a worker process keeps between tasks: the judge (its reference cache), a copy of
    course_lib for the sandboxes, warm sandboxes and parsed source notebooks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.judge: Any = None
        self.snapshot: Any = None
        self.idle: list[tuple[tuple[Any, ...], Sandbox]] = []
        self.sources: OrderedDict[str, Any] = OrderedDict()

    def setup(self) -> None:
        from course_lib.grading.autograde.judge import Judge
        from course_lib.grading.autograde.sandbox import Snapshot

        with self.lock:
            if self.judge is None:
                self.judge = Judge()
            if self.snapshot is None:
                self.snapshot = Snapshot()

    def source(self, assignment: str, entry: tuple[str, str, str, bytes, bytes]) -> Any:
        from course_lib.grading.autograde.plan import SourceNotebook

        name, source_path, release_path, source_bytes, release_bytes = entry
        key = hashlib.sha256(assignment.encode() + b"\0" + source_bytes + b"\0" + release_bytes).hexdigest()
        with self.lock:
            if key in self.sources:
                self.sources.move_to_end(key)
                return self.sources[key]
        parsed = SourceNotebook(name, Path(source_path), Path(release_path), source_bytes=source_bytes, release_bytes=release_bytes)
        with self.lock:
            self.sources[key] = parsed
            while len(self.sources) > 64:
                self.sources.popitem(last=False)
        return parsed

    def take(self, key: tuple[Any, ...]) -> Sandbox | None:
        with self.lock:
            for i, (k, sandbox) in enumerate(self.idle):
                if k == key:
                    del self.idle[i]
                    return sandbox
        return None

    def give_back(self, key: tuple[Any, ...], sandbox: Sandbox | None, keep: int) -> None:
        """Keep ``sandbox`` warm for the next task, and at most ``keep`` sandboxes (the worker's threads)."""
        if sandbox is None:
            return
        stale = []
        with self.lock:
            self.idle.append((key, sandbox))
            while len(self.idle) > max(1, keep):
                stale.append(self.idle.pop(0)[1])
        for old in stale:
            old.close()

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
            snapshot, self.snapshot = self.snapshot, None
        for _, sandbox in idle:
            sandbox.close()
        if snapshot is not None:
            snapshot.close()


_STATE = _WorkerState()


@functools.lru_cache(maxsize=1)
def _register_cleanup() -> None:
    import atexit

    atexit.register(_STATE.close)


def _this_worker() -> tuple[str, int]:
    """The address and the number of threads of the Dask worker running the task."""
    try:
        from distributed import get_worker

        worker = get_worker()
        return worker.address, worker.state.nthreads
    except (ImportError, ValueError):
        return f"pid {os.getpid()}", 1


def worker_check(client_version: str, sandbox: str, course_root: str) -> tuple[str, str | None]:
    """The sandbox this machine grades in, and why it cannot grade for the client (None: it can).

    It cannot when its course_lib differs from the client's (``client_version``), when
    ``sandbox`` asks for bubblewrap (``"auto"`` or ``"bwrap"``) and it has none, as local grading
    refuses, or when its sandbox would show the course folder to student code.
    """
    from course_lib.grading.autograde.sandbox import SandboxError, exposes, sandbox_kind

    mine = course_version()
    if client_version != mine:
        return "", (f"it has {mine}, the client has {client_version}: install the same course_lib on every worker "
                    "(the same commit of the course's repository)")
    try:
        kind = sandbox_kind(sandbox)
    except SandboxError as err:
        return "", str(err)
    if kind == "bwrap" and Path(course_root).exists():
        shown = exposes(Path(course_root))
        if shown is not None:
            return kind, f"the course folder {course_root} lies inside {shown}, which the sandbox shows to student code"
    return kind, None


def grade_on_worker(task: Task) -> Returned:
    """Grade one task on this worker (run by Dask): the same judge and sandbox as local grading.

    Raises:
        WorkerRefused: this worker's course_lib is not the client's; bubblewrap is missing while
            the task asks for it; the sandbox would show the course folder; or no sandbox starts here.
    """
    worker, threads = _this_worker()
    kind, refusal = worker_check(task.course_version, task.sandbox, task.course_root)
    if refusal is not None:
        raise WorkerRefused(worker, refusal)
    from course_lib.grading.autograde.runner import Submission, grade_submission
    from course_lib.grading.autograde.sandbox import Sandbox, SandboxError

    _register_cleanup()
    _STATE.setup()
    sources = [_STATE.source(task.assignment, entry) for entry in task.sources]
    notebooks = list(zip(sources, task.notebooks, strict=True))
    submission = Submission(task.assignment, task.student_id, Path(task.course_root), notebooks, list(task.files), list(task.notes),
                            "", None)
    key = (kind, task.limits, task.preload)

    def new_sandbox() -> Sandbox:
        return Sandbox(kind, _STATE.snapshot, task.limits, list(task.preload))

    sandbox = _STATE.take(key)
    phases: dict[str, float] = {}
    if sandbox is None or not sandbox.alive:
        if sandbox is not None:
            sandbox.kill()
        sandbox = new_sandbox()
        try:
            phases["sandbox start"] = sandbox.start()
        except SandboxError as err:
            raise WorkerRefused(worker, f"no {kind} sandbox starts here ({err})") from None
    try:
        results, spent, error, sandbox = grade_submission(submission, _STATE.judge, task.limits, sandbox, new_sandbox)
    except BaseException:
        if sandbox is not None:
            sandbox.kill()
        raise
    _STATE.give_back(key, sandbox, threads)
    for name, value in spent.items():
        phases[name] = phases.get(name, 0.0) + value
    return Returned([_slim(r) for r in results], phases, error, kind, worker)


def _slim(result: NotebookResult) -> NotebookResult:
    """The result without the plan's cells (the executed notebook holds them): less to send."""
    from course_lib.grading.autograde.plan import Plan

    plan = result.plan
    result.plan = Plan(plan.notebook, [], notes=list(plan.notes), problem=plan.problem)
    return result


# ---- the client's side ----------------------------------------------------------------------------


def check_cluster(address: str, db_url: str) -> None:
    """Refuse, before anything runs, what cannot work: Dask missing, a bad ``local:N``, or a
    remote cluster with a SQLite gradebook.

    A cluster run needs a gradebook on a server (PostgreSQL); with ``local:N`` everything
    stays on this machine, so its SQLite file will do.

    Raises:
        CourseError: saying what to do instead.
    """
    if address.startswith("local:"):
        if _local_workers(address) < 1:
            raise CourseError(f"--cluster {address}: local:N needs a number of workers N >= 1 (for example local:4)")
    elif db_url.startswith("sqlite"):
        raise CourseError(f"--cluster {address} needs a gradebook on a database server, not the SQLite file {db_url}: "
                          "pass --db-url postgresql://user@host:5432/course (or set COURSE_DB_URL)")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise CourseError(f"--cluster needs Dask: {INSTALL_HINT}") from None


def _local_workers(address: str) -> int:
    try:
        return int(address[len("local:"):])
    except ValueError:
        return 0


def open_cluster(address: str) -> ClusterGrader:
    """Connect to the Dask scheduler at ``address`` (``tcp://host:port``), or start ``local:N`` workers here.

    Raises:
        CourseError: the scheduler cannot be reached, or local workers cannot start.
    """
    import dask
    from distributed import Client

    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    if address.startswith("local:"):
        return ClusterGrader(None, address)  # started when there is something to grade
    if "://" not in address:
        address = f"tcp://{address}"
    timeout = dask.config.get("distributed.comm.timeouts.connect")
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CourseError(f"cannot reach the Dask scheduler at {address} ({detail}); start one with `dask scheduler` "
                          "(see README, \"Grading on a cluster\")") from None
    except ValueError as err:
        raise CourseError(f"--cluster {address}: not a Dask scheduler address ({err}); for example tcp://host:8786") from None
    return ClusterGrader(client, address)


@dataclass
class _InFlight:
    submission: Submission
    task: Task
    isolated: bool = False
    allowed: frozenset[str] | None = None


@dataclass
class _Workers:
    """The scheduler's workers as last seen, and those that refused."""

    threads: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    seen: float = 0.0

    @property
    def good(self) -> list[str]:
        return sorted(w for w in self.threads if w not in self.refused)

    @property
    def good_threads(self) -> int:
        return sum(n for w, n in self.threads.items() if w not in self.refused)


class ClusterGrader:
    """A :data:`~course_lib.grading.autograde.runner.Grader` that grades on a Dask cluster.

    Args:
        client: a connected ``distributed.Client``; None for ``local:N``, whose workers start
            on the first submission to grade.
        address: what the user named (for messages).
    """

    def __init__(self, client: Any, address: str) -> None:
        self.client = client
        self.address = address
        self.cluster: Any = None
        self.workers = _Workers()
        self._counter = itertools.count()

    def _start_local(self) -> None:
        from distributed import Client, LocalCluster

        workers = _local_workers(self.address)
        try:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                        dashboard_address=None, silence_logs=logging.CRITICAL)
        except Exception as err:  # ports, processes: whatever stops a local cluster, one line says it
            raise CourseError(f"could not start {workers} local Dask worker(s): {type(err).__name__}: {err}") from None
        self.client = Client(self.cluster)

    def close(self) -> None:
        try:
            if self.client is not None:
                self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()

    # ---- workers ---------------------------------------------------------------------------

    def _refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.workers.seen < REFRESH_SECONDS:
            return
        self.workers.threads = dict(self.client.nthreads())
        self.workers.seen = time.monotonic()

    def _check_workers(self, run: Run) -> None:
        """Ask every worker whether it can grade (:func:`worker_check`) before sending work."""
        answers = self.client.run(worker_check, course_version(), run.requested_sandbox, str(run.course.root), on_error="return")
        refusals = {}
        for worker, answer in answers.items():
            if isinstance(answer, BaseException):
                refusals[worker] = f"it cannot load course_lib's grading code ({type(answer).__name__}: {answer})"
            elif answer[1] is not None:
                refusals[worker] = answer[1]
        quiet = bool(answers) and len(refusals) == len(answers)  # the error below says it all
        for worker, why in refusals.items():
            self._refuse(worker, why, quiet=quiet)
        self._refresh(force=True)
        self._some_worker_can_grade()

    def _some_worker_can_grade(self) -> None:
        if self.workers.threads and not self.workers.good:
            by_reason: dict[str, list[str]] = {}
            for worker, why in sorted(self.workers.refused.items()):
                by_reason.setdefault(why, []).append(worker)
            raise CourseError(f"no worker of {self.address} can grade: "
                              + "; ".join(f"{', '.join(workers)}: {why}" for why, workers in by_reason.items()))

    def _refuse(self, worker: str, why: str, *, quiet: bool = False) -> None:
        if worker not in self.workers.refused:
            self.workers.refused[worker] = why
            if not quiet:
                print(f"course: warning: worker {worker} cannot grade: {why}", file=sys.stderr)

    # ---- grading ---------------------------------------------------------------------------

    def __call__(self, run: Run, todo: list[Submission], preload: list[str], report: RunReport) -> Iterator[Graded]:
        try:
            yield from self._grade(run, todo, preload, report)
        except OSError as err:  # the scheduler went away (distributed's CommClosedError is an OSError)
            raise CourseError(f"lost the Dask scheduler at {self.address} ({type(err).__name__}: {err}); every submission "
                              "graded so far is saved: run the same command again to grade the rest") from None

    def _grade(self, run: Run, todo: list[Submission], preload: list[str], report: RunReport) -> Iterator[Graded]:
        from distributed import TimeoutError as DaskTimeout
        from distributed import wait

        if self.client is None:
            self._start_local()
        self._check_workers(run)
        if not self.workers.threads:
            print(f"course: waiting for workers to join {self.address} (Ctrl-C stops)", file=sys.stderr)
        report.workers = self.workers.good_threads
        report.sandbox = run.requested_sandbox
        queued: deque[Submission] = deque(todo)
        suspects: deque[Submission] = deque()
        in_flight: dict[Any, _InFlight] = {}
        try:
            while queued or suspects or in_flight:
                self._refresh()
                report.workers = max(report.workers, self.workers.good_threads)
                self._resubmit_stranded(in_flight)
                window = 2 * max(1, self.workers.good_threads)
                while queued and len(in_flight) < window and not any(f.isolated for f in in_flight.values()):
                    self._submit(in_flight, queued.popleft(), run, preload)
                if not queued and not in_flight and suspects:
                    # alone on the cluster: if a worker dies now, this submission killed it
                    self._submit(in_flight, suspects.popleft(), run, preload, isolated=True)
                if not in_flight:
                    continue
                try:
                    done, _ = wait(list(in_flight), timeout=REFRESH_SECONDS, return_when="FIRST_COMPLETED")
                except DaskTimeout:
                    continue
                for future in done:
                    flight = in_flight.pop(future)
                    graded = self._collect(future, flight, run, in_flight, suspects)
                    if graded is not None:
                        yield graded
        finally:
            if in_flight:
                with contextlib.suppress(OSError):
                    self.client.cancel(list(in_flight))

    def _submit(self, in_flight: dict[Any, _InFlight], submission: Submission, run: Run, preload: list[str], *,
                isolated: bool = False) -> None:
        self._send(in_flight, _InFlight(submission, Task.of(submission, run, preload), isolated))

    def _send(self, in_flight: dict[Any, _InFlight], flight: _InFlight) -> None:
        """Submit a task under a key of its own (a rerun's tasks never meet a killed client's), to
        the workers that did not refuse."""
        submission = flight.submission
        key = f"course-autograde-{submission.student_id}-{submission.assignment}-{next(self._counter)}-{uuid.uuid4().hex[:8]}"
        allowed = frozenset(self.workers.good) if self.workers.refused else None
        future = self.client.submit(grade_on_worker, flight.task, key=key, pure=False,
                                    workers=sorted(allowed) if allowed is not None else None, allow_other_workers=False)
        in_flight[future] = _InFlight(submission, flight.task, flight.isolated, allowed)

    def _resubmit_stranded(self, in_flight: dict[Any, _InFlight]) -> None:
        """Tasks kept for workers that are all gone go to the good workers there are now."""
        alive = set(self.workers.threads)
        good = set(self.workers.good)
        for future, flight in list(in_flight.items()):
            if flight.allowed is not None and not (flight.allowed & alive) and good:
                del in_flight[future]
                self.client.cancel([future])
                self._send(in_flight, flight)

    def _collect(self, future: Any, flight: _InFlight, run: Run, in_flight: dict[Any, _InFlight],
                 suspects: deque[Submission]) -> Graded | None:
        """The graded submission of a finished task, or None when it was sent again."""
        from distributed.scheduler import KilledWorker

        from course_lib.grading.autograde.runner import Graded

        submission = flight.submission
        if future.status == "finished":
            returned: Returned = future.result()
            return Graded(submission, returned.results, dict(returned.phases), returned.error, returned.sandbox)
        if future.status == "cancelled":
            return Graded(submission, [], {}, "not graded: the cluster cancelled its task (the scheduler restarted or was lost)")
        error = future.exception()
        if isinstance(error, WorkerRefused):
            self._refuse(error.worker, error.message)
            self._refresh(force=True)
            self._some_worker_can_grade()
            self._send(in_flight, flight)
            return None
        if isinstance(error, KilledWorker):
            if not flight.isolated:
                suspects.append(submission)
                return None
            alone = error.allowed_failures + 1
            reason = f"grading this submission killed its worker {2 * alone} times, {alone} of them while it ran alone; graded 0"
            return _zero(submission, run, reason)
        return Graded(submission, [], {}, f"internal error of the grader on the cluster: {type(error).__name__}: {error}")


def _zero(submission: Submission, run: Run, reason: str) -> Graded:
    """Every test of every notebook scores 0 with ``reason``; nothing runs."""
    from course_lib.grading.autograde.judge import run_notebook
    from course_lib.grading.autograde.runner import Graded

    results = [run_notebook(None, run.judge, source.blank(reason), [], run.limits)  # type: ignore[arg-type]
               for source, _ in submission.notebooks]
    return Graded(submission, results, {}, None, "")
