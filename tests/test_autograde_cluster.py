"""`course autograde --cluster`: a real Dask scheduler and workers, a real PostgreSQL gradebook.

One scheduler and two workers (one thread each, on loopback) and one PostgreSQL server
serve the whole module. A class of two assignments (honest, partly wrong, blank and
crashing students and an attacker) is graded once on this machine's pool and once on the
cluster, where the first run's client is killed (SIGKILL) and, during the rerun, one
worker is: the cluster's grades must be the local ones, each submission written once.

Needs the ``cluster`` extra (dask, distributed) and PostgreSQL; without them the tests
skip and say why, or fail when ``COURSE_REQUIRE`` names ``dask``.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from attacks import COURSE, FULL, TRICKS, WRONG_PARTS
from course_helpers import ROOT, graded_parts
from components import require, unavailable
from servers import DaskCluster, PostgresServer, Unavailable, free_port, start_dask, start_postgres
from submissions import fill_release, mistake_source, solution_sources, write_submission

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ASSIGNMENTS = ("01_risk", "07_init")
EXPERIMENTS = {"07_init": {"depth_plot", "train", "explorer", "quiz"}}
"""Locked cells that only run experiments for the reader (no test uses them): left out of this
class's copy of the course so that a submission grades in about a second."""
STUDENTS = 12


def _require_dask() -> None:
    require("dask")


# ---- the class ------------------------------------------------------------------------------------


def course_of(dest: Path, assignments: tuple[str, ...] = ASSIGNMENTS) -> Path:
    """A throw-away course with ``assignments``, their experiment cells left out."""
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    for assignment in assignments:
        for folder in ("solutions", "exercises"):
            shutil.copytree(ROOT / folder / assignment, dest / folder / assignment)
            path = dest / folder / assignment / f"{assignment}.ipynb"
            nb = nbformat.read(path, as_version=4)
            nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in EXPERIMENTS.get(assignment, ())]
            nbformat.write(nb, path)
    return dest


def build_class(root: Path) -> dict[str, str]:
    """Every student submits both assignments: 4 honest, 3 partly wrong, 2 blank, 2 crashing, 1 attacker."""
    kinds = {}
    for assignment in ASSIGNMENTS:
        release = root / "exercises" / assignment / f"{assignment}.ipynb"
        model = solution_sources(root / "solutions" / assignment / f"{assignment}.ipynb")
        parts = [p for p in graded_parts(assignment) if p.solution_id in model]
        for i in range(STUDENTS):
            student = f"s{i:02d}"
            cells = dict(model)
            if i < 4:
                kind = "honest"
            elif i < 7:
                kind = "partly wrong"
                for part in parts[i % len(parts):][: i - 3]:
                    from course_lib.grading import get_check

                    mistake = get_check(part.check_name).mistakes[i % len(get_check(part.check_name).mistakes)]
                    cells[part.solution_id] = mistake_source(part.check_name, mistake.name, part.object_name)
            elif i < 9:
                kind, cells = "blank", {}
            elif i < 11:
                kind = "crashing"
                part = parts[i % len(parts)].solution_id
                cells[part] = "raise RuntimeError('my code crashed')\n" + model[part]
            else:
                kind = "attacker"  # reads the reference solutions from the course folder, if it can see them
                if assignment == "01_risk":
                    cells.update(WRONG_PARTS)
                first = parts[0].solution_id
                cells[first] = cells[first] + "\n" + TRICKS["a_read_solutions"]
            kinds[student] = kind
            write_submission(root, student, assignment, assignment, fill_release(release, cells))
    return kinds


def grade_rows(root: Path, *db: str) -> dict[tuple[str, str], tuple[float, str]]:
    """``(student, assignment) -> (score, needs_manual_grade)`` from ``course grades``."""
    out = root / "grades.csv"
    result = subprocess.run([COURSE, "--root", str(root), *db, "grades", "--csv", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with open(out) as fh:
        return {(r["student_id"], r["assignment"]): (float(r["score"]), r["needs_manual_grade"]) for r in csv.DictReader(fh)}


# ---- servers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> PostgresServer:
    try:
        server = start_postgres()
    except Unavailable as err:
        unavailable("postgres", f"{err}; grading on a cluster was not tested")
    except RuntimeError as err:
        pytest.fail(str(err))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cluster() -> DaskCluster:
    """``dask scheduler`` and two ``dask worker`` processes (one thread each, with a nanny that restarts a dead worker)."""
    _require_dask()
    cluster = start_dask(workers=2)
    yield cluster
    cluster.stop()


def _rows(url: str, sql: str) -> list[tuple]:
    import psycopg2

    con = psycopg2.connect(url)
    try:
        cur = con.cursor()
        cur.execute(sql)
        return cur.fetchall()
    finally:
        con.close()


def _saved(db_url: str) -> int:
    """Submissions recorded as graded (0 before the first run has created the table)."""
    import psycopg2

    try:
        return _rows(db_url, "SELECT count(*) FROM course_autograde_runs")[0][0]
    except psycopg2.Error:
        return 0


# ---- the class graded here and on the cluster ----------------------------------------------------


@pytest.fixture(scope="module")
def class_folder():
    folder = Path(tempfile.mkdtemp(prefix="course-cluster-class-"))
    root = course_of(folder / "template")
    kinds = build_class(root)
    yield root, kinds
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def graded_here(class_folder):
    """The class graded by this machine's pool (2 workers, SQLite), as without --cluster."""
    template, _ = class_folder
    root = template.parent / "here"
    shutil.copytree(template, root)
    result = subprocess.run([COURSE, "--root", str(root), "autograde", "--quiet", "--jobs", "2"], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    return grade_rows(root)


def _start(root: Path, db_url: str, address: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([COURSE, "--root", str(root), "--db-url", db_url, "autograde", "--quiet", "--cluster", address, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_saved(db_url: str, process: subprocess.Popen, at_least: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while _saved(db_url) < at_least:
        assert process.poll() is None, f"finished before it could be interrupted:\n{process.communicate()}"
        assert time.monotonic() < deadline, "no grade was saved in time"
        time.sleep(0.05)


@dataclass
class ClusterRuns:
    root: Path
    db_url: str
    saved_before: set[tuple[str, str]]
    """What the first run had saved when its client was killed."""
    rerun: subprocess.CompletedProcess
    killed_worker: str
    grades: dict[tuple[str, str], tuple[float, str]]


@pytest.fixture(scope="module")
def on_the_cluster(class_folder, cluster, postgres):
    """The class graded on the cluster: the client is killed in the middle of the first run; in the
    middle of the rerun, so is the worker running one of its submissions."""
    template, _ = class_folder
    root = template.parent / "cluster"
    shutil.copytree(template, root)
    db_url = postgres.create_database("cluster_class")

    first = _start(root, db_url, cluster.address)
    _wait_for_saved(db_url, first, 3)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate(timeout=60)
    saved_before = set(_rows(db_url, "SELECT student_id, assignment FROM course_autograde_runs"))

    rerun = _start(root, db_url, cluster.address)
    _wait_for_saved(db_url, rerun, len(saved_before) + 2)
    busy = {worker: keys for worker, keys in cluster.client.processing().items() if keys}
    assert busy, "no worker was grading"
    victim = sorted(busy)[0]
    os.kill(cluster.worker_pids()[victim], signal.SIGKILL)
    out, err = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, out + err
    completed = subprocess.CompletedProcess(rerun.args, rerun.returncode, out, err)
    return ClusterRuns(root, db_url, saved_before, completed, victim, grade_rows(root, "--db-url", db_url))


def test_the_cluster_grades_as_this_machine_does(graded_here, on_the_cluster, class_folder):
    _, kinds = class_folder
    assert len(graded_here) == STUDENTS * len(ASSIGNMENTS) >= 24
    assert on_the_cluster.grades == graded_here
    # the scores are the answers' own: nobody's grade is an artefact of where it ran
    risk = {student: graded_here[(student, "01_risk")][0] for student in kinds}
    assert [risk[s] for s, k in kinds.items() if k == "honest"] == [FULL] * 4
    assert [risk[s] for s, k in kinds.items() if k == "blank"] == [0.0] * 2
    assert all(0 < risk[s] < FULL for s, k in kinds.items() if k in ("partly wrong", "crashing"))
    # the attacker execs text it reads from the disk: code the judge cannot read, so no points from that
    # part on (they go to a person), on the cluster as here (the sandbox keeps the solutions out of its sight)
    assert risk["s11"] == 0.0
    assert "sandbox: bwrap" in on_the_cluster.rerun.stdout


def test_a_killed_worker_loses_no_submission_and_none_is_graded_twice(on_the_cluster, cluster):
    runs = on_the_cluster
    n = STUDENTS * len(ASSIGNMENTS)
    left = n - len(runs.saved_before)
    assert f"{left} graded, 0 failed, {len(runs.saved_before)} unchanged" in runs.rerun.stdout
    assert runs.killed_worker not in cluster.client.nthreads(), "the worker was not killed"
    assert _saved(runs.db_url) == n == _rows(runs.db_url, "SELECT count(*) FROM submitted_assignment")[0][0]
    # Each submission was written once: as many rows inserted as there are submissions, and
    # none updated (a second write of a submission updates its row). Statistics reach the
    # server when a connection closes: wait for both runs' to arrive.
    deadline = time.monotonic() + 30
    while True:
        ((inserted, updated),) = _rows(runs.db_url, "SELECT n_tup_ins, n_tup_upd FROM pg_stat_user_tables "
                                                    "WHERE relname = 'course_autograde_runs'")
        if inserted >= n or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (inserted, updated) == (n, 0)


def test_a_rerun_after_the_client_was_killed_grades_only_what_was_left(on_the_cluster):
    runs = on_the_cluster
    n = STUDENTS * len(ASSIGNMENTS)
    assert 3 <= len(runs.saved_before) < n
    listed = set()
    for line in runs.rerun.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[1] in ASSIGNMENTS:
            listed.add((fields[0], fields[1]))
    everyone = {(f"s{i:02d}", a) for i in range(STUDENTS) for a in ASSIGNMENTS}
    assert listed == everyone - runs.saved_before


def test_a_worker_with_another_course_lib_refuses_and_the_others_grade(cluster, postgres, tmp_path):
    """A worker whose course_lib differs (here: a copy with one check edited) names both versions and
    gets no work; the other workers grade everything."""
    from course_lib.grading.autograde.cluster import course_version

    other = tmp_path / "other"
    shutil.copytree(Path(ROOT / "course_lib"), other / "course_lib", ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "course_lib" / "grading" / "checks" / "risk.py", "a") as fh:
        fh.write("\n# an edit the client does not have\n")
    env = {**os.environ, "PYTHONPATH": str(other)}
    worker = cluster.add_worker("other", env)
    try:
        cluster.client.wait_for_workers(3, timeout=180)
        root = course_of(tmp_path / "course", ("01_risk",))
        model = solution_sources(root / "solutions" / "01_risk" / "01_risk.ipynb")
        for student in ("t0", "t1"):
            write_submission(root, student, "01_risk", "01_risk", fill_release(root / "exercises" / "01_risk" / "01_risk.ipynb", model))
        db_url = postgres.create_database("other_course_lib")
        result = subprocess.run([COURSE, "--root", str(root), "--db-url", db_url, "autograde", "--quiet", "--cluster", cluster.address],
                                capture_output=True, text=True, timeout=900)
    finally:
        cluster.stop_process(worker)
    assert result.returncode == 0, result.stdout + result.stderr
    refusal = next(line for line in result.stderr.splitlines() if "cannot grade" in line)
    mine = course_version()
    assert f"the client has {mine}" in refusal
    theirs = refusal.split("it has ", 1)[1].split(",", 1)[0]
    assert theirs.startswith("course_lib ") and theirs != mine
    assert "2 graded, 0 failed" in result.stdout
    assert grade_rows(root, "--db-url", db_url) == {("t0", "01_risk"): (FULL, "True"), ("t1", "01_risk"): (FULL, "True")}


# ---- errors and faults without the shared cluster ----------------------------------------------------


def _one_course(tmp_path: Path, students: dict[str, dict[str, str]]) -> Path:
    root = course_of(tmp_path / "course", ("01_risk",))
    release = root / "exercises" / "01_risk" / "01_risk.ipynb"
    for student, cells in students.items():
        write_submission(root, student, "01_risk", "01_risk", fill_release(release, cells))
    return root


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, postgres):
    _require_dask()
    root = _one_course(tmp_path, {"t0": {}})
    address = f"tcp://127.0.0.1:{free_port()}"
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s", "COURSE_CLUSTER": address}
    result = subprocess.run([COURSE, "--root", str(root), "--db-url", postgres.url, "autograde", "--quiet"],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"course: error: cannot reach the Dask scheduler at {address}")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_cluster_with_a_sqlite_gradebook_is_refused(tmp_path):
    _require_dask()
    root = _one_course(tmp_path, {"t0": {}})
    result = subprocess.run([COURSE, "--root", str(root), "autograde", "--cluster", "tcp://127.0.0.1:8786"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "--db-url postgresql://" in result.stderr and "SQLite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (root / "gradebook.db").exists()


KILL_THE_WORKER = """
import os, signal
def _parent(pid):
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[1])
os.kill(_parent(os.getppid()), signal.SIGKILL)  # the grading process: the parent of the notebook's parent
"""


def test_a_worker_follows_sandbox_as_local_grading_does(monkeypatch, tmp_path):
    """What a worker without bubblewrap answers the client (the check every worker runs before grading)."""
    _require_dask()
    from course_lib.grading.autograde.cluster import course_version, worker_check

    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no /usr/bin: no bubblewrap
    assert worker_check(course_version(), "none", str(tmp_path)) == ("none", None)
    for asked in ("auto", "bwrap"):  # never a silent fall back to no sandbox: grading without one is asked for
        kind, refusal = worker_check(course_version(), asked, str(tmp_path))
        assert refusal is not None and "bubblewrap (bwrap) is not installed" in refusal and "--sandbox none" in refusal


def test_a_submission_that_kills_its_worker_is_graded_0_and_the_run_goes_on(tmp_path):
    """Without a sandbox (``--sandbox none``, asked for: workers without bubblewrap refuse ``auto``),
    a submission run as the worker's own user can kill the worker grading it; with `local:2`, the
    workers start here. A judge running as root runs student code as another user: it cannot."""
    _require_dask()
    root = _one_course(tmp_path, {"t_honest": solution_sources(ROOT / "solutions" / "01_risk" / "01_risk.ipynb"),
                                  "t_killer": {"empirical_risk": KILL_THE_WORKER}})
    # no /usr/bin on PATH: the workers find no bubblewrap; a worker death is not forgiven (scheduler's allowed-failures 0)
    env = {**os.environ, "PATH": str(Path(sys.executable).parent), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}

    def grade() -> subprocess.CompletedProcess:
        return subprocess.run([COURSE, "--root", str(root), "autograde", "--quiet", "--cluster", "local:2",
                               "--sandbox", "none"],
                              capture_output=True, text=True, timeout=900, env=env)

    result = grade()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 graded, 0 failed" in result.stdout and "sandbox: none" in result.stdout
    killer = next(line for line in result.stdout.splitlines() if line.startswith("t_killer "))
    assert f"0 / {FULL:g}" in killer  # of the autograded points
    if os.geteuid() == 0:  # the student's user may not signal the worker's: the attempt fails in its cell
        assert "killed its worker" not in killer, killer
    else:
        assert "killed its worker 2 times" in killer
        assert grade_rows(root) == {("t_honest", "01_risk"): (FULL, "True"), ("t_killer", "01_risk"): (0.0, "False")}

    again = grade()
    assert "0 graded, 0 failed, 2 unchanged" in again.stdout
