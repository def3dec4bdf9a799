"""Servers for tests and benchmarks, started as real processes on loopback ports.

PostgreSQL (Debian's ``postgresql``: initdb and pg_ctl; it refuses to run as root, so as
root it runs as the ``postgres`` user), a Dask scheduler with its workers (the ``cluster``
extra), and a Jupyter server (JupyterLab, or the Formgrader's plain server).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Unavailable", "free_port", "PostgresServer", "start_postgres", "DaskCluster", "start_dask",
           "jupyter_server"]


class Unavailable(Exception):
    """A program the server needs is not installed here (the message says which and how to get it)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_binary(name: str) -> str | None:
    """A PostgreSQL server program (``initdb``, ``pg_ctl``): Debian's versioned folder first, then PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


@dataclass
class PostgresServer:
    """A PostgreSQL server on a temporary folder; ``url`` names its database ``course``."""

    home: str
    data: str
    port: int
    prefix: list[str]

    @property
    def url(self) -> str:
        return self.database_url("course")

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        """A new database on this server; returns its URL."""
        import psycopg2

        con = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        con.autocommit = True
        con.cursor().execute(f"CREATE DATABASE {name}")
        con.close()
        return self.database_url(name)

    def _run(self, *args: str) -> None:
        command = [*self.prefix, *args] if self.prefix[:1] != ["su"] else [*self.prefix, " ".join(args)]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def stop(self) -> None:
        try:
            self._run(postgres_binary("pg_ctl") or "pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.home, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Start a server with a database ``course``.

    Raises:
        Unavailable: PostgreSQL is not installed, or there is no user to run it as.
        RuntimeError: it is installed but did not start.
    """
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    if not initdb or not pg_ctl:
        raise Unavailable("PostgreSQL is not installed (apt-get install postgresql)")
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise Unavailable("running as root and there is no 'postgres' user to run PostgreSQL as") from None
        prefix = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else ["su", "postgres", "-s", "/bin/sh", "-c"]
    home = tempfile.mkdtemp(prefix="course-pg-")
    data = os.path.join(home, "data")
    os.mkdir(data, 0o700)
    if owner is not None:
        for path in (home, data):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(home, data, free_port(), prefix)
    try:
        server._run(initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        server._run(pg_ctl, "-D", data, "-l", os.path.join(home, "server.log"), "-w", "-t", "60", "-o",
                    f"-p {server.port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    except subprocess.CalledProcessError as err:
        shutil.rmtree(home, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {err.stderr or err.stdout}") from None
    server.create_database("course")
    return server


# ---- Dask -------------------------------------------------------------------------------------------

DASK = str(Path(sys.executable).parent / "dask")


@dataclass
class DaskCluster:
    """``dask scheduler`` and ``dask worker`` processes (each worker with a nanny that restarts it if it dies)."""

    address: str
    folder: Path
    client: object
    processes: list[subprocess.Popen] = field(default_factory=list)

    def add_worker(self, name: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start one more worker process with one thread."""
        log = open(self.folder / f"{name}.log", "w")
        process = subprocess.Popen([DASK, "worker", self.address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                                    "--name", name, "--no-dashboard", "--local-directory", str(self.folder / name)],
                                   stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def worker_pids(self) -> dict[str, int]:
        """The process id of each worker, by address."""
        return self.client.run(os.getpid)

    def stop_process(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)

    def stop(self) -> None:
        try:
            if self.client is not None:
                self.client.close()
        finally:
            for process in reversed(self.processes):
                self.stop_process(process)
            shutil.rmtree(self.folder, ignore_errors=True)


def start_dask(workers: int, timeout: float = 180) -> DaskCluster:
    """A scheduler on a free loopback port and ``workers`` one-thread worker processes, all connected.

    Raises:
        Unavailable: dask/distributed are not installed.
    """
    try:
        from distributed import Client
    except ImportError:
        raise Unavailable("dask/distributed are not installed (pip install -e '.[cluster]')") from None
    folder = Path(tempfile.mkdtemp(prefix="course-dask-"))
    port = free_port()
    log = open(folder / "scheduler.log", "w")
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    cluster = DaskCluster(f"tcp://127.0.0.1:{port}", folder, None, [scheduler])
    try:
        for i in range(workers):
            cluster.add_worker(f"worker-{i}")
        cluster.client = Client(cluster.address, timeout=f"{timeout}s")
        cluster.client.wait_for_workers(workers, timeout=timeout)
    except BaseException:
        if cluster.client is not None:
            cluster.client.close()
        for process in reversed(cluster.processes):
            cluster.stop_process(process)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return cluster


@contextmanager
def jupyter_server(app: str, root_dir: Path, token: str, log_path: Path, *args: str,
                   env: dict[str, str] | None = None, timeout: float = 120) -> Iterator[str]:
    """Run ``jupyter <app>`` (``lab`` or ``server``) on a free loopback port over ``root_dir``;
    yields its URL once it answers, and stops it with everything it started."""
    import pytest

    port = free_port()
    command = [str(Path(sys.executable).parent / "jupyter"), app, "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
               *args]
    if os.geteuid() == 0:
        command.append("--allow-root")
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=root_dir, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + timeout
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                    break
                except OSError:
                    if process.poll() is not None or time.time() > deadline:
                        pytest.fail(f"jupyter {app} did not start:\n{log_path.read_text()[-3000:]}")
                    time.sleep(0.5)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
