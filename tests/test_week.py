"""A week of a real class, end to end, on 01_risk: 30 students on the roster, a Canvas bulk download.

collect -> autograde -> report -> a person grades one written answer through nbgrader's
API -> autograde --force keeps that grade -> feedback -> the Canvas CSV; every step's
numbers are checked against what each student handed in. The class runs once per
session (one fixture); the browser tests look at the feedback and the report it made.

Every student's answer to each part is one of a few variants: the model solution,
another correct way to write it, a known mistake written in plain code, or trouble
(a syntax error, an endless loop, a crash). Two students hand in the same unusual code
with the names changed.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from attacks import ASSIGNMENT, FULL, POINTS, answers, course, course_copy, release_notebook
from browser import browser, serve
from components import requires
from course_helpers import ROOT
from submissions import fill_release

pytestmark = pytest.mark.slow

SHOTS = ROOT / "_build" / "screenshots"

# ---- what students hand in ---------------------------------------------------------------------


def _fn(signature: str, body: str) -> str:
    return f"def {signature}:\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())


@dataclass(frozen=True)
class Variant:
    code: str
    correct: bool
    mistake: str | None = None


VARIANTS: dict[str, dict[str, Variant]] = {
    "empirical_risk": {
        "other": Variant(_fn("empirical_risk(w, b, X, y)", "r = X @ w + b - y\nreturn (r * r).mean()"), True),
        "sum": Variant(_fn("empirical_risk(w, b, X, y)", "return ((X @ w + b - y) ** 2).sum()"), False, "sum_not_mean"),
        "root": Variant(_fn("empirical_risk(w, b, X, y)", "return ((X @ w + b - y) ** 2).mean().sqrt()"), False, "root"),
    },
    "ridge_risk": {
        "other": Variant(_fn("ridge_risk(w, b, X, y, lam)", "r = X @ w + b - y\nreturn (r * r).mean() + lam * torch.dot(w, w)"), True),
        "norm": Variant(_fn("ridge_risk(w, b, X, y, lam)", "return ((X @ w + b - y) ** 2).mean() + lam * w.norm()"),
                        False, "norm_not_squared"),
        "bias": Variant(_fn("ridge_risk(w, b, X, y, lam)", "r = X @ w + b - y\nreturn (r * r).mean() + lam * ((w ** 2).sum() + b ** 2)"),
                        False, "penalized_bias"),
        "syntax": Variant(_fn("ridge_risk(w, b, X, y, lam)", "r = (X @ w + b - y\nreturn (r * r).mean()"), False),
    },
    "ridge_gradient": {
        "other": Variant(_fn("ridge_gradient(w, b, X, y, lam)", "r = X @ w + b - y\nreturn 2 * (X * r[:, None]).mean(0) + 2 * lam * w, 2 * r.mean()"), True),
        "sign": Variant(_fn("ridge_gradient(w, b, X, y, lam)", "n = X.shape[0]\nresidual = y - X @ w - b\n"
                            "return 2.0 / n * (X.T @ residual) + 2.0 * lam * w, 2.0 / n * residual.sum()"), False, "sign"),
        "crash": Variant("import os\nos._exit(3)", False),
    },
    "standardize": {
        "other": Variant(_fn("standardize(X_train, X_test)", "mu = X_train.mean(0, keepdim=True)\n"
                             "sd = ((X_train - mu) ** 2).mean(0, keepdim=True).sqrt()\nreturn (X_train - mu) / sd, (X_test - mu) / sd"), True),
        "unbiased": Variant(_fn("standardize(X_train, X_test)", "m, s = X_train.mean(0), X_train.std(0)\nreturn (X_train - m) / s, (X_test - m) / s"),
                            False, "unbiased_std"),
        "loop": Variant("while True:\n    pass", False),
    },
    "gradient_descent": {
        "after": Variant(_fn("gradient_descent(X, y, lr, steps, lam=0.0)", """
n = X.shape[0]
w = torch.zeros(X.shape[1], dtype=X.dtype)
b = torch.zeros((), dtype=X.dtype)
losses = []
for _ in range(steps):
    residual = X @ w + b - y
    w = w - lr * (2.0 / n * (X.T @ residual) + 2.0 * lam * w)
    b = b - lr * (2.0 / n * residual.sum())
    losses.append(((X @ w + b - y) ** 2).mean() + lam * (w ** 2).sum())
return w, b, torch.stack(losses)"""), False, "losses_after_step"),
    },
}
"""Per part, besides the model solution ("model"): other ways to answer it."""

COPIED = """
def _objective(weights, offset, features, targets, penalty):
    errors = features @ weights + offset - targets
    return torch.mean(errors * errors) + penalty * torch.sum(weights * weights)

def _slopes(weights, offset, features, targets, penalty):
    count = features.shape[0]
    errors = features @ weights + offset - targets
    return (2.0 / count) * features.T @ errors + 2.0 * penalty * weights, (2.0 / count) * torch.sum(errors)

def gradient_descent(X, y, lr, steps, lam=0.0):
    weights = torch.zeros(X.shape[1], dtype=X.dtype)
    offset = torch.zeros((), dtype=X.dtype)
    history = [_objective(weights, offset, X, y, lam)]
    for _ in range(steps):
        step_w, step_b = _slopes(weights, offset, X, y, lam)
        weights, offset = weights - lr * step_w, offset - lr * step_b
        history.append(_objective(weights, offset, X, y, lam))
    return weights, offset, torch.stack(history)
"""
"""An unusual correct answer to part 5 that two students hand in, one with every name changed."""
RENAMED = {"_objective": "_loss_fn", "_slopes": "_grads", "weights": "theta", "offset": "bias", "features": "A",
           "targets": "t", "penalty": "reg", "errors": "res", "count": "m", "history": "trace", "step_w": "gw",
           "step_b": "gb"}

WRITTEN = "The penalty treats all weights alike although their sizes depend on the units: standardize the features first."

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Radia", "Ken"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Perlman", "Thompson"]
PARTS = list(POINTS)  # test cell ids, in order
ANSWER_OF = {test: test[len("test_"):] for test in PARTS}


@dataclass
class Student:
    student_id: str
    first: str
    last: str
    lms_id: str
    choices: dict[str, str] = field(default_factory=dict)
    """part -> variant name ("model" unless said otherwise)."""
    written: bool = True
    sends: str = "notebook"
    """"notebook", "renamed", "resubmitted", "text" (a .txt only) or "nothing"."""

    def code(self, model: dict[str, str]) -> dict[str, str]:
        cells = {}
        for part in ANSWER_OF.values():
            choice = self.choices.get(part, "model")
            cells[part] = model[part] if choice == "model" else (
                COPIED if choice == "copied" else _renamed(COPIED) if choice == "copied-renamed" else VARIANTS[part][choice].code)
        if self.written:
            cells["l2_feature_scales"] = WRITTEN
        return cells

    def expected(self) -> dict[str, float]:
        """Autograded points per test cell."""
        points, crashed = {}, False
        for test in PARTS:
            part = ANSWER_OF[test]
            choice = self.choices.get(part, "model")
            crashed = crashed or choice == "crash"
            ok = not crashed and (choice in ("model", "copied", "copied-renamed") or VARIANTS[part][choice].correct)
            points[test] = float(POINTS[test]) if ok else 0.0
        return points


def _renamed(code: str) -> str:
    for old, new in RENAMED.items():
        code = re.sub(rf"\b{re.escape(old)}\b", new, code)
    return code


def build_class() -> list[Student]:
    students = [Student(f"s{i:02d}", FIRST[(i - 1) % 10], LAST[(i * 3) % 10], str(4100 + i)) for i in range(1, 31)]
    by_id = {s.student_id: s for s in students}
    by_id["s02"].choices = {"empirical_risk": "sum"}
    by_id["s03"].choices = {"ridge_risk": "syntax"}
    by_id["s04"].choices = {"standardize": "loop"}
    by_id["s05"].choices = {"ridge_gradient": "crash"}
    by_id["s06"].choices = {"gradient_descent": "copied", "empirical_risk": "other"}
    by_id["s07"].choices = {"gradient_descent": "copied-renamed", "empirical_risk": "other"}
    by_id["s08"].sends = "resubmitted"
    by_id["s09"].sends = "renamed"
    by_id["s29"].sends = "text"
    by_id["s30"].sends = "nothing"
    # everyone else: two parts answered their own way (a mistake or another correct form), no two
    # students alike, the rest with the model solution
    pool = [(part, name) for part, variants in VARIANTS.items() for name in variants if name not in ("syntax", "crash", "loop")]
    combos = [(a, b) for i, a in enumerate(pool) for b in pool[i + 1:] if a[0] != b[0]]
    others = students[9:28]
    for k, student in enumerate(others):
        first, second = combos[k * len(combos) // len(others)]
        student.choices = dict([first, second])
        student.written = k % 4 != 0
    return students


def canvas_archive(path: Path, students: list[Student], root: Path) -> None:
    """A Canvas bulk download: <lastfirst>[_LATE]_<user id>_<submission id>_<file>."""
    model = answers(root)

    def notebook(cells: dict[str, str]) -> str:
        return nbformat.writes(fill_release(release_notebook(root), cells))

    monday = dt.datetime(2026, 3, 2, 9, 0)
    with zipfile.ZipFile(path, "w") as zf:
        for n, s in enumerate(students):
            slug = f"{s.last}{s.first}".lower()
            when = (monday + dt.timedelta(minutes=7 * n)).timetuple()[:6]
            if s.sends == "notebook":
                zf.writestr(zipfile.ZipInfo(f"{slug}_{s.lms_id}_{9000 + n}_{ASSIGNMENT}.ipynb", when), notebook(s.code(model)))
            elif s.sends == "renamed":
                zf.writestr(zipfile.ZipInfo(f"{slug}_{s.lms_id}_{9000 + n}_homework (1).ipynb", when), notebook(s.code(model)))
            elif s.sends == "resubmitted":
                # first a blank notebook on time, then the real one a day late: the newest counts
                zf.writestr(zipfile.ZipInfo(f"{slug}_{s.lms_id}_{9000 + n}_{ASSIGNMENT}.ipynb", when), notebook({}))
                later = (monday + dt.timedelta(days=8)).timetuple()[:6]
                zf.writestr(zipfile.ZipInfo(f"{slug}_LATE_{s.lms_id}_{9100 + n}_{ASSIGNMENT}-1.ipynb", later),
                            notebook(s.code(model)))
            elif s.sends == "text":
                zf.writestr(zipfile.ZipInfo(f"{slug}_{s.lms_id}_{9000 + n}_answers.txt", when), "I could not open Jupyter")
        zf.writestr(zipfile.ZipInfo(f"ghoststudent_9999_1_{ASSIGNMENT}.ipynb", monday.timetuple()[:6]), notebook({}))


def write_roster(path: Path, students: list[Student]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "first_name", "last_name", "email", "lms_id"])
        for s in students:
            writer.writerow([s.student_id, s.first, s.last, f"{s.student_id}@example.edu", s.lms_id])


# ---- the week, once ----------------------------------------------------------------------------


@dataclass
class Week:
    root: Path
    students: list[Student]
    outputs: dict[str, str]

    @property
    def graded(self) -> list[Student]:
        return [s for s in self.students if s.sends in ("notebook", "renamed", "resubmitted")]

    def student(self, student_id: str) -> Student:
        return next(s for s in self.students if s.student_id == student_id)


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Week:
    import time

    started = time.monotonic()
    root = course_copy(tmp_path_factory.mktemp("week") / "course")
    students = build_class()
    archive = root.parent / "submissions.zip"
    canvas_archive(archive, students, root)
    write_roster(root.parent / "roster.csv", students)
    out = {}
    out["collect"] = course("collect", str(archive), "--roster", str(root.parent / "roster.csv"), root=root).stdout
    out["autograde"] = course("autograde", ASSIGNMENT, "--quiet", "--jobs", "2", "--cell-timeout", "10", root=root).stdout
    out["report"] = course("report", ASSIGNMENT, root=root).stdout
    out["seconds before hand-grading"] = f"{time.monotonic() - started:.0f}"
    return Week(root, students, out)


def _gradebook(root: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{root / 'gradebook.db'}", "optimization-for-deep-learning")


def test_collect_takes_the_newest_file_of_each_student_and_reports_every_skipped_file(week):
    text = week.outputs["collect"]
    assert f"{ASSIGNMENT}: 28 notebook(s) from 28 student(s)" in text and "30 roster students in the gradebook" in text
    skipped = {line.split(":", 1)[0].strip(): line for line in text.splitlines() if line.startswith("  ") and "note:" not in line}
    assert len(skipped) == 3, text
    assert any("answers.txt" in k and "not a notebook" in v for k, v in skipped.items())
    assert any("ghoststudent_9999" in k and "Canvas user 9999 is not in the roster" in v for k, v in skipped.items())
    older = [v for k, v in skipped.items() if "_LATE_" not in k and "s08" in v]
    assert older and "an older copy of s08's 01_risk.ipynb" in older[0]
    assert "s08: 01_risk.ipynb was submitted late" in text and "s09: took homework (1).ipynb as 01_risk.ipynb" in text
    assert "no notebook from 2 roster student(s): s29, s30" in text
    submitted = sorted(p.parent.parent.name for p in (week.root / "submitted").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))
    assert submitted == sorted(s.student_id for s in week.graded)
    # the late resubmission replaced the blank first try
    nb = nbformat.read(week.root / "submitted" / "s08" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    assert any("return ((X @ w + b - y) ** 2).mean()" in c.source for c in nb.cells)
    with _gradebook(week.root) as gb:
        names = {s.id: (s.first_name, s.last_name, s.lms_user_id) for s in gb.students}
    assert names == {s.student_id: (s.first, s.last, s.lms_id) for s in week.students}


def _summary_line(text: str, student_id: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(student_id + " "))


def test_autograde_summary_gives_points_pending_points_and_reasons(week):
    text = week.outputs["autograde"]
    assert f"{len(week.graded)} graded, 0 failed" in text
    for s in week.graded:
        line = _summary_line(text, s.student_id)
        auto = sum(s.expected().values())
        assert re.search(rf"\s{auto:g} / {FULL:g}\s", line), line
        assert ("2 awaiting" in line) == s.written, line
        if auto == FULL and s.student_id not in ("s04",):
            assert line.rstrip().endswith("graded"), line
    assert "empirical_risk: known mistake 'sum_not_mean'" in _summary_line(text, "s02")
    assert re.search(r"ridge_risk: answer cell 'ridge_risk': SyntaxError on line 2", _summary_line(text, "s03"))
    assert "timed out after 10 s" in _summary_line(text, "s04")
    assert "exit status 3" in _summary_line(text, "s05")


def test_gradebook_holds_every_students_points(week):
    from course_lib.grading.course import Course
    from course_lib.grading.results import load_results

    results = {r.student_id: r for r in load_results(Course(week.root), [ASSIGNMENT])}
    assert set(results) == {s.student_id for s in week.graded}
    for s in week.graded:
        got = {p.grade_id: p.auto_score for p in results[s.student_id].tests}
        assert got == s.expected(), s.student_id


def test_report_counts_mistakes_troubles_and_the_copied_pair(week, tmp_path):
    from course_lib.grading.course import Course
    from course_lib.grading.report import write_report

    assert re.search(r"\(28 submission\(s\); \d+ awaiting hand-grading, 2 timed out or crashed, 1 pair\(s\)", week.outputs["report"])
    index, results, pairs = write_report(Course(week.root), [ASSIGNMENT], tmp_path / "report")
    by_id = {r.student_id: r for r in results}
    assert {r.student_id for r in results if r.timed_out} == {"s04"}
    assert {r.student_id for r in results if r.crashed} == {"s05"}
    assert {r.student_id for r in results if r.awaiting} == {s.student_id for s in week.graded if s.written}
    diagnosed: dict[tuple[str, str], int] = {}
    for r in results:
        for p in r.parts:
            if p.mistake:
                diagnosed[(p.label, p.mistake[0])] = diagnosed.get((p.label, p.mistake[0]), 0) + 1
    expected: dict[tuple[str, str], int] = {}
    for s in week.graded:
        for part, choice in s.choices.items():
            variant = VARIANTS.get(part, {}).get(choice)
            if variant is not None and variant.mistake:
                expected[(part, variant.mistake)] = expected.get((part, variant.mistake), 0) + 1
    assert diagnosed == expected and sum(expected.values()) >= 10
    assert [(p.first, p.second) for p in pairs[ASSIGNMENT]] == [("s06", "s07")]
    assert min(pairs[ASSIGNMENT][0].similarity_first, pairs[ASSIGNMENT][0].similarity_second) > 0.9
    page = index.read_text()
    assert "sum_not_mean" in page and by_id["s04"].student_id in page


def test_a_hand_grade_survives_a_forced_regrade_and_reaches_feedback_and_canvas(week):
    # a person grades s01's written answer in the Formgrader, i.e. through nbgrader's API
    with _gradebook(week.root) as gb:
        grade = gb.find_grade("l2_feature_scales", ASSIGNMENT, ASSIGNMENT, "s01")
        assert grade.needs_manual_grade and grade.auto_score is None
        grade.manual_score = 1.5
        grade.needs_manual_grade = False
        comment = gb.find_comment("l2_feature_scales", ASSIGNMENT, ASSIGNMENT, "s01")
        comment.manual_comment = "Right idea; say why the units matter."
        gb.db.commit()
    regrade = course("autograde", ASSIGNMENT, "--quiet", "--force", "--student", "s01", root=week.root).stdout
    assert re.search(rf"s01 .* {FULL:g} / {FULL:g}\s+1\.5 / 2\s+graded", regrade), regrade
    with _gradebook(week.root) as gb:
        grade = gb.find_grade("l2_feature_scales", ASSIGNMENT, ASSIGNMENT, "s01")
        assert (grade.manual_score, grade.needs_manual_grade) == (1.5, False)
        assert gb.find_submission(ASSIGNMENT, "s01").score == FULL + 1.5

    course("feedback", ASSIGNMENT, "--quiet", root=week.root)
    pages = {s.student_id: (week.root / "feedback" / s.student_id / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
             for s in week.graded}
    first = html.unescape(pages["s01"])
    assert f"Score: <b>{FULL + 1.5:g} / {FULL + 2:g}</b>" in first and "graded by hand" in first and "say why the units matter" in first
    for student_id, page in pages.items():
        text = html.unescape(page)
        assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text, student_id
        s = week.student(student_id)
        if s.written and student_id != "s01":
            assert "awaiting grading" in text and "Score so far" in text, student_id
    mistaken = html.unescape(pages["s02"])
    assert "you summed the squared errors instead of averaging them" in mistaken
    assert "SyntaxError on line 2" in html.unescape(pages["s03"])

    target = week.root.parent / "canvas.csv"
    course("grades", "--csv", str(target), "--format", "canvas", root=week.root)
    with open(target, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert rows[1][0] == "Points Possible" and rows[1][5] == f"{FULL + 2:g}"
    by_sis = {row[2]: row for row in rows[2:]}
    assert len(by_sis) == 30
    for s in week.students:
        row = by_sis[s.student_id]
        assert row[0] == f"{s.last}, {s.first}" and row[1] == s.lms_id and row[3] == f"{s.student_id}@example.edu"
        expected = sum(s.expected().values()) if s in week.graded else 0.0
        if s.student_id == "s01":
            expected += 1.5
        assert float(row[5]) == expected, (s.student_id, row)

    target = week.root.parent / "moodle.csv"
    course("grades", "--csv", str(target), "--format", "moodle", root=week.root)
    with open(target, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", ASSIGNMENT] and len(rows) == 31
    assert ["Ada", week.student("s01").last, "s01", "s01@example.edu", f"{FULL + 1.5:g}"] in rows


# ---- in the browser --------------------------------------------------------------------------------


@pytest.mark.browser
@requires("chromium")
def test_feedback_page_offline_typesets_math_and_names_the_mistake(week):
    folder = week.root / "feedback" / "s02" / ASSIGNMENT
    if not (folder / f"{ASSIGNMENT}.html").exists():
        course("feedback", ASSIGNMENT, "--quiet", "--student", "s02", root=week.root)
    with serve(folder) as base, browser() as chromium:
        context = chromium.new_context(viewport={"width": 1100, "height": 1300})
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{base}/{ASSIGNMENT}.html", wait_until="load")
        page.wait_for_function("document.querySelectorAll('mjx-container svg').length >= 5", timeout=60000)
        assert page.evaluate("document.querySelectorAll('mjx-merror, [data-mjx-error]').length") == 0
        text = page.inner_text("body")
        assert "$$" not in text and "\\frac" not in text  # every formula typeset
        assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text
        assert "you summed the squared errors instead of averaging them" in text
        assert requests == [f"{base}/{ASSIGNMENT}.html"], requests
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "week_feedback_s02.png"), full_page=False)
        page.locator("#test_empirical_risk").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "week_feedback_s02_verdict.png"), full_page=False)
        context.close()


@pytest.mark.browser
@requires("chromium")
def test_report_page_loads_every_plot_and_nothing_else(week):
    folder = week.root / "report"
    with serve(folder) as base, browser() as chromium:
        context = chromium.new_context(viewport={"width": 1100, "height": 1300})
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{base}/index.html", wait_until="load")
        images = page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth])")
        assert len(images) == 2 and all(width and width > 300 for _, width in images), images
        expected = {f"{base}/index.html", *(f"{base}/{src}" for src, _ in images)}
        assert set(requests) == expected, requests
        assert "s06" in page.inner_text("body") and "sum_not_mean" in page.inner_text("body")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "week_report.png"), full_page=True)
        context.close()
