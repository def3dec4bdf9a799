"""This machine's pool vs a Dask cluster on this machine: submissions per second, their ratio, and Dask's cost per submission.

Builds a class of 01_risk (the mix of benchmarks/autograde.py: honest, partly wrong,
blank, crashing students), starts PostgreSQL (the gradebook of every run, each run in a
fresh database) and grades the class with `course autograde --jobs K` and with
`course autograde --cluster` on K Dask worker processes (one thread each), for K = 1 and
2, each configuration ``--repeats`` times in turn, keeping its fastest run (other work on
the machine only slows runs down). Each Dask configuration gets a fresh scheduler and
workers and grades twice: cold (like the local pool, it starts its sandboxes, and each
worker also imports the judge's libraries once) and warm (the class again, into another
database, on the same workers, as on a cluster that stays up). Then it measures what Dask costs per task alone:
tasks that carry a real submission's payload (the submission, the assignment's source
and release) and do nothing, one at a time (latency) and many in flight (throughput).

    .venv/bin/python benchmarks/autograde_cluster.py                 # 100 students
    .venv/bin/python benchmarks/autograde_cluster.py --students 200
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))  # the helpers that build submissions and start servers

from autograde import ASSIGNMENT, COURSE, build_class, course_copy  # noqa: E402
from servers import start_dask, start_postgres  # noqa: E402


def grade(root: Path, db_url: str, *args: str) -> dict[str, float]:
    """One `course autograde` run: its wall time, the run's own seconds, and the client's save time."""
    started = time.perf_counter()
    result = subprocess.run([COURSE, "--root", str(root), "--db-url", db_url, "autograde", ASSIGNMENT, "--quiet", *args],
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0 or " 0 failed" not in result.stdout:
        sys.exit(f"course autograde {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    line = next(ln for ln in result.stdout.splitlines() if " worker(s)" in ln)
    save = re.search(r"save ([\d.]+) s", line)
    return {"wall": wall, "run": float(line.split(" s with", 1)[0]), "save": float(save.group(1)) if save else 0.0}


def echo(task):
    """A task that does nothing but return as much as a graded notebook weighs."""
    return task.notebooks[0]


def dask_cost(client, task, count: int, window: int) -> float:
    """Seconds per task for ``count`` do-nothing tasks carrying ``task``, ``window`` in flight."""
    from distributed import wait

    started = time.perf_counter()
    in_flight, sent = set(), 0
    while sent < count or in_flight:
        while sent < count and len(in_flight) < window:
            in_flight.add(client.submit(echo, task, key=f"echo-{sent}", pure=False))
            sent += 1
        done, in_flight = wait(in_flight, return_when="FIRST_COMPLETED")
        for future in done:
            future.result()
    return (time.perf_counter() - started) / count


def a_task(root: Path, student: str):
    """The Task `course autograde --cluster` sends for one submission of the class."""
    from course_lib.grading.autograde.cluster import Task
    from course_lib.grading.autograde.runner import Run
    from course_lib.grading.course import Course

    run = Run(Course(root), sandbox="none")
    sources = run.sources(ASSIGNMENT)
    submission = run.read(ASSIGNMENT, student, root / "submitted" / student / ASSIGNMENT, sources, b"")
    return Task.of(submission, run, ["course_lib.grading.checks.risk"]), run, sources


def reading_cost(root: Path, students: list[str]) -> float:
    """Seconds the client spends reading and hashing one submission (before any grading)."""
    _, run, sources = a_task(root, students[0])
    started = time.perf_counter()
    for student in students:
        run.read(ASSIGNMENT, student, root / "submitted" / student / ASSIGNMENT, sources, b"")
    return (time.perf_counter() - started) / len(students)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each configuration (the fastest counts)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary course folder")
    args = parser.parse_args()
    if args.students < 1 or args.repeats < 1:
        parser.error("--students and --repeats must be at least 1")
    n = args.students
    work = Path(tempfile.mkdtemp(prefix="bench-autograde-cluster-"))
    postgres = start_postgres()
    try:
        root = course_copy(work / "course")
        kinds = build_class(root, n)
        counts = {k: list(kinds.values()).count(k) for k in dict.fromkeys(kinds.values())}
        print(f"class: {n} submissions of {ASSIGNMENT} ({', '.join(f'{v} {k}' for k, v in counts.items())}); "
              f"{len(os.sched_getaffinity(0))} CPU cores, load average {os.getloadavg()[0]:.1f}; gradebook: PostgreSQL")
        subprocess.run([COURSE, "--root", str(root), "release", ASSIGNMENT], check=True, capture_output=True)

        results: dict[str, dict[str, float]] = {}

        def keep(name: str, result: dict[str, float]) -> None:
            if name not in results or result["run"] < results[name]["run"]:
                results[name] = result

        for repeat in range(args.repeats):
            for k in (1, 2):
                keep(f"local {k}", grade(root, postgres.create_database(f"local_{k}_{repeat}"), "--jobs", str(k)))
                cluster = start_dask(workers=k)
                try:
                    keep(f"dask {k}", grade(root, postgres.create_database(f"dask_{k}_{repeat}"), "--cluster", cluster.address))
                    keep(f"warm {k}", grade(root, postgres.create_database(f"warm_{k}_{repeat}"), "--cluster", cluster.address))
                finally:
                    cluster.stop()

        print(f"\nfastest of {args.repeats} run(s) each:")
        print(f"{'':<28} {'run (s)':>8} {'course (s)':>10} {'subm./s':>8} {'client save (ms/subm.)':>23}")
        for name, label in (("local 1", "local pool, --jobs 1"), ("dask 1", "Dask, 1 worker, cold"), ("warm 1", "Dask, 1 worker, warm"),
                            ("local 2", "local pool, --jobs 2"), ("dask 2", "Dask, 2 workers, cold"), ("warm 2", "Dask, 2 workers, warm")):
            r = results[name]
            print(f"{label:<28} {r['run']:8.1f} {r['wall']:10.1f} {n / r['run']:8.2f} {1000 * r['save'] / n:23.1f}")
        for k in (1, 2):
            local = results[f"local {k}"]["run"]
            for state in ("dask", "warm"):
                dask = results[f"{state} {k}"]["run"]
                print(f"{k} worker(s), {'cold' if state == 'dask' else 'warm'}: Dask / local pool, submissions per second: "
                      f"{local / dask:.2f}; {1000 * (dask - local) / n:+.0f} ms of wall time per submission "
                      f"({1000 * k * (dask - local) / n:+.0f} ms of worker time)")
        print(f"from 1 to 2 workers: local pool x{results['local 1']['run'] / results['local 2']['run']:.2f}, "
              f"Dask x{results['dask 1']['run'] / results['dask 2']['run']:.2f} cold, "
              f"x{results['warm 1']['run'] / results['warm 2']['run']:.2f} warm")

        students = sorted(kinds)
        task, _, _ = a_task(root, students[0])
        payload = sum(len(e[3]) + len(e[4]) for e in task.sources) + sum(len(b or b"") for b in task.notebooks)
        print(f"\nDask alone (do-nothing tasks carrying a submission's payload, {payload / 1024:.0f} KiB each):")
        cluster = start_dask(workers=2)
        try:
            dask_cost(cluster.client, task, 20, 1)  # warm up: the workers import course_lib
            latency = dask_cost(cluster.client, task, 100, 1)
            throughput = dask_cost(cluster.client, task, 400, 4)
        finally:
            cluster.stop()
        print(f"  one at a time: {1000 * latency:.1f} ms per task (submit, run, result back)")
        print(f"  4 in flight on 2 workers: {1000 * throughput:.1f} ms per task, {1 / throughput:.0f} tasks per second")
        print(f"client, per submission: reading and hashing {1000 * reading_cost(root, students):.1f} ms, "
              f"saving into PostgreSQL {1000 * results['dask 2']['save'] / n:.1f} ms")
        if args.keep:
            print(f"\nkept {work}")
    finally:
        postgres.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
