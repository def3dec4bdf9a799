"""The gradebook on a real PostgreSQL server, started by the test on a loopback port.

Needs Debian's ``postgresql`` package (initdb and pg_ctl); PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` user. Skips, saying why, without them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from components import postgres_binary, require, unavailable

from attacks import ASSIGNMENT, COURSE, FULL, answers, course, course_copy, submit

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    require("postgres")
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            unavailable("postgres", "running as root and there is no 'postgres' user to run PostgreSQL as")
        prefix = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else ["su", "postgres", "-s", "/bin/sh", "-c"]
    home = tempfile.mkdtemp(prefix="course-pg-")
    data = os.path.join(home, "data")
    os.mkdir(data, 0o700)
    if owner is not None:
        for path in (home, data):
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def run(*args: str) -> None:
        command = [*prefix, *args] if prefix[:1] != ["su"] else [*prefix, " ".join(args)]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    port = _free_port()
    try:
        run(initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        run(pg_ctl, "-D", data, "-l", os.path.join(home, "server.log"), "-w", "-t", "60", "-o",
            f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    except subprocess.CalledProcessError as err:
        shutil.rmtree(home, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {err.stderr or err.stdout}")
    import psycopg2

    con = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    con.autocommit = True
    con.cursor().execute("CREATE DATABASE course")
    con.close()
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/course"
    finally:
        try:
            run(pg_ctl, "-D", data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(home, ignore_errors=True)


def _count(url: str, sql: str) -> int:
    import psycopg2

    con = psycopg2.connect(url)
    try:
        cur = con.cursor()
        cur.execute(sql)
        return cur.fetchone()[0]
    except psycopg2.Error:
        return 0
    finally:
        con.close()


def test_parallel_grading_into_postgres_resumes_after_a_crash(tmp_path, postgres_url):
    from submissions import mistake_source

    root = course_copy(tmp_path / "course")
    model = answers(root)
    n = 5
    for i in range(n):
        cells = dict(model) if i % 2 == 0 else {**model, "ridge_gradient": mistake_source("risk.ridge_gradient", "sign", "ridge_gradient")}
        submit(root, f"s{i}", cells)
    env = {**os.environ, "COURSE_DB_URL": postgres_url}
    process = subprocess.Popen([COURSE, "--root", str(root), "autograde", ASSIGNMENT, "--quiet", "--jobs", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 240
    while _count(postgres_url, "SELECT count(*) FROM course_autograde_runs") < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    saved = _count(postgres_url, "SELECT count(*) FROM course_autograde_runs")
    assert saved == _count(postgres_url, "SELECT count(*) FROM submitted_assignment")

    rerun = course("--db-url", postgres_url, "autograde", ASSIGNMENT, "--quiet", "--jobs", "2", root=root)
    assert f"{n - saved} graded, 0 failed, {saved} unchanged" in rerun.stdout
    csv_path = tmp_path / "grades.csv"
    course("--db-url", postgres_url, "grades", "--csv", str(csv_path), root=root)
    rows = [line.split(",") for line in csv_path.read_text().splitlines()[1:]]
    assert {r[0]: float(r[2]) for r in rows} == {f"s{i}": FULL if i % 2 == 0 else FULL - 3 for i in range(n)}
    assert _count(postgres_url, "SELECT count(*) FROM submitted_assignment") == n
    course("--db-url", postgres_url, "feedback", root=root)
    assert (root / "feedback" / "s1" / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file()
