"""The judge's parts on their own: one verdict for both paths, answers as data, plans from the source, one transaction."""

from __future__ import annotations

import io
import json
import os
import pickle
import socket
import struct
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch

from attacks import ASSIGNMENT, answers, course_copy, release_notebook
from course_lib import grading
from course_lib.grading.autograde import wire
from course_lib.grading.autograde.judge import clean_output
from course_lib.grading.autograde.plan import CheckCall, PlanError, SourceNotebook, check_calls
from course_lib.grading import attempt, evaluate, get_check, judge_answers

RISK_CHECKS = ["risk.empirical_risk", "risk.ridge_risk", "risk.ridge_gradient", "risk.standardize", "risk.gradient_descent"]


def _through_the_wire(check_, obj, cases):
    """What the judge receives from a sandbox for ``obj``: answers encoded, then decoded."""
    return wire.decode_answers(wire.encode_answers([attempt(check_, obj, case) for case in cases]))


# ---- one verdict, two paths -----------------------------------------------------------------------

SOLUTIONS = [(name, "reference", None) for name in RISK_CHECKS] + [
    (name, "mistake", m.name) for name in RISK_CHECKS for m in get_check(name).mistakes
]


@pytest.mark.parametrize("name,kind,mistake", SOLUTIONS, ids=[f"{n}-{m or k}" for n, k, m in SOLUTIONS])
def test_the_judge_says_what_the_students_check_says(name, kind, mistake):
    """The judge, given the answers as data, writes the very message check() prints in the student's kernel."""
    check_ = get_check(name)
    obj = check_.reference if kind == "reference" else check_.mistake(mistake).implementation
    cases = check_.cases(True)
    in_kernel = evaluate(check_, obj, cases)
    judged = judge_answers(check_, cases, _through_the_wire(check_, obj, cases),
                           [check_.run(check_.reference, case) for case in cases])
    assert judged == in_kernel
    if kind == "mistake":
        assert check_.mistake(mistake).message in judged


@pytest.mark.parametrize(
    "answer,expected_fragment",
    [
        (lambda w, b, X, y: ((X @ w + b - y) ** 2).mean().numpy(), "should be a torch.Tensor, got ndarray"),
        (lambda w, b, X, y: 1 / 0, "raised ZeroDivisionError: division by zero"),
        (lambda w, b, X, y: "0.5", "should be a torch.Tensor, got str"),
        (lambda w, b, X, y: np.float32(0.5), "should be a torch.Tensor, got float32"),
    ],
    ids=["ndarray", "raises", "str", "numpy-float32"],
)
def test_odd_answers_read_the_same_after_the_trip(answer, expected_fragment):
    check_ = get_check("risk.empirical_risk")
    cases = check_.cases(False)
    in_kernel = evaluate(check_, answer, cases)
    assert expected_fragment in in_kernel
    assert judge_answers(check_, cases, _through_the_wire(check_, answer, cases)) == in_kernel


def test_check_in_judge_mode_reports_answers_and_judges_nothing(capsys):
    received = []
    grading.set_reporter(lambda name, hidden, answers: received.append((name, hidden, answers)))
    try:
        grading.check("risk.empirical_risk", lambda w, b, X, y: torch.tensor(123.0), hidden=True)
    finally:
        grading.set_reporter(None)
    ((name, hidden, answers),) = received
    assert (name, hidden) == ("risk.empirical_risk", True)
    assert len(answers) == len(get_check(name).cases(True))
    assert capsys.readouterr().out == ""
    with pytest.raises(grading.CheckFailure):
        grading.check("risk.empirical_risk", lambda w, b, X, y: torch.tensor(123.0))


def test_evaluate_stops_at_the_first_failure_like_before():
    calls = []

    def student(w, b, X, y):
        calls.append(1)
        return torch.tensor(0.0)

    check_ = get_check("risk.empirical_risk")
    assert evaluate(check_, student, check_.cases(True)) is not None
    assert len(calls) == 1


# ---- answers are data --------------------------------------------------------------------------------


class _Bomb:
    def __reduce__(self):
        return (os.system, ("touch /tmp/course-autograde-bomb-went-off",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_answers_that_are_code_are_refused_not_run(tmp_path):
    marker = Path("/tmp/course-autograde-bomb-went-off")
    marker.unlink(missing_ok=True)
    buffer = io.BytesIO()
    torch.save([_Bomb()], buffer)
    for payload in (buffer.getvalue(), pickle.dumps([_Bomb()]), b"not a zip at all"):
        with pytest.raises(wire.ProtocolError):
            wire.decode_answers(payload)
    assert not marker.exists()


def test_tensor_subclasses_and_views_travel_as_plain_tensors():
    big = torch.arange(1000.0)
    view = big[:3]
    answers = wire.decode_answers(wire.encode_answers([(torch.nn.Parameter(torch.ones(2)), view, {"k": [1, 2.5, None]})]))
    param, small, rest = answers[0]
    assert type(param) is torch.Tensor and type(small) is torch.Tensor
    assert small.untyped_storage().nbytes() == 3 * 4, "a view is sent without the tensor it views"
    assert rest == {"k": [1, 2.5, None]}


def test_frames_have_limits():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(struct.pack("!II", wire.MAX_HEADER + 1, 0))
        with pytest.raises(wire.ProtocolError, match="too large"):
            wire.receive(ours, deadline=time.monotonic() + 5)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        with pytest.raises(TimeoutError):
            wire.receive(ours, deadline=time.monotonic() + 0.2)
        theirs.sendall(struct.pack("!II", 3, 0) + b"[1]")
        with pytest.raises(wire.ProtocolError, match="op"):
            wire.receive(ours, deadline=time.monotonic() + 5)
        theirs.close()
        with pytest.raises(EOFError):
            wire.receive(ours, deadline=time.monotonic() + 5)


@pytest.mark.parametrize(
    "output,kept",
    [
        ({"output_type": "display_data", "data": {"text/html": "<script>alert(1)</script>", "text/plain": "x"}}, {"text/plain": "x"}),
        ({"output_type": "display_data", "data": {"application/javascript": "alert(1)"}}, None),
        ({"output_type": "display_data", "data": {"image/png": 'AAAA" onerror="alert(1)'}}, None),
        ({"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}, {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}),
        ({"output_type": "comm_open", "data": {}}, None),
    ],
    ids=["html", "javascript", "png-injection", "png", "unknown"],
)
def test_student_outputs_keep_only_text_and_images(output, kept):
    cleaned = clean_output(output)
    if kept is None:
        assert cleaned is None
    else:
        assert dict(cleaned["data"]) == kept


# ---- the plan comes from the source ---------------------------------------------------------------


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = course_copy(tmp_path_factory.mktemp("plan") / "course")
    return root, SourceNotebook(ASSIGNMENT, root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", release_notebook(root))


def _submitted(root: Path, edit) -> bytes:
    nb = nbformat.read(release_notebook(root), as_version=4)
    model = answers(root)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in model:
            cell.source = model[gid]
    edit(nb)
    return nbformat.writes(nb).encode()


def _by_id(plan):
    return {c.grade_id: c for c in plan.cells if c.grade_id}


def test_tests_and_points_come_from_the_source_whatever_the_submission_did(source):
    root, src = source

    def tamper(nb):
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade_id") == "test_empirical_risk":
                cell.source = "pass"
                meta["points"] = 100
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_ridge_risk"]

    plan = src.plan(_submitted(root, tamper))
    cells = _by_id(plan)
    assert "BEGIN HIDDEN TESTS" in cells["test_empirical_risk"].cell.source
    assert cells["test_empirical_risk"].points == 2
    assert cells["test_ridge_risk"].calls == [CheckCall("risk.ridge_risk", False), CheckCall("risk.ridge_risk", True)]
    assert any("'test_empirical_risk' was edited" in n for n in plan.notes)
    assert any("'test_empirical_risk' had its grading metadata changed" in n for n in plan.notes)
    assert any("'test_ridge_risk' is missing" in n for n in plan.notes)


def test_the_students_own_cells_run_where_they_put_them(source):
    root, src = source

    def add(nb):
        at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "ridge_risk")
        nb.cells.insert(at, nbformat.v4.new_code_cell("helper = 1"))

    plan = src.plan(_submitted(root, add))
    order = [c.grade_id or c.cell.source for c in plan.cells if c.runs]
    assert order.index("helper = 1") == order.index("ridge_risk") - 1
    assert order.index("helper = 1") > order.index("test_empirical_risk")
    assert plan.notes == []


def test_a_missing_answer_runs_its_blank_stub(source):
    root, src = source
    plan = src.plan(_submitted(root, lambda nb: nb.cells.pop(next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "standardize"))))
    assert "raise NotImplementedError()" in _by_id(plan)["standardize"].cell.source
    assert any("'standardize' is missing" in n for n in plan.notes)


@pytest.mark.parametrize("data", [None, b"{not json", b"\x89PNG\r\n", b'{"cells": 3}'], ids=["missing", "not-json", "binary", "not-a-notebook"])
def test_unreadable_submissions_run_nothing_and_say_why(source, data):
    _, src = source
    plan = src.plan(data)
    assert plan.problem and ("missing" in plan.problem or "not a valid notebook" in plan.problem)


@pytest.mark.parametrize(
    "code,error",
    [
        ("x = 1", "calls no check"),
        ("check(name, f)", "string literal"),
        ("check('risk.x', f, hidden=flag)", "True or False"),
        ("check('risk.x', f\n", "not valid Python"),
    ],
)
def test_test_cells_the_judge_cannot_read_are_refused(code, error):
    with pytest.raises(PlanError, match=error):
        check_calls(code, "nb cell 'x'")


def test_check_calls_in_source_order():
    code = "check('a.b', f)\n### BEGIN HIDDEN TESTS\ncheck('a.b', f, hidden=True)\ncheck('a.c', g)\n### END HIDDEN TESTS"
    assert check_calls(code, "x") == [CheckCall("a.b", False), CheckCall("a.b", True), CheckCall("a.c", False)]


# ---- one transaction per submission ---------------------------------------------------------------


def test_a_failed_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    from nbgrader.api import SubmittedAssignment

    from course_lib.grading.autograde.gradebook import RUNS, GradebookWriter, GradeRow, NotebookGrades
    from course_lib.grading.course import Course

    root = course_copy(tmp_path / "course")
    db_url = f"sqlite:///{tmp_path / 'gb.db'}"
    Course(root, db_url=db_url).release(ASSIGNMENT)
    writer = GradebookWriter(db_url)
    grades = NotebookGrades(ASSIGNMENT, {"test_empirical_risk": GradeRow(2.0)}, set())
    original = writer.gb.db.execute

    def fail_on_record(statement, *args, **kwargs):
        if getattr(statement, "table", None) is RUNS and statement.is_dml:
            raise RuntimeError("power cut")
        return original(statement, *args, **kwargs)

    monkeypatch.setattr(writer.gb.db, "execute", fail_on_record)
    with pytest.raises(RuntimeError, match="power cut"):
        writer.write("s1", ASSIGNMENT, [grades], digest="d", timestamp=None, score=2, max_score=14, problems=[])
    monkeypatch.setattr(writer.gb.db, "execute", original)
    assert writer.gb.db.query(SubmittedAssignment).count() == 0
    assert writer.graded() == {}
    writer.write("s1", ASSIGNMENT, [grades], digest="d", timestamp=None, score=2, max_score=14, problems=[])
    assert writer.graded() == {("s1", ASSIGNMENT): "d"}
    assert writer.gb.find_submission(ASSIGNMENT, "s1").score == 2.0
    writer.close()


# ---- plain data within bounds --------------------------------------------------------------------------


def _payload(tree, blob: bytes = b"") -> bytes:
    text = json.dumps(tree).encode()
    return struct.pack("!Q", len(text)) + text + blob


def test_answers_are_rebuilt_by_the_judge_as_plain_values():
    sent = [(torch.arange(6.0).reshape(2, 3)[:, 1], {"k": [1, 2.5, None, True]}, 10**300, "a\ud800b", 1 + 2j)]
    (answer,) = wire.decode_answers(wire.encode_answers(sent))
    tensor, mapping, big, text, number = answer
    assert type(tensor) is torch.Tensor and tensor.tolist() == [1.0, 4.0]
    assert mapping == {"k": [1, 2.5, None, True]} and big == 10**300 and number == 1 + 2j
    assert text == "a\ufffdb"  # a lone surrogate cannot be stored or printed: replaced


@pytest.mark.parametrize(
    "payload,error",
    [
        (_payload([["list", [None] * (wire.MAX_ANSWER_NODES + 1)]]), "more than"),
        (struct.pack("!Q", 10**9) + b"[]", "bad length"),
        (_payload([["int", "9" * 5000]]), "malformed answer of kind 'int'"),
        (_payload([["tensor", "float32", [1000, 1000], 0, 8]], b"\0" * 8), "does not match its shape"),
        (_payload([["tensor", "float32", [2], 0, 8]], b"\0" * 4), "not in the payload"),
        (_payload([["tensor", "object", [1], 0, 8]], b"\0" * 8), "unknown dtype"),
        (_payload([["dict", [[["list", []], 1]]]]), "not a plain value"),
        (struct.pack("!Q", 20_000) + b"[" * 20_000, "could not be read back"),
        (_payload([["pickle", "cos\nsystem"]]), "unknown kind"),
    ],
    ids=["too-many-values", "bad-length", "huge-int", "size-mismatch", "bytes-missing", "dtype", "unhashable-key",
         "deep-nesting", "unknown-kind"],
)
def test_answers_built_to_hurt_the_judge_are_refused_within_bounds(payload, error):
    with pytest.raises(wire.ProtocolError, match=error):
        wire.decode_answers(payload)


def test_outputs_are_plain_text_that_can_be_saved():
    cleaned = clean_output({"output_type": "stream", "name": "stdout", "text": "x\ud800"})
    assert cleaned["text"] == "x\ufffd"
    error = clean_output({"output_type": "error", "ename": "E\udcff", "evalue": "v", "traceback": ["\ud800"]})
    assert error["ename"] == "E\ufffd" and error["traceback"] == ["\ufffd"]
    assert clean_output({"output_type": "display_data", "data": {"image/png": "AA\ud800"}}) is None


def test_student_markup_becomes_text():
    from course_lib.grading.autograde.plaintext import inert_markdown

    text = inert_markdown('<script>alert(1)</script> <img src=x onerror=alert(1)> [x](JavaScript:alert(1)) a < b')
    assert "<script" not in text and "<img" not in text and "](" not in text
    assert "a < b" in text
    html = _rendered(text)
    assert "<script" not in html and "<img" not in html and "href" not in html and "alert(1)" in html


def _rendered(markdown: str) -> str:
    """A markdown cell as the feedback page renders it (nbconvert's HTML exporter)."""
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown)])
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    return body.split('<div class="text_cell_render border-box-sizing rendered_html">', 1)[1].split("</div>", 1)[0]


# ---- reading a submission -------------------------------------------------------------------------------


def test_submissions_are_read_as_regular_files_within_limits(tmp_path):
    from course_lib.grading.autograde import intake

    (tmp_path / "real.ipynb").write_bytes(b"{}")
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "real.ipynb")
    os.mkfifo(tmp_path / "fifo.ipynb")
    (tmp_path / "big.ipynb").write_bytes(b"x" * 2048)
    assert intake.read_regular(tmp_path / "real.ipynb", 1024) == (b"{}", None)
    assert "symbolic link" in intake.read_regular(tmp_path / "link.ipynb", 1024)[1]
    assert "not a regular file" in intake.read_regular(tmp_path / "fifo.ipynb", 1024)[1]  # and it did not block
    assert "more than the limit" in intake.read_regular(tmp_path / "big.ipynb", 1024)[1]
    assert intake.read_regular(tmp_path / "missing.ipynb", 1024) == (None, None)
    assert "not valid UTF-8" in intake.name_problem(os.fsdecode(b"student\xff"))
    (tmp_path / os.fsdecode(b"data\xfe.csv")).write_bytes(b"1")
    (tmp_path / "ok.csv").write_bytes(b"2")
    files, notes = intake.other_files(tmp_path, lambda rel: rel.name in ("big.ipynb",))
    assert [name for name, _ in files] == ["ok.csv", "real.ipynb"] or [name for name, _ in files] == ["ok.csv"]
    assert any("not valid UTF-8" in note for note in notes)


@pytest.mark.parametrize(
    "data,reason",
    [
        (b'{"nbformat": 4, "cells": [' + b",".join([b'{"cell_type": "markdown", "source": ""}'] * 150_000) + b"]}",
         "JSON objects and lists"),
        (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": "x"}] * 3000}).encode(), "3000 cells"),
        (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": "x" * (2 << 20)}]}).encode(), "characters"),
        (json.dumps({"nbformat": 3, "worksheets": []}).encode(), "nbformat version 4"),
    ],
    ids=["many-objects", "many-cells", "huge-cell", "old-format"],
)
def test_limits_are_checked_before_the_work_they_bound(data, reason):
    from course_lib.grading.autograde.plan import read_cells

    cells, problem = read_cells(data)
    assert cells == [] and reason in problem
