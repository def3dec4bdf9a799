r"""No points for delegating to the reference: what each part may not use, and whether an answer uses it.

Every :class:`~course_lib.grading.Check` has a set of *forbidden implementations*
(:func:`forbidden_for`): the reference it is measured against when that is a library
object, the ``course_lib`` and ``torch`` implementations its reference calls, the
*families* they belong to (for an optimizer class: its ``torch.optim`` module with the
functional form, the fused kernels, ``course_lib.optim``'s class and update rule; for batch
norm: every normalization kernel and module; for initializers: ``torch.nn.init`` and
``course_lib.init``; for schedules: ``torch.optim.lr_scheduler`` and
``course_lib.schedules``), ``course_lib.grading`` itself, and what the check adds in
``forbids``, less what it ``allows``. A new check gets all of this from its reference.

Two readers decide whether an answer reaches one of them:

* the judge, :func:`judge_answer`, from the text of the code it ran (see
  :mod:`course_lib.grading.sources`), which the student's process cannot change. What the
  answer reaches through names, aliases, helpers, class bases, changes made to it later,
  and ``course_lib`` functions that call a forbidden one, is a *use* and earns nothing. Where
  the text cannot tell (code built at run time, ``exec``, ``open``, special attributes,
  modules the judge does not read, a statement that ties the answer to a forbidden object),
  the part is *flagged for review*: no automatic points, and a person decides;
* the visible test in JupyterLab, :func:`inspect_answer`, from the live objects, so that a
  student reads the same rule before submitting.
"""

from __future__ import annotations

import builtins
import dis
import importlib
import inspect
import re
import textwrap
import threading
import types
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from course_lib.grading.sources import COMPUTED, OPAQUE_BUILTINS, PATH_ROOT, SAFE_DUNDERS, Chain, Program, Unit, read_function

__all__ = [
    "FAMILIES",
    "Forbidden",
    "Verdict",
    "forbidden_for",
    "judge_answer",
    "inspect_answer",
    "public_name",
]

ALLOWED_ROOTS = frozenset({
    "torch", "numpy", "math", "cmath", "collections", "itertools", "functools", "operator", "typing", "dataclasses",
    "copy", "random", "statistics", "warnings", "time", "enum", "abc", "numbers", "contextlib", "heapq", "bisect",
    "decimal", "fractions", "string", "re", "json", "matplotlib", "course_lib", "threading", "queue", "concurrent",
    "pickle", "types", "tqdm", "scipy",
})
"""Modules the judge follows. Importing any other module runs code the judge does not read."""

OPAQUE_PATHS = (
    "torch.hub", "torch.jit", "torch.package", "torch.library", "torch.utils.cpp_extension", "torch.overrides",
    "torch.fx", "torch.export", "torch.compile", "torch.serialization", "torch.load", "torch.classes",
    "torch.utils.model_zoo", "torch.ops.load_library", "torch.testing", "numpy.load", "numpy.ctypeslib",
    "numpy.f2py", "pickle.loads", "pickle.load", "pickle.Unpickler", "types.FunctionType", "types.LambdaType",
    "types.CodeType", "operator.attrgetter", "operator.methodcaller", "typing.get_type_hints", "typing.ForwardRef",
    "functools.singledispatch", "functools.singledispatchmethod", "concurrent.futures.process",
    "concurrent.futures.ProcessPoolExecutor", "scipy.LowLevelCallable", "scipy.io",
)
"""Names inside followed modules that run or look up code by name (loading pickles, compiling, resolving strings)."""

_ALLOWED_PRIVATE = ("torch._foreach_",)

FAMILIES: tuple[tuple[str, ...], ...] = (
    (  # normalization kernels: any of them computes the others on reshaped or transposed input
        "torch.nn.functional.batch_norm", "torch.nn.functional.instance_norm", "torch.nn.functional.layer_norm",
        "torch.nn.functional.group_norm", "torch.nn.functional.rms_norm", "torch.batch_norm", "torch.instance_norm",
        "torch.layer_norm", "torch.group_norm", "torch.rms_norm", "torch.native_batch_norm", "torch.native_layer_norm",
        "torch.native_group_norm", "torch._native_batch_norm_legit", "torch._native_batch_norm_legit_no_training",
        "torch._batch_norm_impl_index", "torch.batch_norm_stats", "torch.batch_norm_elemt",
        "torch.batch_norm_update_stats", "torch.batch_norm_gather_stats", "torch.batch_norm_gather_stats_with_counts",
        "torch.cudnn_batch_norm", "torch.miopen_batch_norm", "torch.nn.modules.batchnorm",
        "torch.nn.modules.instancenorm", "torch.nn.modules.normalization", "torch.ops.aten.batch_norm",
        "torch.ops.aten.native_batch_norm", "torch.ops.aten._native_batch_norm_legit",
        "torch.ops.aten._native_batch_norm_legit_no_training", "torch.ops.aten._batch_norm_with_update",
        "torch.ops.aten._batch_norm_no_update", "torch.ops.aten.layer_norm", "torch.ops.aten.native_layer_norm",
        "torch.ops.aten.group_norm", "torch.ops.aten.native_group_norm", "torch.ops.aten.instance_norm",
        "course_lib.normalization.batch_norm", "course_lib.normalization.layer_norm",
        "course_lib.normalization.BatchNorm1d", "course_lib.normalization.LayerNorm",
    ),
    (
        "torch.nn.functional.dropout", "torch.nn.functional.dropout1d", "torch.nn.functional.dropout2d",
        "torch.nn.functional.dropout3d", "torch.nn.functional.alpha_dropout", "torch.nn.functional.feature_alpha_dropout",
        "torch.dropout", "torch.dropout_", "torch.native_dropout", "torch._fused_dropout", "torch.alpha_dropout",
        "torch.feature_dropout", "torch.feature_alpha_dropout", "torch.nn.modules.dropout", "torch.ops.aten.dropout",
        "torch.ops.aten.native_dropout", "torch.ops.aten._fused_dropout", "course_lib.normalization.dropout",
        "course_lib.normalization.Dropout",
    ),
    ("torch.nn.init", "course_lib.init"),
    ("torch.optim.lr_scheduler", "course_lib.schedules"),
    ("torch.nn.utils.clip_grad", "torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_norm",
     "torch.nn.utils.clip_grad_value_", "torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grads_with_norm_",
     "course_lib.clipping"),
    ("course_lib.normalization.Standardizer", "course_lib.normalization.standardize"),
    ("course_lib.data.batches", "torch.utils.data.sampler", "torch.utils.data.dataloader"),
    ("course_lib.monitoring",),
    ("course_lib.optim.ewma", "torch.optim.swa_utils"),
    ("course_lib.stochastic.gradient_noise",),
    ("course_lib.stochastic.minibatch",),
)
"""Implementations that stand for each other: a part that forbids one forbids them all.
(Optimizer families are built from ``torch.optim`` itself, see :func:`_optimizer_families`.)"""

FAMILY_ALLOWS = ("torch.nn.init.calculate_gain", "course_lib.init.calculate_gain")
"""Members of a family a part may still use (a gain table is not an initializer)."""

ALWAYS = ("course_lib.grading",)
"""Forbidden in every part: the grader's own references, mistakes and checks."""

ALWAYS_ALLOWED = ("course_lib.grading.check",)
"""What a test cell calls may appear anywhere (a student may run a check in a cell of their own)."""

_IMPLEMENTATION_MODULES = ("torch.nn.functional", "torch.nn.init", "torch.nn.utils", "torch.optim")


# ---- resolving dotted paths in the judge's own process --------------------------------------------

_MISSING = object()


@dataclass(frozen=True)
class Resolution:
    """What a dotted path names: the object at each prefix, and why resolution stopped early."""

    steps: tuple[tuple[str, Any], ...]
    problem: str | None = None


_RESOLVED: dict[tuple[str, ...], Resolution] = {}
_LOCK = threading.RLock()


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def resolve(path: Sequence[str]) -> Resolution:
    """Follow ``path`` (``("torch", "optim", "Adam")``) through modules and classes of the judge's process.

    Only modules of :data:`ALLOWED_ROOTS` are imported; the walk stops at anything that is not a
    module or a class, at :data:`OPAQUE_PATHS`, at private names and at special attributes.
    """
    key = tuple(path)
    with _LOCK:
        if key not in _RESOLVED:
            _RESOLVED[key] = _resolve(key)
        return _RESOLVED[key]


def _resolve(path: tuple[str, ...]) -> Resolution:
    if not path:
        return Resolution(())
    root = path[0]
    if root not in ALLOWED_ROOTS:
        return Resolution((), f"the module {root}, which the judge does not read")
    try:
        obj: Any = importlib.import_module(root)
    except Exception:
        return Resolution((), f"the module {root}, which the judge cannot import")
    steps = [(root, obj)]
    for i, part in enumerate(path[1:], start=2):
        text = ".".join(path[:i])
        if any(text == p or text.startswith(p + ".") for p in OPAQUE_PATHS):
            return Resolution(tuple(steps), f"{text}, which runs or finds code by name")
        if _is_dunder(part):
            if part in SAFE_DUNDERS:
                return Resolution(tuple(steps))
            return Resolution(tuple(steps), f"{text}")
        if not (inspect.ismodule(obj) or inspect.isclass(obj) or type(obj).__name__ == "_OpNamespace"):
            return Resolution(tuple(steps))
        nxt = _MISSING
        try:
            nxt = getattr(obj, part)
        except Exception:
            if inspect.ismodule(obj):
                try:
                    nxt = importlib.import_module(text)
                except Exception:
                    nxt = _MISSING
        if nxt is _MISSING:
            return Resolution(tuple(steps))
        obj = nxt
        steps.append((text, obj))
        if part.startswith("_") and not text.startswith(_ALLOWED_PRIVATE):
            return Resolution(tuple(steps), f"{text}, a private part of {'.'.join(path[:i - 1])}")
    return Resolution(tuple(steps))


def _resolve_text(text: str) -> Any:
    steps = resolve(tuple(text.split("."))).steps
    return steps[-1][1] if steps and steps[-1][0] == text else _MISSING


def _module_name(obj: Any) -> str | None:
    if inspect.ismodule(obj):
        return obj.__name__
    if inspect.isclass(obj) or inspect.isroutine(obj):
        name = getattr(obj, "__module__", None)
        return name if isinstance(name, str) else None
    return None


def public_name(obj: Any) -> str:
    """The shortest public dotted name of a library object (``torch.optim.Adam``, not ``torch.optim.adam.Adam``)."""
    if inspect.ismodule(obj):
        return obj.__name__
    module, qualname = _module_name(obj), getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not module or not isinstance(qualname, str):
        return repr(obj)[:80]
    parts = module.split(".")
    first = qualname.split(".")[0]
    for k in range(min(2, len(parts)), len(parts) + 1):
        candidate = _resolve_text(".".join(parts[:k]) + "." + first)
        if candidate is not _MISSING and (candidate is obj or (first != qualname and _owned_by_class(obj, candidate))):
            return ".".join(parts[:k]) + "." + qualname
    return f"{module}.{qualname}"


def _owned_by_class(obj: Any, cls: Any) -> bool:
    if not inspect.isclass(cls) or inspect.isclass(obj):
        return False
    qualname = getattr(obj, "__qualname__", None)
    return isinstance(qualname, str) and getattr(obj, "__module__", None) == cls.__module__ \
        and qualname.startswith(cls.__qualname__ + ".")


def _belongs(obj: Any, entry: Any) -> bool:
    if obj is entry:
        return True
    if inspect.ismodule(entry):
        name = _module_name(obj)
        return name is not None and (name == entry.__name__ or name.startswith(entry.__name__ + "."))
    if inspect.isclass(entry):
        return _owned_by_class(obj, entry)
    packet = getattr(type(obj), "__name__", "") == "OpOverload" and getattr(obj, "overloadpacket", None)
    return packet is entry if packet else False


# ---- what a part may not use ------------------------------------------------------------------------


@dataclass
class Forbidden:
    """The implementations one part may not use, and the exceptions it allows."""

    part: str
    entries: list[tuple[str, Any]]
    allowed: list[tuple[str, Any]] = field(default_factory=list)
    named: frozenset[str] = frozenset()
    """Last names of what the check forbids by name (``Check.forbids``): noticed even where they are
    common attribute names (a part that forbids ``torch.Tensor.backward`` notices any ``.backward``)."""

    def owner(self, obj: Any) -> str | None:
        """The forbidden entry ``obj`` is or belongs to (its display name), or None."""
        if any(_belongs(obj, allowed) for _, allowed in self.allowed):
            return None
        for name, entry in self.entries:
            if _belongs(obj, entry):
                return name
        return None

    @property
    def names(self) -> list[str]:
        """Display names of the forbidden entries (those a part allows left out)."""
        return [name for name, entry in self.entries if not any(entry is allowed for _, allowed in self.allowed)]

    @property
    def leaves(self) -> frozenset[str]:
        """Names of forbidden objects distinctive enough to notice on an object the text cannot name."""
        out = set()
        for name, entry in self.entries:
            out.add(name.rsplit(".", 1)[-1])
            if inspect.ismodule(entry):
                out.update(k for k, v in vars(entry).items() if _module_name(v) == entry.__name__)
        return frozenset(n for n in out if (n in self.named or n not in _common_attributes()) and not _is_dunder(n))

    def headline(self, limit: int = 6) -> list[str]:
        """The main forbidden names for messages (course_lib.grading left out: it is forbidden everywhere)."""
        shown = [n for n in self.names if not n.startswith(ALWAYS)]
        return shown[:limit]


_COMMON: frozenset[str] | None = None


def _common_attributes() -> frozenset[str]:
    """Attribute names of tensors, modules, optimizers and built-in types: too common to mean anything."""
    global _COMMON
    if _COMMON is None:
        import torch
        from torch.optim.lr_scheduler import LRScheduler

        names: set[str] = set()
        for kind in (torch.Tensor, torch.nn.Module, torch.optim.Optimizer, LRScheduler, torch.Generator, list, dict,
                     str, tuple, set, float, int):
            names.update(dir(kind))
        _COMMON = frozenset(names)
    return _COMMON


_FORBIDDEN: dict[tuple[str, int], Forbidden] = {}


def forbidden_for(check: Any) -> Forbidden:
    """What ``check``'s part may not use (see the module docstring); computed once per check."""
    key = (check.name, id(check))
    with _LOCK:
        if key not in _FORBIDDEN:
            _FORBIDDEN[key] = _forbidden_for(check)
        return _FORBIDDEN[key]


def _forbidden_for(check: Any) -> Forbidden:
    seeds: list[Any] = []
    reference = check.reference
    if _is_library(reference):
        seeds.append(reference)
    seeds += implementations_called_by(reference)
    extra = [(text, _resolve_text(text)) for text in getattr(check, "forbids", ())]
    missing = [text for text, obj in extra if obj is _MISSING]
    if missing:
        raise ValueError(f"check {check.name!r} forbids {missing}, which do not exist")
    seeds += [obj for _, obj in extra]
    entries: dict[int, tuple[str, Any]] = {}

    def add(obj: Any, name: str | None = None) -> None:
        if obj is not _MISSING and id(obj) not in entries:
            entries[id(obj)] = (name or public_name(obj), obj)

    for text, obj in extra:  # named as the check names them
        add(obj, text)
    for obj in seeds:
        add(obj)
    for family in [*_optimizer_families(), *_path_families()]:
        members = [obj for _, obj in family]
        if any(_belongs(seed, member) or _belongs(member, seed) for seed in seeds for member in members):
            for text, obj in family:
                add(obj, text)
    for text in ALWAYS:
        add(_resolve_text(text), text)
    allows = [*getattr(check, "allows", ())]
    unknown = [text for text in allows if _resolve_text(text) is _MISSING]
    if unknown:
        raise ValueError(f"check {check.name!r} allows {unknown}, which do not exist")
    explicit = {id(obj) for _, obj in extra}
    allowed = [(text, _resolve_text(text)) for text in [*allows, *FAMILY_ALLOWS, *ALWAYS_ALLOWED]]
    allowed = [(text, obj) for text, obj in allowed if obj is not _MISSING and id(obj) not in explicit]
    named = frozenset(text.rsplit(".", 1)[-1] for text, obj in extra if not inspect.ismodule(obj))
    return Forbidden(check.name.split(".", 1)[-1], list(entries.values()), allowed, named)


def _is_library(obj: Any) -> bool:
    name = _module_name(obj)
    return bool(name) and (name == "torch" or name.startswith(("torch.", "course_lib."))) \
        and not name.startswith("course_lib.grading")


def _is_implementation(obj: Any) -> bool:
    """A library object that computes something a part could ask for (not a tensor op or a layer type)."""
    name = _module_name(obj)
    if not name or inspect.ismodule(obj):
        return False
    if name.startswith("course_lib.") and not name.startswith("course_lib.grading"):
        return inspect.isclass(obj) or inspect.isroutine(obj)
    if name.startswith(_IMPLEMENTATION_MODULES):
        if inspect.isclass(obj):
            from torch.optim import Optimizer
            from torch.optim.lr_scheduler import LRScheduler

            return issubclass(obj, (Optimizer, LRScheduler))
        return inspect.isroutine(obj)
    return False


_PATH_FAMILIES: list[list[tuple[str, Any]]] | None = None
_OPTIMIZER_FAMILIES: list[list[tuple[str, Any]]] | None = None


def _path_families() -> list[list[tuple[str, Any]]]:
    global _PATH_FAMILIES
    if _PATH_FAMILIES is None:
        _PATH_FAMILIES = [[(text, _resolve_text(text)) for text in family if _resolve_text(text) is not _MISSING]
                          for family in FAMILIES]
    return _PATH_FAMILIES


def _optimizer_families() -> list[list[tuple[str, Any]]]:
    """For each optimizer of torch.optim: its module (class and functional form), its fused kernels, and
    course_lib.optim's class and update rules of the same name; with those of its base classes."""
    global _OPTIMIZER_FAMILIES
    if _OPTIMIZER_FAMILIES is not None:
        return _OPTIMIZER_FAMILIES
    import torch

    def own(cls: type) -> list[str]:
        # the module that holds the class and its functional form (torch.optim.adam), when it has its own
        short = cls.__module__.rsplit(".", 1)[-1] if cls.__module__ != "torch.optim" else cls.__name__.lower()
        module = [cls.__module__] if cls.__module__ != "torch.optim" else []
        return [*module, f"torch.optim.{cls.__name__}", f"torch._fused_{short}_", f"torch.ops.aten._fused_{short}_",
                f"course_lib.optim.{cls.__name__}", f"course_lib.optim.{short}_update",
                f"course_lib.optim.{short}_update_foreach", f"course_lib.optim.{short}_init_state"]

    families = []
    for name in dir(torch.optim):
        cls = getattr(torch.optim, name)
        if not (inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer) and cls is not torch.optim.Optimizer):
            continue
        texts = [t for base in cls.__mro__ if isinstance(base, type) and issubclass(base, torch.optim.Optimizer)
                 and base is not torch.optim.Optimizer for t in own(base)]
        if cls.__name__ == "AdamW":
            texts.append("course_lib.optim.weight_decay")
        texts += [f"course_lib.optim.foreach.{t.rsplit('.', 1)[-1]}" for t in texts if t.endswith("_update")]
        family = []
        for text in dict.fromkeys(texts):
            obj = _resolve_text(text)
            if obj is not _MISSING:
                family.append((text, obj))
        families.append(family)
    _OPTIMIZER_FAMILIES = families
    return families


# ---- what library code calls ---------------------------------------------------------------------


_CALLS: dict[int, tuple[list[Any], bool]] = {}


def _source_unit(obj: Any) -> Unit | None:
    try:
        source = textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        return None
    return read_function(source)


def _direct_refs(obj: Any) -> tuple[list[Any], bool]:
    """The library objects ``obj``'s source names (resolved in its module), and whether it builds names at run time."""
    key = id(obj)
    with _LOCK:
        if key in _CALLS:
            return _CALLS[key]
    unit = _source_unit(obj)
    refs: list[Any] = []
    dynamic = False
    if unit is not None:
        module = importlib.import_module(obj.__module__) if isinstance(getattr(obj, "__module__", None), str) else None
        namespace = vars(module) if module is not None else {}
        for chain in unit.chains:
            if chain.root == PATH_ROOT:
                steps = resolve(chain.attrs).steps
            elif chain.root in namespace:
                steps = _walk(namespace[chain.root], chain.attrs)
            else:
                continue
            if steps:
                refs.append(steps[-1][1])  # what the chain names; a module on the way does not count
        dynamic = OPAQUE_BUILTINS["getattr"] in unit.opaque or any(
            c.root in ("exec", "eval", "__import__") and c.root not in namespace for c in unit.chains)
    with _LOCK:
        _CALLS[key] = (refs, dynamic)
    return refs, dynamic


def _walk(obj: Any, attrs: Sequence[str]) -> list[tuple[str, Any]]:
    """``obj`` and what ``obj.a.b...`` names, following modules and classes only."""
    steps = [("", obj)]
    for attr in attrs:
        if _is_dunder(attr) or not (inspect.ismodule(obj) or inspect.isclass(obj)):
            break
        try:
            obj = getattr(obj, attr)
        except Exception:
            break
        steps.append((attr, obj))
    return steps


def implementations_called_by(reference: Any) -> list[Any]:
    """The library implementations a reference calls; through the grader's own helpers when it is a wrapper."""
    found: list[Any] = []
    seen: set[int] = set()
    stack = [reference]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or len(seen) > 500:
            continue
        seen.add(id(obj))
        name = _module_name(obj) or ""
        if obj is not reference and _is_implementation(obj):
            found.append(obj)
            continue
        if name.startswith("course_lib.grading.checks") and (inspect.isroutine(obj) or inspect.isclass(obj)):
            stack += _direct_refs(obj)[0]
    return found


_CLOSURES: dict[int, tuple[list[Any], bool]] = {}


def library_closure(obj: Any) -> tuple[list[Any], bool]:
    """Everything a course_lib function or class calls, transitively (torch's objects are leaves),
    and whether some of it looks names up at run time."""
    key = id(obj)
    with _LOCK:
        if key in _CLOSURES:
            return _CLOSURES[key]
    found: list[Any] = []
    dynamic = False
    seen: set[int] = set()
    stack = [obj]
    while stack and len(seen) < 3000:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        name = _module_name(item) or ""
        if name.startswith("course_lib.") and not name.startswith("course_lib.grading") \
                and (inspect.isroutine(item) or inspect.isclass(item)):
            refs, dyn = _direct_refs(item)
            dynamic = dynamic or dyn
            stack += refs
            if inspect.isclass(item):
                stack += [base for base in item.__mro__[1:] if base is not object]
    with _LOCK:
        _CLOSURES[key] = (found, dynamic)
    return found, dynamic


# ---- verdicts ------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What an answer reaches that its part forbids, and what the judge could not decide."""

    reached: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)

    def add_reached(self, text: str) -> None:
        if text not in self.reached:
            self.reached.append(text)

    def add_undecided(self, text: str) -> None:
        if text not in self.undecided and len(self.undecided) < 20:
            self.undecided.append(text)

    @property
    def clean(self) -> bool:
        return not self.reached and not self.undecided

    def message(self, part: str, forbidden: Forbidden) -> str | None:
        """What the student and the grader read, or None when the answer is the student's own."""
        if self.reached:
            return (f"this part asks you to implement {part} yourself; your answer uses "
                    f"{', '.join(self.reached[:4])}, which this part may not use, so it earns none of its points.")
        if self.undecided:
            return (f"{part} is flagged for review: this part asks you to implement it yourself "
                    f"(without {', '.join(forbidden.headline())}), and the judge cannot tell from the code whether "
                    f"your answer stays away from them: it uses {'; '.join(self.undecided[:4])}. A person will "
                    "decide; until then it earns no points.")
        return None


MAX_UNITS = 20_000
MAX_VISITS = 500_000
"""Bounds on the judge's reading of one notebook: statements, and statements visited for one test cell.
Beyond them the part goes to a person (an honest notebook has a few hundred statements)."""


class _TooMuchCode(Exception):
    """The code is too large to read within the judge's bounds."""


class _Judging:
    """One reachability question: from the answer of one test cell, over the units before it."""

    def __init__(self, program: Program, test_cell: int, forbidden: Forbidden, cell_names: Sequence[str] | None = None) -> None:
        self.forbidden = forbidden
        self.cell_names = cell_names
        self.position = program.cell_starts.get(test_cell, len(program.units))
        self.units = [u for u in program.units if u.index < self.position]
        self.defs: dict[str, list[Unit]] = {}
        for unit in self.units:
            for name in unit.binds:
                self.defs.setdefault(name, []).append(unit)
        self.stars = [(u, path) for u in self.units for path in u.star_imports]
        self.leaves = forbidden.leaves
        self.verdict = Verdict()
        self.budget = MAX_VISITS

    # which units a name means at a point of the program
    def _defs(self, name: str, position: int, late: bool) -> list[Unit]:
        defs = [u for u in self.defs.get(name, []) if u.index < position or late]
        if late:
            return defs
        out = []
        for unit in reversed(defs):
            out.append(unit)
            if unit.binds.get(name) == "plain" and not unit.conditional:
                break
        return out

    def _held(self, module: Any) -> str | None:
        """A forbidden entry that lives in ``module`` (a module or class), other than ``module`` itself."""
        return next((name for name, entry in self.forbidden.entries if _belongs(entry, module)
                     and entry is not module and not name.startswith(ALWAYS)), None)

    def _library(self, path: Sequence[str], sink: Verdict, trusted: bool) -> None:
        if COMPUTED in path:
            base = tuple(path[:list(path).index(COMPUTED)])
            steps = resolve(base).steps
            if steps and len(steps) == len(base):
                text, obj = steps[-1]
                if self.forbidden.owner(obj) is not None:
                    sink.add_reached(text)
                elif not trusted and (inspect.ismodule(obj) or inspect.isclass(obj)) and self._held(obj):
                    sink.add_undecided(f"a name built at run time, looked up in {text} (which holds {self._held(obj)})")
            return
        resolution = resolve(tuple(path))
        steps = resolution.steps
        for i, (text, obj) in enumerate(steps):
            if inspect.ismodule(obj) and i < len(path) - 1:
                continue  # a module on the way to one of its attributes: the attribute decides
            if self.forbidden.owner(obj) is not None:
                sink.add_reached(text)
                return
        if steps and len(steps) == len(path) and inspect.ismodule(steps[-1][1]) and not trusted:
            held = self._held(steps[-1][1])
            if held is not None:
                sink.add_undecided(f"the module {steps[-1][0]} as a value (it holds {held})")
        if steps:
            _, last = steps[-1]
            if _module_name(last) and (_module_name(last) or "").startswith("course_lib.") \
                    and not inspect.ismodule(last):
                closure, dynamic = library_closure(last)
                for item in closure:
                    owner = self.forbidden.owner(item)
                    if owner is not None:
                        sink.add_reached(f"{public_name(item)} (through {steps[-1][0]})")
                        return
                if dynamic and not trusted:
                    sink.add_undecided(f"{steps[-1][0]}, which looks names up at run time")
        if resolution.problem and not trusted:
            sink.add_undecided(resolution.problem)

    def _chain(self, chain: Chain, context: Unit, sink: Verdict, reach: list[Unit], depth: int = 0) -> None:
        if chain.root == PATH_ROOT:
            self._library(chain.attrs, sink, context.trusted)
            return
        defs = self._defs(chain.root, context.index if not chain.late else self.position, chain.late)
        for unit in defs:
            if chain.root in unit.paths:
                self._library((*unit.paths[chain.root], *chain.attrs), sink, context.trusted and unit.trusted)
            elif chain.root in unit.alias_chains and depth < 20:
                alias = unit.alias_chains[chain.root]
                self._chain(Chain(alias.root, alias.attrs + chain.attrs), unit, sink, reach, depth + 1)
                reach.append(unit)
            else:
                reach.append(unit)
        if not defs:
            for unit, path in self.stars:
                if unit.index < (context.index if not chain.late else self.position):
                    module = _resolve_text(".".join(path))
                    if module is not _MISSING and hasattr(module, chain.root):
                        self._library((*path, chain.root, *chain.attrs), sink, context.trusted and unit.trusted)
                        return
            if chain.root in OPAQUE_BUILTINS and not context.trusted:
                sink.add_undecided(OPAQUE_BUILTINS[chain.root])

    def _unit(self, unit: Unit, sink: Verdict, reach: list[Unit]) -> None:
        for chain in unit.chains:
            self._chain(chain, unit, sink, reach)
        if unit.trusted:
            return
        for leaf in unit.leaves:
            if leaf in self.leaves:
                sink.add_undecided(f".{leaf} read from an object the judge cannot identify")
        for reason in unit.opaque:
            sink.add_undecided(reason)
        for path in unit.imports:
            if resolve(path).problem and path[0] not in ALLOWED_ROOTS:
                sink.add_undecided(resolve(path).problem)
        for mutation in unit.mutations:
            for d in self._defs(mutation.root, unit.index if not mutation.late else self.position, mutation.late):
                if mutation.root in d.paths:
                    target = ".".join((*d.paths[mutation.root], *mutation.attrs))
                    sink.add_undecided(f"an assignment to {target}, which changes a library")

    def closure(self, start: Iterable[Unit], sink: Verdict, seeds: Iterable[Chain] = (), context: Unit | None = None) -> set[int]:
        """Units reached from ``start`` (and from chains read at ``context``); fills ``sink``."""
        seen: set[int] = set()
        reach: list[Unit] = list(start)
        if context is not None:
            for chain in seeds:
                self._chain(chain, context, sink, reach)
        while reach:
            unit = reach.pop()
            if unit.index in seen:
                continue
            seen.add(unit.index)
            self.budget -= 1
            if self.budget < 0:
                raise _TooMuchCode
            self._unit(unit, sink, reach)
        return seen

    def run(self, answers: Sequence[Chain]) -> Verdict:
        verdict = self.verdict
        here = Unit(self.position, -1, trusted=True)
        reached = self.closure([], verdict, answers, here)
        names = {n for u in self.units if u.index in reached for n in u.binds} | {c.root for c in answers}
        # names the answer reads as data (x = [], x = {...}): what is stored in them later is what the answer gets
        data = {n for n in names if (defs := self.defs.get(n)) and all(u.defines is None and n not in u.paths for u in defs)}
        # names that may hold what the answer holds (x = Adam; x.step = ...), and changes made through them
        grown = True
        while grown:
            grown = False
            for unit in self.units:
                if unit.index in reached or unit.trusted:
                    continue
                roots = {c.root for c in unit.chains}
                if any(unit.binds.get(n) in ("mutation", "late") for n in names & set(unit.binds)):
                    reached |= self.closure([unit], verdict)
                    names |= set(unit.binds)
                    grown = True
                elif roots & names and any(kind == "plain" for kind in unit.binds.values()):
                    new = {n for n, kind in unit.binds.items() if kind == "plain"} - names
                    if new:
                        names |= new
                        grown = True
        # code that runs: opaque constructs there may change anything; statements tying the answer to a forbidden object
        live = self.closure([u for u in self.units if u.defines is None or u.trusted], Verdict())
        # the code nearest the answer first: statements that name what the answer holds, then the latest ones
        order = sorted((u for u in self.units if not u.trusted and u.index not in reached),
                       key=lambda u: (not ({c.root for c in u.chains} & names), -u.index))
        for unit in order:
            if unit.index not in live and unit.defines is not None:
                continue
            for reason in unit.opaque:
                verdict.add_undecided(f"{reason} ({self._where(unit)})")
            for chain in unit.chains:
                if chain.root in OPAQUE_BUILTINS and not self._defs(chain.root, self.position, True):
                    verdict.add_undecided(f"{OPAQUE_BUILTINS[chain.root]} ({self._where(unit)})")
                if chain.root == PATH_ROOT:
                    problem = resolve(chain.attrs).problem
                    if problem:
                        verdict.add_undecided(f"{problem} ({self._where(unit)})")
            for path in unit.imports:
                if path[0] not in ALLOWED_ROOTS:
                    verdict.add_undecided(f"{resolve(path).problem} ({self._where(unit)})")
            for mutation in unit.mutations:
                for d in self._defs(mutation.root, self.position, True):
                    if mutation.root in d.paths:
                        verdict.add_undecided(f"an assignment to {'.'.join((*d.paths[mutation.root], *mutation.attrs))}"
                                              f", which changes a library ({self._where(unit)})")
            if {c.root for c in unit.chains} & names:
                ties = Verdict()
                self.closure([unit], ties)
                if ties.reached:
                    tied = sorted({c.root for c in unit.chains} & names)
                    stored = [n for n in tied if n in data]
                    if stored:
                        verdict.add_reached(f"{ties.reached[0]} (stored in {stored[0]})")
                    else:
                        verdict.add_undecided(f"code that ties {tied[0]} to {ties.reached[0]} ({self._where(unit)})")
        if not verdict.reached and verdict.undecided:
            hints = self._hints()
            if hints:
                verdict.add_undecided(f"text that names {', '.join(hints)}")
        return verdict

    def _where(self, unit: Unit) -> str:
        if self.cell_names is not None and 0 <= unit.cell < len(self.cell_names):
            return f"in {self.cell_names[unit.cell]}"
        return f"cell {unit.cell + 1}"

    def _hints(self) -> list[str]:
        words = set()
        for unit in self.units:
            if unit.trusted:
                continue
            for text in unit.strings:
                words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
        return sorted(words & (self.leaves | {n.rsplit(".", 1)[-1] for n in self.forbidden.names}))[:4]


def judge_answer(program: Program, test_cell: int, answers: Sequence[Chain], forbidden: Forbidden,
                 cell_names: Sequence[str] | None = None) -> Verdict:
    """Whether the answer checked by the test cell ``test_cell`` reaches what ``forbidden`` lists.

    Args:
        program: the notebook's code as the judge ran it (:func:`course_lib.grading.sources.read_program`).
        test_cell: the number of the test cell in the program's cells.
        answers: the chains of the objects the cell checks (:func:`~course_lib.grading.sources.answer_chains`).
        forbidden: what the part may not use.
        cell_names: how the messages name each cell of the program (default: its number).
    """
    if len(program.units) > MAX_UNITS:
        return Verdict(undecided=[f"more code than the judge reads ({len(program.units)} statements)"])
    try:
        return _Judging(program, test_cell, forbidden, cell_names).run(answers)
    except _TooMuchCode:
        return Verdict(undecided=["code too tangled for the judge to follow within its bounds"])


# ---- the visible test: the same question asked of live objects -----------------------------------------


_DANGEROUS = {"getattr", "exec", "eval", "compile", "__import__", "globals", "locals", "vars", "open", "get_ipython"}


def inspect_answer(obj: Any, forbidden: Forbidden, *, limit: int = 4000) -> Verdict:
    """What the student's own object reaches in their kernel (the visible test's version of the rule).

    Walks the object's code, the globals and attributes it names, its closures, defaults and
    class bases; library objects are judged by :meth:`Forbidden.owner` and, for course_lib, by
    what they call.
    """
    verdict = Verdict()
    seen: set[int] = set()
    stack: list[Any] = [obj]
    while stack and len(seen) < limit:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        owner = forbidden.owner(item)
        if owner is not None:
            verdict.add_reached(public_name(item))
            continue
        module = _module_name(item)
        library = bool(module) and module.split(".")[0] in ALLOWED_ROOTS | {"builtins"}
        if inspect.ismodule(item) or (library and (inspect.isroutine(item) or inspect.isclass(item))):
            if module and module.startswith("course_lib.") and not inspect.ismodule(item):
                closure, _ = library_closure(item)
                for part in closure:
                    if forbidden.owner(part) is not None:
                        verdict.add_reached(f"{public_name(part)} (through {public_name(item)})")
                        break
            continue
        if isinstance(item, (types.FunctionType, types.LambdaType)):
            stack += _function_refs(item, verdict, forbidden.named)
        elif isinstance(item, types.MethodType):
            stack += [item.__func__]
        elif isinstance(item, (staticmethod, classmethod)):
            stack.append(item.__func__)
        elif isinstance(item, property):
            stack += [f for f in (item.fget, item.fset, item.fdel) if f is not None]
        elif inspect.isclass(item):
            stack += [b for b in item.__mro__[1:] if b is not object]
            stack += list(vars(item).values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack += list(item)[:200]
        elif isinstance(item, dict):
            stack += list(item.values())[:200]
        elif hasattr(item, "func") and hasattr(item, "args") and callable(item):  # functools.partial
            stack += [item.func, *item.args]
        elif type(item).__module__.split(".")[0] not in ALLOWED_ROOTS | {"builtins"}:
            stack.append(type(item))
            stack += list(getattr(item, "__dict__", {}).values())[:200]
    return verdict


def _function_refs(func: types.FunctionType, verdict: Verdict, named: frozenset[str] = frozenset()) -> list[Any]:
    refs: list[Any] = [*(func.__defaults__ or ()), *(func.__kwdefaults__ or {}).values()]
    refs += [cell.cell_contents for cell in func.__closure__ or () if _has_contents(cell)]
    namespace = func.__globals__
    local_modules: dict[str, Any] = {}
    """Local names bound by imports in the function (seen by the functions nested in it too)."""
    codes = [func.__code__]
    while codes:
        code = codes.pop()
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        current: Any = _MISSING
        imported: tuple[str, ...] = ()
        instructions = list(dis.get_instructions(code))
        for position, instruction in enumerate(instructions):
            op, arg = instruction.opname, instruction.argval
            if op in ("LOAD_ATTR", "LOAD_METHOD") and isinstance(arg, str):
                if _is_dunder(arg) and arg not in SAFE_DUNDERS:
                    verdict.add_undecided(f"the special attribute {arg}")
                if arg in named and (current is _MISSING or not (inspect.ismodule(current) or inspect.isclass(current))):
                    verdict.add_undecided(f".{arg} read from an object the judge cannot identify")
                if current is not _MISSING and (inspect.ismodule(current) or inspect.isclass(current)):
                    try:
                        current = getattr(current, arg)
                    except Exception:
                        current = _MISSING
                    continue
                current = _MISSING
                continue
            if current is not _MISSING:
                refs.append(current)  # a chain ended: what it names (a module on the way does not count)
                current = _MISSING
            if op in ("STORE_FAST", "STORE_DEREF", "STORE_NAME") and isinstance(arg, str) and refs \
                    and position and instructions[position - 1].opname in ("IMPORT_NAME", "IMPORT_FROM"):
                local_modules[arg] = refs[-1]
            if op in ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE") and arg in local_modules:
                current = local_modules[arg]
            elif op in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(arg, str):
                if arg in namespace:
                    current = namespace[arg]
                elif hasattr(builtins, arg):
                    current = getattr(builtins, arg)
                    if arg in _DANGEROUS and not (arg == "getattr" and _literal_name_follows(instructions, position)):
                        verdict.add_undecided(OPAQUE_BUILTINS.get(arg, arg))
            elif op == "IMPORT_NAME" and isinstance(arg, str):
                imported = tuple(arg.split("."))
                if imported[0] not in ALLOWED_ROOTS:
                    verdict.add_undecided(f"the module {imported[0]}, which the judge does not read")
                elif (steps := resolve(imported).steps) and len(steps) == len(imported):
                    refs.append(steps[-1][1])
            elif op == "IMPORT_FROM" and isinstance(arg, str) and imported and imported[0] in ALLOWED_ROOTS:
                steps = resolve((*imported, arg)).steps
                if steps and len(steps) == len(imported) + 1:
                    refs.append(steps[-1][1])
        if current is not _MISSING:
            refs.append(current)
    return refs


def _literal_name_follows(instructions: list[dis.Instruction], start: int) -> bool:
    """Whether the call that starts at ``start`` (``getattr(x, ...)``) passes its name as a literal string."""
    for position in range(start + 1, min(start + 12, len(instructions))):
        if instructions[position].opname.startswith(("CALL", "PRECALL")):
            before = instructions[position - 1]
            return before.opname == "LOAD_CONST" and isinstance(before.argval, str)
    return False


def _has_contents(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True
