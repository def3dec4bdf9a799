"""What to run for one submitted notebook, built from the SOURCE notebook, never from the submission.

The source notebook (``solutions/``) gives the order of the cells, every test cell with
its hidden tests, and the points; the release (``exercises/``) gives the blank stubs and
nbgrader's checksums. From the submission the judge takes only what the student was
asked to write: the solution cells, found by ``grade_id``, and any cells the student
added (they run where the student put them, as they would under stock nbgrader). Test
and other locked cells always come from the source, whatever the submission did to
them; what it did is noted, and the note reaches the summary and the feedback.

A written answer's model answer in the source may end with a rubric for the graders
(``**Rubric (3 points; ...)**`` and its point splits). nbgrader never releases a
solution cell's text; the plan keeps the rubric so that the graded notebook, which the
formgrader shows, carries it right below the student's answer (:data:`RUBRIC_KEY`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from course_lib.grading.autograde.plaintext import inert_markdown, plain_data, plain_text

__all__ = ["CheckCall", "PlannedCell", "Plan", "SourceNotebook", "PlanError", "RUBRIC_KEY", "rubric_of", "is_rubric_cell"]

RUBRIC_KEY = "rubric_for"
"""Key, under a cell's ``metadata["course"]``, of a rubric cell: the grade_id of its answer."""

_RUBRIC_START = re.compile(r"^\*\*Rubric\b", flags=re.M)


def rubric_of(source: str) -> str | None:
    """The rubric at the end of a model answer (from its ``**Rubric`` line on), or None."""
    match = _RUBRIC_START.search(source)
    return source[match.start():].strip() if match else None


def is_rubric_cell(cell) -> bool:
    """Whether a cell of a graded notebook is a rubric the judge added for the graders."""
    return RUBRIC_KEY in cell.get("metadata", {}).get("course", {})


class PlanError(Exception):
    """The source notebook cannot be graded by the judge (e.g. a test cell calls no check)."""


@dataclass(frozen=True)
class CheckCall:
    """One ``check("name", obj, hidden=...)`` call of a source test cell."""

    check: str
    hidden: bool

    def label(self) -> str:
        return f"{self.check} ({'hidden' if self.hidden else 'visible'})"


@dataclass
class PlannedCell:
    """One cell of the notebook the judge runs.

    Attributes:
        cell: the notebook cell (source metadata, the code that runs).
        role: ``"test"`` (autograded by the judge), ``"solution"``, ``"locked"``, ``"student"``
            (added by the student) or ``"markdown"``.
        calls: for a test cell, the checks it must report, in order.
    """

    cell: Any
    role: str
    calls: list[CheckCall] = field(default_factory=list)

    @property
    def grade_id(self) -> str | None:
        return self.cell.metadata.get("nbgrader", {}).get("grade_id")

    @property
    def points(self) -> float:
        return float(self.cell.metadata.get("nbgrader", {}).get("points", 0) or 0)

    @property
    def runs(self) -> bool:
        return self.cell.cell_type == "code"


@dataclass
class Plan:
    """The notebook to run for one submission, and what was noticed while building it."""

    notebook: str
    cells: list[PlannedCell]
    notes: list[str] = field(default_factory=list)
    problem: str | None = None
    """Set when the submission could not be read at all: nothing runs, every test scores 0."""
    metadata: dict[str, Any] = field(default_factory=dict)
    rubrics: dict[str, str] = field(default_factory=dict)
    """grade_id of a written answer -> the graders' rubric from the source."""


def check_calls(code: str, where: str) -> list[CheckCall]:
    """The ``check(...)`` calls of a test cell, in source order.

    Raises:
        PlanError: the cell is not Python, calls no check, or names one not as a string literal.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        raise PlanError(f"{where}: test cell is not valid Python ({err.msg})") from None
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        if name != "check":
            continue
        if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
            raise PlanError(f"{where}: check(...) must name its check as a string literal")
        hidden = False
        for keyword in node.keywords:
            if keyword.arg == "hidden":
                if not isinstance(keyword.value, ast.Constant) or not isinstance(keyword.value.value, bool):
                    raise PlanError(f"{where}: check(..., hidden=...) must be True or False literally")
                hidden = keyword.value.value
        calls.append((node.lineno, node.col_offset, CheckCall(node.args[0].value, hidden)))
    if not calls:
        raise PlanError(f"{where}: test cell calls no check(...); the judge awards points only for checks")
    return [c for _, _, c in sorted(calls, key=lambda t: (t[0], t[1]))]


def _meta(cell: Any) -> dict[str, Any]:
    """A cell's nbgrader metadata ({} when absent or not a dict: submissions are untrusted)."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def _fresh_cell(template: Any, source: str) -> Any:
    cell = nbformat.from_dict(json.loads(json.dumps(template)))
    cell.source = source
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


MAX_CELLS = 2000
"""Most cells a submitted notebook may have."""
MAX_CONTAINERS = 100_000
"""Most JSON objects and lists a submitted notebook may hold, counted before it is parsed (bounds the memory
parsing takes: a notebook of 300,000 empty cells is refused at the cost of counting its brackets)."""
MAX_SOURCE_CHARS = 1 << 20
MAX_CODE_CHARS = 2 << 20
"""Largest cell, and all cells together (characters of text): what runs and what is kept."""


def read_cells(data: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """The cells of a submitted notebook as plain dicts (type, source, metadata; outputs are not kept),
    or the reason it cannot be read. Every limit is checked before the work it bounds."""
    containers = data.count(b"{") + data.count(b"[")
    if containers > MAX_CONTAINERS:
        return [], f"is not graded: it holds {containers} JSON objects and lists, more than the limit of {MAX_CONTAINERS}"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], "is not a valid notebook (not UTF-8 text)"
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as err:
        return [], f"is not a valid notebook (not JSON: {err.msg} at line {err.lineno})"
    except (RecursionError, ValueError) as err:
        return [], f"is not a valid notebook ({type(err).__name__})"
    if not isinstance(nb, dict):
        return [], "is not a valid notebook (not a JSON object)"
    if nb.get("nbformat") != 4:
        return [], "is not a valid notebook (not in nbformat version 4)"
    if not isinstance(nb.get("cells"), list):
        return [], "is not a valid notebook (it has no list of cells)"
    raw = nb["cells"]
    del nb
    if len(raw) > MAX_CELLS:
        return [], f"is not graded: it has {len(raw)} cells, more than the limit of {MAX_CELLS}"
    cells, total = [], 0
    for cell in raw:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if not isinstance(source, str):
            source = ""
        if len(source) > MAX_SOURCE_CHARS:
            return [], f"is not graded: a cell holds {len(source)} characters, more than the limit of {MAX_SOURCE_CHARS}"
        total += len(source)
        if total > MAX_CODE_CHARS:
            return [], f"is not graded: its cells hold more than {MAX_CODE_CHARS} characters"
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbgrader = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
        kept = {k: v for k, v in nbgrader.items() if k in _NBGRADER_KEYS and isinstance(v, (str, bool, int, float))}
        cells.append({"cell_type": cell.get("cell_type") if isinstance(cell.get("cell_type"), str) else "",
                      "source": plain_text(source), "metadata": {"nbgrader": plain_data(kept)}})
    return cells, None


_NBGRADER_KEYS = ("grade_id", "grade", "solution", "locked", "task", "points", "checksum", "schema_version")


class SourceNotebook:
    """One notebook of an assignment, as the instructor wrote (source) and released it.

    Args:
        name: the notebook's name without ``.ipynb``.
        source_path: ``solutions/<assignment>/<name>.ipynb`` (tests with hidden tests).
        release_path: ``exercises/<assignment>/<name>.ipynb`` (stubs and checksums).
        source_bytes, release_bytes: the two notebooks' contents, when they come from
            elsewhere than these paths (a grading machine that has no course folder).
    """

    def __init__(self, name: str, source_path: Path, release_path: Path, *, source_bytes: bytes | None = None,
                 release_bytes: bytes | None = None) -> None:
        self.name = name
        self.source_bytes = Path(source_path).read_bytes() if source_bytes is None else source_bytes
        self.release_bytes = Path(release_path).read_bytes() if release_bytes is None else release_bytes
        source = nbformat.reads(self.source_bytes.decode(), as_version=4)
        release = nbformat.reads(self.release_bytes.decode(), as_version=4)
        if len(source.cells) != len(release.cells):
            raise PlanError(f"{release_path} is out of date with {source_path}: run `course release`")
        self.cells: list[PlannedCell] = []
        self.released: dict[str, str] = {}
        self.rubrics: dict[str, str] = {}
        for src, rel in zip(source.cells, release.cells):
            meta = _meta(rel)
            if _meta(src).get("grade_id") != meta.get("grade_id"):
                raise PlanError(f"{release_path} is out of date with {source_path}: run `course release`")
            where = f"{source_path.name} cell {meta.get('grade_id')!r}"
            if meta.get("grade_id"):
                self.released[meta["grade_id"]] = rel.source
            if meta.get("grade") and not meta.get("solution") and rel.cell_type == "code":
                self.cells.append(PlannedCell(_fresh_cell(rel, src.source), "test", check_calls(src.source, where)))
            elif meta.get("solution"):
                self.cells.append(PlannedCell(_fresh_cell(rel, rel.source), "solution"))
                rubric = rubric_of(src.source) if src.cell_type == "markdown" else None
                if rubric and meta.get("grade_id"):
                    self.rubrics[meta["grade_id"]] = rubric
            elif rel.cell_type == "code":
                self.cells.append(PlannedCell(_fresh_cell(rel, src.source), "locked"))
            else:
                self.cells.append(PlannedCell(_fresh_cell(rel, rel.source), "markdown"))
        self.metadata = release.metadata
        self.nbformat_minor = release.nbformat_minor
        self.ids = {c.grade_id for c in self.cells if c.grade_id}

    @property
    def checks(self) -> list[str]:
        return sorted({call.check for c in self.cells for call in c.calls})

    def digest(self) -> str:
        return hashlib.sha256(self.source_bytes + b"\0" + self.release_bytes).hexdigest()

    def blank(self, problem: str) -> Plan:
        """The plan for a submission that could not be read: the release, nothing to run."""
        cells = [PlannedCell(_fresh_cell(c.cell, c.cell.source), c.role, c.calls) for c in self.cells]
        return Plan(self.name, cells, problem=problem, metadata=self.metadata, rubrics=self.rubrics)

    def plan(self, submitted: bytes | None) -> Plan:
        """Merge a submitted notebook into the source's structure (see the module docstring)."""
        if submitted is None:
            return self.blank(f"{self.name}.ipynb is missing from the submission")
        cells, problem = read_cells(submitted)
        if problem is not None:
            return self.blank(f"{self.name}.ipynb {problem}")
        notes: list[str] = []
        by_id: dict[str, Any] = {}
        extras: dict[str | None, list[Any]] = defaultdict(list)
        anchor: str | None = None
        for cell in cells:
            gid = _meta(cell).get("grade_id")
            if isinstance(gid, str) and gid in self.ids and gid not in by_id:
                by_id[gid] = cell
                anchor = gid
            else:
                if isinstance(gid, str) and gid in self.ids:
                    notes.append(f"cell {gid!r} appears twice; the copy ran as your own cell")
                extras[anchor].append(cell)
        planned: list[PlannedCell] = []

        def add_extras(key: str | None) -> None:
            for cell in extras.get(key, []):
                kind = cell.get("cell_type")
                if kind == "code":
                    planned.append(PlannedCell(nbformat.v4.new_code_cell(str(cell.get("source", ""))), "student"))
                elif kind in ("markdown", "raw"):
                    # a student's text goes into a notebook that others open as HTML: no markup runs
                    planned.append(PlannedCell(nbformat.v4.new_markdown_cell(inert_markdown(cell.get("source", ""))), "markdown"))

        add_extras(None)
        for ref in self.cells:
            gid = ref.grade_id
            mine = by_id.get(gid) if gid else None
            if ref.role == "solution":
                if mine is None:
                    notes.append(f"answer cell {gid!r} is missing; its blank stub ran")
                    planned.append(PlannedCell(_fresh_cell(ref.cell, ref.cell.source), "solution"))
                else:
                    text = str(mine.get("source", ""))
                    if ref.cell.cell_type != "code":
                        text = inert_markdown(text)
                    planned.append(PlannedCell(_fresh_cell(ref.cell, text), "solution"))
            else:
                if gid and ref.role in ("test", "locked"):
                    if mine is None:
                        notes.append(f"{'test' if ref.role == 'test' else 'locked'} cell {gid!r} is missing (deleted, or its "
                                     "nbgrader metadata removed); the source's cell ran")
                    else:
                        if str(mine.get("source", "")) != self.released.get(gid, ""):
                            notes.append(f"{'test' if ref.role == 'test' else 'locked'} cell {gid!r} was edited; the source's cell ran")
                        theirs = _meta(mine)
                        if ref.role == "test" and (not theirs.get("grade") or float(theirs.get("points", -1) or -1) != ref.points):
                            notes.append(f"test cell {gid!r} had its grading metadata changed; the source's points count")
                planned.append(PlannedCell(_fresh_cell(ref.cell, ref.cell.source), ref.role, ref.calls))
            if gid:
                add_extras(gid)
        return Plan(self.name, planned, notes=notes, metadata=self.metadata, rubrics=self.rubrics)

