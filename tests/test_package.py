"""The package's shape: its namespace, its laziness, and an import graph without cycles."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import course_lib

PACKAGE = Path(course_lib.__file__).parent


def _stub_exports() -> dict[str, str]:
    """``{name: module}`` as ``course_lib/__init__.pyi`` declares them."""
    exports = {}
    for node in ast.parse((PACKAGE / "__init__.pyi").read_text()).body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname in (None, alias.name), f"{alias.name} is renamed in the stub"
                assert alias.name not in exports, f"{alias.name} is declared twice in __init__.pyi"
                exports[alias.name] = node.module or alias.name
    return exports


def test_stub_lists_every_public_name_of_its_modules_once():
    exports = _stub_exports()
    modules = sorted({module for module in exports.values()})
    for module_name in modules:
        module = importlib.import_module(f"course_lib.{module_name}")
        assert hasattr(module, "__all__"), f"course_lib.{module_name} defines no __all__"
        declared = {name for name, home in exports.items() if home == module_name and name != module_name}
        missing = set(module.__all__) - declared
        extra = declared - set(module.__all__)
        assert not missing, f"course_lib/__init__.pyi lacks, from .{module_name}: {sorted(missing)}"
        assert not extra, f"course_lib/__init__.pyi lists names that course_lib.{module_name} does not export: {sorted(extra)}"
        for name in module.__all__:
            assert getattr(course_lib, name) is getattr(module, name), name
    assert sorted(course_lib.__all__) == sorted(exports)


def test_every_topic_module_is_in_the_namespace():
    """A new module under course_lib/ is either in the namespace or one of the known internal ones."""
    internal = {"cli"}
    top_level = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    top_level |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    missing = top_level - internal - set(_stub_exports().values())
    assert not missing, f"modules missing from course_lib/__init__.pyi: {sorted(missing)}"


def test_unknown_name_is_an_attribute_error_without_importing_anything():
    code = (
        "import sys, time, course_lib\n"
        "start = time.perf_counter()\n"
        "try:\n"
        "    course_lib.no_such_name\n"
        "except AttributeError as err:\n"
        "    print(err, time.perf_counter() - start, 'torch' in sys.modules, sep='|')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip().split("|")
    assert out[0] == "module 'course_lib' has no attribute 'no_such_name'"
    assert float(out[1]) < 0.5 and out[2] == "False"


def test_import_is_lazy():
    code = "import sys, course_lib; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


# ---- the import graph -------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[str]:
    """Every module of course_lib that ``module`` imports, at its top or inside a function.

    Imports under ``if TYPE_CHECKING:`` never run and are left out.
    """
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append(target)
            found.extend(f"{target}.{alias.name}" for alias in node.names)  # submodules, if they are
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """``{module: modules it imports}`` for every module of course_lib, read from the source."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges = set()
        for target in _imports(ast.parse(path.read_text()), name, path.name == "__init__.py"):
            # importing a.b.c runs a/__init__, a/b/__init__ and a/b/c
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in files and prefix != name and not name.startswith(prefix + "."):
                    edges.add(prefix)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_course_lib_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40 and "course_lib.grading.autograde.runner" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("graph, cyclic", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ({"a": {"a"}}, True),
    ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, False),
])
def test_find_cycle_finds_cycles_and_only_cycles(graph, cyclic):
    assert (find_cycle(graph) is not None) == cyclic


def test_the_graph_sees_function_level_imports(tmp_path):
    """A cycle hidden in a function-level import (as cli and the runner once had) is still a cycle."""
    source = "def f():\n    from course_lib.cli import CourseError\n"
    imports = _imports(ast.parse(source), "course_lib.grading.autograde.runner", False)
    assert "course_lib.cli" in imports
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from course_lib.cli import main\n"
    assert "course_lib.cli" not in _imports(ast.parse(typed), "course_lib.x", False)
