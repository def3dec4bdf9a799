"""The `course` command's quick paths and its pieces: start-up, LMS archives and rosters, the
student's workspace, validation, and feedback pages built from what the judge recorded."""

from __future__ import annotations

import csv
import datetime as dt
import html
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from course_helpers import ROOT, copy_course

ASSIGNMENT = "01_risk"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return copy_course(tmp_path_factory.mktemp("tools") / "course")


# ---- start-up ----------------------------------------------------------------------------------

STARTUP = """
import sys
from course_lib.cli import main
rc = main(sys.argv[1:])
print("RESULT", rc, "torch" in sys.modules, any(m == "nbgrader" or m.startswith("nbgrader.") for m in sys.modules))
"""


@pytest.mark.parametrize("args, message", [
    (["autograde", "99_nothing"], "unknown assignment '99_nothing'"),
    (["autograde", ASSIGNMENT], "no submissions"),
    (["report", "99_nothing"], "unknown assignment"),
    (["collect", "missing.zip", "--roster", "missing.csv"], "no roster at missing.csv"),
])
def test_bad_input_is_answered_before_torch_or_nbgrader_load(root, args, message):
    result = subprocess.run([sys.executable, "-c", STARTUP, "--root", str(root), *args],
                            capture_output=True, text=True, cwd=root, timeout=120)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout.split()[-3:] == ["2", "False", "False"], result.stdout


def test_outside_a_course_no_heavy_import_either(tmp_path):
    result = subprocess.run([sys.executable, "-c", STARTUP, "autograde"], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert "no nbgrader_config.py" in result.stderr
    assert result.stdout.split()[-3:] == ["2", "False", "False"], result.stdout


# ---- rosters and archives ----------------------------------------------------------------------------


def _roster(path: Path, rows: list[list[str]], header=("student_id", "first_name", "last_name", "lms_id")) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("header, rows, message", [
    (("id", "name"), [["a", "b"]], "needs a student_id column"),
    (("student_id", "lms_id"), [["s1", "7"], ["s1", "8"]], "student_id 's1' appears twice"),
    (("student_id", "lms_id"), [["s1", "7"], ["s2", "7"]], "lms_id '7' appears twice"),
    (("student_id",), [["../etc"]], "cannot have"),
    (("student_id",), [], "lists no students"),
])
def test_a_bad_roster_is_refused_with_the_line(tmp_path, header, rows, message):
    from course_lib.grading.errors import CourseError
    from course_lib.grading.lms import read_roster

    with pytest.raises(CourseError, match=message.replace("(", r"\(")):
        read_roster(_roster(tmp_path / "roster.csv", rows, header))


def test_moodle_archive_in_folders_and_flat_by_participant_id_or_name(root, tmp_path):
    from course_lib.grading.course import Course
    from course_lib.grading.lms import collect, read_roster

    roster = read_roster(_roster(tmp_path / "roster.csv", [["u1", "Ada", "Lovelace", "501"], ["u2", "Alan", "Turing", ""],
                                                           ["u3", "Grace", "Hopper", "503"]]))
    release = (root / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    archive = tmp_path / "moodle.zip"
    early, late = (2026, 3, 1, 10, 0, 0), (2026, 3, 2, 10, 0, 0)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo(f"Ada Lovelace_501_assignsubmission_file_/{ASSIGNMENT}.ipynb", late), release)
        zf.writestr(zipfile.ZipInfo(f"Alan Turing_777_assignsubmission_file_{ASSIGNMENT} (2).ipynb", early), b"{}")
        zf.writestr(zipfile.ZipInfo(f"Alan Turing_777_assignsubmission_file_{ASSIGNMENT}.ipynb", late), release)
        zf.writestr(zipfile.ZipInfo("Grace Hopper_503_assignsubmission_onlinetext_onlinetext.html", early), b"<p>hi</p>")
        zf.writestr(zipfile.ZipInfo("Nobody Here_999_assignsubmission_file_x.ipynb", early), b"{}")
        zf.writestr(zipfile.ZipInfo("__MACOSX/._junk", early), b"")
    report = collect(Course(root), archive, roster)
    assert report.assignment == ASSIGNMENT
    assert sorted((s, n) for s, n, _ in report.written) == [("u1", ASSIGNMENT), ("u2", ASSIGNMENT)]
    reasons = dict(report.skipped)
    assert "an older copy of u2's 01_risk.ipynb" in reasons[f"Alan Turing_777_assignsubmission_file_{ASSIGNMENT} (2).ipynb"]
    assert "a Moodle onlinetext submission" in reasons["Grace Hopper_503_assignsubmission_onlinetext_onlinetext.html"]
    assert "neither by lms_id nor by name" in reasons["Nobody Here_999_assignsubmission_file_x.ipynb"]
    assert "__MACOSX/._junk" in reasons and report.missing == ["u3"]
    assert (root / "submitted" / "u2" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == release
    assert (root / "submitted" / "u2" / ASSIGNMENT / "timestamp.txt").read_text().startswith("2026-03-02 10:00:00")
    # the same archive again changes nothing
    assert collect(Course(root), archive, roster).unchanged == 2


def test_an_archive_of_an_unknown_notebook_needs_the_assignment_named(root, tmp_path):
    from course_lib.grading.course import Course
    from course_lib.grading.errors import CourseError
    from course_lib.grading.lms import collect, read_roster

    roster = read_roster(_roster(tmp_path / "roster.csv", [["u1", "Ada", "Lovelace", "501"]]))
    archive = tmp_path / "canvas"
    archive.mkdir()
    (archive / "lovelaceada_501_1_my_homework.ipynb").write_text("{}")
    with pytest.raises(CourseError, match="pass --assignment"):
        collect(Course(root), archive, roster)
    report = collect(Course(root), archive, roster, assignment=ASSIGNMENT)
    assert report.written and "took my_homework.ipynb as 01_risk.ipynb" in report.notes[0]


# ---- the student's workspace -----------------------------------------------------------------


def test_workspace_is_filled_once_and_never_overwritten(root, tmp_path):
    from course_lib.grading.workspace import fill_workspace

    release, work = tmp_path / "exercises", tmp_path / "work"
    (release / "01_risk").mkdir(parents=True)
    (release / "01_risk" / "01_risk.ipynb").write_text("release 1")
    (release / "01_risk" / ".ipynb_checkpoints").mkdir()
    (release / "01_risk" / ".ipynb_checkpoints" / "x.ipynb").write_text("noise")
    copied, kept = fill_workspace(release, work)
    assert copied == [Path("01_risk/01_risk.ipynb")] and kept == 0
    (work / "01_risk" / "01_risk.ipynb").write_text("my work")
    (release / "01_risk" / "01_risk.ipynb").write_text("release 2")  # the instructor fixed a typo
    (release / "02_sgd").mkdir()
    (release / "02_sgd" / "02_sgd.ipynb").write_text("new assignment")
    copied, kept = fill_workspace(release, work)
    assert copied == [Path("02_sgd/02_sgd.ipynb")] and kept == 1
    assert (work / "01_risk" / "01_risk.ipynb").read_text() == "my work"
    assert not (work / "01_risk" / ".ipynb_checkpoints").exists()


def test_the_student_lab_turns_off_the_instructors_tools():
    import json

    server = json.loads((ROOT / "lab" / "student" / "jupyter_server_config.json").read_text())["ServerApp"]["jpserver_extensions"]
    assert server["nbgrader.server_extensions.formgrader"] is False and server["course_lib.grading.formgrader"] is False
    assert "nbgrader.server_extensions.validate_assignment" not in server  # students keep Validate
    page = json.loads((ROOT / "lab" / "student" / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert page["@jupyter/nbgrader:formgrader"] and page["@jupyter/nbgrader:create-assignment"]
    makefile = (ROOT / "Makefile").read_text()
    assert "course workspace --folder $(WORK)" in makefile and "JUPYTER_CONFIG_PATH=$(CURDIR)/lab/student" in makefile
    assert "work/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.slow
def test_validate_prints_whole_messages_and_fails_with_status_1(root, tmp_path):
    from submissions import fill_release, solution_sources

    course = str(Path(sys.executable).parent / "course")
    blank = root / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    failed = subprocess.run([course, "validate", str(blank)], capture_output=True, text=True, cwd=root, timeout=600)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "VALIDATION FAILED" in failed.stdout and "raised NotImplementedError" in failed.stdout
    assert max(len(line) for line in failed.stdout.splitlines()) > 100  # nothing cut at nbgrader's 90 characters
    assert "..." not in failed.stdout.replace("...)", "")
    solved = tmp_path / "solved.ipynb"
    nbformat.write(fill_release(blank, solution_sources(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")), solved)
    passed = subprocess.run([course, "validate", str(solved)], capture_output=True, text=True, cwd=root, timeout=600)
    assert passed.returncode == 0 and "passes all the visible tests" in passed.stdout, passed.stdout + passed.stderr


# ---- feedback from what the judge recorded ------------------------------------------------------


def _result(verdict: dict, *, manual: float | None = None, needs_manual: bool = True):
    from course_lib.grading.results import Part, SubmissionResult

    parts = [
        Part(ASSIGNMENT, "test_ridge_risk", "test", 2.0, verdict.get("score", 0.0), None,
             bool(verdict.pop("needs_manual", False)), verdict, None, "risk.ridge_risk"),
        Part(ASSIGNMENT, "l2_feature_scales", "written", 2.0, None, manual, needs_manual, None,
             "Good." if manual is not None else None),
    ]
    return SubmissionResult("s1", ASSIGNMENT, "Ada", "Lovelace", parts, ["a note <b>with markup</b>"],
                            dt.datetime(2026, 3, 2), 0.0, 4.0)


def _notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    test = nbformat.v4.new_code_cell('check("risk.ridge_risk", ridge_risk)\n### BEGIN HIDDEN TESTS\n'
                                     'check("risk.ridge_risk", ridge_risk, hidden=True)\n### END HIDDEN TESTS')
    test.metadata["nbgrader"] = {"grade_id": "test_ridge_risk", "grade": True, "points": 2}
    test.outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="name 'ridge_risk' is not defined",
                                           traceback=["check(..., hidden=True) SECRET-TRACEBACK-LINE"])]
    written = nbformat.v4.new_markdown_cell("My answer: $\\lambda$ <script>alert(1)</script> ![x](http://example.com/t.png)")
    written.metadata["nbgrader"] = {"grade_id": "l2_feature_scales", "grade": True, "solution": True, "points": 2}
    nb.cells = [nbformat.v4.new_markdown_cell("Risk: $$\\hat R(w) = \\frac1n \\sum_i r_i^2$$"), test, written]
    return nb


def test_feedback_shows_any_state_the_judge_records_and_no_hidden_test():
    from course_lib.grading.feedback import render_feedback

    verdict = {"grade_id": "test_ridge_risk", "points": 2.0, "score": None, "reason": "ridge_risk calls torch's own function",
               "abnormal": None, "flagged": True, "answer_errors": [], "needs_manual": True}
    page = render_feedback(_result(verdict), ASSIGNMENT, _notebook())
    text = html.unescape(page)
    assert "flagged for a person to review" in text and "ridge_risk calls torch's own function" in text
    assert "ridge_risk: awaiting grading by a person (2 points)" in text
    assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text and "SECRET-TRACEBACK-LINE" not in text
    assert "NameError: name 'ridge_risk' is not defined" in text
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "http://example.com" not in page and "[image: x]" in page
    assert "<b>with markup</b>" not in page
    assert "https://" not in page.split("<script>")[0]  # nothing loads from elsewhere


def test_feedback_of_a_forbidden_call_and_of_a_graded_written_answer():
    from course_lib.grading.feedback import render_feedback

    verdict = {"grade_id": "test_ridge_risk", "points": 2.0, "score": 0.0, "reason": "the answer calls course_lib.risk.ridge_risk",
               "abnormal": "forbidden", "answer_errors": []}
    text = html.unescape(render_feedback(_result(verdict, manual=1.5, needs_manual=False), ASSIGNMENT, _notebook()))
    assert "a forbidden call" in text and "ridge_risk: 0 / 2 points" in text
    assert "l2_feature_scales: 1.5 / 2 points, graded by hand" in text and "Grader's comment: Good." in text
    assert "Score: <b>1.5 / 4</b>" in text
