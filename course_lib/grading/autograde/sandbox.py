"""The judge's side of a grading sandbox: start it, hand it notebooks, kill it.

A :class:`Sandbox` is one worker: a bubblewrap container running
:mod:`course_lib.grading.autograde.zygote`, which has imported the heavy libraries once and
forks one child per notebook. What the container sees:

- read-only: ``/usr``, the Python installation, the virtual environment, a snapshot of
  ``course_lib`` (taken when the run starts) and a few files of ``/etc``;
- writable: a size-limited private ``/tmp`` (the notebook's working folder) and
  ``/dev/shm``, both emptied after every notebook;
- nothing else: no course folder (so no ``solutions/``, no gradebook, no other
  student's files), no network (its own empty network namespace), its own PID and IPC
  namespaces; it dies with the judge (``--die-with-parent``).

When the judge runs as root the children of each sandbox run as a user of their own (a
high uid that no account uses, see :func:`child_uid`), and every process of that user is
killed after each notebook; otherwise they run as the judge's own user, mapped to 65534
in a user namespace.

Without bubblewrap nothing of this holds, and grading needs an explicit
``sandbox="none"``: the zygote is a plain process with a scrubbed environment (no
database URL, no password, nothing of the judge's but ``PATH`` and the locale), its
children run as a user of their own when the judge is root, and the judge adopts and
kills whatever they leave behind, however their parent died. Student code can still read
every file its user may read, and, when the judge is not root, the judge's own files and
processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import course_lib

__all__ = ["SandboxError", "Limits", "Snapshot", "Sandbox", "bwrap_available", "sandbox_kind", "child_uid", "kill_user",
           "adopt_orphans", "kill_orphans"]

NOBODY = 65534
_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1",
               "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
SCRATCH = ["/tmp", "/dev/shm"]


class SandboxError(Exception):
    """The sandbox could not be started, or stopped answering."""


@dataclass(frozen=True)
class Limits:
    """What one notebook may use.

    Attributes:
        cell_seconds: wall time of one cell before it is interrupted.
        notebook_seconds: wall time of the whole notebook before it is stopped.
        memory_bytes: address space on top of the pre-imported libraries (RLIMIT_AS).
        output_bytes: text and images a notebook may print or display, in total.
        file_bytes: largest file it may write (RLIMIT_FSIZE).
        tmp_bytes: size of its private /tmp and of /dev/shm.
        processes: most processes of its user (RLIMIT_NPROC; see :func:`_process_cap`).
    """

    cell_seconds: float = 120.0
    notebook_seconds: float = 600.0
    memory_bytes: int = 4 << 30
    output_bytes: int = 1 << 20
    file_bytes: int = 256 << 20
    tmp_bytes: int = 512 << 20
    processes: int = 256

    def for_child(self, workdir: str, uid: int) -> dict[str, Any]:
        return {"memory_bytes": self.memory_bytes, "output_bytes": self.output_bytes, "file_bytes": self.file_bytes,
                "processes": _process_cap(self.processes, uid), "open_files": 1024, "workdir": workdir}


_UID_BASE = 2_000_000_000
_uids = iter(range(1 << 30))


def child_uid() -> int:
    """A user id for one sandbox's children when the judge is root: unused by any account, different for
    every sandbox of this run (and, through the process id, of concurrent runs), so that its limits
    and its processes are its own."""
    return _UID_BASE + (os.getpid() % 100_000) * 256 + next(_uids) % 256


def kill_user(uid: int) -> None:
    """SIGKILL every process of ``uid`` until none is left (only for the uids of :func:`child_uid`)."""
    if uid < _UID_BASE:
        return
    for _ in range(50):
        victims = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/status") as fh:
                    line = next(ln for ln in fh if ln.startswith("Uid:"))
            except (OSError, StopIteration):
                continue
            if str(uid) in line.split()[1:]:
                victims.append(int(entry))
        if not victims:
            return
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


_ZYGOTES: set[int] = set()
"""Process ids of the zygotes this process started (without bubblewrap it adopts everything below them)."""


def adopt_orphans() -> None:
    """Make this process a subreaper: what the processes it starts leave behind when their parent dies
    becomes its child, for :func:`kill_orphans` (used without bubblewrap, where no PID namespace does it)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def kill_orphans() -> None:
    """SIGKILL and reap every child of this process that is not one of its zygotes (see :func:`adopt_orphans`)."""
    me = os.getpid()
    for _ in range(20):
        orphans = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) not in _ZYGOTES:
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        if int(fh.read().rsplit(")", 1)[1].split()[1]) == me:
                            orphans.append(int(entry))
                except (OSError, IndexError, ValueError):
                    continue
        if not orphans:
            return
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in orphans:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _process_cap(extra: int, uid: int) -> int:
    """RLIMIT_NPROC counts all processes of a user: allow those it has now plus ``extra``."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count + extra


def bwrap_available() -> str | None:
    """The path of bubblewrap, or None."""
    return shutil.which("bwrap")


def sandbox_kind(requested: str) -> str:
    """``"bwrap"`` or ``"none"`` for a requested ``"auto" | "bwrap" | "none"``: ``auto`` is bubblewrap or
    an error, never a silent fall back to no sandbox."""
    if requested in ("auto", "bwrap") and not bwrap_available():
        raise SandboxError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap; to grade without a "
                           "sandbox anyway (student code then reads the disk as its own user), pass --sandbox none")
    return "bwrap" if requested == "auto" else requested


class Snapshot:
    """A read-only copy of course_lib taken when a run starts: what sandboxes import."""

    def __init__(self) -> None:
        sweep_stale()
        self.folder = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}lib-{os.getpid()}-"))
        source = Path(course_lib.__file__).resolve().parent
        shutil.copytree(source, self.folder / "course_lib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for path in sorted(self.folder.rglob("*"), reverse=True):
            path.chmod(0o555 if path.is_dir() else 0o444)
        self.folder.chmod(0o555)

    def close(self) -> None:
        for path in [self.folder, *self.folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(self.folder, ignore_errors=True)


_TEMP_PREFIX = "course-autograde-"


def sweep_stale() -> None:
    """Remove the temporary folders of runs that were killed (their process is gone)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_TEMP_PREFIX}*-*-*"):
        try:
            pid = int(folder.name[len(_TEMP_PREFIX):].split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or Path(f"/proc/{pid}").exists():
            continue
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir() and not path.is_symlink():
                try:
                    path.chmod(0o755)
                except OSError:
                    pass
        shutil.rmtree(folder, ignore_errors=True)


def _readable_etc() -> list[str]:
    names = ["ld.so.cache", "localtime", "nsswitch.conf", "host.conf", "fonts", "mime.types", "matplotlibrc"]
    return [f"/etc/{n}" for n in names if os.path.exists(f"/etc/{n}")]


def bound_paths() -> list[Path]:
    """The folders of this machine a sandbox sees (read-only): the system's and Python's."""
    pythons = {Path(sys.base_prefix).resolve(), Path(sys.prefix), Path(sys.executable).resolve().parent}
    return [Path("/usr"), *sorted(p for p in pythons if not str(p).startswith("/usr/"))]


def exposes(folder: Path) -> Path | None:
    """The bound folder that would show ``folder`` (the course) inside the sandbox, if any."""
    folder = folder.resolve()
    for bound in bound_paths():
        if folder == bound or bound in folder.parents:
            return bound
    return None


def _bwrap_command(snapshot: Snapshot, limits: Limits, zygote_args: list[str], uid: int) -> list[str]:
    venv = Path(sys.prefix)
    command = [bwrap_available() or "bwrap",
               "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
               "--die-with-parent", "--new-session", "--as-pid-1",
               "--hostname", "sandbox",
               "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        target = Path("/") / link
        if target.is_symlink():
            command += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            command += ["--ro-bind", str(target), f"/{link}"]
    for path in _readable_etc():
        command += ["--ro-bind", path, path]
    # Scratch space first: the read-only binds below must land on top of it, or a Python
    # living under /tmp (a course cloned there) would be hidden by the private /tmp.
    command += ["--proc", "/proc", "--dev", "/dev", "--mqueue", "/dev/mqueue",
                "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp",
                "--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/dev/shm"]
    binds = bound_paths()[1:]
    parents = sorted({str(parent) for path in binds for parent in path.parents if str(parent) != "/"})
    for parent in parents:
        # bubblewrap would create them 0700, closed to the children's user
        command += ["--perms", "0755", "--dir", parent]
    for path in binds:
        command += ["--ro-bind", str(path), str(path)]
    command += ["--ro-bind", str(snapshot.folder), "/course",
                "--remount-ro", "/",
                "--chdir", "/tmp",
                "--clearenv",
                "--setenv", "PATH", f"{venv}/bin:/usr/local/bin:/usr/bin:/bin",
                "--setenv", "PYTHONPATH", "/course",
                "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
                "--setenv", "HOME", "/tmp",
                "--setenv", "LANG", "C.UTF-8",
                "--setenv", "MPLCONFIGDIR", "/tmp/.matplotlib"]
    for name, value in _THREAD_ENV.items():
        command += ["--setenv", name, value]
    if os.environ.get("COURSE_AUTOGRADE_DEBUG"):
        command += ["--setenv", "COURSE_AUTOGRADE_DEBUG", "1"]
    if os.geteuid() == 0:
        # Root: no user namespace; the zygote keeps only the capabilities it needs to drop
        # its children to nobody and to kill them, and the children have none.
        command += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL"]
        zygote_args = [*zygote_args, "--drop-to", f"{uid}:{uid}"]
    else:
        command += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY), "--cap-drop", "ALL"]
    return [*command, str(venv / "bin" / "python"), "-m", "course_lib.grading.autograde.zygote", "--pid1", *zygote_args]


def _plain_command(snapshot: Snapshot, zygote_args: list[str], uid: int) -> list[str]:
    if os.geteuid() == 0:
        zygote_args = [*zygote_args, "--drop-to", f"{uid}:{uid}"]
    return [sys.executable, "-m", "course_lib.grading.autograde.zygote", *zygote_args]


def _plain_environment(scratch: str, snapshot: Snapshot) -> dict[str, str]:
    """The whole environment of a zygote without bubblewrap: nothing of the judge's but the locale and
    the programs' path (no database URL, password or token reaches student code)."""
    env = {"PATH": f"{Path(sys.prefix)}/bin:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "PYTHONPATH": str(snapshot.folder), "PYTHONDONTWRITEBYTECODE": "1", "HOME": scratch,
           "MPLCONFIGDIR": os.path.join(scratch, ".matplotlib"), **_THREAD_ENV}
    if os.environ.get("COURSE_AUTOGRADE_DEBUG"):
        env["COURSE_AUTOGRADE_DEBUG"] = "1"
    return env


def _kill_tree(root: int) -> None:
    """SIGKILL every descendant of ``root`` (no PID namespace to do it for us)."""
    from course_lib.grading.autograde.zygote import _descendants

    for _ in range(20):
        victims = _descendants(root)
        if not victims:
            return
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)


class Sandbox:
    """One worker: a sandboxed zygote and the control socket to it.

    Args:
        kind: ``"bwrap"`` or ``"none"``.
        snapshot: the course_lib copy the sandbox imports.
        limits: the limits of every notebook run in it.
        preload: modules the zygote imports once (the checks of the assignments graded).
    """

    def __init__(self, kind: str, snapshot: Snapshot, limits: Limits, preload: list[str]) -> None:
        self.kind = kind
        self.snapshot = snapshot
        self.limits = limits
        self.preload = preload
        self.process: subprocess.Popen | None = None
        self.control: socket.socket | None = None
        self.ready_info: dict[str, Any] = {}
        self.workdir = "/tmp/work"
        self.scratch: str | None = None
        self.started_in = 0.0
        """Seconds the last start took (the zygote's imports, mostly)."""
        root = os.geteuid() == 0
        self.uid = child_uid() if root else NOBODY if kind == "bwrap" else os.getuid()
        """The user the children run as (as the judge sees it)."""

    # ---- life cycle --------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> float:
        """Start the sandbox and wait until its zygote has imported everything; returns the seconds it took."""
        started = time.monotonic()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        args = ["--control-fd", str(theirs.fileno())]
        for module in self.preload:
            args += ["--preload", module]
        env = None
        if self.kind == "bwrap":
            args += [a for folder in SCRATCH for a in ("--scratch", folder)]
            # Read-only binds that sit inside a scratch folder are kept when it is emptied.
            args += [a for path in bound_paths() if any(Path(f) in path.parents for f in SCRATCH)
                     for a in ("--keep", str(path))]
            command = _bwrap_command(self.snapshot, self.limits, args, self.uid)
        else:
            self.scratch = tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}work-{os.getpid()}-")
            if os.geteuid() == 0:
                os.chown(self.scratch, self.uid, self.uid)
            self.workdir = os.path.join(self.scratch, "work")
            args += ["--scratch", self.scratch]
            command = _plain_command(self.snapshot, args, self.uid)
            env = _plain_environment(self.scratch, self.snapshot)
        stderr = tempfile.TemporaryFile() if not os.environ.get("COURSE_AUTOGRADE_DEBUG") else None
        try:
            self.process = subprocess.Popen(command, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
                                            env=env, cwd=self.scratch or "/")
        except OSError as err:
            raise SandboxError(f"cannot start the sandbox: {err}") from None
        finally:
            theirs.close()
        _ZYGOTES.add(self.process.pid)
        self.control = ours
        try:
            self.ready_info = self._expect("ready", deadline=started + timeout)
        except SandboxError:
            lines = []
            if stderr is not None:
                stderr.seek(0)
                lines = [ln for ln in stderr.read().decode(errors="replace").splitlines() if ln.strip()]
            self.kill()
            raise SandboxError(f"the sandbox did not start: {lines[-1] if lines else 'no message'}") from None
        finally:
            if stderr is not None:
                stderr.close()
        self.started_in = time.monotonic() - started
        return self.started_in

    @property
    def alive(self) -> bool:
        process = self.process
        return process is not None and process.poll() is None and self.control is not None

    def kill(self) -> None:
        """Stop the sandbox and everything in it, now (safe to call from any thread, more than once)."""
        process = self.process
        if process is not None:
            if process.poll() is None:
                if self.kind == "none":
                    _kill_tree(process.pid)
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            _ZYGOTES.discard(process.pid)
        kill_user(self.uid)
        if self.kind == "none":
            kill_orphans()
        control, self.control = self.control, None
        if control is not None:
            control.close()
        scratch, self.scratch = self.scratch, None
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        self.process = None

    def close(self) -> None:
        """Stop the sandbox politely, then for sure."""
        if self.alive:
            try:
                self._send(b'{"op": "exit"}')
            except SandboxError:
                pass
        self.kill()

    # ---- control -----------------------------------------------------------------------------

    def _send(self, message: bytes, fds: tuple[int, ...] = ()) -> socket.socket:
        control = self.control
        if control is None:
            raise SandboxError("the sandbox was stopped")
        try:
            if fds:
                socket.send_fds(control, [message], list(fds))
            else:
                control.send(message)
        except OSError as err:
            raise SandboxError(f"the sandbox is gone ({err})") from None
        return control

    def _expect(self, op: str, *, deadline: float) -> dict[str, Any]:
        import json

        control = self.control
        if control is None:
            raise SandboxError("the sandbox was stopped")
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(f"the sandbox did not answer {op!r} in time")
            try:
                control.settimeout(remaining)
                data = control.recv(1 << 16)
            except socket.timeout:
                raise SandboxError(f"the sandbox did not answer {op!r} in time") from None
            except OSError as err:
                raise SandboxError(f"the sandbox is gone ({err})") from None
            if not data:
                raise SandboxError("the sandbox is gone")
            message = json.loads(data)
            if message.get("op") == op:
                return message
            if message.get("op") == "error":
                raise SandboxError(f"the sandbox refused: {message.get('message')}")

    def spawn(self) -> socket.socket:
        """Fork a child for one notebook; returns the judge's end of its socket."""
        import json

        if not self.alive:
            raise SandboxError("the sandbox is not running")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        message = json.dumps({"op": "spawn", "limits": self.limits.for_child(self.workdir, self.uid)}).encode()
        try:
            self._send(message, (theirs.fileno(),))
        except SandboxError:
            ours.close()
            raise
        finally:
            theirs.close()
        try:
            self._expect("spawned", deadline=time.monotonic() + 30)
        except SandboxError:
            ours.close()
            raise
        return ours

    def interrupt(self) -> None:
        """SIGINT to the running child (a cell ran past its time)."""
        self._send(b'{"op": "interrupt"}')
        self._expect("interrupted", deadline=time.monotonic() + 10)

    def reap(self) -> str | None:
        """Kill the child and everything it started, and clean up; returns how the child ended.

        Raises:
            SandboxError: the zygote did not confirm a clean sandbox; the caller kills it.
        """
        self._send(b'{"op": "reap"}')
        reply = self._expect("reaped", deadline=time.monotonic() + 30)
        # the zygote has killed everything it could see; what its children's user still runs dies here too
        kill_user(self.uid)
        if self.kind == "none":
            kill_orphans()
        if not reply.get("clean"):
            raise SandboxError("the sandbox could not be emptied after a notebook")
        return reply.get("status")
