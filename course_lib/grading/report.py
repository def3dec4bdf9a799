"""``course report``: the class at a glance, one offline page for the instructor.

``report/index.html`` (and its PNGs next to it) shows, per assignment:

* the distribution of the scores, of the whole assignment and of every part;
* the known mistakes the checks diagnosed, per part, most common first, with counts
  (the name and message come from the check's :class:`~course_lib.grading.Mistake`),
  and how many lost points without a diagnosis;
* the submissions that need a look: timed out, crashed, flagged by the judge, or with
  answers awaiting hand-grading, each linked to its feedback page;
* pairs of submissions whose answer code is nearly identical, found by ``copydetect``
  (token-normalised winnowed fingerprints: names, strings and comments do not matter);
  the release's stubs and the model solution count as boilerplate, so only code the
  two students share beyond them makes them look alike.

The page loads nothing from elsewhere: PNG files beside it, style inline.
"""

from __future__ import annotations

import datetime as dt
import io
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from course_lib.grading.pages import escape, page
from course_lib.grading.results import SubmissionResult, load_results

if TYPE_CHECKING:
    from course_lib.grading.course import Course

__all__ = ["SimilarPair", "similar_pairs", "answer_code", "write_report"]

NOISE_TOKENS = 12
"""copydetect's k: fingerprints are k-grams of the normalised code (one character per token or symbol)."""
GUARANTEE_TOKENS = 16
"""A match at least this long is always found (winnowing window = GUARANTEE_TOKENS - NOISE_TOKENS + 1)."""


@dataclass(frozen=True)
class SimilarPair:
    """Two submissions of one assignment whose answer code overlaps."""

    assignment: str
    first: str
    second: str
    similarity_first: float
    """Share of the first one's (non-boilerplate) code found in the second."""
    similarity_second: float
    overlap: int
    """Normalised code the two share beyond the boilerplate (in copydetect's tokens)."""


def answer_code(nb: Any) -> list[str]:
    """The code a student wrote in a notebook: its answer cells and the cells they added."""
    chunks = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or not meta.get("grade_id")):
            chunks.append(cell.source)
    return chunks


CELL_SEPARATOR = "\npass; pass; pass; pass\n"
"""Between cells: longer than a fingerprint once normalised, so no fingerprint spans two cells, and a cell
equal to the model's (or the stub) is boilerplate wherever it stands."""


def _document(cells: Sequence[str]) -> str:
    return CELL_SEPARATOR + CELL_SEPARATOR.join(cells) + CELL_SEPARATOR


def _fingerprint(code: str, name: str, boilerplate: Sequence[int] = ()) -> Any:
    from copydetect import CodeFingerprint

    win = GUARANTEE_TOKENS - NOISE_TOKENS + 1
    return CodeFingerprint(f"{name}.py", NOISE_TOKENS, win, boilerplate=list(boilerplate), fp=io.StringIO(code),
                           language="python")


def similar_pairs(codes: dict[str, list[str]], boilerplate: Sequence[str], *, assignment: str,
                  threshold: float = 0.8, min_overlap: int = 60) -> list[SimilarPair]:
    """Pairs whose answer code is nearly identical, most similar first.

    Args:
        codes: by student id, the code cells they wrote.
        boilerplate: code cells every submission may share (the release's stubs, the model solution).
        threshold: both shares of overlapping code at least this (0 to 1).
        min_overlap: at least this much shared code beyond the boilerplate (copydetect tokens),
            so that two short, obvious answers do not count.
    """
    from copydetect import compare_files

    shared: set[int] = set()
    for i, cell in enumerate(boilerplate):
        shared |= set(_fingerprint(_document([cell]), f"boilerplate{i}").hashes)
    prints = {sid: _fingerprint(_document(cells), sid, sorted(shared)) for sid, cells in codes.items()
              if any(c.strip() for c in cells)}
    ids = sorted(prints)
    pairs = []
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            overlap, (sim_a, sim_b), _ = compare_files(prints[a], prints[b])
            if overlap >= min_overlap and min(sim_a, sim_b) >= threshold:
                pairs.append(SimilarPair(assignment, a, b, float(sim_a), float(sim_b), int(overlap)))
    return sorted(pairs, key=lambda p: (-min(p.similarity_first, p.similarity_second), -p.overlap, p.first, p.second))


# ---- the page -------------------------------------------------------------------------------


def _figure(draw: Any, path: Path, size: tuple[float, float]) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from course_lib.plots import style

    with style():
        fig = Figure(figsize=size, dpi=110, layout="constrained")
        FigureCanvasAgg(fig)
        draw(fig)
        fig.savefig(path)


def _score_histogram(results: list[SubmissionResult], path: Path) -> None:
    scores = [r.score for r in results]
    top = max((r.max_score for r in results), default=1.0) or 1.0
    pending = sum(r.awaiting for r in results)

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        bins = [x - 0.5 for x in range(int(top) + 2)] if top <= 40 else 20
        ax.hist(scores, bins=bins, color="#3b6ea5", edgecolor="white")
        ax.set_xlabel(f"score (of {top:g})" + (f"; {pending} with answers awaiting hand-grading" if pending else ""))
        ax.set_ylabel("submissions")
        ax.set_xlim(-0.5, top + 0.5)
        ax.yaxis.get_major_locator().set_params(integer=True)

    _figure(draw, path, (6.0, 3.0))


def _part_bars(results: list[SubmissionResult], labels: list[str], path: Path) -> None:
    full, partial, zero, waiting = ([0] * len(labels) for _ in range(4))
    for r in results:
        for p in r.parts:
            if p.label not in labels:
                continue
            i = labels.index(p.label)
            if p.awaiting:
                waiting[i] += 1
            elif (p.score or 0.0) >= p.points:
                full[i] += 1
            elif (p.score or 0.0) > 0:
                partial[i] += 1
            else:
                zero[i] += 1

    def draw(fig: Any) -> None:
        ax = fig.subplots()
        y = list(range(len(labels)))
        left = [0] * len(labels)
        for counts, colour, name in ((full, "#2e7d32", "full points"), (partial, "#f9a825", "some points"),
                                     (zero, "#c62828", "no points"), (waiting, "#9e9e9e", "awaiting a person")):
            ax.barh(y, counts, left=left, color=colour, label=name)
            left = [a + b for a, b in zip(left, counts)]
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlabel("submissions")
        fig.legend(loc="outside upper center", ncols=4, fontsize=8, frameon=False)
        ax.xaxis.get_major_locator().set_params(integer=True)

    _figure(draw, path, (6.5, 0.9 + 0.42 * max(len(labels), 2)))


def _feedback_link(course: Course, out: Path, r: SubmissionResult) -> str:
    import os

    target = course.feedback_dir / r.student_id / r.assignment
    pages = sorted(target.glob("*.html")) if target.is_dir() else []
    if not pages:
        return escape(r.student_id)
    return f'<a href="{escape(os.path.relpath(pages[0], out))}">{escape(r.student_id)}</a>'


def _assignment_section(course: Course, assignment: str, results: list[SubmissionResult], out: Path,
                        pairs: list[SimilarPair]) -> str:
    html = [f'<h2 id="{escape(assignment)}">{escape(assignment)}</h2>']
    scores = [r.score for r in results]
    top = max(r.max_score for r in results)
    html.append(f"<p>{len(results)} graded submission(s); score of {top:g}: mean {statistics.fmean(scores):.1f}, "
                f"median {statistics.median(scores):g}, lowest {min(scores):g}, highest {max(scores):g}.</p>")
    histogram = f"{assignment}_scores.png"
    _score_histogram(results, out / histogram)
    html.append(f'<figure><img src="{escape(histogram)}" alt="score distribution of {escape(assignment)}">'
                f"<figcaption>Scores of {escape(assignment)} (written answers count once a person grades them).</figcaption></figure>")

    labels = []
    for r in results:
        for p in r.parts:
            if p.label not in labels:
                labels.append(p.label)
    bars = f"{assignment}_parts.png"
    _part_bars(results, labels, out / bars)
    html.append(f'<figure><img src="{escape(bars)}" alt="points per part of {escape(assignment)}">'
                "<figcaption>Per part: how many submissions earned full, some or no points.</figcaption></figure>")
    html.append('<table><tr><th>part</th><th class="num">points</th><th class="num">mean</th>'
                '<th class="num">full</th><th class="num">none</th><th class="num">awaiting</th></tr>')
    for label in labels:
        parts = [p for r in results for p in r.parts if p.label == label]
        graded = [p.score or 0.0 for p in parts if not p.awaiting]
        mean = f"{statistics.fmean(graded):.2f}" if graded else "–"
        html.append(f'<tr><td>{escape(label)}</td><td class="num">{parts[0].points:g}</td><td class="num">{mean}</td>'
                    f'<td class="num">{sum(g >= parts[0].points for g in graded)}</td>'
                    f'<td class="num">{sum(g == 0 for g in graded)}</td>'
                    f'<td class="num">{sum(p.awaiting for p in parts)}</td></tr>')
    html.append("</table>")

    html.append("<h3>Diagnosed mistakes</h3>")
    rows = []
    for label in labels:
        lost = [p for r in results for p in r.parts if p.label == label and p.lost]
        counts = Counter(p.mistake for p in lost if p.mistake is not None)
        undiagnosed = sum(p.mistake is None for p in lost)
        for (name, message), count in counts.most_common():
            rows.append(f'<tr><td>{escape(label)}</td><td><code>{escape(name)}</code></td><td>{escape(message)}</td>'
                        f'<td class="num">{count}</td></tr>')
        if undiagnosed:
            rows.append(f'<tr><td>{escape(label)}</td><td><i>other</i></td><td>lost points without a known mistake '
                        f'(errors, timeouts, other wrong answers)</td><td class="num">{undiagnosed}</td></tr>')
    if rows:
        html += ['<table><tr><th>part</th><th>mistake</th><th>what the student most likely did</th>'
                 '<th class="num">submissions</th></tr>', *rows, "</table>"]
    else:
        html.append("<p>No part lost points.</p>")

    html.append("<h3>Submissions to look at</h3>")
    attention = []
    for r in results:
        why = [w for w, flag in (("timed out", r.timed_out), ("crashed", r.crashed), ("flagged by the judge", r.flagged)) if flag]
        if why:
            attention.append(f'<tr><td>{_feedback_link(course, out, r)}</td><td>{escape(r.name)}</td>'
                             f'<td>{escape("; ".join(why))}</td><td>{escape("; ".join(r.reasons()))}</td></tr>')
    counts = (f"{sum(r.timed_out for r in results)} timed out, {sum(r.crashed for r in results)} crashed, "
              f"{sum(r.flagged for r in results)} flagged by the judge.")
    html.append(f"<p>{counts}</p>")
    if attention:
        html += ['<table><tr><th>student</th><th>name</th><th>why</th><th>what the autograder noticed</th></tr>',
                 *attention, "</table>"]
    waiting = [r for r in results if r.awaiting]
    html.append(f"<p>Awaiting hand-grading ({len(waiting)}; grade them in the Formgrader)"
                + (": " + ", ".join(_feedback_link(course, out, r) for r in waiting) if waiting else "") + ".</p>")

    html.append("<h3>Nearly identical answer code</h3>")
    if pairs:
        html.append('<table><tr><th>student</th><th>student</th><th class="num">share of the first\'s code in the second</th>'
                    '<th class="num">share of the second\'s in the first</th><th class="num">shared tokens</th></tr>')
        for p in pairs:
            html.append(f"<tr><td>{escape(p.first)}</td><td>{escape(p.second)}</td>"
                        f'<td class="num">{p.similarity_first:.0%}</td><td class="num">{p.similarity_second:.0%}</td>'
                        f'<td class="num">{p.overlap}</td></tr>')
        html.append("</table>")
    else:
        html.append("<p>No pair of submissions shares most of its answer code (beyond the stubs and the model solution).</p>")
    return "\n".join(html)


def _boilerplate(course: Course, assignment: str) -> list[str]:
    import nbformat

    texts = []
    for name in course.notebooks(assignment):
        for folder in (course.release_dir, course.source_dir):
            path = folder / assignment / f"{name}.ipynb"
            if path.is_file():
                nb = nbformat.read(path, as_version=4)
                for cell in nb.cells:
                    if cell.metadata.get("nbgrader", {}).get("solution") and cell.cell_type == "code":
                        texts.append("\n".join(ln for ln in cell.source.splitlines()
                                               if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")))
    return texts


def write_report(course: Course, assignments: Sequence[str], out: Path, *, threshold: float = 0.8,
                 min_overlap: int = 60) -> tuple[Path, list[SubmissionResult], dict[str, list[SimilarPair]]]:
    """Write ``out/index.html`` and its PNGs; returns the page, the results and the similar pairs by assignment."""
    import nbformat

    from course_lib.grading.errors import CourseError

    results = load_results(course, assignments)
    if not results:
        raise CourseError("no graded submissions yet: run `course autograde` first")
    out.mkdir(parents=True, exist_ok=True)
    by_assignment: dict[str, list[SubmissionResult]] = {}
    for r in results:
        by_assignment.setdefault(r.assignment, []).append(r)
    pairs: dict[str, list[SimilarPair]] = {}
    sections = []
    for assignment, group in sorted(by_assignment.items()):
        codes = {}
        for r in group:
            cells: list[str] = []
            for name in course.notebooks(assignment):
                path = course.autograded_dir / r.student_id / assignment / f"{name}.ipynb"
                if path.is_file():
                    cells += answer_code(nbformat.read(path, as_version=4))
            codes[r.student_id] = cells
        pairs[assignment] = similar_pairs(codes, _boilerplate(course, assignment), assignment=assignment,
                                          threshold=threshold, min_overlap=min_overlap)
        sections.append(_assignment_section(course, assignment, group, out, pairs[assignment]))
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    contents = " &middot; ".join(f'<a href="#{escape(a)}">{escape(a)}</a>' for a in sorted(by_assignment))
    body = (f"<h1>Class report</h1><p class=\"sub\">{len(results)} graded submission(s) of {len(by_assignment)} "
            f"assignment(s), {stamp}. {contents}</p>\n" + "\n".join(sections))
    index = out / "index.html"
    index.write_text(page("Class report", body), encoding="utf-8")
    return index, results, pairs
