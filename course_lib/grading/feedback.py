"""The feedback a student reads: one self-contained HTML page per graded notebook.

``feedback/<student_id>/<assignment>/<notebook>.html`` holds, from the top: the score
(autograded points, and the points that wait for a person), a table with every part's
points and the reason for every lost point as the judge recorded it (the check's
message naming the known mistake, a syntax error with its line, a timeout, a crash, a
forbidden call...), what the autograder noticed, and then the notebook as it ran, each
test cell followed by its verdict and each written answer by its state: "awaiting
grading" until a person grades it, then the grade and the grader's comment.

Test cells are shown without their hidden tests, and without tracebacks (a traceback
through a test cell would quote its hidden lines): only the error's name and message.
The page typesets formulas with the inlined MathJax of :mod:`~course_lib.grading.pages`,
so it reads the same offline, in any browser, as a file on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from course_lib.grading.autograde.plan import is_rubric_cell
from course_lib.grading.pages import code, escape, markdown, page, strip_ansi, strip_hidden_tests, text_block
from course_lib.grading.results import Part, SubmissionResult

if TYPE_CHECKING:
    from course_lib.grading.course import Course

__all__ = ["render_feedback", "write_feedback"]


def _points(value: float | None) -> str:
    return "–" if value is None else f"{value:g}"


def _part_row(part: Part) -> str:
    kind = {"test": "autograded", "written": "written, graded by hand", "answer": "code, graded by hand"}[part.kind]
    if part.awaiting:
        result = '<span class="wait">awaiting grading</span>'
        if part.kind == "test" and part.states:
            result += " (" + escape("; ".join(part.state_words())) + ")"
        score = f"– / {part.points:g}"
    else:
        score = f"{_points(part.score)} / {part.points:g}"
        if part.kind != "test":
            result = '<span class="ok">graded by hand</span>' + (f": {escape(part.comment)}" if part.comment else "")
        elif not part.lost:
            result = '<span class="ok">&#10003; all checks agree with the reference</span>'
        else:
            why = f"this looks like a known mistake: {part.mistake[1]}" if part.mistake else part.short()
            result = f'<span class="lost">&#10007; {escape(why)}</span>'
    return (f'<tr><td><a href="#{escape(part.grade_id)}">{escape(part.label)}</a></td><td>{kind}</td>'
            f'<td class="num">{score}</td><td>{result}</td></tr>')


def _verdict(part: Part) -> str:
    """The box under a test cell or a written answer."""
    if part.awaiting:
        words = "; ".join(part.state_words()) if part.kind == "test" else ""
        text = f"{escape(part.label)}: awaiting grading by a person ({part.points:g} point{'s' if part.points != 1 else ''})"
        detail = f"<p>{escape(words)}</p>" if words else ""
        if part.reason:
            detail += text_block(part.reason)
        return f'<div class="verdict wait" id="{escape(part.grade_id)}"><div class="head">{text}</div>{detail}</div>'
    score = f"{_points(part.score)} / {part.points:g} point{'s' if part.points != 1 else ''}"
    if part.kind != "test":
        comment = f"<p>Grader's comment: {escape(part.comment)}</p>" if part.comment else ""
        return (f'<div class="verdict ok" id="{escape(part.grade_id)}"><div class="head">{escape(part.label)}: '
                f'{score}, graded by hand</div>{comment}</div>')
    if not part.lost:
        override = " (grade set by a person)" if part.manual_score is not None else ""
        return (f'<div class="verdict ok" id="{escape(part.grade_id)}"><div class="head">&#10003; {escape(part.label)}: '
                f'{score}{override}</div></div>')
    lines = []
    if part.states:
        lines.append(f"<p>{escape('; '.join(part.state_words()))}</p>")
    lines.append(text_block(part.reason or "no reason was recorded", "error"))
    if part.comment:
        lines.append(f"<p>Grader's comment: {escape(part.comment)}</p>")
    return (f'<div class="verdict lost" id="{escape(part.grade_id)}"><div class="head">&#10007; {escape(part.label)}: '
            f'{score}</div>{"".join(lines)}</div>')


def _outputs(cell: Any, *, test: bool) -> str:
    out = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            text = str(output.get("text", ""))
            if test and text.startswith("[autograder]"):
                continue  # the verdict box says it
            out.append(text_block(text, "error" if output.get("name") == "stderr" else "output"))
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            image = next((m for m in ("image/png", "image/jpeg") if isinstance(data.get(m), str)), None)
            if image:
                out.append(f'<img alt="output" src="data:{image};base64,{escape(data[image].strip())}">')
            elif isinstance(data.get("text/plain"), str):
                out.append(text_block(data["text/plain"]))
        elif kind == "error":
            name, value = str(output.get("ename", "Error")), str(output.get("evalue", ""))
            if test and name == "CheckFailure":
                continue  # the verdict box under the cell gives the message
            if test:
                out.append(text_block(f"{name}: {value}", "error"))
            else:
                out.append(text_block("\n".join(strip_ansi(str(line)) for line in output.get("traceback", []))
                                      or f"{name}: {value}", "error"))
    return "".join(out)


def _is_judge_notes(cell: Any) -> bool:
    return cell.cell_type == "markdown" and not cell.metadata.get("nbgrader") and cell.source.startswith("**Notes from the autograder**")


def render_feedback(result: SubmissionResult, notebook: str, nb: Any | None) -> str:
    """The feedback page of one notebook of a submission (``nb``: the autograded notebook, if any)."""
    parts = [p for p in result.parts if p.notebook == notebook]
    by_id = {p.grade_id: p for p in parts}
    auto = sum(p.score or 0.0 for p in parts if p.kind == "test" and not p.awaiting)
    hand = sum(p.score or 0.0 for p in parts if p.kind != "test" and not p.awaiting)
    waiting = sum(p.points for p in parts if p.awaiting)
    total_max = sum(p.points for p in parts)
    if waiting:
        total = (f"Score so far: <b>{auto + hand:g}</b> of the {total_max - waiting:g} points graded "
                 f"(total {total_max:g}); <span class=\"wait\">{waiting:g} point{'s' if waiting != 1 else ''} "
                 f"awaiting grading by a person</span>.")
    else:
        total = f"Score: <b>{auto + hand:g} / {total_max:g}</b>."
    who = escape(result.name) + (f" ({escape(result.student_id)})" if result.name != result.student_id else "")
    body = [f"<h1>{escape(result.assignment)}: feedback</h1>",
            f'<p class="sub">{who} &middot; notebook {escape(notebook)}.ipynb</p>',
            f"<p>{total}</p>",
            "<h2>Parts</h2>",
            '<table class="parts"><tr><th>part</th><th>graded</th><th class="num">points</th><th>result</th></tr>',
            *(_part_row(p) for p in parts), "</table>"]
    if result.problems:
        body += ['<div class="notes"><h2>Notes from the autograder</h2><ul>',
                 *(f"<li>{escape(p)}</li>" for p in result.problems), "</ul></div>"]
    body.append("<h2>Your notebook, as it was graded</h2>")
    if nb is None:
        body.append("<p>No notebook was graded.</p>")
    else:
        for cell in nb.cells:
            if _is_judge_notes(cell) or is_rubric_cell(cell):
                continue
            meta = cell.metadata.get("nbgrader", {})
            part = by_id.get(meta.get("grade_id", ""))
            answer = bool(meta.get("solution"))
            classes = "cell " + cell.cell_type + (" answer" if answer else "")
            if cell.cell_type == "markdown":
                body.append(f'<div class="{classes}">{markdown(cell.source)}</div>')
            elif cell.cell_type == "code":
                test = part is not None and part.kind == "test"
                source = strip_hidden_tests(cell.source) if test else cell.source
                count = cell.get("execution_count")
                prompt = f'<div class="prompt">In [{count if isinstance(count, int) else " "}]:</div>'
                body.append(f'<div class="{classes}">{prompt}{code(source)}{_outputs(cell, test=test)}</div>')
            if part is not None:
                body.append(_verdict(part))
    return page(f"{result.assignment} feedback: {result.name}", "\n".join(body), math=True)


def write_feedback(course: Course, result: SubmissionResult) -> list[Path]:
    """Write the feedback pages of one graded submission; returns their paths."""
    import nbformat

    folder = course.feedback_dir / result.student_id / result.assignment
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in sorted({p.notebook for p in result.parts}):
        source = course.autograded_dir / result.student_id / result.assignment / f"{notebook}.ipynb"
        nb = nbformat.read(source, as_version=4) if source.is_file() else None
        target = folder / f"{notebook}.html"
        partial = target.with_name(f".{target.name}.partial")
        partial.write_text(render_feedback(result, notebook, nb), encoding="utf-8")
        partial.replace(target)
        written.append(target)
    return written
