"""The judge's attack class graded in one run, as a table: each attack, what it should earn, what it got.

Builds the class of tests/test_autograde_judge.py (for every assignment, answers that
delegate to a forbidden implementation by every route, an honest student after them, and
the attacks on the judge's decoding and reading), grades it with `course autograde` under
an address-space cap on the judge, and prints one row per attacked part and per finding
with the judge's reason, then the run's wall time and the judge's peak memory.

    .venv/bin/python benchmarks/judge_attacks.py            # 2 workers, judge capped at 2 GiB
    .venv/bin/python benchmarks/judge_attacks.py --jobs 4 --cap-gib 1
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the attack notebooks and course helpers

from attacks import judge_reason  # noqa: E402
from attacks.routes import READABLE, build_judge_class, delegate_of  # noqa: E402
from course_helpers import assignments, copy_course, graded_parts, source_notebook  # noqa: E402

COURSE = str(Path(sys.executable).parent / "course")

FINDINGS = {
    "j_surrogate": ("lone surrogates in output and answers", "graded; ridge_risk 0 (returned a string)"),
    "j_bad_file": ("a file name that is not UTF-8", "graded in full; the name is reported"),
    "j_flood": ("150 MB of error outputs down the socket", "graded in full; the output cut at the limit"),
    "j_answer_bomb": ("an answer of 300,000 values", "empirical_risk 0; later parts to a person"),
    "j_many_cells": ("a notebook of 300,000 cells", "0, refused before parsing"),
    "j_symlink": ("the notebook is a link into solutions/", "0, link not followed"),
    "j_symlink_folder": ("the assignment folder is a link", "0, link not followed"),
    "j_xss": ("<script>, onerror=, javascript: links", "graded; the markup shown as text"),
    "j_huge_int": ("10**400 where a float is expected", "loglog_fit 0, 'could not be compared'"),
}


def _cap(gib: float):
    limit = int(gib * 2**30)
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--cap-gib", type=float, default=2.0, help="address space the judge may use")
    args = parser.parse_args()

    from nbgrader.api import Gradebook

    with tempfile.TemporaryDirectory() as tmp:
        root = copy_course(Path(tmp) / "course")
        attackers = build_judge_class(root)
        started = time.monotonic()
        run = subprocess.run([COURSE, "--root", str(root), "autograde", "--quiet", "--jobs", str(args.jobs)],
                             capture_output=True, text=True, preexec_fn=_cap(args.cap_gib))
        seconds = time.monotonic() - started
        if run.returncode != 0:
            sys.exit(f"course autograde failed ({run.returncode}):\n{run.stderr[-3000:]}")
        lines = {ln.split()[0]: ln for ln in run.stdout.splitlines() if ln.strip()}
        rows = []
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
            def grade(student: str, assignment: str, grade_id: str) -> tuple[float, bool]:
                g = gb.find_grade(grade_id, source_notebook(assignment).stem, assignment, student)
                return g.auto_score or 0.0, bool(g.needs_manual_grade)

            for student, (assignment, plan) in sorted(attackers.items()):
                for name, route in plan.items():
                    part = next(p for p in graded_parts(assignment) if p.object_name == name)
                    score, review = grade(student, assignment, part.test_id)
                    expected = "0, names it" if route in READABLE else "0 or flagged"
                    got = f"{score:g}/{part.points:g}" + (", flagged" if review else "")
                    reason = re.sub(r"\s+", " ", judge_reason(root, student, assignment, part.test_id)).strip()
                    named = delegate_of(assignment, name).path in reason
                    rows.append((student, f"{name} via {route}", expected, got + (", named" if named else ""), reason))
            for assignment in assignments():
                total = sum(p.points for p in graded_parts(assignment))
                got = sum(grade("z_honest", assignment, p.test_id)[0] for p in graded_parts(assignment))
                rows.append(("z_honest", f"honest, after the attackers ({assignment})", f"{total:g}", f"{got:g}", ""))
        for student, (attack, expected) in FINDINGS.items():
            line = next((ln for key, ln in lines.items() if key.startswith(student)), "")
            rows.append((student, attack, expected, "", _short(" ".join(line.split()[1:]), 200)))

    print(f"{'student':<17} {'attack':<46} {'expected':<42} {'got':<20} reason")
    for student, attack, expected, got, reason in rows:
        print(f"{student:<17} {_short(attack, 46):<46} {expected:<42} {got:<20} {_short(reason, 140)}")
    peak = re.search(r"judge peak memory ([\d.]+ \S+)", run.stdout)
    print(f"\n{len(attackers)} route attackers, {len(FINDINGS)} finding attacks and {len(assignments())} honest students graded in "
          f"{seconds:.0f} s with {args.jobs} workers; judge capped at {args.cap_gib:g} GiB, "
          f"peak memory {peak.group(1) if peak else 'not reported'}")


if __name__ == "__main__":
    main()
