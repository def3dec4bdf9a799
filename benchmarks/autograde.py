"""Stock nbgrader vs `course autograde` on one class: wall time, where it goes, and whether the scores agree.

Builds a class of assignment 01_risk with tests/submissions.py (honest, partly wrong,
blank and crashing students), then grades it twice in the same run: with stock
nbgrader (`course autograde --stock`: one kernel per submission, one at a time) and with
ours (`course autograde --jobs N`: sandboxed children forked from pre-warmed zygotes).
First it measures where stock nbgrader's time goes for one submission (kernel start,
the notebook's imports, the rest of the cells, kernel shutdown, nbgrader's own work).

    .venv/bin/python benchmarks/autograde.py                 # 60 students, 2 workers
    .venv/bin/python benchmarks/autograde.py --students 200 --jobs 4
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test helpers that build submissions

import nbformat  # noqa: E402

from course_lib.grading import get_check  # noqa: E402
from submissions import fill_release, mistake_source, solution_sources, write_submission  # noqa: E402

ASSIGNMENT = "01_risk"
COURSE = str(Path(sys.executable).parent / "course")
PARTS = [("empirical_risk", "risk.empirical_risk"), ("ridge_risk", "risk.ridge_risk"), ("ridge_gradient", "risk.ridge_gradient"),
         ("standardize", "risk.standardize"), ("gradient_descent", "risk.gradient_descent")]


def build_class(root: Path, n: int) -> dict[str, str]:
    """Write ``n`` submissions; returns each student's kind."""
    release = root / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    model = solution_sources(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    kinds = {}
    for i in range(n):
        student = f"student{i:03d}"
        slot = i % 20
        if slot < 8:
            kind, cells = "honest", model
        elif slot < 13:
            kind, cells = "partly wrong", dict(model)
            for part, check in (PARTS[i % 5], PARTS[(i + 2) % 5])[: 1 + i % 2]:
                mistake = get_check(check).mistakes[i % len(get_check(check).mistakes)]
                cells[part] = mistake_source(check, mistake.name, part)
        elif slot < 16:
            kind, cells = "blank", {}
        elif slot < 19:
            kind, cells = "crashing", {**model, PARTS[i % 5][0]: "raise RuntimeError('my code crashed')\n" + model[PARTS[i % 5][0]]}
        else:
            kind, cells = "kernel death", {**model, "standardize": "import os\nos._exit(1)"}
        kinds[student] = kind
        write_submission(root, student, ASSIGNMENT, ASSIGNMENT, fill_release(release, cells))
    return kinds


def course_copy(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder / ASSIGNMENT, dest / folder / ASSIGNMENT)
    return dest


def stock_phases(notebook: Path, repeats: int = 3) -> dict[str, float]:
    """Median seconds of each phase of one notebook in a fresh Jupyter kernel, as nbgrader runs it."""
    from jupyter_client.manager import KernelManager

    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    runs: dict[str, list[float]] = {"kernel start": [], "imports cell (torch, matplotlib, course_lib)": [],
                                    "answer cells": [], "test cells": [], "other cells (plot)": [], "kernel shutdown": []}
    for _ in range(repeats):
        started = time.perf_counter()
        km = KernelManager(kernel_name="python3")
        km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], stderr=subprocess.DEVNULL)
        client = km.client()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        runs["kernel start"].append(time.perf_counter() - started)
        spent = {"imports cell (torch, matplotlib, course_lib)": 0.0, "answer cells": 0.0, "test cells": 0.0, "other cells (plot)": 0.0}
        for cell in code:
            meta = cell.metadata.get("nbgrader", {})
            key = ("imports cell (torch, matplotlib, course_lib)" if meta.get("grade_id") == "imports" else
                   "answer cells" if meta.get("solution") else "test cells" if meta.get("grade") else "other cells (plot)")
            started = time.perf_counter()
            client.execute_interactive(cell.source, timeout=300, output_hook=lambda msg: None)
            spent[key] += time.perf_counter() - started
        for key, value in spent.items():
            runs[key].append(value)
        started = time.perf_counter()
        client.stop_channels()
        km.shutdown_kernel(now=False)
        runs["kernel shutdown"].append(time.perf_counter() - started)
    return {key: statistics.median(values) for key, values in runs.items()}


def grade(root: Path, db: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run([COURSE, "--root", str(root), "--db-url", f"sqlite:///{db}", "autograde", ASSIGNMENT, "--quiet", *args],
                            capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"course autograde {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return seconds, result.stdout


def scores(root: Path, db: Path) -> dict[str, tuple[float, str]]:
    out = root / f"{db.stem}.csv"
    subprocess.run([COURSE, "--root", str(root), "--db-url", f"sqlite:///{db}", "grades", "--csv", str(out)], check=True,
                   capture_output=True)
    with open(out) as fh:
        return {r["student_id"]: (float(r["score"]), r["needs_manual_grade"]) for r in csv.DictReader(fh)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary course folders")
    args = parser.parse_args()
    if args.students < 1:
        parser.error("--students must be at least 1")
    work = Path(tempfile.mkdtemp(prefix="bench-autograde-"))
    try:
        stock_root = course_copy(work / "stock")
        ours_root = course_copy(work / "ours")
        kinds = build_class(stock_root, args.students)
        shutil.copytree(stock_root / "submitted", ours_root / "submitted")
        counts = {k: list(kinds.values()).count(k) for k in dict.fromkeys(kinds.values())}
        print(f"class: {args.students} submissions of {ASSIGNMENT} ({', '.join(f'{v} {k}' for k, v in counts.items())}); "
              f"{len(os.sched_getaffinity(0))} CPU cores")

        print("\nwhere stock nbgrader's time goes, one honest submission (median of 3, seconds):")
        honest = next(s for s, k in kinds.items() if k == "honest")
        phases = stock_phases(stock_root / "submitted" / honest / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        kernel_total = sum(phases.values())
        for key, value in phases.items():
            print(f"  {key:<46} {value:6.2f}  ({value / kernel_total:4.0%})")

        stock_seconds, stock_out = grade(stock_root, work / "stock.db", "--stock")
        print(f"\nstock nbgrader (one at a time):      {stock_seconds:7.1f} s  "
              f"({stock_seconds / args.students:.2f} s per submission; the kernel phases above, measured apart: {kernel_total:.2f} s)")
        ours_seconds, ours_out = grade(ours_root, work / "ours.db", "--jobs", str(args.jobs))
        print(f"course autograde (--jobs {args.jobs}):          {ours_seconds:7.1f} s  ({ours_seconds / args.students:.2f} s per submission)")
        print(f"speed-up: {stock_seconds / ours_seconds:.1f}x")
        line = next((ln for ln in ours_out.splitlines() if "worker(s)" in ln), "")
        match = re.match(r"([\d.]+) s with", line)
        if match:
            run_seconds = float(match.group(1))
            print(f"\nwhere course autograde's time goes: `course` start-up and release {ours_seconds - run_seconds:.1f} s, "
                  f"grading {run_seconds:.1f} s wall;\n  {line.split(';', 1)[1].strip()}")

        stock_scores, ours_scores = scores(stock_root, work / "stock.db"), scores(ours_root, work / "ours.db")
        failed_stock = [s for s in kinds if s not in stock_scores or f"{s} " in stock_out and "FAILED" in
                        next(ln for ln in stock_out.splitlines() if ln.startswith(s + " "))]
        compared = [s for s in kinds if s not in failed_stock]
        disagree = [s for s in compared if stock_scores[s] != ours_scores.get(s)]
        print(f"\nscores agree: {'yes' if not disagree else 'NO'} on the {len(compared)} submissions stock nbgrader graded"
              + (f"; disagree: {', '.join(f'{s} stock {stock_scores[s]} ours {ours_scores.get(s)}' for s in disagree)}" if disagree else ""))
        if failed_stock:
            print(f"stock nbgrader failed {len(failed_stock)} submission(s) ({', '.join(sorted({kinds[s] for s in failed_stock}))}): "
                  f"no grade; ours graded them: {', '.join(f'{s} {ours_scores[s][0]:g}' for s in failed_stock[:5])}"
                  + (" ..." if len(failed_stock) > 5 else ""))
        if args.keep:
            print(f"\nkept {work}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
