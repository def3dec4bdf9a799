"""Every attack on the judge, graded in one `course autograde` run with the judge's memory capped.

The class holds, for every assignment, answers that delegate to a forbidden implementation by
every route (tests/attacks/routes.py), the finding attacks on the judge's decoding and reading
(tests/attacks/findings.py) and an honest student graded after them. The run happens once per
module; each test reads what it left: scores per test cell, reasons, notebooks, feedback.
"""

from __future__ import annotations

import csv
import json
import os
import re
import resource
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from attacks import COURSE, FULL, course_copy, rows, judge_reason
from attacks.findings import IPC_PLANT, IPC_PROBE, XSS
from attacks.routes import NOTEBOOKS, OPAQUE, READABLE, build_judge_class, delegate_of
from course_helpers import assignments, copy_course, graded_parts, source_notebook
from submissions import fill_release, solution_sources, write_submission

pytestmark = pytest.mark.slow

MEMORY_CAP = 2 << 30
"""Address space the judge (the `course` process) may use: about twice what grading this class takes."""


def _cap_memory() -> None:
    # the soft limit binds the judge; its sandboxes may still raise theirs (up to the hard limit) for students
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, resource.RLIM_INFINITY))


@dataclass
class Judged:
    root: Path
    run: subprocess.CompletedProcess
    rerun: subprocess.CompletedProcess
    seconds: float
    attackers: dict[str, tuple[str, dict[str, str]]]
    """Route attackers: student id -> (assignment, answer name -> route)."""

    def grade(self, student: str, assignment: str, grade_id: str) -> tuple[float | None, bool]:
        """(automatic score, needs a person) of one test cell, from the gradebook."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            grade = gb.find_grade(grade_id, source_notebook(assignment).stem, assignment, student)
            return grade.auto_score, bool(grade.needs_manual_grade)

    def score(self, student: str, assignment: str) -> float:
        with open(self.root / "grades.csv") as fh:
            return next(float(r["score"]) for r in csv.DictReader(fh) if (r["student_id"], r["assignment"]) == (student, assignment))

    def notebook(self, student: str, assignment: str) -> nbformat.NotebookNode:
        path = next((self.root / "autograded" / student / assignment).glob("*.ipynb"))
        return nbformat.read(path, as_version=4)

    def reason(self, student: str, assignment: str, grade_id: str) -> str:
        return judge_reason(self.root, student, assignment, grade_id)

    def line(self, student: str) -> str:
        return next(ln for ln in self.run.stdout.splitlines() if ln.startswith(student + " "))


def _auto_points(assignment: str) -> float:
    return sum(p.points for p in graded_parts(assignment))


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> Judged:
    root = copy_course(tmp_path_factory.mktemp("judge") / "course")
    attackers = build_judge_class(root)
    started = time.monotonic()
    command = [COURSE, "--root", str(root), "autograde", "--quiet", "--jobs", "2"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=2400, preexec_fn=_cap_memory)
    seconds = time.monotonic() - started
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=600, preexec_fn=_cap_memory)
    subprocess.run([COURSE, "--root", str(root), "grades", "--csv", str(root / "grades.csv")], check=True,
                   capture_output=True, timeout=300)
    print(f"\nthe judge's attack class: {len(attackers)} route attackers, graded in {seconds:.0f} s; "
          + run.stdout.strip().splitlines()[-1])
    return Judged(root, run, rerun, seconds, attackers)


def test_one_run_grades_the_whole_class_without_a_crash_under_the_memory_cap(judged):
    assert judged.run.returncode == 0, judged.run.stderr[-3000:]
    assert "Traceback" not in judged.run.stderr + judged.run.stdout
    # everyone is graded; only the folder whose name no gradebook can hold is listed as not graded
    failed = [ln for ln in judged.run.stdout.splitlines() if "FAILED" in ln]
    assert len(failed) == 1 and "not valid UTF-8" in failed[0], failed
    peak = float(judged.run.stdout.split("judge peak memory ")[1].split()[0])
    assert peak < MEMORY_CAP / 2**20


def test_a_rerun_does_not_trip_over_anything(judged):
    assert judged.rerun.returncode == 0, judged.rerun.stderr[-3000:]
    summary = judged.rerun.stdout.strip().splitlines()
    assert any("0 graded, 1 failed" in ln and "unchanged since last graded" in ln for ln in summary), summary[-3:]


def test_the_honest_students_after_the_attackers_keep_every_point(judged):
    for assignment in assignments():
        assert judged.score("z_honest", assignment) == _auto_points(assignment), assignment
    # and their notebooks keep what they showed: the plot of 01_risk is there as an image
    nb = judged.notebook("z_honest", "01_risk")
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


ROUTE_CASES = [(student, name) for student, (assignment, plan) in
               sorted({f"d_{a[:2]}_{k}": (a, p) for a, ps in NOTEBOOKS.items() for k, p in enumerate(ps)}.items())
               for name in plan]


@pytest.mark.parametrize("student,name", ROUTE_CASES, ids=[f"{s}-{n}" for s, n in ROUTE_CASES])
def test_delegating_by_any_route_earns_nothing_and_says_why(judged, student, name):
    assignment, plan = judged.attackers[student]
    route = plan[name]
    part = next(p for p in graded_parts(assignment) if p.object_name == name)
    score, review = judged.grade(student, assignment, part.test_id)
    reason = judged.reason(student, assignment, part.test_id)
    assert score == 0.0
    # the attack worked: its answers were right, and only the judge's reading of the code took the points
    assert "its answers agree with the reference" in reason, reason
    if route in READABLE:
        assert f"implement {name} yourself; your answer uses" in reason and delegate_of(assignment, name).path in reason
        assert not review
    else:
        assert ("yourself; your answer uses" in reason) or (review and "flagged for review" in reason), reason


@pytest.mark.parametrize("student", sorted({s for s, _ in ROUTE_CASES}))
def test_parts_before_the_first_unreadable_route_keep_their_points_and_the_rest_go_to_a_person(judged, student):
    assignment, plan = judged.attackers[student]
    parts = graded_parts(assignment)
    first = min((i for i, p in enumerate(parts) if plan.get(p.object_name) in OPAQUE), default=len(parts))
    for i, part in enumerate(parts):
        if part.object_name in plan:
            continue
        score, review = judged.grade(student, assignment, part.test_id)
        if i < first:
            assert (score, review) == (part.points, False), (part.test_id, score, review)
        else:
            assert score == 0.0 and review, (part.test_id, score, review)
    waiting = [p.test_id.removeprefix("test_") for i, p in enumerate(parts) if i >= first and p.object_name not in plan]
    if waiting:  # the summary names the parts that wait for a person
        line = judged.line(student)
        assert "awaiting grading" in line and all(re.search(rf"\b{re.escape(w)}(,|:)", line) for w in waiting), line


def test_lone_surrogates_are_graded_and_saved(judged):
    assert judged.score("j_surrogate", "01_risk") == _auto_points("01_risk") - 2  # ridge_risk returned a string
    text = (judged.root / "autograded" / "j_surrogate" / "01_risk" / "01_risk.ipynb").read_text(encoding="utf-8")
    assert "\ufffd printed" in text and "\ufffd raised" in text


def test_names_that_are_not_utf8_never_stop_the_run(judged):
    assert judged.score("j_bad_file", "01_risk") == _auto_points("01_risk")
    assert "not valid UTF-8" in judged.line("j_bad_file")


def test_a_flood_of_error_outputs_is_cut_before_it_is_kept(judged):
    # the flood comes from a cell after the last test: every part keeps its points, the notebook stays small
    assert judged.score("j_flood", "01_risk") == _auto_points("01_risk")
    path = judged.root / "autograded" / "j_flood" / "01_risk" / "01_risk.ipynb"
    assert path.stat().st_size < 4 << 20
    assert "printed more than the limit" in judged.line("j_flood")


def test_answers_built_to_be_expensive_to_decode_earn_nothing(judged):
    score, _ = judged.grade("j_answer_bomb", "01_risk", "test_empirical_risk")
    assert score == 0.0
    assert "more than 200000 values" in judged.reason("j_answer_bomb", "01_risk", "test_empirical_risk")
    # reaching into the grader's socket (course_lib.grading, __self__) also sends the later parts to a person
    assert judged.score("j_answer_bomb", "01_risk") <= _auto_points("01_risk") - 2


def test_a_notebook_of_300000_cells_is_refused_before_it_is_parsed(judged):
    assert judged.score("j_many_cells", "01_risk") == 0
    assert "JSON objects and lists, more than the limit" in judged.line("j_many_cells")


def test_links_out_of_the_submission_are_not_followed(judged):
    for student in ("j_symlink", "j_symlink_folder"):
        assert judged.score(student, "01_risk") == 0, student
        assert "symbolic link" in judged.line(student)


def test_a_number_too_large_to_compare_earns_nothing_and_says_why(judged):
    assert judged.grade("j_huge_int", "02_sgd", "test_loglog_fit") == (0.0, False)
    assert "could not be compared" in judged.reason("j_huge_int", "02_sgd", "test_loglog_fit")
    assert judged.score("j_huge_int", "02_sgd") == _auto_points("02_sgd") - 2


def test_feedback_carries_no_markup_a_student_wrote(judged):
    result = subprocess.run([COURSE, "--root", str(judged.root), "feedback", "01_risk"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    html = (judged.root / "feedback" / "j_xss" / "01_risk" / "01_risk.html").read_text()
    assert XSS in html  # what the student wrote is shown, as text
    assert f'<script>alert("{XSS}")' not in html
    assert re.search(r"<img[^>]*onerror", html, re.IGNORECASE) is None
    assert re.search(r"""href\s*=\s*["']?\s*javascript""", html, re.IGNORECASE) is None


# ---- between two students in one sandbox, nothing survives ----------------------------------------------


def test_nothing_of_one_student_survives_into_the_next_in_a_reused_sandbox(tmp_path):
    """One worker grades a student who leaves System V and POSIX queues and kernel keys behind, then one
    who looks for them."""
    root = course_copy(tmp_path / "course")
    release = root / "exercises" / "01_risk" / "01_risk.ipynb"
    model = solution_sources(root / "solutions" / "01_risk" / "01_risk.ipynb")
    write_submission(root, "k1_plant", "01_risk", "01_risk",
                     fill_release(release, {**model, "empirical_risk": model["empirical_risk"] + "\n" + IPC_PLANT}))
    write_submission(root, "k2_probe", "01_risk", "01_risk",
                     fill_release(release, {**model, "empirical_risk": model["empirical_risk"] + "\n" + IPC_PROBE}))
    result = subprocess.run([COURSE, "--root", str(root), "autograde", "--quiet", "--jobs", "1"], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    planted = nbformat.writes(nbformat.read(root / "autograded" / "k1_plant" / "01_risk" / "01_risk.ipynb", as_version=4))
    assert "PLANTED" in planted
    text = nbformat.read(root / "autograded" / "k2_probe" / "01_risk" / "01_risk.ipynb", as_version=4)
    line = next(ln for c in text.cells for o in c.get("outputs", []) for ln in o.get("text", "").splitlines()
                if ln.startswith("FOUND "))
    found = json.loads(line[len("FOUND "):])
    assert found == {"sysv": False, "mq": False, "keys": [-1, -1, -1]}, found


# ---- no weaker mode in disguise ---------------------------------------------------------------------------

DAEMON_MARK = "course-none-daemon-7c1f"

NONE_PROBE = """
import json, os
print("SEEN", json.dumps({"uid": os.getuid(), "environment": sorted(os.environ)}))
"""

NONE_DAEMON = f"""
import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)  # the zygote runs as the judge's user: refused
except OSError as err:
    print("ZYGOTE", type(err).__name__)
# a daemon in its own session that says it started, waits for the grading to end, then tries to write
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sh", ["/bin/sh", "-c", "echo started > /tmp/{DAEMON_MARK}-started; sleep 4; "
                 "echo alive > /tmp/{DAEMON_MARK}", "{DAEMON_MARK}"])
    os._exit(0)
import time
for _ in range(200):  # until the daemon is running
    if os.path.exists("/tmp/{DAEMON_MARK}-started"):
        break
    time.sleep(0.05)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="a user of their own for the children needs a judge running as root")
def test_without_a_sandbox_the_children_get_nothing_of_the_judge_and_leave_nothing(tmp_path):
    root = course_copy(tmp_path / "course")
    release = root / "exercises" / "01_risk" / "01_risk.ipynb"
    model = solution_sources(root / "solutions" / "01_risk" / "01_risk.ipynb")
    for student, code in (("n_daemon", NONE_DAEMON), ("n_probe", NONE_PROBE)):
        # in a cell of the student's own after the last test: it costs no point (the judge cannot read os)
        nb = fill_release(release, model)
        nb.cells.append(nbformat.v4.new_code_cell(code))
        write_submission(root, student, "01_risk", "01_risk", nb)
    write_submission(root, "z_honest", "01_risk", "01_risk", fill_release(release, model))
    for mark in (Path(f"/tmp/{DAEMON_MARK}"), Path(f"/tmp/{DAEMON_MARK}-started")):
        mark.unlink(missing_ok=True)
    env = {**os.environ, "PGPASSWORD": "secret-7c1f", "COURSE_DB_URL": f"sqlite:///{root / 'gradebook.db'}",
           "AWS_SECRET_ACCESS_KEY": "secret-7c1f"}
    result = subprocess.run([COURSE, "--root", str(root), "autograde", "--quiet", "--sandbox", "none"],
                            capture_output=True, text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--sandbox none" in result.stderr and "still decides every point" not in result.stderr
    seen = next(json.loads(ln[len("SEEN "):]) for c in nbformat.read(
        root / "autograded" / "n_probe" / "01_risk" / "01_risk.ipynb", as_version=4).cells
        for o in c.get("outputs", []) for ln in o.get("text", "").splitlines() if ln.startswith("SEEN "))
    assert seen["uid"] != 0
    assert not {"PGPASSWORD", "COURSE_DB_URL", "AWS_SECRET_ACCESS_KEY"} & set(seen["environment"])
    assert Path(f"/tmp/{DAEMON_MARK}-started").exists(), "the daemon never ran: the test proves nothing"
    assert "ZYGOTE PermissionError" in nbformat.writes(
        nbformat.read(root / "autograded" / "n_daemon" / "01_risk" / "01_risk.ipynb", as_version=4))
    time.sleep(6)  # the daemon would have written by now
    assert not Path(f"/tmp/{DAEMON_MARK}").exists(), "a process of a graded submission outlived it"
    assert scores_of(root) == {"n_daemon": FULL, "n_probe": FULL, "z_honest": FULL}


def scores_of(root: Path) -> dict[str, float]:
    return {student: float(row["score"]) for student, row in rows(root).items()}
