"""No points for delegating to the reference: what each part forbids, and what the judge reads in the code.

Fast: these tests read code (the judge's static view) and walk live objects (the visible
test); the sandboxed runs of the same attacks are in test_autograde_judge.py.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from attacks.routes import NOTEBOOKS, OPAQUE, READABLE, ROUTES, attack_answers, delegate_of
from course_helpers import assignments, graded_parts, source_notebook
from course_lib.grading import CheckFailure, check, get_check, registered_checks
from course_lib.grading.delegation import forbidden_for, implementations_called_by, judge_answer, public_name
from course_lib.grading.sources import answer_chains, read_program
from submissions import solution_sources

REGISTRY = registered_checks()


def _program(assignment: str, answers: dict[str, str] | None = None, helpers: dict[str, str] | None = None):
    """The code cells of an assignment as the judge runs them: source cells trusted, answers not."""
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    answers = answers if answers is not None else solution_sources(source_notebook(assignment))
    cells, tests = [], {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        gid = meta.get("grade_id")
        if helpers and gid in helpers:
            cells.append((helpers[gid], False))
        if meta.get("solution"):
            cells.append((answers[gid], False))
        else:
            if meta.get("grade"):
                tests[gid] = len(cells)
            cells.append((cell.source, True))
    return read_program(cells), cells, tests


def _verdicts(assignment: str, answers=None, helpers=None) -> dict[str, object]:
    program, cells, tests = _program(assignment, answers, helpers)
    out = {}
    for part in graded_parts(assignment):
        index = tests[part.test_id]
        chains = answer_chains(cells[index][0])[part.check_name]
        out[part.object_name] = judge_answer(program, index, chains, forbidden_for(get_check(part.check_name)))
    return out


# ---- what a part forbids ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_what_the_reference_calls_is_forbidden_and_an_answer_calling_it_is_caught(name):
    """For every registered check (a new one included, with no extra work): the library implementations its
    reference is or calls are forbidden, and an answer that calls one earns nothing, by the judge's reading
    and in the visible test."""
    c = REGISTRY[name]
    forbidden = forbidden_for(c)
    assert any(n.startswith("course_lib.grading") for n in forbidden.names)
    allowed = [obj for _, obj in forbidden.allowed]
    implementations = [c.reference, *implementations_called_by(c.reference)]
    for implementation in [i for i in implementations if not any(i is a for a in allowed)]:
        assert forbidden.owner(implementation) is not None, f"{name}: {public_name(implementation)} is not forbidden"
        path = public_name(implementation)
        if "<" not in path:  # a lambda has no name to call it by
            module, attr = path.rsplit(".", 1)
            code = f"import {module}\n\ndef answer(*args, **kwargs):\n    return {path}(*args, **kwargs)\n"
            program = read_program([(code, False), (f'check("{name}", answer)', True)])
            verdict = judge_answer(program, 1, answer_chains(f'check("{name}", answer)')[name], forbidden)
            assert verdict.reached and path in verdict.reached[0], (name, path, verdict)
        with pytest.raises(CheckFailure, match="yourself; your answer uses"):
            check(name, lambda *args, _f=implementation, **kwargs: _f(*args, **kwargs))


def test_the_rule_is_written_next_to_every_part():
    for assignment in assignments():
        nb = nbformat.read(source_notebook(assignment), as_version=4)
        for part in graded_parts(assignment):
            at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == part.solution_id)
            text = next(nb.cells[i].source for i in range(at - 1, -1, -1) if nb.cells[i].cell_type == "markdown")
            assert "*Your own work:*" in text, f"{assignment}: the part of {part.object_name} does not state the rule"
            names = forbidden_for(get_check(part.check_name)).names
            leaves = {n.rsplit(".", 1)[-1] for n in names} | set(names)
            assert any(leaf in text for leaf in leaves), f"{assignment}/{part.object_name}: the rule names nothing it forbids"


def test_allowed_exceptions_stay_allowed():
    assert forbidden_for(get_check("init.kaiming_normal_")).owner(__import__("torch").nn.init.calculate_gain) is None
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LambdaLR, StepLR

    scheduler = forbidden_for(get_check("schedules.inverse_time_scheduler"))
    assert scheduler.owner(LambdaLR) is None and scheduler.owner(StepLR) is not None
    assert forbidden_for(get_check("adaptive.Adam")).owner(Optimizer) is None


# ---- the honest notebooks, and every route of every assignment ------------------------------------------


@pytest.mark.parametrize("assignment", assignments())
def test_the_solutions_are_their_own_work(assignment):
    assert {name: (v.reached, v.undecided) for name, v in _verdicts(assignment).items()} == \
        {name: ([], []) for name in _verdicts(assignment)}


ATTACKS = [(a, k) for a, plans in NOTEBOOKS.items() for k in range(len(plans))]


def test_every_route_attacks_every_assignment():
    for assignment in assignments():
        used = {route for plan in NOTEBOOKS[assignment] for route in plan.values()}
        assert used == set(ROUTES), f"{assignment} misses {set(ROUTES) - used}"


@pytest.mark.parametrize("assignment,k", ATTACKS, ids=[f"{a}-{k}" for a, k in ATTACKS])
def test_the_judge_reads_every_route(assignment, k):
    """Readable routes: the part earns nothing and the reason names the implementation. Routes built at run
    time: the part, and every part after the first of them, goes to a person. Parts before it keep their points."""
    plan = NOTEBOOKS[assignment][k]
    answers, helpers = attack_answers(assignment, plan, solution_sources(source_notebook(assignment)))
    verdicts = _verdicts(assignment, answers, helpers)
    order = [p.object_name for p in graded_parts(assignment)]
    first_opaque = min((order.index(n) for n, r in plan.items() if r in OPAQUE), default=len(order))
    for position, name in enumerate(order):
        verdict = verdicts[name]
        route = plan.get(name)
        if route in READABLE:
            assert verdict.reached and delegate_of(assignment, name).path in " ".join(verdict.reached), (name, route, verdict)
        elif route in OPAQUE:
            assert verdict.reached or verdict.undecided, (name, route)
            if not verdict.reached:
                words = {"getattr": "built at run time", "importlib": "importlib", "inspect": "inspect", "open": "open()"}
                assert words[route] in " ".join(verdict.undecided), (name, route, verdict)
        elif position > first_opaque:
            assert verdict.undecided and not verdict.reached, (name, verdict)
        else:
            assert verdict.clean, (name, verdict)


# ---- forms of code the judge reads ----------------------------------------------------------------------

IMPORTS = "import torch\nfrom torch import nn\nfrom torch.nn import functional as F\nfrom course_lib.grading import check\n"

FORMS = [
    # (what it shows, student cells, expected: "clean" | "reached" | "review")
    ("own class, torch's Adam imported under another name", ["from torch.optim import Adam as TorchAdam",
                                                              "class Adam(torch.optim.Optimizer):\n    pass"], "clean"),
    ("a comparison with torch in a cell of its own", ["class Adam(torch.optim.Optimizer):\n    pass",
                                                      "reference = torch.optim.Adam([torch.zeros(1, requires_grad=True)])"],
     "clean"),
    ("the method replaced after the class was defined", ["class Adam(torch.optim.Optimizer):\n    pass",
                                                         "Adam.step = torch.optim.Adam.step"], "reached"),
    ("the method replaced through an alias", ["class Adam(torch.optim.Optimizer):\n    pass",
                                              "alias = Adam\nalias.step = torch.optim.Adam.step"], "reached"),
    ("a module alias", ["optim = torch.optim\nclass Adam(optim.Adam):\n    pass"], "reached"),
    ("a local import", ["class Adam(torch.optim.Optimizer):\n    def step(self, closure=None):\n"
                        "        import torch.optim.adam as impl\n        return impl.adam(closure)"], "reached"),
    ("a star import", ["from torch.optim import *\nclass Adam(Adam):\n    pass"], "reached"),
    ("exec of literal code", ["exec('Adam = torch.optim.Adam')"], "reached"),
    ("a global bound inside a function", ["def setup():\n    global Adam\n    Adam = torch.optim.Adam\nsetup()"], "reached"),
    ("getattr with a literal name", ["Adam = getattr(torch.optim, 'Adam')"], "reached"),
    ("__import__ with a literal name", ["Adam = __import__('torch.optim', fromlist=['Adam']).Adam"], "reached"),
    ("the class's own scope does not hide a global", ["impl = torch.optim.Adam",
                                                      "class Adam(torch.optim.Optimizer):\n    impl = None\n"
                                                      "    def step(self, closure=None):\n        return impl.step(self)"],
     "reached"),
    ("an attribute read from an object the text cannot name", ["def make(m):\n    return m.Adam\nAdam = make(torch.optim)"],
     "review"),
    ("subclasses found through a special attribute", ["Adam = torch.optim.Optimizer.__subclasses__()[0]"], "review"),
    ("a module the judge does not read", ["import sympy\nclass Adam(torch.optim.Optimizer):\n    pass"], "review"),
    ("scipy, which the judge reads", ["from scipy import stats\nclass Adam(torch.optim.Optimizer):\n    pass"], "clean"),
    ("a shell escape", ["!ls\nclass Adam(torch.optim.Optimizer):\n    pass"], "review"),
    ("a timing magic around plain code", ["%time x = 1\nclass Adam(torch.optim.Optimizer):\n    pass"], "clean"),
    ("a library attribute changed", ["torch.optim.Optimizer.step = lambda self, closure=None: None\n"
                                     "class Adam(torch.optim.Optimizer):\n    pass"], "review"),
    ("a function that ties the answer to torch's class", ["class Adam(torch.optim.Optimizer):\n    pass",
                                                          "def mix(a, b):\n    a.step = b.step\nmix(Adam, torch.optim.Adam)"],
     "review"),
]


@pytest.mark.parametrize("what,cells,expected", FORMS, ids=[f[0] for f in FORMS])
def test_forms_of_code(what, cells, expected):
    test = 'check("adaptive.Adam", Adam)'
    program = read_program([(IMPORTS, True), *((c, False) for c in cells), (test, True)])
    verdict = judge_answer(program, len(cells) + 1, answer_chains(test)["adaptive.Adam"], forbidden_for(get_check("adaptive.Adam")))
    got = "reached" if verdict.reached else "review" if verdict.undecided else "clean"
    assert got == expected, verdict


_BN_FORWARD = ("    x = x.detach().requires_grad_()\n    w = weight.detach().requires_grad_()\n"
               "    b = torch.zeros_like(w, requires_grad=True)\n    dims = [0] + list(range(2, x.dim()))\n"
               "    sh = [1, -1] + [1] * (x.dim() - 2)\n"
               "    y = (x - x.mean(dims, keepdim=True)) / torch.sqrt(x.var(dims, keepdim=True, correction=0) + eps)"
               " * w.view(sh) + b.view(sh)\n")
BACKWARDS = [
    ("autograd.grad", "def batch_norm_backward(grad_output, x, weight, eps=1e-5):\n" + _BN_FORWARD
     + "    return torch.autograd.grad(y, (x, w, b), grad_output)\n", "reached"),
    ("tensor.backward()", "def batch_norm_backward(grad_output, x, weight, eps=1e-5):\n" + _BN_FORWARD
     + "    y.backward(grad_output)\n    return x.grad, w.grad, b.grad\n", "review"),
    ("torch.func.vjp", "from torch.func import vjp as _vjp\ndef batch_norm_backward(grad_output, x, weight, eps=1e-5):\n"
     "    return _vjp(lambda x: x * 2, x)[1](grad_output)\n", "reached"),
]


@pytest.mark.parametrize("what,code,expected", BACKWARDS, ids=[b[0] for b in BACKWARDS])
def test_a_part_that_forbids_autograd_notices_every_form_of_it(what, code, expected):
    """batch_norm_backward forbids autograd by name (Check.forbids): even the common method name .backward counts."""
    answers = {**solution_sources(source_notebook("08_normalization")), "batch_norm_backward": code}
    verdict = _verdicts("08_normalization", answers)["batch_norm_backward"]
    got = "reached" if verdict.reached else "review" if verdict.undecided else "clean"
    assert got == expected, verdict
    if expected == "review":  # and the visible test notes it
        namespace: dict = {}
        exec("import torch\n" + code, namespace)
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            check("normalization.batch_norm_backward", namespace["batch_norm_backward"])
        assert "Note: batch_norm_backward is flagged for review" in out.getvalue() and ".backward" in out.getvalue()


def test_the_visible_test_says_what_the_answer_uses(tmp_path: Path):
    import torch

    class Adam(torch.optim.Adam):
        pass

    with pytest.raises(CheckFailure, match="implement Adam yourself; your answer uses torch.optim.Adam"):
        check("adaptive.Adam", Adam)


def test_more_code_than_the_judge_reads_goes_to_a_person():
    test = 'check("adaptive.Adam", Adam)'
    code = "class Adam(torch.optim.Optimizer):\n    pass\n" + "x = 1\n" * 20_001
    program = read_program([(IMPORTS, True), (code, False), (test, True)])
    verdict = judge_answer(program, 2, answer_chains(test)["adaptive.Adam"], forbidden_for(get_check("adaptive.Adam")))
    assert not verdict.reached and "more code than the judge reads" in verdict.undecided[0]
