"""The judge's own attack surface: submissions that aim at the judge, not at the student's process.

Each one answers every part of its assignment correctly (or all but one part, on purpose) and
adds one trick from the findings: text that cannot be encoded, names that are not UTF-8, floods
of error outputs sent straight down the socket, answers built to be expensive to decode, a
notebook of 300,000 cells, links out of the submission, markup meant to run in someone's
browser, a number too large to compare. A judge that holds grades each of them for what its
answers are worth, with the reason, and everyone after them as if they were not there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat

from submissions import fill_release, solution_sources

XSS = 'xss-7c1f'
"""Marks the markup a student tried to smuggle into the feedback pages."""
PAYLOADS = (f'<script>alert("{XSS}")</script>', f'<img src=x onerror=alert("{XSS}")>', f'[click](javascript:alert("{XSS}"))')

_REPORTER = "import course_lib.grading.student as _student\n_executor = _student._reporter.__self__\n"
"""In the sandbox, check() hands its answers to a reporter bound to the process's executor, which holds the socket."""

FLOOD = _REPORTER + (
    "for _ in range(150):\n"
    "    _executor.wire.send(_executor.sock, {'op': 'output', 'index': _executor.index, 'output': {\n"
    "        'output_type': 'error', 'ename': 'Flood', 'evalue': 'x' * 5000, 'traceback': ['y' * 5000] * 200}})\n"
)
"""150 error outputs of a megabyte each, written to the judge's socket directly (the process's own limit is bypassed)."""

ANSWER_BOMB = _REPORTER + (
    "import struct as _struct\n"
    "_send = _student._reporter\n"
    "def _bomb(name, hidden, answers):\n"
    "    if name != 'risk.empirical_risk':\n"
    "        return _send(name, hidden, answers)\n"
    "    tree = ('[' + '[\"list\",[' + ','.join(['null'] * 300_000) + ']]' + ']').encode()\n"
    "    _executor.wire.send(_executor.sock, {'op': 'answers', 'index': _executor.index, 'check': name,\n"
    "                                         'hidden': hidden}, _struct.pack('!Q', len(tree)) + tree)\n"
    "_student._reporter = _bomb\n"
)
"""Part 1's answers replaced by a payload of 300,000 values (decoding must stay bounded, the part earns nothing)."""


def release(root: Path, assignment: str) -> Path:
    return next((root / "exercises" / assignment).glob("*.ipynb"))


def model(root: Path, assignment: str) -> dict[str, str]:
    return solution_sources(next((root / "solutions" / assignment).glob("*.ipynb")))


def write_raw(root: Path, student: str, assignment: str, text: str | bytes, name: str | None = None) -> Path:
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or assignment}.ipynb"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def notebook_text(nb: nbformat.NotebookNode) -> str:
    """A notebook as JSON with every non-ASCII character escaped (a lone surrogate becomes \\ud800)."""
    return json.dumps(nb, ensure_ascii=True, indent=1)


def with_cell(nb: nbformat.NotebookNode, after: str, cell) -> nbformat.NotebookNode:
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == after)
    nb.cells.insert(at + 1, cell)
    return nb


def build_findings(root: Path) -> dict[str, str]:
    """Write the finding attacks of section 2 into a course; returns student id -> assignment."""
    a = "01_risk"
    answers = model(root, a)
    out = {}

    # a lone surrogate in printed output, an exception, a returned answer, a markdown cell and a source comment
    nb = fill_release(release(root, a), {**answers, "ridge_risk": "def ridge_risk(w, b, X, y, lam):\n    return '\\ud800'\n"})
    with_cell(nb, "empirical_risk", nbformat.v4.new_code_cell("# \ud800 in a comment\nprint('\\ud800 printed')"))
    with_cell(nb, "empirical_risk", nbformat.v4.new_code_cell("raise ValueError('\\ud800 raised')"))
    with_cell(nb, "empirical_risk", nbformat.v4.new_markdown_cell("a note with \ud800 in it"))
    write_raw(root, "j_surrogate", a, notebook_text(nb))
    out["j_surrogate"] = a

    # names that are not UTF-8: a student's folder, and a file in an honest submission
    bad = root / "submitted" / os.fsdecode(b"j_bad_\xff") / a
    bad.mkdir(parents=True)
    (bad / f"{a}.ipynb").write_text(nbformat.writes(fill_release(release(root, a), answers)))
    good = write_raw(root, "j_bad_file", a, nbformat.writes(fill_release(release(root, a), answers)))
    (good.parent / os.fsdecode(b"data_\xfe.csv")).write_bytes(b"1,2\n")
    out["j_bad_file"] = a

    # a flood of error outputs sent to the judge's socket, from a cell of the student's own after the last test
    nb = fill_release(release(root, a), answers)
    nb.cells.append(nbformat.v4.new_code_cell(FLOOD))
    write_raw(root, "j_flood", a, nbformat.writes(nb))
    out["j_flood"] = a

    # part 1's answers replaced by a payload of 300,000 values
    write_raw(root, "j_answer_bomb", a, nbformat.writes(fill_release(release(root, a), {
        **answers, "empirical_risk": answers["empirical_risk"] + "\n" + ANSWER_BOMB})))
    out["j_answer_bomb"] = a

    # 300,000 markdown cells
    cells = ",".join(['{"cell_type":"markdown","metadata":{},"source":""}'] * 300_000)
    write_raw(root, "j_many_cells", a, '{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[' + cells + ']}')
    out["j_many_cells"] = a

    # links out of the submission: the notebook into solutions/, and a student folder onto another's
    folder = root / "submitted" / "j_symlink" / a
    folder.mkdir(parents=True)
    (folder / f"{a}.ipynb").symlink_to(root / "solutions" / a / f"{a}.ipynb")
    out["j_symlink"] = a
    (root / "submitted" / "j_symlink_folder").symlink_to(root / "submitted" / "z_honest", target_is_directory=True)
    out["j_symlink_folder"] = a

    # markup for the feedback page: in a markdown cell, the written answer, printed text, an error and an answer
    markup = " ".join(PAYLOADS)
    nb = fill_release(release(root, a), {**answers, "l2_feature_scales": markup,
                                         "ridge_risk": f"def ridge_risk(w, b, X, y, lam):\n    return {markup!r}\n"})
    with_cell(nb, "empirical_risk", nbformat.v4.new_markdown_cell(markup))
    with_cell(nb, "empirical_risk", nbformat.v4.new_code_cell(f"print({markup!r})"))
    with_cell(nb, "empirical_risk", nbformat.v4.new_code_cell(f"raise ValueError({markup!r})"))
    write_raw(root, "j_xss", a, nbformat.writes(nb))
    out["j_xss"] = a

    # a number too large to compare with the float the reference returns
    b = "02_sgd"
    write_raw(root, "j_huge_int", b, nbformat.writes(fill_release(release(root, b), {
        **model(root, b), "loglog_fit": "def loglog_fit(x, y):\n    return 10**400, 0.0\n"})))
    out["j_huge_int"] = b
    return out


IPC_PLANT = r"""
import ctypes, os
_libc = ctypes.CDLL(None, use_errno=True)
# a System V queue, a POSIX message queue and keys in every keyring a later student could read
_libc.msgget(0x7c1f, 0o1666)
_libc.mq_open.restype = ctypes.c_int
PLANTED = {"mq": _libc.mq_open(b"/course-leak-7c1f", os.O_CREAT | os.O_RDWR, 0o666, None), "keys": []}
for _ring in (-3, -4, -5):  # session, user, user session
    PLANTED["keys"].append(_libc.syscall(248, b"user", b"course-leak-7c1f", b"secret", 6, _ring))
print("PLANTED", PLANTED)
"""
"""A student who leaves IPC objects and kernel keys behind (syscall 248 is add_key on x86_64)."""

IPC_PROBE = r"""
import ctypes, json, os
_libc = ctypes.CDLL(None, use_errno=True)
_found = {"sysv": _libc.msgget(0x7c1f, 0) >= 0,
          "mq": _libc.mq_open(b"/course-leak-7c1f", os.O_RDONLY, 0, None) >= 0,
          "keys": [_libc.syscall(250, 10, ring, b"user", b"course-leak-7c1f", 0) for ring in (-3, -4, -5)]}
print("FOUND", json.dumps(_found))
"""
"""The next student looks for them (keyctl 10 is KEYCTL_SEARCH: a key id when found, -1 when not)."""
