"""The judge: runs one notebook in a sandbox child, cell by cell, and decides every point itself.

For each test cell the judge knows, from the SOURCE, which ``check(...)`` calls it makes.
While that cell runs in the student's process, the judge accepts the answers its checks
send (data only, see :mod:`course_lib.grading.autograde.wire`); when the cell is done, it stops
listening for that cell, draws the check's cases from its own registry, computes the
reference itself (once per check, cached across submissions), and compares with
:func:`course_lib.grading.judge_answers` -- the same code, mistake diagnosis included,
that a student's visible test runs. A test cell earns its points only if every check of
the source cell reported back and agreed; a check that never reported scores 0, with the
reason.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import nbformat

from course_lib import grading
from course_lib.grading import delegation, sources
from course_lib.grading.autograde import wire
from course_lib.grading.autograde.plaintext import inert_markdown, plain_text
from course_lib.grading.autograde.plan import RUBRIC_KEY, CheckCall, Plan, PlannedCell
from course_lib.grading.autograde.sandbox import Limits, Sandbox, SandboxError

__all__ = ["Judge", "NotebookResult", "TestResult", "run_notebook"]

_BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")
_NEAR_LIMIT = 16 << 10
"""Output within this many characters of the limit counts as cut (the child stops short of it)."""
INTERRUPT_GRACE = 5.0
"""Seconds a cell gets to stop after SIGINT before the child is killed."""


@dataclass
class TestResult:
    """The judge's verdict on one test cell."""

    grade_id: str
    points: float
    score: float
    reason: str | None = None
    """Why the points were not awarded (a failure message, or why a check never reported)."""
    abnormal: str | None = None
    """Set when the reason is not a wrong answer: ``"stopped"`` (the notebook stopped first),
    ``"silent"`` (the cell ran, its checks never reported: tampering), ``"garbled"`` (answers unreadable),
    ``"unreadable"`` (the submission could not be read), ``"forbidden"`` (the answer uses what its part
    forbids; the reason names it), ``"flagged"`` (its answers agree, but the judge cannot tell whether it
    uses what its part forbids: no automatic points, a person decides)."""

    @property
    def needs_review(self) -> bool:
        """No automatic points, and a person must look: the judge could not decide (see ``reason``)."""
        return self.abnormal == "flagged"


@dataclass
class NotebookResult:
    """What happened to one notebook: the executed notebook, the verdicts and any problems."""

    plan: Plan
    notebook: Any
    tests: list[TestResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    sandbox_broken: bool = False


class Judge:
    """The trusted side of grading: cases and reference answers, computed here, cached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, bool], tuple[grading.Check, list[dict[str, Any]], list[Any]]] = {}

    def reference(self, call: CheckCall) -> tuple[grading.Check, list[dict[str, Any]], list[Any]]:
        """``(check, cases, expected answers)`` of a check call, computed once."""
        key = (call.check, call.hidden)
        with self._lock:
            if key not in self._cache:
                check_ = grading.get_check(call.check)
                cases = check_.cases(call.hidden)
                expected = [check_.run(check_.reference, case) for case in cases]
                self._cache[key] = (check_, cases, expected)
            return self._cache[key]

    def verdict(self, call: CheckCall, answers: list[Any]) -> str | None:
        """The failure message for ``answers`` (None when they agree with the reference)."""
        check_, cases, expected = self.reference(call)
        part = call.check.split(".", 1)[-1]
        if len(answers) != len(cases):
            return f"{part} reported {len(answers)} answers for {len(cases)} cases."
        try:
            return grading.judge_answers(check_, cases, answers, expected)
        except Exception as err:  # an answer built to break the comparison (an int too large for a float)
            return f"{part}'s answer could not be compared with the reference ({type(err).__name__}: {str(err)[:200]})."


# ---- outputs --------------------------------------------------------------------------------


def _clip(text: Any, limit: int) -> str:
    text = text if isinstance(text, str) else "" if isinstance(text, (dict, list)) else str(text)
    return plain_text(text if len(text) <= limit else text[:limit] + "\n[... truncated]")


def clean_output(output: Any) -> dict[str, Any] | None:
    """An output from the student's process reduced to what is safe to show: plain text and images.

    HTML and JavaScript are dropped, so the feedback pages carry no markup a student wrote.
    """
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return nbformat.v4.new_output("stream", name=name, text=_clip(output.get("text", ""), 300_000))
    if kind in ("display_data", "execute_result"):
        data = output.get("data") if isinstance(output.get("data"), dict) else {}
        kept: dict[str, str] = {}
        if isinstance(data.get("text/plain"), str):
            kept["text/plain"] = _clip(data["text/plain"], 20_000)
        for mime in ("image/png", "image/jpeg"):
            value = data.get(mime)
            if isinstance(value, str) and len(value) < 4_000_000 and _BASE64.match(value):
                try:
                    base64.b64decode(value, validate=False)
                except (binascii.Error, ValueError):
                    continue
                kept[mime] = value
        if not kept:
            return None
        if kind == "execute_result":
            count = output.get("execution_count")
            return nbformat.v4.new_output("execute_result", data=kept, execution_count=count if isinstance(count, int) else None)
        return nbformat.v4.new_output("display_data", data=kept)
    if kind == "error":
        traceback = output.get("traceback") if isinstance(output.get("traceback"), list) else []
        return nbformat.v4.new_output("error", ename=_clip(output.get("ename", "Error"), 200),
                                      evalue=_clip(output.get("evalue", ""), 5_000),
                                      traceback=[_clip(line, 5_000) for line in traceback[:200]])
    return None


def _size(output: dict[str, Any]) -> int:
    if output["output_type"] == "stream":
        return len(output["text"])
    if output["output_type"] == "error":
        return len(output["evalue"]) + sum(map(len, output["traceback"]))
    return sum(len(v) for v in output["data"].values())


def _judge_note(text: str) -> dict[str, Any]:
    return nbformat.v4.new_output("stream", name="stderr", text=f"[autograder] {text}\n")


def _failure(message: str) -> dict[str, Any]:
    return nbformat.v4.new_output("error", ename="CheckFailure", evalue=message, traceback=[f"CheckFailure: {message}"])


# ---- one notebook -----------------------------------------------------------------------------


class _Stop(Exception):
    """The notebook cannot go on (the child died, a limit was hit); the message says why."""


def originality(plan: Plan) -> dict[tuple[int, str], delegation.Verdict]:
    """For each test cell (by index in the plan) and check it makes: what the checked answer reaches
    that its part forbids, read from the code the judge sends to the sandbox."""
    numbers: dict[int, int] = {}
    cells, names = [], []
    for index, pc in enumerate(plan.cells):
        if pc.runs:
            numbers[index] = len(cells)
            cells.append((pc.cell.source, pc.role in ("test", "locked")))
            names.append(f"cell {_name(pc, index)}")
    verdicts: dict[tuple[int, str], delegation.Verdict] = {}
    try:
        program = sources.read_program(cells)
    except Exception as err:  # a bug of ours must not award points: every test cell goes to a person
        program, problem = None, f"the judge could not read the notebook's code ({type(err).__name__})"
    for index, pc in enumerate(plan.cells):
        if pc.role != "test":
            continue
        for name, chains in sources.answer_chains(pc.cell.source).items():
            try:
                if program is None:
                    raise RuntimeError(problem)
                check_ = grading.get_check(name)
                verdict = delegation.judge_answer(program, numbers[index], chains, delegation.forbidden_for(check_), names)
            except Exception as err:
                verdict = delegation.Verdict(undecided=[f"code the judge could not analyse ({type(err).__name__}: {str(err)[:120]})"])
            verdicts[(index, name)] = verdict
    return verdicts


def run_notebook(sandbox: Sandbox, judge: Judge, plan: Plan, files: list[tuple[str, bytes]], limits: Limits) -> NotebookResult:
    """Run ``plan`` in a fresh child of ``sandbox`` and judge its test cells.

    Never raises for anything the student's code does; a sandbox that misbehaves is
    flagged (``sandbox_broken``) so the caller replaces it.
    """
    cells = [nbformat.from_dict(dict(pc.cell)) for pc in plan.cells]
    result = NotebookResult(plan, None)
    timings = result.timings
    if plan.problem:
        result.problems.append(plan.problem)
        for pc, cell in zip(plan.cells, cells):
            if pc.role == "test":
                cell.outputs = [_judge_note(f"not graded: {plan.problem}")]
                result.tests.append(TestResult(pc.grade_id, pc.points, 0.0, plan.problem, abnormal="unreadable"))
        result.notebook = _notebook(plan, cells, result.problems)
        return result

    started = time.monotonic()
    verdicts = originality(plan)
    timings["originality"] = time.monotonic() - started
    notebook_deadline = started + limits.notebook_seconds
    # the child cuts its output at limits.output_bytes; the judge, trusting nothing, at twice that
    output_budget = 2 * limits.output_bytes
    cut = False
    stopped: str | None = None
    sock = None
    try:
        sock = sandbox.spawn()
        timings["spawn"] = time.monotonic() - started
        for name, data in files:
            wire.send(sock, {"op": "file", "name": name}, data)
    except (SandboxError, OSError) as err:
        stopped = f"the sandbox failed before the notebook ran ({err})"
        result.sandbox_broken = True

    first_code = next((i for i, pc in enumerate(plan.cells) if pc.runs), -1)
    for index, (pc, cell) in enumerate(zip(plan.cells, cells)):
        if not pc.runs:
            continue
        reports: dict[CheckCall, list[Any]] = {}
        errors: list[dict[str, Any]] = []
        overflow: dict[str, Any] | None = None
        notes: list[dict[str, Any]] = []
        finished = False
        if stopped is None:
            cell_started = time.monotonic()
            try:
                wire.send(sock, {"op": "cell", "index": index, "code": cell.source})
                cell_deadline = min(cell_started + limits.cell_seconds, notebook_deadline)
                interrupted = False
                while not finished:
                    try:
                        header, payload = wire.receive(sock, deadline=cell_deadline, max_payload=32 << 20)
                    except TimeoutError:
                        if time.monotonic() >= notebook_deadline:
                            raise _Stop(f"the notebook ran past its limit of {limits.notebook_seconds:g} s (in cell {_name(pc, index)})") from None
                        if interrupted:
                            raise _Stop(f"cell {_name(pc, index)} ran past {limits.cell_seconds:g} s and did not stop when interrupted") from None
                        notes.append(_judge_note(f"this cell ran past the limit of {limits.cell_seconds:g} s and was interrupted"))
                        result.problems.append(f"cell {_name(pc, index)} timed out after {limits.cell_seconds:g} s")
                        sandbox.interrupt()
                        interrupted = True
                        cell_deadline = min(time.monotonic() + INTERRUPT_GRACE, notebook_deadline)
                        continue
                    op = header["op"]
                    if op == "output":
                        output = clean_output(header.get("output"))
                        if output is None:
                            continue
                        if output["output_type"] == "error":
                            if output_budget - _size(output) >= 0:
                                errors.append(output)
                            else:
                                # past the budget only the latest error is kept, cut short: it explains a failure
                                overflow = nbformat.v4.new_output("error", ename=output["ename"],
                                                                  evalue=output["evalue"][:500], traceback=[])
                        output_budget -= _size(output)
                        if output_budget < limits.output_bytes + _NEAR_LIMIT and not cut:
                            cut = True
                            result.problems.append(f"the notebook printed more than the limit of {limits.output_bytes} "
                                                   "characters; the rest of its output was dropped")
                        if output_budget >= 0:
                            _append(cell.outputs, output)
                        elif output_budget + _size(output) >= 0:
                            notes.append(_judge_note("output limit reached: later outputs were dropped"))
                    elif op == "answers" and pc.role == "test":
                        key = CheckCall(str(header.get("check")), bool(header.get("hidden")))
                        if len(reports.get(key, [])) < pc.calls.count(key):
                            try:
                                reports.setdefault(key, []).append(wire.decode_answers(payload))
                            except wire.ProtocolError as err:
                                reports.setdefault(key, []).append(err)
                    elif op == "done":
                        finished = True
                        count = header.get("execution_count")
                        if cell.cell_type == "code" and isinstance(count, int):
                            cell.execution_count = count
                key = "cells (the first: imports)" if index == first_code else f"cells ({pc.role})"
                timings[key] = timings.get(key, 0.0) + time.monotonic() - cell_started
            except _Stop as stop:
                stopped = str(stop)
            except (EOFError, OSError, wire.ProtocolError) as err:
                stopped = f"the notebook's process ended while running cell {_name(pc, index)}"
                if isinstance(err, wire.ProtocolError):
                    stopped = f"the notebook's process sent garbage in cell {_name(pc, index)} ({err})"
            except SandboxError as err:
                stopped = f"the sandbox failed in cell {_name(pc, index)} ({err})"
                result.sandbox_broken = True
            if stopped is not None:
                notes.append(_judge_note(f"stopped: {stopped}"))
        if pc.role == "test":
            # What the student's process printed in a test cell proves nothing: keep only its
            # errors (they explain a failure), then the judge's own notes and verdicts.
            judged = time.monotonic()
            if overflow is not None:
                errors.append(overflow)
            test = _judge_cell(judge, pc, reports, errors, finished, stopped,
                               {name: v for (i, name), v in verdicts.items() if i == index})
            cell.outputs = [*errors, *notes, *test.pop("outputs")]
            result.tests.append(TestResult(pc.grade_id, pc.points, **test))
            timings["judge"] = timings.get("judge", 0.0) + time.monotonic() - judged
        else:
            cell.outputs.extend(notes)

    if sock is not None:
        try:
            if stopped is None:
                wire.send(sock, {"op": "bye"})
        except OSError:
            pass
        sock.close()
    reaped = time.monotonic()
    status = None
    if not result.sandbox_broken:
        try:
            status = sandbox.reap()
        except (SandboxError, OSError):
            result.sandbox_broken = True
    timings["reap"] = time.monotonic() - reaped
    if stopped is not None:
        detail = f" ({status})" if status and "ended" in stopped else ""
        result.problems.append(stopped + detail)
    silent = [repr(t.grade_id) for t in result.tests if t.abnormal == "silent"]
    if silent:
        result.problems.append(f"test cell{'s' if len(silent) > 1 else ''} {', '.join(silent)} ran but never reported "
                               "to the judge: something in the notebook changed what the test cells do")
    result.problems += [t.reason for t in result.tests if t.abnormal == "garbled"]
    result.notebook = _notebook(plan, cells, [*plan.notes, *result.problems])
    return result


def _name(pc: PlannedCell, index: int) -> str:
    return repr(pc.grade_id) if pc.grade_id else f"#{index + 1} (your own cell)"


def _judge_cell(judge: Judge, pc: PlannedCell, reports: dict[CheckCall, list[Any]], errors: list[dict[str, Any]],
                finished: bool, stopped: str | None, verdicts: dict[str, delegation.Verdict]) -> dict[str, Any]:
    test = _compare_cell(judge, pc, reports, errors, finished, stopped)
    for name, verdict in verdicts.items():
        forbidden = delegation.forbidden_for(grading.get_check(name))
        message = verdict.message(forbidden.part, forbidden)
        if message is None:
            continue
        if verdict.reached:
            compared = ("its answers agree with the reference" if test["score"] else
                        f"its answers were not accepted either: {test['reason']}")
            reason = f"{message} ({compared})"
            # a cell that never reported (tampering, a crash) stays marked so: that is the first thing to know
            abnormal = test["abnormal"] if test["abnormal"] in ("silent", "garbled", "stopped") else "forbidden"
            outputs = [*test["outputs"][-1:], _failure(reason)] if test["abnormal"] else [_failure(reason)]
            return {"score": 0.0, "reason": reason, "abnormal": abnormal, "outputs": outputs}
        if test["score"]:
            reason = f"{message} (its answers agree with the reference)"
            return {"score": 0.0, "reason": reason, "abnormal": "flagged", "outputs": [_failure(reason)]}
        # the answers earn nothing anyway: nothing for a person to decide, but the reason says both
        test["reason"] = f"{test['reason']} (also: {message})"
    return test


def _compare_cell(judge: Judge, pc: PlannedCell, reports: dict[CheckCall, list[Any]], errors: list[dict[str, Any]],
                  finished: bool, stopped: str | None) -> dict[str, Any]:
    outputs: list[dict[str, Any]] = []
    for call in pc.calls:
        pending = reports.get(call) or []
        if not pending:
            if stopped is not None and not finished:
                reason = f"check {call.label()} never reported back: {stopped}"
                return {"score": 0.0, "reason": reason, "abnormal": "stopped", "outputs": [*outputs, _judge_note(reason)]}
            if errors:
                last = errors[-1]
                reason = f"the test cell stopped with {last['ename']}: {last['evalue']}"
                return {"score": 0.0, "reason": reason, "abnormal": None, "outputs": outputs}
            reason = (f"check {call.label()} never reported back although the test cell ran: "
                      "something in the notebook changed what the test cell does")
            return {"score": 0.0, "reason": reason, "abnormal": "silent", "outputs": [*outputs, _judge_note(reason)]}
        answers = pending.pop(0)
        if isinstance(answers, Exception):
            reason = f"check {call.label()}: {answers}"
            return {"score": 0.0, "reason": reason, "abnormal": "garbled", "outputs": [*outputs, _judge_note(reason)]}
        message = judge.verdict(call, answers)
        if message is not None:
            return {"score": 0.0, "reason": message, "abnormal": None, "outputs": [*outputs, _failure(message)]}
        _, cases, _ = judge.reference(call)
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=grading.passed_message(call.check, len(cases), call.hidden) + "\n"))
    return {"score": pc.points, "reason": None, "abnormal": None, "outputs": _merge_streams(outputs)}


def _append(outputs: list[dict[str, Any]], output: dict[str, Any]) -> None:
    last = outputs[-1] if outputs else None
    if last is not None and output["output_type"] == "stream" and last["output_type"] == "stream" and last["name"] == output["name"]:
        last["text"] += output["text"]
    else:
        outputs.append(output)


def _merge_streams(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    for output in outputs:
        _append(merged, output)
    return merged


def _notebook(plan: Plan, cells: list[Any], notes: list[str]) -> Any:
    nb = nbformat.v4.new_notebook()
    nb.cells = []
    for cell in cells:
        nb.cells.append(cell)
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in plan.rubrics and cell.get("cell_type") == "markdown":
            # for the graders in the formgrader, added after the run; `course feedback` drops it
            rubric = nbformat.v4.new_markdown_cell(plan.rubrics[gid])
            rubric.metadata["course"] = {RUBRIC_KEY: gid}
            nb.cells.append(rubric)
    if notes:
        text = "**Notes from the autograder**\n\n" + "\n".join(f"- {inert_markdown(n)}" for n in notes)
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(text))
    nb.metadata = plan.metadata
    return nb
