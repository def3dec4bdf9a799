r"""What a notebook's code refers to, read from its text: the judge's view of a submission.

The judge never trusts the student's process to say which functions an answer called, so
it reads the code it sent there. :func:`read_program` turns the code cells of a notebook
into *units*: each statement at the top level of a cell, and each top-level ``def`` or
``class`` as a whole. A unit records

* the global names it binds (``x = ...``, ``def x``, ``import x``; ``x.attr = ...`` and
  ``x[k] = ...`` count as binding ``x`` too, since they change what ``x`` holds), and, for
  imports and plain aliases (``F = torch.nn.functional``), the dotted path the name stands for;
* the *chains* it reads: a global name and the attributes read from it (``torch.optim.Adam``
  is the name ``torch`` and the attributes ``optim``, ``Adam``), each marked *late* when it
  sits in a function body (it runs when the function is called, not where it is defined);
* attributes read from objects the text cannot name (``x.batch_norm`` with ``x`` a local);
* the constructs whose effect cannot be read from the text (:data:`OPAQUE_BUILTINS`,
  attributes such as ``__dict__`` or ``__code__``, IPython's magics and shell escapes).

Some dynamic forms are read as the static ones they are: ``getattr(x, "name")`` is
``x.name``; ``importlib.import_module("a.b")`` and ``__import__("a.b")`` are the module
``a.b``; ``exec("code")`` and ``eval("code")`` with literal text and IPython's ``%time``,
``%timeit`` and ``%%time`` are the code they run. Everything else that builds code or
names at run time is opaque.

:mod:`course_lib.grading.delegation` decides, from the units, what an answer reaches.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Iterable, Sequence

__all__ = [
    "COMPUTED",
    "OPAQUE_BUILTINS",
    "PATH_ROOT",
    "Chain",
    "Unit",
    "Program",
    "read_program",
    "read_function",
    "answer_chains",
]

COMPUTED = "<computed>"
"""The attribute of ``getattr(x, name)`` when ``name`` is built at run time."""

PATH_ROOT = "<path>"
"""Root name of a chain that starts at an absolute module path (``importlib.import_module("a.b")``)."""

OPAQUE_BUILTINS = {
    "getattr": "getattr with an attribute name built at run time",
    "setattr": "setattr with an attribute name built at run time",
    "delattr": "delattr",
    "exec": "exec of code built at run time",
    "eval": "eval of code built at run time",
    "compile": "compile of code built at run time",
    "__import__": "__import__ of a module named at run time",
    "globals": "globals()",
    "locals": "locals()",
    "vars": "vars()",
    "open": "open() (reading or writing files)",
    "breakpoint": "breakpoint()",
    "input": "input()",
    "get_ipython": "IPython's shell (get_ipython(), magics or ! commands)",
    "__builtins__": "__builtins__",
    "__loader__": "__loader__",
    "__spec__": "__spec__",
}
"""Built-in names whose effect the text does not show, with the words the judge reports."""

SAFE_DUNDERS = frozenset(
    {"__init__", "__new__", "__class__", "__name__", "__qualname__", "__module__", "__doc__", "__call__", "__len__",
     "__iter__", "__next__", "__enter__", "__exit__", "__repr__", "__str__", "__format__", "__bool__", "__hash__",
     "__getitem__", "__setitem__", "__delitem__", "__contains__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__",
     "__ge__", "__neg__", "__pos__", "__abs__", "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__",
     "__mul__", "__rmul__", "__imul__", "__truediv__", "__rtruediv__", "__itruediv__", "__floordiv__", "__rfloordiv__",
     "__mod__", "__pow__", "__rpow__", "__matmul__", "__rmatmul__", "__float__", "__int__", "__index__"}
)
"""Special attributes an answer may read: the others (``__dict__``, ``__code__``, ``__subclasses__``, ...) reach objects the text does not name."""

_SAFE_MAGICS = {"time", "timeit", "matplotlib", "precision", "config", "who", "whos", "capture"}
_CODE_MAGICS = {"time", "timeit", "capture"}
_MAX_SPLICE_DEPTH = 4


@dataclass(frozen=True)
class Chain:
    """A global name (or :data:`PATH_ROOT` and a module path) and the attributes read from it."""

    root: str
    attrs: tuple[str, ...] = ()
    late: bool = False
    """Read inside a function body: when the function runs, so any binding up to then counts."""


@dataclass
class Unit:
    """One statement at the top level of a cell, or one top-level ``def``/``class``."""

    index: int
    cell: int
    trusted: bool
    """Written by the instructor (a locked or test cell): its bindings count, its tricks do not."""
    conditional: bool = False
    """Inside an ``if``/``for``/``while``/``try``/``with`` at the top level: it may not run, or run again."""
    binds: dict[str, str] = field(default_factory=dict)
    """Global name -> ``"plain"`` (a new value), ``"mutation"`` (its value changed) or ``"late"`` (bound in a function body)."""
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Global name -> the absolute dotted path it stands for (imports and ``x = a.b.c`` aliases)."""
    alias_chains: dict[str, Chain] = field(default_factory=dict)
    """Global name -> the chain it was set to (``F = torch.nn.functional``, ``o = optim``)."""
    chains: list[Chain] = field(default_factory=list)
    mutations: list[Chain] = field(default_factory=list)
    """Chains assigned to (``a.b.c = ...``): a library's attribute changed, if the root is a library."""
    leaves: list[str] = field(default_factory=list)
    """Attributes read from objects the text cannot name (a local, a call's result, ...)."""
    opaque: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)
    imports: list[tuple[str, ...]] = field(default_factory=list)
    """Modules this unit imports (importing runs the module's code)."""
    star_imports: list[tuple[str, ...]] = field(default_factory=list)
    defines: str | None = None
    """For a top-level ``def``/``class``: its name."""


@dataclass
class Program:
    """A notebook's code, unit by unit, in the order it runs, and where each cell starts."""

    units: list[Unit]
    cell_starts: dict[int, int]
    """Cell number -> index of its first unit (cells that fail to parse have none)."""


# ---- reading text ---------------------------------------------------------------------------


def _python_source(code: str) -> str:
    """A cell's text as the Python IPython runs (magics and ``!`` become ``get_ipython()`` calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # without IPython the text is plain Python
        return code
    try:
        return TransformerManager().transform_cell(code)
    except Exception:  # what IPython cannot transform, it cannot run either: parse it as it is
        return code


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _parse(code: str) -> list[ast.stmt] | None:
    try:
        return ast.parse(code).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _path_expr(path: str, node: ast.AST) -> ast.AST:
    """An expression standing for the absolute module path ``path`` (``a.b`` -> PATH_ROOT.a.b)."""
    expr: ast.AST = ast.Name(id=PATH_ROOT, ctx=ast.Load())
    for part in path.split("."):
        expr = ast.Attribute(value=expr, attr=part, ctx=ast.Load())
    return ast.copy_location(expr, node)


class _Rewrite(ast.NodeTransformer):
    """Reads dynamic forms whose arguments are literal as the static code they stand for."""

    def __init__(self, depth: int) -> None:
        self.depth = depth

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func, args = node.func, node.args
        name = func.id if isinstance(func, ast.Name) else None
        if name in ("getattr", "hasattr") and len(args) >= 2:
            # getattr(x, "name") is x.name; with a name built at run time it is x.<computed> (opaque)
            attr_name = _literal(args[1]) if _literal(args[1]) is not None else COMPUTED
            attr = ast.copy_location(ast.Attribute(value=args[0], attr=attr_name, ctx=ast.Load()), node)
            if attr_name == COMPUTED:
                return ast.copy_location(ast.Tuple(elts=[attr, args[1], *args[2:]], ctx=ast.Load()), node)
            return attr if name == "getattr" else ast.copy_location(ast.Tuple(elts=[attr], ctx=ast.Load()), node)
        if name == "__import__" and args and _literal(args[0]) is not None:
            path = _literal(args[0])
            fromlist = args[3] if len(args) > 3 else next((k.value for k in node.keywords if k.arg == "fromlist"), None)
            return _path_expr(path if fromlist is not None else path.split(".")[0], node)
        if isinstance(func, ast.Attribute) and func.attr == "import_module" and args and _literal(args[0]) is not None \
                and not _literal(args[0]).startswith("."):
            return _path_expr(_literal(args[0]), node)
        if name in ("exec", "eval") and args and _literal(args[0]) is not None and self.depth < _MAX_SPLICE_DEPTH:
            body = _parse(_python_source(_literal(args[0])))
            if body is not None:
                return _spliced(body, node, self.depth + 1)
        if isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic") \
                and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name) \
                and func.value.func.id == "get_ipython" and args and _literal(args[0]) in _SAFE_MAGICS \
                and all(_literal(a) is not None for a in args[1:]) and self.depth < _MAX_SPLICE_DEPTH:
            if _literal(args[0]) not in _CODE_MAGICS:
                return ast.copy_location(ast.Constant(None), node)
            code = "\n".join(_literal(a) for a in args[1:])
            body = _parse(_python_source(_strip_magic_options(code)))
            if body is not None:
                return _spliced(body, node, self.depth + 1)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        # setattr(x, "name", value) as a statement: the assignment x.name = value
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "setattr" \
                and len(call.args) == 3 and _literal(call.args[1]) is not None:
            self.generic_visit(node)
            target = ast.Attribute(value=call.args[0], attr=_literal(call.args[1]), ctx=ast.Store())
            return ast.copy_location(ast.Assign(targets=[target], value=call.args[2], lineno=node.lineno), node)
        return self.generic_visit(node)


def _strip_magic_options(code: str) -> str:
    """``%timeit -n 3 f()`` -> ``f()`` (the options of time and timeit come first, each with a dash)."""
    words = code.split(" ")
    while words and words[0].startswith("-"):
        words = words[2:] if words[0] in ("-n", "-r", "-p") else words[1:]
    return " ".join(words)


def _spliced(body: list[ast.stmt], node: ast.AST, depth: int) -> ast.AST:
    """The statements that exec, eval or a magic runs, carried by a marker call the extractor unpacks in place."""
    module = ast.Module(body=body, type_ignores=[])
    _Rewrite(depth).visit(module)
    marker = ast.Call(func=ast.Name(id="<spliced>", ctx=ast.Load()), args=[], keywords=[])
    marker.spliced = module.body  # type: ignore[attr-defined]
    return ast.copy_location(marker, node)


# ---- scopes ----------------------------------------------------------------------------------

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp, ast.DictComp,
           ast.GeneratorExp)


def _stored_names(nodes: Iterable[ast.AST]) -> tuple[set[str], set[str]]:
    """Names bound in a scope's own body (not in nested scopes), and those declared global."""
    bound: set[str] = set()
    declared: set[str] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack.extend(node.decorator_list)
            if not isinstance(node, ast.ClassDef):
                stack.extend(_defaults(node.args))
            else:
                stack.extend([*node.bases, *(k.value for k in node.keywords)])
            continue
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names) if isinstance(node, ast.Global) else bound.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            if isinstance(node, ast.Lambda):
                stack.extend(_defaults(node.args))
            else:
                stack.append(node.generators[0].iter)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return bound - declared, declared


def _defaults(args: ast.arguments) -> list[ast.AST]:
    return [*args.defaults, *(d for d in args.kw_defaults if d is not None)]


def _params(args: ast.arguments) -> set[str]:
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    return names


# ---- extraction ------------------------------------------------------------------------------


class _Extractor:
    """Walks one unit's AST and fills in its chains, bindings and opaque constructs."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.scopes: list[tuple[set[str], bool, dict[str, tuple[str, ...]]]] = []
        """Names local to each enclosing scope, innermost last; whether the scope is a class body (a class
        body's names are seen by its own statements, not by the functions in it); and the local names
        that imports bound, with their module paths."""

    # where a name lives
    def _visible(self) -> list[tuple[set[str], bool, dict[str, tuple[str, ...]]]]:
        last = len(self.scopes) - 1
        return [scope for i, scope in enumerate(self.scopes) if not scope[1] or i == last]

    def _is_local(self, name: str) -> bool:
        return any(name in names for names, _, _ in self._visible())

    def _local_path(self, name: str) -> tuple[str, ...] | None:
        for names, _, paths in reversed(self._visible()):
            if name in names:
                return paths.get(name)
        return None

    @property
    def late(self) -> bool:
        return any(not is_class for _, is_class, _ in self.scopes)

    def _push(self, names: set[str], is_class: bool = False) -> None:
        self.scopes.append((names, is_class, {}))

    def _bind(self, name: str, kind: str) -> None:
        if self.scopes and self.scopes[-1][1]:
            return  # a class attribute: part of the class this unit defines
        if self.late:
            self.unit.binds.setdefault(name, "late")
        elif self.unit.binds.get(name) != "plain":
            self.unit.binds[name] = kind

    # expressions
    def expr(self, node: ast.AST | None) -> None:
        if node is None:
            return
        if isinstance(node, (ast.Attribute, ast.Name)):
            self._chain(node)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "<spliced>":
            for stmt in getattr(node, "spliced", []):
                self.stmt(stmt, conditional=True)
            return
        if isinstance(node, ast.Lambda):
            for d in _defaults(node.args):
                self.expr(d)
            self._push(_params(node.args))
            self.expr(node.body)
            self.scopes.pop()
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self._comprehension(node)
            return
        if isinstance(node, ast.NamedExpr):
            self.expr(node.value)
            self._target(node.target)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if len(self.unit.strings) < 200:
                self.unit.strings.append(node.value[:200])
            return
        for child in ast.iter_child_nodes(node):
            self.expr(child)

    def _comprehension(self, node: ast.AST) -> None:
        generators = node.generators  # type: ignore[attr-defined]
        self.expr(generators[0].iter)
        names: set[str] = set()
        for gen in generators:
            names |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        self._push(names)
        for i, gen in enumerate(generators):
            if i:
                self.expr(gen.iter)
            for cond in gen.ifs:
                self.expr(cond)
        for part in ("elt", "key", "value"):
            self.expr(getattr(node, part, None))
        self.scopes.pop()

    def _chain(self, node: ast.AST) -> None:
        attrs: list[str] = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        attrs.reverse()
        for attr in attrs:
            if attr.startswith("__") and attr.endswith("__") and attr not in SAFE_DUNDERS:
                self.unit.opaque.append(f"the special attribute {attr}")
            if attr == COMPUTED:
                self.unit.opaque.append(OPAQUE_BUILTINS["getattr"])
        if COMPUTED in attrs:
            attrs = attrs[:attrs.index(COMPUTED) + 1]
        if isinstance(node, ast.Name) and not self._is_local(node.id):
            self.unit.chains.append(Chain(node.id, tuple(attrs), self.late))
            return
        if isinstance(node, ast.Name):
            path = self._local_path(node.id)
            if path is not None:
                self.unit.chains.append(Chain(PATH_ROOT, (*path, *attrs), self.late))
            elif attrs:
                self.unit.leaves.append(attrs[0])
            return
        self.expr(node)
        if attrs:
            self.unit.leaves.append(attrs[0])

    def _target(self, node: ast.AST) -> None:
        """An assignment target: bindings, and the expressions evaluated in it."""
        if isinstance(node, ast.Name):
            if not self._is_local(node.id):
                self._bind(node.id, "plain")
            return
        if isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self._target(elt)
            return
        if isinstance(node, ast.Starred):
            self._target(node.value)
            return
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            root, attrs = node, []
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                if isinstance(root, ast.Subscript):
                    self.expr(root.slice)
                    attrs = []
                else:
                    attrs.insert(0, root.attr)
                    if root.attr.startswith("__") and root.attr.endswith("__") and root.attr not in SAFE_DUNDERS:
                        self.unit.opaque.append(f"an assignment to the special attribute {root.attr}")
                root = root.value
            if isinstance(root, ast.Name) and not self._is_local(root.id):
                self._bind(root.id, "mutation")
                self.unit.mutations.append(Chain(root.id, tuple(attrs), self.late))
                self.unit.chains.append(Chain(root.id, (), self.late))
            elif not isinstance(root, ast.Name):
                self.expr(root)
            return
        self.expr(node)

    # statements
    def stmt(self, node: ast.stmt, *, conditional: bool = False) -> None:
        unit = self.unit
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for d in [*node.decorator_list, *_defaults(node.args)]:
                self.expr(d)
            for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg]:
                if arg is not None:
                    self.expr(arg.annotation)
            self.expr(node.returns)
            if not self._is_local(node.name):
                self._bind(node.name, "plain")
            bound, declared = _stored_names(node.body)
            self._push((bound | _params(node.args)) - declared)
            for stmt in node.body:
                self.stmt(stmt)
            self.scopes.pop()
            return
        if isinstance(node, ast.ClassDef):
            for d in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
                self.expr(d)
            if not self._is_local(node.name):
                self._bind(node.name, "plain")
            bound, declared = _stored_names(node.body)
            self._push(bound - declared, is_class=True)
            for stmt in node.body:
                self.stmt(stmt, conditional=conditional)
            self.scopes.pop()
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self._import(node)
            return
        if isinstance(node, ast.Assign):
            self.expr(node.value)
            for target in node.targets:
                self._target(target)
            if not self.scopes and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and isinstance(node.value, (ast.Name, ast.Attribute)):
                chain = _pure_chain(node.value)
                if chain is not None:
                    unit.alias_chains[node.targets[0].id] = chain
            return
        if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            self.expr(node.value)
            if isinstance(node, ast.AnnAssign):
                self.expr(node.annotation)
            self._target(node.target)
            if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and not self._is_local(node.target.id):
                self._bind(node.target.id, "mutation")
                unit.chains.append(Chain(node.target.id, (), self.late))
            return
        if isinstance(node, (ast.For, ast.AsyncFor)):
            self.expr(node.iter)
            self._target(node.target)
            for stmt in [*node.body, *node.orelse]:
                self.stmt(stmt, conditional=True)
            return
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.expr(item.context_expr)
                if item.optional_vars is not None:
                    self._target(item.optional_vars)
            for stmt in node.body:
                self.stmt(stmt, conditional=True)
            return
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            for stmt in node.body:  # type: ignore[attr-defined]
                self.stmt(stmt, conditional=True)
            for handler in node.handlers:  # type: ignore[attr-defined]
                self.expr(handler.type)
                if handler.name and not self._is_local(handler.name):
                    self._bind(handler.name, "plain")
                for stmt in handler.body:
                    self.stmt(stmt, conditional=True)
            for stmt in [*node.orelse, *node.finalbody]:  # type: ignore[attr-defined]
                self.stmt(stmt, conditional=True)
            return
        if isinstance(node, (ast.If, ast.While)):
            self.expr(node.test)
            for stmt in [*node.body, *node.orelse]:
                self.stmt(stmt, conditional=True)
            return
        if isinstance(node, ast.Match):
            self.expr(node.subject)
            for case in node.cases:
                for name in (n for n in ast.walk(case.pattern) if isinstance(n, ast.MatchAs | ast.MatchStar) and n.name):
                    if not self._is_local(name.name):
                        self._bind(name.name, "plain")
                self.expr(case.guard)
                for stmt in case.body:
                    self.stmt(stmt, conditional=True)
            return
        if isinstance(node, ast.Delete):
            for target in node.targets:
                if isinstance(target, ast.Name) and not self._is_local(target.id):
                    self._bind(target.id, "plain")
                else:
                    self._target(target)
            return
        if isinstance(node, (ast.Global, ast.Nonlocal, ast.Pass, ast.Break, ast.Continue)):
            return
        for child in ast.iter_child_nodes(node):
            self.expr(child)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        unit = self.unit
        if isinstance(node, ast.ImportFrom):
            if node.level or not node.module:
                unit.opaque.append("a relative import")
                return
            base = tuple(node.module.split("."))
            for alias in node.names:
                unit.imports.append(base)
                if alias.name == "*":
                    unit.star_imports.append(base)
                    continue
                name = alias.asname or alias.name
                self._bind_import(name, (*base, alias.name))
            return
        for alias in node.names:
            parts = tuple(alias.name.split("."))
            name = alias.asname or parts[0]
            path = parts if alias.asname else parts[:1]
            unit.imports.append(parts)
            self._bind_import(name, path)

    def _bind_import(self, name: str, path: tuple[str, ...]) -> None:
        if not self._is_local(name):
            self._bind(name, "plain")
            if not self.late:
                self.unit.paths[name] = path
            else:
                self.unit.chains.append(Chain(PATH_ROOT, path, True))
            return
        for names, is_class, paths in reversed(self._visible()):
            if name in names:
                paths[name] = path
                return


def _pure_chain(node: ast.AST) -> Chain | None:
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.insert(0, node.attr)
        node = node.value
    return Chain(node.id, tuple(attrs)) if isinstance(node, ast.Name) else None


def _units_of(body: Sequence[ast.stmt], cell: int, trusted: bool, start: int, conditional: bool = False) -> list[Unit]:
    units: list[Unit] = []
    for stmt in body:
        if isinstance(stmt, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)) \
                or type(stmt).__name__ == "TryStar":
            # a compound statement at the top level: its header is one unit, every statement inside another
            header = Unit(start + len(units), cell, trusted, conditional=conditional)
            extractor = _Extractor(header)
            if isinstance(stmt, (ast.If, ast.While)):
                extractor.expr(stmt.test)
                inner = [*stmt.body, *stmt.orelse]
            elif isinstance(stmt, (ast.For, ast.AsyncFor)):
                extractor.expr(stmt.iter)
                extractor._target(stmt.target)
                inner = [*stmt.body, *stmt.orelse]
            elif isinstance(stmt, (ast.With, ast.AsyncWith)):
                for item in stmt.items:
                    extractor.expr(item.context_expr)
                    if item.optional_vars is not None:
                        extractor._target(item.optional_vars)
                inner = list(stmt.body)
            else:
                inner = list(stmt.body)  # type: ignore[attr-defined]
                for handler in stmt.handlers:  # type: ignore[attr-defined]
                    extractor.expr(handler.type)
                    if handler.name:
                        header.binds[handler.name] = "plain"
                    inner += handler.body
                inner += [*stmt.orelse, *stmt.finalbody]  # type: ignore[attr-defined]
            units.append(header)
            units += _units_of(inner, cell, trusted, start + len(units), conditional=True)
            continue
        unit = Unit(start + len(units), cell, trusted, conditional=conditional)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            unit.defines = stmt.name
        _Extractor(unit).stmt(stmt, conditional=conditional)
        units.append(unit)
    return units


def read_program(cells: Sequence[tuple[str, bool]]) -> Program:
    """The units of a notebook's code cells, given as ``(source, trusted)`` in the order they run."""
    units: list[Unit] = []
    starts: dict[int, int] = {}
    for number, (source, trusted) in enumerate(cells):
        body = _parse(_python_source(source))
        if body is None:  # what cannot be parsed cannot run either
            continue
        module = ast.Module(body=body, type_ignores=[])
        try:
            _Rewrite(0).visit(module)
            cell_units = _units_of(module.body, number, trusted, len(units))
        except RecursionError:
            cell_units = []
            if not trusted:
                broken = Unit(len(units), number, trusted)
                broken.opaque.append("code nested too deeply to read")
                cell_units = [broken]
        starts[number] = len(units)
        units += cell_units
    return Program(units, starts)


def read_function(source: str) -> Unit | None:
    """One ``def``/``class`` (a library's source) as a unit, or None when it cannot be parsed."""
    body = _parse(source)
    if not body:
        return None
    module = ast.Module(body=body, type_ignores=[])
    try:
        _Rewrite(0).visit(module)
        unit = Unit(0, 0, False)
        extractor = _Extractor(unit)
        for stmt in module.body:
            extractor.stmt(stmt)
    except RecursionError:
        return None
    return unit


def answer_chains(test_source: str) -> dict[str, list[Chain]]:
    """For each ``check("name", obj)`` of a test cell: the chains of ``obj``, the answer it checks."""
    out: dict[str, list[Chain]] = {}
    body = _parse(test_source)
    for node in ast.walk(ast.Module(body=body or [], type_ignores=[])):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "check" \
                and len(node.args) >= 2 and _literal(node.args[0]) is not None:
            unit = Unit(0, 0, True)
            _Extractor(unit).expr(node.args[1])
            out.setdefault(_literal(node.args[0]), []).extend(unit.chains)
    return out
