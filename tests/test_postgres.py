"""The gradebook on a real PostgreSQL server, started by the test on a loopback port.

Needs Debian's ``postgresql`` package (initdb and pg_ctl); PostgreSQL refuses to run as
root, so as root the server runs as the ``postgres`` user. Skips, saying why, without them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from components import unavailable

from attacks import ASSIGNMENT, COURSE, FULL, answers, course, course_copy, submit
from servers import Unavailable, start_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def postgres_url():
    try:
        server = start_postgres()
    except Unavailable as err:
        unavailable("postgres", f"{err}; the gradebook was not tested on PostgreSQL")
    except RuntimeError as err:
        pytest.fail(str(err))
    try:
        yield server.url
    finally:
        server.stop()


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
