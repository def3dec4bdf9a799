"""The process inside a grading sandbox: imports the heavy libraries once, forks one child per notebook.

Started by :mod:`course_lib.grading.autograde.sandbox` (``python -m course_lib.grading.autograde.zygote``),
usually as PID 1 of its own PID namespace inside bubblewrap. It imports torch, NumPy,
matplotlib, IPython and the course's checks once (most of a fresh kernel's start-up
time), then serves the judge's control socket:

``spawn`` (with a socket passed as a file descriptor)
    fork a child that executes one notebook's cells, as an IPython shell would, and
    talks to the judge over that socket (:class:`Executor`);
``interrupt``
    send SIGINT to the child (a cell ran past its time limit);
``reap``
    kill the child and every other process in the sandbox, wait for all of them, and
    empty the sandbox's writable folders, its System V IPC objects, POSIX message queues
    and the children's kernel keyrings, so that nothing of one student's run is left for
    the next.

The zygote never runs student code and never reads what a child wrote. Children
cannot signal or trace it: it is the namespace's PID 1 (which ignores signals it has no
handler for), it is not dumpable, and when the judge runs as root the children run as
another user.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import io
import json
import os
import random
import resource
import signal
import socket
import stat
import sys
import time
from typing import Any

# The judge sets these in the sandbox's environment too (this module is imported after the
# course_lib package): one thread each, so that fork() is safe and workers do not
# oversubscribe the machine's cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"

_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_PDEATHSIG = 1
_STREAM_PIECE = 256 << 10
_DISPLAY_MAX = 2 << 20
"""Characters of one stream frame, and of one displayed value (a larger image is dropped)."""
_DEBUG = bool(os.environ.get("COURSE_AUTOGRADE_DEBUG"))
"""Children keep stderr and print why they died (set by the judge from its own environment)."""


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(option, value, 0, 0, 0)


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


# ---- the child: one notebook ------------------------------------------------------------------


class Executor:
    """Runs the cells the judge sends, in one IPython shell, and sends back outputs and answers.

    Everything here runs in the student's process, so nothing here is trusted: the judge
    reads what arrives as untrusted data, and only while the cell it sent is running.
    """

    def __init__(self, sock: socket.socket, limits: dict[str, Any]) -> None:
        from course_lib import grading
        from course_lib.grading.autograde import wire

        self.wire = wire
        self.sock = sock
        self.output_budget = int(limits.get("output_bytes", 1 << 20))
        self.truncated = False
        self.outputs: list[dict[str, Any]] = []
        self.index = -1
        sys.stdout = _Stream("stdout", self)
        sys.stderr = _Stream("stderr", self)
        self.shell = _make_shell(self)
        grading.set_reporter(self.report)

    # outputs of the current cell, within the notebook's budget
    def _spend(self, n: int) -> bool:
        if n <= self.output_budget:
            self.output_budget -= n
            return True
        if not self.truncated:
            self.truncated = True
            self.outputs.append({"output_type": "stream", "name": "stderr",
                                 "text": "\n[output truncated: this notebook reached the output limit]\n"})
        return False

    def stream(self, name: str, text: str) -> None:
        if not text or not self._spend(len(text)):
            return
        last = self.outputs[-1] if self.outputs else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None, *, result: int | None = None) -> None:
        data = {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str) and len(v) <= _DISPLAY_MAX}
        if not data or not self._spend(sum(len(v) for v in data.values())):
            return
        output = {"output_type": "display_data", "data": data, "metadata": {}}
        if result is not None:
            output.update(output_type="execute_result", execution_count=result)
        self.outputs.append(output)

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        text = [str(line) for line in traceback]
        if self._spend(len(ename) + len(evalue) + sum(map(len, text))):
            self.outputs.append({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": text})

    def report(self, name: str, hidden: bool, answers: list[Any]) -> None:
        """Judge mode of :func:`course_lib.grading.check`: send the answers, judge nothing."""
        payload = self.wire.encode_answers(answers)
        self.wire.send(self.sock, {"op": "answers", "index": self.index, "check": str(name), "hidden": bool(hidden)}, payload)

    def run_cell(self, index: int, code: str) -> None:
        self.index, self.outputs = index, []
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            result = self.shell.run_cell(code, store_history=True)
            ok = bool(result.success)
        except BaseException as err:  # SystemExit and the like escape run_cell
            self.error(type(err).__name__, str(err), [f"{type(err).__name__}: {err}"])
            ok = False
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        for output in self.outputs:
            if output["output_type"] == "stream":
                # frames stay small: a long stream goes in pieces, which the judge joins again
                text = output["text"]
                for start in range(0, max(len(text), 1), _STREAM_PIECE):
                    piece = dict(output, text=text[start:start + _STREAM_PIECE])
                    self.wire.send(self.sock, {"op": "output", "index": index, "output": piece})
            else:
                self.wire.send(self.sock, {"op": "output", "index": index, "output": output})
        self.wire.send(self.sock, {"op": "done", "index": index, "ok": ok,
                                   "execution_count": self.shell.execution_count - 1})

    def serve(self) -> None:
        while True:
            header, payload = self.wire.receive(self.sock)
            op = header["op"]
            if op == "file":
                path = os.path.join(os.getcwd(), header["name"])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as fh:
                    fh.write(payload)
            elif op == "cell":
                self.run_cell(int(header["index"]), str(header["code"]))
            elif op == "bye":
                return


class _Stream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` of the child: text goes into the running cell's outputs."""

    def __init__(self, name: str, sink: Executor) -> None:
        self.name, self._sink = name, sink

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._sink.stream(self.name, text)
        return len(text)

    def isatty(self) -> bool:
        return False


def _make_shell(sink: Executor):
    """An IPython shell whose displays, results and tracebacks become notebook outputs."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            sink.display(data, metadata)

        def clear_output(self, wait=False):
            sink.outputs = [o for o in sink.outputs if o["output_type"] == "error"]

    class Hook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            sink.display(format_dict, md_dict, result=self.prompt_count)

        def finish_displayhook(self):
            pass

    class Shell(InteractiveShell):
        display_pub_class = Type(Publisher)
        displayhook_class = Type(Hook)

        def enable_gui(self, gui=None):
            pass

        def _showtraceback(self, etype, evalue, stb):
            sink.error(getattr(etype, "__name__", str(etype)), str(evalue), list(stb))

    config = Config()
    config.HistoryManager.enabled = False
    shell = Shell.instance(config=config)
    from matplotlib_inline.backend_inline import configure_inline_support

    configure_inline_support(shell, "module://matplotlib_inline.backend_inline")
    return shell


def _child(sock_fd: int, control: socket.socket, limits: dict[str, Any], drop_to: tuple[int, int] | None, pid1: bool) -> None:
    """The forked child: isolate, limit, then execute the notebook. Never returns."""
    status = 0
    try:
        control.close()
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2) if not _DEBUG else (0, 1):
            os.dup2(devnull, fd)
        if drop_to is not None:
            os.setgroups([])
            os.setgid(drop_to[1])
            os.setuid(drop_to[0])
        # a session keyring of its own, gone with it (the zygote's would be shared with the next child)
        _keyctl(_KEYCTL_JOIN_SESSION_KEYRING, 0)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        if not pid1:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        os.makedirs(limits["workdir"], exist_ok=True)
        os.chdir(limits["workdir"])
        scratch = os.path.dirname(os.path.abspath(limits["workdir"]))
        os.environ["HOME"] = limits["workdir"]
        os.environ["IPYTHONDIR"] = os.path.join(scratch, ".ipython")
        os.environ["MPLCONFIGDIR"] = os.path.join(scratch, ".matplotlib")
        cap = resource.RLIM_INFINITY
        if limits.get("memory_bytes"):
            cap = _vm_size() + int(limits["memory_bytes"])
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        for name, key in (("RLIMIT_FSIZE", "file_bytes"), ("RLIMIT_NPROC", "processes"), ("RLIMIT_NOFILE", "open_files")):
            if limits.get(key):
                resource.setrlimit(getattr(resource, name), (int(limits[key]), int(limits[key])))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # no POSIX message queues: a queue outlives the process that made it
        resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))
        # a fresh kernel seeds these from the OS; forked children would all share the zygote's
        random.seed()
        import numpy

        numpy.random.seed()
        sock = socket.socket(fileno=sock_fd)
        Executor(sock, limits).serve()
    except BaseException:  # the judge sees the closed socket and the exit status
        status = 70
        if _DEBUG:
            import traceback

            traceback.print_exc()
    finally:
        os._exit(status)


# ---- the zygote -------------------------------------------------------------------------------


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"killed by {name}"
    if os.WIFEXITED(status):
        return f"exit status {os.WEXITSTATUS(status)}"
    return f"status {status}"


class Zygote:
    """Serves the judge's control socket (see the module docstring)."""

    def __init__(self, control: socket.socket, *, pid1: bool, drop_to: tuple[int, int] | None, scratch: list[str],
                 keep: list[str] | None = None) -> None:
        self.control = control
        self.pid1 = pid1
        self.drop_to = drop_to
        self.scratch = scratch
        self.keep = keep or []
        self.child: int | None = None
        self.child_status: str | None = None

    def reply(self, message: dict[str, Any]) -> None:
        self.control.send(json.dumps(message).encode())

    def serve(self) -> None:
        while True:
            data, fds, _, _ = socket.recv_fds(self.control, 1 << 16, 4)
            if not data:
                return
            message = json.loads(data)
            op = message.get("op")
            if op == "spawn":
                if self.child is not None or len(fds) != 1:
                    for fd in fds:
                        os.close(fd)
                    self.reply({"op": "error", "message": "spawn while a child runs, or without its socket"})
                    continue
                pid = os.fork()
                if pid == 0:
                    _child(fds[0], self.control, message["limits"], self.drop_to, self.pid1)
                os.close(fds[0])
                self.child, self.child_status = pid, None
                self.reply({"op": "spawned", "pid": pid})
            elif op == "interrupt":
                if self.child is not None:
                    try:
                        os.kill(self.child, signal.SIGINT)
                    except ProcessLookupError:
                        pass
                self.reply({"op": "interrupted"})
            elif op == "reap":
                status, clean = self.reap()
                self.reply({"op": "reaped", "status": status, "clean": clean})
            elif op == "exit":
                return
            else:
                self.reply({"op": "error", "message": f"unknown op {op!r}"})

    def reap(self) -> tuple[str | None, bool]:
        """Kill the child and everything it started; wait for all; empty the scratch folders."""
        status = None
        if self.child is not None:
            try:
                os.kill(self.child, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                _, raw = os.waitpid(self.child, 0)
                status = _describe_status(raw)
            except ChildProcessError:
                status = "unknown"
            self.child = None
        self._kill_everything_else()
        return status, self._wipe()

    def _kill_everything_else(self) -> None:
        if self.pid1:
            # PID 1 of the namespace: kill(-1) reaches every other process in it, those that
            # changed session, ignore signals or were reparented included; then reap them all.
            for _ in range(3):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                while True:
                    try:
                        os.waitpid(-1, 0)
                    except ChildProcessError:
                        break
        else:
            # No namespace (no bubblewrap): the zygote is a subreaper, so orphans of the child
            # are reparented to it; kill its descendants until none are left.
            for _ in range(50):
                victims = _descendants(os.getpid())
                if not victims:
                    break
                for pid in victims:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                while True:
                    try:
                        pid, _ = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        time.sleep(0.01)
                        if not _descendants(os.getpid()):
                            break

    def _wipe(self) -> bool:
        """Empty the scratch folders (as the children's user, who owns what is in them)."""
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                if self.drop_to is not None:
                    os.setgroups([])
                    os.setgid(self.drop_to[1])
                    os.setuid(self.drop_to[0])
                for folder in self.scratch:
                    if os.path.isdir(folder) and not _empty(folder, self.keep):
                        code = 1
                # what lives in the kernel, not in files: only where it is the children's alone
                # (a namespace of this sandbox, or a user of its own)
                if self.pid1 or self.drop_to is not None:
                    _remove_ipc(os.getuid())
                    if not _remove_message_queues(os.getuid()) or not _clear_keyrings():
                        code = 1
            except BaseException:
                code = 1
            os._exit(code)
        _, raw = os.waitpid(pid, 0)
        return os.WIFEXITED(raw) and os.WEXITSTATUS(raw) == 0


def _empty(folder: str, keep: list[str]) -> bool:
    """Remove everything in ``folder`` except the paths in ``keep`` (and the folders leading
    to them); returns whether only those are left."""
    clean = True
    for entry in os.listdir(folder):
        path = os.path.join(folder, entry)
        if path in keep:
            continue
        if any(k.startswith(path + os.sep) for k in keep):
            clean = _empty(path, keep) and clean
            continue
        _remove(path)
        clean = clean and not os.path.lexists(path)
    return clean


def _remove(path: str) -> None:
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
        return
    os.chmod(path, stat.S_IRWXU)
    for entry in os.listdir(path):
        _remove(os.path.join(path, entry))
    os.rmdir(path)


def _remove_ipc(uid: int) -> None:
    """Remove the System V shared memory, semaphores and queues of ``uid`` (the children's user)."""
    libc = ctypes.CDLL(None, use_errno=True)
    IPC_RMID = 0
    for table, remove in (("shm", libc.shmctl), ("sem", libc.semctl), ("msg", libc.msgctl)):
        try:
            with open(f"/proc/sysvipc/{table}") as fh:
                lines = fh.read().splitlines()
        except OSError:
            continue
        header = lines[0].split() if lines else []
        for row in lines[1:]:
            fields = dict(zip(header, row.split()))
            if int(fields.get("uid", -1)) != uid:
                continue
            ident = int(fields["shmid" if table == "shm" else "semid" if table == "sem" else "msqid"])
            if table == "sem":
                remove(ident, 0, IPC_RMID, None)
            else:
                remove(ident, IPC_RMID, None)


_MQUEUE = "/dev/mqueue"


def _remove_message_queues(uid: int) -> bool:
    """Unlink the POSIX message queues of ``uid`` (children cannot make any, see RLIMIT_MSGQUEUE; this
    is the second lock). Returns whether none is left."""
    if not os.path.isdir(_MQUEUE):
        return True
    for name in os.listdir(_MQUEUE):
        path = os.path.join(_MQUEUE, name)
        try:
            if os.lstat(path).st_uid == uid:
                os.unlink(path)
        except OSError:
            pass
    return not any(os.lstat(os.path.join(_MQUEUE, n)).st_uid == uid for n in os.listdir(_MQUEUE))


# keyctl(2): the user's keyrings outlive its processes
_KEYCTL_JOIN_SESSION_KEYRING, _KEYCTL_CLEAR, _KEYCTL_READ, _KEYCTL_GET_PERSISTENT = 1, 7, 11, 22
_KEY_SPEC_PROCESS_KEYRING, _KEY_SPEC_SESSION_KEYRING = -2, -3
_KEY_SPEC_USER_KEYRING, _KEY_SPEC_USER_SESSION_KEYRING = -4, -5
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "i686": 288, "armv7l": 311}


def _keyctl(operation: int, *args: int) -> int:
    """The keyctl system call (-1 where the machine does not have it)."""
    import platform

    number = _SYS_KEYCTL.get(platform.machine())
    if number is None:
        return -1
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(ctypes.c_long(number), ctypes.c_long(operation), *(ctypes.c_long(a) for a in args))


def _clear_keyrings() -> bool:
    """Empty the keyrings of the calling user (user, user session, persistent, session) and check that they are
    empty. Returns True where the machine has no keyrings to clear."""
    keyrings = [_KEY_SPEC_USER_KEYRING, _KEY_SPEC_USER_SESSION_KEYRING, _KEY_SPEC_SESSION_KEYRING]
    persistent = _keyctl(_KEYCTL_GET_PERSISTENT, -1, _KEY_SPEC_PROCESS_KEYRING)
    if persistent > 0:
        keyrings.append(persistent)
    for keyring in keyrings:
        _keyctl(_KEYCTL_CLEAR, keyring)
    # a keyring that cannot be read (none here) holds nothing a child could read either
    return all(_keyctl(_KEYCTL_READ, keyring, 0, 0) <= 0 for keyring in keyrings)


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent:
                found.append(pid)
                frontier.append(pid)
    return found


class _Discard:
    """Where the warm-up shell's outputs go."""

    outputs: list[dict[str, Any]] = []

    def display(self, *args: Any, **kwargs: Any) -> None:
        pass

    def error(self, *args: Any) -> None:
        pass


def _warm_up_shell() -> None:
    """Build and drop one IPython shell, so that each child finds everything it imports already loaded
    (a child may run as a user that cannot read the Python installation, as without bubblewrap)."""
    from matplotlib_inline import backend_inline

    configured = getattr(backend_inline.configure_inline_support, "current_backend", None)
    shell = None
    try:
        shell = _make_shell(_Discard())
        shell.run_cell("1 + 1", store_history=False)
    except Exception:  # the children build their own shell and meet whatever failed here
        pass
    finally:
        # each child makes its own shell, and its own inline backend registers its figure formats on it
        if shell is not None:
            type(shell).clear_instance()
        backend_inline.InlineBackend.clear_instance()
        backend_inline.configure_inline_support.current_backend = configured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading.autograde.zygote")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--pid1", action="store_true", help="PID 1 of a namespace: clean up with kill(-1)")
    parser.add_argument("--drop-to", default=None, help="UID:GID the children run as")
    parser.add_argument("--scratch", action="append", default=[], help="a folder emptied after every child")
    parser.add_argument("--keep", action="append", default=[], help="a read-only bind inside a scratch folder, left alone")
    parser.add_argument("--preload", action="append", default=[], help="a module to import once")
    args = parser.parse_args(argv)
    started = time.monotonic()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    control = socket.socket(fileno=args.control_fd)
    if not args.pid1:
        # no namespace: adopt orphans (to kill them) and die with the judge
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(_PR_SET_DUMPABLE, 0)

    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    import IPython.core.interactiveshell  # noqa: F401
    import matplotlib.pyplot  # noqa: F401
    import matplotlib_inline.backend_inline  # noqa: F401

    # what creating a shell imports: loaded here once, not in every child
    for module in ("IPython.core.application", "IPython.core.completer", "IPython.core.completerlib", "IPython.core.magics",
                   "IPython.core.oinspect", "IPython.core.logger", "IPython.core.crashhandler", "bdb"):
        importlib.import_module(module)

    import course_lib
    import course_lib.grading.autograde.wire  # noqa: F401

    modules = [f"course_lib.{name}" for name in getattr(course_lib, "MODULES", ())]
    for module in [*modules, *args.preload, "numpy.random", "secrets"]:
        try:
            importlib.import_module(module)
        except Exception:  # the child will meet the same error where the notebook imports it
            pass
    _warm_up_shell()
    for folder in args.scratch:
        # start empty: what the imports left (matplotlib's cache) belongs to the zygote's user,
        # which may not be the children's
        os.makedirs(folder, exist_ok=True)
        _empty(folder, args.keep)
    drop_to = tuple(int(x) for x in args.drop_to.split(":")) if args.drop_to else None
    # Keep the collector away from the imported objects, so that children do not copy the
    # pages holding them (copy-on-write) the first time they collect.
    import gc

    gc.collect()
    gc.freeze()
    zygote = Zygote(control, pid1=args.pid1, drop_to=drop_to, scratch=args.scratch, keep=args.keep)
    zygote.reply({"op": "ready", "import_seconds": round(time.monotonic() - started, 3),
                  "course_lib": os.path.dirname(course_lib.__file__), "threads": len(os.listdir("/proc/self/task"))})
    zygote.serve()


if __name__ == "__main__":
    main()
